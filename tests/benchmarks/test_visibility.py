"""The visibility benchmark's metrics: a null mark costs nothing, the real mark is faint.

The full table is ``python -m benchmarks.visibility``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from benchmarks import visibility
from synthetic import render_screen


@pytest.fixture(scope="module")
def white_screen() -> np.ndarray:
    return render_screen("summary_dashboard", size=(640, 400), seed=0)


def test_identity_marker_is_invisible(white_screen: np.ndarray) -> None:
    identity = visibility.available_markers()["identity"]
    flip = visibility.load_flip()
    result, error = visibility.measure(white_screen, identity.fn(white_screen), kind="summary_dashboard",
                                       label="summary_dashboard#0", marker=identity.name, flip=flip,
                                       keep_map=38.0)
    assert math.isinf(result.psnr)
    assert result.ssim == pytest.approx(1.0)
    if flip is None:
        pytest.skip("flip-evaluator is not installed (pip install -e '.[visibility]')")
    assert result.flip_mean == {38.0: 0.0, 67.0: 0.0}
    assert result.flip_high == {38.0: 0.0, 67.0: 0.0}
    assert error is not None and error.shape == white_screen.shape[:2] and not error.any()


def test_default_marker_is_faint_on_white(white_screen: np.ndarray) -> None:
    marker = visibility.MARKERS[0]
    marked = marker.fn(white_screen)
    assert marked.shape == white_screen.shape and marked.dtype == np.uint8
    assert not np.array_equal(marked, white_screen)
    assert 40.0 < visibility.psnr_luma(white_screen, marked) < 60.0


def test_run_summarizes_per_kind_and_marker(tmp_path: Path) -> None:
    markers = [visibility.available_markers()[name] for name in ("embed-1.0", "identity")]
    result = visibility.run(markers, ["summary_dashboard"], [0], naturals=False, flip=None, crops_to=tmp_path)
    assert [(r.kind, r.marker) for r in result.rows] == [("summary_dashboard", "embed-1.0"),
                                                         ("summary_dashboard", "identity")]
    assert result.rows[0].psnr > 40.0 and math.isinf(result.rows[1].psnr)
    assert {p.name for p in result.files} >= {"visibility_crop_original.png", "visibility_diff_embed-1.0.png"}
    assert "| summary_dashboard | identity | 1 |" in visibility.summary_table(result.rows, (), None)

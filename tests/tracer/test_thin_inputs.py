"""Degenerate shapes reach the geometry code without an OpenCV error escaping ``tracer.trace``.

The loader refuses images under ``watermark.MIN_IMAGE_SIDE`` pixels a side,
but a caller may hand ``trace`` a ``LoadedImage`` built by hand, and an
image just over the minimum shrinks below it inside the screen finder.
Results depend on the seed below.
"""

from __future__ import annotations

import numpy as np
import pytest

import tracer
import watermark
from tracer._sync import find_screen_quad, rectify_from_lines

NOISE_SEED = 0  # pixel noise of the slivers

SHAPES = [(8, 20000), (2, 3000), (1, 1001), (1, 1), (20000, 8), (16, 20000), (20000, 16), (3, 3), (1, 5000)]


def _sliver(shape: tuple[int, int]) -> np.ndarray:
    return np.random.default_rng(NOISE_SEED).integers(0, 256, (*shape, 3), dtype=np.uint8)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dark", [False, True])
def test_screen_finder_on_a_sliver_finds_nothing(shape, dark):
    assert find_screen_quad(_sliver(shape), dark=dark) is None


@pytest.mark.parametrize("shape", SHAPES)
def test_line_rectifier_on_a_sliver_finds_nothing(shape):
    assert rectify_from_lines(_sliver(shape)) is None


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("thorough", [False, True])
def test_trace_of_a_sliver_finds_no_mark_and_raises_nothing(shape, thorough, key):
    rgb = _sliver(shape)
    loaded = watermark.LoadedImage(rgb, "<sliver>", None, None, None)
    res = tracer.trace(loaded, key, thorough=thorough, time_limit=60)
    assert not res.found and res.payload is None
    assert res.image_size == (shape[1], shape[0])

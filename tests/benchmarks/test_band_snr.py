"""Fast checks of the band SNR measurement (``python -m benchmarks.band_snr``) on small screens."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmarks import band_snr
from benchmarks.robustness import oracle_geometry
from synthetic import render_screen, screenshot_leak

SIZE = (512, 384)


def test_lossless_channel_passes_the_whole_mark() -> None:
    res = band_snr.measure_sample("png", "white", 0, size=SIZE, decode=False)
    inner = (band_snr.BAND_EDGES[:-1] >= 1 / 128) & (band_snr.BAND_EDGES[1:] <= 1 / 4 + 1e-12)
    for probe in ("probe", "mark"):
        gain = res.gain[probe]["raw"][inner]
        gain = gain[np.isfinite(gain)]
        assert gain.size > 0
        assert np.allclose(gain, 1.0, atol=0.02), (probe, gain)
    assert np.allclose(res.coherence[inner], 1.0, atol=0.02)
    # today's prefilter keeps the fine part of the band and drops most of the coarse part
    sc4 = res.gain["probe"]["sc4"]
    assert sc4[-3] > 0.8 > 0.3 > sc4[6]


def test_screen_map_matches_oracle_geometry() -> None:
    screen = render_screen("notes", size=SIZE, seed=1)
    for channel in ("down0.5", "crop50"):
        leak = screenshot_leak(screen, channel, seed=3)
        smap = band_snr.screen_map(leak, SIZE)
        expected, box = oracle_geometry(leak, SIZE)
        assert smap.box == box
        assert np.array_equal(smap.warp(leak.image), expected)


def test_quick_path_writes_the_tables(tmp_path: Path) -> None:
    out = tmp_path / "band_snr.md"
    rc = band_snr.main(["--quick", "--samples", "1", "--conditions", "png", "jpeg75", "--size", "512x384", "--out", str(out)])
    assert rc == 0
    text = out.read_text()
    assert "## png: white EMR screens" in text and "## jpeg75: white EMR screens" in text
    assert "## Carriers (white screens)" in text and "## What the table says" in text
    assert text.count("| 1/512–1/362 |") >= 2

"""Outline side variants, the clipped-region mask and the decode budget of weak peaks."""

from __future__ import annotations

import cv2
import numpy as np

from tracer._geometry import SATURATED_LEVEL, as_is_geometry, unclipped
from tracer._locate import screen_candidates, side_variants
from tracer._search import DECODES_PER_GEOMETRY, WEAK_PEAK, Search

PANEL = np.array([[199.5, 149.5], [800.5, 129.5], [790.5, 520.5], [209.5, 500.5]])
"""The panel's pixel edges in the drawn photo (TL, TR, BR, BL)."""


def _page() -> np.ndarray:
    """The page under the title bar: the panel less its top 4 %."""
    inner = PANEL.copy()
    inner[0] += 0.04 * (PANEL[3] - PANEL[0])
    inner[1] += 0.04 * (PANEL[2] - PANEL[1])
    return inner


def _photo_with_title_bar(bar: int, bezel: int, wall: int, page: int = 235) -> np.ndarray:
    """A tilted panel whose top 4 % is a title bar, in a bezel on a wall, with camera noise."""
    rng = np.random.default_rng(7)
    photo = np.full((700, 1000), float(wall))
    centre = PANEL.mean(axis=0)
    outer = centre + (PANEL - centre) * 1.07
    cv2.fillConvexPoly(photo, np.round(outer * 16).astype(np.int32), float(bezel), lineType=cv2.LINE_AA, shift=4)
    cv2.fillConvexPoly(photo, np.round((PANEL + 0.5) * 16).astype(np.int32), float(bar), lineType=cv2.LINE_AA, shift=4)
    cv2.fillConvexPoly(photo, np.round((_page() + 0.5) * 16).astype(np.int32), float(page), lineType=cv2.LINE_AA, shift=4)
    photo += rng.normal(0, 2.0, photo.shape)
    return np.repeat(np.clip(photo, 0, 255).astype(np.uint8)[..., None], 3, axis=2)


def _error(quad: np.ndarray) -> float:
    return float(np.hypot(*(quad - PANEL).T).max()) / float(np.hypot(*(PANEL[2] - PANEL[0])))


def test_a_side_variant_reaches_the_panel_edge_past_a_title_bar_darker_than_the_bezel():
    # The bright page stops at the bar; the bar is the darkest band, so no
    # snap to a dark bezel moves the side: only a parallel-step variant does.
    photo = _photo_with_title_bar(bar=25, bezel=75, wall=150)
    best = screen_candidates(photo)[0]
    assert _error(best.quad) > 0.01  # the outline stops at the bar's inner edge
    assert best.variants
    assert min(_error(v) for v in best.variants) < 0.0025  # 1.7 px of the 700 px diagonal


def test_side_variants_of_an_exact_outline_include_no_move_inside_a_flat_page():
    # A plain panel (no bar) in a bezel: the only parallel steps are the bezel's outer edge, outward.
    photo = _photo_with_title_bar(bar=235, bezel=40, wall=140)
    gray = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY).astype(np.float32)
    best = screen_candidates(photo)[0]
    assert _error(best.quad) < 0.002
    centre = PANEL.mean(axis=0)
    for v in side_variants(gray, best.quad):
        # every variant moved a side outward (the bezel's outer edge), never into the page
        assert np.hypot(*(v - centre).T).sum() > np.hypot(*(best.quad - centre).T).sum()


def test_clipped_regions_are_masked_and_a_page_just_under_full_scale_is_not():
    rng = np.random.default_rng(3)
    y = np.clip(252.0 + rng.normal(0, 2.0, (200, 300)), 0, 255).astype(np.float32)  # single pixels reach 255
    y[50:120, 100:200] = 255.0  # a blown highlight
    valid = unclipped(y)
    assert valid[:, :80].mean() > 0.99
    assert not valid[60:110, 110:190].any()
    assert SATURATED_LEVEL < 255


def test_a_weak_phase_peak_gets_one_decode_and_a_clear_one_three(key):
    rng = np.random.default_rng(5)
    seen = set()
    for sd in (2.0, 6.0):  # unmarked noise: the finer field happens to peak under WEAK_PEAK, the coarser above
        noise = np.clip(128 + rng.normal(0, sd, (768, 1024, 3)), 0, 255).astype(np.uint8)
        search = Search(noise, [key], {})
        assert not search.attempt(as_is_geometry(search.y.shape))
        weak = search.hypotheses[-1].detection_score < WEAK_PEAK
        assert search.decodes == (1 if weak else DECODES_PER_GEOMETRY)
        seen.add(weak)
    assert seen == {True, False}


def _colour_photo(bar: tuple[int, int, int], wall: tuple[int, int, int], page: int = 235) -> np.ndarray:
    """The tilted panel with its title bar, in colour, straight on a wall (no bezel), with camera noise."""
    rng = np.random.default_rng(11)
    photo = np.zeros((700, 1000, 3))
    photo[:] = wall
    cv2.fillConvexPoly(photo, np.round((PANEL + 0.5) * 16).astype(np.int32), tuple(float(v) for v in bar), lineType=cv2.LINE_AA, shift=4)
    cv2.fillConvexPoly(photo, np.round((_page() + 0.5) * 16).astype(np.int32), (float(page),) * 3, lineType=cv2.LINE_AA, shift=4)
    photo += rng.normal(0, 2.0, photo.shape)
    return np.clip(photo, 0, 255).astype(np.uint8)


def test_a_title_bar_of_the_walls_luma_but_another_hue_is_reached_in_colour():
    # A navy title bar on a terracotta wall, no bezel: the two differ by 3 luma levels and by a wide step of hue.
    navy, terracotta = (25, 55, 230), (120, 50, 30)
    photo = _colour_photo(navy, terracotta)
    gray = cv2.cvtColor(photo, cv2.COLOR_RGB2GRAY).astype(np.float32)
    assert abs(float(gray[20:80, 20:80].mean()) - float(gray[140:146, 480:520].mean())) < 5  # the same luma
    best = screen_candidates(photo)[0]
    assert _error(best.quad) > 0.01  # the page stops at the bar
    assert min((_error(v) for v in side_variants(gray, best.quad)), default=1.0) > 0.01  # luma cannot see the bar's edge
    assert min(_error(v) for v in best.variants) < 0.002  # colour can


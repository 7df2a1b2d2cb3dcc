"""Outline side variants, the clipped-region mask and the decode budget of weak peaks."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone

import cv2
import numpy as np
import pytest

import watermark
from tracer._geometry import SATURATED_LEVEL, Geometry, as_is_geometry, image_corners, unclipped
from tracer._locate import screen_candidates, side_variants
from tracer._search import DECODES_PER_GEOMETRY, SPARE_DECODES, WEAK_PEAK, Search
from tracer._strategies import SPARE_DECODE_ABOVE, attempt_spare, keep_spare

PANEL = np.array([[199.5, 149.5], [800.5, 129.5], [790.5, 520.5], [209.5, 500.5]])
"""The panel's pixel edges in the drawn photo (TL, TR, BR, BL)."""
PAYLOAD = watermark.Payload(viewer_id=4821, timestamp=datetime(2026, 3, 4, 5, 6, tzinfo=timezone.utc))
"""What the marked screens of the spare-probe tests carry."""


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
    assert min(_error(v) for v in best.variants) < 0.0025  # colour can (1.7 px of the 700 px diagonal)


def test_a_probe_only_ranked_is_decoded_once_outside_the_budget_and_its_checks_counted(key):
    # A marked screenshot read as it is: its probe decodes from the spare list, without using the decode budget.
    marked = watermark.embed(np.full((600, 800, 3), 235, np.uint8), PAYLOAD, key)
    search = Search(marked, [key], {})
    geometry = as_is_geometry(search.y.shape)
    evaluation = search.evaluate(geometry)
    spare: list = []
    keep_spare(spare, [(geometry, evaluation)])
    assert len(spare) == 1 and spare[0][1].score >= SPARE_DECODE_ABOVE
    assert attempt_spare(search, spare)
    assert search.found is not None and search.found.result.payload == PAYLOAD
    assert search.decodes == 0 and search.spare_decodes == 1 and search.mac_checks >= 1
    assert search.hypotheses[-1].found
    # A geometry already decoded is not decoded again; past the cap nothing is decoded.
    assert not attempt_spare(search, spare) and search.spare_decodes == 1
    search.spare_decodes = SPARE_DECODES
    assert not search.decode_spare(geometry, spare[0][1])


def test_the_spare_list_keeps_the_strongest_peaks_above_the_noise_maxima(key):
    rng = np.random.default_rng(9)
    noise = np.clip(128 + rng.normal(0, 3.0, (300, 400, 3)), 0, 255).astype(np.uint8)
    search = Search(noise, [key], {})
    geometry = as_is_geometry(search.y.shape)
    evaluation = search.evaluate(geometry)
    scores = rng.uniform(3.0, 8.0, 3 * SPARE_DECODES)
    probed = [(replace(geometry, name=f"probe{i}"), replace(evaluation, candidates=[replace(evaluation.candidates[0], score=float(s))]))
              for i, s in enumerate(scores)]
    spare: list = []
    for start in range(0, len(probed), 7):  # as the variants' probes arrive, a few at a time
        keep_spare(spare, probed[start:start + 7])
    expected = sorted((s for s in scores if s >= SPARE_DECODE_ABOVE), reverse=True)[:SPARE_DECODES]
    assert [c.score for _, c in spare] == expected
    assert len(spare) == SPARE_DECODES


def test_outlines_refined_to_the_same_corners_are_returned_once():
    # The page outline as found and snapped to the bezel refine to one full-resolution outline: one candidate.
    photo = _photo_with_title_bar(bar=235, bezel=40, wall=140)
    candidates = screen_candidates(photo)
    diagonal = float(np.hypot(*photo.shape[:2]))
    for i, a in enumerate(candidates):
        for b in candidates[i + 1:]:
            assert float(np.hypot(*(a.quad - b.quad).T).max()) >= 0.004 * diagonal


def test_a_spare_probe_a_little_off_decodes_once_refined(key):
    # A marked screen rescaled by 3 % read at unit scale: its plain decode fails; refined, it decodes
    # (measured at 2.2, 2.5 and 3 %: the same).
    marked = watermark.embed(np.full((768, 1024, 3), 235, np.uint8), PAYLOAD, key)
    rng = np.random.default_rng(1)
    photo = cv2.resize(marked, None, fx=1.03, fy=1.03, interpolation=cv2.INTER_LINEAR).astype(np.float64)
    photo = np.clip(photo + rng.normal(0, 3, photo.shape), 0, 255).astype(np.uint8)
    search = Search(photo, [key], {})
    h, w = search.y.shape
    geometry = Geometry("off", np.eye(3), 1.0, image_corners(w, h), photo=False)
    spare = [(geometry, search.evaluate(geometry).candidates[0])]
    assert not attempt_spare(search, list(spare))  # as it is: no keyed match
    assert attempt_spare(search, list(spare), refine=1)
    assert search.found is not None and search.found.result.payload == PAYLOAD
    assert search.found.geometry.name == "off~refined"
    assert search.spare_decodes == 2 and search.decodes == 0



def _blurred_profile(steps: list[tuple[float, float]], sigma: float, base: float = 30.0) -> tuple[np.ndarray, np.ndarray]:
    """A profile across a side (0.5 px samples, outward positive): ``base`` plus (offset, height) steps, each
    falling outward, blurred by a Gaussian of ``sigma`` px, with a side-average's noise."""
    from scipy.special import ndtr

    x = np.arange(-20.0, 20.0 + 1e-9, 0.5)
    p = base + sum(h * ndtr((x0 - x) / sigma) for x0, h in steps)
    return x, p + np.random.default_rng(3).normal(0, 0.3, x.shape)


@pytest.mark.parametrize("bar", [2.2, 2.7])
def test_a_title_bar_thinner_than_the_blur_is_found_as_a_shoulder(bar):
    # A chat photo's title bar: a few pixels of dark blue between the page
    # (230) and a darker bezel (30), under a blur of 0.8 px: no slope
    # maximum of its own, a shoulder on the flank of the page's edge.
    from tracer._locate import _shoulder

    x, p = _blurred_profile([(0.0, 180.0), (bar, 20.0)], sigma=0.8)
    slope = np.abs(np.gradient(p, 0.5))
    outside = x > 0.5
    assert not np.any((slope[outside][1:-1] > slope[outside][:-2]) & (slope[outside][1:-1] > slope[outside][2:]) & (slope[outside][1:-1] > 2))
    found = _shoulder(x, p)
    assert found is not None and abs(found[0] - bar) < 0.4, found


@pytest.mark.parametrize("kernel", ["gauss", "box", "two-gauss"])
def test_a_single_edge_of_any_blur_shape_has_no_shoulder(kernel):
    # A real edge is no exact error function (a lens's blur has wings, a
    # resize a box): two edges within the blur fit its shape a little
    # better than one, and must not count as a second step.
    from tracer._locate import _shoulder

    x = np.arange(-20.0, 20.0 + 1e-9, 0.5)
    edge = np.where(x < 0, 200.0, 30.0)
    if kernel == "gauss":
        k = np.exp(-0.5 * (np.arange(-8, 9) * 0.5 / 0.9) ** 2)
    elif kernel == "box":
        k = np.ones(7)
    else:
        k = np.exp(-0.5 * (np.arange(-12, 13) * 0.5 / 0.6) ** 2) + 0.25 * np.exp(-0.5 * (np.arange(-12, 13) * 0.5 / 2.5) ** 2)
    p = np.convolve(np.pad(edge, 20, mode="edge"), k / k.sum(), mode="same")[20:-20]
    p = p + np.random.default_rng(4).normal(0, 0.3, x.shape)
    assert _shoulder(x, p) is None

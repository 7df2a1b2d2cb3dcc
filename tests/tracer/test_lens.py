"""Radial lens distortion: the model, its plumb-line fit, and resampling a screen through it."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tracer._geometry import Geometry, screen_luma
from tracer._lens import MIN_LENS, distort_points, fit_lens, undistort_points

SHAPE = (1200, 1600)
"""A photo's (height, width)."""


def _rectangle_edges(k1: float, noise: float, rng: np.random.Generator) -> list[np.ndarray]:
    """Edge points of an off-centre rectangle as a lens with ``k1`` records them, with edge-fit noise (px)."""
    corners = np.array([[250.0, 180.0], [900.0, 140.0], [930.0, 560.0], [230.0, 600.0]])
    sides = []
    for i in range(4):
        t = np.linspace(0.08, 0.92, 48)[:, None]
        ideal = corners[i] + t * (corners[(i + 1) % 4] - corners[i])
        sides.append(distort_points(ideal, k1, SHAPE) + rng.normal(0, noise, ideal.shape))
    return sides


def test_distort_inverts_undistort():
    pts = np.random.default_rng(0).uniform([0, 0], [1600, 1200], (200, 2))
    for k1 in (-0.04, -0.01, 0.02):
        assert np.abs(undistort_points(distort_points(pts, k1, SHAPE), k1, SHAPE) - pts).max() < 1e-6


@pytest.mark.parametrize("k1", [-0.03, -0.015, 0.025])
def test_the_plumb_line_fit_recovers_the_lens_from_a_screens_edges(k1):
    rng = np.random.default_rng(1)
    fitted = fit_lens(_rectangle_edges(k1, 0.1, rng), SHAPE)
    assert fitted == pytest.approx(k1, abs=0.004)


def test_straight_edges_fit_no_lens():
    rng = np.random.default_rng(2)
    assert fit_lens(_rectangle_edges(0.0, 0.1, rng), SHAPE) == 0.0
    assert MIN_LENS > 0


def test_a_screen_is_resampled_through_the_lens():
    # A pattern on a 640 x 400 screen, photographed (homography) through a barrel lens.
    rng = np.random.default_rng(3)
    pattern = cv2.GaussianBlur(rng.normal(0, 40, (400, 640)).astype(np.float32), (0, 0), 1.2) + 128
    quad = np.array([[300.0, 250.0], [1100.0, 200.0], [1150.0, 720.0], [260.0, 760.0]])
    target = np.array([[-0.5, -0.5], [639.5, -0.5], [639.5, 399.5], [-0.5, 399.5]])
    to_screen = cv2.getPerspectiveTransform(quad.astype(np.float32), target.astype(np.float32)).astype(np.float64)
    k1 = -0.03
    yy, xx = np.mgrid[0 : SHAPE[0], 0 : SHAPE[1]].astype(np.float64)
    ideal = undistort_points(np.stack([xx.ravel(), yy.ravel()], axis=1), k1, SHAPE)
    on_screen = cv2.perspectiveTransform(ideal.reshape(-1, 1, 2), to_screen).reshape(SHAPE[0], SHAPE[1], 2).astype(np.float32)
    photo = cv2.remap(pattern, on_screen[..., 0], on_screen[..., 1], cv2.INTER_LINEAR, borderValue=128)
    region = distort_points(quad, k1, SHAPE)  # the outline as the photo shows it

    def agreement(lens: float) -> float:
        shot = screen_luma(photo, Geometry("q", to_screen, 1.0, region, False, lens=lens))
        assert shot.out_hom is not None
        dx, dy = np.round((shot.out_hom @ np.linalg.inv(to_screen))[:2, 2]).astype(int)  # output = screen + (dx, dy)
        got = shot.luma[10:-10, 10:-10]
        want = pattern[10 - dy : 10 - dy + got.shape[0], 10 - dx : 10 - dx + got.shape[1]]
        return float(np.corrcoef(got.ravel(), want.ravel())[0, 1])

    through_lens = agreement(k1)
    assert through_lens > 0.98
    assert agreement(0.0) < through_lens - 0.1  # the homography alone is off by a pixel or more over much of the screen

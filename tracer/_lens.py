"""Radial lens distortion of a photo: the model, its plumb-line fit from a screen's edges, and resampling through it.

A phone's ISP corrects most of its lens's distortion; what is left is a few
percent of radial distortion about the image centre (more on wide-angle
lenses). Over a screen a third of the photo wide that bends the lattice by a
few screen pixels at the corners, enough to smear the fold of the carrier's
shortest wavelength (21 screen pixels) when a homography is all the
geometry has. One radial term models it::

    p_ideal = c + (p - c) * (1 + k1 * |p - c|^2 / R^2)

with ``c`` the image centre and ``R`` its half diagonal (``k1 < 0``: barrel,
the usual residual of a phone's main camera). The screen's edges are
straight in the world, so ``k1`` is fitted from how they bend in the photo
(the plumb-line method): the value that makes the sub-pixel edge points of
all four sides most nearly collinear.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

__all__ = ["undistort_points", "distort_points", "distortion_maps", "fit_lens", "MIN_LENS", "LENS_RANGE"]

LENS_RANGE = 0.06
"""Largest |k1| considered (a phone's residual distortion is a few percent)."""
LENS_STEP = 0.001
MIN_LENS = 0.004
"""A fit smaller than this is no distortion (it moves a screen's corners by well under a pixel)."""
MIN_IMPROVEMENT = 0.9
"""The fit is kept when it brings the edges' squared residuals to at most this fraction of the straight-line fit's
(with some 200 edge points, fitting noise alone gains well under 1 %; the mark has the last word)."""


def _norm(shape: tuple[int, ...]) -> tuple[NDArray[np.float64], float]:
    h, w = shape[:2]
    return np.array([(w - 1) / 2, (h - 1) / 2]), 0.5 * float(np.hypot(w, h))


def undistort_points(points: NDArray[np.float64], k1: float, shape: tuple[int, ...]) -> NDArray[np.float64]:
    """Photo pixel coordinates -> ideal (pinhole) coordinates, for an image of ``shape``."""
    c, r = _norm(shape)
    p = np.asarray(points, dtype=np.float64) - c
    rho2 = np.sum(p * p, axis=-1, keepdims=True) / (r * r)
    return c + p * (1 + k1 * rho2)


def distort_points(points: NDArray[np.float64], k1: float, shape: tuple[int, ...]) -> NDArray[np.float64]:
    """Inverse of :func:`undistort_points` (fixed-point iteration; converges fast for |k1| of a few percent)."""
    c, r = _norm(shape)
    pu = np.asarray(points, dtype=np.float64) - c
    pd = pu.copy()
    for _ in range(12):
        rho2 = np.sum(pd * pd, axis=-1, keepdims=True) / (r * r)
        pd = pu / (1 + k1 * rho2)
    return c + pd


def distortion_maps(ideal_to_input: NDArray[np.float64], dsize: tuple[int, int], k1: float, shape: tuple[int, ...],
                    after: NDArray[np.float64]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """``cv2.remap`` maps for an output grid: output pixel -> ideal input point (``ideal_to_input``, a homography)
    -> photo pixel (the lens) -> source pixel (``after``, a homography, e.g. a crop).

    The maps are smooth, so they are computed on a grid every 8 output pixels and interpolated.
    """
    w, h = dsize
    step = 8
    gx, gy = np.arange(0, w + step, step, dtype=np.float64), np.arange(0, h + step, step, dtype=np.float64)
    xx, yy = np.meshgrid(gx, gy)
    pts = np.stack([xx.ravel(), yy.ravel()], axis=1).reshape(-1, 1, 2)
    ideal = cv2.perspectiveTransform(pts, ideal_to_input).reshape(-1, 2)
    photo = distort_points(ideal, k1, shape)
    src = cv2.perspectiveTransform(photo.reshape(-1, 1, 2), after).reshape(len(gy), len(gx), 2).astype(np.float32)
    # Node (i, j) sits at output pixel (i * step, j * step): bilinear interpolation between nodes.
    ux, uy = np.meshgrid(np.arange(w, dtype=np.float32) / step, np.arange(h, dtype=np.float32) / step)
    map_x = cv2.remap(np.ascontiguousarray(src[..., 0]), ux, uy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    map_y = cv2.remap(np.ascontiguousarray(src[..., 1]), ux, uy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return map_x, map_y


def _line_residuals(points: NDArray[np.float64]) -> float:
    """Sum of squared distances of points from their total-least-squares line."""
    centred = points - points.mean(axis=0)
    return float(np.linalg.svd(centred, compute_uv=False)[-1] ** 2)


def fit_lens(sides: list[NDArray[np.float64]], shape: tuple[int, ...]) -> float:
    """The radial term that straightens a screen's edges (each an (N, 2) array of photo points), or 0.

    0 when no value in ``LENS_RANGE`` brings the residuals below
    ``MIN_IMPROVEMENT`` of the straight fit's, or the best is under
    ``MIN_LENS``: a side that is not straight in the world (a rounded
    corner, glare) then costs nothing.
    """
    sides = [s for s in sides if len(s) >= 8]
    if len(sides) < 3:
        return 0.0
    grid = np.arange(-LENS_RANGE, LENS_RANGE + 1e-12, LENS_STEP)
    cost = np.array([sum(_line_residuals(undistort_points(s, float(k), shape)) for s in sides) for k in grid])
    i = int(np.argmin(cost))
    straight = cost[int(np.argmin(np.abs(grid)))]
    k = float(grid[i])
    if 0 < i < len(grid) - 1:
        y0, y1, y2 = cost[i - 1], cost[i], cost[i + 1]
        denom = y0 - 2 * y1 + y2
        if denom > 0:
            k += float(np.clip(0.5 * (y0 - y2) / denom, -0.5, 0.5)) * LENS_STEP
    if abs(k) < MIN_LENS or cost[i] > MIN_IMPROVEMENT * straight:
        return 0.0
    return k

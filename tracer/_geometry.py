"""Geometry hypotheses (how input pixels map to screen pixels) and the resampling they need."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from watermark.decoding import TILE, orient_tile as orient

from ._lens import distortion_maps, undistort_points
from ._sync import comb_search

__all__ = [
    "DIHEDRAL",
    "Geometry",
    "ScreenLuma",
    "as_is_geometry",
    "comb_candidates",
    "comb_geometries",
    "display_geometries",
    "image_corners",
    "near_similarity",
    "orient",
    "rectify",
    "rectify_quad",
    "screen_luma",
]

MIN_SCREEN_PX, MAX_SCREEN_PX = 800, 6144
"""Plausible widths, in device pixels, of a photographed screen (a 5K display is 5120)."""
RECTIFIED_SIDE = 1600
"""Rectified images for the comb search are at most this large."""
MIN_SHRINK = 1 / 64
"""A rectification that must shrink its region more than this (the region spread over 100,000 px) is degenerate."""
MAX_SCREEN_SIDE = 2560
"""Resampled screens are cropped (centred) to this side: 100 tiles are plenty to fold."""
AS_IS_MAX_PIXELS = 6_000_000
"""An input larger than this is read "as is" only in its centre (a screenshot at original scale this large is rare)."""
AS_IS_SIDE = 2048
"""Side of that centre square."""
SATURATED_LEVEL = 253.5
"""In photos, a neighbourhood whose mean luma reaches this is clipped (glare, blown highlights): no mark survives there."""
SATURATED_WINDOW = 5
"""Side of that neighbourhood (px). Clipping is a region, not a pixel: a white page exposed just under full
scale has single pixels above any threshold near it, wherever the mark and the noise push them, and masking
those (each masked pixel is a step to the content suppression) would throw away most of the page."""

DIHEDRAL: list[tuple[int, bool]] = [(k, False) for k in range(4)] + [(k, True) for k in range(4)]
"""The eight (quarter turns, mirrored) orientations a folded tile is tried in."""


@dataclass(frozen=True)
class Geometry:
    """One hypothesis of how the input maps to screen pixels.

    Attributes
    ----------
    name : str
        Which strategy proposed it (``screen-quad+comb0``, ``as-is``, ...).
    to_screen : ndarray (3, 3) or None
        Homography from input pixels to screen pixels; None: the input as it is.
    scale : float
        Input pixels per screen pixel (about), for the report.
    quad : ndarray (4, 2) or None
        The screen outline in the input, when one was found.
    photo : bool
        A photo (glare is masked) rather than a screenshot.
    region : ndarray (4, 2) or None
        Input area to resample (default: ``quad``, else the whole input).
    lens : float
        Radial distortion ``k1`` of the input (``tracer._lens``): ``to_screen``
        then maps *ideal* input coordinates (the photo undistorted) to the
        screen, while ``quad`` and ``region`` stay in the input's pixels.
    """

    name: str
    to_screen: NDArray[np.float64] | None
    scale: float
    quad: NDArray[np.float64] | None
    photo: bool
    region: NDArray[np.float64] | None = None
    lens: float = 0.0

    def ideal(self, points: NDArray[np.float64], shape: tuple[int, ...]) -> NDArray[np.float64]:
        """Input pixels -> the coordinates ``to_screen`` applies to (the same, without lens distortion)."""
        return undistort_points(points, self.lens, shape) if self.lens else points

    def outline(self, shape: tuple[int, ...]) -> NDArray[np.float64]:
        """The input area this geometry covers: its region, else its quad, else the whole input."""
        if self.region is not None:
            return self.region
        if self.quad is not None:
            return self.quad
        return image_corners(shape[1], shape[0])


@dataclass(frozen=True)
class ScreenLuma:
    """An input resampled to a geometry's screen pixels."""

    luma: NDArray[np.float32]
    valid: NDArray[np.bool_] | None
    """Pixels holding image data (not outside the warped area, not glare); None: all."""
    out_hom: NDArray[np.float64] | None
    """Homography from input pixels to the pixels of ``luma``; None: the input itself."""


def image_corners(width: float, height: float) -> NDArray[np.float64]:
    """Corners (x, y) of a width x height image: TL, TR, BR, BL."""
    return np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float64)


def _translation(dx: float, dy: float) -> NDArray[np.float64]:
    return np.array([[1, 0, dx], [0, 1, dy], [0, 0, 1]], dtype=np.float64)


def _integrate_down(
    src: NDArray[np.float32], src_valid: NDArray[np.uint8], hom: NDArray[np.float64], scale: float
) -> tuple[NDArray[np.float32], NDArray[np.uint8], NDArray[np.float64]]:
    """Area-average an input much finer than the screen down to about screen resolution (a direct warp would alias the carrier)."""
    factor = scale / 1.1
    size = (max(1, int(round(src.shape[1] / factor))), max(1, int(round(src.shape[0] / factor))))
    fx, fy = src.shape[1] / size[0], src.shape[0] / size[1]
    small = cv2.resize(src, size, interpolation=cv2.INTER_AREA)
    small_valid = cv2.resize(src_valid, size, interpolation=cv2.INTER_NEAREST)
    return small, small_valid, hom @ np.array([[fx, 0, (fx - 1) / 2], [0, fy, (fy - 1) / 2], [0, 0, 1]], dtype=np.float64)


def unclipped(y: NDArray[np.float32]) -> NDArray[np.bool_]:
    """Pixels of a photo that are not in a clipped region (``SATURATED_LEVEL`` over ``SATURATED_WINDOW``)."""
    return np.asarray(cv2.blur(y, (SATURATED_WINDOW, SATURATED_WINDOW)) < SATURATED_LEVEL)


def screen_luma(y: NDArray[np.float32], geometry: Geometry, photo_valid: NDArray[np.bool_] | None = None) -> ScreenLuma:
    """Resample the input luma to a geometry's screen pixels (at most ``MAX_SCREEN_SIDE`` a side, centred).

    ``photo_valid``: ``unclipped(y)``, when the caller has it.
    """
    valid = (unclipped(y) if photo_valid is None else photo_valid) if geometry.photo else None
    if geometry.to_screen is None:
        return ScreenLuma(y, valid, None)
    h_in, w_in = y.shape
    region = geometry.outline(y.shape)
    # Work on the region's bounding box only.
    x0, y0 = np.maximum(np.floor(region.min(axis=0)).astype(int) - 2, 0)
    x1, y1 = np.minimum(np.ceil(region.max(axis=0)).astype(int) + 2, [w_in, h_in])
    src = y[y0:y1, x0:x1]
    src_valid = np.ones(src.shape, np.uint8) if valid is None else valid[y0:y1, x0:x1].astype(np.uint8)
    hom = geometry.to_screen @ _translation(x0, y0)
    if geometry.scale > 1.25:
        src, src_valid, hom = _integrate_down(src, src_valid, hom, geometry.scale)
    mapped = cv2.perspectiveTransform(geometry.ideal(region, y.shape).reshape(-1, 1, 2), geometry.to_screen).reshape(-1, 2)
    lo = np.floor(mapped.min(axis=0))
    extent = np.ceil(mapped.max(axis=0) - lo)
    size = np.minimum(extent, MAX_SCREEN_SIDE).astype(int)
    lo += np.floor((extent - size) / 2)
    shift = _translation(-lo[0], -lo[1])
    final = shift @ hom
    dsize = (int(size[0]), int(size[1]))
    border = dict(borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    if geometry.lens:
        # output pixel -> ideal input point -> photo pixel (the lens) -> source pixel (crop, area averaging)
        to_source = np.linalg.inv(hom) @ geometry.to_screen
        from_output = np.asarray(np.linalg.inv(shift @ geometry.to_screen), dtype=np.float64)
        map_x, map_y = distortion_maps(from_output, dsize, geometry.lens, y.shape, to_source)
        out = cv2.remap(src, map_x, map_y, cv2.INTER_LINEAR, **border)
        out_valid = cv2.remap(src_valid, map_x, map_y, cv2.INTER_NEAREST, **border)
    else:
        out = cv2.warpPerspective(src, final, dsize, flags=cv2.INTER_LINEAR, **border)
        out_valid = cv2.warpPerspective(src_valid, final, dsize, flags=cv2.INTER_NEAREST, **border)
    return ScreenLuma(out, out_valid.astype(bool), shift @ geometry.to_screen)


def comb_candidates(
    y: NDArray[np.float32],
    base: Geometry,
    count: int,
    aspect_range: tuple[float, float],
    screen_width_px: float | None = None,
) -> list[tuple[Geometry, float]]:
    """Axis-aligned scale hypotheses from the carrier's spectral comb in ``y``, with their comb scores.

    ``y`` is the input itself (base.to_screen None) or the base geometry's
    rectification; the result maps input pixels to screen pixels. When the
    screen's width in ``y`` is known (a located quadrilateral), scales that
    would make it narrower than ``MIN_SCREEN_PX`` or wider than
    ``MAX_SCREEN_PX`` device pixels are dropped.
    """
    candidates = comb_search(y, aspect_range=aspect_range, count=count)
    if screen_width_px is not None:
        candidates = [c for c in candidates if MIN_SCREEN_PX <= screen_width_px / c[0] <= MAX_SCREEN_PX]
    out = []
    for i, (sx, sy, comb_score) in enumerate(candidates):
        scale = np.diag([1.0 / sx, 1.0 / sy, 1.0])
        to_screen = scale if base.to_screen is None else scale @ base.to_screen
        factor = float(np.sqrt(sx * sy)) * (base.scale if base.to_screen is not None else 1.0)
        out.append((Geometry(f"{base.name}+comb{i}", to_screen, factor, base.quad, base.photo, lens=base.lens), comb_score))
    return out


def comb_geometries(
    y: NDArray[np.float32],
    base: Geometry,
    count: int,
    aspect_range: tuple[float, float],
    screen_width_px: float | None = None,
) -> list[Geometry]:
    """:func:`comb_candidates` without the scores."""
    return [g for g, _ in comb_candidates(y, base, count, aspect_range, screen_width_px)]


DISPLAY_RESOLUTIONS: tuple[tuple[int, int], ...] = (
    (1280, 720), (1366, 768), (1600, 900), (1920, 1080), (2560, 1440), (3840, 2160),  # 16:9
    (1280, 800), (1440, 900), (1680, 1050), (1920, 1200), (2560, 1600),  # 16:10
    (1280, 1024), (2256, 1504), (2880, 1920),  # 5:4, 3:2
    (2560, 1080), (3440, 1440),  # 21:9
)
"""Native resolutions of the monitors and laptop panels a record is read on (device pixels).

The mark's tiles are laid in device pixels, so a located screen outline
maps to one of these rectangles. When a photo holds the screen at a few
tenths of a photo pixel per screen pixel, the comb's per-axis scale (a
line a few FFT bins from DC) is often off by more than the refinement can
recover; these are hypotheses that need no measurement.
"""
DISPLAY_ASPECT_SLACK = 1.45
"""A resolution is tried when its aspect is within this factor of the outline's (foreshortening at 45 degrees is 1.41)."""
MIN_PHOTO_PX_PER_SCREEN_PX = 0.15
"""Below this capture scale the carrier's shortest wavelength (21 screen px) spans under 3 photo px: not tried."""


def display_geometries(base: Geometry, quad: NDArray[np.float64], shape: tuple[int, ...] = (0, 0)) -> list[Geometry]:
    """Map a located screen outline onto each plausible display resolution (``DISPLAY_RESOLUTIONS``).

    Plausible: the resolution's aspect is within ``DISPLAY_ASPECT_SLACK`` of
    the outline's side ratio, and the capture scale is at least
    ``MIN_PHOTO_PX_PER_SCREEN_PX``. Ordered by how close the aspect is.
    """
    width, height = _outline_size(quad)
    aspect = width / max(height, 1.0)
    ideal = base.ideal(quad, shape)  # ``shape``: the input's, needed with a lens
    out = []
    for w, h in DISPLAY_RESOLUTIONS:
        ratio = (w / h) / aspect
        if not 1 / DISPLAY_ASPECT_SLACK <= ratio <= DISPLAY_ASPECT_SLACK or width / w < MIN_PHOTO_PX_PER_SCREEN_PX:
            continue
        target = image_corners(w, h) - 0.5
        hom = cv2.getPerspectiveTransform(ideal.astype(np.float32), target.astype(np.float32)).astype(np.float64)
        out.append((abs(np.log(ratio)), Geometry(f"{base.name}@{w}x{h}", hom, float(width / w), quad, base.photo, lens=base.lens)))
    out.sort(key=lambda item: item[0])
    return [g for _, g in out]


def near_similarity(hom: NDArray[np.float64]) -> bool:
    """True when a homography is (nearly) a rotation by a multiple of 90 degrees plus scale: nothing to rectify."""
    h = hom / hom[2, 2]
    if np.abs(h[2, :2]).max() > 1e-5:
        return False
    a = h[:2, :2] / np.sqrt(abs(np.linalg.det(h[:2, :2])))
    turns = (np.eye(2), np.rot90(np.eye(2)), -np.eye(2), np.array([[0, -1], [1, 0]]))
    return bool(min(np.abs(a - r).max() for r in turns) < 0.01)


def _outline_size(quad: NDArray[np.float64]) -> tuple[float, float]:
    """Width and height of a TL, TR, BR, BL outline: its longer top/bottom and left/right sides."""
    top, bottom = np.hypot(*(quad[1] - quad[0])), np.hypot(*(quad[2] - quad[3]))
    left, right = np.hypot(*(quad[3] - quad[0])), np.hypot(*(quad[2] - quad[1]))
    return float(max(top, bottom)), float(max(left, right))


def rectify_quad(y: NDArray[np.float32], quad: NDArray[np.float64]) -> tuple[NDArray[np.float32], NDArray[np.float64], float] | None:
    """Warp the quadrilateral to an upright rectangle of about its own size (capped), for the comb search.

    None when no rectangle can show it (see :func:`rectify`).
    """
    target = image_corners(*_outline_size(quad))
    hom = cv2.getPerspectiveTransform(quad.astype(np.float32), target.astype(np.float32)).astype(np.float64)
    return rectify(y, hom, quad)


def rectify(y: NDArray[np.float32], hom: NDArray[np.float64],
            region: NDArray[np.float64]) -> tuple[NDArray[np.float32], NDArray[np.float64], float] | None:
    """Warp ``region`` of ``y`` by ``hom`` into a rectangle of at most RECTIFIED_SIDE px.

    Returns the image, the full input -> rectified-pixel homography, and the
    shrink factor applied on top of ``hom``; None when the homography is
    degenerate for the region: it crosses the homography's horizon (a
    vanishing-point fit that puts the horizon inside the photo), maps it
    out of range, or spreads it so wide that the rectangle would hold less
    than ``MIN_SHRINK`` of a pixel per pixel (the anti-alias blur alone
    would need gigabytes).
    """
    corners = region.reshape(-1, 2)
    depth = corners @ hom[2, :2] + hom[2, 2]
    if not (np.all(depth > 0) or np.all(depth < 0)):
        return None
    mapped = cv2.perspectiveTransform(region.reshape(-1, 1, 2), hom).reshape(-1, 2)
    if not np.all(np.isfinite(mapped)):
        return None
    lo, hi = mapped.min(axis=0), mapped.max(axis=0)
    extent = hi - lo
    shrink = min(1.0, RECTIFIED_SIDE / max(float(extent.max()), 1.0))
    if shrink < MIN_SHRINK:
        return None
    total = np.array([[shrink, 0, -lo[0] * shrink], [0, shrink, -lo[1] * shrink], [0, 0, 1]]) @ hom
    w, h = (np.ceil(extent * shrink).astype(int) + 1).tolist()
    # Blur (against aliasing) and warp only the region's bounding box, with
    # a margin for the blur kernel, not the whole photo.
    sigma = 0.5 / shrink
    pad = int(np.ceil(3 * sigma)) + 2
    x0, y0 = np.maximum(np.floor(region.min(axis=0)).astype(int) - pad, 0)
    x1, y1 = np.minimum(np.ceil(region.max(axis=0)).astype(int) + pad, [y.shape[1], y.shape[0]])
    src = y[y0:y1, x0:x1]
    if shrink < 0.8:
        src = cv2.GaussianBlur(src, (0, 0), sigma)
    rect = cv2.warpPerspective(src, total @ _translation(x0, y0), (w, h), flags=cv2.INTER_LINEAR)
    return rect, total, shrink


def as_is_geometry(shape: tuple[int, ...]) -> Geometry:
    """The input as it is (a screenshot at original scale); only its centre when it is very large."""
    h_img, w_img = shape[:2]
    if h_img * w_img <= AS_IS_MAX_PIXELS:
        return Geometry("as-is", None, 1.0, None, False)
    # A screenshot at original scale this large is rare; its centre is enough to tell.
    cy, cx = (h_img - AS_IS_SIDE) // 2 // TILE * TILE, (w_img - AS_IS_SIDE) // 2 // TILE * TILE
    cy, cx = max(cy, 0), max(cx, 0)
    box = image_corners(AS_IS_SIDE, AS_IS_SIDE) + [cx, cy]
    return Geometry("as-is", np.eye(3), 1.0, None, False, np.minimum(box, [w_img, h_img]))

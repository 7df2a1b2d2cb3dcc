"""Screen candidates from several cues, for scenes the first finder was not built on.

:func:`tracer._sync.find_screen_quad` takes the largest bright (or dark)
region at one global (Otsu) threshold. That fails when the wall is about as
bright as the screen (both fall on one side of the threshold and merge into a
region running off the frame), when the screen is small beside brighter
things (a window), or when a bezel is no darker than the wall. This module
proposes every plausible quadrilateral from independent cues:

* **regions** at several brightness levels, both polarities: a screen is a
  filled convex four-sided region at *some* threshold;
* **edges**: closed outlines in the Canny edge map (the screen's border is a
  step whatever the brightness on each side: the document-scanner cue);

and ranks them by how screen-like they are (filled, convex, with a contrast
step all along the border). The mark decides among the survivors: the
tracer rectifies each and lets the spectral comb and the tile-phase peak
pick (see ``tracer._strategies``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import cv2
import numpy as np
import scipy.special
from numpy.typing import NDArray

from ._sync import _order_corners, _refine_corners, intersect_lines

__all__ = ["ScreenCandidate", "screen_candidates"]

WORK_SIDE = 1000
"""Cues are computed on the photo shrunk so that its long side is at most this (about)."""
MIN_AREA_FRACTION = 0.015
"""Smallest candidate, as a fraction of the photo: a screen a sixth of the photo wide still counts."""
MAX_AREA_FRACTION = 0.97
"""A candidate as large as the frame is the frame (a screenshot)."""
LEVELS = (0.3, 0.45, 0.6, 0.75, 0.9)
"""Brightness levels tried for the region cue, as quantiles of the photo's luma."""
SAME_CORNER_FRACTION = 0.004
"""Two candidates whose corners all lie within this fraction of the photo's diagonal are one."""
NEAR_CORNER_FRACTION = 0.02
"""At most NEAR_KEPT candidates within this fraction of each other are returned (variants of one outline)."""
NEAR_KEPT = 2
MIN_FILL = {"region-bright": 0.85, "region-dark": 0.7, "edges": 0.0}
"""A region must fill this much of its quadrilateral (a dark one may have glare bitten out of it)."""
CANNY_LOW, CANNY_HIGH = 24.0, 60.0
"""Hysteresis thresholds of the edge cue (Sobel magnitude of the shrunk, blurred photo)."""
MAX_CANDIDATES = 6
"""Candidates returned, best first."""


@dataclass(frozen=True)
class ScreenCandidate:
    """A quadrilateral that may be the screen, in input pixels (TL, TR, BR, BL; x, y)."""

    quad: NDArray[np.float64]
    cue: str
    """Which cue proposed it: ``region-bright``, ``region-dark``, ``edges``."""
    score: float
    """Screen-likeness: the contrast step along the border (levels), discounted when not filled or not convex."""
    variants: tuple[NDArray[np.float64], ...] = ()
    """The same outline with one side moved to another step parallel to it (:func:`side_variants`): the
    screen's true edge when the outline stopped at a title bar or a menu, or went out to a light bezel.
    The tracer lets the mark choose among them."""


def _work_image(rgb: NDArray[np.uint8]) -> tuple[NDArray[np.uint8], NDArray[np.uint8], int]:
    """The photo's gray levels at full resolution, shrunk for the cues, and the shrink factor."""
    h, w = rgb.shape[:2]
    factor = max(1, int(np.ceil(max(h, w) / WORK_SIDE)))
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    small = cv2.resize(gray, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
    return gray, small, factor


def _sides(quad: NDArray[np.float64]) -> list[tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]]:
    """Each side of a convex quad as (start, end, unit direction, unit normal pointing outwards)."""
    centre = quad.mean(axis=0)
    out = []
    for i in range(4):
        a, b = quad[i], quad[(i + 1) % 4]
        d = (b - a) / (np.hypot(*(b - a)) + 1e-9)
        normal = np.array([-d[1], d[0]])
        if np.dot(centre - (a + b) / 2, normal) > 0:
            normal = -normal
        out.append((a, b, d, normal))
    return out


def _quad_of(contour: NDArray[np.int32], shape: tuple[int, int]) -> NDArray[np.float64] | None:
    """The four corners of a contour's convex hull when it is a quadrilateral of plausible size, else None."""
    area_total = shape[0] * shape[1]
    hull = cv2.convexHull(contour)
    hull_area = cv2.contourArea(hull)
    if not MIN_AREA_FRACTION * area_total <= hull_area <= MAX_AREA_FRACTION * area_total:
        return None
    approx = cv2.approxPolyDP(hull, 0.02 * cv2.arcLength(hull, True), True)
    if len(approx) != 4 or not cv2.isContourConvex(approx):
        return None
    corners = _order_corners(approx.reshape(4, 2).astype(np.float64))
    if _on_frame(corners, shape):
        return None  # the frame itself, or a wall or floor running off it
    sides = np.hypot(*(np.roll(corners, -1, axis=0) - corners).T)
    if sides.min() < 0.15 * sides.max():
        return None  # a sliver
    return corners


def _on_frame(corners: NDArray[np.float64], shape: tuple[int, int], margin: float = 2.0) -> bool:
    """Whether three corners or more lie on the photo's frame (within ``margin`` px)."""
    h, w = shape
    x, y = corners[:, 0], corners[:, 1]
    touching = (x <= margin) | (x >= w - 1 - margin) | (y <= margin) | (y >= h - 1 - margin)
    return bool(touching.sum() >= 3)


BODY_OPENING = 0.15
"""Opening that takes a thin appendage off a region (a monitor's stand, an arm, a cable), as a fraction of the
square root of the region's hull area: wider than a stand's neck (about a tenth of a screen's width), narrower
than the screen."""


def _body(contour: NDArray[np.int32], shape: tuple[int, int]) -> NDArray[np.int32] | None:
    """The contour's region with thin appendages opened away: its largest remaining part's outer contour, or None.

    A dark screen and its bezel on a light wall are one dark region with
    the stand below it, whose hull has five or six corners; opened with a
    disc wider than the stand's neck, the screen's body is left (its
    corners rounded, which the line fits of :func:`_refine_corners` on the
    original contour's sides do not see).
    """
    hull_area = max(cv2.contourArea(cv2.convexHull(contour)), 1.0)
    size = BODY_OPENING * np.sqrt(hull_area)
    if size < 5:
        return None
    # The opening only decides which part is the body; at a coarse scale (the disc about 9 px) it is cheap.
    x, y, w, h = cv2.boundingRect(contour)
    step = max(1.0, size / 9.0)
    mask = np.zeros((int(np.ceil(h / step)) + 2, int(np.ceil(w / step)) + 2), np.uint8)
    points = np.round((contour.reshape(-1, 2) - [x, y]) / step).astype(np.int32) + 1
    cv2.drawContours(mask, [points.reshape(-1, 1, 2)], -1, 255, thickness=cv2.FILLED)
    disc = int(round(size / step)) | 1
    opened = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (disc, disc)))
    parts, _ = cv2.findContours(opened, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not parts:
        return None
    body = max(parts, key=cv2.contourArea).reshape(-1, 2).astype(np.float64)
    return np.round((body - 1) * step + [x, y]).astype(np.int32).reshape(-1, 1, 2)


def _region_contours(small: NDArray[np.uint8]) -> list[tuple[str, NDArray[np.int32]]]:
    """Outer contours of bright and dark regions at several levels (quantiles of luma)."""
    blurred = cv2.GaussianBlur(small, (0, 0), 2.0)
    levels = np.quantile(blurred, LEVELS)
    otsu, _ = cv2.threshold(blurred, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    out = []
    close = np.ones((7, 7), np.uint8)
    for level in sorted({float(otsu), *map(float, levels)}):
        for polarity, name in ((cv2.THRESH_BINARY, "region-bright"), (cv2.THRESH_BINARY_INV, "region-dark")):
            _, binary = cv2.threshold(blurred, level, 255, polarity)
            binary = cv2.morphologyEx(binary, cv2.MORPH_CLOSE, close)
            contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
            for c in sorted(contours, key=cv2.contourArea, reverse=True)[:4]:
                out.append((name, c))
    return out


def _edge_contours(small: NDArray[np.uint8]) -> list[tuple[str, NDArray[np.int32]]]:
    """Closed outlines in the edge map (any polarity of step), holes included."""
    blurred = cv2.GaussianBlur(small, (0, 0), 1.5)
    # Thresholds on the Sobel magnitude (about 4x the step in levels): a step of
    # 15 levels all along a side links up, whatever the scene's brightness (an
    # inner screen edge against a grey or silver bezel is often no more).
    edges = cv2.Canny(blurred, CANNY_LOW, CANNY_HIGH)
    edges = cv2.dilate(edges, np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(edges, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    area_total = small.shape[0] * small.shape[1]
    big = [c for c in contours if cv2.contourArea(cv2.convexHull(c)) >= MIN_AREA_FRACTION * area_total]
    return [("edges", c) for c in sorted(big, key=lambda c: cv2.contourArea(cv2.convexHull(c)), reverse=True)[:12]]


def _border_contrast(small: NDArray[np.float32], quad: NDArray[np.float64]) -> float:
    """Median absolute luma step across the quad's border, sampled along all four sides (levels).

    A screen's border is a step all the way round (bezel, or the wall for a
    borderless screen); an outline drawn through content is not.
    """
    steps = []
    for a, b, _, outward in _sides(quad):
        t = np.linspace(0.1, 0.9, 24)[:, None]
        points = a + t * (b - a)
        offset = max(3.0, 0.015 * float(np.hypot(*(b - a))))
        inside = points - offset * outward
        outside = points + offset * outward
        coords = np.concatenate([inside, outside])
        vals = cv2.remap(small, coords[:, 0:1].astype(np.float32), coords[:, 1:2].astype(np.float32), cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE).ravel()
        side_steps = np.abs(vals[:24] - vals[24:])
        steps.append(float(np.median(side_steps)))
    # The weakest side counts most: glare may wash one side out, but a
    # candidate with two sides of no step at all is not a screen.
    steps.sort()
    return 0.5 * steps[0] + 0.3 * steps[1] + 0.2 * steps[2]


BEZEL_SEARCH = 0.05
"""How far outward (fraction of the screen diagonal) a side is searched for the bezel's inner edge."""


def _side_profile(image: NDArray[Any], a: NDArray[np.float64], b: NDArray[np.float64], normal: NDArray[np.float64],
                  offsets: NDArray[np.float64], t: NDArray[np.float64] | None = None, *, mean: bool = False) -> NDArray[np.float64]:
    """Median (or mean) level along the side a-b at fractions ``t`` (default: 32 over its middle 70 %), at each offset along ``normal``.

    A colour image gives one profile per channel, (offsets, channels).
    """
    t = np.linspace(0.15, 0.85, 32) if t is None else t
    base = a[None, :] + t[:, None] * (b - a)[None, :]
    pts = base[None, :, :] + offsets[:, None, None] * normal[None, None, :]
    vals = cv2.remap(image, pts[..., 0].astype(np.float32), pts[..., 1].astype(np.float32), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)
    return (vals.mean(axis=1) if mean else np.median(vals, axis=1)).astype(np.float64)


def _bezel_offset(profile: NDArray[np.float64], offsets: NDArray[np.float64], plateau_px: float) -> float:
    """Outward distance from a side to where the darkest band (a dark bezel) begins, or 0.

    Screens often start with a dark bar (a title bar, a menu) that a bright
    region stops at; the displayed image ends where the bezel's flat dark
    band begins. The band is the darkest level of the profile; the edge is
    where the profile first settles within a few levels of it for at least
    ``plateau_px``, at half the step into it.
    """
    outside = offsets > 0
    if not outside.any() or len(offsets) < 2:
        return 0.0  # a side too short to search outward from (a few-pixel quad)
    inside_level = float(np.median(profile[~outside])) if (~outside).any() else float(profile[0])
    dark = float(profile[outside].min())
    if inside_level - dark < 20.0:
        return 0.0  # no dark band outside: a light bezel, or no bezel (the side stays where it is)
    tol = max(5.0, 0.06 * (inside_level - dark))
    step = float(offsets[1] - offsets[0])
    run = max(2, int(np.ceil(plateau_px / step)))
    flat = profile <= dark + tol
    idx = np.flatnonzero(outside)
    for k in idx:
        if k + run <= len(profile) and flat[k : k + run].all():
            if k == idx[0]:
                return 0.0  # already at the bezel
            level = (profile[k - 1] + dark) / 2
            lo, hi = profile[k - 1], profile[k]
            frac = 0.5 if lo == hi else float(np.clip((lo - level) / (lo - hi), 0.0, 1.0))
            return float(offsets[k - 1] + frac * step)
    return 0.0


def _snap_to_bezel(image: NDArray[np.float32], quad: NDArray[np.float64]) -> tuple[NDArray[np.float64], tuple[float, ...]]:
    """Move each side outward to the inner edge of a dark bezel, when there is one; corners re-intersected.

    Returns the quad and how far each side moved (px, 0 for a side left where it was).
    """
    diagonal = float(np.hypot(*(quad[2] - quad[0])))
    offsets = np.arange(-0.01 * diagonal, BEZEL_SEARCH * diagonal, 0.5)
    lines, shifts = [], []
    for a, b, d, normal in _sides(quad):
        shift = _bezel_offset(_side_profile(image, a, b, normal, offsets), offsets, max(2.0, 0.004 * diagonal))
        lines.append((a + shift * normal, d))
        shifts.append(shift)
    return intersect_lines(lines, quad), tuple(shifts)


EDGE_SAMPLES = 48
"""Profiles across each side, at full resolution, for the sub-pixel edge fit."""


def _fit_line(points: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    """Total-least-squares line through points, refitted on the points within 1.5x the median residual."""
    keep = np.ones(len(points), dtype=bool)
    for _ in range(4):
        if keep.sum() < 8:
            return None
        mean = points[keep].mean(axis=0)
        direction = np.linalg.svd(points[keep] - mean, full_matrices=False)[2][0]
        normal = np.array([-direction[1], direction[0]])
        resid = np.abs((points - mean) @ normal)
        keep = resid <= max(0.5, 1.5 * float(np.median(resid[keep])))
    return mean, direction


def edge_points(gray: NDArray[np.float32], quad: NDArray[np.float64], radius: float) -> list[NDArray[np.float64]]:
    """Sub-pixel points of each side's edge: the strongest step across it within ``radius`` px, at full resolution.

    Across each side, profiles are sampled at a quarter pixel; the edge is
    where the profile's derivative (of the sign the side shows: brighter
    inside or outside) peaks, refined by a parabola. Points on a weak step
    (glare, a side off the photo) are left out.
    """
    return [_side_edge_points(gray, a, b, normal, radius) for a, b, _, normal in _sides(quad)]


def _side_edge_points(image: NDArray[np.float32], a: NDArray[np.float64], b: NDArray[np.float64], normal: NDArray[np.float64],
                      radius: float, origin: NDArray[np.float64] | None = None) -> NDArray[np.float64]:
    """:func:`edge_points` of one side a-b (``image`` may be a crop whose pixel (0, 0) is at ``origin``)."""
    offsets = np.arange(-radius, radius + 1e-9, 0.25)
    t = np.linspace(0.08, 0.92, EDGE_SAMPLES)
    base = a[None, :] + t[:, None] * (b - a)[None, :]
    pts = base[:, None, :] + offsets[None, :, None] * normal[None, None, :]
    if origin is not None:
        pts = pts - origin
    prof = cv2.remap(image, pts[..., 0].astype(np.float32), pts[..., 1].astype(np.float32), cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE).astype(np.float64)
    deriv = np.gradient(prof, axis=1)
    sign = -1.0 if np.median(prof[:, : len(offsets) // 2]) >= np.median(prof[:, len(offsets) // 2 :]) else 1.0
    signed = sign * deriv
    peak = np.argmax(signed, axis=1)
    k = np.clip(peak, 1, len(offsets) - 2)
    rows = np.arange(len(t))
    y0, y1, y2 = signed[rows, k - 1], signed[rows, k], signed[rows, k + 1]
    denom = y0 - 2 * y1 + y2
    frac = np.where(np.abs(denom) > 1e-9, 0.5 * (y0 - y2) / np.where(np.abs(denom) > 1e-9, denom, 1.0), 0.0)
    edge = offsets[k] + np.clip(frac, -0.5, 0.5) * 0.25
    # A slope steepest at the end of the search is another edge's flank (a title bar's inner edge beside a
    # bezel's), not an edge within reach.
    strong = (y1 > max(2.0, 0.3 * float(np.median(y1)))) & (peak > 0) & (peak < len(offsets) - 1)
    return base[strong] + edge[strong, None] * normal[None, :]


def refine_full_resolution(gray: NDArray[np.float32], quad: NDArray[np.float64], radius: float | Sequence[float],
                           colour_side: tuple[int, NDArray[np.uint8], NDArray[np.float64]] | None = None,
                           fallback: float | None = None) -> NDArray[np.float64]:
    """Sub-pixel corners: each side re-fitted to its :func:`edge_points` (robust line fits), lines intersected.

    ``radius`` (px) is how far across each side its edge is searched, one for all sides or one per side; a
    side whose edge is not within it (no steepest slope inside the search) is searched again within
    ``fallback`` px (a luma edge), else stays where it is.

    The candidates are found on a shrunk photo, where a pixel can be 1 % of
    a small screen's diagonal. ``colour_side`` = (side index, RGB photo,
    unit colour direction): that side's edge is a step of colour more than
    of luma, and is fitted on the photo's colours projected on that
    direction (the difference of the two colours it separates).
    """
    radii = [float(radius)] * 4 if isinstance(radius, (int, float)) else [float(r) for r in radius]
    lines = []
    for i, (a, b, d, normal) in enumerate(_sides(quad)):
        if colour_side is not None and colour_side[0] == i:
            crop, origin = _float_crop(colour_side[1], np.array([a, b]), radii[i] + 4.0)
            points = _side_edge_points(np.ascontiguousarray(crop @ colour_side[2].astype(np.float32)), a, b, normal, radii[i], origin)
        else:
            points = _side_edge_points(gray, a, b, normal, radii[i])
        line = _fit_line(points)
        if line is None and fallback is not None and fallback > radii[i]:
            line = _fit_line(_side_edge_points(gray, a, b, normal, fallback))
        lines.append(line if line is not None else (a, d))
    return intersect_lines(lines, quad)


def _float_crop(rgb: NDArray[np.uint8], points: NDArray[np.float64], margin: float) -> tuple[NDArray[np.float32], NDArray[np.float64]]:
    """The photo's box around ``points`` (plus ``margin`` px), as float32, and the box's top-left corner."""
    h, w = rgb.shape[:2]
    x0, y0 = (int(np.clip(np.floor(v - margin), 0, n - 1)) for v, n in zip(points.min(axis=0), (w, h)))
    x1, y1 = (int(np.clip(np.ceil(v + margin), 0, n - 1)) + 1 for v, n in zip(points.max(axis=0), (w, h)))
    return rgb[y0:y1, x0:x1].astype(np.float32), np.array([x0, y0], np.float64)


SIDE_SEARCH = 0.06
"""How far a side is searched for another edge parallel to it: this fraction of the screen's extent across the side."""
MIN_SIDE_SEARCH_PX = 6.0
SIDE_STEP_MIN_GRADIENT = 2.0
"""A step parallel to a side counts when the side-averaged profile's slope reaches this (levels per pixel; the
average over a side's few hundred samples puts camera noise well below it)."""
STEPS_PER_SIDE = 2
"""Parallel steps kept per side (the strongest)."""
MAX_VARIANTS = 4 * STEPS_PER_SIDE
"""Side variants kept per outline (the strongest steps over all sides)."""


COLOUR_STEP_RATIO = 1.5
"""A parallel step whose hue step is this many times its luma slope is fitted in colour (``refine_full_resolution``)."""
GREY_COSINE = 0.95
"""A colour step this close to grey (cosine with the grey axis) is fitted in luma, as any grey step."""
COLOUR_SPAN_PX = 3.0
"""A hue step's height is the colour difference between this far inside and this far outside it."""
SHARP_EDGE_PX = 2.5
"""Width of a sharp edge through the camera and the profile's blur: a hue step's height over it counts as a slope."""


def _parallel_steps(gray: NDArray[np.float32], a: NDArray[np.float64], b: NDArray[np.float64], normal: NDArray[np.float64],
                    reach: float, rgb: NDArray[np.uint8] | None = None) -> list[tuple[float, float, NDArray[np.float64] | None]]:
    """Steps parallel to side a-b within ``reach`` px either way, other than the side's own: (offset, slope, colour).

    The profile across the side, averaged along its middle 80 %, is
    differentiated; its slope's local maxima (sub-pixel, by a parabola) at
    least 2.5 px from the side are the candidates.

    With ``rgb``, the slope is the larger of the luma profile's and the hue
    profile's step height per ``SHARP_EDGE_PX`` (the height: the RMS over
    the three channels of the chromatic part, the channels less their
    mean, of the colour difference ``COLOUR_SPAN_PX`` either side). A grey
    step counts as before, and a step of hue as a sharp luma step of its
    size, however soft (a dim room's long exposure and denoising spread it
    over pixels). A screen's dark title bar against a dark wall of another
    hue (a room lit dimly, no bezel) differs in colour far more than in
    luma, since the screen emits its own spectrum and the wall reflects
    the room's. ``colour`` is the step's unit RGB direction (inside minus
    outside) when it is ``COLOUR_STEP_RATIO`` times stronger in colour than
    in luma and not grey (``GREY_COSINE``), else None.
    """
    offsets = np.arange(-reach, reach + 1e-9, 0.5)
    t = np.linspace(0.1, 0.9, max(16, int(np.hypot(*(b - a)) / 4)))
    profile = cv2.GaussianBlur(_side_profile(gray, a, b, normal, offsets, t, mean=True).reshape(-1, 1), (1, 0), 1.5).ravel()
    slope = np.abs(np.gradient(profile, 0.5))
    colours: NDArray[np.float64] | None = None
    strength = slope
    span = int(round(COLOUR_SPAN_PX / 0.5))
    if rgb is not None:
        # Sampled from the 8-bit photo: the mean over a side's hundreds of samples is far finer than a level.
        colours = cv2.GaussianBlur(_side_profile(rgb, a, b, normal, offsets, t, mean=True).astype(np.float32), (1, 0), 1.5).astype(np.float64)
        chroma = colours - colours.mean(axis=1, keepdims=True)  # hue only: a grey step is the luma profile's
        padded = np.pad(chroma, ((span, span), (0, 0)), mode="edge")
        height = np.sqrt(((padded[: len(offsets)] - padded[2 * span :]) ** 2).mean(axis=1))
        strength = np.maximum(slope, height / SHARP_EDGE_PX)
    out: list[tuple[float, float, NDArray[np.float64] | None]] = []
    for k in range(1, len(offsets) - 1):
        if (strength[k] < SIDE_STEP_MIN_GRADIENT or strength[k] < strength[k - 1] or strength[k] <= strength[k + 1]
                or abs(offsets[k]) < 2.5):
            continue
        y0, y1, y2 = strength[k - 1], strength[k], strength[k + 1]
        denom = y0 - 2 * y1 + y2
        frac = 0.5 * (y0 - y2) / denom if abs(denom) > 1e-9 else 0.0
        direction = None
        if colours is not None and y1 > COLOUR_STEP_RATIO * slope[k]:
            difference = colours[max(0, k - span)] - colours[min(len(offsets) - 1, k + span)]  # inside - outside
            unit = difference / (float(np.linalg.norm(difference)) + 1e-9)
            direction = None if abs(float(unit.sum())) / np.sqrt(3.0) > GREY_COSINE else unit  # grey: luma fits it
        out.append((float(offsets[k] + np.clip(frac, -0.5, 0.5) * 0.5), float(y1), direction))
    shoulder = _shoulder(offsets, profile)
    if shoulder is not None and all(abs(shoulder[0] - o) > 1.0 for o, _, _ in out):
        out.append((shoulder[0], shoulder[1], None))
    out.sort(key=lambda item: item[1], reverse=True)
    return out[:STEPS_PER_SIDE]


SHOULDER_REACH_PX = 8.0
"""How far either side of a side's own edge the two-edge fit of :func:`_shoulder` looks."""
SHOULDER_MIN_PX = 1.5
"""A second edge in the blur of a side's own (a shoulder) counts this far from it at least."""
SHOULDER_MIN_STEP = 8.0
"""... with a step of at least this many levels,"""
SHOULDER_MIN_RATIO = 0.08
"""... and by this fraction of the side's own step at least,"""
SHOULDER_MIN_BLURS = 2.5
"""... lying this many blur widths (sigma) from it at least (two edges within the blur fit a real edge's
profile, which is no exact error function, a little better than one),"""
SHOULDER_GAIN = 0.7
"""... when two blurred edges fit the profile with at most this fraction of one edge's RMS residual."""


def _step_fits(x: NDArray[np.float64], p: NDArray[np.float64], edges: NDArray[np.float64], sigma: NDArray[np.float64]
               ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Least-squares levels and RMS residuals of ``p(x)`` fitted by a constant plus blurred unit steps.

    ``edges`` (n, k) are the k step positions of n models, ``sigma`` (n,) their blur; each model's levels
    (constant, k heights) are linear in the profile and solved at once (batched normal equations).
    """
    steps = scipy.special.ndtr((edges[:, :, None] - x[None, None, :]) / sigma[:, None, None])  # (n, k, len(x))
    design = np.concatenate([np.ones((len(edges), 1, len(x))), steps], axis=1)
    gram = design @ design.transpose(0, 2, 1) + 1e-9 * np.eye(design.shape[1])
    levels = np.linalg.solve(gram, (design @ p)[..., None])[..., 0]
    residual = np.einsum("nk,nkx->nx", levels, design) - p
    return levels, np.sqrt(np.mean(residual**2, axis=1))


def _shoulder(offsets: NDArray[np.float64], profile: NDArray[np.float64]) -> tuple[float, float] | None:
    """A second step merged into the blur of the side's own (at offset 0): (offset, peak slope), or None.

    On a small screen a dark title bar is a few pixels tall, less than the
    camera's blur: the bar's outer edge against the bezel is no separate
    slope maximum, only a shoulder on the flank of the bar's inner edge.
    The profile near the side is fitted by one blurred step (an error
    function) and by two with the same blur; when two fit far better and
    the second lies clear of the first, it is a step of its own. Its slope
    is a blurred step's peak, height / (sigma sqrt(2 pi)). The fits are
    grids over positions and blur, the levels solved linearly at each.
    """
    near = np.abs(offsets) <= SHOULDER_REACH_PX
    x, p = offsets[near], profile[near]
    if len(x) < 12 or float(np.ptp(p)) < 2 * SHOULDER_MIN_STEP:
        return None
    positions = np.arange(-2.0, 2.0 + 1e-9, 0.25)
    blurs = np.geomspace(0.3, 4.0, 12)
    e1, s1 = (g.ravel() for g in np.meshgrid(positions, blurs, indexing="ij"))
    _, r1 = _step_fits(x, p, e1[:, None], s1)
    one = int(np.argmin(r1))
    x1 = e1[one] + np.arange(-0.75, 0.75 + 1e-9, 0.25)
    x2 = np.arange(-SHOULDER_REACH_PX + 1.0, SHOULDER_REACH_PX - 1.0 + 1e-9, 0.25)
    blur2 = s1[one] * np.array([0.5, 0.65, 0.8, 1.0])
    g1, g2, gs = (g.ravel() for g in np.meshgrid(x1, x2, blur2, indexing="ij"))
    clear = np.abs(g2 - g1) >= SHOULDER_MIN_PX
    if not clear.any():
        return None
    g1, g2, gs = g1[clear], g2[clear], gs[clear]
    levels, r2 = _step_fits(x, p, np.column_stack([g1, g2]), gs)
    k = int(np.argmin(r2))
    # The weaker of the two fitted edges is the shoulder; the stronger is the side's own.
    (h_main, x_main), (h_other, x_other) = sorted([(levels[k, 1], g1[k]), (levels[k, 2], g2[k])], key=lambda e: -abs(e[0]))
    # Clear of the side's own edge by more than the blur: a real edge's profile is no exact error function, and
    # two edges within the blur fit its shape a little better than one.
    apart = abs(x_other - x_main) >= max(SHOULDER_MIN_PX, SHOULDER_MIN_BLURS * gs[k]) and abs(x_other) >= SHOULDER_MIN_PX
    if r2[k] > SHOULDER_GAIN * r1[one] or not apart or abs(h_other) < max(SHOULDER_MIN_STEP, SHOULDER_MIN_RATIO * abs(h_main)):
        return None
    return float(x_other), float(abs(h_other) / (gs[k] * np.sqrt(2.0 * np.pi)))


def side_variants(gray: NDArray[np.float32], quad: NDArray[np.float64], rgb: NDArray[np.uint8] | None = None) -> list[NDArray[np.float64]]:
    """The outline with one side moved to another step parallel to it, strongest steps first.

    A region or an edge outline stops at the first strong step it meets: on
    a screen with a dark title bar, menu or header that is the bar's inner
    edge, and the bezel's edge (the displayed image's real border, and what
    the display-resolution hypotheses need) lies a bar's height further out;
    a light bezel can take the outline out past the screen. Every step
    parallel to a side within ``SIDE_SEARCH`` of the screen's extent is a
    candidate side (fitted at sub-pixel, like the outline's own sides);
    which one is the screen's edge is for the mark to say. With the photo's
    colours (``rgb``, the same pixels as ``gray``), a step of colour counts
    as well as a step of luma (``_parallel_steps``).
    """
    steps: list[tuple[float, int, float, NDArray[np.float64] | None]] = []
    sides = _sides(quad)
    for i, (a, b, d, normal) in enumerate(sides):
        opposite = sides[(i + 2) % 4]
        across = abs(float(np.dot((opposite[0] + opposite[1]) / 2 - (a + b) / 2, normal)))
        reach = max(MIN_SIDE_SEARCH_PX, SIDE_SEARCH * across)
        steps.extend((slope, i, offset, colour) for offset, slope, colour in _parallel_steps(gray, a, b, normal, reach, rgb))
    steps.sort(key=lambda item: item[0], reverse=True)
    out = []
    for _, i, offset, colour in steps[:MAX_VARIANTS]:
        lines = [(a + (offset if j == i else 0.0) * normal, d) for j, (a, _, d, normal) in enumerate(sides)]
        moved = intersect_lines(lines, quad)
        if np.all(np.isfinite(moved)):
            colour_side = (i, rgb, colour) if colour is not None and rgb is not None else None
            out.append(refine_full_resolution(gray, moved, 1.5, colour_side))
    return out


def _fill(contour: NDArray[np.int32], quad: NDArray[np.float64]) -> float:
    """How much of the quadrilateral the region fills (1 for an edge outline, which has no interior)."""
    return min(1.0, cv2.contourArea(contour) / max(cv2.contourArea(quad.astype(np.float32)), 1.0))


def _same(a: NDArray[np.float64], b: NDArray[np.float64], tolerance: float) -> bool:
    return bool(np.hypot(*(a - b).T).max() < tolerance)


def _within(quad: NDArray[np.float64], shape: tuple[int, int], margin: float = 0.05) -> bool:
    """Every corner inside the image, give or take ``margin`` of its size (corners may lie just outside a cropped photo)."""
    h, w = shape
    x, y = quad[:, 0], quad[:, 1]
    return bool(np.all(np.isfinite(quad)) and x.min() >= -margin * w and x.max() <= (1 + margin) * w
                and y.min() >= -margin * h and y.max() <= (1 + margin) * h)


def _add(found: list[tuple[ScreenCandidate, tuple[float, ...]]], candidate: ScreenCandidate, shifts: tuple[float, ...],
         tolerance: float) -> None:
    """Add a candidate (and how far its sides were snapped to a bezel) unless one with the same corners is there
    (the better score is kept)."""
    for i, (c, _) in enumerate(found):
        if _same(c.quad, candidate.quad, tolerance):
            if candidate.score > c.score:
                found[i] = (candidate, shifts)
            return
    found.append((candidate, shifts))


def screen_candidates(rgb: NDArray[np.uint8], *, limit: int = MAX_CANDIDATES, variants: bool = True) -> list[ScreenCandidate]:
    """Quadrilaterals that may be the screen, best first (at most ``limit``), from several cues.

    Parameters
    ----------
    rgb : ndarray (H, W, 3) uint8
        A photo.
    limit : int, keyword-only
        Candidates returned.
    variants : bool, keyword-only
        Also find each outline's ``side_variants`` (the geometry search
        tries them; the fast rejection, which only asks whether an outline
        is there, does not need them, and they are half of the cost).

    Returns
    -------
    list of ScreenCandidate
        Corners refined by robust line fits to the outline's sides, in
        input pixels. Empty when nothing four-sided and screen-sized is seen.

    Examples
    --------
    >>> import numpy as np
    >>> photo = np.full((600, 800, 3), 90, np.uint8)                    # a grey wall
    >>> photo[100:420, 150:650] = 20                                     # bezel
    >>> photo[115:405, 165:635] = 235                                    # the screen
    >>> best = screen_candidates(photo)[0]
    >>> edges = np.array([[164.5, 114.5], [634.5, 114.5], [634.5, 404.5], [164.5, 404.5]])  # pixel edges
    >>> bool(np.abs(best.quad - edges).max() < 0.2)
    True
    """
    gray8, small, factor = _work_image(rgb)
    if min(small.shape) < 16:
        return []
    smallf = cv2.GaussianBlur(small, (0, 0), 1.0).astype(np.float32)
    tolerance = SAME_CORNER_FRACTION * float(np.hypot(*small.shape))
    found: list[tuple[ScreenCandidate, tuple[float, ...]]] = []
    for cue, contour in [*_region_contours(small), *_edge_contours(small)]:
        quad, reach = _quad_of(contour, small.shape), 0.0
        if quad is None:
            body = _body(contour, small.shape)
            quad = None if body is None else _quad_of(body, small.shape)
            if quad is None:
                continue
            # The body's corners are rounded, so its quad lies a little inside the region's straight sides.
            reach = 0.5 * BODY_OPENING * np.sqrt(cv2.contourArea(cv2.convexHull(contour)))
        refined = _refine_corners(contour.reshape(-1, 2).astype(np.float64), quad, reach)
        if not _within(refined, small.shape):
            continue  # nearly parallel side fits met far outside the photo: not a screen
        if reach > 0 and _on_frame(refined, small.shape):
            continue  # the body's rounded corners kept clear of the frame that the region runs off
        fill = 1.0 if cue == "edges" else _fill(contour, refined)
        if fill < MIN_FILL[cue]:
            continue
        # The outline as found, and moved out to a dark bezel's inner edge:
        # right for a screen whose dark title bar a region stopped at, wrong
        # for a light bezel in a dark room (the "bezel" would be the wall).
        # Both are proposed; the mark decides.
        for variant, shifts in ((refined, (0.0,) * 4), _snap_to_bezel(smallf, refined)):
            score = _border_contrast(smallf, variant) * fill
            _add(found, ScreenCandidate((variant + 0.5) * factor - 0.5, cue, score), shifts, tolerance * factor)
    found.sort(key=lambda item: item[0].score, reverse=True)
    near = NEAR_CORNER_FRACTION * float(np.hypot(*small.shape)) * factor
    kept: list[tuple[ScreenCandidate, tuple[float, ...]]] = []
    for c, shifts in found:
        if sum(_same(k.quad, c.quad, near) for k, _ in kept) < NEAR_KEPT:
            kept.append((c, shifts))
    gray = gray8.astype(np.float32) if factor > 1 else smallf
    radius = 1.5 * factor + 1.5
    out: list[ScreenCandidate] = []
    for c, shifts in kept[:limit]:
        # A side snapped out to a bezel is re-fitted within half its move first: the strongest step near it
        # may be the one it moved from (a title bar a few pixels tall on a small screen). With no edge there
        # (the snap only went out to the foot of the side's own blurred edge) it is re-fitted as any side.
        radii = [radius if shift <= 0 else min(radius, 0.5 * shift * factor) for shift in shifts]
        quad = refine_full_resolution(gray, c.quad, radii, fallback=radius)
        if any(_same(o.quad, quad, tolerance * factor) for o in out):
            continue  # two work-scale outlines (as found, bezel-snapped) refined to one: its variants would repeat
        if variants:
            moved = side_variants(gray, quad, rgb)
            bezel = _bezel_variant(smallf, gray, quad, factor, radius)
            if bezel is not None and not any(_same(v, bezel, BEZEL_VARIANT_PX) for v in moved):
                moved.insert(0, bezel)
            c = ScreenCandidate(quad, c.cue, c.score, tuple(moved))
        else:
            c = ScreenCandidate(quad, c.cue, c.score)
        out.append(c)
    return out


BEZEL_VARIANT_PX = 0.75
"""A candidate's bezel-snapped outline is a side variant of its own when a corner moved this far (px)."""


def _bezel_variant(smallf: NDArray[np.float32], gray: NDArray[np.float32], quad: NDArray[np.float64], factor: int,
                   radius: float) -> NDArray[np.float64] | None:
    """The outline with its sides snapped out to a dark bezel (:func:`_snap_to_bezel`) and re-fitted, or None.

    Proposed as a candidate of its own too, but there two outlines closer
    than ``SAME_CORNER_FRACTION`` of the photo are one: a small screen's
    title bar is only a few pixels tall, and the snap past it would merge
    back into the outline it started from.
    """
    snapped, shifts = _snap_to_bezel(smallf, (quad + 0.5) / factor - 0.5)
    if max(shifts) <= 0:
        return None
    radii = [radius if shift <= 0 else min(radius, 0.5 * shift * factor) for shift in shifts]
    moved = refine_full_resolution(gray, (snapped + 0.5) * factor - 0.5, radii, fallback=radius)
    return None if _same(moved, quad, BEZEL_VARIANT_PX) or not np.all(np.isfinite(moved)) else moved

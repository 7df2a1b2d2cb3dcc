"""Synchronisation: find the screen, remove the perspective, measure the scale.

Coarse: the screen quadrilateral (a bright convex region bounded by the dark
bezel, or for a dark screen in a lighter room its dark outline) from
contours, refined by straight-line fits to its sides; when the
border is cut off, the two vanishing points of the content's own straight
lines. Fine: the tiled mark puts its power on a comb of spatial frequencies
spaced 1/TILE apart; matching that comb to the spectrum of the rectified
image gives the scale per axis. The square tile cannot tell quarter turns or
a mirror apart: the decoder tries all eight.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np
import scipy.fft
import scipy.ndimage
from numpy.typing import NDArray

from watermark.decoding import N_SLOTS, TILE, coefficients_to_tile, suppress_content

__all__ = ["comb_search", "find_screen_quad", "rectify_from_lines"]


DARK_OPENING_FRACTION = 0.25
"""Opening size for a dark region, as a fraction of its width: wider than a monitor stand's neck."""

MIN_WORKING_SIDE = 16
"""The screen finder and the line rectifier work on a downsampled grey image; under this many pixels a side
(a sliver, e.g. 20000x8 shrunk 20x) its 9 px closing, 2 px blur and line detector see no outline: nothing is found."""


def _gray_working_image(rgb: NDArray[np.uint8], width: int, height: int) -> NDArray[np.uint8] | None:
    """The grey input resampled to ``width`` x ``height``, or None when that is under ``MIN_WORKING_SIDE`` a side."""
    if min(width, height) < MIN_WORKING_SIDE:
        return None
    return cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (width, height), interpolation=cv2.INTER_AREA)


def find_screen_quad(
    rgb: NDArray[np.uint8], *, min_area_fraction: float = 0.02, dark: bool = False
) -> NDArray[np.float64] | None:
    """Corners (TL, TR, BR, BL; (x, y) input pixels) of a screen in a photo, or None.

    The screen is the largest bright, convex, four-sided region that does
    not fill the whole frame (a screenshot has no bezel). Corners come from
    intersecting straight lines fitted to each side's contour points.

    With ``dark=True`` it is the largest *dark* one instead: a dark-theme
    screen in a lighter room, found with its bezel (the bezel's outer edge
    is coplanar with the screen and parallel to its sides, so it rectifies
    the screen up to the per-axis scale and offset the decoder measures
    anyway). The monitor's stand, dark too, is cut off by an opening wider
    than a stand is.
    """
    h, w = rgb.shape[:2]
    factor = max(1, int(np.ceil(max(h, w) / 1000)))
    gray = _gray_working_image(rgb, w // factor, h // factor)
    if gray is None:
        return None
    small = cv2.GaussianBlur(gray, (0, 0), 2.0)
    polarity = cv2.THRESH_BINARY_INV if dark else cv2.THRESH_BINARY
    _, binary = cv2.threshold(small, 0, 255, polarity + cv2.THRESH_OTSU)
    binary = cv2.morphologyEx(binary, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
    area_total = small.shape[0] * small.shape[1]
    contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    contours = sorted(contours, key=cv2.contourArea, reverse=True)[:3]
    # (outline to test for four sides, boundary to fit the sides to)
    candidates = [(c, c) for c in contours]
    if dark:
        # Each dark region is opened with a horizontal bar a quarter of its
        # width: the stand's neck (narrower) drops off, while every row of
        # the screen that glare does not cut survives, so the hull below
        # still spans the screen even where glare bites into it from an
        # edge. The sides are fitted to the unopened boundary; the stand's
        # points and glare's lie far from every side and drop out of the fit.
        candidates = []
        for region in contours:
            mask = cv2.drawContours(np.zeros_like(binary), [region], -1, 255, thickness=cv2.FILLED)
            side = max(3, int(DARK_OPENING_FRACTION * cv2.boundingRect(region)[2]))
            opened = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (side, 1)))
            parts, _ = cv2.findContours(opened, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
            if parts:
                candidates.append((max(parts, key=cv2.contourArea), region))
    best = None
    for outline, boundary in candidates:
        area = cv2.contourArea(outline)
        if area < min_area_fraction * area_total or area > 0.97 * area_total:
            continue
        hull = cv2.convexHull(outline)
        approx = cv2.approxPolyDP(hull, 0.02 * cv2.arcLength(hull, True), True)
        if len(approx) != 4 or not cv2.isContourConvex(approx):
            continue
        if area < (0.6 if dark else 0.85) * cv2.contourArea(approx):
            continue  # not a filled quadrilateral (a dark one may have glare bitten out of it)
        corners = _order_corners(approx.reshape(4, 2).astype(np.float64))
        touching = (corners[:, 0] <= 2) | (corners[:, 0] >= small.shape[1] - 3) | (corners[:, 1] <= 2) | (corners[:, 1] >= small.shape[0] - 3)
        if touching.sum() >= 3:
            continue  # the frame itself (a screenshot), or a floor or wall running off it
        best = (boundary, corners)
        break
    if best is None:
        return None
    contour, quad = best
    refined = _refine_corners(contour.reshape(-1, 2).astype(np.float64), quad)
    return (refined + 0.5) * factor - 0.5


def _order_corners(pts: NDArray[np.float64]) -> NDArray[np.float64]:
    center = pts.mean(axis=0)
    angles = np.arctan2(pts[:, 1] - center[1], pts[:, 0] - center[0])
    ordered = pts[np.argsort(angles)]  # from -pi: TL, TR, BR, BL for image coordinates
    start = int(np.argmin(ordered.sum(axis=1)))
    return np.roll(ordered, -start, axis=0)


def _refine_corners(points: NDArray[np.float64], quad: NDArray[np.float64], reach: float = 0.0) -> NDArray[np.float64]:
    """Intersect lines fitted (total least squares) to the contour points along each side.

    A side's points are those within ``max(3, 0.02 * length, reach)`` px of it.
    """
    lines = []
    for i in range(4):
        a, b = quad[i], quad[(i + 1) % 4]
        d = b - a
        length = np.hypot(*d)
        n = np.array([-d[1], d[0]]) / length
        t = (points - a) @ (d / length)
        dist = np.abs((points - a) @ n)
        sel = (t > 0.1 * length) & (t < 0.9 * length) & (dist < max(3.0, 0.02 * length, reach))
        if sel.sum() < 10:
            return quad
        seg = points[sel]
        # Robust total-least-squares line: refit on the points within 1.5 px
        # of the previous fit, so a stretch where the contour leaves the
        # straight edge (glare, a dark title bar) does not tilt it.
        keep = np.ones(len(seg), dtype=bool)
        for _ in range(4):
            mean = seg[keep].mean(axis=0)
            _, _, vt = np.linalg.svd(seg[keep] - mean, full_matrices=False)
            direction = vt[0]
            normal = np.array([-direction[1], direction[0]])
            resid = np.abs((seg - mean) @ normal)
            new_keep = resid < max(1.5, float(np.median(resid)))
            if new_keep.sum() < 10 or np.array_equal(new_keep, keep):
                break
            keep = new_keep
        lines.append((mean, direction))
    return intersect_lines(lines, quad)


def intersect_lines(lines: list[tuple[NDArray[np.float64], NDArray[np.float64]]], fallback: NDArray[np.float64]) -> NDArray[np.float64]:
    """Corners where consecutive (point, direction) side lines meet; ``fallback`` when two are parallel."""
    out = np.empty((4, 2))
    for i in range(4):
        (p, u), (q, v) = lines[i - 1], lines[i]
        m = np.array([u, -v]).T
        if abs(np.linalg.det(m)) < 1e-6:
            return fallback
        out[i] = p + np.linalg.solve(m, q - p)[0] * u
    return out


@functools.lru_cache(maxsize=1)
def _carrier_comb() -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Harmonics (kx, ky, weight) of the tiled carrier's expected power spectrum.

    The tiled pattern is periodic, so its spectrum is a comb at integer
    multiples of 1/TILE; which harmonics carry power, and how much, depends
    only on the slot set (the DWT-DCT band), not on the key or payload.
    Estimated by averaging over random sign patterns; half-plane only.
    """
    rng = np.random.default_rng(0)  # the envelope is key-independent; the seed only sets the averaging
    acc = np.zeros((TILE, TILE))
    for _ in range(48):
        tile = coefficients_to_tile(rng.choice([-1.0, 1.0], N_SLOTS))
        acc += np.abs(np.fft.fft2(tile)) ** 2
    power = np.fft.fftshift(acc)
    ky, kx = np.mgrid[-TILE // 2 : TILE // 2, -TILE // 2 : TILE // 2]
    half = (kx > 0) | ((kx == 0) & (ky > 0))
    keep = half & (power > 0.04 * power.max())
    weight = power[keep] / power[keep].sum()
    return kx[keep].astype(np.float64), ky[keep].astype(np.float64), weight


def _whitened_spectrum(img: NDArray[np.float32]) -> tuple[NDArray[np.float32], int]:
    """Power spectrum of the content-suppressed image over its local log-mean, centred rows, half plane.

    The input is real, so its power spectrum is point-symmetric and the
    comb's harmonics are read on the half plane kx >= 0 (``_carrier_comb``).
    Returns that half with ``WHITEN_MARGIN`` columns of negative kx before
    it (mirrored through the origin, so the local level near kx = 0 is
    the full plane's), and the centred column index of its first column:
    column ``c`` of the full centred spectrum is column ``c - offset``.
    """
    residual, weight = suppress_content(img, background_sigma=3.0)
    h, w = img.shape
    window = np.outer(np.hanning(h), np.hanning(w)).astype(np.float32)
    x = residual * np.sqrt(weight / max(float(weight.mean()), 1e-12)) * window
    spectrum = scipy.fft.rfft2(x, workers=1)
    half = (spectrum.real * spectrum.real + spectrum.imag * spectrum.imag).astype(np.float32)  # (h, w//2 + 1), kx = 0..
    margin = min(WHITEN_MARGIN, half.shape[1] - 1)
    negative = np.roll(half[::-1, margin:0:-1], 1, axis=0)  # P(ky, -kx) = P(-ky, kx), kx = margin..1
    power = np.fft.fftshift(np.concatenate([negative, half[:, : w - w // 2]], axis=1), axes=0)
    log_power = np.log(power + 1e-12 * float(power.mean()) + 1e-30)
    background = np.exp(cv2.GaussianBlur(log_power, (0, 0), WHITEN_SIGMA))
    # exp(mean log) of an exponential variable is e^-gamma of its mean
    return np.minimum(power / (background / 0.5615), COMB_CLIP), w // 2 - margin


WHITEN_SIGMA = 6.0
"""Gaussian width (bins) of the local spectral level the comb is measured over."""
WHITEN_MARGIN = 25
"""Columns of negative kx kept beside the half plane: the level's blur (OpenCV's kernel radius at ``WHITEN_SIGMA`` is
24) then sees near kx = 0 what it sees on the full plane."""


COMB_CLIP = 6.0
"""Cap on a whitened spectral bin in the comb score. The mark is invisible by
design, so its comb lines stand only a few times above the local spectrum; a
far stronger line is something else - above all the moire of the display's
own pixel grid, itself a lattice that a comb at another scale can match."""
SCORE_BLOCK = 64
"""Scale points whose comb samples are gathered at once (a block's arrays stay in cache)."""
MIN_COMB_TILES = 2.0
"""Fewest tiles (by area) the analysed window must hold at a candidate scale."""


def _bilinear(image: NDArray[np.floating], y: NDArray[np.float64], x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Bilinear samples of ``image`` at (y, x), coordinates clipped into it (the caller masks what falls outside).

    The comb samples a few hundred scales times its 784 harmonics per
    pyramid level: flat gathers are faster than
    ``scipy.ndimage.map_coordinates`` (order 1), and equal to it inside the
    image.
    """
    h, w = image.shape
    y = np.clip(y, 0.0, h - 1.0)
    x = np.clip(x, 0.0, w - 1.0)
    y0 = np.minimum(y.astype(np.intp), h - 2)  # coordinates are >= 0: truncation is floor
    x0 = np.minimum(x.astype(np.intp), w - 2)
    fy, fx = y - y0, x - x0
    flat = np.ravel(image)
    i00 = y0 * w + x0
    top = flat.take(i00) * (1.0 - fx) + flat.take(i00 + 1) * fx
    bottom = flat.take(i00 + w) * (1.0 - fx) + flat.take(i00 + w + 1) * fx
    return top * (1.0 - fy) + bottom * fy


def comb_search(
    luma: NDArray[np.float32],
    *,
    scale_range: tuple[float, float] = (0.28, 3.2),
    aspect_range: tuple[float, float] = (1.0, 1.0),
    max_side: int = 1024,
    count: int = 4,
) -> list[tuple[float, float, float]]:
    """Scale candidates (sx, sy, score) from the carrier's spectral comb, best first.

    Notes
    -----
    A tiled mark at sx, sy input pixels per screen pixel puts spectral lines
    at (kx / (TILE sx), ky / (TILE sy)) for the carrier harmonics k (see
    ``_carrier_comb``). The power spectrum of the content-suppressed input,
    divided by its local level (so broadband content and a few strong moire
    lines weigh little), is sampled there; the weighted mean excess over
    noise, in noise standard deviations, scores each (sx, sy). Pyramid
    levels keep the harmonics inside the measured band. The search is
    coarse-to-fine in log scale and aspect.
    """
    kx, ky, wk = _carrier_comb()
    norm = float(np.sqrt((wk * wk).sum()))
    results: list[tuple[float, float, float]] = []
    lo, hi = scale_range
    for factor in (1, 2, 4, 8):
        s_lo, s_hi = max(lo / factor, 0.3), min(hi / factor, 1.2)
        if s_lo > s_hi or (factor > 1 and hi / factor < 0.3):
            continue
        if min(luma.shape) // factor < 1.5 * TILE * s_lo:
            continue
        img = luma if factor == 1 else cv2.resize(luma, (luma.shape[1] // factor, luma.shape[0] // factor), interpolation=cv2.INTER_AREA)
        h, w = img.shape
        # A comb needs a few periods: at a scale where the analysed window
        # holds fewer than MIN_COMB_TILES tiles, its "lines" are a handful
        # of bins near DC that any content fills.
        s_hi = min(s_hi, float(np.sqrt(min(h, max_side) * min(w, max_side) / MIN_COMB_TILES)) / TILE)
        if s_lo > s_hi:
            continue
        n_y, n_x = min(h, max_side), min(w, max_side)
        y0, x0 = (h - n_y) // 2, (w - n_x) // 2
        spectrum, offset = _whitened_spectrum(np.ascontiguousarray(img[y0 : y0 + n_y, x0 : x0 + n_x]))

        def score(sx: NDArray[np.float64], sy: NDArray[np.float64]) -> NDArray[np.float64]:
            out = np.empty(len(sx))
            # In blocks of scale points: a whole grid's gathers (thousands of points x 784 harmonics, several
            # temporaries of tens of MB) run from main memory about 20 times slower than blocks that stay in cache.
            for i in range(0, len(sx), SCORE_BLOCK):
                bx, by = sx[i : i + SCORE_BLOCK, None], sy[i : i + SCORE_BLOCK, None]
                fx = kx[None, :] / (TILE * bx) * n_x + n_x // 2
                fy = ky[None, :] / (TILE * by) * n_y + n_y // 2
                inside = (fx >= 0) & (fx <= n_x - 1) & (fy >= 0) & (fy <= n_y - 1)
                vals = np.where(inside, _bilinear(spectrum, fy, fx - offset), 1.0)
                out[i : i + SCORE_BLOCK] = ((vals - 1.0) * wk[None, :]).sum(axis=1) / norm
            return out

        a_lo, a_hi = aspect_range
        scales = np.exp(np.arange(np.log(s_lo), np.log(s_hi) + 1e-9, 0.008))
        aspects = np.exp(np.arange(np.log(a_lo), np.log(a_hi) + 1e-9, 0.02)) if a_hi > a_lo else np.array([1.0])
        ss, aa = np.meshgrid(scales, aspects, indexing="ij")
        grid = score((ss * np.sqrt(aa)).ravel(), (ss / np.sqrt(aa)).ravel()).reshape(ss.shape)
        peaks = grid >= scipy.ndimage.maximum_filter(grid, size=5, mode="nearest")
        order = np.argsort(np.where(peaks, grid, -np.inf).ravel())[::-1][:count]
        for idx in order:
            i, j = np.unravel_index(int(idx), grid.shape)
            s0, a0 = ss[i, j], aa[i, j]
            # Refine: 0.1 % steps in scale, 0.4 % in aspect, around the coarse peak.
            fs = s0 * np.exp(np.arange(-0.008, 0.0081, 0.001))
            fa = a0 * np.exp(np.arange(-0.02, 0.0201, 0.004)) if a_hi > a_lo else np.array([a0])
            fss, faa = np.meshgrid(fs, fa, indexing="ij")
            fine = score((fss * np.sqrt(faa)).ravel(), (fss / np.sqrt(faa)).ravel())
            k = int(np.argmax(fine))
            sx, sy = fss.ravel()[k] * np.sqrt(faa.ravel()[k]), fss.ravel()[k] / np.sqrt(faa.ravel()[k])
            results.append((float(sx * factor), float(sy * factor), float(fine[k])))
    results.sort(key=lambda r: r[2], reverse=True)
    unique: list[tuple[float, float, float]] = []
    for r in results:
        if all(abs(np.log(r[0] / u[0])) > 0.01 or abs(np.log(r[1] / u[1])) > 0.01 for u in unique):
            unique.append(r)
    return unique[:count]


def _vanishing_point(segments: NDArray[np.float64], weights: NDArray[np.float64], rng: np.random.Generator) -> NDArray[np.float64] | None:
    """Homogeneous vanishing point of a family of segments (RANSAC, then weighted least squares).

    ``segments`` are (x1, y1, x2, y2) in coordinates normalized to about
    [-1, 1]; a point at infinity (parallel lines) comes out with w ~ 0.
    """
    p1 = np.column_stack([segments[:, 0:2], np.ones(len(segments))])
    p2 = np.column_stack([segments[:, 2:4], np.ones(len(segments))])
    lines = np.cross(p1, p2)
    lines /= np.linalg.norm(lines[:, :2], axis=1, keepdims=True) + 1e-12
    mid = (segments[:, 0:2] + segments[:, 2:4]) / 2
    direction = segments[:, 2:4] - segments[:, 0:2]
    direction /= np.linalg.norm(direction, axis=1, keepdims=True) + 1e-12

    def angular_error(vp: NDArray[np.float64]) -> NDArray[np.float64]:
        if abs(vp[2]) < 1e-9:
            to_vp = np.broadcast_to(vp[:2] / (np.linalg.norm(vp[:2]) + 1e-12), mid.shape)
        else:
            to_vp = vp[:2] / vp[2] - mid
            to_vp = to_vp / (np.linalg.norm(to_vp, axis=1, keepdims=True) + 1e-12)
        return np.abs(direction[:, 0] * to_vp[:, 1] - direction[:, 1] * to_vp[:, 0])  # |sin|

    best, best_support = None, -1.0
    prob = weights / weights.sum()
    for _ in range(200):
        i, j = rng.choice(len(segments), 2, replace=False, p=prob)
        vp = np.cross(lines[i], lines[j])
        if not np.all(np.isfinite(vp)) or np.linalg.norm(vp) < 1e-12:
            continue
        vp = vp / np.linalg.norm(vp)
        support = float(weights[angular_error(vp) < 0.01].sum())
        if support > best_support:
            best, best_support = vp, support
    if best is None:
        return None
    inliers = angular_error(best) < 0.01
    if inliers.sum() < 6:
        return None
    a = lines[inliers] * np.sqrt(weights[inliers])[:, None]
    _, _, vt = np.linalg.svd(a)
    return vt[-1] / np.linalg.norm(vt[-1])


def rectify_from_lines(rgb: NDArray[np.uint8], *, min_segments: int = 5) -> NDArray[np.float64] | None:
    """A homography (input -> rectified, about unit scale at the centre) from the content's straight lines.

    Screens are full of horizontal and vertical rules, panel borders and
    text baselines; in a photo taken off-axis they converge to two
    vanishing points. Mapping those to infinity removes the perspective up
    to a scale per axis, which the comb search then measures. For photos
    whose screen border is cut off. Returns None when two families of lines
    are not found.
    """
    h, w = rgb.shape[:2]
    factor = max(1.0, max(h, w) / 1200.0)
    small = _gray_working_image(rgb, int(w / factor), int(h / factor))
    if small is None:
        return None
    detected = cv2.createLineSegmentDetector().detect(small)[0]
    if detected is None:
        return None
    seg = detected.reshape(-1, 4).astype(np.float64)
    length = np.hypot(seg[:, 2] - seg[:, 0], seg[:, 3] - seg[:, 1])
    keep = length > 0.015 * max(small.shape)
    seg, length = seg[keep], length[keep]
    if len(seg) < 2 * min_segments:
        return None
    angle = np.mod(np.arctan2(seg[:, 3] - seg[:, 1], seg[:, 2] - seg[:, 0]), np.pi)
    hist, _ = np.histogram(angle, bins=180, range=(0, np.pi), weights=length)
    hist = np.convolve(np.concatenate([hist[-5:], hist, hist[:5]]), np.ones(5) / 5, mode="same")[5:-5]
    first = int(np.argmax(hist))
    theta1 = (first + 0.5) * np.pi / 180
    away = np.abs(np.angle(np.exp(2j * (np.arange(180) * np.pi / 180 - theta1)))) / 2  # distance in angle mod pi
    hist2 = np.where(away > np.deg2rad(50), hist, 0.0)
    theta2 = (int(np.argmax(hist2)) + 0.5) * np.pi / 180
    scale = max(small.shape) / 2.0
    center = np.array([small.shape[1] / 2.0, small.shape[0] / 2.0])
    norm_seg = (seg.reshape(-1, 2, 2) - center).reshape(-1, 4) / scale
    rng = np.random.default_rng(0)  # RANSAC sampling; deterministic results
    vps = []
    for theta in (theta1, theta2):
        close = np.abs(np.angle(np.exp(2j * (angle - theta)))) / 2 < np.deg2rad(12)
        if close.sum() < min_segments:
            return None
        vp = _vanishing_point(norm_seg[close], length[close], rng)
        if vp is None:
            return None
        vps.append(vp)
    # Order so that the first family is the more horizontal one.
    if abs(np.cos(theta1)) < abs(np.cos(theta2)):
        vps.reverse()
    # H_inv maps rectified (x, y, 1) to normalized image points: x along the
    # first family, y along the second, origin at the image centre.
    h_inv = np.column_stack([vps[0], vps[1], [0.0, 0.0, 1.0]])
    if abs(np.linalg.det(h_inv)) < 1e-9:
        return None
    # Unit scale at the origin: the Jacobian's columns there are vp[:2] - 0 * vp[2]
    # (origin has w = 1), so normalize each column's image direction to length 1.
    for k in (0, 1):
        h_inv[:, k] /= np.linalg.norm(h_inv[:2, k]) + 1e-12
    # Keep axes pointing right and down (any remaining flip is a dihedral hypothesis).
    if h_inv[0, 0] < 0:
        h_inv[:, 0] *= -1
    if h_inv[1, 1] < 0:
        h_inv[:, 1] *= -1
    to_norm = np.array([[1 / (scale * factor), 0, -center[0] / scale], [0, 1 / (scale * factor), -center[1] / scale], [0, 0, 1]])
    # input pixel -> normalized image -> rectified (normalized units) -> rectified pixels (input scale)
    hom = np.diag([scale * factor, scale * factor, 1.0]) @ np.linalg.inv(h_inv) @ to_norm
    return hom / hom[2, 2]

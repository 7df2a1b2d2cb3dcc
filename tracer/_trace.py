"""The leak-tracing pipeline: load, hypothesise geometry, fold, decode, attribute."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np
from numpy.typing import NDArray

import cv2

import watermark
from watermark import ExtractResult, Key, Payload
from watermark._extract import decode_at, fold_tiles, phase_candidates, suppress_content
from watermark._image import luma
from watermark._pattern import TILE
from watermark._payload import MAC_BITS

from ._load import DEFAULT_MAX_PIXELS, LoadedImage, load_image
from ._sync import comb_search, find_screen_quad, rectify_from_lines

__all__ = ["trace", "TraceResult", "Hypothesis"]


@dataclass(frozen=True)
class Hypothesis:
    """One geometry tried: how the input was mapped back to screen pixels."""

    name: str
    scale: float
    rotation: int  # quarter turns applied to the input before decoding
    mirrored: bool
    detection_score: float
    found: bool
    mac_checks: int


@dataclass(frozen=True)
class TraceResult:
    """Outcome of tracing one image.

    Attributes
    ----------
    found : bool
        True only when a payload passed the keyed integrity check.
    payload : Payload or None
    key_fingerprint : str or None
        Fingerprint of the key whose mark was found.
    false_attribution_probability : float
        Upper bound on the probability that a payload would be reported for
        an image carrying no mark of the given keys, counting every
        hypothesis and every codeword checked: checks * 2**-40.
    detection_score : float
        Best tile-phase energy peak (robust z-score) over hypotheses: a
        diagnostic of how close decoding came, not evidence (another key's
        mark raises it too); see ``ExtractResult.detection_score``.
    quad : ndarray (4, 2) or None
        Screen corners in input pixel coordinates (x, y), TL, TR, BR, BL.
    hypotheses : list of Hypothesis
    timings : dict
    source, sha256 : str
    bit_snr : ndarray or None
        Per channel bit soft value (noise SDs) of the decode that was used.
    rectified : ndarray or None
        The screen as decoded, resampled to screen geometry (RGB uint8), for a preview.
    parameters : dict
        Software version and every decode parameter, for the report.
    """

    found: bool
    payload: Payload | None
    key_fingerprint: str | None
    false_attribution_probability: float
    detection_score: float
    quad: NDArray[np.float64] | None
    hypotheses: list[Hypothesis]
    timings: dict[str, float]
    source: str
    sha256: str | None
    image_size: tuple[int, int]
    bit_error_rate: float | None = None
    bit_snr: NDArray[np.float64] | None = field(default=None, repr=False)
    rectified: NDArray[np.uint8] | None = field(default=None, repr=False)
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def confidence(self) -> float:
        """1 minus the false-attribution bound when found, else 0."""
        return 1.0 - self.false_attribution_probability if self.found else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly summary (no image arrays)."""
        return {
            "source": self.source,
            "sha256": self.sha256,
            "image_size": list(self.image_size),
            "found": self.found,
            "payload": None if self.payload is None else self.payload.to_dict(),
            "key_fingerprint": self.key_fingerprint,
            "false_attribution_probability": self.false_attribution_probability,
            "detection_score": round(self.detection_score, 3),
            "bit_error_rate": self.bit_error_rate,
            "quad": None if self.quad is None else np.round(self.quad, 2).tolist(),
            "hypotheses": [vars(h) for h in self.hypotheses],
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "parameters": self.parameters,
        }


def _keys(key_or_keys: Key | Iterable[Key]) -> list[Key]:
    keys = [key_or_keys] if isinstance(key_or_keys, Key) else list(key_or_keys)
    if not keys or not all(isinstance(k, Key) for k in keys):
        raise TypeError("key_or_keys must be a watermark.Key or a non-empty sequence of them")
    return keys


MIN_DECODE_SCORE = 3.5
"""Phase peaks weaker than this (robust z) are not worth a decode: the field's own maxima reach about 4."""
MAX_DECODES = 24
"""Decode attempts per image, over all geometries, orientations, phases and keys."""
DECODES_PER_GEOMETRY = 3
"""Decode attempts per geometry: a right geometry puts the true phase at the top."""
REFINE_BELOW = 15.0
"""A measured geometry whose best phase peak is weaker than this gets a per-axis scale search."""
REFINE_ABOVE = 4.5
"""Below this the geometry is most likely wrong (the field's own maxima reach about 4): no refinement."""
REFINE_STEPS = (0.01, 0.005, 0.0025)
REFINE_ROUNDS = 4
FEW_TILES = 24
FEW_TILES_COMB_CANDIDATES = 6
"""An input holding at most FEW_TILES tiles at the comb's best scale has this many candidates ranked by phase peak."""
AXIS_SCAN_TILES = 0.2
"""Per-axis scale scan half-width before refinement: this many tiles over the axis's extent (the comb's resolution)."""
AXIS_SCAN_EDGE_PX = 6.0
"""Scan step: the scale change that moves the far edge by this many screen pixels (the phase peak is about +-8 px wide at the edge)."""
MIN_SCREEN_PX, MAX_SCREEN_PX = 800, 6144
"""Plausible widths, in device pixels, of a photographed screen (a 5K display is 5120)."""
QUAD_COMB_CANDIDATES = 4
RECTIFIED_SIDE = 1600
"""Rectified images for the comb search are at most this large."""
MAX_SCREEN_SIDE = 2560
"""Resampled screens are cropped (centred) to this side: 100 tiles are plenty to fold."""
AS_IS_MAX_PIXELS = 6_000_000
AS_IS_SIDE = 2048
SATURATED_LEVEL = 250.0
"""In photos, luma at or above this is glare or clipped highlights: no mark survives there."""

_DIHEDRAL = [(k, False) for k in range(4)] + [(k, True) for k in range(4)]


@dataclass
class _Geometry:
    name: str
    to_screen: NDArray[np.float64] | None  # 3x3 input -> screen pixels; None: the input as it is
    scale: float
    quad: NDArray[np.float64] | None
    photo: bool
    region: NDArray[np.float64] | None = None  # input area to resample (default: quad, else all)


def _orient(tile: NDArray[np.float64], quarter_turns: int, mirrored: bool) -> NDArray[np.float64]:
    """Undo a quarter-turn / mirror of the input, applied to a folded tile."""
    t = np.fliplr(tile) if mirrored else tile
    return np.ascontiguousarray(np.rot90(t, quarter_turns))


def _screen_luma(
    y: NDArray[np.float32], geometry: _Geometry
) -> tuple[NDArray[np.float32], NDArray[np.bool_] | None, NDArray[np.float64] | None]:
    """Resample the input luma to screen geometry; returns (luma, valid, input->output homography)."""
    valid = (y < SATURATED_LEVEL) if geometry.photo else None
    if geometry.to_screen is None:
        return y, valid, None
    h_in, w_in = y.shape
    hom = geometry.to_screen
    region = geometry.region if geometry.region is not None else geometry.quad
    if region is None:
        region = np.array([[0, 0], [w_in, 0], [w_in, h_in], [0, h_in]], np.float64)
    # Work on the region's bounding box only, integrated down to about screen
    # resolution first when the input is larger (a direct warp would alias
    # the carrier).
    x0, y0 = np.maximum(np.floor(region.min(axis=0)).astype(int) - 2, 0)
    x1, y1 = np.minimum(np.ceil(region.max(axis=0)).astype(int) + 2, [w_in, h_in])
    src = y[y0:y1, x0:x1]
    src_valid = np.ones(src.shape, np.uint8) if valid is None else valid[y0:y1, x0:x1].astype(np.uint8)
    crop = np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]], dtype=np.float64)
    hom = hom @ crop
    if geometry.scale > 1.25:
        factor = geometry.scale / 1.1
        size = (max(1, int(round(src.shape[1] / factor))), max(1, int(round(src.shape[0] / factor))))
        fx, fy = src.shape[1] / size[0], src.shape[0] / size[1]
        src = cv2.resize(src, size, interpolation=cv2.INTER_AREA)
        src_valid = cv2.resize(src_valid, size, interpolation=cv2.INTER_NEAREST)
        hom = hom @ np.array([[fx, 0, (fx - 1) / 2], [0, fy, (fy - 1) / 2], [0, 0, 1]], dtype=np.float64)
    mapped = cv2.perspectiveTransform(region.reshape(-1, 1, 2), geometry.to_screen).reshape(-1, 2)
    lo = np.floor(mapped.min(axis=0))
    extent = np.ceil(mapped.max(axis=0) - lo)
    size = np.minimum(extent, MAX_SCREEN_SIDE).astype(int)
    lo += np.floor((extent - size) / 2)
    shift = np.array([[1, 0, -lo[0]], [0, 1, -lo[1]], [0, 0, 1]], dtype=np.float64)
    final = shift @ hom
    out = cv2.warpPerspective(src, final, (int(size[0]), int(size[1])), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    out_valid = cv2.warpPerspective(src_valid, final, (int(size[0]), int(size[1])), flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return out, out_valid.astype(bool), shift @ geometry.to_screen


def _comb_geometries(
    y: NDArray[np.float32],
    base: _Geometry,
    count: int,
    aspect_range: tuple[float, float],
    screen_width_px: float | None = None,
) -> list[_Geometry]:
    """Axis-aligned scale hypotheses from the carrier's spectral comb in ``y``.

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
    for i, (sx, sy, _) in enumerate(candidates):
        scale = np.diag([1.0 / sx, 1.0 / sy, 1.0])
        to_screen = scale if base.to_screen is None else scale @ base.to_screen
        factor = float(np.sqrt(sx * sy)) * (base.scale if base.to_screen is not None else 1.0)
        out.append(_Geometry(f"{base.name}+comb{i}", to_screen, factor, base.quad, base.photo))
    return out


def _near_similarity(hom: NDArray[np.float64]) -> bool:
    """True when a homography is (nearly) a rotation by a multiple of 90 degrees plus scale: nothing to rectify."""
    h = hom / hom[2, 2]
    if np.abs(h[2, :2]).max() > 1e-5:
        return False
    a = h[:2, :2] / np.sqrt(abs(np.linalg.det(h[:2, :2])))
    return bool(min(np.abs(a - np.eye(2)).max(), np.abs(a - np.rot90(np.eye(2))).max(), np.abs(a + np.eye(2)).max(), np.abs(a - np.array([[0, -1], [1, 0]])).max()) < 0.01)


def _rectify_quad(y: NDArray[np.float32], quad: NDArray[np.float64]) -> tuple[NDArray[np.float32], NDArray[np.float64], float]:
    """Warp the quadrilateral to an upright rectangle of about its own size (capped), for the comb search."""
    top, bottom = np.hypot(*(quad[1] - quad[0])), np.hypot(*(quad[2] - quad[3]))
    left, right = np.hypot(*(quad[3] - quad[0])), np.hypot(*(quad[2] - quad[1]))
    target = np.array([[0, 0], [max(top, bottom), 0], [max(top, bottom), max(left, right)], [0, max(left, right)]])
    hom = cv2.getPerspectiveTransform(quad.astype(np.float32), target.astype(np.float32)).astype(np.float64)
    return _rectify(y, hom, quad)


def _rectify(y: NDArray[np.float32], hom: NDArray[np.float64], region: NDArray[np.float64]) -> tuple[NDArray[np.float32], NDArray[np.float64], float]:
    """Warp ``region`` of ``y`` by ``hom`` into a rectangle of at most RECTIFIED_SIDE px.

    Returns the image, the full input -> rectified-pixel homography, and the
    shrink factor applied on top of ``hom``.
    """
    mapped = cv2.perspectiveTransform(region.reshape(-1, 1, 2), hom).reshape(-1, 2)
    lo, hi = mapped.min(axis=0), mapped.max(axis=0)
    extent = hi - lo
    shrink = min(1.0, RECTIFIED_SIDE / max(float(extent.max()), 1.0))
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
    crop = np.array([[1, 0, x0], [0, 1, y0], [0, 0, 1]], dtype=np.float64)
    rect = cv2.warpPerspective(src, total @ crop, (w, h), flags=cv2.INTER_LINEAR)
    return rect, total, shrink


def trace(image_or_path: Any, key_or_keys: Key | Sequence[Key], *, max_pixels: int = DEFAULT_MAX_PIXELS) -> TraceResult:
    """Recover viewer and time from a leaked image.

    Parameters
    ----------
    image_or_path : path, bytes, PIL image, ndarray or LoadedImage
        The leaked image: a screenshot (cropped, rescaled 0.3x-3x, rotated,
        mirrored, recompressed) or a phone photo of a screen.
    key_or_keys : Key or sequence of Key
        The hospital's key(s); with key rotation, give all that may apply.
    max_pixels : int, keyword-only
        Decompression-bomb guard for files.

    Returns
    -------
    TraceResult
        Never carries a payload that failed the keyed check.

    Notes
    -----
    Geometry hypotheses, in order, until one decodes: (1) when a screen
    quadrilateral is found (a photo with the bezel visible), its
    rectification, with the scale per axis from the carrier's spectral comb;
    (2) the input as it is (a screenshot at original scale, any crop);
    (3) a dark screen's outline, bezel included (a dark theme photographed
    in a lighter room), rectified like (1);
    (4) when the content's straight lines show perspective (a photo whose
    border is cut off), their vanishing points' rectification and the comb;
    (5) the whole input at the comb's isotropic scale (a rescaled
    screenshot; when it holds few tiles, more comb candidates, ranked by
    phase peak). Each
    geometry is resampled to screen pixels, content suppressed and folded; the folded tile is tried in the eight quarter-turn
    and mirror orientations; the strongest phase peaks over all of these are
    decoded first, at most ``MAX_DECODES`` in all. Every codeword checked
    against the 40-bit MAC counts toward ``false_attribution_probability``.
    """
    t0 = time.perf_counter()
    keys = _keys(key_or_keys)
    loaded = image_or_path if isinstance(image_or_path, LoadedImage) else load_image(image_or_path, max_pixels=max_pixels)
    rgb = loaded.rgb
    timings = {"load_s": time.perf_counter() - t0}
    y = luma(rgb)
    hypotheses: list[Hypothesis] = []
    total_checks = 0
    decodes = 0
    best_score = -np.inf
    found: tuple[ExtractResult, Key, _Geometry, NDArray[np.float64] | None] | None = None

    def rank(residual: NDArray[np.float32], weight: NDArray[np.float32], orientations: list[tuple[int, bool]]) -> tuple[list[tuple[Any, ...]], float]:
        """Fold, and rank phase peaks over keys and orientations."""
        folded, _ = fold_tiles(residual, weight)
        queue = []
        for key in keys:
            for turns, mirrored in orientations:
                tile = _orient(folded, turns, mirrored)
                for cand in phase_candidates(tile, key, 2):
                    queue.append((cand.score, key, turns, mirrored, tile, cand))
        queue.sort(key=lambda item: item[0], reverse=True)
        return queue, (queue[0][0] if queue else -np.inf)

    def evaluate(geometry: _Geometry, orientations: list[tuple[int, bool]] = _DIHEDRAL) -> tuple[Any, ...]:
        """Resample, suppress content, fold and rank: (queue, best score, input->output homography, (residual, weight))."""
        screen_y, valid, out_hom = _screen_luma(y, geometry)
        residual, weight = suppress_content(screen_y, valid=valid)
        queue, best = rank(residual, weight, orientations)
        return queue, best, out_hom, (residual, weight)

    def attempt(
        geometry: _Geometry, refine: bool = False, refine_weak: bool = False, evaluated: tuple[Any, ...] | None = None
    ) -> bool:
        """Evaluate (or take ``evaluated``), refine if asked and unclear, decode the best peaks; True on a keyed match.

        ``refine_weak`` refines even below REFINE_ABOVE (a geometry known to
        be about right, whose peak may still be at the noise floor).
        """
        nonlocal total_checks, decodes, best_score, found
        t = time.perf_counter()
        queue, best_here, out_hom, field = evaluate(geometry) if evaluated is None else evaluated
        if refine and (best_here >= REFINE_ABOVE or refine_weak) and best_here < REFINE_BELOW and geometry.to_screen is not None and queue:
            # A scale measured from the spectrum is good to a few tenths of a
            # percent and a quadrilateral's corners to a few pixels; over a
            # 2000 px screen either smears the fold. Refine, about the screen
            # centre, each axis's scale, the two perspective terms and the
            # two shears (a bezel's outline or a vanishing-point fit can be a
            # fraction of a degree off the screen's axes) on the phase-peak
            # strength. Trials warp the base geometry's content-suppressed
            # residual (the suppression, the costly part, is nearly
            # invariant to a 1 % warp); the winner is resampled from the
            # input and suppressed afresh for decoding. A weak first peak may
            # sit in a noise orientation, so the axis scan below also tries
            # the upright one (a photographed screen is usually upright once
            # EXIF orientation is applied), or all eight below REFINE_ABOVE.
            winner = [(queue[0][2], queue[0][3])]
            scan_orientations = list(dict.fromkeys([*winner, (0, False)])) if best_here >= REFINE_ABOVE else _DIHEDRAL
            orientation = list(winner)
            residual, weight = field
            size = (residual.shape[1], residual.shape[0])
            frame = out_hom @ np.linalg.inv(geometry.to_screen)  # screen -> base output pixels
            trial_best = best_here
            base = geometry
            corners = base.region if base.region is not None else base.quad
            if corners is None:
                corners = np.array([[0, 0], [y.shape[1], 0], [y.shape[1], y.shape[0]], [0, y.shape[0]]], np.float64)
            mapped = cv2.perspectiveTransform(corners.reshape(-1, 1, 2), base.to_screen).reshape(-1, 2)
            cx, cy = mapped.mean(axis=0)
            half = max(float(np.ptp(mapped[:, 0])), float(np.ptp(mapped[:, 1])), 1.0) / 2
            centre = np.array([[1, 0, -cx], [0, 1, -cy], [0, 0, 1]], dtype=np.float64)
            params = np.zeros(6)  # log scale x, y; perspective x, y; shear x, y (about the screen centre)

            def correction(v: NDArray[np.float64]) -> NDArray[np.float64]:
                m = np.array([[np.exp(v[0]), v[4], 0], [v[5], np.exp(v[1]), 0], [v[2], v[3], 1.0]])
                return np.linalg.inv(centre) @ m @ centre

            def variant(v: NDArray[np.float64]) -> _Geometry:
                return _Geometry(
                    f"{base.name}~refined",
                    correction(v) @ base.to_screen,
                    base.scale / np.exp(0.5 * (v[0] + v[1])),
                    base.quad,
                    base.photo,
                    base.region,
                )

            def trial_score(v: NDArray[np.float64]) -> float:
                warp = frame @ correction(v) @ np.linalg.inv(frame)
                res_t = cv2.warpPerspective(residual, warp, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
                w_t = cv2.warpPerspective(weight, warp, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
                q, b = rank(res_t, w_t, orientation)
                if q and b > trial_best:
                    winner[:] = [(q[0][2], q[0][3])]
                return b

            def climb() -> None:
                """Hill-climb, coarse to fine: scale and shear steps of 1 %, 0.5 %,
                0.25 %; perspective steps that change the scale at the edge by
                twice as much; first improvement wins."""
                nonlocal trial_best, geometry, params
                for step in REFINE_STEPS:
                    steps = np.array([step, step, 2 * step / half, 2 * step / half, step, step])
                    for _ in range(REFINE_ROUNDS):
                        moved = False
                        for axis in range(len(params)):
                            for sign in (1.0, -1.0):
                                v = params.copy()
                                v[axis] += sign * steps[axis]
                                b = trial_score(v)
                                if b > trial_best:
                                    trial_best, geometry, params = b, variant(v), v
                                    moved = True
                                    break
                        if not moved or trial_best >= REFINE_BELOW:
                            break
                    if trial_best >= REFINE_BELOW:
                        return  # as clear as a geometry that needs no refinement

            if best_here >= REFINE_ABOVE:
                climb()
            if trial_best < REFINE_BELOW:
                # Still unclear. The comb resolves an axis's scale only to
                # about a fifth of a tile over the axis's extent (its lines
                # are a few FFT bins apart on a screen a few tiles across),
                # while the phase peak is about a percent wide: the climb may
                # have started outside it. Scan each axis over the comb's
                # uncertainty, then climb again from the best point.
                orientation = scan_orientations
                for axis in (0, 1):
                    extent = min(max(float(np.ptp(mapped[:, axis])), 1.0), float(MAX_SCREEN_SIDE))
                    step, span = AXIS_SCAN_EDGE_PX / extent, AXIS_SCAN_TILES * TILE / extent
                    best_v, centre_v = params, params[axis]
                    for d in np.arange(step, span + 1e-9, step):
                        for signed in (d, -d):
                            v = params.copy()
                            v[axis] = centre_v + signed
                            b = trial_score(v)
                            if b > trial_best:
                                trial_best, best_v = b, v
                    if best_v is not params:
                        params = best_v
                        geometry = variant(params)
                orientation = list(winner)
                if REFINE_ABOVE <= trial_best < REFINE_BELOW:
                    climb()
            if params.any():
                queue, best_here, out_hom, _ = evaluate(geometry)
        best_score = max(best_score, best_here)
        hit = False
        checks_here = 0
        for score, key, turns, mirrored, tile, cand in queue[:DECODES_PER_GEOMETRY]:
            if score < MIN_DECODE_SCORE or decodes >= MAX_DECODES:
                break
            result, checks = decode_at(tile, key, cand)
            decodes += 1
            checks_here += checks
            if result.found:
                found = (result, key, geometry, out_hom)
                hit = True
                hypotheses.append(Hypothesis(geometry.name, round(geometry.scale, 4), turns, mirrored, round(score, 2), True, checks_here))
                break
        total_checks += checks_here
        if not hit:
            hypotheses.append(Hypothesis(geometry.name, round(geometry.scale, 4), 0, False, round(best_here, 2), False, checks_here))
        timings[f"{geometry.name}_s"] = time.perf_counter() - t
        return hit

    h_img, w_img = y.shape
    if h_img * w_img > AS_IS_MAX_PIXELS:
        # A screenshot at original scale this large is rare; its centre is enough to tell.
        cy, cx = (h_img - AS_IS_SIDE) // 2 // TILE * TILE, (w_img - AS_IS_SIDE) // 2 // TILE * TILE
        cy, cx = max(cy, 0), max(cx, 0)
        box = np.array([[cx, cy], [cx + AS_IS_SIDE, cy], [cx + AS_IS_SIDE, cy + AS_IS_SIDE], [cx, cy + AS_IS_SIDE]], np.float64)
        as_is = _Geometry("as-is", np.eye(3), 1.0, None, False, np.minimum(box, [w_img, h_img]))
    else:
        as_is = _Geometry("as-is", None, 1.0, None, False)
    def attempt_quad(quad: NDArray[np.float64], name: str) -> bool:
        """Rectify a screen outline and try the comb's scales; the best one is refined even when weak."""
        rect, rect_hom, shrink = _rectify_quad(y, quad)
        base = _Geometry(name, rect_hom, 1.0 / shrink, quad, True)
        quad_width = float(rect.shape[1])
        for i, geometry in enumerate(_comb_geometries(rect, base, QUAD_COMB_CANDIDATES, (0.85, 1.18), quad_width)):
            if attempt(geometry, refine=True, refine_weak=i == 0):
                return True
        # Seen steeply off-axis, a side's foreshortening makes the
        # rectangle's side lengths a poor guide to its aspect (and a
        # cropped photo hides the principal point that would fix it):
        # search the aspect widely.
        base = _Geometry(f"{name}-wide", rect_hom, 1.0 / shrink, quad, True)
        for geometry in _comb_geometries(rect, base, 2, (0.5, 2.0), quad_width):
            if attempt(geometry, refine=True):
                return True
        return False

    # A visible bezel means a photo: its quadrilateral goes first. Otherwise
    # (or if it does not decode) the input as it is: a screenshot.
    t = time.perf_counter()
    quad = find_screen_quad(rgb)
    timings["quad_s"] = time.perf_counter() - t
    done = False
    if quad is not None:
        done = attempt_quad(quad, "screen-quad")
    if not done:
        done = attempt(as_is)
    if not done:
        # A dark screen (dark theme, X-ray viewer) in a lighter room, which
        # the bright-region search cannot outline: its dark outline, bezel
        # included.
        t = time.perf_counter()
        dark_quad = find_screen_quad(rgb, dark=True)
        timings["dark_quad_s"] = time.perf_counter() - t
        if dark_quad is not None:
            done = attempt_quad(dark_quad, "dark-screen-quad")
    if not done:
        t = time.perf_counter()
        lines_hom = rectify_from_lines(rgb)
        timings["lines_s"] = time.perf_counter() - t
        if lines_hom is not None and not _near_similarity(lines_hom):
            # Perspective seen in the content's lines (a photo with the border cut off).
            full = np.array([[0, 0], [rgb.shape[1], 0], [rgb.shape[1], rgb.shape[0]], [0, rgb.shape[0]]], np.float64)
            rect, rect_hom, shrink = _rectify(y, lines_hom, full)
            base = _Geometry("content-lines", rect_hom, 1.0 / shrink, None, True)
            for geometry in _comb_geometries(rect, base, 2, (0.85, 1.18)):
                if attempt(geometry, refine=True):
                    done = True
                    break
    if not done:
        t = time.perf_counter()
        # A screenshot is rescaled isotropically. One that holds few tiles
        # (by the comb's own best guess) has a noisy comb (content near DC
        # competes) but each geometry is cheap to fold: rank more of the
        # comb's candidates by their phase peak before refining and decoding.
        whole = _Geometry("whole-image", None, 1.0, None, False)
        geometries = _comb_geometries(y, whole, FEW_TILES_COMB_CANDIDATES, (1.0, 1.0))
        small = bool(geometries) and y.size / geometries[0].scale**2 <= FEW_TILES * TILE * TILE
        if not small:
            geometries = geometries[:2]
        timings["comb_s"] = time.perf_counter() - t
        pending: list[tuple[_Geometry, Any]] = [(g, None) for g in geometries]
        if small:
            t = time.perf_counter()
            scored = []
            for g in geometries:
                scored.append((g, evaluate(g)))
                if scored[-1][1][1] >= REFINE_BELOW:
                    break  # a clear peak: no need to fold the rest first
            pending = sorted(scored, key=lambda item: item[1][1], reverse=True) + [(g, None) for g in geometries[len(scored):]]
            timings["comb_rank_s"] = time.perf_counter() - t
        for geometry, evaluated in pending:
            if attempt(geometry, refine=True, evaluated=evaluated):
                done = True
                break
    timings["total_s"] = time.perf_counter() - t0
    h, w = rgb.shape[:2]
    fap = min(1.0, total_checks * 2.0**-MAC_BITS)
    parameters = {
        "version": watermark.__version__,
        "min_decode_score": MIN_DECODE_SCORE,
        "max_decodes": MAX_DECODES,
        "decodes": decodes,
        "mac_checks": total_checks,
        "mac_bits": MAC_BITS,
        "keys": [k.fingerprint for k in keys],
        "max_pixels": max_pixels,
    }
    if found is None:
        return TraceResult(
            False, None, None, fap, float(best_score), None, hypotheses, timings, loaded.source, loaded.sha256, (w, h),
            parameters=parameters,
        )
    result, key, geometry, out_hom = found
    parameters.update(geometry=geometry.name, scale=geometry.scale, tile_offset=list(result.offset))
    if geometry.quad is not None:
        quad = geometry.quad
    elif out_hom is None:
        quad = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float64)
    else:
        quad = None
    rectified = None
    if out_hom is None:
        rectified = rgb
    else:
        inv_region = geometry.quad if geometry.quad is not None else np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float64)
        mapped = cv2.perspectiveTransform(inv_region.reshape(-1, 1, 2), out_hom).reshape(-1, 2)
        size = np.minimum(np.ceil(mapped.max(axis=0)), MAX_SCREEN_SIDE).astype(int)
        rectified = cv2.warpPerspective(rgb, out_hom, (int(max(size[0], 1)), int(max(size[1], 1))), flags=cv2.INTER_AREA if geometry.scale > 1 else cv2.INTER_LINEAR)
    return TraceResult(
        True, result.payload, key.fingerprint, fap, float(best_score), quad, hypotheses, timings,
        loaded.source, loaded.sha256, (w, h), result.bit_error_rate, result.bit_snr, rectified, parameters,
    )

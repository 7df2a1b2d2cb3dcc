"""Fast rejection: can this image carry our mark at all? A cheap look before the geometry search.

A batch of leaked images (a chat export, a camera roll, a crawl) is mostly
images that carry no mark, and the geometry search gives up on one only
after trying every hypothesis (10-60 s). The screening here costs a small
fraction of a second and looks for the one thing every marked image has:
the carrier's lattice. The mark is a 256-pixel tile repeated over the
screen, so its power spectrum is a comb of lines at the tile's harmonics
(``tracer._sync.comb_search``), whatever the key and the payload; content
suppressed and the spectrum whitened, the comb score is the mean excess of
those lines over the local spectrum in noise standard deviations. It is
measured where a mark would be: over the whole input (a screenshot at any
scale) and in each clear screen outline, rectified (a photo of a screen).
The comb says where to look, the key says whether it is ours: at the
comb's scales a keyed tile-phase peak is read and compared with the peaks
of decoy keys in the same fold, since record screens (tables, text lines)
and other hospitals' marks raise every key's peak alike.

Everything is done on a reduced copy (longest side at most
``SCREEN_SIDE``): the carrier lives in the tile's level-2 wavelet band
(wavelengths of 21 screen pixels and more), which a 12-megapixel photo
still holds at half size. The thresholds are calibrated on unmarked images
(``benchmarks/batch.py`` reports the miss rate on marked ones); the
screening only dismisses, it never names anyone, and ``thorough=True``
skips it.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

from watermark import Key
from watermark.decoding import TILE, decode_at, fold_tiles, luma, suppress_content

from ._geometry import DIHEDRAL, _outline_size, image_corners
from ._locate import screen_candidates
from ._search import MIN_DECODE_SCORE, rank_folded
from ._strategies import AXIS_ALIGNED_PX, AXIS_ALIGNED_SLOPE, CLEAR_OUTLINE, axis_aligned
from ._sync import comb_search, find_screen_quad


__all__ = ["Screening", "screen_image", "keyed_probe", "SCREEN_SIDE", "PEAK_PASS", "COMB_PASS", "COMB_STRONG",
           "DECOY_MARGIN", "DECOY_RATIO", "DECOY_KEYS"]

SCREEN_SIDE = 2048
"""The screening works on a copy whose longest side is at most this (integer reduction, area-averaged)."""
PEAK_PASS = 7.0
"""A keyed tile-phase peak (robust z, as the search ranks them) this strong is checked against the decoy keys (unmarked
screens at original scale reach about 6, read at a scale their lines fit 8-14; see ``keyed_probe``)."""
COMB_STRONG = 40.0
"""A whole-image comb this strong is a mark's lattice, flat and upright (a screenshot): unmarked record screens reach
about 30 (their tables and text lines are lattices too), marked screenshots 60-90, marked phone photos at most 8. It is
probed with the key at its scales and their octaves; when none shows the key's peak, the image carries another key's
mark, and is dismissed saying so."""
COMB_PASS = 10.0
"""A faint (non-upright) outline whose comb reaches this gets a keyed probe at the comb's scale (and its octave from
``COMB_STRONG``; a strong comb there without the key's peak is another key's mark, as for the whole image). Measured
on unmarked images: blobs of smooth noise photos outlined faintly reach 5-6.6 (a small rectified window's comb is
noisy), panels of record screens 10-35 (UI panels are lattices too)."""
OUTLINE_SIDE = 768
"""A faint outline is rectified to at most this side for its comb."""
OUTLINES_SCREENED = 3
"""Screen outlines (the multi-cue finder's best) looked at."""
COMB_WINDOW = 768
"""Side of the window the whole-image comb analyses."""
COMB_SCALES_PROBED = 2
"""The whole-image comb's best scales that get a keyed probe (a rescaled screenshot)."""


@dataclass(frozen=True)
class Screening:
    """The verdict of the fast rejection, with the evidence it rests on.

    Attributes
    ----------
    passed : bool
        True: the image may carry a mark, and the full search runs.
    reason : str
        Why, in a few words.
    scores : dict
        Each measurement by what it looked at: ``peak@scale`` (keyed
        tile-phase peaks), ``decoy@scale`` (the decoy keys' best peak in
        the same fold, measured only under a keyed peak of ``PEAK_PASS``),
        ``comb`` (the whole image's comb score), ``outline<i>`` (a faint
        outline's comb score) and ``peak@outline<i>``.
    seconds : float
    reduction : int
        The screening copy is the input reduced by this factor per side.
    """

    passed: bool
    reason: str
    scores: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    reduction: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "reason": self.reason,
            "scores": {k: (round(v, 3) if np.isfinite(v) else None) for k, v in self.scores.items()},
            "thresholds": {"peak": PEAK_PASS, "decoy_margin": DECOY_MARGIN, "decoy_ratio": DECOY_RATIO,
                           "comb_strong": COMB_STRONG, "comb_outline": COMB_PASS},
            "seconds": round(self.seconds, 4),
            "reduction": self.reduction,
        }


def reduction_for(shape: tuple[int, ...]) -> int:
    """The integer factor that brings the longest side to at most ``SCREEN_SIDE``."""
    return max(1, -(-max(shape[:2]) // SCREEN_SIDE))


def reduce_image(rgb: NDArray[np.uint8], factor: int) -> NDArray[np.uint8]:
    """Area-average an image down by an integer factor per side."""
    if factor <= 1:
        return rgb
    h, w = rgb.shape[:2]
    return cv2.resize(rgb, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)


def _rectified(y: NDArray[np.float32], quad: NDArray[np.float64]) -> NDArray[np.float32]:
    """The outline warped to an upright rectangle of its own proportions, at most ``OUTLINE_SIDE``."""
    w, h = _outline_size(quad)
    shrink = min(1.0, OUTLINE_SIDE / max(w, h, 1.0))
    size = (max(2, int(round(w * shrink))), max(2, int(round(h * shrink))))
    target = image_corners(size[0], size[1])
    hom = cv2.getPerspectiveTransform(quad.astype(np.float32), target.astype(np.float32))
    src = cv2.GaussianBlur(y, (0, 0), 0.5 / shrink) if shrink < 0.8 else y
    return cv2.warpPerspective(src, hom, size, flags=cv2.INTER_LINEAR)


def photographed_outline(quad: NDArray[np.float64], shape: tuple[int, ...]) -> bool:
    """Could this outline be a screen's as a camera sees it (not a screenshot's panel, not a sliver of a natural photo)?

    A rectangle seen through a lens keeps corners near square: measured on
    the outlines that matched the screen in phone photos of both scene
    generators, up to 45 degrees off axis, the smallest corner was 64
    degrees (geometry alone allows under 45 only beyond about 60 degrees
    off axis, where the mark is unreadable anyway). A corner under
    ``MIN_CORNER_DEGREES`` is a shadow, a road or a roof line. And a camera
    never holds three sides to a pixel row or column: a quadrilateral with
    every side upright (``axis_aligned``), or with three sides inside the
    image that are, is a shape drawn on a screenshot (a panel cut by a
    slanted element), which the probes at the input's own scale cover.
    Sides along the image border (a screen running off the photo) count
    for neither.
    """
    q = np.asarray(quad, dtype=np.float64)
    if axis_aligned(q):
        return False
    edges = np.roll(q, -1, axis=0) - q
    following = np.roll(edges, -1, axis=0)
    cosine = -(edges * following).sum(axis=1) / (np.linalg.norm(edges, axis=1) * np.linalg.norm(following, axis=1) + 1e-12)
    if np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))).min() < MIN_CORNER_DEGREES:
        return False
    h, w = shape[:2]
    d = np.abs(edges)
    upright = d.min(axis=1) <= AXIS_ALIGNED_SLOPE * d.max(axis=1) + AXIS_ALIGNED_PX
    ends = np.stack([q, np.roll(q, -1, axis=0)], axis=1)  # (side, end, xy)
    on_border = np.array([bool(np.all(e[:, 0] <= 2) or np.all(e[:, 0] >= w - 3) or np.all(e[:, 1] <= 2) or np.all(e[:, 1] >= h - 3))
                          for e in ends])
    return int((upright & ~on_border).sum()) < 3


MIN_CORNER_DEGREES = 30.0
"""The smallest corner an outline may have and still be a photographed screen (``photographed_outline``)."""


def _fold_window(y: NDArray[np.float32], px_per_screen_px: tuple[float, float]) -> NDArray[np.float64] | None:
    """The folded tile of ``y``'s centre window read at ``(sx, sy)`` input px per screen px (None: too small).

    The search's own evaluation (resample to screen pixels, suppress
    content, fold), restricted to a centre window of at most ``PROBE_SIDE``
    screen pixels a side: a mark covers the screen, so the centre holds it.
    """
    sx, sy = px_per_screen_px
    window = _centre(y, int(np.ceil(PROBE_SIDE * sx)), int(np.ceil(PROBE_SIDE * sy)))
    size = (int(round(window.shape[1] / sx)), int(round(window.shape[0] / sy)))
    if min(size) < TILE // 2:
        return None
    if abs(sx - 1.0) > 1e-3 or abs(sy - 1.0) > 1e-3:
        interpolation = cv2.INTER_AREA if sx * sy > 1 else cv2.INTER_LINEAR
        window = cv2.resize(window, size, interpolation=interpolation)
    residual, weight = suppress_content(np.ascontiguousarray(window, dtype=np.float32))
    folded, _ = fold_tiles(residual, weight)
    return folded


def _peak(folded: NDArray[np.float64], keys: Sequence[Key]) -> float:
    ranked = rank_folded(folded, list(keys), DIHEDRAL)
    return ranked[0].score if ranked else -np.inf


def keyed_probe(y: NDArray[np.float32], px_per_screen_px: tuple[float, float], keys: Sequence[Key],
                scores: dict[str, float], name: str, decodes: int = 1) -> str | None:
    """Does ``y`` read at this scale show a phase peak of one of ``keys`` that no decoy key shows?

    The statistic is the search's (the robust z of the phase energy over
    the tile, the best of eight orientations). Its null is not the same
    everywhere: text, tables and interpolation make the energy field
    heavy-tailed, so an unmarked screen read at a scale its lines fit
    reaches 8-14, and a screen marked with *another* key about 9, for any
    key. A mark of ``keys`` lifts only its own key's peak (the decoys reach
    about half of it, the carrier's key-independent structure). So a peak
    of ``PEAK_PASS`` is checked against ``DECOY_KEYS`` in the same fold,
    and passes only ``DECOY_MARGIN`` above the best of them and
    ``DECOY_RATIO`` times it. Otherwise
    the key's ``decodes`` best peaks are decoded (about 25 ms each), and
    a payload that passes the keyed check passes. Returns how it passed
    (words for the verdict) or None. Records ``peak@name``, ``decoy@name``
    when the decoys were needed, ``decoded@name`` and ``mac_checks``.
    """
    folded = _fold_window(y, px_per_screen_px)
    if folded is None:
        scores[f"peak@{name}"] = -np.inf
        return None
    ranked = rank_folded(folded, list(keys), DIHEDRAL)
    scores[f"peak@{name}"] = keyed = ranked[0].score if ranked else -np.inf
    if keyed >= PEAK_PASS:
        scores[f"decoy@{name}"] = decoy = _peak(folded, DECOY_KEYS)
        if keyed - decoy >= DECOY_MARGIN and keyed >= DECOY_RATIO * decoy:
            return "a keyed tile-phase peak"
    # A weak mark's phase peak can sit in the null (a small or dark screen, heavy JPEG) while its payload still
    # decodes: the keyed check itself is the sharpest test there is, and a decode costs milliseconds.
    for candidate in ranked[:decodes]:
        if candidate.score < MIN_DECODE_SCORE:
            break
        result, checks = decode_at(candidate.tile, candidate.key, candidate.phase)
        scores["mac_checks"] = scores.get("mac_checks", 0.0) + checks
        if result.found:
            scores[f"decoded@{name}"] = candidate.score
            return "the key's payload decoded"
    return None


PROBE_SIDE = 1024
"""Side (screen pixels) of the centre window a keyed probe reads: four by four tiles (more do not raise the phase
peak's z: measured at 2048 on the robustness run's screenshots, the same to 0.1, for twice the time)."""
GATE_DECODES = 2
"""Phase peaks of the key decoded at original scale when they show no clear peak (a weak mark of a screenshot at its
own resolution: the common leak); at a comb's scale one is, when that comb reaches ``COMB_PASS``. A payload that passes
the keyed check passes the screening; the search then decodes it again and counts its own checks (the screening's, in
``scores["mac_checks"]``, name no one)."""
DECOY_MARGIN = 2.0
"""A keyed peak passes only this far above the decoys' best in the same fold. Measured on the robustness run's
screenshot channels: unmarked and other-key screens' keyed peak minus the decoys' best at most 0.9; our marks' at
least 3.6 (the decoys reach 0.43-0.58 of a true peak)."""
DECOY_RATIO = 1.4
"""... and at least this many times it. A mark's decoys see only the carrier's key-independent part, which grows with
the mark: 0.43-0.58 of its peak (ratio 1.7-2.3). Unmarked, key and decoys are alike, the ratio near 1, and further
from it in a small fold: 1.33 at most, in a faint outline's rectified window of an unmarked record screen."""
DECOY_KEYS = tuple(Key(hashlib.sha256(b"leaktrace gate decoy %d" % i).digest()) for i in range(3))
"""Keys no hospital holds (public constants): the null of the keyed probe in each fold."""


def screen_image(rgb: NDArray[np.uint8], keys: Sequence[Key]) -> Screening:
    """Screen an image: could it carry a mark of one of ``keys``?

    Parameters
    ----------
    rgb : ndarray (H, W, 3) uint8
    keys : sequence of Key

    Returns
    -------
    Screening
        Passed, in this order, by: a screen outline as a camera draws one
        (``photographed_outline``: not an upright rectangle or a panel cut
        by a slant, no sliver), clear or dark (a photo of a screen: the mark there can be
        too faint for any cheap test, so the full search decides); a keyed
        tile-phase peak of ``PEAK_PASS``, ``DECOY_MARGIN`` above the decoy
        keys' (``keyed_probe``), read as a screenshot at original scale or
        at one of the whole image's comb scales (and their octaves, for a
        comb of ``COMB_STRONG``); in a faint outline whose comb reaches
        ``COMB_PASS``, a keyed peak at its scale (and octave). Otherwise
        dismissed.
    """
    t = time.perf_counter()
    factor = reduction_for(rgb.shape)
    small = reduce_image(rgb, factor)
    y_small = luma(small)
    key_list = list(keys)
    scores: dict[str, float] = {}

    def verdict(passed: bool, reason: str) -> Screening:
        return Screening(passed, reason, scores, time.perf_counter() - t, factor)

    if min(y_small.shape) < 32:
        return verdict(True, "too small to screen")
    candidates = screen_candidates(small, limit=OUTLINES_SCREENED, variants=False)
    for c in candidates:
        if c.score >= CLEAR_OUTLINE and photographed_outline(c.quad * factor, rgb.shape):
            return verdict(True, "a screen outline (a photo of a screen)")
    dark = find_screen_quad(small, dark=True)
    if dark is not None and photographed_outline(dark * factor, rgb.shape):
        return verdict(True, "a dark screen outline (a photo of a dark screen)")
    how = keyed_probe(luma(_centre(rgb, PROBE_SIDE, PROBE_SIDE)), (1.0, 1.0), key_list, scores, "1", decodes=GATE_DECODES)
    if how:
        return verdict(True, f"{how} at original scale")
    combs = comb_search(y_small, count=COMB_SCALES_PROBED + 1, max_side=COMB_WINDOW)
    scores["comb"] = combs[0][2] if combs else -np.inf
    strong = scores["comb"] >= COMB_STRONG
    probed: list[tuple[float, float]] = [(1.0, 1.0)]
    for sx, sy, comb in combs if strong else combs[:COMB_SCALES_PROBED]:
        # A strong comb is a flat, upright lattice (a screenshot: marked phone photos reach 8), where the keyed probe
        # is reliable; its best scale can be half the true one (the even harmonics carry most of the comb).
        for octave in (1.0, 2.0) if strong else (1.0,):
            scale = (sx * factor * octave, sy * factor * octave)  # input px per screen px
            if any(abs(np.log(scale[0] / p[0])) < 0.02 and abs(np.log(scale[1] / p[1])) < 0.02 for p in probed):
                continue
            probed.append(scale)
            side = int(np.ceil(PROBE_SIDE * max(scale)))
            window = luma(_centre(rgb, side, side))  # only the window: the input may be 12 MP
            how = keyed_probe(window, scale, key_list, scores, f"{np.sqrt(scale[0] * scale[1]):.3f}",
                              decodes=int(comb >= COMB_PASS))
            if how:
                return verdict(True, f"{how} at the comb's scale")
    for i, c in enumerate(candidates):
        if axis_aligned(c.quad * factor):
            continue  # a panel of a screenshot: the probes above covered it
        rect = _rectified(y_small, c.quad)
        if min(rect.shape) < 32:
            continue
        found = comb_search(rect, aspect_range=(0.85, 1.18), count=1, max_side=OUTLINE_SIDE)
        scores[f"outline{i}"] = found[0][2] if found else -np.inf
        if scores[f"outline{i}"] < COMB_PASS:
            continue
        # As for the whole image: the comb says a lattice is there, the key says whether it is ours.
        rect_strong = scores[f"outline{i}"] >= COMB_STRONG
        strong = strong or rect_strong
        sx, sy = found[0][:2]
        for octave in (1.0, 2.0) if rect_strong else (1.0,):
            name = f"outline{i}" + ("" if octave == 1.0 else f"x{octave:g}")
            how = keyed_probe(rect, (sx * octave, sy * octave), key_list, scores, name, decodes=1)
            if how:
                return verdict(True, f"{how} inside a faint screen outline")
    if strong:
        return verdict(False, "a strong carrier comb but no peak of the key at its scales: another key's mark")
    if any(name.startswith("decoy@") for name in scores):
        return verdict(False, "tile-phase peaks for every key alike (text and tables, or another key's mark), "
                              "none of the key's own")
    return verdict(False, "no sign of our mark: no screen outline, no carrier comb with the key's peak")


def _centre(image: NDArray[Any], side_x: int, side_y: int) -> NDArray[Any]:
    """The centre ``side_x`` x ``side_y`` window of ``image`` (all of it along a shorter side)."""
    h, w = image.shape[:2]
    y0, x0 = max(0, (h - side_y) // 2), max(0, (w - side_x) // 2)
    return image[y0 : y0 + side_y, x0 : x0 + side_x]

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

Everything is done on a reduced copy (longest side at most
``SCREEN_SIDE``): the carrier lives in the tile's level-2 wavelet band
(wavelengths of 21 screen pixels and more), which a 12-megapixel photo
still holds at half size. The thresholds are calibrated on unmarked images
(``benchmarks/batch.py`` reports the miss rate on marked ones); the
screening only dismisses, it never names anyone, and ``thorough=True``
skips it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

from watermark import Key
from watermark.decoding import TILE, fold_tiles, luma, suppress_content

from ._geometry import DIHEDRAL, _outline_size, image_corners
from ._locate import screen_candidates
from ._search import rank_folded
from ._strategies import CLEAR_OUTLINE, axis_aligned
from ._sync import comb_search, find_screen_quad


__all__ = ["Screening", "screen_image", "SCREEN_SIDE", "PEAK_PASS", "COMB_PASS", "COMB_STRONG"]

SCREEN_SIDE = 2048
"""The screening works on a copy whose longest side is at most this (integer reduction, area-averaged)."""
PEAK_PASS = 7.0
"""A keyed tile-phase peak (robust z, as the search ranks them) this strong passes: unmarked screens reach about 6."""
COMB_STRONG = 40.0
"""A whole-image comb this strong passes without a keyed peak (unmarked record screens reach about 30: their tables
and text lines are lattices too; marked screenshots score 60-90)."""
COMB_PASS = 10.0
"""A faint (non-upright) outline whose comb reaches this passes. Measured on unmarked images: blobs of smooth
noise photos outlined faintly reach 5-6.6 (a small rectified window's comb is noisy), panels of record screens more."""
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
        tile-phase peaks), ``comb`` (the whole image's comb score),
        ``outline<i>`` (a faint outline's comb score).
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
            "thresholds": {"peak": PEAK_PASS, "comb_strong": COMB_STRONG, "comb_outline": COMB_PASS},
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


def keyed_peak(rgb: NDArray[np.uint8], px_per_screen_px: float, keys: list[Key]) -> float:
    """The strongest keyed tile-phase peak of ``rgb`` read as a screenshot at ``px_per_screen_px``, in its centre.

    The search's own evaluation (resample to screen pixels, suppress
    content, fold, rank in the eight orientations), restricted to a centre
    window of at most ``PROBE_SIDE`` screen pixels a side: a mark covers the
    screen, so the centre holds it, and the statistic keeps the search's
    calibration (unmarked record screens reach about 6).
    """
    h, w = rgb.shape[:2]
    side = int(np.ceil(PROBE_SIDE * px_per_screen_px))
    y0, x0 = max(0, (h - side) // 2), max(0, (w - side) // 2)
    window = luma(rgb[y0 : y0 + side, x0 : x0 + side])  # only the window: the input may be 12 MP
    size = (int(round(window.shape[1] / px_per_screen_px)), int(round(window.shape[0] / px_per_screen_px)))
    if min(size) < TILE // 2:
        return -np.inf
    if abs(px_per_screen_px - 1.0) > 1e-3:
        interpolation = cv2.INTER_AREA if px_per_screen_px > 1 else cv2.INTER_LINEAR
        window = cv2.resize(window, size, interpolation=interpolation)
    residual, weight = suppress_content(np.ascontiguousarray(window))
    folded, _ = fold_tiles(residual, weight)
    ranked = rank_folded(folded, keys, DIHEDRAL)
    return ranked[0].score if ranked else -np.inf


PROBE_SIDE = 1024
"""Side (screen pixels) of the centre window a keyed probe reads: four by four tiles."""




def screen_image(rgb: NDArray[np.uint8], keys: Sequence[Key]) -> Screening:
    """Screen an image: could it carry a mark of one of ``keys``?

    Parameters
    ----------
    rgb : ndarray (H, W, 3) uint8
    keys : sequence of Key

    Returns
    -------
    Screening
        Passed, in this order, by: a screen outline that is not an upright
        rectangle, clear or dark (a photo of a screen: the mark there can be
        too faint for any cheap test, so the full search decides); a keyed
        tile-phase peak of ``PEAK_PASS`` read as a screenshot at original
        scale or at one of the whole image's comb scales; a whole-image comb
        of ``COMB_STRONG``; a faint outline whose comb reaches ``COMB_PASS``.
        Otherwise dismissed.
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
    candidates = screen_candidates(small, limit=OUTLINES_SCREENED)
    for c in candidates:
        if c.score >= CLEAR_OUTLINE and not axis_aligned(c.quad * factor):
            return verdict(True, "a screen outline (a photo of a screen)")
    dark = find_screen_quad(small, dark=True)
    if dark is not None and not axis_aligned(dark * factor):
        return verdict(True, "a dark screen outline (a photo of a dark screen)")
    scores["peak@1"] = keyed_peak(rgb, 1.0, key_list)
    if scores["peak@1"] >= PEAK_PASS:
        return verdict(True, "a keyed tile-phase peak at original scale")
    combs = comb_search(y_small, count=COMB_SCALES_PROBED, max_side=COMB_WINDOW)
    scores["comb"] = combs[0][2] if combs else -np.inf
    if scores["comb"] >= COMB_STRONG:
        return verdict(True, "a strong carrier comb")
    for sx, sy, _ in combs:
        s = float(np.sqrt(sx * sy)) * factor  # input px per screen px
        if abs(np.log(s)) < 0.02:
            continue  # original scale: probed already
        scores[f"peak@{s:.3f}"] = keyed_peak(rgb, s, key_list)
        if scores[f"peak@{s:.3f}"] >= PEAK_PASS:
            return verdict(True, "a keyed tile-phase peak at the comb's scale")
    for i, c in enumerate(candidates):
        if axis_aligned(c.quad * factor):
            continue  # a panel of a screenshot: the probes above covered it
        rect = _rectified(y_small, c.quad)
        if min(rect.shape) < 32:
            continue
        found = comb_search(rect, aspect_range=(0.85, 1.18), count=1, max_side=OUTLINE_SIDE)
        scores[f"outline{i}"] = found[0][2] if found else -np.inf
        if scores[f"outline{i}"] >= COMB_PASS:
            return verdict(True, "the carrier comb inside a faint screen outline")
    return verdict(False, "no sign of the carrier: no screen outline, no keyed peak, no comb")

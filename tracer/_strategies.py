"""Geometry strategies, tried in order until one decodes.

Each strategy proposes geometries for one kind of leak and hands them to
:meth:`Search.attempt`; it returns True when a payload passed the keyed
check. The order puts the cheap and the likely first: a visible bezel means
a photo; otherwise the input as it is (a screenshot); then a dark screen's
outline, the content's own lines, and the whole image rescaled.
"""

from __future__ import annotations

import time
from typing import Callable, TypeVar

import numpy as np
from numpy.typing import NDArray

from watermark.decoding import TILE

from ._geometry import Geometry, as_is_geometry, comb_geometries, image_corners, near_similarity, rectify, rectify_quad
from ._search import Evaluation, Search
from ._refine import REFINE_BELOW
from ._sync import find_screen_quad, rectify_from_lines

__all__ = ["STRATEGIES", "Strategy"]

Strategy = Callable[[Search], bool]

QUAD_COMB_CANDIDATES = 4
"""Comb scales tried for a located screen outline."""
FEW_TILES = 24
FEW_TILES_COMB_CANDIDATES = 6
"""An input holding at most FEW_TILES tiles at the comb's best scale has this many candidates ranked by phase peak."""


T = TypeVar("T")


def _timed(search: Search, name: str, fn: Callable[[], T]) -> T:
    """Run ``fn`` and record its seconds under ``name``."""
    t = time.perf_counter()
    out = fn()
    search.timings[name] = time.perf_counter() - t
    return out


def attempt_quad(search: Search, quad: NDArray[np.float64], name: str) -> bool:
    """Rectify a screen outline and try the comb's scales; the best one is refined even when weak."""
    rect, rect_hom, shrink = rectify_quad(search.y, quad)
    base = Geometry(name, rect_hom, 1.0 / shrink, quad, True)
    quad_width = float(rect.shape[1])
    for i, geometry in enumerate(comb_geometries(rect, base, QUAD_COMB_CANDIDATES, (0.85, 1.18), quad_width)):
        if search.attempt(geometry, refine=True, refine_weak=i == 0):
            return True
    # Seen steeply off-axis, a side's foreshortening makes the rectangle's
    # side lengths a poor guide to its aspect (and a cropped photo hides the
    # principal point that would fix it): search the aspect widely.
    wide = Geometry(f"{name}-wide", rect_hom, 1.0 / shrink, quad, True)
    return any(search.attempt(g, refine=True) for g in comb_geometries(rect, wide, 2, (0.5, 2.0), quad_width))


def screen_quad(search: Search) -> bool:
    """A bright screen's outline (bezel visible): a phone photo."""
    quad = _timed(search, "quad_s", lambda: find_screen_quad(search.rgb))
    return quad is not None and attempt_quad(search, quad, "screen-quad")


def as_is(search: Search) -> bool:
    """The input as it is: a screenshot at original scale, any crop."""
    return search.attempt(as_is_geometry(search.y.shape))


def dark_screen_quad(search: Search) -> bool:
    """A dark screen (dark theme, X-ray viewer) in a lighter room, by its dark outline, bezel included."""
    quad = _timed(search, "dark_quad_s", lambda: find_screen_quad(search.rgb, dark=True))
    return quad is not None and attempt_quad(search, quad, "dark-screen-quad")


def content_lines(search: Search) -> bool:
    """Perspective seen in the content's lines (a photo with the border cut off): their vanishing points."""
    lines_hom = _timed(search, "lines_s", lambda: rectify_from_lines(search.rgb))
    if lines_hom is None or near_similarity(lines_hom):
        return False
    h, w = search.y.shape
    rect, rect_hom, shrink = rectify(search.y, lines_hom, image_corners(w, h))
    base = Geometry("content-lines", rect_hom, 1.0 / shrink, None, True)
    return any(search.attempt(g, refine=True) for g in comb_geometries(rect, base, 2, (0.85, 1.18)))


def _rank_small(search: Search, geometries: list[Geometry]) -> list[tuple[Geometry, Evaluation | None]]:
    """Fold comb candidates first and order them by phase peak (stopping at a clear one)."""
    scored: list[tuple[Geometry, Evaluation]] = []
    for g in geometries:
        scored.append((g, search.evaluate(g)))
        if scored[-1][1].best >= REFINE_BELOW:
            break  # a clear peak: no need to fold the rest first
    ranked = sorted(scored, key=lambda item: item[1].best, reverse=True)
    rest: list[tuple[Geometry, Evaluation | None]] = [(g, None) for g in geometries[len(scored) :]]
    return [*ranked, *rest]


def whole_image(search: Search) -> bool:
    """The whole input at the comb's isotropic scale: a rescaled screenshot.

    One that holds few tiles (by the comb's own best guess) has a noisy comb
    (content near DC competes) but each geometry is cheap to fold: more of
    the comb's candidates are ranked by their phase peak before refining and
    decoding.
    """
    whole = Geometry("whole-image", None, 1.0, None, False)
    t = time.perf_counter()
    geometries = comb_geometries(search.y, whole, FEW_TILES_COMB_CANDIDATES, (1.0, 1.0))
    small = bool(geometries) and search.y.size / geometries[0].scale**2 <= FEW_TILES * TILE * TILE
    if not small:
        geometries = geometries[:2]
    search.timings["comb_s"] = time.perf_counter() - t
    pending: list[tuple[Geometry, Evaluation | None]] = [(g, None) for g in geometries]
    if small:
        pending = _timed(search, "comb_rank_s", lambda: _rank_small(search, geometries))
    return any(search.attempt(g, refine=True, evaluated=ev) for g, ev in pending)


STRATEGIES: list[Strategy] = [screen_quad, as_is, dark_screen_quad, content_lines, whole_image]
"""In the order tried."""

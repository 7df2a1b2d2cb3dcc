"""More marks: after the first decode, the rest of the image is searched for other payloads.

A composite carries several genuine marks: one screenshot pasted over
another, two screenshots side by side, two screens in one photo, a screen
under two overlays (two keys). The geometry search stops at its first
decode; this module then looks where another mark can still be, at a small
cost, and every decode it makes is counted like the search's own.

For the fold the first mark was read in (``Found.evaluation``):

1. **Where the mark is.** The fold's frame is cut into tile-sized cells on
   the tile grid; in each, the found codeword's known-codeword statistic
   ``z = s . c / |s|`` (``s`` the cell's 256 channel soft values at the
   mark's phase and orientation, ``c`` the codeword's +-1 bits) is about
   N(0, 1) where the cell does not carry the mark and approaches
   sqrt(256) = 16 where it does. Cells at ``SUPPORT_Z`` or more carry it;
   their bounding box, mapped back to the input, is the mark's region.
2. **Other peaks of the same fold** (stacked overlays: another key, or the
   same key at another phase): a phase peak that is not the found mark's
   own (same key, orientation and phase within a band step) and is strong
   enough, ``MORE_PEAK`` and ``SIDELOBE_RATIO`` of the found mark's own
   peak in that fold (a clear mark raises its fold's other maxima to about
   half its peak), is decoded.
3. **The rest of the fold**: the cells that carry no found mark, folded on
   their own (the mark's cells get weight 0) and ranked over every key and
   orientation: a screenshot pasted over part of another, or beside it, at
   the same scale. Peaks as in 2.

Steps 2 and 3 repeat after each new mark (its cells leave the rest too).
Then **other screen outlines** that do not overlap a found mark (a photo of
two screens) are rectified and tried at their best comb scale.

Budget and bound: at most ``MORE_DECODES`` decodes after the first mark and
``MAX_MARKS`` marks. Each decode checks at most 5 codewords against the
40-bit MAC, added to the trace's count: a mark's own bound counts every
check made up to and including its decode, and the trace's
``false_attribution_probability`` counts all of them, so a trace that looked
for more marks reports a larger bound, never a smaller one. The same payload
under the same key read twice is one mark.
"""

from __future__ import annotations

import dataclasses
import time

import cv2
import numpy as np
from numpy.typing import NDArray

from watermark.decoding import BAND, TILE, encode_payload, fold_tiles, tile_soft_bits

from ._gate import PEAK_PASS
from ._geometry import DIHEDRAL, Geometry, image_corners, orient
from ._refine import REFINE_ABOVE
from ._search import Candidate, Evaluation, Found, Search, TimeLimitExceeded, rank_folded
from ._strategies import CLEAR_OUTLINE, axis_aligned, outline

__all__ = ["find_more_marks", "mark_statistic", "MAX_MARKS", "MORE_DECODES"]

MAX_MARKS = 4
"""Marks reported per image at most."""
MORE_DECODES = 6
"""Decode attempts after the first mark, over every step (each checks at most 5 codewords against the MAC)."""
SUPPORT_Z = 4.0
"""A cell whose known-codeword statistic reaches this carries the mark (a cell without it: about N(0, 1))."""
MORE_PEAK = PEAK_PASS
"""A phase peak not explained by a found mark is decoded only from this strength (the fast rejection's bar: unmarked
screens reach about 6; the rest of a composite, holding another key's mark, reached 6.6 over eight orientations)."""
SIDELOBE_RATIO = 0.7
"""... and from this fraction of the same key's found peak in that fold: a clear mark lifts its fold's other maxima
to 0.45-0.52 of its peak (measured on screenshots and phone photos); a second mark of like strength reaches about 1."""
CELL_DATA = 0.2
"""A cell is read when at least this fraction of its pixels in the frame has weight (not text strokes, not outside
the screen) ..."""
MIN_CELL_SIDE = TILE // 8
"""... and the frame gives it at least this many rows and columns (an edge cell may be a sliver)."""
SAME_PHASE = 2
"""A peak within this many band steps (4 px each) of a found mark's, same key and orientation, is that mark: in a
photo the part of the screen where the geometry fits less well shows it a few pixels off."""
FOLD_MISSES = 2
"""Failed decodes in a row after which a fold is left: its peaks are tried strongest first."""
MIN_REST_CELLS = 2
"""The rest of a fold is searched only when it holds this many cells with data."""
OUTLINES_MORE = 2
"""Other clear screen outlines (border step ``CLEAR_OUTLINE``, not an upright rectangle) tried: a photo of two screens."""
SAME_SCREEN = 0.3
"""An outline whose overlap with a found mark's region exceeds this fraction of the smaller one is the same screen."""


def _cells(evaluation: Evaluation) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    """The fold's frame cut into tile-sized cells on the tile grid: (ny, nx, TILE, TILE) residual, (ny, nx) data mask."""
    residual, weight = evaluation.residual, evaluation.weight
    h, w = residual.shape
    ny, nx = -(-h // TILE), -(-w // TILE)
    has = weight > 0
    padded = np.zeros((ny * TILE, nx * TILE))
    padded[:h, :w] = np.where(has, residual, 0.0)
    filled = np.zeros((ny * TILE, nx * TILE), bool)
    filled[:h, :w] = has
    cells = padded.reshape(ny, TILE, nx, TILE).swapaxes(1, 2)
    rows = np.minimum(TILE, h - TILE * np.arange(ny))
    cols = np.minimum(TILE, w - TILE * np.arange(nx))
    in_frame = rows[:, None] * cols[None, :]
    data = filled.reshape(ny, TILE, nx, TILE).sum(axis=(1, 3)) >= CELL_DATA * in_frame
    data &= (rows[:, None] >= MIN_CELL_SIDE) & (cols[None, :] >= MIN_CELL_SIDE)
    return cells, data


def mark_statistic(evaluation: Evaluation, found: Found,
                   split: tuple[NDArray[np.float64], NDArray[np.bool_]] | None = None) -> NDArray[np.float64]:
    """The found mark's known-codeword statistic in each tile-sized cell of ``evaluation``'s frame (NaN: no data).

    ``z = s . c / |s|`` over the 256 channel bits, ``s`` the cell's soft
    values in the mark's orientation and at its phase, ``c`` its codeword
    as +-1: about N(0, 1) in a cell without the mark, near 16 where it
    is clear. A cell is one tile, so its fold is the cell itself.
    ``split``: ``_cells(evaluation)``, when the caller has it.
    """
    cells, data = _cells(evaluation) if split is None else split
    ny, nx = data.shape
    z = np.full((ny, nx), np.nan)
    if not data.any():
        return z
    dy, dx = found.result.offset
    shift = ((-dy) % TILE, (-dx) % TILE)
    turns, mirrored = found.candidate.orientation
    tiles = np.roll(orient(cells[data], turns, mirrored), (-shift[0], -shift[1]), axis=(-2, -1))
    soft = tile_soft_bits(tiles, found.key)
    assert found.result.payload is not None  # a Found passed the keyed check
    code = 1.0 - 2.0 * encode_payload(found.result.payload, found.key)
    norm = np.linalg.norm(soft, axis=1)
    z[data] = np.where(norm > 0, soft @ code / np.maximum(norm, 1e-12), np.nan)
    return z


def _explains(found: Found, candidate: Candidate) -> bool:
    """The candidate is the found mark's own peak: same key and orientation, phase within ``SAME_PHASE`` band steps."""
    if candidate.key != found.key or candidate.orientation != found.candidate.orientation:
        return False
    dy = abs(candidate.phase.ty - found.candidate.phase.ty) % BAND
    dx = abs(candidate.phase.tx - found.candidate.phase.tx) % BAND
    return min(dy, BAND - dy) <= SAME_PHASE and min(dx, BAND - dx) <= SAME_PHASE


def _cells_region(evaluation: Evaluation, cells: NDArray[np.bool_], shape: tuple[int, ...]) -> NDArray[np.float64] | None:
    """Input-pixel corners of the bounding box of ``cells`` (in the fold's frame); None when there are none."""
    rows, cols = np.nonzero(cells)
    if rows.size == 0:
        return None
    h, w = evaluation.residual.shape
    x0, x1 = cols.min() * TILE, min((cols.max() + 1) * TILE, w)
    y0, y1 = rows.min() * TILE, min((rows.max() + 1) * TILE, h)
    box = image_corners(x1 - x0, y1 - y0) + [x0, y0]
    if evaluation.out_hom is None:
        return box
    mapped = cv2.perspectiveTransform(box.reshape(-1, 1, 2), np.linalg.inv(evaluation.out_hom)).reshape(-1, 2)
    return np.clip(mapped, 0, [shape[1], shape[0]])


def _overlap(a: NDArray[np.float64], b: NDArray[np.float64]) -> float:
    """Area of the intersection of two quadrilaterals (their convex hulls) over the smaller one's area."""
    ha, hb = (cv2.convexHull(q.astype(np.float32)) for q in (a, b))
    smaller = min(cv2.contourArea(ha), cv2.contourArea(hb))
    if smaller <= 0:
        return 1.0
    inter, _ = cv2.intersectConvexConvex(ha, hb)
    return float(inter) / smaller


class _Fold:
    """One fold of a geometry's frame (the whole frame, or the cells no found mark covers) and what was tried in it."""

    def __init__(self, name: str, evaluation: Evaluation, cells: NDArray[np.bool_]) -> None:
        self.name = name
        self.evaluation = evaluation
        self.cells = cells
        self.tried: set[tuple[str, int, bool, int, int]] = set()
        self.misses = 0
        """Failed decodes in a row."""

    def pick(self, readings: list[Found]) -> Candidate | None:
        """The strongest untried peak no reading explains, when it clears the bar (``MORE_PEAK``, ``SIDELOBE_RATIO``).

        Peaks in the first reading's orientation come first: marks read in
        one geometry share its orientation unless one was turned on its own.
        """
        if self.misses >= FOLD_MISSES:
            return None
        own: dict[str, float] = {}
        for c in self.evaluation.candidates:
            if any(_explains(r, c) for r in readings):
                own[c.key.fingerprint] = max(own.get(c.key.fingerprint, -np.inf), c.score)
        upright = readings[0].candidate.orientation
        for c in sorted(self.evaluation.candidates, key=lambda c: (c.orientation != upright, -c.score)):
            bar = max(MORE_PEAK, SIDELOBE_RATIO * own.get(c.key.fingerprint, -np.inf))
            if c.score < bar:
                continue
            ident = (c.key.fingerprint, c.turns, c.mirrored, c.phase.ty, c.phase.tx)
            if ident in self.tried or any(_explains(r, c) for r in readings):
                continue
            self.tried.add(ident)
            return c
        return None


class MoreMarks:
    """The search for more marks after the first: its budget, what each fold showed, and every mark's cells."""

    def __init__(self, search: Search) -> None:
        self.search = search
        self.decode_end = search.decodes + MORE_DECODES
        self.shape = search.rgb.shape
        self.done: set[int] = set()
        """Evaluations (by id) whose folds were searched."""
        self.outlines_tried: set[int] = set()
        self._alive: list[Evaluation] = []
        """Every evaluation the caches and ``done`` name by id, held so that no id is reused while they do."""
        self._cells: dict[int, tuple[NDArray[np.float64], NDArray[np.bool_]]] = {}
        self._statistics: dict[tuple[int, tuple[str, bytes], tuple[int, int], tuple[int, bool]], NDArray[np.float64]] = {}

    def budget_left(self) -> bool:
        return self.search.decodes < self.decode_end and len(self.search.marks) < MAX_MARKS

    def run(self) -> None:
        """Every found mark's fold (other peaks, the rest), then other screen outlines, while something new turns up."""
        self.search.decode_limit = self.decode_end
        while True:
            pending = [m for m in self.search.marks if id(m.evaluation) not in self.done]
            for found in pending:
                if self.budget_left():
                    self.in_fold(found)
            self.search.marks[:] = [self.with_region(m) for m in self.search.marks]
            if not self.budget_left() or not self.other_outlines():
                return

    def cells(self, evaluation: Evaluation) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
        """``_cells``, computed once per fold."""
        if id(evaluation) not in self._cells:
            self._alive.append(evaluation)
            self._cells[id(evaluation)] = _cells(evaluation)
        return self._cells[id(evaluation)]

    def statistic(self, evaluation: Evaluation, found: Found) -> NDArray[np.float64]:
        """:func:`mark_statistic`, computed once per fold and reading."""
        key = (id(evaluation), found.identity, found.result.offset, found.candidate.orientation)
        if key not in self._statistics:
            self._alive.append(evaluation)
            t = time.perf_counter()
            self._statistics[key] = mark_statistic(evaluation, found, self.cells(evaluation))
            self.search.timings["more_marks_cells_s"] = self.search.timings.get("more_marks_cells_s", 0.0) + time.perf_counter() - t
        return self._statistics[key]

    def in_fold(self, first: Found) -> None:
        """Steps 2 and 3 in the fold ``first`` was read in, until nothing clears the bar or the budget is spent."""
        geometry, evaluation = first.geometry, first.evaluation
        self._alive.append(evaluation)
        self.done.add(id(evaluation))
        readings = [first]
        whole = _Fold(f"{geometry.name}~more", evaluation, self.cells(evaluation)[1])
        rest = self.rest(geometry, whole, readings)
        while self.budget_left():
            picked = None
            for fold in (whole, rest):
                if fold is not None and (candidate := fold.pick(readings)) is not None:
                    picked = fold, candidate
                    break
            if picked is None:
                return
            fold, candidate = picked
            found = self.search.decode_one(geometry, fold.evaluation, candidate, fold.name)
            if found is None:
                fold.misses += 1
                continue
            fold.misses = 0
            self._alive.append(found.evaluation)
            self.done.add(id(found.evaluation))
            found = dataclasses.replace(found, region=self.region_of(found, whole.evaluation, fold.cells))
            readings.append(found)
            self.search.add_mark(found)
            rest = self.rest(geometry, whole, readings)

    def rest(self, geometry: Geometry, whole: _Fold, readings: list[Found]) -> _Fold | None:
        """The cells that carry none of ``readings``, folded alone and ranked; None when too few are left."""
        support = np.zeros(whole.cells.shape, bool)
        for r in readings:
            support |= self.statistic(whole.evaluation, r) >= SUPPORT_Z
        left = whole.cells & ~support
        if not support.any() or left.sum() < MIN_REST_CELLS:
            return None
        ev = whole.evaluation
        h, w = ev.weight.shape
        keep = np.kron(~support, np.ones((TILE, TILE), bool))[:h, :w]
        weight = np.where(keep, ev.weight, 0.0).astype(np.float32)
        folded, _ = fold_tiles(ev.residual, weight)
        ranked = rank_folded(folded, self.search.keys, DIHEDRAL)
        return _Fold(f"{geometry.name}~rest", Evaluation(ranked, ev.out_hom, ev.residual, weight, folded), left)

    def region_of(self, found: Found, evaluation: Evaluation, fallback: NDArray[np.bool_]) -> NDArray[np.float64] | None:
        """The mark's region: the cells of ``evaluation`` where its statistic reaches ``SUPPORT_Z``, else ``fallback``'s."""
        region = _cells_region(evaluation, self.statistic(evaluation, found) >= SUPPORT_Z, self.shape)
        return region if region is not None else _cells_region(evaluation, fallback, self.shape)

    def with_region(self, found: Found) -> Found:
        """A mark with its region measured (marks the geometry search found are measured here)."""
        if found.region is not None:
            return found
        return dataclasses.replace(found, region=self.region_of(found, found.evaluation, self.cells(found.evaluation)[1]))

    def other_outlines(self) -> bool:
        """Try clear screen outlines that no found mark covers (a photo of two screens); True at the first new mark."""
        regions = [q for m in self.search.marks for q in (m.region, m.geometry.quad) if q is not None]
        before = len(self.search.marks)
        for i, c in enumerate(self.search.outlines or []):
            if len(self.outlines_tried) >= OUTLINES_MORE or not self.budget_left():
                break
            if i in self.outlines_tried or c.score < CLEAR_OUTLINE or axis_aligned(c.quad) \
                    or any(_overlap(c.quad, r) > SAME_SCREEN for r in regions):
                continue
            self.outlines_tried.add(i)
            other = outline(self.search, c.quad, f"other-screen-{i}")
            if not other.combs:
                continue
            geometry = other.combs[0][0]
            evaluation = self.search.evaluate(geometry)
            if evaluation.best < REFINE_ABOVE:
                self.search.observe(geometry, evaluation)
            elif self.search.attempt(geometry, refine=True, refine_weak=True, evaluated=evaluation) and len(self.search.marks) > before:
                return True
        return False


def find_more_marks(search: Search) -> None:
    """After the first mark: look for every other payload in the image (see the module's notes).

    Sets ``search.more_marks`` to "complete", or "time limit" when the
    trace's deadline cut it short (the marks found by then are kept).
    """
    if search.found is None:
        return
    t = time.perf_counter()
    more = MoreMarks(search)
    try:
        more.run()
        search.more_marks = "complete"
    except TimeLimitExceeded:
        search.marks[:] = [more.with_region(m) for m in search.marks]
        search.more_marks = "time limit"
    search.timings["more_marks_s"] = time.perf_counter() - t

"""Geometry strategies, tried in order until one decodes.

Each strategy proposes geometries for one kind of leak and hands them to
:meth:`Search.attempt`; it returns True when a payload passed the keyed
check. The order puts the cheap and the likely first: a clear screen
outline (the multi-cue finder of ``tracer._locate``) means a photo;
otherwise the input as it is (a screenshot); then outlines with a faint
border, a dark screen's outline, the content's own lines, and the whole
image rescaled.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Callable, TypeVar

import cv2
import numpy as np
from numpy.typing import NDArray

from watermark.decoding import TILE

from ._geometry import (
    DIHEDRAL,
    Geometry,
    as_is_geometry,
    comb_candidates,
    comb_geometries,
    display_geometries,
    image_corners,
    near_similarity,
    rectify,
    rectify_quad,
)
from ._lens import fit_lens, undistort_points
from ._locate import ScreenCandidate, edge_points, screen_candidates
from ._search import SPARE_DECODES, Candidate, Evaluation, Search
from ._refine import REFINE_BELOW, Refinement, worth_refining
from ._sync import find_screen_quad, rectify_from_lines

__all__ = ["STRATEGIES", "Strategy"]

Strategy = Callable[[Search], bool]

QUAD_COMB_CANDIDATES = 4
"""Comb scales tried for a located screen outline."""
OUTLINES_TRIED = 3
"""Screen outlines from the multi-cue finder that are rectified, ranked by the comb and tried."""
CLEAR_OUTLINE = 30.0
"""Border step (levels, weakest sides weighted most) above which an outline is tried before the input as it is."""
AXIS_ALIGNED_SLOPE, AXIS_ALIGNED_PX = 0.005, 3.0
"""An outline whose sides are all this close to horizontal or vertical (slope, plus a few pixels of
corner noise) is a region of a screenshot, not a photo."""
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


@dataclass(frozen=True)
class Outline:
    """A located screen outline, rectified, with the comb's scale hypotheses for it."""

    name: str
    quad: NDArray[np.float64]
    rect: NDArray[np.float32]
    rect_hom: NDArray[np.float64]
    shrink: float
    combs: list[tuple[Geometry, float]]
    variants: tuple[NDArray[np.float64], ...] = ()
    """The outline with a side moved to another parallel step (``ScreenCandidate.variants``)."""
    lens: float = 0.0
    """Radial distortion the geometries undo (``Geometry.lens``); ``rect_hom`` then maps ideal coordinates."""

    @property
    def comb_score(self) -> float:
        """The best comb score: how strongly the mark's lattice shows in the outline (a ranking, not evidence)."""
        return max((score for _, score in self.combs), default=-np.inf)


def outline(search: Search, quad: NDArray[np.float64], name: str, variants: tuple[NDArray[np.float64], ...] = ()) -> Outline:
    """Rectify a screen outline and measure the comb's scales in it."""
    rectified = rectify_quad(search.y, quad)
    if rectified is None:  # a degenerate outline: nothing to measure
        return Outline(name, quad, np.zeros((1, 1), np.float32), np.eye(3), 1.0, [], variants)
    rect, rect_hom, shrink = rectified
    # An upright rectangle is a digital composite (a screenshot with a border,
    # a shared screen in a video call), not an optical photo: no glare to mask.
    base = Geometry(name, rect_hom, 1.0 / shrink, quad, photo=not axis_aligned(quad))
    combs = comb_candidates(rect, base, QUAD_COMB_CANDIDATES, (0.85, 1.18), float(rect.shape[1]))
    return Outline(name, quad, rect, rect_hom, shrink, combs, variants)


SIDE_MARGIN = 0.5
"""A side variant replaces its outline when its best phase peak is stronger by this much (robust z)."""

Probed = list[tuple[Geometry, Evaluation]]
Spare = list[tuple[Geometry, Candidate]]
"""Probes that were only observed: each geometry with its best phase peak (the evaluation itself let go)."""
SPARE_DECODE_ABOVE = 4.5
"""A spare probe is decoded when its peak reaches the noise field's own maxima (4-4.5)."""
REFINED_SPARES = 2
"""Spare probes of the first outline refined when none decodes as it is (about 4 s each on a 1440p screen)."""


PROBE_ORIENTATIONS = [(k, False) for k in range(4)]
"""Orientations a side variant's probes are ranked in: a photographed screen is seen turned, never mirrored."""
CLEAR_PROBE = 8.0
"""A probe peak this strong (twice the noise field's maxima) ends the search among side variants."""


def _display_probes(search: Search, name: str, quad: NDArray[np.float64], orientations: list[tuple[int, bool]] = DIHEDRAL,
                    lens: float = 0.0) -> Probed:
    """The outline mapped onto each plausible display resolution, evaluated, strongest phase peak first."""
    if axis_aligned(quad):
        return []  # a panel of a screenshot, not a display: the input as it is covers it
    base = Geometry(name, None, 1.0, quad, photo=True, lens=lens)
    evaluated = [(g, search.evaluate(g, orientations)) for g in display_geometries(base, quad, search.y.shape)]
    evaluated.sort(key=lambda item: item[1].best, reverse=True)
    return evaluated


def _best(probed: Probed) -> float:
    return max((e.best for _, e in probed), default=-np.inf)


def _probe(search: Search, mapped: Geometry, quad: NDArray[np.float64], name: str, *, displays: bool, lens: float = 0.0) -> Probed:
    """An alternative outline's probes: ``mapped`` (the outline's first comb geometry carried over to it) first,
    then, with ``displays``, its display resolutions."""
    probes = [(mapped, search.evaluate(mapped, PROBE_ORIENTATIONS))]
    if displays:
        probes += _display_probes(search, name, quad, PROBE_ORIENTATIONS, lens=lens)
    return probes


def choose_sides(search: Search, found: Outline, first: Evaluation, *, displays: bool,
                 spare: Spare | None = None) -> tuple[Outline, Probed | None]:
    """Let the mark choose between an outline (whose first comb geometry gave ``first``) and its side variants.

    Returns the winner and its display-resolution probes (None when not
    made). Each variant (``Outline.variants``) is probed at the outline's
    best comb scale, its corners mapped into the outline's rectified frame
    so the comb's measurement carries over, and, with ``displays``, at each
    plausible display resolution: exact when the outline is the panel's
    edge. A side moved to the panel's edge removes the lattice's
    misregistration along it, and the phase peak rises from the noise. A
    variant wins by ``SIDE_MARGIN``. Every probe is shown to the observers:
    ledger-assisted attribution's known-codeword statistic sees a mark on
    geometries where the blind phase peak is still at the noise floor.
    ``spare``: where the probes that are only observed are kept (``keep_spare``).
    """
    if not found.variants or not found.combs:
        return found, None
    t = time.perf_counter()
    base_displays = _display_probes(search, found.name, found.quad) if displays else []
    probe, _ = found.combs[0]
    assert probe.to_screen is not None  # a comb geometry of a rectified outline
    comb_scale = probe.to_screen @ np.linalg.inv(found.rect_hom)
    best_peak, winner = max(first.best, _best(base_displays)) + SIDE_MARGIN, None
    for i, quad in enumerate(found.variants):
        name = f"{found.name}~side{i}"
        c = cv2.perspectiveTransform(quad.reshape(-1, 1, 2), found.rect_hom).reshape(-1, 2)
        left, right = (c[0, 0] + c[3, 0]) / 2, (c[1, 0] + c[2, 0]) / 2
        top, bottom = (c[0, 1] + c[1, 1]) / 2, (c[2, 1] + c[3, 1]) / 2
        target = np.array([[left, top], [right, top], [right, bottom], [left, bottom]])
        hom = cv2.getPerspectiveTransform(quad.astype(np.float32), target.astype(np.float32)).astype(np.float64)
        probes = _probe(search, Geometry(name, comb_scale @ hom, probe.scale, quad, probe.photo), quad, name, displays=displays)
        if _best(probes) > best_peak:
            if winner is not None:
                _observe_all(search, winner[2], spare)
            best_peak, winner = _best(probes), (quad, name, probes)
            if best_peak >= CLEAR_PROBE:
                break
        else:
            _observe_all(search, probes, spare)
    search.timings[f"{found.name}_sides_s"] = time.perf_counter() - t
    if winner is None:
        return found, base_displays if displays else None
    _observe_all(search, base_displays, spare)
    quad, name, probes = winner
    search.observe(*probes[0])
    return outline(search, quad, name), probes[1:] if displays else None


def _observe_all(search: Search, probed: Probed, spare: Spare | None = None) -> None:
    for geometry, evaluation in probed:
        search.observe(geometry, evaluation)
    if spare is not None:
        keep_spare(spare, probed)


def keep_spare(spare: Spare, probed: Probed) -> None:
    """Keep the probes' best peaks, the strongest ``SPARE_DECODES`` of all, for ``attempt_spare``."""
    spare.extend((g, e.candidates[0]) for g, e in probed if e.candidates and e.best >= SPARE_DECODE_ABOVE)
    spare.sort(key=lambda item: item[1].score, reverse=True)
    del spare[SPARE_DECODES:]


def attempt_spare(search: Search, spare: Spare, refine: int = 0) -> bool:
    """Decode once each the probes that were only observed, strongest peak first; then refine the ``refine`` strongest.

    Among a few dozen probes (side variants times display resolutions
    times orientations) the noise field's maxima reach 6-7 while the one
    right geometry of a small, dim capture may peak at 5: the phase peak
    alone cannot pick it, but its decode passes the keyed check where the
    others fail. Each decode costs at most 5 checks, counted in the bound.
    """
    tried = {h.name for h in search.hypotheses}
    if any(search.decode_spare(g, c) for g, c in spare if g.name not in tried):
        return True
    # A right geometry a little off (a side variant 1 % from the panel's
    # edge) may not decode until refined, when its peak climbs clear of the
    # noise; a refinement costs seconds, so only the strongest few get one.
    for geometry, _ in spare[:refine]:
        if search.spare_decodes >= SPARE_DECODES:
            return False  # a refinement could not be decoded: spare its seconds
        evaluation = search.evaluate(geometry)
        if not worth_refining(geometry, evaluation, weak=True):
            continue
        refined, refined_evaluation = Refinement(search, geometry, evaluation).run()
        search.observe(refined, refined_evaluation)
        if refined_evaluation.candidates and search.decode_spare(refined, refined_evaluation.candidates[0], refined_evaluation):
            return True
    return False


def with_lens(search: Search, found: Outline, k1: float) -> Outline:
    """The outline's geometries re-expressed through a lens: the same rectified frame, reached from ideal coordinates."""
    shape = search.y.shape
    corners = cv2.perspectiveTransform(found.quad.reshape(-1, 1, 2), found.rect_hom).reshape(-1, 2)
    ideal = undistort_points(found.quad, k1, shape)
    rect_hom = cv2.getPerspectiveTransform(ideal.astype(np.float32), corners.astype(np.float32)).astype(np.float64)
    combs = []
    for g, score in found.combs:
        assert g.to_screen is not None
        scale = g.to_screen @ np.linalg.inv(found.rect_hom)
        combs.append((replace(g, name=f"{g.name}~lens", to_screen=scale @ rect_hom, lens=k1), score))
    return replace(found, name=f"{found.name}~lens", rect_hom=rect_hom, combs=combs, variants=(), lens=k1)


def choose_lens(search: Search, found: Outline, first: Evaluation | None, display_probes: Probed | None, *,
                displays: bool) -> tuple[Outline, Probed | None]:
    """Fit the lens from the outline's edges (``fit_lens``); keep it when the mark agrees.

    The distorted outline's best probe (its first comb geometry, and its
    display resolutions when probed) is compared with the same probes
    through the lens; the lens is kept when its best is stronger by
    ``SIDE_MARGIN``. Every probe is shown to the observers.
    """
    if not found.combs or axis_aligned(found.quad):
        return found, display_probes
    k1 = fit_lens(edge_points(search.y, found.quad, LENS_EDGE_RADIUS), search.y.shape)
    if not k1:
        return found, display_probes
    t = time.perf_counter()
    lensed = with_lens(search, found, k1)
    probes = _probe(search, lensed.combs[0][0], found.quad, lensed.name, displays=displays, lens=k1)
    if displays and display_probes is None:
        display_probes = _display_probes(search, found.name, found.quad)
    search.timings[f"{found.name}_lens_s"] = time.perf_counter() - t
    plain = max(first.best if first is not None else -np.inf, _best(display_probes or []))
    if _best(probes) < plain + SIDE_MARGIN:
        _observe_all(search, probes)
        return found, display_probes
    _observe_all(search, (display_probes or []) + probes[:1])
    return lensed, probes[1:] if displays else None


LENS_EDGE_RADIUS = 2.0
"""Edge points for the lens fit are sought this close to the outline's fitted sides (px): a few times the bend."""


def attempt_outline(search: Search, found: Outline, *, thorough: bool = True, displays: bool = False) -> bool:
    """Try the comb's scales of an outline (the best one refined even when weak), then its display resolutions.

    When the best comb scale does not decode and its peak is unclear, the
    outline is chosen anew among its side variants (``choose_sides``) and
    with or without a fitted lens (``choose_lens``); the rest is tried on the winner.
    Not ``thorough``: only the comb's best scale (a runner-up outline).
    ``displays``: also the display resolutions (a clear outline: a bezel all round).
    """
    display_probes: Probed | None = None
    spare: Spare = []
    start = 0
    if found.combs:
        first = search.evaluate(found.combs[0][0])
        if search.attempt(found.combs[0][0], refine=True, refine_weak=True, evaluated=first):
            return True
        if first.best < REFINE_BELOW:  # unclear: let the mark choose the sides and the lens
            chosen, display_probes = choose_sides(search, found, first, displays=displays, spare=spare)
            chosen, display_probes = choose_lens(search, chosen, first if chosen is found else None, display_probes, displays=displays)
            start = 0 if chosen is not found else 1
            found = chosen
        else:
            start = 1
    if displays and display_probes and _best(display_probes) >= DISPLAY_DECODE_ABOVE:
        # The side variant won on a display resolution's peak: try those first.
        if attempt_displays(search, found, display_probes, spare):
            return True
        displays = False
    combs = found.combs if thorough else found.combs[:1]
    for i, (geometry, _) in enumerate(combs[start:], start):
        if search.attempt(geometry, refine=True, refine_weak=i == 0):
            return True
    if displays and attempt_displays(search, found, display_probes, spare):
        return True
    if spare and attempt_spare(search, spare, REFINED_SPARES if thorough else 0):
        return True
    if not thorough:
        return False
    # Seen steeply off-axis, a side's foreshortening makes the rectangle's
    # side lengths a poor guide to its aspect (and a cropped photo hides the
    # principal point that would fix it): search the aspect widely.
    wide = Geometry(f"{found.name}-wide", found.rect_hom, 1.0 / found.shrink, found.quad, photo=not axis_aligned(found.quad), lens=found.lens)
    return any(search.attempt(g, refine=True) for g in comb_geometries(found.rect, wide, 2, (0.5, 2.0), float(found.rect.shape[1])))


DISPLAYS_DECODED = 2
"""Display-resolution hypotheses of an outline that may be refined and decoded (the best phase peaks, when above
``REFINE_ABOVE``); the rest are only observed (ledger-assisted attribution tests its candidates on them)."""


DISPLAY_DECODE_ABOVE = 5.5
"""A display hypothesis is refined and decoded only when its phase peak reaches this before refinement."""


def attempt_displays(search: Search, found: Outline, probed: Probed | None = None, spare: Spare | None = None) -> bool:
    """Map the outline onto the plausible display resolutions; decode the strongest, show every one to the observers.

    The comb measures scale poorly when the screen is small in the photo;
    a display's native resolution needs no measurement (``display_geometries``).
    ``probed``: those evaluations, already made (``choose_sides``).
    """
    if probed is None:
        t = time.perf_counter()
        probed = _display_probes(search, found.name, found.quad, lens=found.lens)
        search.timings[f"{found.name}_displays_s"] = time.perf_counter() - t
    for i, (geometry, evaluation) in enumerate(probed):
        # Decodes are budgeted (MAX_DECODES) and later strategies need theirs: only a peak clearly
        # above the noise field's own maxima (about 4-4.5) earns one.
        if i < DISPLAYS_DECODED and evaluation.best >= DISPLAY_DECODE_ABOVE:
            if search.attempt(geometry, refine=True, refine_weak=i == 0, evaluated=evaluation):
                return True
        else:
            _observe_all(search, [(geometry, evaluation)], spare)
    return False


def attempt_quad(search: Search, quad: NDArray[np.float64], name: str) -> bool:
    """Rectify a screen outline and try the comb's scales."""
    return attempt_outline(search, outline(search, quad, name))


def axis_aligned(quad: NDArray[np.float64], *, slope: float = AXIS_ALIGNED_SLOPE, pixels: float = AXIS_ALIGNED_PX) -> bool:
    """True for an upright rectangle: each side's ends are within ``slope * length + pixels`` of horizontal or vertical.

    A photographed screen is practically never that exact; a panel inside a
    screenshot always is (and the input as it is covers it).
    """
    d = np.abs(np.roll(quad, -1, axis=0) - quad)
    off_axis = d.min(axis=1)  # the small component: 0 for an axis-parallel side
    return bool(np.all(off_axis <= slope * d.max(axis=1) + pixels))


def _outlines(search: Search) -> list[ScreenCandidate]:
    """The multi-cue finder's outlines (computed once per trace)."""
    if search.outlines is None:
        search.outlines = _timed(search, "quad_s", lambda: screen_candidates(search.rgb, limit=OUTLINES_TRIED + 2))
    return search.outlines


def _try_outlines(search: Search, candidates: list[ScreenCandidate], prefix: str, *, displays: bool = False) -> bool:
    """Rectify outlines, order them by comb score (the mark decides) and try them, the first thoroughly."""
    if not candidates:
        return False
    names = [prefix] + [f"{prefix}-{i + 1}" for i in range(1, len(candidates))]
    outlines = _timed(search, f"{prefix}_rank_s", lambda: [outline(search, c.quad, n, c.variants) for c, n in zip(candidates, names)])
    outlines.sort(key=lambda o: o.comb_score, reverse=True)
    return any(attempt_outline(search, o, thorough=i == 0, displays=displays) for i, o in enumerate(outlines))


def screen_quad(search: Search) -> bool:
    """A clear screen outline (a contrast step all round: bezel or wall): a phone photo.

    The multi-cue finder proposes several outlines; clear ones are tried
    before the input as it is, by their comb score (how strongly the
    carrier's lattice shows in them), best first, the first thoroughly and
    the others at their best comb scale, each also mapped onto the
    plausible display resolutions (``attempt_displays``).
    """
    return _try_outlines(search, [c for c in _outlines(search) if c.score >= CLEAR_OUTLINE][:OUTLINES_TRIED], "screen-quad", displays=True)


def faint_screen_quad(search: Search) -> bool:
    """Outlines with a weak border step (a dark screen in a dark bezel, a borderless screen on a light wall): after the input as it is.

    Upright rectangles among them are regions of a screenshot (a dark
    panel, a table), which the input as it is has covered: skipped. The
    clear outlines that ``screen_quad`` had no turn for (a window or a
    picture frame on the wall can step more sharply than the screen's
    bezel) go first.
    """
    outlines = _outlines(search)
    untried = [c for c in outlines if c.score >= CLEAR_OUTLINE][OUTLINES_TRIED:]
    faint = [c for c in outlines if c.score < CLEAR_OUTLINE and not axis_aligned(c.quad)]
    return _try_outlines(search, untried + faint[:OUTLINES_TRIED], "faint-screen-quad")


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
    rectified = rectify(search.y, lines_hom, image_corners(w, h))
    if rectified is None:  # the fitted horizon crosses the photo: no rectangle shows it
        return False
    rect, rect_hom, shrink = rectified
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


STRATEGIES: list[Strategy] = [screen_quad, as_is, faint_screen_quad, dark_screen_quad, content_lines, whole_image]
"""In the order tried."""

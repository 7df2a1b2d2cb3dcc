"""The geometry search: fold each hypothesis, rank its phase peaks, decode the best, count every keyed check."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
from numpy.typing import NDArray

from watermark import ExtractResult, Key, LeaktraceError
from watermark.decoding import PhaseCandidate, decode_at, fold_tiles, luma, oriented_phase_candidates, suppress_content

from ._geometry import DIHEDRAL, Geometry, orient, screen_luma, unclipped
from ._locate import ScreenCandidate
from ._refine import Refinement, worth_refining
from ._result import Hypothesis

__all__ = ["TimeLimitExceeded", "Candidate", "Evaluation", "Found", "Search", "MIN_DECODE_SCORE", "MAX_DECODES", "DECODES_PER_GEOMETRY",
           "SPARE_DECODES"]

MIN_DECODE_SCORE = 3.5
"""Phase peaks weaker than this (robust z) are not worth a decode: the field's own maxima reach about 4."""
MAX_DECODES = 24
"""Decode attempts per image, over all geometries, orientations, phases and keys."""
DECODES_PER_GEOMETRY = 3
"""Decode attempts per geometry: a right geometry puts the true phase at the top."""
WEAK_PEAK = 5.5
"""A geometry whose best phase peak is under this (the noise field's own maxima reach 4-4.5) gets one decode,
not ``DECODES_PER_GEOMETRY``: the budget is kept for the clear peaks a later hypothesis may show."""
SPARE_DECODES = 32
"""Decodes allowed per image, beyond ``MAX_DECODES``, for probes that were only observed (``decode_spare``)."""
PHASES_PER_ORIENTATION = 2
"""Phase peaks kept per key and orientation when ranking a folded tile."""


class TimeLimitExceeded(LeaktraceError, TimeoutError):
    """The geometry search ran past its time limit (``trace(..., time_limit=)``); ``.seconds`` is the limit."""

    seconds: float


@dataclass(frozen=True)
class Candidate:
    """One decodable reading of a folded tile: a key, an orientation and a tile phase."""

    score: float
    """The phase peak's robust z-score (``PhaseCandidate.score``)."""
    key: Key
    turns: int
    """Quarter turns undone on the folded tile."""
    mirrored: bool
    tile: NDArray[np.float64]
    """The folded tile in this orientation."""
    phase: PhaseCandidate

    @property
    def orientation(self) -> tuple[int, bool]:
        return (self.turns, self.mirrored)


@dataclass(frozen=True)
class Evaluation:
    """A geometry resampled, content-suppressed, folded and ranked."""

    candidates: list[Candidate]
    """Best phase peak first."""
    out_hom: NDArray[np.float64] | None
    """Input -> resampled-screen homography (None: the input as it is)."""
    residual: NDArray[np.float32]
    weight: NDArray[np.float32]
    folded: NDArray[np.float64]
    """The folded tile the candidates were ranked on (upright orientation)."""

    @property
    def best(self) -> float:
        """The strongest phase peak, or -inf when there is none."""
        return self.candidates[0].score if self.candidates else -np.inf


@dataclass(frozen=True)
class Found:
    """A decode that passed the keyed check, and the geometry (and fold) it was read in."""

    result: ExtractResult
    key: Key
    geometry: Geometry
    out_hom: NDArray[np.float64] | None
    evaluation: Evaluation
    """The fold it was decoded from (for the search for more marks: the same geometry's other peaks and areas)."""
    candidate: Candidate
    mac_checks: int
    """Keyed checks made in the whole trace up to and including this decode: its own false-attribution bound
    is this times 2**-40 (no later check can have produced it)."""
    hypothesis: str
    """Name of the hypothesis it was decoded in (the geometry's, or a fold of part of it: ``~rest``)."""
    region: NDArray[np.float64] | None = None
    """Input-pixel corners (TL, TR, BR, BL) of the area that carries it, once measured (``tracer._marks``)."""

    @property
    def identity(self) -> tuple[str, bytes]:
        """Key fingerprint and payload bytes: the same mark read twice has the same identity."""
        assert self.result.payload is not None  # a Found always passed the keyed check
        return self.key.fingerprint, self.result.payload.to_bytes()


def rank_folded(folded: NDArray[np.float64], keys: list[Key], orientations: list[tuple[int, bool]]) -> list[Candidate]:
    """Phase peaks of a folded tile over keys and orientations, strongest first."""
    out = []
    peaks = oriented_phase_candidates(folded, keys, orientations, PHASES_PER_ORIENTATION)
    tiles = [orient(folded, turns, mirrored) for turns, mirrored in orientations]
    for key, per_key in zip(keys, peaks):
        for (turns, mirrored), tile, phases in zip(orientations, tiles, per_key):
            for phase in phases:
                out.append(Candidate(phase.score, key, turns, mirrored, tile, phase))
    out.sort(key=lambda c: c.score, reverse=True)
    return out


class Search:
    """State of one trace: the input, the keys, the decode budget and what every attempt cost.

    Parameters
    ----------
    rgb : ndarray (H, W, 3) uint8
        The input image.
    keys : list of Key
    timings : dict
        Where to record the seconds each step took (shared with the caller).

    Attributes
    ----------
    mac_checks : int
        Codewords checked against the keyed MAC so far, over every geometry:
        the false-attribution bound is this times 2**-40.
    decodes : int
        Decode attempts so far (at most ``MAX_DECODES``).
    best_score : float
        Strongest phase peak seen over all geometries (a diagnostic).
    found : Found or None
        The first decode that passed the keyed check.
    marks : list of Found
        Every distinct payload that passed the keyed check, in the order
        found (``tracer._marks`` looks for more after the first).
    decode_limit : int
        Decode attempts allowed in all (``MAX_DECODES``, raised by the search
        for more marks by its own budget).
    spare_decodes : int
        Decodes of probes that were only observed (``decode_spare``), at most
        ``SPARE_DECODES``, outside ``decodes`` and its budget; their checks count in ``mac_checks``.
    """

    def __init__(self, rgb: NDArray[np.uint8], keys: list[Key], timings: dict[str, float]) -> None:
        self.rgb = rgb
        self.keys = keys
        self.timings = timings
        self.hypotheses: list[Hypothesis] = []
        self.mac_checks = 0
        self.decodes = 0
        self.best_score = -np.inf
        self.marks: list[Found] = []
        self.decode_limit = MAX_DECODES
        self.spare_decodes = 0
        self.more_marks: str | None = None
        """How the search for more marks after the first ended ("complete", "time limit"); None: it did not run."""
        self._unclipped: NDArray[np.bool_] | None = None
        self.outlines: list[ScreenCandidate] | None = None
        """Screen outlines of the input, once a strategy has looked for them."""
        self.deadline: float | None = None
        self.time_limit: float | None = None
        """``time.perf_counter()`` value past which the next evaluation raises ``TimeLimitExceeded``."""
        self.observers: list[Callable[[Geometry, Evaluation], None]] = []
        """Called with every geometry attempted (after refinement) and its evaluation, before decoding:
        ledger-assisted attribution tests its candidates on the same geometries the blind search tries."""

    @property
    def found(self) -> Found | None:
        """The first mark found (None: none yet)."""
        return self.marks[0] if self.marks else None

    @functools.cached_property
    def y(self) -> NDArray[np.float32]:
        """The input's luma, computed when a strategy first needs it (never for an image the screening dismissed)."""
        return luma(self.rgb)

    def rank(self, residual: NDArray[np.float32], weight: NDArray[np.float32], orientations: list[tuple[int, bool]]) -> list[Candidate]:
        """Fold a content-suppressed field and rank its phase peaks."""
        folded, _ = fold_tiles(residual, weight)
        return rank_folded(folded, self.keys, orientations)

    def evaluate(self, geometry: Geometry, orientations: list[tuple[int, bool]] = DIHEDRAL) -> Evaluation:
        """Resample the input to ``geometry``, suppress content, fold and rank."""
        if self.deadline is not None and time.perf_counter() > self.deadline:
            raise TimeLimitExceeded("the geometry search ran past its time limit", seconds=self.time_limit)
        if geometry.photo and self._unclipped is None:
            self._unclipped = unclipped(self.y)
        screen = screen_luma(self.y, geometry, self._unclipped if geometry.photo else None)
        residual, weight = suppress_content(screen.luma, valid=screen.valid)
        folded, _ = fold_tiles(residual, weight)
        return Evaluation(rank_folded(folded, self.keys, orientations), screen.out_hom, residual, weight, folded)

    def observe(self, geometry: Geometry, evaluation: Evaluation) -> None:
        """Show an evaluated geometry to the observers without decoding it (a hypothesis ranked below the decoded ones)."""
        self.best_score = max(self.best_score, evaluation.best)
        for observe in self.observers:
            observe(geometry, evaluation)

    def attempt(self, geometry: Geometry, *, refine: bool = False, refine_weak: bool = False, evaluated: Evaluation | None = None) -> bool:
        """Evaluate (or take ``evaluated``), refine if asked and unclear, decode the best peaks; True on a keyed match.

        ``refine_weak`` refines even below ``REFINE_ABOVE`` (a geometry known
        to be about right, whose peak may still be at the noise floor).
        """
        t = time.perf_counter()
        evaluation = self.evaluate(geometry) if evaluated is None else evaluated
        if refine and worth_refining(geometry, evaluation, weak=refine_weak):
            refined, refined_evaluation = Refinement(self, geometry, evaluation).run()
            if refined is not geometry:
                # The climb follows the blind phase statistic, which a weak mark barely moves:
                # observers also see the geometry it started from.
                self.observe(geometry, evaluation)
            geometry, evaluation = refined, refined_evaluation
        self.observe(geometry, evaluation)
        hit = self._decode(geometry, evaluation)
        self.timings[f"{geometry.name}_s"] = time.perf_counter() - t
        return hit

    def _decode(self, geometry: Geometry, evaluation: Evaluation) -> bool:
        """Decode the strongest peaks of one geometry within the budget; record the hypothesis."""
        checks_here = 0
        per_geometry = DECODES_PER_GEOMETRY if evaluation.best >= WEAK_PEAK else 1
        for candidate in evaluation.candidates[:per_geometry]:
            if candidate.score < MIN_DECODE_SCORE or self.decodes >= self.decode_limit:
                break
            result, checks = decode_at(candidate.tile, candidate.key, candidate.phase)
            self.decodes += 1
            checks_here += checks
            if result.found:
                self.mac_checks += checks_here
                self.add_mark(Found(result, candidate.key, geometry, evaluation.out_hom, evaluation, candidate, self.mac_checks, geometry.name))
                self._record(geometry, candidate.turns, candidate.mirrored, candidate.score, True, checks_here)
                return True
        self.mac_checks += checks_here
        self._record(geometry, 0, False, evaluation.best, False, checks_here)
        return False

    def decode_spare(self, geometry: Geometry, candidate: Candidate, evaluation: Evaluation | None = None) -> bool:
        """Decode the best phase peak of a geometry that was only observed (a probe ranked below the decoded ones).

        Allowed ``SPARE_DECODES`` times per image, outside the decode budget
        (the hypotheses after this one keep theirs); every check counts
        toward the bound as any other. A probe's evaluation was let go to
        save memory: on a keyed match without ``evaluation`` (the one
        ``candidate`` was ranked in), the geometry is evaluated again for the
        mark's fold and region.
        """
        if self.spare_decodes >= SPARE_DECODES or candidate.score < MIN_DECODE_SCORE:
            return False
        result, checks = decode_at(candidate.tile, candidate.key, candidate.phase)
        self.spare_decodes += 1
        self.mac_checks += checks
        self._record(geometry, candidate.turns, candidate.mirrored, candidate.score, result.found, checks)
        if not result.found:
            return False
        if evaluation is None:
            evaluation = self.evaluate(geometry)
        self.add_mark(Found(result, candidate.key, geometry, evaluation.out_hom, evaluation, candidate, self.mac_checks, geometry.name))
        return True

    def decode_one(self, geometry: Geometry, evaluation: Evaluation, candidate: Candidate, hypothesis: str) -> Found | None:
        """Decode one chosen candidate (the search for more marks), count its checks, record it as ``hypothesis``.

        Returns the mark when its payload passed the keyed check (already
        known or not: ``add_mark`` tells), else None.
        """
        result, checks = decode_at(candidate.tile, candidate.key, candidate.phase)
        self.decodes += 1
        self.mac_checks += checks
        self.hypotheses.append(Hypothesis(hypothesis, round(geometry.scale, 4), candidate.turns, candidate.mirrored,
                                          round(candidate.score, 2), result.found, checks))
        if not result.found:
            return None
        return Found(result, candidate.key, geometry, evaluation.out_hom, evaluation, candidate, self.mac_checks, hypothesis)

    def add_mark(self, found: Found) -> bool:
        """Keep a decoded mark unless the same payload under the same key is already held; True when it is new."""
        if any(m.identity == found.identity for m in self.marks):
            return False
        self.marks.append(found)
        return True

    def _record(self, geometry: Geometry, turns: int, mirrored: bool, score: float, found: bool, checks: int) -> None:
        self.hypotheses.append(Hypothesis(geometry.name, round(geometry.scale, 4), turns, mirrored, round(score, 2), found, checks))

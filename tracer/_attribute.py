"""Ledger-assisted attribution: which of a record's known views is in this image.

Blind decoding looks for one payload among 2**64. An investigator usually
knows much more: the photo shows whose record it is, and the access ledger
lists every stamped view of that record (tens to thousands of (viewer,
minute) pairs). Each candidate's whole codeword is known, so every slot is
evidence, and the test is a matched filter: the candidate's pattern
correlated with the folded residual at every tile phase, in the geometries
the blind search tries (the same :class:`~tracer._search.Search`, observed;
there is no second geometry search).

Statistic
---------
For a candidate with codeword signs ``x`` (+-1 per channel bit), a folded
tile in one orientation and one cyclic shift ``t``, let ``c_j(t)`` be bit
``j``'s soft value (the signed sum of its 2-3 keyed slots). The score is the
self-normalised correlation::

    z(t) = sum_j x_j c_j(t) / sqrt(sum_j c_j(t)**2)

and a candidate's score is its maximum over every geometry, orientation and
shift tried. ``sum_j c_j(t)**2`` is the blind search's own phase statistic
(the energy of all group correlations), so a thousand candidates cost one
matrix product per orientation on top of what the blind search computes.

Why the bound holds (detection, an image without this key's mark)
-----------------------------------------------------------------
The slots' signs are keyed and independent of an image that does not carry
this key's mark. Flipping every sign of one bit's group maps a sign pattern
to another equally likely one, negates ``c_j`` and leaves ``|c_j|``, the
energy statistic, and so everything the blind search decides (which
geometries, refinements and phases it visits) unchanged. Conditioned on all
of that, the signs ``g_j`` of the ``c_j`` are therefore independent fair
coins, and ``z = sum_j g_j x_j |c_j| / ||c||`` is a Rademacher sum with unit
variance proxy: by Hoeffding's inequality ``P(z >= s) <= exp(-s**2 / 2)``,
and by Pinelis' (1994) ``P(z >= s) <= (2 e**3 / 9) Q(s)`` (``Q`` the normal
tail; the smaller of the two is used), for any fixed candidate, whatever
the image, its content, the camera or the noise (no noise model). A union
bound over every test (candidates x geometries x 8 orientations x 65,536
pixel shifts per tile) gives the detection part of the false-attribution
probability, ``candidates * tests * tail(z)``. (Decodes that passed the MAC by
chance, at most ``mac_checks * 2**-40``, would change the search's path;
that term is added.)

Related candidates (an image carrying this key's mark of another view)
-------------------------------------------------------------------
Codewords of different payloads are nearly orthogonal: measured over 3,000
neighbouring minutes of one viewer and 3,000 viewers in one minute, the
codeword correlation ``rho`` stayed within -0.31..0.44 (random pairs: sd
0.07), because the 40 MAC bits change at random with any payload bit. Two
rules keep a related view from being named:

* *Separation* from every other candidate: for the best candidate 1 and each
  other candidate 2, read at candidate 1's best geometry, orientation and
  shift, ``D = (z1 - z2) / sqrt(2 (1 - rho))``. Were candidate 2 the truth
  (mark amplitude ``mu`` in score units, Gaussian noise of at most unit
  variance per score, correlation ``rho`` between the two), then
  ``z1 ~ N(rho mu, 1)`` and ``D ~ N(-mu sqrt((1 - rho) / 2), 1)``, so seeing
  both is at most ``max_mu min(Q(z1 - rho mu), Q(D + mu sqrt((1 - rho) / 2)))``.
  These pairwise bounds are summed over the other candidates and added to
  the detection part. Candidates of the *same viewer* that cannot be
  separated this way are reported together, as a minute range.
* *Fit against the whole code*: the list decoder's best codewords for the
  same soft values (none checked against the MAC, so they cost nothing)
  must not fit better than the named candidate by more than ``FIT_MARGIN``.
  A view that is not among the candidates but is related to one of them
  fits its own codeword far better than the related candidate
  (by ``(1 - rho) mu``); noise alone gets a list codeword at most about
  ``sqrt(2 ln 2**104) = 12`` above zero, about 2.6 above the weakest named
  score. And when the blind decode names a view that is not among the
  candidates, nobody from the candidates is named.

A candidate is named when the sum of these bounds is at most ``threshold``
(default ``1e-9``). The empirical null (``null_samples`` random payloads
that were never displayed, scored on the same tests) checks the derived
bound on the image itself; see ``benchmarks/attribution.py``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import scipy.fft
from numpy.typing import NDArray
from scipy.special import log_ndtr

from watermark import DEFAULT_MAX_PIXELS, EARLIEST_TIMESTAMP, Key, OptionError, OptionTypeError, Payload
from watermark.decoding import (
    BAND,
    CHANNEL_BITS,
    MAC_BITS,
    TILE,
    decode_soft_bits,
    encode_payload,
    list_codewords,
    slot_layout,
    oriented_band_spectra,
    soft_bits_at,
    spectrum_correlations,
)

from ._geometry import DIHEDRAL, Geometry, orient
from ._result import TraceResult
from ._search import Evaluation
from ._trace import _keys, run_search, trace_result

__all__ = [
    "Attribution",
    "CandidateScore",
    "DEFAULT_THRESHOLD",
    "FIT_MARGIN",
    "attribute",
    "attribute_sets",
    "pair_bound",
]

DEFAULT_THRESHOLD = 1e-9
"""Name a candidate only when the false-attribution probability is at most this."""
FIT_MARGIN = 6.0
"""The list decoder's best codeword may fit the soft values at most this much better (score units) than a named candidate."""
REFINED = 16
"""Candidates (best grid scores first) whose tile phase is refined to the pixel."""
FINE_RADIUS = 2
"""Pixel refinement: at most this far from the band-grid shift (band steps are 4 px)."""
SHIFTS_PER_ORIENTATION = TILE * TILE
"""Tests counted per orientation and geometry: every pixel shift of the tile (the search visits fewer)."""
MAX_CANDIDATES = 200_000
"""Candidate sets larger than this are refused (narrow the window)."""
NULL_SPAN = timedelta(days=366)
"""Null payloads take random minutes within this span of the candidates' own times."""


@dataclass(frozen=True)
class CandidateScore:
    """One candidate view and how strongly its pattern shows in the image.

    Attributes
    ----------
    payload : Payload
        The viewer ID and minute the view was stamped with.
    key_fingerprint : str
    score : float
        Best matched-filter score ``z`` over every test (see the module notes).
    bound : float
        ``tests * tail(score)``: the probability bound for this one
        candidate reaching its score on an image without its mark.
    geometry : str or None
        Name of the geometry where the score peaked.
    views : tuple
        The ledger rows (``ledger.View``) with this payload, when the
        candidates came from a ledger (one payload may be several views:
        records opened in the same minute).
    """

    payload: Payload
    key_fingerprint: str
    score: float
    bound: float
    geometry: str | None
    views: tuple[Any, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "viewer_id": self.payload.viewer_id,
            "minute": self.payload.timestamp.isoformat(),
            "key_fingerprint": self.key_fingerprint,
            "score": round(self.score, 3),
            "bound": self.bound,
            "geometry": self.geometry,
            "records": sorted({str(getattr(v, "record_id", "")) for v in self.views} - {""}),
        }


@dataclass(frozen=True)
class Attribution:
    """Which candidate view (if any) the image carries.

    Attributes
    ----------
    named : bool
        True when a viewer is named (the bound is at most ``threshold``).
    viewer_id : int or None
    minute_from, minute_to : datetime or None
        The minute of the view, or the range of that viewer's candidate
        minutes that cannot be told apart.
    false_attribution_probability : float or None
        Bound on naming the wrong viewer (or a viewer at all on an image
        without a candidate's mark): detection + separation parts, computed
        for the best candidate whether or not it was named.
    threshold : float
    reason : str
        One sentence: why this viewer, or why nobody.
    ranked : list of CandidateScore
        Every candidate, best score first.
    candidates : int
        Distinct (payload, key) candidates tested.
    tests : int
        Tests per candidate (geometries x orientations x pixel shifts).
    detection_bound, separation_bound : float or None
        The two parts of ``false_attribution_probability``.
    fit_gap : float or None
        Best list-decoder codeword's score minus the best candidate's.
    null_scores : ndarray or None
        Scores of ``null_samples`` random payloads never displayed (the image's own null).
    blind : TraceResult
        The blind trace of the same search (``blind.found``: a payload passed the MAC).
    corroborated : bool
        The blind decode found the named candidate itself.
    timings : dict
    """

    named: bool
    viewer_id: int | None
    minute_from: datetime | None
    minute_to: datetime | None
    false_attribution_probability: float | None
    threshold: float
    reason: str
    ranked: list[CandidateScore]
    candidates: int
    tests: int
    blind: TraceResult = field(repr=False)
    detection_bound: float | None = None
    separation_bound: float | None = None
    fit_gap: float | None = None
    corroborated: bool = False
    null_scores: NDArray[np.float64] | None = field(default=None, repr=False)
    timings: dict[str, float] = field(default_factory=dict)
    skipped: int = 0
    """Candidate rows recorded under a key that was not given: not tested (give that key to test them)."""

    @property
    def best(self) -> CandidateScore | None:
        return self.ranked[0] if self.ranked else None

    def score_threshold(self) -> float:
        """The score a single best candidate needs for the detection part alone to reach ``threshold``."""
        return _score_for(self.threshold, self.candidates * self.tests)

    def to_dict(self, top: int = 20) -> dict[str, Any]:
        """JSON-friendly form (the ``attribution`` object of ``trace-leak --json``)."""
        null = None
        if self.null_scores is not None and self.null_scores.size:
            q = np.quantile(self.null_scores, [0.5, 0.99])
            null = {"samples": int(self.null_scores.size), "max": round(float(self.null_scores.max()), 3),
                    "median": round(float(q[0]), 3), "p99": round(float(q[1]), 3)}
        return {
            "named": self.named,
            "viewer_id": self.viewer_id,
            "minute_from": None if self.minute_from is None else self.minute_from.isoformat(),
            "minute_to": None if self.minute_to is None else self.minute_to.isoformat(),
            "false_attribution_probability": self.false_attribution_probability,
            "threshold": self.threshold,
            "reason": self.reason,
            "corroborated_by_blind_decode": self.corroborated,
            "detection_bound": self.detection_bound,
            "separation_bound": self.separation_bound,
            "fit_gap": None if self.fit_gap is None else round(self.fit_gap, 3),
            "candidates": self.candidates,
            "skipped_other_keys": self.skipped,
            "tests_per_candidate": self.tests,
            "score_threshold": round(self.score_threshold(), 3),
            "ranked": [c.to_dict() for c in self.ranked[:top]],
            "null": null,
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
        }


# --------------------------------------------------------------------------
# Bounds
# --------------------------------------------------------------------------


def _log_q(x: float) -> float:
    """log of the standard normal upper tail Q(x)."""
    return float(log_ndtr(-x))


PINELIS = 2.0 * math.e**3 / 9.0
"""Pinelis' constant: a Rademacher sum of unit variance proxy has ``P(S >= s) <= PINELIS * Q(s)`` (Pinelis 1994)."""


def _log_tail(score: float) -> float:
    """log of the per-test tail bound: the smaller of Hoeffding's ``exp(-s**2 / 2)`` and Pinelis' ``4.46 Q(s)``."""
    return min(-score * score / 2.0, math.log(PINELIS) + _log_q(score))


def _score_for(probability: float, tests: float) -> float:
    """Smallest score ``s`` with ``tests * tail(s) <= probability`` (bisection; the tail falls with ``s``)."""
    target = math.log(probability) - math.log(max(tests, 1.0))
    lo, hi = 0.0, 40.0
    for _ in range(60):
        mid = (lo + hi) / 2.0
        lo, hi = (lo, mid) if _log_tail(mid) <= target else (mid, hi)
    return hi


def detection_bound(score: float, tests: float) -> float:
    """Union bound over ``tests``: ``min(1, tests * min(exp(-s**2 / 2), 4.46 Q(s)))`` for score ``s``.

    >>> round(_score_for(detection_bound(9.0, 1e9), 1e9), 6)
    9.0
    """
    return min(1.0, math.exp(min(0.0, math.log(max(tests, 1.0)) + _log_tail(score))))


def pair_bound(z1: float, z2: float, rho: float) -> float:
    """Bound on seeing scores (z1, z2) at one test when candidate 2 is the truth (see the module notes).

    ``max over mu >= 0 of min(Q(z1 - rho mu), Q(D + c mu))`` with
    ``D = (z1 - z2) / sqrt(2 (1 - rho))`` and ``c = sqrt((1 - rho) / 2)``.

    >>> round(pair_bound(12.0, 0.0, 0.0), 12) == round(math.exp(_log_q(12.0 / math.sqrt(2.0))), 12)
    True
    >>> pair_bound(10.0, 9.8, 0.9) > 1e-3  # nearly the same codeword and score: not told apart
    True
    """
    rho = min(rho, 1.0 - 1e-9)
    c = math.sqrt((1.0 - rho) / 2.0)
    d = (z1 - z2) / math.sqrt(2.0 * (1.0 - rho))
    if rho <= 0.0 or z1 <= d:
        # Both tails shrink as mu grows (rho <= 0), or the second is the smaller from mu = 0 on.
        return math.exp(min(_log_q(z1), _log_q(d)) if rho <= 0.0 else _log_q(d))
    mu = (z1 - d) / (rho + c)
    return math.exp(_log_q(d + c * mu))


# --------------------------------------------------------------------------
# Candidates
# --------------------------------------------------------------------------


@dataclass
class _Group:
    """The candidates under one key: codeword signs and running best scores."""

    key: Key
    payloads: list[Payload]
    views: list[tuple[Any, ...]]
    signs: NDArray[np.float32]  # (m, CHANNEL_BITS) +-1
    seconds: float = 0.0
    """Time spent scoring this group's candidates (the correlations they share are counted once, in the matcher)."""
    best: NDArray[np.float64] = field(init=False)
    where: list[tuple[int, int, int, int] | None] = field(init=False)  # (geometry, orientation, ty, tx)

    def __post_init__(self) -> None:
        self.best = np.full(len(self.payloads), -np.inf)
        self.where = [None] * len(self.payloads)


def _signs(payloads: Sequence[Payload], key: Key) -> NDArray[np.float32]:
    if not payloads:
        return np.zeros((0, CHANNEL_BITS), np.float32)
    return np.stack([1.0 - 2.0 * encode_payload(p, key).astype(np.float32) for p in payloads]).astype(np.float32)


def _as_payload(item: Any) -> tuple[Payload, Any, str | None]:
    """A candidate as (payload, ledger row or None, the row's key fingerprint or None)."""
    if isinstance(item, Payload):
        return item, None, None
    payload = getattr(item, "payload", None)
    if isinstance(payload, Payload):
        return payload, item, getattr(item, "key_fingerprint", None)
    raise OptionTypeError(
        f"a candidate must be a watermark.Payload or a ledger View, got {type(item).__name__}", name="candidates", value=item
    )


def _groups(keys: list[Key], candidates: Iterable[Any]) -> tuple[list[_Group], int]:
    """Distinct (payload, key) candidates, one group per key, and the number of rows under keys not given (left out)."""
    by_key: dict[str, dict[Payload, list[Any]]] = {k.fingerprint: {} for k in keys}
    skipped = 0
    for item in candidates:
        payload, view, fingerprint = _as_payload(item)
        if fingerprint is not None and fingerprint not in by_key:
            skipped += 1
            continue
        for fp in [fingerprint] if fingerprint is not None else list(by_key):
            rows = by_key[fp].setdefault(payload, [])
            if view is not None:
                rows.append(view)
    total = sum(len(v) for v in by_key.values())
    if total > MAX_CANDIDATES:
        raise OptionError(f"{total} candidates is more than {MAX_CANDIDATES}: narrow the record or the time window", name="candidates", value=total)
    groups = [_Group(k, list(by_key[k.fingerprint]), [tuple(v) for v in by_key[k.fingerprint].values()], _signs(list(by_key[k.fingerprint]), k))
              for k in keys]
    return groups, skipped


def _null_groups(keys: list[Key], candidates: list[Payload], n: int, seed: int) -> list[_Group]:
    """``n`` random payloads never displayed (none of the candidates), under the first key."""
    times = [p.timestamp for p in candidates] or [datetime.now(timezone.utc)]
    payloads = _null_payloads(np.random.default_rng(seed), n, min(times), max(times), set(candidates))
    return [_Group(keys[0], payloads, [()] * len(payloads), _signs(payloads, keys[0]))]


def _null_payloads(rng: np.random.Generator, n: int, lo: datetime, hi: datetime, exclude: set[Payload]) -> list[Payload]:
    """Random payloads that were never displayed: random viewers at random minutes near the candidates' times."""
    start = max(EARLIEST_TIMESTAMP, lo - NULL_SPAN)
    span = max(1, int((hi + NULL_SPAN - start) / timedelta(minutes=1)))
    out: list[Payload] = []
    while len(out) < n:
        p = Payload(viewer_id=int(rng.integers(0, 2**32)), timestamp=start + timedelta(minutes=int(rng.integers(0, span))))
        if p not in exclude:
            out.append(p)
    return out


# --------------------------------------------------------------------------
# The matched filter, observing the blind search
# --------------------------------------------------------------------------


class _Matcher:
    """Scores every candidate group on every geometry the search attempts (a ``Search`` observer).

    The groups of several candidate sets and of the null share one matcher:
    the bit correlations of a geometry, orientation and key are computed once
    and each group adds only its matrix product.
    """

    def __init__(self, groups: list[_Group]) -> None:
        self.groups = groups
        self.geometries: list[tuple[Geometry, NDArray[np.float64]]] = []
        self.seconds = 0.0
        """Time spent on what every group shares: the bit correlations."""

    @property
    def tests(self) -> int:
        """Tests per candidate so far: geometries x orientations x pixel shifts."""
        return len(self.geometries) * len(DIHEDRAL) * SHIFTS_PER_ORIENTATION

    def __call__(self, geometry: Geometry, evaluation: Evaluation) -> None:
        folded = evaluation.folded
        index = len(self.geometries)
        self.geometries.append((geometry, folded))
        keys = {g.key.fingerprint: g.key for g in self.groups if g.payloads}
        t = time.perf_counter()
        spectra = oriented_band_spectra(folded, DIHEDRAL)
        self.seconds += time.perf_counter() - t
        for o, spectrum in enumerate(spectra):
            t = time.perf_counter()
            shared = {}
            for fingerprint, key in keys.items():
                corr = spectrum_correlations(spectrum, key).reshape(CHANNEL_BITS, BAND * BAND)
                norm = np.sqrt(np.einsum("jt,jt->t", corr, corr, dtype=np.float64)) + 1e-12
                shared[fingerprint] = (corr, norm.astype(np.float32))
            self.seconds += time.perf_counter() - t
            for group in self.groups:
                if not group.payloads:
                    continue
                t = time.perf_counter()
                corr, norm = shared[group.key.fingerprint]
                scores = (group.signs @ corr) / norm
                arg = np.argmax(scores, axis=1)
                top = scores[np.arange(scores.shape[0]), arg].astype(np.float64)
                for i in np.flatnonzero(top > group.best):
                    group.best[i] = top[i]
                    group.where[i] = (index, o, int(arg[i]) // BAND, int(arg[i]) % BAND)
                group.seconds += time.perf_counter() - t

    def tile(self, where: tuple[int, int, int, int]) -> NDArray[np.float64]:
        turns, mirrored = DIHEDRAL[where[1]]
        return orient(self.geometries[where[0]][1], turns, mirrored)

    def soft(self, group: _Group, where: tuple[int, int, int, int], shift: tuple[int, int]) -> NDArray[np.float64]:
        return soft_bits_at(self.tile(where), group.key, [shift])[0]

    def refine(self, group: _Group, i: int) -> tuple[float, tuple[int, int]]:
        """Hill-climb candidate ``i``'s score over pixel shifts around its band-grid peak."""
        where = group.where[i]
        assert where is not None
        tile = self.tile(where)
        base = (4 * where[2], 4 * where[3])
        x = group.signs[i].astype(np.float64)
        seen: dict[tuple[int, int], float] = {}
        center = (0, 0)
        while True:
            todo = [(center[0] + a, center[1] + b) for a in (-1, 0, 1) for b in (-1, 0, 1)]
            todo = [d for d in todo if d not in seen and max(abs(d[0]), abs(d[1])) <= FINE_RADIUS]
            if todo:
                soft = soft_bits_at(tile, group.key, [(base[0] + a, base[1] + b) for a, b in todo])
                z = soft @ x / (np.linalg.norm(soft, axis=1) + 1e-12)
                seen.update(zip(todo, z.tolist()))
            best = max(seen, key=lambda d: seen[d])
            if best == center:
                return seen[best], (base[0] + best[0], base[1] + best[1])
            center = best


# --------------------------------------------------------------------------
# The decision
# --------------------------------------------------------------------------


def _weighted_rho(group: _Group, i: int) -> NDArray[np.float64]:
    """Codeword correlation of candidate ``i`` with every candidate, weighted by slots per bit."""
    n = slot_layout(group.key).bit_slot_count.astype(np.float64)
    return (group.signs.astype(np.float64) * n) @ group.signs[i].astype(np.float64) / n.sum()


def attribute(
    image_or_path: Any,
    key_or_keys: Key | Sequence[Key],
    candidates: Iterable[Any],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    null_samples: int = 0,
    seed: int = 0,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Attribution:
    """Test a leaked image against the views that really happened; name one only when it is certain.

    Parameters
    ----------
    image_or_path : path, bytes, PIL image, ndarray or LoadedImage
        The leaked image, as for :func:`tracer.trace`.
    key_or_keys : Key or sequence of Key
    candidates : iterable of Payload or ledger View
        The views to test: a ledger's rows for the record shown (their
        ``key_fingerprint`` picks the key; rows under a key not given are
        skipped), or payloads (tried under every key). Rows with the same
        payload are one candidate.
    threshold : float, keyword-only
        Name a viewer only when the false-attribution probability is at
        most this (default ``1e-9``).
    null_samples : int, keyword-only
        Also score this many random payloads that were never displayed, on
        the same tests: the image's own null distribution (for the report;
        they never take part in the decision).
    seed : int, keyword-only
        Seed of the null payloads.
    max_pixels : int, keyword-only

    Returns
    -------
    Attribution
        ``named`` and ``viewer_id`` with a minute or minute range, or nobody
        with the reason; the ranked candidates; the blind trace of the same
        search (``blind``).

    Notes
    -----
    The statistic, the bound and the rules for related candidates are
    derived in the notes of :mod:`tracer._attribute`. The blind search runs
    as in :func:`tracer.trace` (stopping at a keyed decode) and every
    geometry it attempts is also scored for every candidate.
    """
    out = attribute_sets(image_or_path, key_or_keys, {"candidates": candidates}, threshold=threshold,
                         null_samples=null_samples, seed=seed, max_pixels=max_pixels)
    return out["candidates"]


def attribute_sets(
    image_or_path: Any,
    key_or_keys: Key | Sequence[Key],
    candidate_sets: Mapping[str, Iterable[Any]],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    null_samples: int = 0,
    seed: int = 0,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    observers: Sequence[Callable[[Geometry, Evaluation], None]] = (),
) -> dict[str, Attribution]:
    """:func:`attribute` for several candidate sets at once, on one geometry search (each set decided on its own).

    ``observers`` also see every geometry tried (a benchmark records them).
    """
    if not (isinstance(threshold, (int, float)) and 0.0 < float(threshold) < 1.0):
        raise OptionError(f"threshold must be in (0, 1), got {threshold!r}", name="threshold", value=threshold)
    if isinstance(null_samples, bool) or not isinstance(null_samples, int) or null_samples < 0:
        raise OptionError(f"null_samples must be an int >= 0, got {null_samples!r}", name="null_samples", value=null_samples)
    keys = _keys(key_or_keys)
    t0 = time.perf_counter()
    grouped = {name: _groups(keys, items) for name, items in candidate_sets.items()}
    everything = [p for groups, _ in grouped.values() for g in groups for p in g.payloads]
    null = _null_groups(keys, everything, null_samples, seed) if null_samples else []
    matcher = _Matcher([*(g for groups, _ in grouped.values() for g in groups), *null])
    loaded, search = run_search(image_or_path, keys, max_pixels=max_pixels, observers=[matcher, *observers])
    blind = trace_result(loaded, search, max_pixels)
    search_s = time.perf_counter() - t0
    null_scores = np.array([score for g in null for score, _, _ in _refined_scores(matcher, g)]) if null else None
    out = {}
    for name, (groups, skipped) in grouped.items():
        t1 = time.perf_counter()
        decision = _decide(matcher, groups, blind, float(threshold), search.mac_checks)
        timings = {"search_s": search_s, "match_s": matcher.seconds + sum(g.seconds for g in groups),
                   "decide_s": time.perf_counter() - t1}
        out[name] = Attribution(**decision, threshold=float(threshold), blind=blind, null_scores=null_scores, timings=timings,
                                skipped=skipped)
    return out


def _refined_scores(matcher: _Matcher, group: _Group) -> list[tuple[float, int, tuple[int, int] | None]]:
    """(score, index, pixel shift) of every candidate of a group: the ``REFINED`` best grid scores refined to the pixel."""
    order = np.argsort(-group.best)
    refined = {int(i): matcher.refine(group, int(i)) for i in order[:REFINED] if group.where[i] is not None}
    out: list[tuple[float, int, tuple[int, int] | None]] = []
    for i in range(len(group.payloads)):
        score, shift = refined[i] if i in refined else (float(group.best[i]), None)
        out.append((score, i, shift))
    return out


def _decide(matcher: _Matcher, groups: list[_Group], blind: TraceResult, threshold: float, mac_checks: int) -> dict[str, Any]:
    """Refine a set's best candidates, bound the best one, apply the separation and fit rules."""
    n_candidates = sum(len(g.payloads) for g in groups)
    tests = matcher.tests
    scored = sorted(((score, gi, i, shift) for gi, g in enumerate(groups) for score, i, shift in _refined_scores(matcher, g)),
                    key=lambda s: s[0], reverse=True)
    ranked = [
        CandidateScore(
            groups[gi].payloads[i], groups[gi].key.fingerprint, score, detection_bound(score, tests),
            None if groups[gi].where[i] is None else matcher.geometries[groups[gi].where[i][0]][0].name,  # type: ignore[index]
            groups[gi].views[i],
        )
        for score, gi, i, _ in scored
        if np.isfinite(score)
    ]
    out: dict[str, Any] = dict(
        named=False, viewer_id=None, minute_from=None, minute_to=None, false_attribution_probability=None,
        reason="", ranked=ranked, candidates=n_candidates, tests=tests,
    )
    if blind.found and blind.payload is not None:
        p = blind.payload
        if not any(c.payload == p and c.key_fingerprint == blind.key_fingerprint for c in ranked):
            out["reason"] = (f"the blind decode names viewer {p.viewer_id} at {p.timestamp:%Y-%m-%dT%H:%MZ}, "
                             f"who is not among the {n_candidates} candidates: nobody among them is named")
            return out
        out.update(named=True, viewer_id=p.viewer_id, minute_from=p.timestamp, minute_to=p.timestamp, corroborated=True,
                   false_attribution_probability=blind.false_attribution_probability,
                   reason=f"viewer {p.viewer_id} at {p.timestamp:%Y-%m-%dT%H:%MZ}: the blind decode found this candidate's "
                          f"payload (keyed check passed; false-attribution probability {blind.false_attribution_probability:.1e})")
        return out
    if not scored or not np.isfinite(scored[0][0]):
        out["reason"] = "no geometry was tried: nothing to test the candidates against"
        return out
    score, gi, i, shift = scored[0]
    group = groups[gi]
    where = group.where[i]
    assert where is not None and shift is not None
    detect = min(1.0, n_candidates * detection_bound(score, tests) + mac_checks * 2.0**-MAC_BITS)
    # Separation: every other candidate under this key, read at the best candidate's test.
    soft = matcher.soft(group, where, shift)
    norm = float(np.linalg.norm(soft)) + 1e-12
    z_all = group.signs.astype(np.float64) @ soft / norm
    rho = _weighted_rho(group, i)
    viewer = group.payloads[i].viewer_id
    same_minutes = [group.payloads[i].timestamp]
    separation = 0.0
    for j in range(len(group.payloads)):
        if j == i:
            continue
        b = pair_bound(float(z_all[i]), float(z_all[j]), float(rho[j]))
        if group.payloads[j].viewer_id == viewer and b > threshold / max(n_candidates, 1):
            same_minutes.append(group.payloads[j].timestamp)  # not told apart: part of the minute range
        else:
            separation += b
    # Candidates under other keys are separated by the detection bound of their own key: their
    # signs are independent of this key's mark (another key's mark is "no mark" for them).
    separation = min(1.0, separation)
    # Fit against the whole code, at the same soft values.
    codewords = list_codewords(soft)
    best_fit = float(np.max((1.0 - 2.0 * codewords.astype(np.float64)) @ soft) / norm) if len(codewords) else -np.inf
    fit_gap = best_fit - float(z_all[i])
    total = min(1.0, detect + separation)
    best = group.payloads[i]
    out.update(false_attribution_probability=total, detection_bound=detect, separation_bound=separation, fit_gap=fit_gap)
    at_best = decode_soft_bits(soft, group.key)
    out["false_attribution_probability"] = total = min(1.0, total + at_best.mac_checks * 2.0**-MAC_BITS)
    if at_best.payload is not None and at_best.payload != best:
        out["reason"] = (f"at the best candidate's phase the blind decode reads viewer {at_best.payload.viewer_id} at "
                         f"{at_best.payload.timestamp:%Y-%m-%dT%H:%MZ}, not that candidate: nobody is named")
        return out
    corroborated = at_best.payload == best  # the list decoder reads this very candidate there (no MAC claim: the phase was chosen by it)
    if total > threshold:
        out["reason"] = (f"the best candidate (viewer {viewer}, score {score:.1f}) is not certain enough: "
                         f"false-attribution probability {total:.1e} > threshold {threshold:.0e}")
        return out
    if fit_gap > FIT_MARGIN and not corroborated:
        out["reason"] = (f"a codeword outside the candidates fits the image better by {fit_gap:.1f} (> {FIT_MARGIN}): "
                         "the view shown may not be among them; nobody is named")
        return out
    lo, hi = min(same_minutes), max(same_minutes)
    when = f"at {lo:%Y-%m-%dT%H:%MZ}" if lo == hi else f"between {lo:%Y-%m-%dT%H:%MZ} and {hi:%Y-%m-%dT%H:%MZ} (minutes not told apart)"
    out.update(named=True, viewer_id=viewer, minute_from=lo, minute_to=hi,
               reason=f"viewer {viewer} {when}: score {score:.1f} among {n_candidates} candidates, "
                      f"false-attribution probability {total:.1e} <= {threshold:.0e}")
    return out

"""The leak-tracing pipeline: load, hypothesise geometry, fold, decode, attribute."""

from __future__ import annotations

import time
from typing import Any, Callable, Iterable, Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

import watermark
from watermark import DEFAULT_MAX_PIXELS, Key, LoadedImage, OptionTypeError, load_image
from watermark.decoding import MAC_BITS

from ._gate import Screening, screen_image
from ._geometry import MAX_SCREEN_SIDE, Geometry, image_corners
from ._marks import MAX_MARKS, MORE_DECODES, find_more_marks
from ._result import Hypothesis, Mark, TraceResult
from ._search import MAX_DECODES, SPARE_DECODES, TimeLimitExceeded, MIN_DECODE_SCORE, Evaluation, Found, Search
from ._strategies import STRATEGIES

__all__ = ["trace", "TraceResult", "Hypothesis"]


def _keys(key_or_keys: Key | Iterable[Key]) -> list[Key]:
    keys = [key_or_keys] if isinstance(key_or_keys, Key) else list(key_or_keys)
    if not keys or not all(isinstance(k, Key) for k in keys):
        raise OptionTypeError("key_or_keys must be a watermark.Key or a non-empty sequence of them", name="key_or_keys", value=key_or_keys)
    return keys


def trace(image_or_path: Any, key_or_keys: Key | Sequence[Key], *, max_pixels: int = DEFAULT_MAX_PIXELS,
          thorough: bool = False, time_limit: float | None = None, all_marks: bool = True) -> TraceResult:
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
    thorough : bool, keyword-only
        Skip the fast rejection (``TraceResult.screening``): the full
        geometry search runs on every image. Without it an image that shows
        no sign of the carrier (no screen outline, no keyed tile-phase peak,
        no carrier comb; see ``tracer._gate``) is dismissed in a fraction of
        a second.
    time_limit : float, keyword-only
        Seconds the whole trace may take; past it the search stops with
        ``TimeLimitExceeded`` (a ``TimeoutError``). None: no limit. When
        the limit falls in the search for more marks, the marks found by
        then are returned (``parameters["more_marks"]`` says so).
    all_marks : bool, keyword-only
        After the first mark, look for others (``TraceResult.marks``): a
        composite of screens shown to several viewers names each of them
        (``tracer._marks``). False: stop at the first, as a caller that
        needs one name may.

    Returns
    -------
    TraceResult
        Never carries a payload that failed the keyed check.

    Notes
    -----
    Geometry hypotheses, in order, until one decodes: (1) clear screen
    outlines (a photo with the bezel or border visible) from several cues
    (regions at several brightness levels, closed edge outlines), each
    rectified, ordered by how strongly the carrier's spectral comb shows in
    them, with the scale per axis from that comb, and mapped onto the
    plausible display resolutions (the comb measures scale poorly when the
    screen is small in the photo);
    (2) the input as it is (a screenshot at original scale, any crop);
    (3) outlines with a faint border, then a dark screen's outline, bezel
    included (a dark theme photographed in a lighter room), rectified like (1);
    (4) when the content's straight lines show perspective (a photo whose
    border is cut off), their vanishing points' rectification and the comb;
    (5) the whole input at the comb's isotropic scale (a rescaled
    screenshot; when it holds few tiles, more comb candidates, ranked by
    phase peak). Each
    geometry is resampled to screen pixels, content suppressed and folded; the folded tile is tried in the eight quarter-turn
    and mirror orientations; the strongest phase peaks over all of these are
    decoded first, at most ``MAX_DECODES`` in all. An outline's probes that
    were only ranked (side variants at display resolutions, whose phase
    peaks a small, dim capture leaves at the noise field's maxima) are then
    decoded once each, strongest first, at most ``SPARE_DECODES`` per image
    (when none decodes, the first outline's two strongest are refined and
    decoded). Every codeword checked against the 40-bit MAC counts toward
    ``false_attribution_probability``.

    After the first mark (``all_marks``), the fold it was read in is
    searched for other phase peaks and, without the cells that carry the
    marks found, for marks in the rest of it; then screen outlines no mark
    covers. At most ``MORE_DECODES`` more decodes and ``MAX_MARKS``
    marks; their checks count toward the bound as well.
    """
    t0 = time.perf_counter()
    keys = _keys(key_or_keys)
    loaded = image_or_path if isinstance(image_or_path, LoadedImage) else load_image(image_or_path, max_pixels=max_pixels)
    load_s = time.perf_counter() - t0
    screening = None if thorough else screen_image(loaded.rgb, keys)
    if screening is not None and not screening.passed:
        search = Search(loaded.rgb, keys, {"load_s": load_s, "screening_s": screening.seconds})
        search.timings["total_s"] = time.perf_counter() - t0
        return trace_result(loaded, search, max_pixels, screening)
    deadline = None if time_limit is None else t0 + time_limit
    try:
        loaded, search = run_search(loaded, keys, max_pixels=max_pixels, deadline=deadline, all_marks=all_marks)
    except TimeLimitExceeded as exc:
        raise TimeLimitExceeded(f"{loaded.source}: the trace ran past its time limit of {time_limit:g} s", seconds=time_limit) from exc
    search.timings["load_s"] = load_s
    if screening is not None:
        search.timings["screening_s"] = screening.seconds
    search.timings["total_s"] = time.perf_counter() - t0
    return trace_result(loaded, search, max_pixels, screening)


def run_search(
    image_or_path: Any,
    key_or_keys: Key | Sequence[Key],
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    observers: Sequence[Callable[[Geometry, Evaluation], None]] = (),
    deadline: float | None = None,
    all_marks: bool = True,
) -> tuple[LoadedImage, Search]:
    """Load the input and run the geometry strategies until one decodes; ``observers`` see every geometry tried.

    ``deadline``: a ``time.perf_counter()`` value past which the search raises ``TimeLimitExceeded``.
    ``all_marks``: then look for more marks (``tracer._marks.find_more_marks``).
    """
    t0 = time.perf_counter()
    keys = _keys(key_or_keys)
    loaded = image_or_path if isinstance(image_or_path, LoadedImage) else load_image(image_or_path, max_pixels=max_pixels)
    search = Search(loaded.rgb, keys, {"load_s": time.perf_counter() - t0})
    search.deadline = deadline
    search.observers.extend(observers)
    for strategy in STRATEGIES:
        if strategy(search):
            break
    if all_marks:
        find_more_marks(search)
    search.timings["total_s"] = time.perf_counter() - t0
    return loaded, search


def trace_result(loaded: LoadedImage, search: Search, max_pixels: int, screening: Screening | None = None) -> TraceResult:
    """Assemble what the search found (or did not) into a TraceResult (``screening``: the fast rejection's verdict)."""
    h, w = loaded.rgb.shape[:2]
    parameters: dict[str, Any] = {
        "version": watermark.__version__,
        "min_decode_score": MIN_DECODE_SCORE,
        "max_decodes": MAX_DECODES,
        "spare_decodes": search.spare_decodes,
        "max_spare_decodes": SPARE_DECODES,
        "more_marks": search.more_marks,
        "more_decodes": MORE_DECODES,
        "max_marks": MAX_MARKS,
        "decodes": search.decodes,
        "mac_checks": search.mac_checks,
        "mac_bits": MAC_BITS,
        "keys": [k.fingerprint for k in search.keys],
        "max_pixels": max_pixels,
    }
    common: dict[str, Any] = dict(
        false_attribution_probability=min(1.0, search.mac_checks * 2.0**-MAC_BITS),
        detection_score=float(search.best_score),
        hypotheses=search.hypotheses,
        timings=search.timings,
        source=loaded.source,
        sha256=loaded.sha256,
        image_size=(w, h),
        parameters=parameters,
        screening=screening,
        marks=tuple(_mark(m, w, h) for m in search.marks),
    )
    found = search.found
    if found is None:
        return TraceResult(found=False, payload=None, key_fingerprint=None, quad=None, **common)
    parameters.update(geometry=found.geometry.name, scale=found.geometry.scale, tile_offset=list(found.result.offset))
    return TraceResult(
        found=True,
        payload=found.result.payload,
        key_fingerprint=found.key.fingerprint,
        quad=_screen_outline(found, w, h),
        bit_error_rate=found.result.bit_error_rate,
        bit_snr=found.result.bit_snr,
        rectified=_rectified_screen(loaded.rgb, found),
        **common,
    )


def _mark(found: Found, w: int, h: int) -> Mark:
    """One mark as the result shows it (its region: the measured one, else the area its geometry covers)."""
    assert found.result.payload is not None  # a Found passed the keyed check
    g = found.geometry
    region = found.region if found.region is not None else g.outline((h, w))
    return Mark(
        payload=found.result.payload,
        key_fingerprint=found.key.fingerprint,
        false_attribution_probability=min(1.0, found.mac_checks * 2.0**-MAC_BITS),
        mac_checks=found.mac_checks,
        hypothesis=found.hypothesis,
        region=region,
        quad=_screen_outline(found, w, h),
        scale=float(g.scale),
        rotation=found.candidate.turns,
        mirrored=found.candidate.mirrored,
        detection_score=float(found.candidate.score),
        bit_error_rate=found.result.bit_error_rate,
    )


def _screen_outline(found: Found, w: int, h: int) -> NDArray[np.float64] | None:
    """The screen's corners in the input: the located quad, the whole input when read as is, else unknown."""
    if found.geometry.quad is not None:
        return found.geometry.quad
    return image_corners(w, h) if found.out_hom is None else None


def _rectified_screen(rgb: NDArray[np.uint8], found: Found) -> NDArray[np.uint8]:
    """The screen as decoded, resampled to screen geometry, for a preview."""
    if found.out_hom is None:
        return rgb
    h, w = rgb.shape[:2]
    region = found.geometry.quad if found.geometry.quad is not None else image_corners(w, h)
    mapped = cv2.perspectiveTransform(region.reshape(-1, 1, 2), found.out_hom).reshape(-1, 2)
    size = np.minimum(np.ceil(mapped.max(axis=0)), MAX_SCREEN_SIDE).astype(int)
    interpolation = cv2.INTER_AREA if found.geometry.scale > 1 else cv2.INTER_LINEAR
    return cv2.warpPerspective(rgb, found.out_hom, (int(max(size[0], 1)), int(max(size[1], 1))), flags=interpolation)

"""Aligned extraction: content suppression, folding, tile-phase search, soft decoding.

For a screenshot at the original geometry (any crop offset). The tracer
reuses the pieces after it has rectified a photo to screen geometry.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
import scipy.fft
from numpy.typing import NDArray

from ._errors import OptionError, OptionTypeError
from ._image import as_rgb_uint8, luma
from ._key import Key
from ._pattern import (
    BAND,
    TILE,
    band_correlation,
    band_noise_coefficients,
    band_to_slots,
    conj_bit_band_patterns,
    oriented_band_spectra,
    shifted_bands,
    slot_layout,
    tile_to_band,
)
from ._payload import CHANNEL_BITS, MAC_BITS, Payload, decode_soft_bits

__all__ = [
    "extract",
    "ExtractResult",
    "PhaseCandidate",
    "suppress_content",
    "fold_tiles",
    "phase_candidates",
    "oriented_phase_candidates",
    "spectrum_correlations",
    "decode_at",
    "decode_folded",
    "bit_correlations",
    "soft_bits_at",
    "tile_soft_bits",
]

EDGE_LEVELS = 10.0
"""A step larger than this between neighbouring pixels is content (a text stroke or an edge), not mark."""
OUTLIER_LEVELS = 16.0
"""Residuals larger than this are content the background model missed; they get weight 0."""
BACKGROUND_SIGMA = 4.0
"""Scale (pixels) of the smooth-background model at screen resolution.

Screen content (text, rules, gradients) has most of its energy at low
spatial frequencies, so subtracting a background this local whitens the
noise: it gives up most of the carrier's 64 px component but removes far
more content. Measured on 512 px JPEG-75 crops of EMR screens (aligned,
true phase): channel BER 1.4% at 4 px, 3.0% at 8 px, 7.2% at 16 px.
"""
LOCAL_VARIANCE_SIGMA = 8.0
"""Scale (pixels) over which residual variance is measured for the weights."""
NOISE_FLOOR = 2.0
"""Levels of noise assumed everywhere, so that flat areas do not get unbounded weight."""
N_CANDIDATES = 12
"""Phase peaks decoded (best first, stopping at the first that passes the MAC): on a small crop of
dense text, content can push the true phase below the first few; each try costs at most 5 MAC checks."""
FINE_RADIUS = 2


@dataclass(frozen=True)
class ExtractResult:
    """What extraction found.

    Attributes
    ----------
    found : bool
        True only when a payload passed the keyed integrity check.
    payload : Payload or None
        The viewer ID and time, when found.
    false_positive_probability : float
        Upper bound on the probability that this call would report a payload
        for an image that does not carry this key's mark: the number of
        candidate codewords checked against the 40-bit MAC times 2**-40.
    detection_score : float
        How far the tile-phase energy peak stands above the field (robust
        z-score). A diagnostic, not evidence: the energy statistic measures
        power in the carrier's slots, so a mark made with *another* key (and
        some periodic content) also raises it. Only ``found`` (a payload that
        passed the keyed MAC) attributes anything.
    bit_error_rate : float or None
        Fraction of channel bits whose hard decision disagreed with the
        decoded codeword (a measure of margin), when found.
    offset : (int, int)
        Tile phase (dy, dx): image pixel (y, x) carries tile pixel
        ((y + dy) % 256, (x + dx) % 256).
    bit_snr : ndarray
        Per channel bit soft value in noise standard deviations (sign: + for 0).
    diagnostics : dict
        Timings and intermediate figures.
    """

    found: bool
    payload: Payload | None
    false_positive_probability: float
    detection_score: float
    bit_error_rate: float | None
    offset: tuple[int, int]
    bit_snr: NDArray[np.float64] = field(repr=False)
    diagnostics: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def confidence(self) -> float:
        """1 minus the false-positive bound when found, else 0."""
        return 1.0 - self.false_positive_probability if self.found else 0.0


def _blur_downsampled(image: NDArray[Any], sigma: float) -> NDArray[np.float32]:
    """Gaussian blur of scale ``sigma``, computed at reduced resolution when that is exact enough."""
    h, w = image.shape
    factor = 4 if sigma >= 12 else 2 if sigma >= 4 else 1
    if factor == 1:
        return cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    small = cv2.resize(image, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / factor, borderType=cv2.BORDER_REFLECT)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def suppress_content(
    y: NDArray[np.float32],
    *,
    edge_levels: float = EDGE_LEVELS,
    background_sigma: float = BACKGROUND_SIGMA,
    valid: NDArray[np.bool_] | None = None,
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Residual and weight maps that keep the carrier and drop the content.

    Parameters
    ----------
    y : ndarray of float32, (H, W)
        Luma in 8-bit levels.
    edge_levels, background_sigma : float, keyword-only
        See ``EDGE_LEVELS`` and ``BACKGROUND_SIGMA``.
    valid : ndarray of bool, (H, W), keyword-only
        Pixels that hold image data (False outside a warped screen, in
        saturated glare); invalid pixels get weight 0.

    Returns
    -------
    residual, weight : ndarray of float32, (H, W)

    Notes
    -----
    Text strokes and edges are treated as missing data, not filtered: pixels
    near a step larger than ``edge_levels`` get weight 0. The smooth
    background is estimated from the remaining pixels by normalized
    convolution (Knutsson and Westin, 1993) at scale ``background_sigma``
    and the residual against it is taken (see ``BACKGROUND_SIGMA`` for why
    so local). Residuals beyond ``OUTLIER_LEVELS`` (content the model missed)
    get weight 0; the rest are weighted by the inverse of their local
    variance, so flat screen background counts most and texture least.
    """
    # Local range (max - min over 3x3) beyond edge_levels marks a step; the
    # 5x5 dilation then drops the anti-aliased fringe around it.
    kernel3 = np.ones((3, 3), np.uint8)
    step = cv2.morphologyEx(y, cv2.MORPH_GRADIENT, kernel3) > edge_levels
    if valid is not None:
        step |= ~valid
    edge = cv2.dilate(step.view(np.uint8), np.ones((5, 5), np.uint8))
    valid = cv2.subtract(np.ones_like(edge), edge).astype(np.float32)
    background = _blur_downsampled(y * valid, background_sigma) / np.maximum(_blur_downsampled(valid, background_sigma), 1e-3)
    residual = y - background
    valid *= np.abs(residual) < OUTLIER_LEVELS
    residual *= valid
    local_var = _blur_downsampled(residual * residual, LOCAL_VARIANCE_SIGMA) / np.maximum(
        _blur_downsampled(valid, LOCAL_VARIANCE_SIGMA), 1e-3
    )
    weight = valid / (local_var + NOISE_FLOOR**2)
    return residual.astype(np.float32, copy=False), weight.astype(np.float32)


def fold_tiles(residual: NDArray[np.float32], weight: NDArray[np.float32], *, tile: int = TILE) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Weighted average of all tiles: (folded residual, folded weight), both (tile, tile).

    Pixel (y, x) is added at (y % tile, x % tile); the image need not be a
    multiple of the tile size.
    """
    h, w = residual.shape
    ph, pw = -(-h // tile) * tile, -(-w // tile) * tile
    num = cv2.copyMakeBorder(residual * weight, 0, ph - h, 0, pw - w, cv2.BORDER_CONSTANT, value=0)
    den = cv2.copyMakeBorder(weight, 0, ph - h, 0, pw - w, cv2.BORDER_CONSTANT, value=0)
    num_f = num.reshape(ph // tile, tile, pw // tile, tile).sum(axis=(0, 2), dtype=np.float64)
    den_f = den.reshape(ph // tile, tile, pw // tile, tile).sum(axis=(0, 2), dtype=np.float64)
    folded = np.where(den_f > 0, num_f / np.maximum(den_f, 1e-12), 0.0)
    return folded, den_f


def _local_maxima(energy: NDArray[np.float64], count: int) -> list[tuple[int, int]]:
    padded = np.pad(energy, 1, mode="wrap")
    neigh = np.max(
        np.stack([padded[1 + a : 1 + a + energy.shape[0], 1 + b : 1 + b + energy.shape[1]] for a in (-1, 0, 1) for b in (-1, 0, 1) if a or b]),
        axis=0,
    )
    peaks = np.flatnonzero(energy.ravel() > neigh.ravel())
    order = peaks[np.argsort(energy.ravel()[peaks])[::-1][:count]]
    return [tuple(int(v) for v in np.unravel_index(i, energy.shape)) for i in order]  # type: ignore[misc]


def _bit_sums(slot_values: NDArray[np.float64], key: Key) -> NDArray[np.float64]:
    layout = slot_layout(key)
    signed = slot_values * layout.sign
    if signed.ndim == 1:
        return np.bincount(layout.slot_bit, weights=signed, minlength=CHANNEL_BITS).astype(np.float64, copy=False)
    out = np.zeros((signed.shape[0], CHANNEL_BITS))
    index: Any = (slice(None), layout.slot_bit)
    np.add.at(out, index, signed)
    return out


def bit_correlations(band: NDArray[np.floating], key: Key) -> NDArray[np.float32]:
    """Every channel bit's soft value at every cyclic band shift: (CHANNEL_BITS, BAND, BAND).

    Entry ``[j, ty, tx]`` is the signed sum of bit ``j``'s slots when the
    band is shifted by ``(ty, tx)`` (a tile shift of 4 pixels per band
    step): one batched FFT correlation with the keyed group patterns.
    """
    return spectrum_correlations(scipy.fft.rfft2(np.asarray(band, dtype=np.float32)), key)


def spectrum_correlations(spectrum: NDArray[np.complexfloating], key: Key) -> NDArray[np.float32]:
    """:func:`bit_correlations` of a band given by its rFFT (BAND, BAND//2+1) (see ``oriented_band_spectra``)."""
    product = np.multiply(np.asarray(spectrum, dtype=np.complex64)[None], conj_bit_band_patterns(key))
    return scipy.fft.irfft2(product, s=(BAND, BAND), workers=-1, overwrite_x=True).astype(np.float32, copy=False)


def soft_bits_at(folded: NDArray[np.floating], key: Key, shifts: list[tuple[int, int]]) -> NDArray[np.float64]:
    """Channel soft values (len(shifts), CHANNEL_BITS) of a folded tile cyclically shifted by whole pixels.

    Shift ``(dy, dx)`` reads the tile as ``np.roll(folded, (-dy, -dx))``: band
    shift ``(ty, tx)`` of :func:`bit_correlations` is pixel shift ``(4 ty, 4 tx)``.
    """
    if not shifts:
        return np.zeros((0, CHANNEL_BITS))
    return _bit_sums(band_to_slots(shifted_bands(band_correlation(folded), shifts)), key)


def tile_soft_bits(tiles: NDArray[np.floating], key: Key) -> NDArray[np.float64]:
    """Channel soft values (n, CHANNEL_BITS) of a stack of aligned tiles (n, TILE, TILE), one batched transform.

    Each tile is read at phase 0 (shift it first: :func:`soft_bits_at`); a
    tool that measures where a known mark lies reads many tile-sized cells
    of one image at once.
    """
    stack = np.asarray(tiles, dtype=np.float64)
    if stack.ndim != 3 or stack.shape[1:] != (TILE, TILE):
        raise OptionError(f"tiles must have shape (n, {TILE}, {TILE}), got {stack.shape}", name="tiles", value=stack.shape)
    if stack.shape[0] == 0:
        return np.zeros((0, CHANNEL_BITS))
    return _bit_sums(band_to_slots(tile_to_band(stack)), key)


@dataclass(frozen=True)
class PhaseCandidate:
    """A tile-phase peak: band shift (ty, tx) and its robust z-score."""

    score: float
    ty: int
    tx: int


def phase_candidates(folded: NDArray[np.floating], key: Key, count: int = N_CANDIDATES) -> list[PhaseCandidate]:
    """The ``count`` strongest tile phases of a folded tile, on the 4-pixel band grid.

    The statistic at each cyclic shift is the summed energy of all channel
    bits' group correlations (each bit's 2-3 keyed slots, signed and summed,
    squared): large at the true phase and orientation whatever the payload,
    and a chi-square field elsewhere. The score is a robust z-score (median
    and MAD of the field).
    """
    return oriented_phase_candidates(folded, [key], [(0, False)], count)[0][0]


def oriented_phase_candidates(folded: NDArray[np.floating], keys: list[Key], orientations: list[tuple[int, bool]],
                              count: int = N_CANDIDATES) -> list[list[list[PhaseCandidate]]]:
    """:func:`phase_candidates` of each orientation of ``folded`` (``orient_tile``) for each key: ``[key][orientation]``.

    The bands of all orientations come from one FFT of the tile and serve
    every key (the tracer ranks eight orientations, and a gate several keys).
    """
    spectra = oriented_band_spectra(folded, orientations)
    out = []
    for key in keys:
        per_key = []
        for spectrum in spectra:
            corr = spectrum_correlations(spectrum, key).reshape(CHANNEL_BITS, BAND * BAND)
            energy = np.einsum("jt,jt->t", corr, corr).astype(np.float64).reshape(BAND, BAND)
            median = float(np.median(energy))
            spread = float(np.median(np.abs(energy - median))) * 1.4826 + 1e-12
            per_key.append([PhaseCandidate((float(energy[ty, tx]) - median) / spread, ty, tx) for ty, tx in _local_maxima(energy, count)])
        out.append(per_key)
    return out


def decode_at(folded: NDArray[np.floating], key: Key, candidate: PhaseCandidate) -> tuple[ExtractResult, int]:
    """Refine a phase candidate to the pixel and decode; returns the result and the MAC checks made."""
    # Hill-climb the pixel phase around the band-grid peak (the energy is
    # smooth at this scale): 3x3 steps, at most FINE_RADIUS pixels away.
    evaluated: dict[tuple[int, int], tuple[float, NDArray[np.float64], NDArray[np.float64]]] = {}
    correlation = band_correlation(folded)
    center = (0, 0)
    while True:
        todo = [(center[0] + a, center[1] + b) for a in (-1, 0, 1) for b in (-1, 0, 1)]
        todo = [d for d in todo if d not in evaluated and max(abs(d[0]), abs(d[1])) <= FINE_RADIUS]
        if todo:
            bands = shifted_bands(correlation, [(4 * candidate.ty + a, 4 * candidate.tx + b) for a, b in todo])
            sums = _bit_sums(band_to_slots(bands), key)
            for d, band, soft_d in zip(todo, bands, sums):
                evaluated[d] = (float(soft_d @ soft_d), band, soft_d)
        best_d = max(evaluated, key=lambda d: evaluated[d][0])
        if best_d == center:
            break
        center = best_d
    _, best_band, soft = evaluated[center]
    shift = (4 * candidate.ty + center[0], 4 * candidate.tx + center[1])
    noise = band_noise_coefficients(best_band)
    sigma = float(np.sqrt(np.mean(noise * noise))) + 1e-12
    bit_snr = soft / (sigma * np.sqrt(np.maximum(slot_layout(key).bit_slot_count, 1)))
    outcome = decode_soft_bits(soft, key)
    result = ExtractResult(
        found=outcome.payload is not None,
        payload=outcome.payload,
        false_positive_probability=min(1.0, outcome.mac_checks * 2.0**-MAC_BITS),
        detection_score=candidate.score,
        bit_error_rate=None if outcome.channel_bit_errors is None else outcome.channel_bit_errors / CHANNEL_BITS,
        offset=(int(-shift[0] % TILE), int(-shift[1] % TILE)),
        bit_snr=bit_snr,
        diagnostics={"erasures": outcome.erasures, "mac_checks": outcome.mac_checks, "list_rank": outcome.list_rank},
    )
    return result, outcome.mac_checks


def decode_folded(folded: NDArray[np.floating], key: Key) -> tuple[ExtractResult, int]:
    """Find the tile phase of a folded tile and decode it (up to ``N_CANDIDATES`` phases).

    Returns the best result and the number of MAC checks made in all.
    """
    t0 = time.perf_counter()
    candidates = phase_candidates(folded, key)
    t1 = time.perf_counter()
    mac_checks = 0
    best: ExtractResult | None = None
    for candidate in candidates:
        result, checks = decode_at(folded, key, candidate)
        mac_checks += checks
        if best is None or result.found:
            best = result
        if result.found:
            break
    if best is None:  # pragma: no cover - an energy map always has a maximum
        raise RuntimeError("no tile-phase candidate")
    diagnostics = dict(best.diagnostics, mac_checks=mac_checks, phase_search_s=t1 - t0, decode_s=time.perf_counter() - t1)
    fpp = min(1.0, mac_checks * 2.0**-MAC_BITS)
    return dataclasses.replace(best, false_positive_probability=fpp, diagnostics=diagnostics), mac_checks


def extract(image: Any, key: Key) -> ExtractResult:
    """Read the mark from an image at its original geometry.

    Parameters
    ----------
    image : ndarray or PIL.Image.Image
        A screenshot, or a crop of one at any offset, not rescaled or
        rotated: HxWx3 RGB uint8 (or what :func:`embed` accepts), at least
        256x256. For photos and rescaled copies use ``tracer.trace``.
    key : Key
        The key the mark was made with.

    Returns
    -------
    ExtractResult
        ``found`` is true only when a payload passed the keyed check.

    Notes
    -----
    Luma is split into content and residual by :func:`suppress_content`;
    all tiles are averaged with weights (:func:`fold_tiles`), which raises
    the mark's SNR with area; the tile phase is the shift at which the
    summed energy of all channel-bit correlations peaks (an FFT per bit on
    the 64x64 approximation band, then a +-2 px refinement), which needs no
    pilot and uses the whole mark's energy. The soft bits go to the
    concatenated decoder (:func:`watermark._payload.decode_soft_bits`).

    Examples
    --------
    >>> import numpy as np
    >>> from datetime import datetime, timezone
    >>> key = Key(bytes(range(32)))
    >>> p = Payload(viewer_id=7, timestamp=datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc))
    >>> from watermark import embed
    >>> marked = embed(np.full((512, 768, 3), 255, np.uint8), p, key)
    >>> extract(marked[37:, 101:], key).payload == p
    True
    """
    if not isinstance(key, Key):
        raise OptionTypeError(f"key must be a watermark.Key, got {type(key).__name__}", name="key", value=key)
    t0 = time.perf_counter()
    rgb, _, _ = as_rgb_uint8(image)
    y = luma(rgb)
    residual, weight = suppress_content(y)
    folded, _ = fold_tiles(residual, weight)
    t1 = time.perf_counter()
    result, _ = decode_folded(folded, key)
    result.diagnostics.update(prefilter_fold_s=t1 - t0, total_s=time.perf_counter() - t0)
    return result

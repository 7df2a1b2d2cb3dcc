"""The leak-tracing pipeline: load, hypothesise geometry, fold, decode, attribute."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np
from numpy.typing import NDArray

from watermark import Key, Payload
from watermark._extract import decode_folded, fold_tiles, suppress_content
from watermark._image import luma
from watermark._payload import MAC_BITS

from ._load import DEFAULT_MAX_PIXELS, load_image

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
        Best tile-phase correlation peak (robust z-score) over hypotheses.
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


def trace(image_or_path: Any, key_or_keys: Key | Sequence[Key], *, max_pixels: int = DEFAULT_MAX_PIXELS) -> TraceResult:
    """Recover viewer and time from a leaked image.

    Parameters
    ----------
    image_or_path : path, bytes, PIL image or ndarray
        The leaked image.
    key_or_keys : Key or sequence of Key
        The hospital's key(s); with key rotation, give all that may apply.
    max_pixels : int, keyword-only
        Decompression-bomb guard for files.

    Returns
    -------
    TraceResult
        Never carries a payload that failed the keyed check.
    """
    t0 = time.perf_counter()
    keys = _keys(key_or_keys)
    loaded = load_image(image_or_path, max_pixels=max_pixels)
    timings = {"load_s": time.perf_counter() - t0}
    rgb = loaded.rgb
    hypotheses: list[Hypothesis] = []
    total_checks = 0
    best_score = -np.inf
    found = None
    t1 = time.perf_counter()
    residual, weight = suppress_content(luma(rgb))
    folded, _ = fold_tiles(residual, weight)
    for key in keys:
        result, checks = decode_folded(folded, key)
        total_checks += checks
        best_score = max(best_score, result.detection_score)
        hypotheses.append(Hypothesis("screenshot-1x", 1.0, 0, False, result.detection_score, result.found, checks))
        if result.found:
            found = (result, key)
            break
    timings["decode_s"] = time.perf_counter() - t1
    timings["total_s"] = time.perf_counter() - t0
    h, w = rgb.shape[:2]
    fap = min(1.0, total_checks * 2.0**-MAC_BITS)
    if found is None:
        return TraceResult(False, None, None, fap, float(best_score), None, hypotheses, timings, loaded.source, loaded.sha256, (w, h))
    result, key = found
    quad = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float64)
    return TraceResult(
        True, result.payload, key.fingerprint, fap, float(best_score), quad, hypotheses, timings,
        loaded.source, loaded.sha256, (w, h), result.bit_error_rate, result.bit_snr, rgb,
    )

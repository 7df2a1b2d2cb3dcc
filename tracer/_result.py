"""What a trace returns: the result and the geometry hypotheses it tried."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from watermark import Payload

if TYPE_CHECKING:
    from ._gate import Screening

__all__ = ["Hypothesis", "TraceResult"]


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
        Best tile-phase energy peak (robust z-score) over hypotheses: a
        diagnostic of how close decoding came, not evidence (another key's
        mark raises it too); see ``ExtractResult.detection_score``.
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
    screening : Screening or None
        The fast rejection's verdict (None with ``thorough=True``); when it
        did not pass, no geometry was searched.
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
    screening: Screening | None = None

    @property
    def dismissed(self) -> bool:
        """True when the fast rejection found no sign of the carrier and no geometry was searched."""
        return self.screening is not None and not self.screening.passed

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
            "detection_score": round(self.detection_score, 3) if np.isfinite(self.detection_score) else None,
            "bit_error_rate": self.bit_error_rate,
            "quad": None if self.quad is None else np.round(self.quad, 2).tolist(),
            "hypotheses": [vars(h) for h in self.hypotheses],
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "parameters": self.parameters,
            "screening": None if self.screening is None else self.screening.to_dict(),
        }

"""What a trace returns: the result and the geometry hypotheses it tried."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from watermark import Payload

if TYPE_CHECKING:
    from ._gate import Screening

__all__ = ["Hypothesis", "Mark", "TraceResult"]


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
class Mark:
    """One payload that passed the keyed check, and where in the image it was read.

    Attributes
    ----------
    payload : Payload
    key_fingerprint : str
        Fingerprint of the key whose mark this is.
    false_attribution_probability : float
        This mark's own bound: the probability that a check would pass by
        chance, counting every codeword checked in the trace up to and
        including the one that read this mark (``mac_checks * 2**-40``); no
        later check can have produced it.
    mac_checks : int
        Those checks.
    hypothesis : str
        The hypothesis it was decoded in: a geometry's name, with ``~more``
        (another phase peak of the fold a mark was found in) or ``~rest``
        (that fold without the found marks' cells) when the search for more
        marks found it.
    region : ndarray (4, 2) or None
        Corners (x, y; TL, TR, BR, BL) in input pixels of the area that
        carries the mark: the tile-sized cells of its fold where its
        codeword reads clearly (``tracer._marks``), else the area it was
        folded from.
    quad : ndarray (4, 2) or None
        The screen outline of its geometry in the input, as ``TraceResult.quad``.
    scale : float
        Input pixels per screen pixel of its geometry.
    rotation : int
        Quarter turns undone on the input; ``mirrored``: mirrored as well.
    mirrored : bool
    detection_score : float
        Its tile-phase peak (robust z-score).
    bit_error_rate : float or None
        Channel bits its codeword corrected.
    """

    payload: Payload
    key_fingerprint: str
    false_attribution_probability: float
    mac_checks: int
    hypothesis: str
    region: NDArray[np.float64] | None
    quad: NDArray[np.float64] | None
    scale: float
    rotation: int
    mirrored: bool
    detection_score: float
    bit_error_rate: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "payload": self.payload.to_dict(),
            "key_fingerprint": self.key_fingerprint,
            "false_attribution_probability": self.false_attribution_probability,
            "mac_checks": self.mac_checks,
            "hypothesis": self.hypothesis,
            "region": None if self.region is None else np.round(self.region, 2).tolist(),
            "quad": None if self.quad is None else np.round(self.quad, 2).tolist(),
            "scale": round(self.scale, 4),
            "rotation": self.rotation,
            "mirrored": self.mirrored,
            "detection_score": round(self.detection_score, 3),
            "bit_error_rate": self.bit_error_rate,
        }


@dataclass(frozen=True)
class TraceResult:
    """Outcome of tracing one image.

    Attributes
    ----------
    found : bool
        True only when a payload passed the keyed integrity check.
    payload : Payload or None
        The first mark found (``marks[0]``).
    key_fingerprint : str or None
        Fingerprint of the key whose mark was found.
    false_attribution_probability : float
        Upper bound on the probability that a payload would be reported for
        an image carrying no mark of the given keys, or that any of the
        ``marks`` reported is false, counting every hypothesis and every
        codeword checked (the search for more marks included): checks * 2**-40.
    marks : tuple of Mark
        Every distinct payload that passed the keyed check, in the order
        found (a composite of screens of several viewers names each), each
        with its own bound and region; empty when none did. ``payload``,
        ``key_fingerprint``, ``quad`` and the bit figures describe
        ``marks[0]``.
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
    marks: tuple[Mark, ...] = ()

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
            "marks": [m.to_dict() for m in self.marks],
        }

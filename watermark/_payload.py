"""Payload (viewer ID + time) and the channel codec that carries it (payload format 2).

Encoding chain (all keyed material derived from the :class:`Key`)::

    64 payload bits ─ XOR keyed whitening ─┐
                                           ├─ 104 bits ─ polar code (256, 104) ─ 256 channel bits
    40-bit HMAC-SHA256 of the payload ─────┘                (each on 2-3 keyed slots of the tile)

Decoding runs it backwards from per-channel-bit soft values (the sum of a
bit's slots): successive-cancellation list decoding with 32 paths
(:mod:`watermark._code2`), then the ``MAX_MAC_CHECKS_PER_DECODE`` = 5 best
paths are checked against the keyed MAC, best first, and only a message
whose MAC matches (and whose 64 bits parse as a payload) is reported.

False-payload bound. When the soft values carry no mark of this key (noise,
an unmarked image, another key's mark, a wrong tile phase), the decoder's
output is a function of the soft values alone, which hold no information on
the key's MAC; each distinct candidate message therefore matches the 40-bit
truncated HMAC-SHA256 tag with probability 2**-40. At most 5 distinct
candidates are checked per decode, so by the union bound one decode reports
a false payload with probability at most 5 * 2**-40 ~= 4.5e-12
(``FALSE_PAYLOAD_PROBABILITY_PER_DECODE``), whatever the list holds. The
list's other 27 paths are never checked and cost nothing; a caller that
decodes several hypotheses (phases, orientations, geometries) multiplies by
the number of decodes, and reports the MAC checks it made.

Format history: format 1 carried the same 104 bits with RS(17, 13) and a
K=7 rate-1/2 convolutional code on 284 channel bits (kept in
:mod:`watermark._ecc` for comparison). Format 2 decodes at 1.7-1.9 dB
lower per-slot SNR, 1.5-1.7 dB end to end with the phase search
(``benchmarks/code_curve.py``); a format-1 mark is not
read by a format-2 decoder (it fails the phase search and the MAC). The
4-bit version field of the payload stays 1: it versions the 64-bit payload
layout, which has not changed; the channel format is fixed by the decoder
that reads it, and a mark of another format cannot pass the MAC.
"""

from __future__ import annotations

import dataclasses
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._code2 import CODE_LENGTH, INFO_BITS, MAX_CANDIDATES, polar_code
from ._errors import OptionError, PayloadError
from ._key import Key

__all__ = [
    "Payload",
    "DecodeOutcome",
    "encode_payload",
    "decode_soft_bits",
    "decode_soft_bits_batch",
    "list_codewords",
    "CHANNEL_BITS",
    "MAC_BITS",
    "MAX_MAC_CHECKS_PER_DECODE",
    "FALSE_PAYLOAD_PROBABILITY_PER_DECODE",
    "EARLIEST_TIMESTAMP",
    "LATEST_TIMESTAMP",
]

FORMAT_VERSION = 1
EARLIEST_TIMESTAMP = datetime(2020, 1, 1, tzinfo=timezone.utc)
"""The payload's time field counts minutes from here: the earliest time a mark can carry."""
LATEST_TIMESTAMP = datetime(2100, 12, 31, 23, 59, tzinfo=timezone.utc)
"""The latest time a mark can carry (the 26-bit minute field reaches further; this is the accepted range)."""
EPOCH = EARLIEST_TIMESTAMP
LATEST = LATEST_TIMESTAMP
_PAYLOAD_BYTES = 8
_MAC_BYTES = 5
MAC_BITS = 8 * _MAC_BYTES
CHANNEL_FORMAT = 2
"""The channel code's format: 2 = polar (256, 104) on 2-3 slots per bit (1 was RS + convolutional, 284 bits)."""
CHANNEL_BITS = CODE_LENGTH  # 256
MAX_MAC_CHECKS_PER_DECODE = MAX_CANDIDATES
"""Candidate messages checked against the keyed MAC by one :func:`decode_soft_bits` call, at most.

The list decoder keeps 32 paths; only the 5 best (distinct messages) reach the MAC.
"""
FALSE_PAYLOAD_PROBABILITY_PER_DECODE = MAX_MAC_CHECKS_PER_DECODE * 2.0**-MAC_BITS
"""Union bound on a false payload per decode: 5 checks, each passing by chance with probability 2**-40."""
if INFO_BITS != 8 * (_PAYLOAD_BYTES + _MAC_BYTES):  # pragma: no cover - the code and the message must agree
    raise ImportError("the channel code does not carry a 13-byte message")


@dataclass(frozen=True)
class Payload:
    """What a mark says: who displayed the screen, and when.

    Parameters
    ----------
    viewer_id : int
        The viewer (employee account) ID, 0 to 2**32 - 1.
    timestamp : datetime or int or float
        When the screen was rendered: a timezone-aware ``datetime`` or POSIX
        seconds. Stored in UTC at one-minute resolution (seconds are dropped),
        from 2020-01-01 to 2100-12-31.
    version : int
        Version of this 64-bit layout; only 1 exists (the channel code that
        carries it is format 2, ``CHANNEL_FORMAT``).

    Notes
    -----
    Bit layout (64 bits, big-endian): version (4) | viewer_id (32) |
    minutes since 2020-01-01T00:00Z (26) | reserved zero (2).

    Examples
    --------
    >>> p = Payload(viewer_id=4821, timestamp=datetime(2026, 3, 1, 9, 30, 42, tzinfo=timezone.utc))
    >>> p.timestamp.isoformat()
    '2026-03-01T09:30:00+00:00'
    >>> Payload.from_bytes(p.to_bytes()) == p
    True
    """

    viewer_id: int
    timestamp: datetime
    version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        if isinstance(self.viewer_id, bool) or not isinstance(self.viewer_id, (int, np.integer)):
            raise PayloadError(f"viewer_id must be an int, got {type(self.viewer_id).__name__}", field="viewer_id", value=self.viewer_id)
        if not 0 <= int(self.viewer_id) <= 2**32 - 1:
            raise PayloadError(f"viewer_id must be in 0..{2**32 - 1}, got {self.viewer_id}", field="viewer_id", value=self.viewer_id)
        if self.version != FORMAT_VERSION:
            raise PayloadError(f"payload version must be {FORMAT_VERSION}, got {self.version}", field="version", value=self.version)
        object.__setattr__(self, "viewer_id", int(self.viewer_id))
        object.__setattr__(self, "timestamp", _normalize_timestamp(self.timestamp))

    @property
    def minutes(self) -> int:
        """Minutes since 2020-01-01T00:00Z."""
        return int((self.timestamp - EPOCH) // timedelta(minutes=1))

    def to_bytes(self) -> bytes:
        """The 8-byte wire form (see Notes of the class)."""
        value = (self.version << 60) | (self.viewer_id << 28) | (self.minutes << 2)
        return value.to_bytes(_PAYLOAD_BYTES, "big")

    @classmethod
    def from_bytes(cls, data: bytes) -> "Payload":
        """Parse the 8-byte wire form; raises PayloadError on an invalid layout."""
        if len(data) != _PAYLOAD_BYTES:
            raise PayloadError(f"a payload is {_PAYLOAD_BYTES} bytes, got {len(data)}")
        value = int.from_bytes(data, "big")
        version, viewer_id = value >> 60, (value >> 28) & 0xFFFFFFFF
        minutes, reserved = (value >> 2) & ((1 << 26) - 1), value & 3
        if reserved:
            raise PayloadError("payload reserved bits are not zero")
        return cls(viewer_id=viewer_id, timestamp=EPOCH + timedelta(minutes=minutes), version=version)

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly form."""
        return {"viewer_id": self.viewer_id, "timestamp": self.timestamp.isoformat(), "version": self.version}

    def replace(self, **changes: Any) -> "Payload":
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)


def _normalize_timestamp(value: object) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise PayloadError(
                "timestamp must be timezone-aware (e.g. datetime.now(timezone.utc)); got a naive datetime"
            )
        ts = value.astimezone(timezone.utc)
    elif isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        if not np.isfinite(value):
            raise PayloadError(f"timestamp must be finite, got {value}", field="timestamp", value=value)
        if not -1e11 < float(value) < 1e11:
            raise PayloadError(f"timestamp {value} is outside {EPOCH.isoformat()} .. {LATEST.isoformat()}", field="timestamp", value=value)
        ts = datetime.fromtimestamp(float(value), tz=timezone.utc)
    else:
        raise PayloadError(f"timestamp must be an aware datetime or POSIX seconds, got {type(value).__name__}", field="timestamp", value=value)
    ts = ts.replace(second=0, microsecond=0)
    if not EPOCH <= ts <= LATEST:
        raise PayloadError(
            f"timestamp {ts.isoformat()} is outside the supported range "
            f"{EPOCH.isoformat()} .. {LATEST.isoformat()}"
        )
    return ts


def _message(payload: Payload, key: Key) -> bytes:
    """The 13 message bytes: keyed-whitened payload (8) + keyed MAC of the plain payload (5)."""
    plain = payload.to_bytes()
    whitened = bytes(a ^ b for a, b in zip(plain, key.derive("whiten", _PAYLOAD_BYTES)))
    return whitened + key.mac(plain, _MAC_BYTES)


def _check(message: bytes, key: Key) -> Payload | None:
    """The payload of a 13-byte candidate message whose MAC matches and whose bits parse, else None."""
    plain = bytes(a ^ b for a, b in zip(message[:_PAYLOAD_BYTES], key.derive("whiten", _PAYLOAD_BYTES)))
    if not hmac.compare_digest(key.mac(plain, _MAC_BYTES), message[_PAYLOAD_BYTES:]):
        return None
    try:
        return Payload.from_bytes(plain)
    except PayloadError:
        return None


def encode_payload(payload: Payload, key: Key) -> NDArray[np.uint8]:
    """Channel bits (0/1, length ``CHANNEL_BITS``) for ``payload`` under ``key``.

    Examples
    --------
    >>> key = Key(bytes(range(32)))
    >>> bits = encode_payload(Payload(viewer_id=7, timestamp=datetime(2026, 1, 2, tzinfo=timezone.utc)), key)
    >>> bits.shape, bits.dtype.name
    ((256,), 'uint8')
    """
    info = np.unpackbits(np.frombuffer(_message(payload, key), dtype=np.uint8))
    return polar_code().encode(info)


@dataclass(frozen=True)
class DecodeOutcome:
    """Result of decoding one set of soft values.

    Attributes
    ----------
    payload : Payload or None
        The payload, only if a candidate passed the keyed MAC.
    mac_checks : int
        Distinct candidate messages tested against the MAC (each may pass by
        chance with probability 2**-40 when the input is not our mark).
    channel_bit_errors : int or None
        Hard-decision disagreements between the soft values and the
        re-encoded payload (only when a payload was found).
    erasures : int
        Reed-Solomon erasures of payload format 1; always 0 in format 2
        (kept so that existing callers keep working).
    list_rank : int or None
        Rank (0 = best path) of the candidate that passed, when found.
    """

    payload: Payload | None
    mac_checks: int
    channel_bit_errors: int | None = None
    erasures: int = 0
    list_rank: int | None = None


def decode_soft_bits(soft: NDArray[np.floating], key: Key) -> DecodeOutcome:
    """Decode channel soft values (positive means bit 0, any scale) into a payload, or nothing.

    Notes
    -----
    The soft value of a channel bit is the sum of its slots' signed values
    (proportional to its LLR when all slots have the same noise); non-finite
    values count as erasures. The list decoder's 5 best distinct messages
    are checked against the MAC, best first; the first that passes is the
    result.

    False-payload probability. When ``soft`` carries no mark of ``key``,
    each checked candidate passes the 40-bit MAC with probability 2**-40, so
    a call returns a false payload with probability at most
    ``MAX_MAC_CHECKS_PER_DECODE * 2**-40 = 5 * 2**-40 ~= 4.5e-12``
    (``FALSE_PAYLOAD_PROBABILITY_PER_DECODE``), whatever the noise. Callers
    that try several hypotheses (offsets, rotations) multiply by the number
    of calls. The version and reserved bits must also parse, which only
    lowers the figure.

    Examples
    --------
    >>> key = Key(bytes(range(32)))
    >>> p = Payload(viewer_id=7, timestamp=datetime(2026, 1, 2, tzinfo=timezone.utc))
    >>> soft = 1.0 - 2.0 * encode_payload(p, key)
    >>> outcome = decode_soft_bits(soft, key)
    >>> outcome.payload == p, outcome.mac_checks, outcome.channel_bit_errors
    (True, 1, 0)
    """
    soft = np.asarray(soft, dtype=np.float64)
    if soft.shape != (CHANNEL_BITS,):
        raise OptionError(f"soft must have shape ({CHANNEL_BITS},), got {soft.shape}", name="soft", value=soft.shape)
    return decode_soft_bits_batch(soft[None], key)[0]


def decode_soft_bits_batch(soft: NDArray[np.floating], key: Key) -> list[DecodeOutcome]:
    """:func:`decode_soft_bits` of each row of ``soft`` (n, ``CHANNEL_BITS``): one batched list decode.

    The same decoder and MAC checks, row by row; :func:`decode_soft_bits`
    is this with one row. A tool that decodes many soft vectors at once (a
    benchmark of the false-payload rate) saves the decoder's per-call cost.

    Examples
    --------
    >>> key = Key(bytes(range(32)))
    >>> p = Payload(viewer_id=7, timestamp=datetime(2026, 1, 2, tzinfo=timezone.utc))
    >>> rows = np.stack([1.0 - 2.0 * encode_payload(p, key), np.zeros(CHANNEL_BITS)])
    >>> [(o.payload == p, o.mac_checks) for o in decode_soft_bits_batch(rows, key)]
    [(True, 1), (False, 5)]
    """
    soft = np.asarray(soft, dtype=np.float64)
    if soft.ndim != 2 or soft.shape[1] != CHANNEL_BITS:
        raise OptionError(f"soft must have shape (n, {CHANNEL_BITS}), got {soft.shape}", name="soft", value=soft.shape)
    soft = np.nan_to_num(soft, nan=0.0, posinf=0.0, neginf=0.0)
    if soft.shape[0] == 0:
        return []
    candidates, penalty = polar_code().decode(soft)
    return [_check_candidates(soft[i], candidates[i], penalty[i], key) for i in range(soft.shape[0])]


def _check_candidates(soft: NDArray[np.float64], candidates: NDArray[np.uint8], penalty: NDArray[np.float64], key: Key) -> DecodeOutcome:
    """Check one row's list against the MAC, best first, at most ``MAX_MAC_CHECKS_PER_DECODE`` candidates."""
    checks = 0
    for rank in range(min(MAX_MAC_CHECKS_PER_DECODE, candidates.shape[0])):
        if not np.isfinite(penalty[rank]):
            break
        checks += 1
        payload = _check(np.packbits(candidates[rank]).tobytes(), key)
        if payload is None:
            continue
        recoded = encode_payload(payload, key)
        errors = int(np.count_nonzero((soft < 0) != (recoded == 1)))
        return DecodeOutcome(payload, checks, errors, 0, rank)
    return DecodeOutcome(None, checks)


def list_codewords(soft: NDArray[np.floating]) -> NDArray[np.uint8]:
    """The list decoder's codewords for ``soft`` (best path first), channel bits 0/1, (n, CHANNEL_BITS).

    None of them is checked against the MAC (so none costs a false-payload
    check): this is how well the best codewords of the whole code fit the
    soft values, for comparing a known candidate against them.
    """
    soft = np.nan_to_num(np.asarray(soft, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    if soft.shape != (CHANNEL_BITS,):
        raise OptionError(f"soft must have shape ({CHANNEL_BITS},), got {soft.shape}", name="soft", value=soft.shape)
    code = polar_code()
    candidates, penalty = code.decode(soft[None])
    keep = np.isfinite(penalty[0])
    return np.stack([code.encode(m) for m in candidates[0][keep]]) if keep.any() else np.zeros((0, CHANNEL_BITS), np.uint8)

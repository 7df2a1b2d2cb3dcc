"""Payload (viewer ID + time) and the channel codec that carries it.

Encoding chain (all keyed material derived from the :class:`Key`)::

    64 payload bits ─ XOR keyed whitening ─┐
                                           ├─ 13 bytes ─ RS(17, 13) ─ 136 bits
    40-bit HMAC-SHA256 of the payload ─────┘        ─ conv. code K=7 r=1/2 ─ 284 channel bits

Decoding runs the chain backwards from per-bit soft values: max-log-MAP
decoding of the convolutional code gives bits and their reliabilities; the
Reed-Solomon decoder is tried with no erasures and then with the 1..4 least
reliable bytes erased; every distinct codeword it returns is checked against
the keyed MAC, and only a codeword whose MAC matches is reported.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np
import reedsolo
from numpy.typing import NDArray

from ._ecc import coded_length, conv_decode, conv_encode
from ._errors import OptionError, PayloadError
from ._key import Key

__all__ = [
    "Payload",
    "DecodeOutcome",
    "encode_payload",
    "decode_soft_bits",
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
_RS_NSYM = 4
MAC_BITS = 8 * _MAC_BYTES
_MESSAGE_BYTES = _PAYLOAD_BYTES + _MAC_BYTES
_CODEWORD_BYTES = _MESSAGE_BYTES + _RS_NSYM
CHANNEL_BITS = coded_length(8 * _CODEWORD_BYTES)  # 284
MAX_MAC_CHECKS_PER_DECODE = _RS_NSYM + 1
"""Codewords checked against the keyed MAC by one :func:`decode_soft_bits` call, at most.

Reed-Solomon is tried with 0..4 erasures, each returning at most one distinct codeword.
"""
FALSE_PAYLOAD_PROBABILITY_PER_DECODE = MAX_MAC_CHECKS_PER_DECODE * 2.0**-MAC_BITS
_RS = reedsolo.RSCodec(_RS_NSYM)


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
        Payload format version; only 1 exists.

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


def _bytes_to_bits(data: bytes) -> NDArray[np.uint8]:
    return np.unpackbits(np.frombuffer(bytes(data), dtype=np.uint8))


def encode_payload(payload: Payload, key: Key) -> NDArray[np.uint8]:
    """Channel bits (0/1, length ``CHANNEL_BITS``) for ``payload`` under ``key``."""
    plain = payload.to_bytes()
    whitened = bytes(a ^ b for a, b in zip(plain, key.derive("whiten", _PAYLOAD_BYTES)))
    message = whitened + key.mac(plain, _MAC_BYTES)
    codeword = bytes(_RS.encode(bytearray(message)))
    return conv_encode(_bytes_to_bits(codeword))


@dataclass(frozen=True)
class DecodeOutcome:
    """Result of decoding one set of soft values.

    Attributes
    ----------
    payload : Payload or None
        The payload, only if a codeword passed the keyed MAC.
    mac_checks : int
        Distinct candidate codewords tested against the MAC (each may pass by
        chance with probability 2**-40 when the input is not our mark).
    channel_bit_errors : int or None
        Hard-decision disagreements between the soft values and the
        re-encoded payload (only when a payload was found).
    erasures : int
        Bytes erased in the successful Reed-Solomon attempt.
    """

    payload: Payload | None
    mac_checks: int
    channel_bit_errors: int | None = None
    erasures: int = 0


def decode_soft_bits(soft: NDArray[np.floating], key: Key) -> DecodeOutcome:
    """Decode channel soft values (positive means bit 0) into a payload, or nothing.

    Notes
    -----
    False-payload probability. When ``soft`` carries no mark of ``key``
    (noise, an unmarked image, another key's mark), every candidate codeword
    the Reed-Solomon stage returns is, as far as the MAC can tell, an
    arbitrary message, and HMAC-SHA256 truncated to 40 bits accepts it with
    probability 2**-40. At most ``_RS_NSYM + 1 = 5`` candidates are tested
    per call, so by the union bound a call returns a false payload with
    probability at most 5 * 2**-40 ~= 4.5e-12 (``FALSE_PAYLOAD_PROBABILITY_PER_DECODE``),
    whatever the noise. Callers that try several hypotheses (offsets,
    rotations) multiply by the number of calls. The version and reserved
    bits must also parse, which only lowers the figure.
    """
    soft = np.asarray(soft, dtype=np.float64)
    if soft.shape != (CHANNEL_BITS,):
        raise OptionError(f"soft must have shape ({CHANNEL_BITS},), got {soft.shape}", name="soft", value=soft.shape)
    if not np.all(np.isfinite(soft)):
        soft = np.nan_to_num(soft, nan=0.0, posinf=0.0, neginf=0.0)
    bits, reliability = conv_decode(soft)
    received = bytearray(np.packbits(bits).tobytes())
    byte_reliability = reliability.reshape(_CODEWORD_BYTES, 8).min(axis=1)
    order = np.argsort(byte_reliability, kind="stable")
    tried: set[bytes] = set()
    for n_erasures in range(_RS_NSYM + 1):
        erase = sorted(int(i) for i in order[:n_erasures])
        try:
            message, codeword, _ = _RS.decode(received, erase_pos=erase or None)
        except reedsolo.ReedSolomonError:
            continue
        message = bytes(message)
        if message in tried:
            continue
        tried.add(message)
        whitened, tag = message[:_PAYLOAD_BYTES], message[_PAYLOAD_BYTES:]
        plain = bytes(a ^ b for a, b in zip(whitened, key.derive("whiten", _PAYLOAD_BYTES)))
        if not _constant_time_equal(key.mac(plain, _MAC_BYTES), tag):
            continue
        try:
            payload = Payload.from_bytes(plain)
        except PayloadError:
            continue
        recoded = conv_encode(_bytes_to_bits(bytes(codeword)))
        errors = int(np.count_nonzero((soft < 0) != (recoded == 1)))
        return DecodeOutcome(payload, len(tried), errors, n_erasures)
    return DecodeOutcome(None, len(tried))


def _constant_time_equal(a: bytes, b: bytes) -> bool:
    import hmac

    return hmac.compare_digest(a, b)

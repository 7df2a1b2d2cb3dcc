"""The format-2 channel code: a polar code of length 256 on 2-3 slots per coded bit, list-decoded.

:mod:`watermark._payload` carries its 104-bit message (64 keyed-whitened
payload bits + the 40-bit keyed MAC) with this code; :mod:`watermark._pattern`
puts each coded bit on its keyed slots. This module is the code alone: no
key, no MAC, no slots.

Code
----
``x = u F^{(x)8}`` with ``F = [[1, 0], [1, 1]]`` over GF(2): 256 coded bits
(the *channel bits*). The 104 information positions of ``u`` are chosen by
Gaussian-approximation density evolution at a design per-slot SNR of
``DESIGN_SNR``, the other 152 are frozen to zero. The tile has 576 slots:
every coded bit gets 2 of them and coded bits 0..63 a third
(``SLOTS_PER_BIT``), which the construction accounts for (a bit on ``m``
slots has LLR mean ``2 m a^2``).

Why 2-3 slots per coded bit and not one coded bit per slot: the tile-phase
search needs groups of slots that carry the same, unknown, bit. Its
statistic, the summed energy of the group correlations, is then
payload-independent and tied to the keyed grouping, which links slots in
different 8x8 blocks. With one bit per slot it collapses to the energy of
all slots, the same for every key, periodic in whole-block shifts of the
band (32 screen px) and blind to the tile's orientation: the phase could
only be found modulo 32 px, among 512 equal peaks. Measured on simulated
folded tiles (``benchmarks/code_curve.py``, part 2): a polar code of length
512 over all 576 slots decodes at 0.4-0.6 dB lower SNR, but its phase is
found (tracer's rule) in at most two thirds of frames even at a per-slot SNR
of 0.9; this code's 2-3 slot groups give a phase z-score 5-15% above format
1's 284 pairs, and end to end (phase found and decoded) it needs a = 0.60 /
0.67 for 50% / 90% of frames, against 0.72 / 0.80 for format 1 (+1.7 / +1.5
dB). A punctured length-288 code on pairs and a 2/4-slot split came out
level with it (within the noise of 80 frames per point: better at 50%,
worse at 90%) and 3 slots per bit behind (the code loses more than the phase
search gains); this one has the stronger phase peak of the level designs
and the shorter decoder.

Decoding
--------
Successive-cancellation list decoding (min-sum, max-log path metrics, so the
scale of the soft values does not matter) keeps ``list_size`` paths (default
32); rate-0 and repetition subtrees are decoded in one step. The final paths,
best metric first, are the candidates. The caller tests only the first
``MAX_CANDIDATES`` (5) against the MAC, because each one may pass by chance
with probability 2**-40: the false-payload bound stays ``5 * 2**-40 =
4.5e-12`` per decode. The list is internal and costs nothing: what counts is
how many candidates reach the MAC. The keyed MAC plays the role of the CRC
of CRC-aided list decoding (an extra CRC costs rate and the list can only be
cut to 5 checks anyway; it was measured to lower the success rate).

>>> import numpy as np
>>> info = np.random.default_rng(0).integers(0, 2, INFO_BITS).astype(np.uint8)
>>> bits = polar_code().encode(info)
>>> bits.shape
(256,)
>>> candidates, penalty = polar_code().decode((2.0 - 4.0 * bits)[None])
>>> bool(np.array_equal(candidates[0, 0], info)), candidates.shape
(True, (1, 32, 104))
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ._errors import OptionError

__all__ = [
    "INFO_BITS",
    "CODE_LENGTH",
    "N_SLOTS",
    "SLOTS_PER_BIT",
    "DEFAULT_LIST_SIZE",
    "MAX_CANDIDATES",
    "DESIGN_SNR",
    "PolarCode",
    "construct",
    "polar_code",
    "polar_transform",
]

INFO_BITS = 104
"""Message bits: 64 keyed-whitened payload bits + the 40-bit keyed MAC."""
CODE_LENGTH = 256
"""Coded (channel) bits: the polar code's length, ``2**8``."""
N_SLOTS = 576
"""Slots of one tile (64 blocks x 9 DCT positions)."""
SLOTS_PER_BIT: NDArray[np.int64] = np.where(np.arange(CODE_LENGTH) < N_SLOTS - 2 * CODE_LENGTH, 3, 2)
"""Slots carrying each coded bit: 3 for bits 0..63, 2 for the rest (``permutation(576) % 256`` gives exactly this)."""
SLOTS_PER_BIT.setflags(write=False)
DEFAULT_LIST_SIZE = 32
"""Paths kept by the list decoder: beyond 32 the 5 best barely change (measured), and the cost grows linearly."""
MAX_CANDIDATES = 5
"""Candidates tested against the MAC per decode: ``5 * 2**-40 = 4.5e-12`` false-payload bound."""
DESIGN_SNR = 0.5
"""Per-slot amplitude (noise sigma 1) at which the information set is chosen: the waterfall's foot.

0.5, 0.6 and 0.7 were measured within noise of each other (300 frames at a = 0.55-0.65); 0.5 was best at the
low end, where hard captures are.
"""



# --- construction: Gaussian approximation of the bit-channel LLR means ---------------------------


def _ln_phi(x: NDArray[np.float64]) -> NDArray[np.float64]:
    """ln phi(x) of the Gaussian approximation (Chung et al. 2001 fit; decreasing, phi(0) = 1)."""
    x = np.maximum(x, 1e-12)
    small = np.minimum(-0.4527 * x**0.86 + 0.0218, 0.0)
    xb = np.maximum(x, 10.0)
    big = 0.5 * np.log(np.pi / xb) - xb / 4.0 + np.log1p(-10.0 / (7.0 * xb))
    return np.where(x < 10.0, small, big)


def _inv_ln_phi(t: NDArray[np.float64]) -> NDArray[np.float64]:
    lo = np.zeros_like(t)
    hi = np.full_like(t, 1e5)
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        up = _ln_phi(mid) > t
        lo = np.where(up, mid, lo)
        hi = np.where(up, hi, mid)
    return 0.5 * (lo + hi)


def _ga_means(channel: NDArray[np.float64]) -> NDArray[np.float64]:
    """LLR means of the bit channels u_0..u_{n-1}, given the means of the coded-bit LLRs."""
    n = channel.size
    if n == 1:
        return channel
    left, right = channel[: n // 2], channel[n // 2 :]
    a, b = _ln_phi(left), _ln_phi(right)
    s = np.logaddexp(a, b)
    check = _inv_ln_phi(s + np.log1p(-np.exp(a + b - s)))  # phi^-1(1 - (1 - phi(a))(1 - phi(b)))
    return np.concatenate([_ga_means(check), _ga_means(left + right)])


def polar_transform(u: NDArray[np.integer]) -> NDArray[np.uint8]:
    """``u F^{(x)n}`` over GF(2) along the last axis (length a power of two); its own inverse."""
    x = np.array(u, dtype=np.uint8, copy=True)
    n = x.shape[-1]
    lead = x.shape[:-1]
    half = n // 2
    while half >= 1:
        x = x.reshape(*lead, n // (2 * half), 2, half)
        x[..., 0, :] ^= x[..., 1, :]
        half //= 2
    return x.reshape(*lead, n)


# --- the list decoder -----------------------------------------------------------------------------


class _ListDecoder:
    """SCL decoder for one information set; node kinds are classified once."""

    def __init__(self, info: NDArray[np.bool_], list_size: int) -> None:
        self.info = info
        self.list_size = list_size
        self.kinds: dict[tuple[int, int], str] = {}
        self._classify(0, info.size)

    def _classify(self, offset: int, size: int) -> None:
        seg = self.info[offset : offset + size]
        if not seg.any():
            kind = "rate0"
        elif size == 1:
            kind = "leaf"
        elif not seg[:-1].any():
            kind = "rep"  # only the last bit is free: the node's codeword is all-equal
        else:
            kind = "split"
            self._classify(offset, size // 2)
            self._classify(offset + size // 2, size // 2)
        self.kinds[(offset, size)] = kind

    def run(self, llr: NDArray[np.float64]) -> tuple[NDArray[np.uint8], NDArray[np.float64]]:
        """Decode (B, N) LLRs; returns codewords (B, L, N) and path penalties (B, L), best first."""
        return _Pass(self.kinds, self.list_size, llr.shape[0]).run(llr)


class _Pass:
    """The state of one list decoding (path penalties), so that a shared decoder is reentrant."""

    def __init__(self, kinds: dict[tuple[int, int], str], list_size: int, batch: int) -> None:
        self.kinds = kinds
        self.size = list_size
        self.rows = np.arange(batch)[:, None]
        self.ident = np.broadcast_to(np.arange(list_size), (batch, list_size))
        self.pm = np.full((batch, list_size), np.inf)
        self.pm[:, 0] = 0.0

    def run(self, llr: NDArray[np.float64]) -> tuple[NDArray[np.uint8], NDArray[np.float64]]:
        batch, n = llr.shape
        lam = np.broadcast_to(llr[:, None, :], (batch, self.size, n))
        codeword, _ = self._node(lam, 0, n)
        order = np.argsort(self.pm, axis=1, kind="stable")
        return np.take_along_axis(codeword, order[..., None], axis=1), np.take_along_axis(self.pm, order, axis=1)

    def _select(self, pen0: NDArray[np.float64], pen1: NDArray[np.float64]) -> tuple[NDArray[np.uint8], NDArray[np.intp]]:
        """Fork every path on one free bit with the given penalties; keep the best ``size``."""
        cand = np.concatenate([self.pm + pen0, self.pm + pen1], axis=1)
        idx = np.argsort(cand, axis=1, kind="stable")[:, : self.size]
        self.pm = np.take_along_axis(cand, idx, axis=1)
        return (idx // self.size).astype(np.uint8), idx % self.size

    def _node(self, lam: NDArray[np.float64], offset: int, size: int) -> tuple[NDArray[np.uint8], NDArray[np.intp]]:
        """Decode one subtree; returns its re-encoded codeword per path and each path's parent index."""
        kind = self.kinds[(offset, size)]
        if kind == "rate0":
            self.pm = self.pm + np.maximum(-lam, 0.0).sum(axis=-1)
            return np.zeros(lam.shape[:2] + (size,), np.uint8), self.ident
        if kind == "leaf":
            bit, parent = self._select(np.maximum(-lam[..., 0], 0.0), np.maximum(lam[..., 0], 0.0))
            return bit[..., None], parent
        if kind == "rep":
            bit, parent = self._select(np.maximum(-lam, 0.0).sum(axis=-1), np.maximum(lam, 0.0).sum(axis=-1))
            return np.repeat(bit[..., None], size, axis=-1), parent
        half = size // 2
        a, b = lam[..., :half], lam[..., half:]
        f = np.sign(a) * np.sign(b) * np.minimum(np.abs(a), np.abs(b))  # min-sum check node
        v1, p1 = self._node(f, offset, half)
        a, b = a[self.rows, p1], b[self.rows, p1]
        v2, p2 = self._node(b + (1.0 - 2.0 * v1) * a, offset + half, half)
        v1 = v1[self.rows, p2]
        return np.concatenate([v1 ^ v2, v2], axis=-1), p1[self.rows, p2]


@dataclass(frozen=True, eq=False)
class PolarCode:
    """A polar code with rate matching: information positions, which coded bits are sent, and its list decoder.

    Channel bit ``j`` is coded bit ``transmitted[j]`` of the length-``length``
    mother code; a coded bit listed twice is repeated, one not listed is
    punctured. The format-2 code (:func:`polar_code`) sends each of its 256
    coded bits once; :func:`construct` builds others for comparison.
    """

    length: int
    info_positions: NDArray[np.intp]
    transmitted: NDArray[np.intp]
    list_size: int

    @functools.cached_property
    def _decoder(self) -> _ListDecoder:
        mask = np.zeros(self.length, bool)
        mask[self.info_positions] = True
        return _ListDecoder(mask, self.list_size)

    @functools.cached_property
    def _combine(self) -> NDArray[np.float64] | None:
        """(channel_bits, length) 0/1 matrix adding repeated bits' LLRs (punctured ones stay 0); None: identity."""
        if np.array_equal(self.transmitted, np.arange(self.length)):
            return None
        combine = np.zeros((self.channel_bits, self.length))
        combine[np.arange(self.channel_bits), self.transmitted] = 1.0
        return combine

    @property
    def channel_bits(self) -> int:
        """Channel bits per codeword."""
        return int(self.transmitted.size)

    def encode(self, info: NDArray[np.integer]) -> NDArray[np.uint8]:
        """Channel bits (..., channel_bits) of information bits (..., 104) (0/1)."""
        info = np.asarray(info)
        if info.shape[-1:] != (INFO_BITS,) or not np.all((info == 0) | (info == 1)):
            raise OptionError(f"info must be 0/1 bits with last axis {INFO_BITS}, got shape {info.shape}", name="info", value=info.shape)
        u = np.zeros((*info.shape[:-1], self.length), np.uint8)
        u[..., self.info_positions] = info
        return polar_transform(u)[..., self.transmitted]

    def decode(self, llr: NDArray[np.floating]) -> tuple[NDArray[np.uint8], NDArray[np.float64]]:
        """List-decode channel-bit LLRs (B, channel_bits), positive for bit 0, any scale; non-finite values are erasures.

        Returns candidate information bits (B, list_size, 104) and their path
        penalties (B, list_size), best (lowest) first. Distinct paths carry
        distinct messages; a path with penalty ``inf`` is not a candidate
        (only possible when ``list_size`` exceeds 2**104).
        """
        values = np.asarray(llr, dtype=np.float64)
        if values.ndim != 2 or values.shape[1] != self.channel_bits:
            raise OptionError(f"llr must have shape (B, {self.channel_bits}), got {values.shape}", name="llr", value=values.shape)
        values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
        mother = values if self._combine is None else values @ self._combine
        codewords, penalty = self._decoder.run(mother)
        return polar_transform(codewords)[..., self.info_positions], penalty


def construct(
    length: int,
    transmitted: NDArray[np.integer],
    slots: NDArray[np.integer],
    *,
    list_size: int = DEFAULT_LIST_SIZE,
    design_snr: float = DESIGN_SNR,
) -> PolarCode:
    """A polar code of ``length`` (a power of two) sending coded bit ``transmitted[j]`` on ``slots[j]`` slots.

    The 104 information positions are the most reliable bit channels by the
    Gaussian approximation at per-slot amplitude ``design_snr`` (a coded bit
    on ``m`` slots in total has LLR mean ``2 m a^2``; a punctured one, 0).
    """
    if isinstance(list_size, bool) or not (isinstance(list_size, int) and 1 <= list_size <= 1024):
        raise OptionError(f"list_size must be an int in 1..1024, got {list_size!r}", name="list_size", value=list_size)
    if length < INFO_BITS or length & (length - 1):
        raise OptionError(f"length must be a power of two >= {INFO_BITS}, got {length!r}", name="length", value=length)
    sent = np.asarray(transmitted, dtype=np.intp)
    per_bit = np.asarray(slots, dtype=np.float64)
    if sent.shape != per_bit.shape or sent.ndim != 1 or sent.min() < 0 or sent.max() >= length:
        raise OptionError("transmitted and slots must be 1-d, of one length, with indices below the code length", name="transmitted", value=sent.shape)
    channel = np.bincount(sent, weights=2.0 * design_snr**2 * per_bit, minlength=length).astype(np.float64)
    means = _ga_means(channel)
    info = np.sort(np.argsort(means, kind="stable")[::-1][:INFO_BITS]).astype(np.intp)
    info.setflags(write=False)
    sent.setflags(write=False)
    return PolarCode(length=length, info_positions=info, transmitted=sent, list_size=list_size)


@functools.lru_cache(maxsize=8)
def polar_code(list_size: int = DEFAULT_LIST_SIZE, design_snr: float = DESIGN_SNR) -> PolarCode:
    """The format-2 code: length 256, every coded bit sent once, on ``SLOTS_PER_BIT`` slots."""
    return construct(CODE_LENGTH, np.arange(CODE_LENGTH), SLOTS_PER_BIT, list_size=list_size, design_snr=design_snr)

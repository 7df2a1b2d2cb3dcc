"""Keyed spread-spectrum pattern in the DWT-DCT domain.

One *tile* of ``TILE`` x ``TILE`` pixels carries the whole codeword. Its
level-2 DWT approximation band (``TILE/4`` square) is cut into 8x8 blocks;
in each block's orthonormal DCT, the coefficients with ``u, v`` in 1..3
are *slots* (9 per block, 576 per tile). Slot ``i`` carries channel bit
``slot_bit[i]`` with keyed sign ``s_i``: its coefficient is
``amplitude * s_i * (1 - 2 * bit)``; every other coefficient is zero. A keyed
permutation gives each of the 256 channel bits (payload format 2) 2 slots,
and bits 0..63 a third, spread over the tile and over frequencies.

The slots of one channel bit form a *group*: they carry the same bit, so the
squared sum of a group's signed correlations does not depend on the payload.
The tile-phase search sums it over groups (:func:`bit_band_patterns`), and
because a group links slots in different 8x8 blocks, the sum peaks at the
true phase and orientation only. (Were every slot a different bit, it would
reduce to the energy of all slots: the same for every key, periodic in
whole-block shifts and blind to orientation.)

Both transforms are linear and orthonormal (``pywt`` with ``periodization``
and ``scipy.fft.dctn(norm='ortho')``), so the spatial tile is a fixed linear
function of the coefficients: it depends only on (payload, key), is computed
once and cached, and tiles seamlessly (periodic boundary). Decoding is the
forward transform and a correlation, which is invariant to the gain that
camera exposure and gamma apply.

Basis periods run from 64 px (u = 1) down to about 21 px (u = 3) along each
axis, i.e. features of 11-32 screen pixels, which survive capture at 0.3x
scale; the design notes (DESIGN.md) measured that an 8 px carrier does not.

Why ``u, v >= 1`` (payload format 2; format 1 used ``1 <= u + v <= 3``):
every slot is a product of a horizontal and a vertical cosine, so its energy
lies off the frequency axes (18 to 45 degrees). On EMR screens the content
noise that survives the prefilter sits on the axes (table rules, text rows
and columns: ``python -m benchmarks.band_snr`` measured 13x more noise power
within 5 degrees of an axis than at 35-45 degrees on hard phone photos), so
format 1's six axial slots of nine bought little SNR. At the true geometry
this raised the soft-bit SNR on the benchmark's phone-hard photos from 0.38
to 1.16 (median of 12) and on phone-standard from 2.7 to 4.7, at the same
FLIP visibility (``benchmarks/results/visibility.md``).
"""

from __future__ import annotations

import functools
from typing import TypeVar

import numpy as np
import pywt
import scipy.fft
from numpy.typing import NDArray

from ._key import Key
from ._payload import CHANNEL_BITS

_Scalar = TypeVar("_Scalar", bound=np.generic)

__all__ = [
    "TILE",
    "LEVEL",
    "WAVELET",
    "BAND",
    "slot_layout",
    "coefficients_to_tile",
    "tile_to_band",
    "band_correlation",
    "shifted_bands",
    "band_to_slots",
    "bit_band_patterns",
    "conj_bit_band_patterns",
    "orient_tile",
    "oriented_band_spectra",
    "SlotLayout",
]

TILE = 256
LEVEL = 2
WAVELET = "sym4"
BAND = TILE >> LEVEL  # 64: side of the approximation band of one tile
BLOCK = 8
N_BLOCKS = (BAND // BLOCK) ** 2  # 64
_UV = [(u, v) for u in (1, 2, 3) for v in (1, 2, 3)]  # 9 positions, off the frequency axes
UV_U = np.array([u for u, _ in _UV])
UV_V = np.array([v for _, v in _UV])
N_SLOTS = N_BLOCKS * len(_UV)  # 576
# Unused positions with u + v = 4 or 5 carry no signal: the decoder uses them to measure noise.
_NOISE_UV = [(u, v) for s in (4, 5) for u in range(s + 1) for v in (s - u,) if u < BLOCK and v < BLOCK and (u, v) not in _UV]
NOISE_U = np.array([u for u, _ in _NOISE_UV])
NOISE_V = np.array([v for _, v in _NOISE_UV])


class SlotLayout:
    """Keyed assignment of slots to channel bits, with keyed signs.

    ``slot_bit[i]`` is the channel bit of slot ``i``, ``sign[i]`` its keyed
    sign, ``bit_slot_count[j]`` the number of slots of bit ``j`` (2 or 3).
    """

    __slots__ = ("slot_bit", "sign", "bit_slot_count")

    def __init__(self, slot_bit: NDArray[np.int64], sign: NDArray[np.float64]) -> None:
        self.slot_bit = slot_bit
        self.sign = sign
        self.bit_slot_count = np.bincount(slot_bit, minlength=CHANNEL_BITS)


@functools.lru_cache(maxsize=16)
def slot_layout(key: Key) -> SlotLayout:
    """The keyed slot permutation and signs (cached per key)."""
    rng = np.random.Generator(np.random.PCG64(int.from_bytes(key.derive("slots", 16), "big")))
    # Slot index = block * 9 + position. A keyed permutation spreads each
    # bit's slots over the tile and over frequencies.
    slot_bit = rng.permutation(N_SLOTS) % CHANNEL_BITS
    sign = (rng.integers(0, 2, N_SLOTS) * 2.0 - 1.0).astype(np.float64)
    return SlotLayout(slot_bit, sign)


def _slot_blocks() -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    block = np.repeat(np.arange(N_BLOCKS), len(_UV))
    pos = np.tile(np.arange(len(_UV)), N_BLOCKS)
    return block // (BAND // BLOCK), block % (BAND // BLOCK), UV_U[pos], UV_V[pos]


_BY, _BX, _SU, _SV = _slot_blocks()


def _blocks_to_band(coeffs: NDArray[np.float64]) -> NDArray[np.float64]:
    """Inverse block DCT: (..., 8, 8, 8, 8) coefficient blocks -> (..., 64, 64) band."""
    spatial = scipy.fft.idctn(coeffs, axes=(-2, -1), norm="ortho")
    lead = spatial.shape[:-4]
    return spatial.swapaxes(-3, -2).reshape(*lead, BAND, BAND)


def band_to_blocks(band: NDArray[np.floating]) -> NDArray[np.float64]:
    """Block DCT: (..., 64, 64) band -> (..., 8, 8, 8, 8) = (block row, block col, u, v)."""
    lead = band.shape[:-2]
    n = BAND // BLOCK
    blocks = band.reshape(*lead, n, BLOCK, n, BLOCK).swapaxes(-3, -2)
    return scipy.fft.dctn(blocks, axes=(-2, -1), norm="ortho")


def coefficients_to_tile(slot_values: NDArray[np.floating]) -> NDArray[np.float64]:
    """Spatial tile (TILE x TILE) whose slot coefficients are ``slot_values`` (others zero)."""
    coeffs = np.zeros((BAND // BLOCK, BAND // BLOCK, BLOCK, BLOCK))
    coeffs[_BY, _BX, _SU, _SV] = slot_values
    band = _blocks_to_band(coeffs)
    return band_to_tile(band)


def band_to_tile(band: NDArray[np.floating]) -> NDArray[np.float64]:
    """Inverse DWT of an approximation band with zero detail bands."""
    zeros = [tuple(np.zeros((BAND << lvl, BAND << lvl)) for _ in range(3)) for lvl in range(LEVEL)]
    return pywt.waverec2([band, *zeros], WAVELET, mode="periodization")


def tile_to_band(tile: NDArray[np.floating]) -> NDArray[np.float64]:
    """Level-2 approximation band of one or more tiles (..., TILE, TILE) -> (..., BAND, BAND)."""
    return pywt.wavedec2(tile, WAVELET, mode="periodization", level=LEVEL, axes=(-2, -1))[0]


@functools.lru_cache(maxsize=1)
def _band_response_spectrum() -> NDArray[np.complex128]:
    """conj(rFFT) of the level-2 approximation's response: band[k, l] = sum R[m, n] tile[m + 4k, n + 4l] (cyclic)."""
    # The periodized transform is linear and separable, and a shift of the tile by 4 px shifts its band by one
    # sample: one row of the 1-D transform of the identity is the whole response along an axis.
    r = pywt.wavedec(np.eye(TILE), WAVELET, mode="periodization", level=LEVEL, axis=-1)[0][:, 0]
    return np.conj(scipy.fft.rfft2(np.outer(r, r)))


def orient_tile(tile: NDArray[_Scalar], quarter_turns: int, mirrored: bool) -> NDArray[_Scalar]:
    """Undo a quarter-turn / mirror of the input on a folded tile (or a stack: the last two axes): mirror, then turn."""
    t = np.flip(tile, axis=-1) if mirrored else tile
    return np.ascontiguousarray(np.rot90(t, quarter_turns, axes=(-2, -1)))


@functools.lru_cache(maxsize=8)
def _orientation_gather(quarter_turns: int, mirrored: bool) -> tuple[NDArray[np.int64], NDArray[np.complex128]]:
    """Where the band rFFT of an oriented tile reads the tile's full spectrum, and with what weights.

    An oriented tile is ``o(p) = t(A p + c)`` (cyclic) with ``A`` a signed
    permutation, so its spectrum is ``O(w) = exp(2 pi i (A w).c / TILE) T(A w)``.
    Its band is its correlation with the band's response sampled on the 4-px
    grid, whose spectrum is the 16 aliases of ``O(w) conj(R(w))``, over 16.
    Returns the flat indices into the tile's full spectrum (16, BAND, BAND//2+1)
    and the weights (phase, response and 1/16 in one).
    """
    grid = np.indices((TILE, TILE))
    src = orient_tile(grid, quarter_turns, mirrored)  # source (row, col) of each output pixel
    c = src[:, 0, 0]
    a = np.stack([(src[:, 1, 0] - c + 1) % TILE - 1, (src[:, 0, 1] - c + 1) % TILE - 1], axis=1)  # columns: d/drow, d/dcol
    step = TILE // BAND
    k = np.arange(BAND)[:, None] + BAND * np.arange(step)[:, None, None]  # (step, BAND, 1): row frequencies with aliases
    l = np.arange(BAND // 2 + 1)[None, :] + BAND * np.arange(step)[:, None, None]  # (step, 1, BAND//2+1)
    wy = np.broadcast_to(k[:, None], (step, step, BAND, BAND // 2 + 1)).reshape(-1, BAND, BAND // 2 + 1)
    wx = np.broadcast_to(l[None, :], (step, step, BAND, BAND // 2 + 1)).reshape(-1, BAND, BAND // 2 + 1)
    sy = (a[0, 0] * wy + a[0, 1] * wx) % TILE  # A w
    sx = (a[1, 0] * wy + a[1, 1] * wx) % TILE
    phase = np.exp(2j * np.pi * (sy * c[0] + sx * c[1]) / TILE)
    r = pywt.wavedec(np.eye(TILE), WAVELET, mode="periodization", level=LEVEL, axis=-1)[0][:, 0]
    response = np.conj(np.fft.fft2(np.outer(r, r)))[wy % TILE, wx % TILE]
    return (sy * TILE + sx).ravel(), phase * response / step**2


def oriented_band_spectra(tile: NDArray[np.floating], orientations: list[tuple[int, bool]]) -> NDArray[np.complex64]:
    """``rfft2(tile_to_band(orient_tile(tile, *o)))`` for each orientation, (n, BAND, BAND//2+1), from one FFT of the tile.

    Equal to the wavelet route to float32 rounding: the tile-phase search
    ranks eight orientations of a fold for several keys, and the band
    transforms were a fifth of it.
    """
    spectrum = np.fft.fft2(np.asarray(tile, dtype=np.float64)).ravel()
    out = np.empty((len(orientations), BAND, BAND // 2 + 1), dtype=np.complex64)
    for i, (turns, mirrored) in enumerate(orientations):
        index, weight = _orientation_gather(turns % 4, bool(mirrored))
        out[i] = (spectrum[index].reshape(weight.shape) * weight).sum(axis=0)
    return out


def band_correlation(tile: NDArray[np.floating]) -> NDArray[np.float64]:
    """Every pixel shift's level-2 band of a tile at once, (TILE, TILE): see :func:`shifted_bands`.

    One cyclic correlation of the tile with the band's response: the band of
    ``np.roll(tile, (-dy, -dx), axis=(0, 1))`` is its samples on the 4-px
    grid offset by ``(dy, dx)``, so a hill-climb over pixel phases costs one
    FFT pair, not a wavelet transform per shift.
    """
    return scipy.fft.irfft2(scipy.fft.rfft2(np.asarray(tile, dtype=np.float64)) * _band_response_spectrum(), s=(TILE, TILE))


def shifted_bands(correlation: NDArray[np.float64], shifts: list[tuple[int, int]]) -> NDArray[np.float64]:
    """``tile_to_band(np.roll(tile, (-dy, -dx), axis=(0, 1)))`` for each ``(dy, dx)``, (n, BAND, BAND).

    ``correlation`` is :func:`band_correlation` of the tile. Equal to the
    wavelet transform of each shifted tile to rounding (1e-15).
    """
    grid = np.arange(BAND) * (TILE // BAND)
    return np.stack([correlation[np.ix_((grid + dy) % TILE, (grid + dx) % TILE)] for dy, dx in shifts])


def band_to_slots(band: NDArray[np.floating]) -> NDArray[np.float64]:
    """Slot coefficients (..., N_SLOTS) of an aligned band (..., BAND, BAND)."""
    blocks = band_to_blocks(band)
    return blocks[..., _BY, _BX, _SU, _SV]


def band_noise_coefficients(band: NDArray[np.floating]) -> NDArray[np.float64]:
    """Coefficients of the unused positions with u + v in {4, 5}: content and camera noise only."""
    blocks = band_to_blocks(band)
    return blocks[..., NOISE_U, NOISE_V].reshape(*band.shape[:-2], -1)


@functools.lru_cache(maxsize=16)
def bit_band_patterns(key: Key) -> NDArray[np.complex64]:
    """rFFT of each channel bit's band-domain group pattern, (CHANNEL_BITS, BAND, BAND//2+1).

    The pattern of bit ``j`` is its 2-3 slots' basis functions with their
    keyed signs. ``irfft2(rfft2(band) * conj(P[j]))[t]`` is the soft value of
    bit ``j`` (the signed sum of its slots) when the band is cyclically
    shifted by ``t``: the tile-phase search correlates all groups at all
    shifts with one batched FFT.
    """
    layout = slot_layout(key)
    coeffs = np.zeros((CHANNEL_BITS, BAND // BLOCK, BAND // BLOCK, BLOCK, BLOCK))
    coeffs[layout.slot_bit, _BY, _BX, _SU, _SV] = layout.sign
    bands = _blocks_to_band(coeffs)
    return scipy.fft.rfft2(bands).astype(np.complex64)


@functools.lru_cache(maxsize=16)
def conj_bit_band_patterns(key: Key) -> NDArray[np.complex64]:
    """``conj(bit_band_patterns(key))``, cached: every tile-phase search multiplies by it."""
    return np.conj(bit_band_patterns(key))

"""Payload format 1's code: a rate-1/2, constraint-length-7 convolutional code with soft decoding, under RS(17, 13).

Format 2 (the polar code of :mod:`watermark._code2`) replaced it; this
module stays for the benchmarks that measure one against the other.

The generators are the industry-standard pair (171, 133 octal) used by
IEEE 802.11 and CCSDS; with soft-decision decoding it gains about 5 dB over
uncoded transmission at low bit error rates. Decoding is max-log-MAP (BCJR),
vectorized over the 64 trellis states, so besides the decisions it returns a
reliability (|LLR|) per information bit, which the outer Reed-Solomon code
uses to choose erasures.
"""

from __future__ import annotations

import numpy as np
import reedsolo
from numpy.typing import NDArray

from ._errors import OptionError

__all__ = [
    "conv_encode",
    "conv_decode",
    "coded_length",
    "MEMORY",
    "FORMAT1_CHANNEL_BITS",
    "FORMAT1_MAX_CANDIDATES",
    "FORMAT1_MESSAGE_BYTES",
    "format1_encode",
    "format1_candidates",
]

MEMORY = 6  # constraint length 7
_GENERATORS = (0o171, 0o133)
_N_STATES = 1 << MEMORY


def _parity(x: NDArray[np.int64]) -> NDArray[np.int64]:
    x = x.copy()
    for shift in (4, 2, 1):
        x ^= x >> shift
    return x & 1


def _build_trellis() -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.int64]]:
    # The register r holds u[t] at bit 6 down to u[t-6] at bit 0; the state
    # before input u[t] is r & 63, the state after it is r >> 1.
    states = np.arange(_N_STATES)
    inputs = np.array([0, 1])
    regs = (inputs[None, :] << MEMORY) | states[:, None]  # (state, input)
    outputs = np.stack([_parity(regs & g) for g in _GENERATORS], axis=-1)  # (state, input, 2)
    bipolar = 1.0 - 2.0 * outputs  # bit 0 -> +1
    next_state = regs >> 1
    return next_state.astype(np.int64), bipolar.astype(np.float64), outputs.astype(np.int64)


_NEXT, _BIPOLAR, _OUT = _build_trellis()
# Each next state s' has predecessors ((s' & 31) << 1) | k, k in {0, 1}, reached by input s' >> 5.
_PRED = ((np.arange(_N_STATES)[:, None] & (_N_STATES // 2 - 1)) << 1) | np.array([0, 1])[None, :]
_PRED_INPUT = np.arange(_N_STATES) >> (MEMORY - 1)


def coded_length(n_info_bits: int) -> int:
    """Number of coded bits for ``n_info_bits`` information bits (with the zero tail)."""
    return 2 * (n_info_bits + MEMORY)


def conv_encode(bits: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Encode information bits (0/1), appending a zero tail that returns the encoder to state 0."""
    u = np.concatenate([np.asarray(bits, dtype=np.int64), np.zeros(MEMORY, dtype=np.int64)])
    coded = []
    for g in _GENERATORS:
        taps = np.array([(g >> (MEMORY - i)) & 1 for i in range(MEMORY + 1)], dtype=np.int64)
        coded.append(np.convolve(u, taps)[: u.size] & 1)
    return np.stack(coded, axis=-1).reshape(-1).astype(np.uint8)


def conv_decode(soft: NDArray[np.floating]) -> tuple[NDArray[np.uint8], NDArray[np.float64]]:
    """Max-log-MAP decoding of a terminated code.

    Parameters
    ----------
    soft : ndarray, shape (2 * (n + 6),)
        Soft values of the coded bits, positive for bit 0, proportional to the
        log-likelihood ratio (the scale does not change the result).

    Returns
    -------
    bits : ndarray of uint8, shape (n,)
        Decoded information bits.
    reliability : ndarray of float64, shape (n,)
        |LLR| of each decision, in the units of ``soft``.
    """
    y = np.asarray(soft, dtype=np.float64).reshape(-1, 2)
    steps = y.shape[0]
    # gamma[t, s, u]: half the correlation of branch outputs with the received pair.
    gamma = 0.5 * np.einsum("tk,suk->tsu", y, _BIPOLAR)
    neg = -1e18
    alpha = np.full((steps + 1, _N_STATES), neg)
    alpha[0, 0] = 0.0
    for t in range(steps):
        a = alpha[t][_PRED] + gamma[t][_PRED, _PRED_INPUT[:, None]]
        alpha[t + 1] = a.max(axis=1)
    beta = np.full((steps + 1, _N_STATES), neg)
    beta[steps, 0] = 0.0
    for t in range(steps - 1, -1, -1):
        beta[t] = (gamma[t] + beta[t + 1][_NEXT]).max(axis=1)
    n_info = steps - MEMORY
    joint = alpha[:n_info, :, None] + gamma[:n_info] + beta[1 : n_info + 1][:, _NEXT]  # (t, s, u)
    llr = joint[:, :, 0].max(axis=1) - joint[:, :, 1].max(axis=1)
    return (llr < 0).astype(np.uint8), np.abs(llr)


# --- payload format 1: RS(17, 13) + this code on 284 channel bits -------------------------------------
#
# No longer used to embed (format 2 is the polar code of watermark._code2). Kept so that
# benchmarks can measure format 2 against it on the same soft values.

FORMAT1_MESSAGE_BYTES = 13
"""Format 1 carried the same 13-byte message (8 whitened payload bytes + 5 MAC bytes)."""
_FORMAT1_RS_NSYM = 4
FORMAT1_CHANNEL_BITS = 2 * (8 * (FORMAT1_MESSAGE_BYTES + _FORMAT1_RS_NSYM) + MEMORY)  # 284
FORMAT1_MAX_CANDIDATES = _FORMAT1_RS_NSYM + 1
"""Reed-Solomon is tried with 0..4 erasures, each returning at most one distinct message."""


def format1_encode(message: bytes) -> NDArray[np.uint8]:
    """Format-1 channel bits (284) of a 13-byte message: RS(17, 13), then the K=7 rate-1/2 code."""
    if len(message) != FORMAT1_MESSAGE_BYTES:
        raise OptionError(f"a format-1 message is {FORMAT1_MESSAGE_BYTES} bytes, got {len(message)}", name="message", value=len(message))
    codeword = bytes(reedsolo.RSCodec(_FORMAT1_RS_NSYM).encode(bytearray(message)))
    return conv_encode(np.unpackbits(np.frombuffer(codeword, dtype=np.uint8)))


def format1_candidates(soft: NDArray[np.floating]) -> list[bytes]:
    """Distinct candidate messages (at most 5, in the order tried) from 284 format-1 soft values.

    Max-log-MAP on the convolutional code, then Reed-Solomon with no
    erasures and with the 1..4 least reliable bytes erased.
    """
    rs = reedsolo.RSCodec(_FORMAT1_RS_NSYM)
    soft = np.nan_to_num(np.asarray(soft, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    if soft.shape != (FORMAT1_CHANNEL_BITS,):
        raise OptionError(f"soft must have shape ({FORMAT1_CHANNEL_BITS},), got {soft.shape}", name="soft", value=soft.shape)
    bits, reliability = conv_decode(soft)
    received = bytearray(np.packbits(bits).tobytes())
    order = np.argsort(reliability.reshape(-1, 8).min(axis=1), kind="stable")
    out: list[bytes] = []
    for n_erasures in range(_FORMAT1_RS_NSYM + 1):
        erase = sorted(int(i) for i in order[:n_erasures])
        try:
            message = bytes(rs.decode(received, erase_pos=erase or None)[0])
        except reedsolo.ReedSolomonError:
            continue
        if message not in out:
            out.append(message)
    return out

"""Inner code: a rate-1/2, constraint-length-7 convolutional code with soft decoding.

The generators are the industry-standard pair (171, 133 octal) used by
IEEE 802.11 and CCSDS; with soft-decision decoding it gains about 5 dB over
uncoded transmission at low bit error rates. Decoding is max-log-MAP (BCJR),
vectorized over the 64 trellis states, so besides the decisions it returns a
reliability (|LLR|) per information bit, which the outer Reed-Solomon code
uses to choose erasures.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

__all__ = ["conv_encode", "conv_decode", "coded_length", "MEMORY"]

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

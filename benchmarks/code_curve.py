"""Channel codes against per-slot SNR, and the tile-phase search that each code's slot grouping allows.

Part 1, frame success. Each frame draws a random payload and one noise
vector z ~ N(0, 1) over the tile's 576 slots; every scheme transmits its own
slot signs s (+-1) and receives ``a * s + z`` (``a`` = per-slot SNR,
amplitude over noise sigma), decodes, and succeeds when it returns exactly
the payload. All schemes carry the same 104 bits (64 keyed-whitened payload
bits + the 40-bit keyed MAC) and test at most 5 candidates against the MAC
per decode, so the false-payload bound stays 5 * 2**-40 = 4.5e-12 per decode.
Pure noise (``a = 0``) measures false payloads, MAC checks per decode, and
(to check the 2**-b model the bound rests on) how often an 8-bit truncation
of the MAC matches.

Part 2, phase search. The tile phase is found by the summed energy of group
correlations, a group being the slots that carry one bit (payload-independent
only then). Each frame builds a real folded tile: the scheme's slot values
through ``watermark.decoding.coefficients_to_tile``, cyclically shifted by a
random pixel offset, plus white noise of sigma 1 in the tile domain (the
transforms are orthonormal, so that is noise sigma 1 per slot), and runs the
phase search in all 8 orientations over all 4096 band shifts, as the tracer
does. Reported: the robust z-score of the true phase, the largest z of the
rest of the field (null maximum over 8 x 4096 shifts), how often the tracer's
rule finds the phase (the true phase among the 3 strongest peaks over the 8
orientations, 2 kept per orientation, and at least 3.5; ``tracer._search``),
how often ``watermark.extract``'s rule does (among the 12 strongest peaks of
the right orientation), and end to end: phase found by the tracer's rule AND
decoded (at the true alignment, on the same noise). Rows ``a = 0`` are pure
noise: the null field's maxima, against the tracer's threshold of 3.5.

Schemes:
  format1     payload format 1 (the code before format 2): RS(17,13) + conv. K=7 r=1/2 on 284 channel
              bits, 2-3 slots per bit summed (watermark._ecc keeps it, for this comparison)
  cc7         conv. K=7 r=1/5 (137,151,153,165,171), terminated, 26 bits repeated, no RS, all 576 slots;
              list Viterbi (parallel LVA, 5 paths), the MAC picks
  cc9         the same with K=9 (457,467,533,723,765), 16 bits repeated
  polar512    polar N=512 + 64 repeated over all 576 slots, SCL 32, best 5 to the MAC (the first candidate)
  format2     THE WIRED-IN CODE: polar (256, 104), each coded bit on 2 slots and bits 0..63 on 3, SCL 32,
              best 5 to the MAC (watermark.decoding: encode_payload, slot_layout, decode_soft_bits)
  polar288    polar 512 punctured to 288 coded bits, 2 slots each, SCL 32, best 5
  polar256-4  polar 256, 224 coded bits on 2 slots and 32 on 4, SCL 32, best 5
  polar192x3  polar 256 punctured to 192 coded bits, 3 slots each, SCL 32, best 5

The alternative polar codes are built with ``watermark.codes.construct``
(the machinery of the wired-in code, private, imported here on purpose); the
convolutional codes and the MAC checks of the alternatives are comparison
code that lives here.

Run (full: about 12 minutes on one loaded core)::

    python -m benchmarks.code_curve            # writes benchmarks/results/code_curve.{md,png}
    python -m benchmarks.code_curve --quick    # a smoke run, prints only
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Callable

import numpy as np
import scipy.fft
from numpy.typing import NDArray

import watermark
from watermark import codes as code2  # the polar construction (format 2)
from watermark import codes as ecc  # payload format 1, kept only for this comparison
from watermark.decoding import (
    BAND,
    CHANNEL_BITS,
    MAX_MAC_CHECKS_PER_DECODE,
    TILE,
    coefficients_to_tile,
    decode_soft_bits,
    encode_payload,
    phase_candidates,
    slot_layout,
    tile_to_band,
)

RESULTS = Path(__file__).resolve().parent / "results"
N_SLOTS = 576
MAC_BITS = 40
MAC_BUDGET = MAX_MAC_CHECKS_PER_DECODE  # 5
WEAK_TAG_BITS = 8
DIHEDRAL = [(k, False) for k in range(4)] + [(k, True) for k in range(4)]
"""The eight orientations the tracer tries a folded tile in (tracer._geometry.DIHEDRAL)."""
TRACER_MIN_SCORE = 3.5
"""tracer._search.MIN_DECODE_SCORE: weaker phase peaks are not decoded."""
TRACER_PHASES_PER_ORIENTATION = 2
TRACER_DECODES = 3
"""tracer._search.DECODES_PER_GEOMETRY: the strongest peaks over all orientations that are decoded."""
EXTRACT_CANDIDATES = 12
"""watermark._extract.N_CANDIDATES: peaks decoded by ``watermark.extract`` (one orientation)."""


# --- a list Viterbi decoder for the comparison convolutional codes ------------------------------------


class ListViterbiCode:
    """Terminated rate-1/r convolutional code over 576 slots, list-Viterbi decoded (parallel LVA).

    ``k`` information bits plus ``m`` zero tail bits give ``r * (k + m)`` coded
    bits; the rest of the 576 slots repeat coded bits spread evenly. The
    decoder keeps the ``list_size`` best paths into every state and returns
    the ``list_size`` best terminated paths, best first.
    """

    def __init__(self, generators: tuple[int, ...], memory: int, k: int, list_size: int) -> None:
        self.m, self.r, self.k, self.list_size = memory, len(generators), k, list_size
        n_states = 1 << memory
        states = np.arange(n_states)
        regs = (np.array([0, 1])[None, :] << memory) | states[:, None]  # (state, input)
        outs = []
        for g in generators:
            x = regs & g
            parity = np.zeros_like(x)
            for b in range(memory + 1):
                parity ^= (x >> b) & 1
            outs.append(parity)
        self.out = np.stack(outs, axis=-1).astype(np.uint8)  # (state, input, r)
        self.bipolar = 1.0 - 2.0 * self.out
        self.next = regs >> 1
        self.pred = ((states[:, None] & (n_states // 2 - 1)) << 1) | np.array([0, 1])[None, :]
        self.pred_input = states >> (memory - 1)
        self.steps = k + memory
        base = self.steps * self.r
        extra = N_SLOTS - base
        self.base = base
        self.repeated = (np.arange(extra) * base) // extra + (base // extra) // 2

    def encode(self, bits: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """Coded bits (B, 576) of information bits (B, k)."""
        batch = bits.shape[0]
        u = np.concatenate([bits, np.zeros((batch, self.m), np.uint8)], axis=1)
        state = np.zeros(batch, np.int64)
        out = np.empty((batch, self.steps, self.r), np.uint8)
        for t in range(self.steps):
            out[:, t] = self.out[state, u[:, t]]
            state = self.next[state, u[:, t]]
        coded = out.reshape(batch, -1)
        return np.concatenate([coded, coded[:, self.repeated]], axis=1)

    def decode(self, llr: NDArray[np.float64]) -> NDArray[np.uint8]:
        """Candidate information bits (B, list_size, k), best first, from coded-bit LLRs (B, 576)."""
        batch, size = llr.shape[0], self.list_size
        soft = llr[:, : self.base].copy()
        soft[:, self.repeated] += llr[:, self.base :]  # distinct positions
        soft = soft.reshape(batch, self.steps, self.r)
        branch = np.einsum("btk,suk->tbsu", soft, self.bipolar)  # correlation of each branch
        metric = np.full((batch, 1 << self.m, size), -np.inf)
        metric[:, 0, 0] = 0.0
        back = np.empty((self.steps, batch, 1 << self.m, size), np.uint8)
        p0, p1 = self.pred[:, 0], self.pred[:, 1]
        for t in range(self.steps):
            g = branch[t][:, self.pred, self.pred_input[:, None]]  # (B, state, 2)
            cand = np.concatenate([metric[:, p0] + g[:, :, 0:1], metric[:, p1] + g[:, :, 1:2]], axis=2)
            idx = np.argsort(-cand, axis=2, kind="stable")[:, :, :size]
            metric = np.take_along_axis(cand, idx, axis=2)
            back[t] = idx
        rows = np.arange(batch)[:, None]
        state = np.zeros((batch, size), np.int64)
        rank = np.broadcast_to(np.arange(size), (batch, size)).copy()
        bits = np.empty((batch, size, self.steps), np.uint8)
        for t in range(self.steps - 1, -1, -1):
            code = back[t][rows, state, rank].astype(np.int64)
            bits[:, :, t] = self.pred_input[state]
            rank = code % size
            state = self.pred[state, code // size]
        return bits[:, :, : self.k]


# --- schemes: payload -> slot signs, slot values -> (payload or None, MAC checks, weak-tag hits) ---------


@dataclass
class Outcome:
    payload: watermark.Payload | None
    mac_checks: int
    weak_hits: int | None  # candidates whose 8-bit truncated MAC matched (None: not observable)


@dataclass
class Scheme:
    name: str
    label: str
    bound: float  # false-payload probability per decode, on paper
    encode: Callable[[list[watermark.Payload]], NDArray[np.float64]]  # -> (B, 576) slot signs
    decode: Callable[[NDArray[np.float64]], list[Outcome]]  # (B, 576) slot values
    groups: tuple[NDArray[np.intp], NDArray[np.float64]] | None = None
    """(group of each slot, sign of each slot) for the phase search: a group's slots carry one bit."""
    single_ms: float = field(default=float("nan"))


def message(payload: watermark.Payload, key: watermark.Key) -> bytes:
    """The 13-byte message every scheme carries: keyed-whitened payload (8) + keyed MAC (5)."""
    plain = payload.to_bytes()
    return bytes(a ^ b for a, b in zip(plain, key.derive("whiten", 8))) + key.mac(plain, 5)


def verify(candidates: list[bytes], key: watermark.Key) -> tuple[watermark.Payload | None, int, int]:
    """Check distinct candidates in order: (first payload whose MAC matches, MAC checks made, 8-bit tag matches)."""
    whiten = key.derive("whiten", 8)
    seen: set[bytes] = set()
    weak = 0
    for candidate in candidates:
        if candidate in seen:
            continue
        seen.add(candidate)
        plain = bytes(a ^ b for a, b in zip(candidate[:8], whiten))
        tag = key.mac(plain, 5)
        weak += hmac.compare_digest(tag[:1], candidate[8:9])
        if hmac.compare_digest(tag, candidate[8:]):
            try:
                return watermark.Payload.from_bytes(plain), len(seen), weak
            except watermark.PayloadError:
                continue
    return None, len(seen), weak


def keyed_slots(key: watermark.Key, label: str, counts: NDArray[np.integer]) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
    """A keyed slot map: channel bit of each slot (bit j on counts[j] slots) and keyed signs."""
    rng = np.random.Generator(np.random.PCG64(int.from_bytes(key.derive(label, 16), "big")))
    slot_bit = rng.permutation(np.repeat(np.arange(len(counts)), counts)).astype(np.intp)
    return slot_bit, (rng.integers(0, 2, N_SLOTS) * 2.0 - 1.0)


def format1_slots(key: watermark.Key) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
    """Format 1's keyed slot layout, exactly as it was (keyed permutation of the 576 slots mod 284)."""
    rng = np.random.Generator(np.random.PCG64(int.from_bytes(key.derive("slots", 16), "big")))
    slot_bit = (rng.permutation(N_SLOTS) % ecc.FORMAT1_CHANNEL_BITS).astype(np.intp)
    return slot_bit, (rng.integers(0, 2, N_SLOTS) * 2.0 - 1.0)


def sum_groups(values: NDArray[np.float64], slot_bit: NDArray[np.intp], sign: NDArray[np.float64], n_bits: int) -> NDArray[np.float64]:
    """Per-bit soft values (B, n_bits): each bit's slots, signed and summed (as the extractor sums)."""
    combine = np.zeros((N_SLOTS, n_bits))
    combine[np.arange(N_SLOTS), slot_bit] = sign
    out: NDArray[np.float64] = values @ combine
    return out


def info_bits(payloads: list[watermark.Payload], key: watermark.Key) -> NDArray[np.uint8]:
    return np.stack([np.unpackbits(np.frombuffer(message(p, key), dtype=np.uint8)) for p in payloads])


def polar_scheme(key: watermark.Key, name: str, label: str, length: int, transmitted: NDArray[np.integer],
                 slots: NDArray[np.integer], design_snr: float) -> Scheme:
    """A polar code sending coded bit ``transmitted[j]`` as channel bit j on ``slots[j]`` keyed slots.

    The alternatives are constructed at a design SNR of 0.6 (where they were first measured); format 2's 0.5 was
    chosen among 0.5-0.7, all within noise of each other.
    """
    code = code2.construct(length, np.asarray(transmitted), np.asarray(slots), design_snr=design_snr)
    slot_bit, sign = keyed_slots(key, f"code-curve-{name}", np.asarray(slots))
    n_bits = code.channel_bits

    def enc(payloads: list[watermark.Payload]) -> NDArray[np.float64]:
        bits = code.encode(info_bits(payloads, key))
        return sign * (1.0 - 2.0 * bits[:, slot_bit])

    def dec(values: NDArray[np.float64]) -> list[Outcome]:
        cands, _ = code.decode(sum_groups(values, slot_bit, sign, n_bits))
        out = []
        for frame in cands[:, :MAC_BUDGET]:
            payload, checks, weak = verify([np.packbits(c).tobytes() for c in frame], key)
            out.append(Outcome(payload, checks, weak))
        return out

    group = np.asarray(transmitted, dtype=np.intp)[slot_bit]  # the mother bit a slot carries
    return Scheme(name, label, MAC_BUDGET * 2.0**-MAC_BITS, enc, dec, (group, sign))


def make_schemes(key: watermark.Key) -> list[Scheme]:
    f1_bit, f1_sign = format1_slots(key)
    layout = slot_layout(key)
    perm = np.random.Generator(np.random.PCG64(int.from_bytes(key.derive("code-curve-cc", 16), "big"))).permutation(N_SLOTS)
    cc_sign = keyed_slots(key, "code-curve-cc-sign", np.ones(N_SLOTS, np.intp))[1]

    def format1_encode(payloads: list[watermark.Payload]) -> NDArray[np.float64]:
        bits = np.stack([ecc.format1_encode(message(p, key)) for p in payloads])
        return f1_sign * (1.0 - 2.0 * bits[:, f1_bit])

    def format1_decode(values: NDArray[np.float64]) -> list[Outcome]:
        out = []
        for soft in sum_groups(values, f1_bit, f1_sign, ecc.FORMAT1_CHANNEL_BITS):
            payload, checks, weak = verify(ecc.format1_candidates(soft), key)
            out.append(Outcome(payload, checks, weak))
        return out

    def format2_encode(payloads: list[watermark.Payload]) -> NDArray[np.float64]:
        bits = np.stack([encode_payload(p, key) for p in payloads])
        return layout.sign * (1.0 - 2.0 * bits[:, layout.slot_bit])

    def format2_decode(values: NDArray[np.float64]) -> list[Outcome]:
        out = []
        for soft in sum_groups(values, layout.slot_bit.astype(np.intp), layout.sign, CHANNEL_BITS):
            res = decode_soft_bits(soft, key)
            out.append(Outcome(res.payload, res.mac_checks, None))
        return out

    def cc_scheme(name: str, label: str, gens: tuple[int, ...], memory: int) -> Scheme:
        cc = ListViterbiCode(gens, memory, code2.INFO_BITS, MAC_BUDGET)

        def enc(payloads: list[watermark.Payload]) -> NDArray[np.float64]:
            return (1.0 - 2.0 * cc.encode(info_bits(payloads, key)))[:, perm] * cc_sign

        def dec(values: NDArray[np.float64]) -> list[Outcome]:
            llr = np.empty_like(values)
            llr[:, perm] = values * cc_sign
            out = []
            for frame in cc.decode(llr):
                payload, checks, weak = verify([np.packbits(c).tobytes() for c in frame], key)
                out.append(Outcome(payload, checks, weak))
            return out

        return Scheme(name, label, MAC_BUDGET * 2.0**-MAC_BITS, enc, dec)

    slots_2_4 = np.where(np.arange(256) < 224, 2, 4)
    return [
        Scheme("format1", "format 1: RS(17,13) + CC K=7 r=1/2, 284 bits x 2-3 slots", MAC_BUDGET * 2.0**-MAC_BITS,
               format1_encode, format1_decode, (f1_bit, f1_sign)),
        cc_scheme("cc7", "CC K=7 r=1/5 + 26 rep., all slots, list Viterbi 5", (0o137, 0o151, 0o153, 0o165, 0o171), 6),
        cc_scheme("cc9", "CC K=9 r=1/5 + 16 rep., all slots, list Viterbi 5", (0o457, 0o467, 0o533, 0o723, 0o765), 8),
        polar_scheme(key, "polar512", "polar 512 + 64 rep., all slots, SCL 32, best 5", 512,
                     np.concatenate([np.arange(512), np.arange(448, 512)]), np.ones(N_SLOTS, np.intp), design_snr=0.6),
        Scheme("format2", "FORMAT 2 (wired in): polar 256, 2-3 slots per bit, SCL 32, best 5",
               MAC_BUDGET * 2.0**-MAC_BITS, format2_encode, format2_decode,
               (layout.slot_bit.astype(np.intp), layout.sign)),
        polar_scheme(key, "polar288", "polar 512 punctured to 288, 2 slots per bit, SCL 32, best 5", 512,
                     np.arange(224, 512), np.full(288, 2), design_snr=0.6),
        polar_scheme(key, "polar256-4", "polar 256, 224 bits x 2 + 32 x 4 slots, SCL 32, best 5", 256,
                     np.arange(256), slots_2_4, design_snr=0.6),
        polar_scheme(key, "polar192x3", "polar 256 punctured to 192, 3 slots per bit, SCL 32, best 5", 256,
                     np.arange(64, 256), np.full(192, 3), design_snr=0.6),
    ]


# --- part 2: the phase search on simulated folded tiles ------------------------------------------------


class PhaseSearch:
    """The tile-phase statistic of one slot grouping, as ``watermark.decoding.phase_candidates`` computes it.

    Band-domain pattern of each group (its slots' basis functions with their
    signs), correlated with the band at all 64 x 64 cyclic shifts by one
    batched FFT; the field is the summed squared group correlations, scored
    as a robust z (median and MAD), per orientation.
    """

    def __init__(self, basis: NDArray[np.float64], group: NDArray[np.intp], sign: NDArray[np.float64]) -> None:
        n_groups = int(group.max()) + 1
        combine = np.zeros((n_groups, N_SLOTS))
        combine[group, np.arange(N_SLOTS)] = sign
        patterns = (combine @ basis.reshape(N_SLOTS, -1)).reshape(n_groups, BAND, BAND)
        self.spectra = np.conj(scipy.fft.rfft2(patterns)).astype(np.complex64)
        self.n_groups = n_groups

    def scores(self, tile: NDArray[np.float64]) -> NDArray[np.float64]:
        """Robust z fields (8 orientations, BAND, BAND) of a folded tile, in ``DIHEDRAL`` order."""
        stack = np.stack([np.rot90(np.fliplr(tile) if m else tile, k) for k, m in DIHEDRAL])
        spectra = scipy.fft.rfft2(tile_to_band(stack).astype(np.float32))
        out = np.empty((len(DIHEDRAL), BAND, BAND))
        for o in range(len(DIHEDRAL)):
            corr = scipy.fft.irfft2(spectra[o][None] * self.spectra, s=(BAND, BAND), workers=-1)
            energy = np.einsum("jyx,jyx->yx", corr, corr, dtype=np.float64)
            median = float(np.median(energy))
            out[o] = (energy - median) / (float(np.median(np.abs(energy - median))) * 1.4826 + 1e-12)
        return out


def slot_basis() -> NDArray[np.float64]:
    """(576, BAND, BAND): the band-domain basis function of every slot (unit slot value, through the public maps)."""
    eye = np.eye(N_SLOTS)
    return np.stack([tile_to_band(coefficients_to_tile(eye[s])) for s in range(N_SLOTS)])


def local_maxima(z: NDArray[np.float64], count: int) -> list[tuple[int, int]]:
    """The ``count`` strongest strict local maxima (8-neighbourhood, cyclic) of a field, strongest first."""
    neighbours = np.max([np.roll(z, (a, b), axis=(0, 1)) for a in (-1, 0, 1) for b in (-1, 0, 1) if a or b], axis=0)
    peaks = np.flatnonzero(z > neighbours)
    order = peaks[np.argsort(z.ravel()[peaks])[::-1][:count]]
    return [(int(i // z.shape[1]), int(i % z.shape[1])) for i in order]


@dataclass
class PhaseOutcome:
    z_true: float
    null_max: float
    tracer_found: bool
    extract_found: bool
    decoded: bool


def near_truth(shift: tuple[int, int]) -> tuple[set[int], set[int]]:
    """Band-grid rows and columns within 2 px of the true pixel shift (decode_at refines +-2 px from there)."""
    def close(d: int) -> set[int]:
        return {g for g in range(BAND) if min((4 * g - d) % TILE, (d - 4 * g) % TILE) <= 2}
    return close(shift[0]), close(shift[1])


def judge(z: NDArray[np.float64], shift: tuple[int, int]) -> tuple[float, float, bool, bool]:
    """(z of the true phase, null maximum, found by the tracer's rule, found by extract's rule)."""
    rows, cols = near_truth(shift)
    z_true = max(float(z[0, r, c]) for r in rows for c in cols)
    keep = np.ones(z.shape, bool)
    cy, cx = round(shift[0] / 4), round(shift[1] / 4)
    for a in range(-2, 3):
        for b in range(-2, 3):
            keep[0, (cy + a) % BAND, (cx + b) % BAND] = False
    null_max = float(z[keep].max())
    pooled = sorted(((float(z[o, r, c]), o, r, c) for o in range(len(DIHEDRAL))
                     for r, c in local_maxima(z[o], TRACER_PHASES_PER_ORIENTATION)), reverse=True)
    tracer = any(o == 0 and r in rows and c in cols for s, o, r, c in pooled[:TRACER_DECODES] if s >= TRACER_MIN_SCORE)
    extract = any(r in rows and c in cols for r, c in local_maxima(z[0], EXTRACT_CANDIDATES))
    return z_true, null_max, tracer, extract


def run_phase(schemes: list[Scheme], key: watermark.Key, snrs: list[float], frames: int,
              rng: np.random.Generator) -> dict[str, dict[float, list[PhaseOutcome]]]:
    basis = slot_basis()
    searches = {s.name: PhaseSearch(basis, *s.groups) for s in schemes if s.groups is not None}
    grouped = [s for s in schemes if s.name in searches]
    check_against_the_extractor(searches["format2"], key, rng)
    flat_basis = basis.reshape(N_SLOTS, -1)
    out: dict[str, dict[float, list[PhaseOutcome]]] = {s.name: {a: [] for a in snrs} for s in grouped}
    for a in snrs:
        for _ in range(frames):
            payload = random_payloads(rng, 1)[0]
            shift = (int(rng.integers(0, TILE)), int(rng.integers(0, TILE)))
            noise = rng.standard_normal((TILE, TILE))  # the same noise and shift for every grouping
            for s in grouped:
                signs = s.encode([payload])[0]
                tile = np.roll(coefficients_to_tile(a * signs), shift, axis=(0, 1)) + noise
                z_true, null_max, tracer, extract = judge(searches[s.name].scores(tile), shift)
                aligned = flat_basis @ tile_to_band(np.roll(tile, (-shift[0], -shift[1]), axis=(0, 1))).ravel()
                decoded = a > 0 and s.decode(aligned[None])[0].payload == payload
                out[s.name][a].append(PhaseOutcome(z_true, null_max, tracer, extract, bool(decoded)))
        print(f"  phase a={a:.2f}: " + "  ".join(
            f"{s.name} z {np.median([o.z_true for o in out[s.name][a]]):.1f} "
            f"e2e {np.mean([o.tracer_found and o.decoded for o in out[s.name][a]]):.2f}" for s in grouped),
            file=sys.stderr, flush=True)
    return out


def check_against_the_extractor(search: PhaseSearch, key: watermark.Key, rng: np.random.Generator) -> None:
    """This module's statistic must be the extractor's: compare with ``phase_candidates`` on one tile."""
    tile = rng.standard_normal((TILE, TILE))
    mine = search.scores(tile)[0]
    theirs = phase_candidates(tile, key, 3)
    for cand in theirs:
        if not np.isclose(mine[cand.ty, cand.tx], cand.score, rtol=1e-3, atol=1e-3):
            raise RuntimeError(f"phase statistic differs from watermark.decoding.phase_candidates: "
                               f"{mine[cand.ty, cand.tx]:.4f} vs {cand.score:.4f} at {(cand.ty, cand.tx)}")


def threshold(snrs: NDArray[np.float64], rate: NDArray[np.float64], target: float) -> float:
    """Per-slot SNR where the success rate first reaches ``target`` (linear interpolation), nan if never."""
    above = np.flatnonzero(rate >= target)
    if above.size == 0:
        return float("nan")
    i = int(above[0])
    if i == 0:
        return float(snrs[0])
    r0, r1 = rate[i - 1], rate[i]
    return float(snrs[i - 1] + (target - r0) * (snrs[i] - snrs[i - 1]) / (r1 - r0))


def normal_approximation(snrs: NDArray[np.float64], n: int = N_SLOTS, k: int = 104) -> NDArray[np.float64]:
    """Success rate of the best (n, k) code on this channel, by the normal approximation (Polyanskiy et al. 2010).

    BPSK on the Gaussian channel: capacity C and dispersion V per slot from
    the information density i = 1 - log2(1 + exp(-2a(a + z))); error
    probability Q((nC - k + log2(n) / 2) / sqrt(nV)). A reference for how
    much any code of this size could still gain, not a scheme.
    """
    from scipy.stats import norm

    z = np.random.default_rng(0).standard_normal(200_000)
    out = []
    for a in snrs:
        density = 1.0 - np.logaddexp(0.0, -2.0 * a * (a + z)) / np.log(2.0)
        c, v = density.mean(), density.var()
        out.append(1.0 - norm.sf((n * c - k + 0.5 * np.log2(n)) / np.sqrt(max(n * v, 1e-12))) if a > 0 else 0.0)
    return np.array(out)


def db(ref: float, x: float) -> float:
    return float(20.0 * np.log10(ref / x)) if np.isfinite(ref) and np.isfinite(x) else float("nan")


def random_payloads(rng: np.random.Generator, n: int) -> list[watermark.Payload]:
    span = int((watermark.LATEST_TIMESTAMP - watermark.EARLIEST_TIMESTAMP) // timedelta(minutes=1))
    return [
        watermark.Payload(viewer_id=int(rng.integers(0, 2**32)),
                          timestamp=watermark.EARLIEST_TIMESTAMP + timedelta(minutes=int(rng.integers(0, span + 1))))
        for _ in range(n)
    ]


def time_single(scheme: Scheme, payload: watermark.Payload, snr: float, rng: np.random.Generator, reps: int) -> float:
    """Median wall time of one decode (one frame, including the MAC checks), in ms."""
    values = snr * scheme.encode([payload]) + rng.standard_normal((1, N_SLOTS))
    scheme.decode(values)  # warm caches
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        scheme.decode(values)
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1000.0)


def group_sizes(groups: tuple[NDArray[np.intp], NDArray[np.float64]] | None) -> str:
    if groups is None:
        return "1 per slot"
    sizes = np.bincount(np.bincount(groups[0]))
    return " + ".join(f"{n}x{m}" for m, n in enumerate(sizes) if n and m)


def frame_success(schemes: list[Scheme], key: watermark.Key, snrs: NDArray[np.float64], frames: int, n_noise: int,
                  rng: np.random.Generator) -> tuple[dict[str, NDArray[np.float64]], dict[str, dict[str, float]]]:
    batch = 50
    success = {s.name: np.zeros(snrs.size) for s in schemes}
    for j, a in enumerate(snrs):
        for start in range(0, frames, batch):
            n = min(batch, frames - start)
            payloads = random_payloads(rng, n)
            noise = rng.standard_normal((n, N_SLOTS))  # the same noise for every scheme
            for s in schemes:
                outs = s.decode(a * s.encode(payloads) + noise)
                success[s.name][j] += sum(o.payload == p for o, p in zip(outs, payloads))
        print(f"  a={a:.2f}: " + "  ".join(f"{s.name} {success[s.name][j] / frames:.2f}" for s in schemes),
              file=sys.stderr, flush=True)
    noise_stats: dict[str, dict[str, float]] = {}
    for s in schemes:
        false = checks = max_checks = weak = 0
        weak_seen = True
        for start in range(0, n_noise, batch):
            n = min(batch, n_noise - start)
            for o in s.decode(rng.standard_normal((n, N_SLOTS))):
                false += o.payload is not None
                checks += o.mac_checks
                max_checks = max(max_checks, o.mac_checks)
                if o.weak_hits is None:
                    weak_seen = False
                else:
                    weak += o.weak_hits
        noise_stats[s.name] = {"false": false, "checks": checks, "max": max_checks,
                               "weak": weak if weak_seen else float("nan")}
    return {k: v / frames for k, v in success.items()}, noise_stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few frames and points; prints, writes nothing")
    parser.add_argument("--frames", type=int, default=None, help="frames per SNR point (default 200; quick 30)")
    parser.add_argument("--noise", type=int, default=None, help="pure-noise decodes per scheme (default 2000; quick 100)")
    parser.add_argument("--phase-frames", type=int, default=None, help="phase-search frames per point (default 80; quick 6)")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    frames = args.frames or (30 if args.quick else 200)
    n_noise = args.noise or (100 if args.quick else 2000)
    phase_frames = args.phase_frames or (6 if args.quick else 80)
    snrs = np.round(np.arange(0.4, 1.001, 0.1), 3) if args.quick else np.round(np.arange(0.35, 1.001, 0.05), 3)
    phase_snrs = [0.0, 0.5, 0.6, 0.7] if args.quick else [0.0, 0.4, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9]
    key = watermark.Key(hashlib.sha256(b"leaktrace code_curve benchmark key").digest())
    schemes = make_schemes(key)
    rng = np.random.default_rng(args.seed)
    t_start = time.perf_counter()

    timing_payload = random_payloads(rng, 1)[0]
    for s in schemes:
        s.single_ms = time_single(s, timing_payload, 0.6, np.random.default_rng(1), 7 if args.quick else 25)
    rates, noise_stats = frame_success(schemes, key, snrs, frames, n_noise, rng)
    t_part1 = time.perf_counter() - t_start
    phase = run_phase(schemes, key, phase_snrs, phase_frames, rng)
    elapsed = time.perf_counter() - t_start

    ref = "format1"
    lines = [
        "## 1. Frame success against per-slot SNR",
        "",
        f"Slot value a*s + N(0,1), 576 slots, 104 info bits = 64 payload + 40 MAC; {frames} frames per point, the same "
        f"noise for every scheme; key `watermark.Key` (fixed); seed {args.seed}; {t_part1:.0f} s. "
        f"`python -m benchmarks.code_curve{' --quick' if args.quick else ''}`",
        "",
        "| a | " + " | ".join(s.name for s in schemes) + " |",
        "|---:|" + "---:|" * len(schemes),
    ]
    for j, a in enumerate(snrs):
        lines.append(f"| {a:.2f} | " + " | ".join(f"{rates[s.name][j]:.3f}" for s in schemes) + " |")
    t50 = {s.name: threshold(snrs, rates[s.name], 0.5) for s in schemes}
    t90 = {s.name: threshold(snrs, rates[s.name], 0.9) for s in schemes}
    fine = np.round(np.arange(0.3, 1.0005, 0.005), 3)
    limit = normal_approximation(fine)
    lines += [
        "",
        "| scheme | slots per bit | a at 50% | a at 90% | gain over format 1 at 50% / 90% (dB) | decode, 1 frame (ms) | "
        "false-payload bound per decode | pure noise: false payloads / decodes | MAC checks per decode (mean, max) | "
        "8-bit tag matches (seen / expected) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in schemes:
        st = noise_stats[s.name]
        expected = st["checks"] * 2.0**-WEAK_TAG_BITS
        weak_cell = "n/a (internal)" if np.isnan(st["weak"]) else f"{st['weak']:.0f} / {expected:.1f}"
        lines.append(
            f"| {s.label} | {group_sizes(s.groups)} | {t50[s.name]:.3f} | {t90[s.name]:.3f} | "
            f"{db(t50[ref], t50[s.name]):+.2f} / {db(t90[ref], t90[s.name]):+.2f} | {s.single_ms:.1f} | "
            f"{s.bound:.2g} | {st['false']:.0f} / {n_noise} | {st['checks'] / n_noise:.2f}, {st['max']:.0f} | {weak_cell} |"
        )
    l50, l90 = threshold(fine, limit, 0.5), threshold(fine, limit, 0.9)
    lines.append(f"| limit for any (576, 104) code (normal approximation) | | {l50:.3f} | {l90:.3f} | "
                 f"{db(t50[ref], l50):+.2f} / {db(t90[ref], l90):+.2f} | | | | | |")
    lines += [
        "",
        "a is amplitude over noise sigma per slot (power SNR a^2); gains are 20 log10(a_format1 / a_scheme). "
        "Thresholds interpolate linearly between grid points. The 8-bit column checks the model the bound rests "
        "on: each distinct candidate's tag matches a truncated MAC with probability 2^-b.",
        "",
    ]
    lines += phase_tables(schemes, phase, phase_frames, ref)
    lines += ["", f"Total run time {elapsed:.0f} s."]
    text = "\n".join(lines)
    print(text)
    if not args.quick:
        RESULTS.mkdir(exist_ok=True)
        (RESULTS / "code_curve.md").write_text(text + "\n", encoding="utf-8")
        plot(snrs, rates, schemes, RESULTS / "code_curve.png", (fine, limit))
    return 0


def phase_tables(schemes: list[Scheme], phase: dict[str, dict[float, list[PhaseOutcome]]], frames: int, ref: str) -> list[str]:
    grouped = [s for s in schemes if s.name in phase]
    lines = [
        "## 2. Tile-phase search and end to end, per slot grouping",
        "",
        f"Real folded tiles (slot values through `coefficients_to_tile`, random pixel shift, white noise sigma 1 in the "
        f"tile domain), phase search over 8 orientations x 4096 band shifts; {frames} frames per point, the same noise "
        "and shift for every grouping. z: robust z-score of the true phase (best band-grid point within 2 px); null "
        "max: the largest z elsewhere (other shifts and the 7 wrong orientations). Found (tracer): the true phase is "
        "among the 3 strongest peaks (2 per orientation) and at least 3.5; found (extract): among the 12 strongest "
        "peaks of the right orientation. Decoded: at the true alignment, same noise. End to end: found (tracer) "
        "and decoded. Medians for z; rates otherwise.",
        "",
        "| a | " + " | ".join(f"{s.name} z / null max" for s in grouped) + " |",
        "|---:|" + "---:|" * len(grouped),
    ]
    snrs = sorted(next(iter(phase.values())).keys())
    for a in snrs:
        lines.append(f"| {a:.2f} | " + " | ".join(
            f"{np.median([o.z_true for o in phase[s.name][a]]):.2f} / {np.median([o.null_max for o in phase[s.name][a]]):.2f}"
            for s in grouped) + " |")
    lines += ["", "| a | " + " | ".join(f"{s.name} found tracer / extract / decoded / end to end" for s in grouped) + " |",
              "|---:|" + "---:|" * len(grouped)]
    e2e: dict[str, NDArray[np.float64]] = {}
    for s in grouped:
        e2e[s.name] = np.array([np.mean([o.tracer_found and o.decoded for o in phase[s.name][a]]) for a in snrs])
    for i, a in enumerate(snrs):
        cells = []
        for s in grouped:
            outs = phase[s.name][a]
            cells.append(f"{np.mean([o.tracer_found for o in outs]):.2f} / {np.mean([o.extract_found for o in outs]):.2f} / "
                         f"{np.mean([o.decoded for o in outs]):.2f} / **{e2e[s.name][i]:.2f}**")
        lines.append(f"| {a:.2f} | " + " | ".join(cells) + " |")
    grid = np.array(snrs)
    lines += ["", "| grouping (scheme) | slots per group | pure noise: max z over 8 x 4096 (median, 95th pct) | "
              "end to end: a at 50% | a at 90% | gain over format 1 at 50% / 90% (dB) |",
              "|---|---|---:|---:|---:|---:|"]
    r50 = {s.name: threshold(grid, e2e[s.name], 0.5) for s in grouped}
    r90 = {s.name: threshold(grid, e2e[s.name], 0.9) for s in grouped}
    for s in grouped:
        null = [o.null_max for o in phase[s.name][0.0]] if 0.0 in phase[s.name] else [float("nan")]
        lines.append(f"| {s.label} | {group_sizes(s.groups)} | {np.median(null):.2f}, {np.percentile(null, 95):.2f} | "
                     f"{r50[s.name]:.3f} | {r90[s.name]:.3f} | {db(r50[ref], r50[s.name]):+.2f} / {db(r90[ref], r90[s.name]):+.2f} |")
    lines += ["", "With one coded bit per slot (cc7, cc9, polar512 but for its 64 repeated pairs) the statistic is the "
              "energy of all slots: the same for every key, periodic in whole 8x8-block shifts (32 px) and blind to "
              "orientation, so the true phase is one of 512 equal peaks; groups of slots carrying one bit make it "
              "key- and phase-specific. cc7 and cc9 have no groups at all and are left out of part 2."]
    return lines


def plot(snrs: NDArray[np.float64], rates: dict[str, NDArray[np.float64]], schemes: list[Scheme], path: Path,
         limit: tuple[NDArray[np.float64], NDArray[np.float64]]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot written (pip install matplotlib)", file=sys.stderr)
        return
    fig, ax = plt.subplots(figsize=(7.5, 4.8))
    for s in schemes:
        ax.plot(snrs, rates[s.name], marker="o", ms=3, lw=2.2 if s.name == "format2" else 1.0, label=s.label)
    ax.plot(*limit, color="k", ls=":", lw=1, label="limit, any (576, 104) code (normal approx.)")
    ax.axhline(0.5, color="0.8", lw=0.8)
    ax.axhline(0.9, color="0.8", lw=0.8)
    ax.set_xlabel("per-slot SNR a (amplitude / noise sigma)")
    ax.set_ylabel("frame success rate (exact payload)")
    ax.set_title("Channel codes on 576 slots, 104 bits (64 payload + 40 MAC)")
    ax.set_xlim(float(snrs[0]), float(snrs[-1]))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"plot written to {path}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())

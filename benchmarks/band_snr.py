"""The channel measured per frequency band, at the true geometry: where does mark energy buy SNR?

For each leak condition (phone photos at the ``standard`` and ``hard``
levels; screenshot channels for contrast) and kind of screen, this program
measures, per radial frequency band in cycles per *screen* pixel and per
orientation (near the horizontal/vertical axes of the frequency plane, or
diagonal):

* **transfer gain** ``G``: how much of the embedded luma signal survives the
  channel (and then the decoder's prefilter) in that band;
* **noise PSD** ``N``: the power spectral density there of what the
  correlator sees besides the mark (screen content after the prefilter,
  camera noise, ISP, JPEG, resampling, all together);
* **SNR per unit embedded energy** ``eta = G^2 / N``: the SNR^2 that one
  unit of mark energy placed there earns;
* **visibility cost per unit energy** from a contrast sensitivity function;

and it folds these with the spectra of concrete carriers (today's, and
DWT-DCT carriers at other DWT levels and orientations).

Run::

    python -m benchmarks.band_snr --quick        # 2-3 minutes on 2 cores
    python -m benchmarks.band_snr                # 6 white-screen samples per condition (~10 min)
    python -m benchmarks.band_snr --samples 16 --out /tmp/band_snr.md

The tables go to stdout and to ``benchmarks/results/band_snr.md``; progress
goes to stderr.

Method
------
The simulator (:mod:`synthetic`) is deterministic per seed, and its sensor
noise is drawn independently of the image. Each sample leaks three versions
of one screen through the same channel with the same seed:

1. the *reference*: the unmarked screen after ``watermark.embed``'s white
   headroom (every channel value capped at 254), so that the only difference
   to the marked versions is the mark itself;
2. today's real mark, ``watermark.embed(screen, payload, key)``;
3. a *probe*: keyed Gaussian noise of the same luma RMS (1.5 levels) whose
   spectrum is flat per octave from 1/512 to 1/2 cycles per pixel (power
   spectral density proportional to 1/f^2, so every band gets the same
   share; a white probe would put 3/4 of its energy above 1/4 c/px, where
   the phone channel passes nothing). It is added as ``watermark.embed``
   adds its pattern: one delta on R, G and B, limited to 2.5 RMS, rounded,
   attenuated to 1/3 on near-black pixels (luma < 24), on the
   headroom-capped screen, saturating at 0 and 255.

All three leaks are mapped back to screen pixels with the simulator's true
geometry (the map of :func:`benchmarks.robustness.oracle_geometry`, built
once per sample and applied to the float luma, so no 8-bit rounding is
added). Let ``e`` be the embedded luma delta (marked minus reference, on the
screen), ``r(.)`` a prefilter and ``w`` its weight map (from the reference
leak, normalised to mean 1 over the analysed box: the box of screen pixels
the leak covers). The weighted correlator of the decoder sees
``a_s = w * (r(marked) - r(reference))`` as signal and ``a_n = w * r(reference)``
as noise. With unitary 2-D DFTs ``A_s, A_n, E`` over the box and ``b`` a
set of frequency bins:

* ``G_b = Re sum_b A_s conj(E) / sum_b |E|^2``: the coherent gain, the
  part of what arrives that a correlator with the embedded pattern can use;
* ``N_b = mean_b |A_n|^2`` (level^2 per bin; white noise of 1 level RMS
  gives 1);
* ``eta_b = 65536 * max(G_b, 0)^2 / N_b``: the SNR^2 that a mark of power
  1 level^2 (1 level RMS) confined to ``b`` earns over 256x256 px of screen
  area. The weight normalisation cancels in ``eta``.

Each half-octave band is split into two orientation sectors of equal area:
*axial* (within 22.5 degrees of the fx or fy axis: horizontal and vertical
structure) and *diagonal*. Screen content is made of horizontal and
vertical strokes, rules and panels, so its residual is concentrated near
the axes; a per-band average would hide that, and today's DCT slots
``(u, 0)`` and ``(0, v)`` put most of the mark exactly there.

The cell figures describe a carrier whose spectrum is smooth across the
cell. A tiled carrier puts its energy on the lines of its tile lattice
(multiples of 1/tile), and content that repeats across tiles (rules and
text rows spanning the screen, columns of a table) sits on the axis lines
too: folding does not average it down. So concrete **carriers** are
evaluated bin by bin: with ``|c(f)|^2`` the expected power spectrum of one
channel bit (the sum of its slots' basis spectra, each basis tiled with the
carrier's period over the box; normalised to sum 1) and ``s_cell`` its
energy shares, a pooled correlator (the weighted sum over tiles, as
today's decoder; no whitening) earns, per unit energy::

    eta_corr = 65536 * (sum_cell G_cell s_cell)^2 / sum_f N(f) |c(f)|^2

with ``N(f) = |A_n(f)|^2`` bin by bin, and a decoder that whitens per band
and orientation (an upper bound for designs that do, blind to the lattice
lines) ``eta_white = sum_cell s_cell * eta_cell``. A mark of power ``P``
over ``n`` tiles reaches ``SNR^2 = P * n * eta``; per channel bit, divide by
``CHANNEL_BITS``.

Because the sensor noise is the same draw in all three leaks, the
difference is the surviving mark itself wherever the channel is near-linear;
the ``coherence`` column (``|sum_b A_s conj(E)|^2 / (sum_b |A_s|^2 sum_b |E|^2)``
for the probe, no prefilter) says how near: 1 for a linear, spatially
uniform channel, lower where clipping, JPEG quantisation, the bilateral
denoiser or a spatially varying gain (glare, vignetting, tone curve) turn
part of the mark into something else. Only the coherent part counts as
signal.

Prefilters (``PREFILTERS``): ``raw`` (luma minus its mean over the pixels
the leak covers), ``sc4`` (today's ``watermark.decoding.suppress_content``,
background at sigma 4 px) and ``sc16`` (the same with
``background_sigma=16``, a background model matched to a coarser carrier).

As a check of the method, today's decoder is run on each warped marked
leak: ``watermark.extract`` (its soft-bit SNR as mean/std over bits, as
``benchmarks/hard_ablation.py``), and today's prefilter and fold read at
the true tile phase, the mean signed soft value over the reference leak's
soft-value spread (noise alone), with today's fold (each tile position
divided by its own total weight) and pooled (one normalisation). The
model's prediction for the pooled correlator (the marked-minus-reference
leak projected on today's ideal pattern, over the sc4 noise PSD weighted by
a channel bit's expected spectrum) is printed beside them.

Visibility
----------
The cost of a unit of energy in a band is ``(CSF(f) / peak)^2`` averaged
over the band (isotropic; energy detection; no masking by the text, no
oblique effect: both would favour the text-heavy and diagonal cases, so it
is conservative), ``f`` in cycles per degree at 38 pixels per degree (a
24-inch 1080p monitor at 60 cm):

* Mannos and Sakrison, "The effects of a visual fidelity criterion on the
  encoding of images", IEEE Trans. Information Theory 20(4):525-536, 1974:
  ``A(f) = 2.6 (0.0192 + 0.114 f) exp(-(0.114 f)^1.1)``;
* Barten, "Formula for the contrast sensitivity of the human eye",
  Proc. SPIE 5294:231-238, 2004 (the simplified form of his 1999 model):
  ``S(u) = 5200 exp(-0.0016 u^2 (1 + 100/L)^0.08) / sqrt((1 + 144/X0^2 +
  0.64 u^2) (63/L^0.83 + 1/(1 - exp(-0.02 u^2))))``, with ``L = 200 cd/m^2``
  (a white EMR page) and a field of ``X0 = 40`` degrees.

On white a luma level is a fixed contrast (about 2.2/255 through the
display gamma), so relative costs are the same in levels and in contrast.
Mannos-Sakrison falls off much faster below 1 cycle/degree than Barten;
both are printed and the summary uses Barten (the more conservative at low
frequencies). FLIP is measured separately.

Caveats
-------
The difference method is exact for a linear channel. The phone chain is
nonlinear in places: the tone curve and 8-bit rounding (dithered by the
sensor noise, so near-linear on average), white clipping under glare or
overexposure (the mark is lost there: counted as lost gain), the bilateral
luma denoiser (range sigma 6-12 levels: the 1.5-level mark lies mostly
below it, so on flat areas it acts as a fixed smoothing, near text
differently), and JPEG quantisation (coefficients near a threshold flip
between the marked and unmarked leaks: incoherent difference). The
coherence columns show where this matters; the probe's is also lowered by
its own energy above the capture's Nyquist frequency aliasing into lower
bands (at hard the camera samples the screen at about 0.3 photo px per
screen px), which is not a nonlinearity: the real mark's (narrower
spectrum) is the better indicator in its band. The fold's per-position
normalisation and a whitening decoder are modelled only as far as the
check table and the 'whitened' column say. The probe spreads its energy
over eight octaves while the real mark concentrates it in about 1.5, so
where the channel depends on amplitude their gains differ; both are
printed in the mark's band.
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

import cv2
import numpy as np
import pywt
import scipy.fft
from numpy.typing import NDArray

import watermark
from synthetic import SCREEN_KINDS, Leak, phone_photo_leak, project_points, render_screen, screenshot_leak
from watermark.decoding import CHANNEL_BITS, coefficients_to_tile, encode_payload, fold_tiles, luma, slot_layout, suppress_content

__all__ = [
    "BAND_EDGES",
    "CARRIERS",
    "CONDITIONS",
    "PREFILTERS",
    "SampleResult",
    "barten_csf",
    "carrier_basis",
    "main",
    "mannos_sakrison_csf",
    "measure_sample",
    "screen_map",
]

SEED = 20261211
"""Every screen, payload, probe and leak here derives from this (not from the robustness benchmark's seeds)."""

PPD = 38.0
"""Pixels per degree of visual angle: a 24-inch 1080p monitor at 60 cm."""

TILE_AREA = 256 * 256
"""eta is quoted per 256x256 px of screen area (one of today's tiles)."""

MARK_RMS = watermark.DEFAULT_RMS
"""Luma RMS of the probe (the real mark's at strength 1)."""

PEAK_FACTOR = 2.5
"""Probe values are limited to this many RMS (as ``watermark.embed`` limits its pattern)."""

HEADROOM_MAX = 254
"""Channel values are capped here before anything is added (``watermark.embed``'s one level of white headroom)."""

DARK_LEVEL, DARK_GAIN = 24.0, 1.0 / 3.0
"""Near-black pixels (luma below DARK_LEVEL) get the probe at DARK_GAIN, as ``watermark.embed`` does."""

PROBE_BAND = (1.0 / 512.0, 0.5)
"""Frequencies (c/px) the probe covers."""

BAND_EDGES: NDArray[np.float64] = 2.0 ** np.arange(-9.0, -0.99, 0.5)
"""Half-octave band edges in cycles per screen pixel, 1/512 .. 1/2 (16 bands)."""

N_BANDS = len(BAND_EDGES) - 1
SECTORS: tuple[str, str] = ("axial", "diagonal")
"""Orientation sectors: within 22.5 degrees of a frequency axis, or not (equal areas)."""

ANGLE_EDGES: tuple[float, ...] = (0.0, 5.0, 15.0, 25.0, 35.0, 45.0 + 1e-9)
"""Angle from the nearest frequency axis (degrees), for the angular noise profile."""

ANGLE_RANGE = (1.0 / 64.0, 1.0 / 11.0)
"""Radial frequencies (c/px) the angular profile averages over: today's carrier's range."""

DEFAULT_SAMPLES = 6
"""White-screen samples per condition in the default run (dark_theme and xray_viewer: half as many, phone levels only).

A phone sample leaks three 12 MP photos (about 15-20 s on 2 shared cores), so the default run of 24 phone and
18 screenshot samples takes about 10 minutes; ``--samples`` raises it."""

SCREEN_SIZES: tuple[tuple[int, int], ...] = ((1920, 1080), (1366, 768), (2560, 1440))
"""Screen sizes, cycled over the samples as the robustness benchmark does."""

WHITE_KINDS: tuple[str, ...] = tuple(k for k in SCREEN_KINDS if k not in ("dark_theme", "xray_viewer"))
GROUPS: dict[str, tuple[str, ...]] = {"white": WHITE_KINDS, "dark_theme": ("dark_theme",), "xray_viewer": ("xray_viewer",)}
"""Kind groups reported separately: white text-heavy EMR screens (the usual case), dark theme, X-ray viewer."""


@dataclass(frozen=True)
class Condition:
    """A leak condition: a phone level or a screenshot channel."""

    name: str
    leak: Callable[[NDArray[np.uint8], int], Leak]
    photo: bool


CONDITIONS: dict[str, Condition] = {
    "png": Condition("png", lambda im, s: screenshot_leak(im, "png", seed=s), False),
    "jpeg75": Condition("jpeg75", lambda im, s: screenshot_leak(im, "jpeg75", seed=s), False),
    "crop_rescale_jpeg": Condition("crop_rescale_jpeg", lambda im, s: screenshot_leak(im, "crop_rescale_jpeg", seed=s), False),
    "phone-standard": Condition("phone-standard", lambda im, s: phone_photo_leak(im, level="standard", seed=s), True),
    "phone-hard": Condition("phone-hard", lambda im, s: phone_photo_leak(im, level="hard", seed=s), True),
}
"""Leak conditions in report order; ``png`` is lossless (content noise only, gain 1)."""

Prefilter = Callable[[NDArray[np.float32], NDArray[np.bool_]], tuple[NDArray[np.float32], NDArray[np.float32]]]


def _raw(y: NDArray[np.float32], valid: NDArray[np.bool_]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    w = valid.astype(np.float32)
    mean = float((y * w).sum() / max(float(w.sum()), 1.0))
    return ((y - mean) * w).astype(np.float32), w


def _suppress(sigma: float) -> Prefilter:
    def run(y: NDArray[np.float32], valid: NDArray[np.bool_]) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
        return suppress_content(y, background_sigma=sigma, valid=valid)

    return run


PREFILTERS: dict[str, Prefilter] = {"raw": _raw, "sc4": _suppress(4.0), "sc16": _suppress(16.0)}
"""Prefilters compared: none, today's ``suppress_content`` (sigma 4 px), and a 16 px background model."""

TODAY = "sc4"
SC_PREFILTERS: tuple[str, ...] = ("sc4", "sc16")

TODAY_SLOTS: tuple[tuple[int, int], ...] = tuple((u, s - u) for s in (1, 2, 3) for u in range(s + 1))
"""Today's DCT slots, ``1 <= u + v <= 3`` (six of the nine have u = 0 or v = 0: axial)."""

DIAGONAL_SLOTS: tuple[tuple[int, int], ...] = ((1, 1), (1, 2), (2, 1), (1, 3), (2, 2), (3, 1))
"""A diagonal variant: ``u, v >= 1``, ``u + v <= 4``."""

CARRIERS: dict[str, tuple[int, tuple[tuple[int, int], ...]]] = {
    f"L{lv}{' diag' if diag else ''}": (lv, DIAGONAL_SLOTS if diag else TODAY_SLOTS) for lv in (1, 2, 3, 4) for diag in (False, True)
}
"""DWT-DCT carriers compared: name -> (DWT level, DCT slots). ``L2`` is today's layout."""

TODAY_CARRIER = "L2"
MARK = "today's real mark"


# --------------------------------------------------------------------------
# Contrast sensitivity
# --------------------------------------------------------------------------


def mannos_sakrison_csf(f_cpd: NDArray[np.float64]) -> NDArray[np.float64]:
    """Mannos-Sakrison (1974) CSF, ``f`` in cycles per degree (peak about 0.98 near 8 c/deg)."""
    f = np.asarray(f_cpd, dtype=np.float64)
    return np.asarray(2.6 * (0.0192 + 0.114 * f) * np.exp(-((0.114 * f) ** 1.1)))


def barten_csf(u_cpd: NDArray[np.float64], luminance: float = 200.0, field_deg: float = 40.0) -> NDArray[np.float64]:
    """Barten's (2004) simplified CSF, ``u`` in cycles per degree, luminance in cd/m^2, field in degrees."""
    u = np.maximum(np.asarray(u_cpd, dtype=np.float64), 1e-6)
    num = 5200.0 * np.exp(-0.0016 * u * u * (1.0 + 100.0 / luminance) ** 0.08)
    den = np.sqrt((1.0 + 144.0 / field_deg**2 + 0.64 * u * u) * (63.0 / luminance**0.83 + 1.0 / (-np.expm1(-0.02 * u * u))))
    return np.asarray(num / den, dtype=np.float64)


def band_visibility(csf: Callable[[NDArray[np.float64]], NDArray[np.float64]], ppd: float = PPD) -> NDArray[np.float64]:
    """Mean of ``(CSF / peak CSF)^2`` over each band's 2-D annulus (weight f df), frequencies in c/px."""
    peak = float(np.max(csf(np.linspace(0.05, 60.0, 6000))))
    out = np.empty(N_BANDS)
    for i, (lo, hi) in enumerate(zip(BAND_EDGES[:-1], BAND_EDGES[1:])):
        f = np.linspace(lo, hi, 400)
        s = (csf(f * ppd) / peak) ** 2
        out[i] = float(np.sum(s * f) / np.sum(f))
    return out


# --------------------------------------------------------------------------
# Frequency grids and spectra
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Grid:
    """Bins of an rFFT of a given shape, flattened: cell (band, sector), angle bin, multiplicity."""

    cell: NDArray[np.int64]
    """``band * 2 + sector``, or -1 outside ``BAND_EDGES``."""
    angle: NDArray[np.int64]
    """Index into ``ANGLE_EDGES`` for bins in ``ANGLE_RANGE``, else -1."""
    mult: NDArray[np.float64]
    """1 for the DC and Nyquist columns, 2 for the others (each stands for itself and its conjugate)."""
    freq: NDArray[np.float64]
    """Radial frequency (c/px), 2-D."""


@functools.lru_cache(maxsize=8)
def grid(shape: tuple[int, int]) -> Grid:
    """The :class:`Grid` of an rFFT of ``shape``."""
    h, w = shape
    fy = np.abs(scipy.fft.fftfreq(h))[:, None]
    fx = scipy.fft.rfftfreq(w)[None, :]
    f = np.sqrt(fy * fy + fx * fx)
    theta = np.degrees(np.arctan2(fy, np.maximum(fx, 1e-12)))
    from_axis = np.minimum(theta, 90.0 - theta)
    band = np.digitize(f, BAND_EDGES) - 1
    sector = (from_axis >= 22.5).astype(np.int64)
    cell = band * 2 + sector
    cell[(f < BAND_EDGES[0]) | (f >= BAND_EDGES[-1])] = -1
    angle = np.digitize(from_axis, ANGLE_EDGES) - 1
    angle[(f < ANGLE_RANGE[0]) | (f >= ANGLE_RANGE[1])] = -1
    mult = np.full(f.shape, 2.0)
    mult[:, 0] = 1.0
    if w % 2 == 0:
        mult[:, -1] = 1.0
    return Grid(cell.ravel(), angle.ravel(), mult.ravel(), f)


def _rfft(a: NDArray[np.floating]) -> NDArray[np.complex128]:
    return np.asarray(scipy.fft.rfft2(a.astype(np.float64)) / math.sqrt(a.size)).ravel()


def cell_sum(values: NDArray[np.float64], g: Grid) -> NDArray[np.float64]:
    """Sum of ``values`` (per bin, flattened) over each (band, sector) cell, counting conjugates: (N_BANDS, 2)."""
    keep = g.cell >= 0
    sums = np.bincount(g.cell[keep], weights=(values * g.mult)[keep], minlength=2 * N_BANDS)
    return np.asarray(sums, dtype=np.float64).reshape(N_BANDS, 2)


def angle_mean(values: NDArray[np.float64], g: Grid) -> NDArray[np.float64]:
    """Mean of ``values`` over each angle bin of ``ANGLE_EDGES`` within ``ANGLE_RANGE``."""
    keep = g.angle >= 0
    n = len(ANGLE_EDGES) - 1
    tot = np.asarray(np.bincount(g.angle[keep], weights=(values * g.mult)[keep], minlength=n), dtype=np.float64)
    cnt = np.asarray(np.bincount(g.angle[keep], weights=g.mult[keep], minlength=n), dtype=np.float64)
    return np.asarray(tot / np.maximum(cnt, 1e-12))


def octave_flat_noise(shape: tuple[int, int], rng: np.random.Generator, rms: float = MARK_RMS) -> NDArray[np.float64]:
    """Gaussian noise with PSD ~ 1/f^2 on ``PROBE_BAND`` (equal energy per octave), RMS ``rms``, limited to 2.5 RMS."""
    h, w = shape
    spec = scipy.fft.rfft2(rng.standard_normal((h, w)))
    f = grid(shape).freq
    amp = np.where((f >= PROBE_BAND[0]) & (f <= PROBE_BAND[1]), 1.0 / np.maximum(f, 1e-9), 0.0)
    noise = np.asarray(scipy.fft.irfft2(spec * amp, s=(h, w)))
    noise *= rms / max(float(noise.std()), 1e-12)
    return np.clip(noise, -PEAK_FACTOR * rms, PEAK_FACTOR * rms)


def headroom(rgb: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """The screen as ``watermark.embed`` modifies it before adding anything: channel values capped at 254."""
    return np.minimum(rgb, HEADROOM_MAX).astype(np.uint8)


def add_luma_pattern(screen: NDArray[np.uint8], pattern: NDArray[np.float64]) -> NDArray[np.uint8]:
    """Add a luma pattern as ``watermark.embed`` adds its own: rounded, one delta on R, G, B, 1/3 on near-black, saturating."""
    dark = luma(screen) < DARK_LEVEL
    delta = np.rint(np.where(dark, pattern * DARK_GAIN, pattern))
    out = headroom(screen).astype(np.int16) + delta.astype(np.int16)[..., None]
    return np.clip(out, 0, 255).astype(np.uint8)


CANVAS = 1024
"""Side of the canonical periodic canvas on which the carriers' band shares (visibility columns) are computed."""


def carrier_basis(level: int, u: int, v: int) -> NDArray[np.float64]:
    """One basis function of a DWT-DCT carrier: slot (u, v) of one 8x8 block of the level-``level`` sym4 band.

    A ``64 * 2**level`` px tile (periodization) whose approximation band
    holds a single unit DCT coefficient, as ``watermark.decoding``'s layout
    does at level 2.
    """
    coeffs = np.zeros((8, 8, 8, 8))
    coeffs[3, 3, u, v] = 1.0
    band = scipy.fft.idctn(coeffs, axes=(-2, -1), norm="ortho").swapaxes(1, 2).reshape(64, 64)
    details = [tuple(np.zeros((64 << lv, 64 << lv)) for _ in range(3)) for lv in range(level)]
    return np.asarray(pywt.waverec2([band, *details], "sym4", mode="periodization"))


def _tiled_power(basis: NDArray[np.float64], level: int, shape: tuple[int, int]) -> NDArray[np.float64]:
    """Power spectrum over ``shape`` of a basis of :func:`carrier_basis` tiled with its period, its block in the middle.

    (A region smaller than the tile holds one block's basis whole, as a
    typical block of the visible part of the tile.)
    """
    h, w = shape
    n = basis.shape[0]
    centre = (3 * 8 + 4) << level  # the basis sits in block (3, 3) of the band
    rolled = np.roll(basis, (min(h, n) // 2 - centre, min(w, n) // 2 - centre), axis=(0, 1))
    reps = (-(-h // n), -(-w // n))
    return np.abs(_rfft(np.tile(rolled, reps)[:h, :w])) ** 2


@functools.lru_cache(maxsize=4)
def carrier_spectra(shape: tuple[int, int]) -> dict[str, NDArray[np.float32]]:
    """Each carrier's expected power spectrum per channel bit, tiled over ``shape``, normalised (sum with multiplicity 1).

    With independent keyed signs on every (block, slot), a channel bit's
    expected power spectrum is the sum of its slots' basis spectra (a block
    shift only changes the phase); each basis is tiled with the carrier's
    period, as the mark is, so its energy sits on the lines of the tile
    lattice, where content that repeats across tiles (rules and text rows
    spanning the screen) sits too.
    """
    mult = grid(shape).mult
    out: dict[str, NDArray[np.float32]] = {}
    for name, (level, slots) in CARRIERS.items():
        total = np.zeros(len(mult))
        for u, v in slots:
            total += _tiled_power(carrier_basis(level, u, v), level, shape)
        out[name] = (total / float(np.sum(total * mult))).astype(np.float32)
    return out


@functools.lru_cache(maxsize=1)
def carrier_band_shares() -> dict[str, NDArray[np.float64]]:
    """Expected energy share per band of each carrier (for the visibility columns)."""
    g = grid((CANVAS, CANVAS))
    return {name: cell_sum(spec.astype(np.float64), g).sum(axis=1) for name, spec in carrier_spectra((CANVAS, CANVAS)).items()}


# --------------------------------------------------------------------------
# Geometry
# --------------------------------------------------------------------------


@dataclass
class ScreenMap:
    """The true map from screen pixels into a leak (as ``benchmarks.robustness.oracle_geometry`` builds it)."""

    resize_to: tuple[int, int] | None
    map_x: NDArray[np.float32]
    map_y: NDArray[np.float32]
    valid: NDArray[np.bool_]
    box: tuple[int, int, int, int]

    def warp(self, image: NDArray[Any]) -> NDArray[Any]:
        """``image`` (the leak's pixels: uint8 RGB, or float32 luma) sampled at every screen pixel; 0 outside."""
        src = image
        if self.resize_to is not None:
            src = cv2.resize(src, self.resize_to, interpolation=cv2.INTER_AREA)
        return np.asarray(cv2.remap(src, self.map_x, self.map_y, interpolation=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_CONSTANT, borderValue=0))


def screen_map(leak: Leak, screen_size: tuple[int, int]) -> ScreenMap:
    """The map of ``benchmarks.robustness.oracle_geometry`` (same formulas), kept to warp several leaks of one geometry.

    Where the leak holds more than 1.25 of its pixels per screen pixel it is
    first area-averaged to about one pixel per screen pixel, then sampled
    bilinearly at :func:`synthetic.project_points` of every screen pixel.
    """
    w, h = screen_size
    scale = capture_scale(leak, screen_size)
    lh, lw = leak.image.shape[:2]
    sx = sy = 1.0
    resize_to: tuple[int, int] | None = None
    sh, sw = lh, lw
    if scale > 1.25:
        nw, nh = max(1, round(lw / scale)), max(1, round(lh / scale))
        resize_to = (nw, nh)
        sx, sy = nw / lw, nh / lh
        sh, sw = nh, nw
    ys, xs = np.mgrid[0:h, 0:w]
    pts = project_points(leak, np.column_stack([xs.ravel(), ys.ravel()]).astype(np.float64))
    map_x = ((pts[:, 0] + 0.5) * sx - 0.5).reshape(h, w).astype(np.float32)
    map_y = ((pts[:, 1] + 0.5) * sy - 0.5).reshape(h, w).astype(np.float32)
    valid = (map_x >= 0) & (map_x <= sw - 1) & (map_y >= 0) & (map_y <= sh - 1)
    rows, cols = np.flatnonzero(valid.any(axis=1)), np.flatnonzero(valid.any(axis=0))
    box = (0, 0, 0, 0) if rows.size == 0 else (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
    return ScreenMap(resize_to, map_x, map_y, valid, box)


def capture_scale(leak: Leak, screen_size: tuple[int, int]) -> float:
    """Leak pixels per screen pixel (linear) at the screen centre."""
    w, h = screen_size
    centre = np.array([[(w - 1) / 2, (h - 1) / 2], [(w - 1) / 2 + 1, (h - 1) / 2], [(w - 1) / 2, (h - 1) / 2 + 1]])
    c = project_points(leak, centre)
    (ax, ay), (bx, by) = c[1] - c[0], c[2] - c[0]
    return math.sqrt(abs(ax * by - ay * bx))


def _same_geometry(a: Leak, b: Leak) -> bool:
    if a.image.shape != b.image.shape or a.homography is None or b.homography is None:
        return False
    if not np.allclose(a.homography, b.homography):
        return False
    keys = ("camera_homography", "lens_k1", "resize_homography")
    return all(np.allclose(np.asarray(a.params.get(k, 0.0)), np.asarray(b.params.get(k, 0.0))) for k in keys)


# --------------------------------------------------------------------------
# One sample
# --------------------------------------------------------------------------


@dataclass
class SampleResult:
    """The figures of one (condition, screen, leak seed); band arrays are (N_BANDS,), cell arrays (N_BANDS, 2)."""

    condition: str
    group: str
    kind: str
    size: tuple[int, int]
    capture_scale: float
    """Leak pixels per screen pixel at the screen centre (linear)."""
    area_px: int = 0
    """Pixels in the analysed box."""
    gain: dict[str, dict[str, NDArray[np.float64]]] = field(default_factory=dict)
    """probe ("probe" or "mark") -> prefilter -> G per band (both sectors)."""
    gain_cells: dict[str, dict[str, NDArray[np.float64]]] = field(default_factory=dict)
    """probe -> prefilter -> G per cell (band, sector)."""
    noise: dict[str, NDArray[np.float64]] = field(default_factory=dict)
    """prefilter -> N per cell (level^2 per bin)."""
    bins: NDArray[np.float64] = field(default_factory=lambda: np.zeros((N_BANDS, 2)))
    """Bins per cell (with multiplicity)."""
    noise_angle: dict[str, NDArray[np.float64]] = field(default_factory=dict)
    """prefilter -> N per angle bin of ``ANGLE_EDGES``, over ``ANGLE_RANGE``."""
    mark_cells: NDArray[np.float64] | None = None
    """Today's mark: embedded energy per cell (level^2 px over the box)."""
    coherence: NDArray[np.float64] = field(default_factory=lambda: np.zeros(N_BANDS))
    """Probe, no prefilter: coherent share of the arriving difference per band."""
    coherence_mark: NDArray[np.float64] = field(default_factory=lambda: np.zeros(N_BANDS))
    """The same for today's real mark."""
    eta_corr: dict[str, dict[str, float]] = field(default_factory=dict)
    """carrier (or MARK) -> prefilter -> eta with a plain correlator."""
    eta_white: dict[str, dict[str, float]] = field(default_factory=dict)
    """carrier (or MARK) -> prefilter -> eta with per-cell whitening."""
    decoder_snr: float | None = None
    """``watermark.extract`` on the warped marked leak: mean / std of the true-bit-signed soft values."""
    bit_snr: float | None = None
    """Today's prefilter and fold at the true tile phase: mean true-bit-signed soft value of the marked leak
    over the standard deviation of the reference leak's soft values (signal over noise alone)."""
    bit_snr_pooled: float | None = None
    """As ``bit_snr`` with a global weighted correlator instead of today's per-position fold normalisation."""
    bit_snr_total: float | None = None
    """Pooled correlator at the true phase: mean / std of the true-bit-signed soft values of the marked leak (noise,
    distortion and the spread of the signal over bits together)."""
    signal_spread: float | None = None
    """Std over bits of the marked-minus-reference soft values over their mean: the spread of the signal over bits
    (masks, the prefilter's response per slot) plus the part of the channel's response not linear in the mark."""
    predicted_snr: float | None = None
    """The soft-bit SNR the model predicts for today's decoder on this leak (correlator, sc4)."""
    decoded: bool | None = None

    def eta(self, prefilter: str) -> NDArray[np.float64]:
        """SNR^2 per level^2 of mark power per 256x256 px, per cell (band, sector), from the probe's gain."""
        g = np.maximum(self.gain_cells["probe"][prefilter], 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(np.where(self.noise[prefilter] > 0, TILE_AREA * g * g / self.noise[prefilter], np.nan))

    def noise_band(self, prefilter: str) -> NDArray[np.float64]:
        """N per band, both sectors together."""
        return np.asarray((self.noise[prefilter] * self.bins).sum(axis=1) / np.maximum(self.bins.sum(axis=1), 1e-12))

    def eta_band(self, prefilter: str) -> NDArray[np.float64]:
        """eta per band for a carrier spread evenly over both sectors (band gain, band-mean noise)."""
        g = np.maximum(self.gain["probe"][prefilter], 0.0)
        n = self.noise_band(prefilter)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(np.where(n > 0, TILE_AREA * g * g / n, np.nan))


def _payload(rng: np.random.Generator) -> watermark.Payload:
    minutes = int(rng.integers(0, 80 * 525_600))
    return watermark.Payload(viewer_id=int(rng.integers(0, 2**32)),
                             timestamp=datetime(2020, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=minutes))


def _key() -> watermark.Key:
    return watermark.Key(bytes(np.random.default_rng([SEED, 0]).integers(0, 256, 32, dtype=np.uint8)))


def _crc(text: str) -> int:
    return zlib.crc32(text.encode())


@functools.lru_cache(maxsize=2)
def _bit_patterns(key: watermark.Key) -> NDArray[np.float32]:
    """(CHANNEL_BITS, 256*256): the spatial pattern each channel bit's slots make (unit slot values, keyed signs).

    The DWT and block DCT are orthonormal, so the decoder's soft value of bit
    ``j`` on an aligned folded tile is its inner product with pattern ``j``.
    """
    layout = slot_layout(key)
    rows = [coefficients_to_tile(np.where(layout.slot_bit == j, layout.sign, 0.0)).ravel() for j in range(CHANNEL_BITS)]
    return np.stack(rows).astype(np.float32)


def _soft_bits(y: NDArray[np.float32], valid: NDArray[np.bool_], key: watermark.Key) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Today's prefilter and fold on a full screen-geometry luma, soft bits read at the true tile phase (0, 0).

    Returns the soft bits of today's fold (each tile position normalised by
    its own total weight) and of a global weighted correlator (the weighted
    sum over tiles, one normalisation for all positions: what the model
    describes).
    """
    residual, weight = suppress_content(y, valid=valid)
    folded, den = fold_tiles(residual, weight)
    patterns = _bit_patterns(key)
    today = patterns @ folded.astype(np.float32).ravel()
    pooled = patterns @ (folded * den / max(float(den.mean()), 1e-12)).astype(np.float32).ravel()
    return np.asarray(today, dtype=np.float64), np.asarray(pooled, dtype=np.float64)


def _eta_corr(gain: NDArray[np.float64], spec: NDArray[np.floating], noise_bins: NDArray[np.float64], g: Grid) -> float:
    """Plain-correlator SNR^2 per unit energy (x TILE_AREA) of a carrier with normalised spectrum ``spec``; ``gain`` per cell."""
    shares = cell_sum(spec.astype(np.float64), g)
    signal = float(np.nansum(np.maximum(gain, 0.0) * shares))
    noise = float(np.sum(noise_bins * spec * g.mult))
    return TILE_AREA * signal * signal / noise if noise > 0 else float("nan")


def _eta_white(spec: NDArray[np.floating], eta_cells: NDArray[np.float64], g: Grid) -> float:
    shares = cell_sum(spec.astype(np.float64), g)
    return float(np.nansum(shares * eta_cells))


def measure_sample(condition: str, group: str, index: int, *, size: tuple[int, int] | None = None,
                   decode: bool = True) -> SampleResult:
    """Leak sample ``index`` of ``group`` through ``condition`` (reference, real mark, probe) and measure it.

    Parameters
    ----------
    condition : str
        A key of :data:`CONDITIONS`.
    group : str
        A key of :data:`GROUPS`; the kind cycles through the group's kinds.
    index : int
        Sample number: fixes the screen (kind, size, seed), payload, probe and leak seed.
    size : (int, int), optional
        Screen size; by default cycles through :data:`SCREEN_SIZES`.
    decode : bool
        Run today's decoder on the warped marked leak (the method check).
    """
    cond = CONDITIONS[condition]
    kinds = GROUPS[group]
    kind = kinds[index % len(kinds)]
    w, h = size or SCREEN_SIZES[index % len(SCREEN_SIZES)]
    rng = np.random.default_rng([SEED, _crc(group), index])
    screen = render_screen(kind, size=(w, h), seed=int(rng.integers(0, 2**31)))
    payload = _payload(rng)
    key = _key()
    reference = headroom(screen)
    probes: dict[str, NDArray[np.uint8]] = {
        "probe": add_luma_pattern(screen, octave_flat_noise((h, w), rng)),
        "mark": np.asarray(watermark.embed(screen, payload, key)),
    }
    leak_seed = int(np.random.SeedSequence([SEED, _crc(condition), _crc(group), index]).generate_state(1)[0])

    ref_leak = cond.leak(reference, leak_seed)
    smap = screen_map(ref_leak, (w, h))
    x0, y0, x1, y1 = smap.box
    crop = (slice(y0, y1), slice(x0, x1))
    valid = smap.valid[crop]
    shape = (y1 - y0, x1 - x0)
    g = grid(shape)
    y_ref_full = smap.warp(luma(ref_leak.image))
    y_ref = y_ref_full[crop]
    y_ref_screen = luma(reference)[crop]
    res = SampleResult(condition, group, kind, (w, h), capture_scale(ref_leak, (w, h)), area_px=int(valid.size))
    res.bins = cell_sum(np.ones(g.mult.shape), g)

    ref_filtered = {name: pf(y_ref, valid) for name, pf in PREFILTERS.items()}
    norm_w: dict[str, NDArray[np.float32]] = {}
    noise_bins: dict[str, NDArray[np.float64]] = {}
    for name, (r0, w0) in ref_filtered.items():
        norm_w[name] = (w0 / max(float(w0.mean()), 1e-12)).astype(np.float32)
        noise_bins[name] = np.abs(_rfft(norm_w[name] * r0)) ** 2
        res.noise[name] = cell_sum(noise_bins[name], g) / np.maximum(res.bins, 1e-12)
        res.noise_angle[name] = angle_mean(noise_bins[name], g)

    # the decoder's reference: today's ideal pattern (before rounding, clipping and dark attenuation)
    tile = watermark.pattern_tile(payload, key)
    pattern = np.tile(tile, (-(-h // tile.shape[0]), -(-w // tile.shape[1])))[:h, :w][crop].astype(np.float64)
    mark_signal: dict[str, float] = {}
    spectra: dict[str, NDArray[np.float64]] = {}
    for probe_name, marked in probes.items():
        leak = cond.leak(marked, leak_seed)
        if not _same_geometry(leak, ref_leak):
            raise RuntimeError(f"{condition}: the leak of the {probe_name} drew another geometry than the reference's")
        e = (luma(marked)[crop] - y_ref_screen).astype(np.float64)
        spec_e = _rfft(e)
        e_power = np.abs(spec_e) ** 2
        spectra[probe_name] = e_power
        e_cells = cell_sum(e_power, g)
        e_energy = e_cells.sum(axis=1)
        if probe_name == "mark":
            res.mark_cells = e_cells
        y_x_full = smap.warp(luma(leak.image))
        y_x = y_x_full[crop]
        res.gain[probe_name], res.gain_cells[probe_name] = {}, {}
        for name, pf in PREFILTERS.items():
            r_x, w_x = pf(y_x, valid)
            a_s = norm_w[name] * (w_x > 0) * (r_x - ref_filtered[name][0])
            spec_s = _rfft(a_s)
            if probe_name == "mark":
                mark_signal[name] = float(np.sum(a_s.astype(np.float64) * pattern))
            cross_cells = cell_sum(np.real(spec_s * np.conj(spec_e)), g)
            cross = cross_cells.sum(axis=1)
            with np.errstate(divide="ignore", invalid="ignore"):
                res.gain[probe_name][name] = np.where(e_energy > 0, cross / e_energy, np.nan)
                res.gain_cells[probe_name][name] = np.where(e_cells > 0, cross_cells / e_cells, np.nan)
                if name == "raw":
                    s_energy = cell_sum(np.abs(spec_s) ** 2, g).sum(axis=1)
                    coh = np.where(s_energy * e_energy > 0, cross * cross / (s_energy * e_energy), np.nan)
                    if probe_name == "probe":
                        res.coherence = coh
                    else:
                        res.coherence_mark = coh
        if probe_name == "mark" and decode:
            sign = 1.0 - 2.0 * encode_payload(payload, key)
            ext = watermark.extract(np.ascontiguousarray(smap.warp(leak.image)[crop]), key)
            signed = np.asarray(ext.bit_snr) * sign
            res.decoder_snr = float(signed.mean() / max(float(signed.std()), 1e-12))
            res.decoded = bool(ext.found and ext.payload == payload)
            (fold_mark, pooled_mark), (fold_ref, pooled_ref) = (_soft_bits(y, smap.valid, key) for y in (y_x_full, y_ref_full))
            res.bit_snr = float((fold_mark * sign).mean() / max(float(fold_ref.std()), 1e-12))
            res.bit_snr_pooled = float((pooled_mark * sign).mean() / max(float(pooled_ref.std()), 1e-12))
            res.bit_snr_total = float((pooled_mark * sign).mean() / max(float((pooled_mark * sign).std()), 1e-12))
            diff = (pooled_mark - pooled_ref) * sign
            res.signal_spread = float(diff.std() / max(abs(float(diff.mean())), 1e-12))
        del leak

    # carriers: today's real mark against its ideal pattern (what the decoder correlates with: the signal is the
    # marked-minus-reference leak projected on the pattern, the noise the reference leak's PSD on a channel bit's
    # expected spectrum), and the DWT-DCT family (probe gain, expected spectra)
    pattern_energy = float(np.sum(pattern * pattern))
    fam = carrier_spectra(shape)
    pattern_spec = fam[TODAY_CARRIER]
    mark_noise: dict[str, float] = {}
    for name in PREFILTERS:
        eta_cells = res.eta(name)
        mark_noise[name] = pattern_energy * float(np.sum(noise_bins[name] * pattern_spec * g.mult))
        res.eta_corr.setdefault(MARK, {})[name] = (TILE_AREA * mark_signal[name] ** 2 / (pattern_energy * mark_noise[name])
                                                   if mark_noise[name] > 0 else float("nan"))
        res.eta_white.setdefault(MARK, {})[name] = _eta_white(pattern_spec, eta_cells, g)
        for cname, spec in fam.items():
            res.eta_corr.setdefault(cname, {})[name] = _eta_corr(res.gain_cells["probe"][name], spec, noise_bins[name], g)
            res.eta_white.setdefault(cname, {})[name] = _eta_white(spec, eta_cells, g)
    if decode:
        res.predicted_snr = mark_signal[TODAY] / math.sqrt(CHANNEL_BITS * mark_noise[TODAY]) if mark_noise[TODAY] > 0 else None
    return res


# --------------------------------------------------------------------------
# Aggregation and tables
# --------------------------------------------------------------------------


def _nanmedian(rows: Sequence[NDArray[np.float64]]) -> NDArray[np.float64]:
    stack = np.stack([np.asarray(r, dtype=np.float64) for r in rows])
    out = np.full(stack.shape[1:], np.nan)
    ok = np.isfinite(stack).any(axis=0)
    if ok.any():
        out[ok] = np.nanmedian(stack[:, ok], axis=0)
    return out


def _median(values: Sequence[float | None]) -> float:
    v = [x for x in values if x is not None and np.isfinite(x)]
    return float(np.median(v)) if v else float("nan")


def fmt(v: float | None, digits: int = 3) -> str:
    """A number for a table cell: 3 significant digits, scientific outside [0.01, 1000), "–" for missing."""
    if v is None or not np.isfinite(v):
        return "–"
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1000 or a < 0.01:
        return f"{v:.{max(digits - 1, 0)}e}"
    text = f"{v:.{digits}g}"
    return f"{v:.0f}" if "e" in text else text


def _frac(f: float) -> str:
    return f"1/{1.0 / f:.0f}" if f < 1 else f"{f:g}"


BAND_LABELS: list[str] = [f"{_frac(lo)}–{_frac(hi)}" for lo, hi in zip(BAND_EDGES[:-1], BAND_EDGES[1:])]
BAND_PERIODS: NDArray[np.float64] = 1.0 / np.sqrt(BAND_EDGES[:-1] * BAND_EDGES[1:])
"""Geometric-centre period (screen px) of each band."""

REPORT_BANDS: NDArray[np.bool_] = BAND_EDGES[1:] <= 0.25 + 1e-12
"""Bands the conclusions range over (1/512 .. 1/4 c/px); the 1/4-1/2 octave is printed, not recommended."""


@dataclass
class Summary:
    """Medians over the samples of one (condition, group)."""

    condition: str
    group: str
    n: int
    scale: float
    share: NDArray[np.float64]
    """Today's mark: energy share per band."""
    axial_share: float
    """Today's mark: share of its energy in the axial sector."""
    gain: dict[str, dict[str, NDArray[np.float64]]]
    noise: dict[str, NDArray[np.float64]]
    noise_band: dict[str, NDArray[np.float64]]
    noise_angle: dict[str, NDArray[np.float64]]
    eta: dict[str, NDArray[np.float64]]
    eta_band: dict[str, NDArray[np.float64]]
    coherence: NDArray[np.float64]
    coherence_mark: NDArray[np.float64]
    eta_corr: dict[str, dict[str, float]]
    eta_white: dict[str, dict[str, float]]
    decoded: tuple[int, int]
    decoder_snr: float
    bit_snr: float
    bit_snr_pooled: float
    bit_snr_total: float
    signal_spread: float
    predicted_snr: float


def summarize(results: Sequence[SampleResult]) -> Summary:
    """Medians over ``results`` (all of one condition and group)."""
    r0 = results[0]
    cells = [r.mark_cells for r in results if r.mark_cells is not None]
    share = _nanmedian([c.sum(axis=1) / c.sum() for c in cells])
    dec = [r for r in results if r.decoder_snr is not None]
    return Summary(
        condition=r0.condition,
        group=r0.group,
        n=len(results),
        scale=_median([r.capture_scale for r in results]),
        share=share,
        axial_share=_median([float(c[:, 0].sum() / c.sum()) for c in cells]),
        gain={p: {pf: _nanmedian([r.gain[p][pf] for r in results]) for pf in PREFILTERS} for p in r0.gain},
        noise={pf: _nanmedian([r.noise[pf] for r in results]) for pf in PREFILTERS},
        noise_band={pf: _nanmedian([r.noise_band(pf) for r in results]) for pf in PREFILTERS},
        noise_angle={pf: _nanmedian([r.noise_angle[pf] for r in results]) for pf in PREFILTERS},
        eta={pf: _nanmedian([r.eta(pf) for r in results]) for pf in PREFILTERS},
        eta_band={pf: _nanmedian([r.eta_band(pf) for r in results]) for pf in PREFILTERS},
        coherence=_nanmedian([r.coherence for r in results]),
        coherence_mark=_nanmedian([r.coherence_mark for r in results]),
        eta_corr={c: {pf: _median([r.eta_corr[c][pf] for r in results]) for pf in PREFILTERS} for c in r0.eta_corr},
        eta_white={c: {pf: _median([r.eta_white[c][pf] for r in results]) for pf in PREFILTERS} for c in r0.eta_white},
        decoded=(sum(bool(r.decoded) for r in dec), len(dec)),
        decoder_snr=_median([r.decoder_snr for r in dec]),
        bit_snr=_median([r.bit_snr for r in dec]),
        bit_snr_pooled=_median([r.bit_snr_pooled for r in dec]),
        bit_snr_total=_median([r.bit_snr_total for r in dec]),
        signal_spread=_median([r.signal_spread for r in dec]),
        predicted_snr=_median([r.predicted_snr for r in dec]),
    )


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _pair(v: NDArray[np.float64]) -> str:
    return f"{fmt(v[0])} / {fmt(v[1])}"


def band_table(s: Summary, vis_ms: NDArray[np.float64], vis_barten: NDArray[np.float64]) -> list[str]:
    """The per-band table of one (condition, group); "a / d" cells are axial / diagonal sectors."""
    head = ["band (c/px)", "period (px)", "today's mark energy", "CSF² MS", "CSF² Barten", "coherence (probe)",
            "coherence (mark)", "G channel (probe)", "G channel (mark)", "G sc4", "G sc16", "N raw", "N sc4 (a / d)", "N sc16 (a / d)",
            "η raw", "η sc4 (a / d)", "η sc16 (a / d)"]
    lines = [_row(head), _row(["---"] * 2 + ["---:"] * (len(head) - 2))]
    mark_gain = s.gain["mark"]["raw"]
    for b, label in enumerate(BAND_LABELS):
        lines.append(_row([
            label, f"{BAND_PERIODS[b]:.0f}", f"{100 * s.share[b]:.1f}%", fmt(vis_ms[b], 2), fmt(vis_barten[b], 2),
            fmt(s.coherence[b], 2), fmt(s.coherence_mark[b], 2) if s.share[b] >= 0.01 else "–", fmt(s.gain["probe"]["raw"][b], 2),
            fmt(mark_gain[b], 2) if s.share[b] >= 0.01 else "–",
            fmt(s.gain["probe"]["sc4"][b], 2), fmt(s.gain["probe"]["sc16"][b], 2),
            fmt(s.noise_band["raw"][b]), _pair(s.noise["sc4"][b]), _pair(s.noise["sc16"][b]),
            fmt(s.eta_band["raw"][b]), _pair(s.eta["sc4"][b]), _pair(s.eta["sc16"][b]),
        ]))
    return lines


def angle_table(summaries: dict[tuple[str, str], Summary], conditions: Sequence[str]) -> list[str]:
    """Noise PSD against the angle from the nearest frequency axis, over today's carrier's band."""
    labels = [f"{ANGLE_EDGES[i]:.0f}–{min(ANGLE_EDGES[i + 1], 45):.0f}°" for i in range(len(ANGLE_EDGES) - 1)]
    head = ["condition", "screens"] + [f"N {pf} {a}" for pf in SC_PREFILTERS for a in labels]
    lines = [_row(head), _row(["---", "---"] + ["---:"] * (len(head) - 2))]
    for (c, g), s in summaries.items():
        if c in conditions:
            lines.append(_row([c, g] + [fmt(v) for pf in SC_PREFILTERS for v in s.noise_angle[pf]]))
    return lines


def kinds_table(summaries: dict[tuple[str, str], Summary], conditions: Sequence[str], groups: Sequence[str]) -> list[str]:
    """η per band (axial / diagonal) for each (condition, group), sc4 and sc16."""
    cols = [(c, g) for c in conditions for g in groups if (c, g) in summaries]
    head = ["band (c/px)"] + [f"{c} {g} η {pf} (a / d)" for c, g in cols for pf in SC_PREFILTERS]
    lines = [_row(head), _row(["---"] + ["---:"] * (len(head) - 1))]
    for b, label in enumerate(BAND_LABELS):
        lines.append(_row([label] + [_pair(summaries[c, g].eta[pf][b]) for c, g in cols for pf in SC_PREFILTERS]))
    lines.append(_row(["today's carrier (L2, correlator)"] + [fmt(summaries[c, g].eta_corr[TODAY_CARRIER][pf]) for c, g in cols
                                                              for pf in SC_PREFILTERS]))
    lines.append(_row(["n (capture scale)"] + [f"{summaries[c, g].n} ({summaries[c, g].scale:.2f})" for c, g in cols for _ in SC_PREFILTERS]))
    return lines


def carrier_table(summaries: dict[tuple[str, str], Summary], conditions: Sequence[str], group: str,
                  vis: dict[str, tuple[float, float]]) -> list[str]:
    """η of the carriers per condition; ratios to today's carrier and prefilter on the hardest condition."""
    cols = [c for c in conditions if (c, group) in summaries]
    ref_cond = "phone-hard" if "phone-hard" in cols else cols[-1]
    head = ["carrier", "prefilter", "CSF² MS (× today)", "CSF² Barten (× today)"] + [f"η {c}" for c in cols]
    head += [f"{ref_cond}: × today", f"{ref_cond}: × today, whitened", f"{ref_cond}: × today per Barten visibility"]
    lines = [_row(head), _row(["---", "---"] + ["---:"] * (len(head) - 2))]
    base = summaries[ref_cond, group].eta_corr[TODAY_CARRIER][TODAY]
    for cname, (lv, slots) in CARRIERS.items():
        for pf in SC_PREFILTERS:
            ms, bt = vis[cname]
            label = f"{cname}: {64 << lv} px tile, periods {16 << lv}–{(16 << lv) / 3:.0f} px" + (
                ", slots u,v ≥ 1" if slots == DIAGONAL_SLOTS else "") + (" (today)" if cname == TODAY_CARRIER else "")
            s = summaries[ref_cond, group]
            ratio = s.eta_corr[cname][pf] / base if base > 0 else float("nan")
            lines.append(_row([label, pf, fmt(ms, 2), fmt(bt, 2)] + [fmt(summaries[c, group].eta_corr[cname][pf]) for c in cols]
                              + [fmt(ratio, 2), fmt(s.eta_white[cname][pf] / base if base > 0 else float("nan"), 2), fmt(ratio / bt, 2)]))
    for pf in PREFILTERS:
        s = summaries[ref_cond, group]
        ratio = s.eta_corr[MARK][pf] / base if base > 0 else float("nan")
        lines.append(_row([f"{MARK} (measured against its pattern)", pf, "1", "1"] + [fmt(summaries[c, group].eta_corr[MARK][pf]) for c in cols]
                          + [fmt(ratio, 2), fmt(s.eta_white[MARK][pf] / base if base > 0 else float("nan"), 2), fmt(ratio, 2)]))
    return lines


def decoder_table(summaries: dict[tuple[str, str], Summary]) -> list[str]:
    """The method check: today's decoder on the warped marked leaks, next to the model's prediction."""
    lines = [_row(["condition", "screens", "n", "capture scale (leak px / screen px)", "decoded at the true geometry",
                   "soft-bit SNR, extract (mean/std)", "signal / noise, today's fold", "signal / noise, pooled correlator",
                   "predicted by the model (sc4, correlator)", "pooled, mean/std of the marked leak",
                   "signal spread over bits (std/mean)"]),
             _row(["---", "---"] + ["---:"] * 9)]
    for (c, g), s in summaries.items():
        k, n = s.decoded
        lines.append(_row([c, g, str(s.n), f"{s.scale:.2f}", f"{k}/{n}" if n else "–", fmt(s.decoder_snr, 2),
                           fmt(s.bit_snr, 2), fmt(s.bit_snr_pooled, 2), fmt(s.predicted_snr, 2), fmt(s.bit_snr_total, 2),
                           fmt(s.signal_spread, 2)]))
    return lines


def _argbest(values: NDArray[np.float64], mask: NDArray[np.bool_]) -> tuple[int, ...]:
    v = np.where(mask & np.isfinite(values), values, -np.inf)
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(v)), v.shape))


def conclusions(summaries: dict[tuple[str, str], Summary], vis_barten: NDArray[np.float64],
                vis: dict[str, tuple[float, float]]) -> list[str]:
    """The "what the table says" paragraphs, computed from the medians."""
    out: list[str] = []
    cell_mask = np.repeat(REPORT_BANDS[:, None], 2, axis=1)
    axial_mask = cell_mask & (np.arange(2)[None, :] == 0)
    hard_best: dict[str, tuple[int, int]] = {}
    for cond in ("phone-hard", "phone-standard"):
        found = summaries.get((cond, "white"))
        if found is None:
            continue
        s: Summary = found
        today = s.eta_corr[TODAY_CARRIER][TODAY]
        main = int(np.argmax(s.share))
        parts = [f"**{cond}, white screens (n={s.n}, capture scale {s.scale:.2f}).** Today's carrier (L2, slots 1 ≤ u+v ≤ 3, "
                 f"{100 * s.axial_share:.0f}% of its energy in the axial sectors) with today's prefilter earns η = {fmt(today)} "
                 f"per unit energy with today's pooled correlator (the real mark measured against its pattern: "
                 f"{fmt(s.eta_corr[MARK][TODAY])}). In its main band, {BAND_LABELS[main]} c/px, a carrier with a "
                 f"smooth spectrum would earn η sc4 = {_pair(s.eta[TODAY][main])} (axial / diagonal)."]
        for pf in SC_PREFILTERS:
            b, sec = _argbest(s.eta[pf], cell_mask)
            ba, _ = _argbest(s.eta[pf], axial_mask)
            if cond == "phone-hard":
                hard_best[pf] = (b, sec)
            parts.append(f"With {pf} the best cell (for a carrier with a smooth spectrum there) is {BAND_LABELS[b]} c/px (period ~{BAND_PERIODS[b]:.0f} px), {SECTORS[sec]}: "
                         f"η = {fmt(s.eta[pf][b, sec])} = {fmt(s.eta[pf][b, sec] / today, 2)}× today's carrier "
                         f"(probe coherence there {fmt(s.coherence[b], 2)}); the best axial cell is {BAND_LABELS[ba]} "
                         f"({fmt(s.eta[pf][ba, 0] / today, 2)}×).")
        if cond == "phone-standard" and hard_best:
            pf_h = max(hard_best, key=lambda p: float(summaries["phone-hard", "white"].eta[p][hard_best[p]]))
            b, sec = hard_best[pf_h]
            parts.append(f"The best cell at hard ({BAND_LABELS[b]} {SECTORS[sec]}, {pf_h}) gives η = {fmt(s.eta[pf_h][b, sec])} "
                         f"here, {fmt(s.eta[pf_h][b, sec] / today, 2)}× today's carrier on this level.")
        rng_mask = (BAND_EDGES[:-1] >= 1 / 64 - 1e-12) & (BAND_EDGES[1:] <= 1 / 8 + 1e-12)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = s.eta[TODAY][:, 1] / s.eta[TODAY][:, 0]
        finite = rng_mask & np.isfinite(ratios)
        if finite.any():
            parts.append(f"Diagonal over axial η (sc4, 1/64–1/8 c/px): median {fmt(float(np.median(ratios[finite])), 2)}×.")
        per_vis = {pf: s.eta[pf] / vis_barten[:, None] for pf in SC_PREFILTERS}
        pf_v = max(SC_PREFILTERS, key=lambda p: float(np.nanmax(np.where(cell_mask, per_vis[p], np.nan))))
        bv, sv = _argbest(per_vis[pf_v], cell_mask)
        today_vis = float(np.nansum(s.share * vis_barten))
        parts.append(f"Per unit of Barten visibility the best cell is {BAND_LABELS[bv]} c/px {SECTORS[sv]} with {pf_v}: "
                     f"{fmt(per_vis[pf_v][bv, sv] * today_vis / today, 2)}× today's SNR per visibility.")
        best_c, best_pf = max(((c, pf) for c in CARRIERS for pf in SC_PREFILTERS), key=lambda k: s.eta_corr[k[0]][k[1]])
        ratio = s.eta_corr[best_c][best_pf] / today
        others = [(c, p) for c, p in (("L2", "sc16"), ("L2 diag", "sc4"), ("L2 diag", "sc16"), ("L3", "sc4"), ("L3", "sc16"),
                                      ("L3 diag", "sc4"), ("L3 diag", "sc16")) if (c, p) != (best_c, best_pf)]
        parts.append(f"Of the DWT-DCT carriers with a pooled correlator, {best_c} with {best_pf} earns the most: "
                     f"{fmt(ratio, 2)}× today's SNR² per unit energy at {fmt(vis[best_c][1], 2)}× its Barten visibility per "
                     f"unit energy ({fmt(ratio / vis[best_c][1], 2)}× per visibility); "
                     + ", ".join(f"{c} {p} {fmt(s.eta_corr[c][p] / today, 2)}×" for c, p in others)
                     + f". A decoder that whitens per band and orientation would take today's carrier itself to "
                       f"{fmt(s.eta_white[TODAY_CARRIER][TODAY] / today, 2)}× (an upper bound).")
        out.append(" ".join(parts))
    for grp in ("dark_theme", "xray_viewer"):
        found = summaries.get(("phone-hard", grp))
        if found is None:
            continue
        s = found
        today = s.eta_corr[TODAY_CARRIER][TODAY]
        best = {pf: _argbest(s.eta[pf], cell_mask) for pf in SC_PREFILTERS}
        pf = max(SC_PREFILTERS, key=lambda p: float(s.eta[p][best[p]]))
        b, sec = best[pf]
        best_c, best_pf = max(((c, p) for c in CARRIERS for p in SC_PREFILTERS), key=lambda k: s.eta_corr[k[0]][k[1]])
        out.append(f"**phone-hard, {grp} (n={s.n}).** Today's carrier η = {fmt(today)}; best cell {BAND_LABELS[b]} c/px "
                   f"{SECTORS[sec]} with {pf}, η = {fmt(s.eta[pf][b, sec])} = {fmt(s.eta[pf][b, sec] / today, 2)}×; best carrier "
                   f"{best_c} with {best_pf}, {fmt(s.eta_corr[best_c][best_pf] / today, 2)}× (L2 diag sc4: "
                   f"{fmt(s.eta_corr['L2 diag'][TODAY] / today, 2)}×).")
    return out


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _parse_size(text: str) -> tuple[int, int]:
    w, h = (int(v) for v in text.lower().split("x"))
    return w, h


def plan_samples(conditions: Sequence[str], n_white: int, n_other: int,
                 other_on: Sequence[str] = ("phone-standard", "phone-hard")) -> list[tuple[str, str, int]]:
    """(condition, group, index) of every sample: white screens everywhere, dark/X-ray on the ``other_on`` conditions."""
    plan: list[tuple[str, str, int]] = []
    for cond in conditions:
        groups = list(GROUPS) if cond in other_on else ["white"]
        for grp in groups:
            plan += [(cond, grp, i) for i in range(n_white if grp == "white" else n_other)]
    return plan


def main(argv: list[str] | None = None) -> int:
    """Run the measurement, print the tables and write them to ``--out``."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 white-screen samples per condition, 1 dark_theme and 1 xray_viewer on phone-hard (2-3 min)")
    parser.add_argument("--samples", type=int, default=None, help=f"white-screen samples per condition (default {DEFAULT_SAMPLES}; --quick 2); "
                        "dark_theme and xray_viewer get half as many, on the phone levels only")
    parser.add_argument("--conditions", nargs="+", default=list(CONDITIONS), choices=list(CONDITIONS), help="leak conditions")
    parser.add_argument("--size", type=_parse_size, default=None,
                        help="one screen size WxH for all samples (default: cycle 1920x1080, 1366x768, 2560x1440)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "band_snr.md",
                        help="markdown output (default benchmarks/results/band_snr.md)")
    args = parser.parse_args(argv)
    n_white = args.samples if args.samples is not None else (2 if args.quick else DEFAULT_SAMPLES)
    n_other = max(1, n_white // 2)
    t0 = time.perf_counter()
    plan = plan_samples(args.conditions, n_white, n_other,
                        ("phone-hard",) if args.quick and args.samples is None else ("phone-standard", "phone-hard"))
    results: dict[tuple[str, str], list[SampleResult]] = {}
    for k, (cond, grp, i) in enumerate(plan, 1):
        t1 = time.perf_counter()
        r = measure_sample(cond, grp, i, size=args.size)
        results.setdefault((cond, grp), []).append(r)
        _log(f"[{k}/{len(plan)}] {cond} {grp} #{i} {r.kind} {r.size[0]}x{r.size[1]} scale {r.capture_scale:.2f}: "
             f"soft-bit SNR {fmt(r.decoder_snr, 2)}, fold {fmt(r.bit_snr, 2)}, pooled {fmt(r.bit_snr_pooled, 2)}, "
             f"predicted {fmt(r.predicted_snr, 2)}, total {fmt(r.bit_snr_total, 2)}, spread {fmt(r.signal_spread, 2)} "
             f"({time.perf_counter() - t1:.1f} s)")
    summaries = {key: summarize(rs) for key, rs in results.items()}
    vis_ms, vis_barten = band_visibility(mannos_sakrison_csf), band_visibility(barten_csf)
    shares = carrier_band_shares()
    vis = {c: (float(np.sum(sh * vis_ms) / np.sum(shares[TODAY_CARRIER] * vis_ms)),
               float(np.sum(sh * vis_barten) / np.sum(shares[TODAY_CARRIER] * vis_barten))) for c, sh in shares.items()}
    elapsed = time.perf_counter() - t0

    shown = sys.argv[1:] if argv is None else argv
    lines = ["# Channel SNR per frequency band, at the true geometry", "",
             f"Command: `python -m benchmarks.band_snr{' ' + ' '.join(shown) if shown else ''}`; "
             f"{datetime.now().strftime('%Y-%m-%d')}; {len(plan)} samples, {elapsed:.0f} s. Method and caveats: the module docstring.", "",
             "Units. Frequencies in cycles per *screen* pixel. **G**: coherent transfer gain of the embedded luma signal "
             "(1 = all of it arrives; 'channel' = no prefilter; sc4 / sc16 = after `suppress_content` at background sigma 4 / 16 px). "
             "**N**: noise PSD seen by the weighted correlator (level² per bin; white noise of 1 level RMS = 1). "
             f"**η** = {TILE_AREA}·G²/N: the SNR² that mark power of 1 level² (1 level RMS) placed there earns per 256×256 px "
             f"of screen area (today's mark: 2.25 level²; soft-bit SNR² ≈ 2.25 × tiles × η / {CHANNEL_BITS} channel bits). "
             "**a / d**: axial sector (within 22.5° of the fx or fy axis: horizontal and vertical structure) / diagonal sector. "
             "**CSF²**: visibility cost per unit energy, (CSF/peak)² at 38 ppd (Mannos-Sakrison 1974; Barten 2004 at 200 cd/m², "
             "40° field). **Coherence**: share of the arriving difference coherent with the probe (no prefilter; 1 = linear). "
             "Medians over samples; G, N and η from the octave-flat probe (1.5 levels RMS) except 'G channel (mark)', "
             "today's real mark.", ""]
    for cond in args.conditions:
        s = summaries.get((cond, "white"))
        if s is None:
            continue
        lines += [f"## {cond}: white EMR screens (n={s.n}, capture scale {s.scale:.2f} leak px per screen px)", ""]
        lines += band_table(s, vis_ms, vis_barten) + [""]
    lines += ["## Content noise against orientation", "",
              f"Noise PSD (level² per bin) over {_frac(ANGLE_RANGE[0])}–{_frac(ANGLE_RANGE[1])} c/px against the angle from the "
              "nearest frequency axis (0° = horizontal or vertical structure).", ""]
    lines += angle_table(summaries, args.conditions) + [""]
    photo_conds = [c for c in args.conditions if CONDITIONS[c].photo]
    if photo_conds:
        lines += ["## η per band by screen kind (phone levels; axial / diagonal)", ""]
        lines += kinds_table(summaries, photo_conds, list(GROUPS)) + [""]
    lines += ["## Carriers (white screens)", "",
              "η per unit energy of concrete carriers: DWT-DCT layouts like today's (8x8 DCT blocks of the level-L sym4 "
              "approximation band; today's slots 1 ≤ u+v ≤ 3, or diagonal slots u,v ≥ 1, u+v ≤ 4) each basis tiled "
              "with the carrier's period; evaluated with the probe's gain per cell and the noise bin by bin under a pooled "
              "correlator (as today's decoder, no whitening); 'whitened' = a decoder that weights each band and orientation "
              "by its SNR (from cell means, blind to the tile lattice's lines: an upper bound). CSF² columns: visibility per unit energy relative to "
              "today's carrier. '× today' compares with today's carrier and prefilter (L2, sc4) at equal energy; "
              "'per Barten visibility' at equal visibility.", ""]
    lines += carrier_table(summaries, args.conditions, "white", vis) + [""]
    lines += ["## Check of the method: today's decoder at the true geometry", "",
              "'extract': `watermark.extract` on the warped marked leak, mean/std of the true-bit-signed soft values "
              "(as benchmarks/hard_ablation.py; the std includes the spread of the signal over bits). 'Signal / noise': "
              "today's prefilter read at the true tile phase, mean signed soft value of the marked leak over the std of the "
              "reference leak's (noise alone), with today's fold (each tile position divided by its own total weight) or "
              "pooled (the weighted sum over tiles, one normalisation). 'Predicted': the model for the pooled correlator: "
              "the marked-minus-reference leak projected on today's ideal pattern, over the sc4 noise PSD weighted by a "
              f"channel bit's expected spectrum, {CHANNEL_BITS} channel bits. Where 'today's fold' falls below 'pooled', "
              "tile positions covered by text in every tile (little total weight) are amplified by the per-position "
              "normalisation. The last two columns show what the noise-only figures leave out: the mean/std of the "
              "marked leak's pooled soft values at the true phase (noise, the spread of the signal over bits and any "
              "part of the channel's response not linear in the mark, together), and that spread alone (std/mean of "
              "the marked-minus-reference soft values; on png it is the masks' and the prefilter's doing, so a much "
              "larger value on a photo level would flag a nonlinear channel).", ""]
    lines += decoder_table(summaries) + [""]
    lines += ["## What the table says", ""]
    for para in conclusions(summaries, vis_barten, vis):
        lines += [para, ""]
    text = "\n".join(lines)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")
    _log(f"wrote {args.out} ({elapsed:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Visibility benchmark: how visible the mark is, measured perceptually.

Run: ``python -m benchmarks.visibility`` (about 5 minutes on two cores);
``--quick`` for a short run (one seed, three screen kinds, about 1-2 minutes);
``--markers NAME...`` to measure only some markers (``--list`` names them).

PSNR is not visibility: it weighs every frequency alike, while the eye is
most sensitive at a few cycles per degree, and on the white panels of an EMR
screen a mark of 1-2 grey levels is near threshold. So each marker (a named
callable ``image -> marked image``) is measured, per image kind, with

* NVIDIA FLIP (``flip-evaluator``, LDR, sRGB inputs) at 38 pixels per degree
  (a 24-inch 1080p monitor seen from 60 cm) and at 67 (FLIP's default: the
  same monitor from about 1.05 m, or a 27-inch 4K one from about 70 cm):
  the mean of the per-pixel error map and its 99th percentile;
* luma PSNR and SSIM on luma (scikit-image ``structural_similarity``,
  ``data_range=255``, its default 7x7 uniform window); luma is BT.601
  (``0.299 R + 0.587 G + 0.114 B``), the weights ``watermark.embed`` uses;

on white EMR screens (five layouts), a dark-theme screen, an X-ray viewer
(1920x1080, all from :mod:`synthetic`) and the natural photographs of
:func:`synthetic.natural_images`. Each row is the median over its images
(seeds of a screen kind, or the photographs). A 512x512 crop of the whitest
area of ``summary_dashboard`` (seed 0), marked by each marker, is written at
1:1 beside a contrast-stretched difference (``128 + 32 * (marked -
original)``) and FLIP's 38 ppd error map, to be looked at: a metric is a
guide, the eye decides.

Adding a marker (for example a redesigned carrier) is one line in
:data:`MARKERS`; the first marker there, ``embed-1.0`` (today's default),
is the baseline that the ``x base`` column divides by. FLIP is optional (the
``visibility`` extra: ``pip install -e .[visibility]``); without it the
program says so and still measures PSNR and SSIM.

FLIP runs single-threaded unless ``--threads`` says otherwise (on a shared
two-core machine one OpenMP thread was faster than two).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import os
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType

import numpy as np
from numpy.typing import NDArray
from PIL import Image

import watermark
from synthetic import SCREEN_KINDS, natural_images, render_screen

RGBImage = NDArray[np.uint8]
"""An ``HxWx3`` ``uint8`` RGB image."""

RESULTS = Path(__file__).resolve().parent / "results"
PPDS: tuple[float, ...] = (38.0, 67.0)
"""Pixels per degree at which FLIP is evaluated."""
PERCENTILE = 99.0
SCREEN_SIZE = (1920, 1080)
WHITE_KINDS: tuple[str, ...] = ("summary_dashboard", "medications", "notes", "labs_chart", "flowsheet")
OTHER_KINDS: tuple[str, ...] = ("dark_theme", "xray_viewer")
NATURAL = "natural"
WHITE_ALL = "white (all 5 kinds)"
CROP_KIND = "summary_dashboard"
CROP_SIZE = 512
DIFF_GAIN = 32.0
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])

KEY = watermark.Key(hashlib.sha256(b"leaktrace visibility benchmark key").digest())
PAYLOAD = watermark.Payload(viewer_id=4821, timestamp=datetime(2024, 3, 4, 9, 40, tzinfo=timezone.utc))


# ------------------------------------------------------------------ markers
@dataclass(frozen=True)
class Marker:
    """A named way to mark an image: ``fn(image) -> marked image`` (same shape, uint8 RGB)."""

    name: str
    fn: Callable[[RGBImage], RGBImage]
    note: str = ""
    reference: Callable[[RGBImage], RGBImage] | None = None
    """What the viewer would see without the mark (default: the image itself): a layer's uniform tone change is not the mark."""


@dataclass(frozen=True)
class _Embed:
    """``watermark.embed`` at a fixed strength, with this benchmark's key and payload."""

    strength: float

    def __call__(self, image: RGBImage) -> RGBImage:
        marked: RGBImage = watermark.embed(image, PAYLOAD, KEY, strength=self.strength)
        return marked


def _identity(image: RGBImage) -> RGBImage:
    return image.copy()


def _composite(image: RGBImage, layer: NDArray[np.uint8]) -> RGBImage:
    """A browser's source-over of an RGBA layer on the image, in 8 bits."""
    alpha = layer[:, :, 3:].astype(np.float64) / 255.0
    return np.rint(alpha * layer[:, :, :3] + (1.0 - alpha) * image).astype(np.uint8)


def _overlay_layer(image: RGBImage) -> NDArray[np.uint8]:
    return watermark.overlay(PAYLOAD, KEY, size=(image.shape[1], image.shape[0]))


def _overlay(image: RGBImage) -> RGBImage:
    return _composite(image, _overlay_layer(image))


def _overlay_tone(image: RGBImage) -> RGBImage:
    """The overlay's layer with the pattern left out (every pixel at the middle level): its tone change alone."""
    half, greys = watermark.overlay_levels()
    flat = _overlay_layer(image)
    flat[:, :, :3] = greys[half]
    return _composite(image, flat)


DARKEN_HEADROOM = 3
"""The first overlay's headroom at strength 1 (levels): black with alpha ``3 - pattern``, darken only."""


def _darken_layer(image: RGBImage, pattern: bool = True) -> NDArray[np.uint8]:
    h, w = image.shape[:2]
    tile = np.rint(watermark.pattern_tile(PAYLOAD, KEY)) if pattern else np.zeros((watermark.decoding.TILE,) * 2)
    alpha = np.tile(np.clip(DARKEN_HEADROOM - tile, 0, 255), (-(-h // tile.shape[0]), -(-w // tile.shape[1])))[:h, :w]
    layer = np.zeros((h, w, 4), np.uint8)
    layer[:, :, 3] = alpha
    return layer


def _darken_overlay(image: RGBImage) -> RGBImage:
    return _composite(image, _darken_layer(image))


def _darken_tone(image: RGBImage) -> RGBImage:
    return _composite(image, _darken_layer(image, pattern=False))


MARKERS: list[Marker] = [
    Marker("embed-1.0", _Embed(1.0), "watermark.embed, strength 1.0 (today's default)"),
    Marker("embed-0.7", _Embed(0.7), "watermark.embed, strength 0.7"),
    Marker("embed-1.4", _Embed(1.4), "watermark.embed, strength 1.4"),
]
"""The markers measured by default; the first is the baseline."""

REFERENCE_MARKERS: list[Marker] = [
    Marker("identity", _identity, "no mark (sanity check: FLIP 0, PSNR inf)"),
    Marker("overlay-1.0", _overlay, "watermark.overlay composited over the screen (source-over, 8 bits), against the page "
           "under the same layer without the pattern", reference=_overlay_tone),
    Marker("overlay-darken-1.0", _darken_overlay, "the first, darken-only overlay (black, alpha 3 - pattern), against the "
           "page under its flat layer", reference=_darken_tone),
]
"""Markers that can be selected by name but are not run by default."""


def available_markers() -> dict[str, Marker]:
    """Every marker selectable with ``--markers``, by name."""
    return {m.name: m for m in [*MARKERS, *REFERENCE_MARKERS]}


# ------------------------------------------------------------------ metrics
def luma(image: RGBImage) -> NDArray[np.float64]:
    """BT.601 luma of an RGB image, float64 in [0, 255]."""
    return np.asarray(image, dtype=np.float64) @ LUMA_WEIGHTS


def psnr_luma(reference: RGBImage, test: RGBImage) -> float:
    """Luma PSNR in dB (``inf`` for identical luma)."""
    mse = float(np.mean((luma(reference) - luma(test)) ** 2))
    return float("inf") if mse == 0.0 else 10.0 * float(np.log10(255.0 ** 2 / mse))


def ssim_luma(reference: RGBImage, test: RGBImage) -> float:
    """SSIM of the luma planes (scikit-image, ``data_range=255``)."""
    from skimage.metrics import structural_similarity

    return float(structural_similarity(luma(reference), luma(test), data_range=255.0))


def load_flip() -> ModuleType | None:
    """The ``flip_evaluator`` module, or None when it is not installed."""
    try:
        import flip_evaluator
    except ImportError:
        return None
    return flip_evaluator


def flip_map(flip: ModuleType, reference: RGBImage, test: RGBImage, ppd: float) -> NDArray[np.float32]:
    """FLIP's per-pixel error map (``HxW``, in [0, 1]) of an LDR sRGB pair at ``ppd``."""
    if not ppd > 0:
        raise ValueError(f"ppd must be positive; got {ppd!r}")  # FLIP itself would sys.exit()
    ref = np.ascontiguousarray(reference, dtype=np.float32) / np.float32(255.0)
    tst = np.ascontiguousarray(test, dtype=np.float32) / np.float32(255.0)
    error, _mean, _params = flip.evaluate(ref, tst, "LDR", inputsRGB=True, applyMagma=False,
                                          computeMeanError=False, parameters={"ppd": float(ppd)})
    return np.asarray(error, dtype=np.float32).reshape(reference.shape[:2])


@dataclass
class Measurement:
    """The metrics of one marked image against its original."""

    kind: str
    label: str
    marker: str
    psnr: float
    ssim: float
    flip_mean: dict[float, float] = field(default_factory=dict)
    flip_high: dict[float, float] = field(default_factory=dict)


def measure(original: RGBImage, marked: RGBImage, *, kind: str, label: str, marker: str,
            flip: ModuleType | None, ppds: Sequence[float] = PPDS,
            keep_map: float | None = None) -> tuple[Measurement, NDArray[np.float32] | None]:
    """Measure one pair; also return the FLIP map at ``keep_map`` ppd when asked (and measured)."""
    if marked.shape != original.shape or marked.dtype != np.uint8:
        raise ValueError(f"marker {marker!r} returned {marked.dtype} {marked.shape}, "
                         f"expected uint8 {original.shape}")
    result = Measurement(kind, label, marker, psnr_luma(original, marked), ssim_luma(original, marked))
    kept: NDArray[np.float32] | None = None
    if flip is not None:
        for ppd in ppds:
            error = flip_map(flip, original, marked, ppd)
            result.flip_mean[ppd] = float(error.mean(dtype=np.float64))
            result.flip_high[ppd] = float(np.percentile(error, PERCENTILE))
            if keep_map == ppd:
                kept = error
    return result, kept


# ------------------------------------------------------------------ images
@dataclass(frozen=True)
class Sample:
    """One test image: ``kind`` is its table row, ``label`` names the image itself."""

    kind: str
    label: str
    image: RGBImage


def samples(kinds: Sequence[str], seeds: Sequence[int], *, naturals: bool) -> Iterator[Sample]:
    """Screens of ``kinds`` at 1920x1080 for each seed, then the natural photographs."""
    for kind in kinds:
        if kind not in SCREEN_KINDS:
            raise ValueError(f"unknown screen kind {kind!r}; known: {', '.join(SCREEN_KINDS)}")
        for seed in seeds:
            yield Sample(kind, f"{kind}#{seed}", render_screen(kind, size=SCREEN_SIZE, seed=seed))
    if naturals:
        for name, image in natural_images():
            yield Sample(NATURAL, f"{NATURAL}:{name}", image)


def whitest_window(image: RGBImage, size: int = CROP_SIZE, step: int = 16) -> tuple[int, int]:
    """Top-left ``(x, y)`` of the ``size`` square with the most near-white (all >= 250) pixels."""
    white = (image.min(axis=2) >= 250).astype(np.int64)
    integral = np.pad(white.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    height, width = white.shape
    best, best_xy = -1, (0, 0)
    for y in range(0, height - size + 1, step):
        for x in range(0, width - size + 1, step):
            count = int(integral[y + size, x + size] - integral[y, x + size]
                        - integral[y + size, x] + integral[y, x])
            if count > best:
                best, best_xy = count, (x, y)
    return best_xy


def stretched_difference(original: RGBImage, marked: RGBImage, gain: float = DIFF_GAIN) -> RGBImage:
    """``128 + gain * (marked - original)``, per channel, clipped to uint8."""
    diff = marked.astype(np.float64) - original.astype(np.float64)
    return np.clip(np.rint(128.0 + gain * diff), 0, 255).astype(np.uint8)


def _file_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)


def write_crops(original: RGBImage, marked: dict[str, RGBImage], flip38: dict[str, NDArray[np.float32]],
                directory: Path) -> tuple[tuple[int, int], list[Path]]:
    """Write the 1:1 crops of the whitest window; return its top-left corner and the files."""
    x, y = whitest_window(original)
    window = (slice(y, y + CROP_SIZE), slice(x, x + CROP_SIZE))
    written = [directory / "visibility_crop_original.png"]
    Image.fromarray(original[window]).save(written[0])
    for name, image in marked.items():
        stem = _file_name(name)
        for path, crop in ((directory / f"visibility_crop_{stem}.png", image[window]),
                           (directory / f"visibility_diff_{stem}.png",
                            stretched_difference(original[window], image[window]))):
            Image.fromarray(crop).save(path)
            written.append(path)
        if name in flip38:  # error 0 -> black, 0.25 or more -> white
            grey = np.clip(np.rint(flip38[name][window] * (255.0 / 0.25)), 0, 255).astype(np.uint8)
            path = directory / f"visibility_flip38_{stem}.png"
            Image.fromarray(grey).save(path)
            written.append(path)
    return (x, y), written


# ------------------------------------------------------------------ tables
@dataclass(frozen=True)
class Row:
    """Medians over the images of one (kind, marker)."""

    kind: str
    marker: str
    n: int
    psnr: float
    ssim: float
    flip_mean: dict[float, float]
    flip_high: dict[float, float]


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def summarize(results: Sequence[Measurement], kind_order: Sequence[str],
              marker_order: Sequence[str]) -> list[Row]:
    """One row per (kind, marker) in the given orders, plus ``WHITE_ALL`` after the white kinds."""
    groups: dict[tuple[str, str], list[Measurement]] = {}
    for m in results:
        groups.setdefault((m.kind, m.marker), []).append(m)
        if m.kind in WHITE_KINDS:
            groups.setdefault((WHITE_ALL, m.marker), []).append(m)
    present_white = [k for k in kind_order if k in WHITE_KINDS]
    kinds = list(kind_order)
    if len(present_white) > 1:
        kinds.insert(kinds.index(present_white[-1]) + 1, WHITE_ALL)
    rows = []
    for kind in kinds:
        for marker in marker_order:
            group = groups.get((kind, marker), [])
            if not group:
                continue
            ppds = sorted(set.intersection(*(set(m.flip_mean) for m in group)))
            rows.append(Row(kind, marker, len(group), _median([m.psnr for m in group]),
                            _median([m.ssim for m in group]),
                            {p: _median([m.flip_mean[p] for m in group]) for p in ppds},
                            {p: _median([m.flip_high[p] for m in group]) for p in ppds}))
    return rows


def _fmt(value: float, digits: int) -> str:
    if np.isnan(value):
        return "n/a"
    return "inf" if np.isinf(value) else f"{value:.{digits}f}"


def _ppd_label(ppd: float) -> str:
    return f"{ppd:g}"


def summary_table(rows: Sequence[Row], ppds: Sequence[float], baseline: str | None) -> str:
    """The markdown table of medians; ``x base`` is mean FLIP at the first ppd over the baseline's."""
    head = ["kind", "marker", "n"]
    for ppd in ppds:
        head += [f"FLIP {_ppd_label(ppd)} mean", f"FLIP {_ppd_label(ppd)} p{PERCENTILE:g}"]
    show_ratio = bool(ppds) and baseline is not None
    if show_ratio:
        head.append(f"x base ({_ppd_label(ppds[0])})")
    head += ["PSNR-Y dB", "SSIM-Y"]
    base = {r.kind: r.flip_mean.get(ppds[0], float("nan")) for r in rows if r.marker == baseline} \
        if show_ratio else {}
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 2 + ["--:"] * (len(head) - 2)) + "|"]
    for r in rows:
        cells = [r.kind, r.marker, str(r.n)]
        for ppd in ppds:
            cells += [_fmt(r.flip_mean.get(ppd, float("nan")), 4), _fmt(r.flip_high.get(ppd, float("nan")), 4)]
        if show_ratio:
            ref = base.get(r.kind, float("nan"))
            cells.append(_fmt(r.flip_mean.get(ppds[0], float("nan")) / ref if ref > 0 else float("nan"), 2))
        cells += [_fmt(r.psnr, 2), _fmt(r.ssim, 5)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def detail_table(results: Sequence[Measurement], ppds: Sequence[float]) -> str:
    """Every image and marker, unaggregated."""
    head = ["image", "marker"] + [f"FLIP {_ppd_label(p)} mean" for p in ppds] \
        + [f"FLIP {_ppd_label(p)} p{PERCENTILE:g}" for p in ppds] + ["PSNR-Y dB", "SSIM-Y"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 2 + ["--:"] * (len(head) - 2)) + "|"]
    for m in results:
        cells = [m.label, m.marker] + [_fmt(m.flip_mean.get(p, float("nan")), 4) for p in ppds] \
            + [_fmt(m.flip_high.get(p, float("nan")), 4) for p in ppds] + [_fmt(m.psnr, 2), _fmt(m.ssim, 5)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ------------------------------------------------------------------ run
@dataclass
class Run:
    """Everything one run measured."""

    results: list[Measurement]
    rows: list[Row]
    ppds: tuple[float, ...]
    crop_corner: tuple[int, int] | None
    files: list[Path]
    seconds: float


def run(markers: Sequence[Marker], kinds: Sequence[str], seeds: Sequence[int], *, naturals: bool,
        flip: ModuleType | None, crops_to: Path | None = None, ppds: Sequence[float] = PPDS,
        progress: Callable[[str], None] | None = None) -> Run:
    """Measure every marker on every sample; write the crops when ``crops_to`` is given."""
    start = time.perf_counter()
    ppds = tuple(ppds) if flip is not None else ()
    keep = 38.0 if 38.0 in ppds else None
    results: list[Measurement] = []
    crop_marked: dict[str, RGBImage] = {}
    crop_maps: dict[str, NDArray[np.float32]] = {}
    crop_original: RGBImage | None = None
    crop_label = f"{CROP_KIND}#{seeds[0]}" if seeds else None
    for sample in samples(kinds, seeds, naturals=naturals):
        is_crop = crops_to is not None and sample.label == crop_label
        for marker in markers:
            t0 = time.perf_counter()
            marked = np.asarray(marker.fn(sample.image))
            reference = sample.image if marker.reference is None else marker.reference(sample.image)
            m, error = measure(reference, marked, kind=sample.kind, label=sample.label,
                               marker=marker.name, flip=flip, ppds=ppds,
                               keep_map=keep if is_crop else None)
            results.append(m)
            if is_crop:
                crop_original = sample.image
                crop_marked[marker.name] = marked
                if error is not None:
                    crop_maps[marker.name] = error
            if progress is not None:
                flips = " ".join(f"FLIP{_ppd_label(p)}={m.flip_mean[p]:.4f}" for p in ppds)
                progress(f"{sample.label:>24} {marker.name:>10}  PSNR-Y={m.psnr:6.2f}  "
                         f"SSIM-Y={m.ssim:.5f}  {flips}  ({time.perf_counter() - t0:.1f} s)")
    corner: tuple[int, int] | None = None
    files: list[Path] = []
    if crops_to is not None and crop_original is not None:
        crops_to.mkdir(parents=True, exist_ok=True)
        corner, files = write_crops(crop_original, crop_marked, crop_maps, crops_to)
    kind_order = [k for k in kinds] + ([NATURAL] if naturals else [])
    rows = summarize(results, kind_order, [m.name for m in markers])
    return Run(results, rows, ppds, corner, files, time.perf_counter() - start)


def report(r: Run, markers: Sequence[Marker], seeds: Sequence[int], flip_note: str, command: str) -> str:
    """The markdown report of a run (the summary table first)."""
    baseline = MARKERS[0].name if any(m.name == MARKERS[0].name for m in markers) else None
    lines = [
        "# Visibility of the mark",
        "",
        f"`{command}` ({r.seconds:.0f} s). Medians over the images of each kind: screens "
        f"{SCREEN_SIZE[0]}x{SCREEN_SIZE[1]}, seeds {', '.join(map(str, seeds))}; natural = "
        "synthetic.natural_images(). FLIP: mean and 99th percentile of the error map "
        "(LDR, sRGB); 38 ppd = 24-inch 1080p monitor at 60 cm, 67 ppd = FLIP's default. "
        "PSNR and SSIM on BT.601 luma. "
        + (f"`x base`: mean FLIP at {_ppd_label(r.ppds[0])} ppd over {baseline}'s on the same kind. "
           if baseline and r.ppds else "")
        + flip_note,
        "",
        summary_table(r.rows, r.ppds, baseline),
        "",
        "Markers: " + "; ".join(f"`{m.name}`: {m.note or m.name}" for m in markers) + ".",
    ]
    check = [m for m in r.results if m.label == f"{CROP_KIND}#0" and m.marker == MARKERS[0].name
             and 38.0 in m.flip_mean]
    if check:
        lines += ["", f"Check: mean FLIP at 38 ppd of {MARKERS[0].name} on {CROP_KIND} seed 0 "
                      f"(white, 1080p) = {check[0].flip_mean[38.0]:.4f} (reported earlier: about 0.037)."]
    if r.crop_corner is not None:
        x, y = r.crop_corner
        lines += ["", f"Crops (1:1, {CROP_SIZE}x{CROP_SIZE} at x={x}, y={y} of {CROP_KIND} seed "
                      f"{seeds[0]}, its whitest window): "
                  + ", ".join(f"`{p.name}`" for p in r.files)
                  + f". `diff`: 128 + {DIFF_GAIN:g} x (marked - original) per channel; `flip38`: FLIP's "
                    "error map at 38 ppd, 0 black to 0.25 or more white."]
    lines += ["", "## Every image", "", detail_table(r.results, r.ppds), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.visibility",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="one seed; summary_dashboard, dark_theme, xray_viewer and the photographs")
    parser.add_argument("--markers", nargs="+", metavar="NAME",
                        help=f"markers to measure (default: {' '.join(m.name for m in MARKERS)})")
    parser.add_argument("--list", action="store_true", help="list the markers and exit")
    parser.add_argument("--seeds", type=int, metavar="N", help="screen seeds 0..N-1 (default 2; 1 with --quick)")
    parser.add_argument("--no-flip", action="store_true", help="skip FLIP (PSNR and SSIM only)")
    parser.add_argument("--threads", type=int, default=1, help="OpenMP threads for FLIP (default 1)")
    parser.add_argument("--out", type=Path,
                        help="markdown file (default benchmarks/results/visibility.md, "
                             "visibility_quick.md with --quick); crops go beside it")
    parser.add_argument("--quiet", action="store_true", help="no per-image progress on stderr")
    args = parser.parse_args(argv)

    known = available_markers()
    if args.list:
        for m in known.values():
            print(f"{m.name:>12}  {m.note}{'' if m in MARKERS else '  (not run by default)'}")
        return 0
    if args.markers:
        unknown = [n for n in args.markers if n not in known]
        if unknown:
            parser.error(f"unknown marker(s) {', '.join(unknown)}; known: {', '.join(known)}")
        markers = [known[n] for n in dict.fromkeys(args.markers)]
    else:
        markers = list(MARKERS)
    if args.seeds is not None and args.seeds < 1:
        parser.error("--seeds must be at least 1")
    if args.threads < 1:
        parser.error("--threads must be at least 1")
    n_seeds = args.seeds if args.seeds is not None else (1 if args.quick else 2)
    seeds = list(range(n_seeds))
    kinds = [CROP_KIND, *OTHER_KINDS] if args.quick else [*WHITE_KINDS, *OTHER_KINDS]
    out: Path = args.out if args.out is not None else RESULTS / (
        "visibility_quick.md" if args.quick else "visibility.md")

    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))  # read when FLIP's OpenMP loads
    flip = None if args.no_flip else load_flip()
    if flip is not None:
        flip_note = f"flip-evaluator {importlib.metadata.version('flip-evaluator')}."
    elif args.no_flip:
        flip_note = "FLIP skipped (--no-flip)."
    else:
        flip_note = ("FLIP not measured: flip-evaluator is not installed "
                     "(pip install -e '.[visibility]').")
        print(f"note: {flip_note} Measuring PSNR and SSIM only.", file=sys.stderr)

    progress = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    result = run(markers, kinds, seeds, naturals=True, flip=flip, crops_to=out.parent, progress=progress)
    command = " ".join(["python -m benchmarks.visibility", *(sys.argv[1:] if argv is None else argv)])
    text = report(result, markers, seeds, flip_note, command)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    baseline = MARKERS[0].name if any(m.name == MARKERS[0].name for m in markers) else None
    print(summary_table(result.rows, result.ppds, baseline))
    if flip is None:
        print(f"\n{flip_note}")
    for line in text.splitlines():
        if line.startswith("Check:"):
            print("\n" + line)
    print(f"\n{len(result.results)} measurements in {result.seconds:.0f} s; wrote {out} and "
          f"{len(result.files)} PNGs in {out.parent}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

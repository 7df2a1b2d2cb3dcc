"""Forensic HTML report: one self-contained file per tracing run.

The report is meant to be handed to hospital management or the police. It holds,
for every traced image, the verdict in plain words, the input image with the
located screen outlined, the screen as decoded, a per-bit confidence plot, the
false-attribution bound explained in one sentence, and every number needed to
reproduce the result (file hash, key fingerprint, software version, decode
parameters, geometric hypotheses, timings), plus the access-ledger join when
one is given. Images are inlined as ``data:`` URIs and the CSS is inline, so
the file opens anywhere, offline, without JavaScript, and prints one image per
page.

The markup lives in Jinja2 templates (``tracer/templates/``, autoescape on):
this module computes what they show (previews, plots, formatted numbers) and
hands them typed objects, never HTML strings.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import math
import os
import platform
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import cv2
import jinja2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

import watermark
from ledger import LedgerLookup
from watermark import ImageError, OptionError, OptionTypeError

from ._attribute import Attribution
from ._result import Mark, TraceResult

__all__ = ["ReportEntry", "probability_sentence", "render_report", "write_report"]

MAX_PREVIEW_SIDE = 1200
"""Preview images are downscaled so that neither side exceeds this many pixels."""

JPEG_QUALITY = 85
"""JPEG quality of the inlined previews (full-resolution evidence stays in the input file)."""

_OUTLINE_RGB = (255, 0, 170)  # magenta: visible on white record screens and on photos alike
_REGION_RGB = ((0, 150, 220), (230, 120, 0), (0, 160, 90), (150, 60, 200))  # one per mark of a composite
_SHADOW_RGB = (20, 20, 20)
_BIT0_COLOR = "#2b6cb0"
_BIT1_COLOR = "#dd6b20"
_SCALES = ((1e18, "quintillion"), (1e15, "quadrillion"), (1e12, "trillion"), (1e9, "billion"), (1e6, "million"))
_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
_CORNERS = ("TL", "TR", "BR", "BL")


@dataclass(frozen=True)
class ReportEntry:
    """One traced image, as it goes into the report.

    Parameters
    ----------
    result : TraceResult
        What :func:`tracer.trace` returned for the image.
    image : ndarray, shape (H, W, 3), dtype uint8
        The input image as loaded (RGB), in the pixel coordinates of
        ``result.quad``.
    ledger : ledger.LedgerLookup or None
        The access-ledger join of the recovered viewer and minute
        (:meth:`ledger.Ledger.lookup`): the matching views (who, record,
        workstation, client, time), the viewer's other views around it and
        other accounts at the same workstations.

    Raises
    ------
    watermark.OptionTypeError
        If ``result`` is not a ``TraceResult`` or ``ledger`` is not a
        ``LedgerLookup`` (a ``TypeError``).
    watermark.ImageError
        If ``image`` is not an HxWx3 uint8 array.
    """

    result: TraceResult
    image: NDArray[np.uint8]
    ledger: LedgerLookup | None = None
    attribution: Attribution | None = None
    """Ledger-assisted attribution of the same image (:func:`tracer.attribute`), when it ran."""

    def __post_init__(self) -> None:
        if not isinstance(self.result, TraceResult):
            raise OptionTypeError(
                f"result must be a tracer.TraceResult, got {type(self.result).__name__}", name="result", value=self.result
            )
        image = self.image
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            got = (
                f"shape {image.shape} and dtype {image.dtype}"
                if isinstance(image, np.ndarray)
                else type(image).__name__
            )
            raise ImageError(
                f"image must be an HxWx3 uint8 RGB array, got {got}",
                shape=image.shape if isinstance(image, np.ndarray) else None,
                dtype=str(image.dtype) if isinstance(image, np.ndarray) else None,
            )
        if image.shape[0] < 1 or image.shape[1] < 1:
            raise ImageError(f"image must not be empty, got shape {image.shape}", shape=image.shape, dtype=str(image.dtype))
        if self.attribution is not None and not isinstance(self.attribution, Attribution):
            raise OptionTypeError(
                f"attribution must be a tracer.Attribution or None, got {type(self.attribution).__name__}",
                name="attribution", value=self.attribution,
            )
        if self.ledger is not None and not isinstance(self.ledger, LedgerLookup):
            raise OptionTypeError(
                f"ledger must be a ledger.LedgerLookup or None, got {type(self.ledger).__name__}",
                name="ledger", value=self.ledger,
            )


# ----------------------------------------------------------------------------- text helpers


def _floor_sig(x: float, digits: int) -> float:
    """Round a positive number down to ``digits`` significant digits."""
    q = 10.0 ** (math.floor(math.log10(x)) - digits + 1)
    return math.floor(x / q * (1 + 1e-12)) * q


def _ceil_sig(x: float, digits: int) -> float:
    """Round a positive number up to ``digits`` significant digits."""
    q = 10.0 ** (math.floor(math.log10(x)) - digits + 1)
    return math.ceil(x / q * (1 - 1e-12)) * q


def _readable_count(x: float) -> str:
    """A large count in words, rounded *down* (conservative for "1 in X").

    >>> _readable_count(1.0995e12), _readable_count(2.2e9), _readable_count(45678.0), _readable_count(3.7e25)
    ('1 trillion', '2.2 billion', '45,000', '3.7 × 10²⁵')
    """
    if x >= 1e21:
        exponent = math.floor(math.log10(x))
        mantissa = _floor_sig(x / 10.0**exponent, 2)
        return f"{_trim(mantissa)} × 10{str(exponent).translate(_SUPERSCRIPT)}"
    for scale, name in _SCALES:
        if x >= scale:
            return f"{_trim(_floor_sig(x / scale, 2))} {name}"
    if x >= 100:
        return f"{int(_floor_sig(x, 2)):,}"
    return _trim(_floor_sig(x, 2))


def _trim(value: float) -> str:
    text = f"{value:.1f}" if value < 10 else f"{value:.0f}"
    return text[:-2] if text.endswith(".0") else text


def _probability_text(p: float) -> str:
    """The bound in scientific notation, rounded *up* (conservative)."""
    if not math.isfinite(p) or p <= 0:
        return "n/a"
    return f"{_ceil_sig(p, 2):.1e}"


def _plural(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"


def probability_sentence(result: TraceResult) -> str:
    """The false-attribution bound of a found mark, in one plain sentence.

    Parameters
    ----------
    result : TraceResult
        A result with ``found`` true.

    Returns
    -------
    str
        Plain text (not HTML-escaped).

    Notes
    -----
    Rounding is conservative: the "1 in X" figure is rounded down and the
    probability up, so the sentence never claims more than the bound proves.
    """
    p = float(result.false_attribution_probability)
    n = len(result.hypotheses)
    checks = sum(int(h.mac_checks) for h in result.hypotheses)
    counted = (
        f"counting the {_plural(n, 'geometric hypothesis', 'geometric hypotheses')} the tracer tried"
        if n == 1
        else f"counting all {n} geometric hypotheses the tracer tried"
    )
    if checks:
        counted += f" ({_plural(checks, 'keyed check')} in all)"
    lead = (
        "The chance that an image carrying no watermark of this hospital's key would produce "
        "this or any other viewer ID by accident is"
    )
    if not math.isfinite(p) or p < 0:
        return f"{lead} not bounded: the tracer reported no valid false-attribution probability."
    if p >= 1:
        return f"{lead} not usefully bounded (the tracer's bound is 1, {counted}); treat this result as unproven."
    if p == 0:
        return f"{lead} reported as zero by the tracer, {counted}."
    shown = _ceil_sig(p, 2)  # the figure printed; "1 in X" is derived from it so the two agree
    return f"{lead} at most 1 in {_readable_count(1.0 / shown)} ({shown:.1e}), {counted}."


# ----------------------------------------------------------------------------- images


def _as_rgb8(array: Any) -> NDArray[np.uint8]:
    """Best-effort conversion of a preview array (gray, RGBA, float) to RGB uint8."""
    a = np.asarray(array)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim == 2:
        a = np.stack([a] * 3, axis=-1)
    if a.ndim != 3 or a.shape[2] not in (3, 4) or a.shape[0] < 1 or a.shape[1] < 1:
        raise ImageError(f"a preview image must be HxW, HxWx3 or HxWx4, got shape {a.shape}")
    a = a[:, :, :3]
    if a.dtype != np.uint8:
        a = np.clip(np.rint(np.nan_to_num(a.astype(np.float64))), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(a)


def _downscale(image: NDArray[np.uint8]) -> tuple[NDArray[np.uint8], float, float]:
    """Shrink so neither side exceeds MAX_PREVIEW_SIDE; return the image and the x, y scales."""
    h, w = image.shape[:2]
    s = min(1.0, MAX_PREVIEW_SIDE / w, MAX_PREVIEW_SIDE / h)
    if s >= 1.0:
        return image.copy(), 1.0, 1.0
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    small = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(small), nw / w, nh / h


def _draw_quad(image: NDArray[np.uint8], quad: NDArray[np.float64], sx: float, sy: float) -> bool:
    """Outline the quad (input pixel edges convention) on ``image`` in place; False if unusable."""
    q = np.asarray(quad, dtype=np.float64)
    if q.shape != (4, 2) or not np.all(np.isfinite(q)):
        return False
    shift = 4  # cv2 fixed-point sub-pixel bits
    pts = np.rint((q * [sx, sy] - 0.5) * (1 << shift)).astype(np.int32).reshape(-1, 1, 2)
    thickness = max(2, round(min(image.shape[:2]) / 250))
    cv2.polylines(image, [pts], True, _SHADOW_RGB, thickness + 2, cv2.LINE_AA, shift)
    cv2.polylines(image, [pts], True, _OUTLINE_RGB, thickness, cv2.LINE_AA, shift)
    center = tuple(int(v) for v in pts[0, 0])
    radius = (3 * thickness) << shift
    cv2.circle(image, center, radius + (1 << shift), _SHADOW_RGB, -1, cv2.LINE_AA, shift)
    cv2.circle(image, center, radius, _OUTLINE_RGB, -1, cv2.LINE_AA, shift)
    return True


def _jpeg_data_uri(image: NDArray[np.uint8]) -> str:
    buf = io.BytesIO()
    # 4:4:4 chroma keeps coloured text on record screens legible.
    Image.fromarray(image).save(buf, format="JPEG", quality=JPEG_QUALITY, subsampling=0, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _png_data_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _draw_histogram(ax_hist: Any, values: NDArray[np.float64], limit: float) -> None:
    """The soft values' histogram, sideways, against the Gaussian that pure noise would give."""
    bins = np.linspace(-limit, limit, 49)
    ax_hist.hist(values, bins=bins, orientation="horizontal", color="0.5")
    y = np.linspace(-limit, limit, 400)
    noise = values.size * (bins[1] - bins[0]) * np.exp(-0.5 * y * y) / math.sqrt(2 * math.pi)
    ax_hist.plot(noise, y, color="#c53030", linewidth=1.2, label="pure noise")
    ax_hist.set_xlabel("bits")
    ax_hist.tick_params(labelleft=False)
    ax_hist.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), borderaxespad=0.2, fontsize=8, frameon=False)


def _bit_plot_png(bit_snr: NDArray[np.float64]) -> bytes | None:
    """Per-bit soft values as bars, with their histogram against pure noise; None without matplotlib."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    snr = np.asarray(bit_snr, dtype=np.float64).ravel()
    index = np.flatnonzero(np.isfinite(snr))
    values = snr[index]
    if values.size == 0:
        return None
    # Figure + Agg canvas directly: no pyplot global state, safe in threads and servers.
    fig = Figure(figsize=(10.0, 3.4), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(1, 2, width_ratios=(4, 1))
    ax = fig.add_subplot(grid[0])
    ax_hist = fig.add_subplot(grid[1], sharey=ax)
    limit = max(4.0, float(np.max(np.abs(values))) * 1.08)
    ax.axhspan(-1, 1, color="0.9", zorder=0, label="|value| < 1 (weak)")
    zero = values >= 0
    ax.bar(index[zero], values[zero], width=1.0, color=_BIT0_COLOR, linewidth=0, label="reads as 0 (positive)")
    ax.bar(index[~zero], values[~zero], width=1.0, color=_BIT1_COLOR, linewidth=0, label="reads as 1 (negative)")
    ax.axhline(0, color="0.25", linewidth=0.6)
    ax.set_xlim(-0.5, snr.size - 0.5)
    ax.set_ylim(-limit, limit)
    ax.set_xlabel("channel bit")
    ax.set_ylabel("soft value (noise SDs)")
    ax.legend(loc="lower left", bbox_to_anchor=(0.0, 1.0), borderaxespad=0.2, fontsize=8, ncols=3, frameon=False)
    ax.grid(axis="y", color="0.85", linewidth=0.5)
    _draw_histogram(ax_hist, values, limit)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


# ----------------------------------------------------------------------------- what the templates show


@dataclass(frozen=True)
class _Cell:
    """A table value of any type, as the templates show it: ``kind`` is "none", "code" (JSON) or "text"."""

    kind: str
    text: str = ""


@dataclass(frozen=True)
class _Figure:
    """An inlined image: its ``data:`` URI and its size in pixels."""

    src: str
    width: int
    height: int


@dataclass(frozen=True)
class _Bits:
    """The per-bit section: the plot (a ``data:`` URI, None without matplotlib) and summary counts."""

    plot: str | None
    finite: int
    median_abs: float
    weak: int
    nonfinite: int


@dataclass(frozen=True)
class _AttributionView:
    """The ledger-assisted attribution of one entry, ready for the template."""

    named: bool
    headline: str
    reason: str
    sentence: str
    candidates: int
    score_threshold: str
    bound: str
    rows: list[dict[str, str]]
    plot: str | None
    null_text: str


def _null_plot_png(att: Attribution) -> bytes | None:
    """Histogram of the image's own null (never-displayed payloads), the score threshold, and the candidates' scores."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        return None
    null = att.null_scores
    if null is None or null.size == 0:
        return None
    fig = Figure(figsize=(8.0, 2.8), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    top = max([att.score_threshold(), float(null.max())] + [c.score for c in att.ranked[:1]]) + 1.0
    bins = np.linspace(min(0.0, float(null.min())), top, 60)
    ax.hist(null, bins=bins.tolist(), color="0.6", label=f"{null.size} payloads never displayed (this image's null)")
    ax.axvline(att.score_threshold(), color="#c53030", linestyle="--", label=f"score needed ({att.threshold:.0e})")
    for c in att.ranked[:1]:
        ax.axvline(c.score, color="#2b6cb0", linewidth=2, label=f"best candidate: viewer {c.payload.viewer_id}")
    ax.set_xlabel("matched-filter score z")
    ax.set_ylabel("payloads")
    ax.set_yscale("log")
    ax.legend(fontsize=8, loc="upper right", frameon=False)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _attribution_view(att: Attribution) -> _AttributionView:
    if att.named and att.minute_from is not None and att.minute_to is not None:
        when = (f"{att.minute_from:%Y-%m-%d %H:%M} UTC" if att.minute_from == att.minute_to
                else f"between {att.minute_from:%Y-%m-%d %H:%M} and {att.minute_to:%H:%M} UTC")
        headline = f"Attributed: viewer {att.viewer_id}, {when}"
    else:
        headline = "Nobody named from the ledger's candidates"
    p = att.false_attribution_probability
    sentence = (
        "The false-attribution probability bounds the chance that this test would name a viewer from these "
        f"{att.candidates} candidates when the image carries none of their marks, or would name the wrong one of them, "
        "counting every candidate, geometry, orientation and tile position tried."
    )
    rows = [
        {"viewer": str(c.payload.viewer_id), "minute": f"{c.payload.timestamp:%Y-%m-%d %H:%M}", "score": f"{c.score:.2f}",
         "records": ", ".join(c.to_dict()["records"]) or "-", "geometry": c.geometry or "-"}
        for c in att.ranked[:10]
    ]
    png = _null_plot_png(att)
    null = att.null_scores
    null_text = ("" if null is None or null.size == 0 else
                 f"{null.size} random payloads that were never displayed, scored on the same tests, reached at most {float(null.max()):.2f}.")
    return _AttributionView(
        named=att.named, headline=headline, reason=att.reason, sentence=sentence, candidates=att.candidates,
        score_threshold=f"{att.score_threshold():.2f}", bound="n/a" if p is None else _probability_text(p),
        rows=rows, plot=None if png is None else _png_data_uri(png), null_text=null_text,
    )


@dataclass(frozen=True)
class _MarkView:
    """One mark of an entry, as its row in the marks table shows it."""

    number: int
    viewer: str
    minute: str
    key_fingerprint: str
    bound: str
    mac_checks: int
    hypothesis: str
    region: str | None
    color: str
    """The colour its region is outlined in on the input image (CSS)."""


def _mark_view(number: int, mark: Mark) -> _MarkView:
    region = None
    if mark.region is not None:
        (x0, y0), (x1, y1) = np.asarray(mark.region).min(axis=0), np.asarray(mark.region).max(axis=0)
        region = f"x {x0:.0f}–{x1:.0f}, y {y0:.0f}–{y1:.0f}"
    r, g, b = _REGION_RGB[(number - 1) % len(_REGION_RGB)]
    return _MarkView(
        number=number, viewer=str(mark.payload.viewer_id), minute=f"{_utc(mark.payload.timestamp):%Y-%m-%d %H:%M} UTC",
        key_fingerprint=mark.key_fingerprint, bound=_probability_text(mark.false_attribution_probability),
        mac_checks=mark.mac_checks, hypothesis=mark.hypothesis, region=region, color=f"#{r:02x}{g:02x}{b:02x}",
    )


@dataclass(frozen=True)
class _EntryView:
    """One entry, with every value the templates need computed (and nothing pre-rendered as HTML)."""

    index: int
    result: TraceResult
    ledger: LedgerLookup | None
    traced: bool
    verdict: str
    sentence: str
    screen_time: str
    screen_minute: str
    bound: str
    bound_exact: str
    detection: str
    bit_error_percent: str | None
    corners: str | None
    image_size: tuple[int, int]
    given_size: tuple[int, int]
    input_figure: _Figure
    outlined: bool
    rectified_figure: _Figure | None
    rectified_error: str | None
    bits: _Bits | None
    parameters: list[tuple[str, _Cell]]
    attribution: _AttributionView | None = None
    marks: tuple[_MarkView, ...] = ()
    """Every mark found, in the order found (a composite names several viewers)."""


def _json_default(value: object) -> object:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if isinstance(value, Path):
        return str(value)
    return repr(value)


def _cell(value: object) -> _Cell:
    """A table cell for an arbitrary value: scalars as text, containers as JSON."""
    if value is None:
        return _Cell("none")
    if isinstance(value, datetime):
        return _Cell("text", value.isoformat())
    if isinstance(value, (Mapping, list, tuple, np.ndarray)):
        obj = dict(value) if isinstance(value, Mapping) else value
        text = json.dumps(obj, default=_json_default, sort_keys=isinstance(value, Mapping), ensure_ascii=False)
        return _Cell("code", text)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return _Cell("text", f"{value:.6g}")
    return _Cell("text", str(value))


def _traced(result: TraceResult) -> bool:
    return bool(result.found) and result.payload is not None


def _utc(ts: datetime) -> datetime:
    return ts.astimezone(timezone.utc) if ts.tzinfo is not None else ts.replace(tzinfo=timezone.utc)


def _fmt_number(value: float | None, spec: str = ".2f") -> str:
    if value is None:
        return "n/a"
    value = float(value)
    return format(value, spec) if math.isfinite(value) else "n/a"


def _iso_utc(when: datetime) -> str:
    """ISO 8601 UTC to the microsecond, as the ledger records view times."""
    return _utc(when).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _timing_label(name: object) -> str:
    """``decode_s`` -> ``decode``."""
    label = str(name)[:-2] if str(name).endswith("_s") else str(name)
    return label.replace("_", " ")


def _draw_region(image: NDArray[np.uint8], region: NDArray[np.float64], sx: float, sy: float, number: int) -> None:
    """Outline a mark's region on ``image`` in place, in its colour, numbered at its top-left corner."""
    q = np.asarray(region, dtype=np.float64)
    if q.shape != (4, 2) or not np.all(np.isfinite(q)):
        return
    color = _REGION_RGB[(number - 1) % len(_REGION_RGB)]
    pts = np.rint(q * [sx, sy]).astype(np.int32).reshape(-1, 1, 2)
    thickness = max(2, round(min(image.shape[:2]) / 300))
    cv2.polylines(image, [pts], True, color, thickness, cv2.LINE_AA)
    x, y = pts[:, 0, :].min(axis=0)
    scale = max(0.6, min(image.shape[:2]) / 500)
    origin = (int(x) + 3 * thickness, int(y) + int(30 * scale))
    cv2.putText(image, str(number), origin, cv2.FONT_HERSHEY_SIMPLEX, scale, _SHADOW_RGB, thickness + 2, cv2.LINE_AA)
    cv2.putText(image, str(number), origin, cv2.FONT_HERSHEY_SIMPLEX, scale, color, thickness, cv2.LINE_AA)


def _input_figure(entry: ReportEntry) -> tuple[_Figure, bool]:
    """The downscaled input with the located screen outlined (and, for several marks, each one's region);
    True when the outline could be drawn."""
    small, sx, sy = _downscale(entry.image)
    outlined = entry.result.quad is not None and _draw_quad(small, entry.result.quad, sx, sy)
    if len(entry.result.marks) > 1:
        for number, mark in enumerate(entry.result.marks, 1):
            if mark.region is not None:
                _draw_region(small, mark.region, sx, sy, number)
    return _Figure(_jpeg_data_uri(small), small.shape[1], small.shape[0]), outlined


def _verdict(result: TraceResult) -> str:
    """The verdict's headline: the viewer and minute, or every mark's for a composite."""
    if not _traced(result) or result.payload is None:
        return "No watermark found"
    if len(result.marks) > 1:
        named = "; ".join(f"viewer {m.payload.viewer_id}, {_utc(m.payload.timestamp):%Y-%m-%d %H:%M} UTC" for m in result.marks)
        return f"Traced: {len(result.marks)} marks: {named}"
    return f"Traced: viewer {result.payload.viewer_id}, {_utc(result.payload.timestamp):%Y-%m-%d %H:%M} UTC"


def _rectified_figure(result: TraceResult) -> tuple[_Figure | None, str | None]:
    """The rectified screen as a figure, or None and why it cannot be shown (None: there is none)."""
    if result.rectified is None:
        return None, None
    try:
        small, _, _ = _downscale(_as_rgb8(result.rectified))
    except ImageError as exc:
        return None, str(exc)
    return _Figure(_jpeg_data_uri(small), small.shape[1], small.shape[0]), None


def _bits(result: TraceResult) -> _Bits | None:
    if result.bit_snr is None or np.asarray(result.bit_snr).size == 0:
        return None
    snr = np.asarray(result.bit_snr, dtype=np.float64).ravel()
    finite = snr[np.isfinite(snr)]
    png = _bit_plot_png(snr)
    return _Bits(
        plot=None if png is None else _png_data_uri(png),
        finite=int(finite.size),
        median_abs=float(np.median(np.abs(finite))) if finite.size else 0.0,
        weak=int(np.sum(np.abs(finite) < 1)),
        nonfinite=int(snr.size - finite.size),
    )


def _corners(result: TraceResult) -> str | None:
    if result.quad is None:
        return None
    q = np.asarray(result.quad, dtype=np.float64).reshape(-1, 2)
    return ", ".join(f"{name} ({x:.1f}, {y:.1f})" for name, (x, y) in zip(_CORNERS, q))


def _entry_view(entry: ReportEntry, index: int) -> _EntryView:
    r = entry.result
    traced = _traced(r)
    when = _utc(r.payload.timestamp) if traced and r.payload is not None else None
    figure, outlined = _input_figure(entry)
    rectified, rectified_error = _rectified_figure(r)
    fap = float(r.false_attribution_probability)
    return _EntryView(
        index=index,
        result=r,
        ledger=entry.ledger,
        traced=traced,
        verdict=_verdict(r),
        sentence=probability_sentence(r) if traced else "",
        screen_time=when.isoformat() if when is not None else "",
        screen_minute=f"{when:%Y-%m-%d %H:%M} UTC" if when is not None else "",
        bound=_probability_text(fap),
        bound_exact=repr(fap),
        detection=_fmt_number(r.detection_score),
        bit_error_percent=None if r.bit_error_rate is None else _fmt_number(100 * float(r.bit_error_rate), ".1f"),
        corners=_corners(r),
        image_size=(int(r.image_size[0]), int(r.image_size[1])),
        given_size=(int(entry.image.shape[1]), int(entry.image.shape[0])),
        input_figure=figure,
        outlined=outlined,
        rectified_figure=rectified,
        rectified_error=rectified_error,
        bits=_bits(r),
        parameters=[(str(k), _cell(v)) for k, v in (r.parameters or {}).items()],
        attribution=None if entry.attribution is None else _attribution_view(entry.attribution),
        marks=tuple(_mark_view(i, m) for i, m in enumerate(r.marks, 1)),
    )


@functools.cache
def _environment() -> jinja2.Environment:
    """The report's templates, from the package (autoescape on for every template)."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("tracer", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        plural=_plural,
        number=_fmt_number,
        timing_label=_timing_label,
        iso=_iso_utc,
    )
    return env


def render_report(
    entries: Sequence[ReportEntry],
    *,
    title: str = "Leak trace report",
    generated_at: datetime | None = None,
) -> str:
    """Render the forensic report as one self-contained HTML document.

    Parameters
    ----------
    entries : sequence of ReportEntry
        The traced images, in the order they should appear.
    title : str, keyword-only
        Shown in the header bar and the window title (escaped).
    generated_at : datetime or None, keyword-only
        The report time to print; the current time when None. Naive datetimes
        are taken as UTC.

    Returns
    -------
    str
        HTML with inline CSS, images as ``data:`` URIs, no scripts and no
        external resources.

    Raises
    ------
    watermark.OptionTypeError
        If an entry is not a ``ReportEntry`` (a ``TypeError``).
    watermark.OptionError
        If ``entries`` is empty (a ``ValueError``).

    Examples
    --------
    >>> import numpy as np, tracer, watermark
    >>> blank = np.zeros((48, 64, 3), np.uint8)
    >>> page = render_report([ReportEntry(tracer.trace(blank, watermark.Key.generate()), blank)])
    >>> "No watermark found" in page and "<script" not in page
    True
    """
    entries = list(entries)
    if not entries:
        raise OptionError("entries must hold at least one ReportEntry, got none", name="entries", value=entries)
    for i, entry in enumerate(entries):
        if not isinstance(entry, ReportEntry):
            raise OptionTypeError(
                f"entries[{i}] must be a ReportEntry, got {type(entry).__name__}", name=f"entries[{i}]", value=entry
            )
    when = datetime.now(timezone.utc) if generated_at is None else _utc(generated_at)
    views = [_entry_view(e, i) for i, e in enumerate(entries, 1)]
    traced = sum(v.traced for v in views)
    return _environment().get_template("report.html").render(
        title=title,
        generated=when.isoformat(timespec="seconds"),
        version=watermark.__version__,
        software={"python": platform.python_version(), "numpy": np.__version__, "opencv": cv2.__version__},
        entries=views,
        traced_count=traced,
        untraced_count=len(views) - traced,
    )


def write_report(
    path: str | os.PathLike[str],
    entries: Sequence[ReportEntry],
    *,
    title: str = "Leak trace report",
    generated_at: datetime | None = None,
) -> None:
    """Write the forensic report to ``path``, atomically.

    Parameters
    ----------
    path : str or path-like
        Destination HTML file; its directory must exist. An existing file is
        replaced.
    entries : sequence of ReportEntry
        The traced images.
    title : str, keyword-only
        Report title.
    generated_at : datetime or None, keyword-only
        See :func:`render_report`.

    Raises
    ------
    OSError
        If the file cannot be written (missing directory, no permission, disk
        full). Nothing is left behind: neither a partial report nor a
        temporary file, and an existing file at ``path`` is kept unchanged.
    TypeError, ValueError
        As :func:`render_report`.

    Notes
    -----
    The whole document is rendered in memory first, written to a temporary
    file in the destination directory, flushed to disk and renamed over
    ``path``. The file is created readable by its owner only (mode 0600, as
    :func:`tempfile.mkstemp` makes it), because it contains an image of a
    patient record; widen it deliberately if needed.
    """
    text = render_report(entries, title=title, generated_at=generated_at)
    target = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise

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
"""

from __future__ import annotations

import base64
import html
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
import numpy as np
from numpy.typing import NDArray
from PIL import Image

import watermark
from watermark import ImageError

from ._trace import TraceResult

__all__ = ["ReportEntry", "probability_sentence", "render_report", "write_report"]

MAX_PREVIEW_SIDE = 1200
"""Preview images are downscaled so that neither side exceeds this many pixels."""

JPEG_QUALITY = 85
"""JPEG quality of the inlined previews (full-resolution evidence stays in the input file)."""

_OUTLINE_RGB = (255, 0, 170)  # magenta: visible on white record screens and on photos alike
_SHADOW_RGB = (20, 20, 20)
_BIT0_COLOR = "#2b6cb0"
_BIT1_COLOR = "#dd6b20"
_SCALES = ((1e18, "quintillion"), (1e15, "quadrillion"), (1e12, "trillion"), (1e9, "billion"), (1e6, "million"))
_SUPERSCRIPT = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
_CORNERS = ("TL", "TR", "BR", "BL")
_ACRONYMS = frozenset({"id", "ip", "mrn", "utc", "url", "ehr", "emr"})


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
    ledger : mapping or None
        The access-ledger row joined to the recovered viewer and time, for
        example ``display_name``, ``record_id``, ``workstation``,
        ``client_address``, ``viewed_at``, and ``surrounding`` (a list of
        mappings: other accesses near that time). Shown as a table; every key
        is shown, in the given order.

    Raises
    ------
    TypeError
        If ``result`` is not a ``TraceResult`` or ``ledger`` is not a mapping.
    watermark.ImageError
        If ``image`` is not an HxWx3 uint8 array.
    """

    result: TraceResult
    image: NDArray[np.uint8]
    ledger: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.result, TraceResult):
            raise TypeError(f"result must be a tracer.TraceResult, got {type(self.result).__name__}")
        image = self.image
        if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            got = (
                f"shape {image.shape} and dtype {image.dtype}"
                if isinstance(image, np.ndarray)
                else type(image).__name__
            )
            raise ImageError(f"image must be an HxWx3 uint8 RGB array, got {got}")
        if image.shape[0] < 1 or image.shape[1] < 1:
            raise ImageError(f"image must not be empty, got shape {image.shape}")
        if self.ledger is not None and not isinstance(self.ledger, Mapping):
            raise TypeError(f"ledger must be a mapping or None, got {type(self.ledger).__name__}")


# ----------------------------------------------------------------------------- text helpers


def _esc(value: object) -> str:
    """Escape any value for HTML text or a quoted attribute."""
    return html.escape(str(value), quote=True)


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


def _value_html(value: object) -> str:
    """A table cell for an arbitrary value: scalars as text, containers as JSON."""
    if value is None:
        return '<span class="muted">none</span>'
    if isinstance(value, datetime):
        return _esc(value.isoformat())
    if isinstance(value, (Mapping, list, tuple, np.ndarray)):
        obj = dict(value) if isinstance(value, Mapping) else value
        text = json.dumps(obj, default=_json_default, sort_keys=isinstance(value, Mapping), ensure_ascii=False)
        return f"<code>{_esc(text)}</code>"
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return _esc(f"{value:.6g}")
    return _esc(value)


def _label(key: object) -> str:
    """``client_address`` -> ``Client address``."""
    words = str(key).replace("_", " ").split()
    words = [w.upper() if w.lower() in _ACRONYMS else w for w in words]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


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
    bins = np.linspace(-limit, limit, 49)
    ax_hist.hist(values, bins=bins, orientation="horizontal", color="0.5")
    y = np.linspace(-limit, limit, 400)
    noise = values.size * (bins[1] - bins[0]) * np.exp(-0.5 * y * y) / math.sqrt(2 * math.pi)
    ax_hist.plot(noise, y, color="#c53030", linewidth=1.2, label="pure noise")
    ax_hist.set_xlabel("bits")
    ax_hist.tick_params(labelleft=False)
    ax_hist.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), borderaxespad=0.2, fontsize=8, frameon=False)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


# ----------------------------------------------------------------------------- HTML pieces

_CSS = """
:root { --ink:#1a202c; --muted:#5a6473; --rule:#d5dae1; --bar:#1f2a44; --traced:#1e4e8c; --none:#6b7280; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin:0; color:var(--ink); background:#f4f5f7; font: 15px/1.5 -apple-system, BlinkMacSystemFont,
  "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", "Liberation Sans", sans-serif; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
  font-size: 0.88em; overflow-wrap: anywhere; }
header.bar { background:var(--bar); color:#fff; padding:18px 0 14px; border-bottom:4px solid #3b4f7a; }
.wrap { max-width:1160px; margin:0 auto; padding:0 24px; }
header.bar h1 { margin:0; font-size:22px; font-weight:600; letter-spacing:0.01em; }
header.bar .meta { margin-top:4px; font-size:13px; color:#c9d2e3; }
header.bar .tag { float:right; margin-top:3px; padding:2px 8px; border:1px solid #c9d2e3; border-radius:3px;
  font-size:11px; letter-spacing:0.08em; text-transform:uppercase; color:#fff; }
main.wrap { padding-top:20px; padding-bottom:40px; }
section.card { background:#fff; border:1px solid var(--rule); border-radius:4px; padding:20px 24px; margin:0 0 22px; }
h2 { font-size:19px; margin:0 0 12px; font-weight:600; }
h3 { font-size:15px; margin:22px 0 8px; font-weight:600; color:#2d3748; border-bottom:1px solid var(--rule);
  padding-bottom:3px; }
p { margin:6px 0; }
.muted { color:var(--muted); }
.nowrap { white-space:nowrap; }
.small { font-size:13px; }
table { border-collapse:collapse; width:100%; font-size:13.5px; }
th, td { text-align:left; vertical-align:top; padding:5px 9px; border-bottom:1px solid #e5e8ec; }
thead th { background:#eef1f5; border-bottom:1px solid var(--rule); font-weight:600; white-space:nowrap; }
table.kv th { width:220px; font-weight:600; color:#2d3748; background:#f8f9fb; }
td.num { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
.scroll { overflow-x:auto; }
.verdict { border-left:6px solid var(--none); background:#f3f4f6; padding:12px 16px; margin:4px 0 8px; }
.verdict.traced { border-left-color:var(--traced); background:#eaf1fb; }
.verdict .head { font-size:22px; font-weight:700; margin:0 0 4px; }
.verdict p { margin:5px 0; }
.badge { display:inline-block; padding:1px 7px; border-radius:3px; font-size:12px; font-weight:600;
  white-space:nowrap; }
.badge.traced { background:#dbe7f8; color:var(--traced); }
.badge.none { background:#e5e7eb; color:#374151; }
figure { margin:14px 0; }
figure img { display:block; max-width:100%; height:auto; border:1px solid var(--rule); background:#fff; }
figcaption { font-size:13px; color:var(--muted); margin-top:5px; }
.entry-file { font-weight:400; color:var(--muted); overflow-wrap:anywhere; }
a { color:#1e4e8c; }
footer { font-size:12.5px; color:var(--muted); }
@page { size:A4; margin:14mm; }
@media print {
  body { background:#fff; font-size:11pt; }
  header.bar { -webkit-print-color-adjust:exact; print-color-adjust:exact; }
  .verdict, .badge, thead th, table.kv th { -webkit-print-color-adjust:exact; print-color-adjust:exact; }
  .wrap { max-width:none; padding:0; }
  header.bar { padding:12px 14px 10px; }
  section.card { border:none; padding:0; margin:0 0 12px; }
  section.entry { break-before:page; }
  figure, tr, .verdict { break-inside:avoid; }
  h3 { break-after:avoid; }
  thead { display:table-header-group; }
  .scroll { overflow:visible; }
  a { color:inherit; text-decoration:none; }
}
"""


def _traced(result: TraceResult) -> bool:
    return bool(result.found) and result.payload is not None


def _utc(ts: datetime) -> datetime:
    return ts.astimezone(timezone.utc) if ts.tzinfo is not None else ts.replace(tzinfo=timezone.utc)


def _verdict_text(result: TraceResult) -> str:
    if not _traced(result):
        return "No watermark found"
    p = result.payload
    return f"Traced: viewer {p.viewer_id}, {_utc(p.timestamp).strftime('%Y-%m-%d %H:%M')} UTC"


def _fmt_number(value: float | None, spec: str = ".2f") -> str:
    if value is None:
        return "n/a"
    value = float(value)
    return format(value, spec) if math.isfinite(value) else "n/a"


def _kv_table(rows: Sequence[tuple[str, str]], *, css: str = "kv") -> str:
    """Rows are (label text, cell HTML); labels are escaped here, cells must already be HTML."""
    body = "".join(f"<tr><th scope=\"row\">{_esc(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="{css}"><tbody>{body}</tbody></table>'


def _grid_table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[bool] | None = None) -> str:
    """Headers are escaped here; row cells must already be HTML."""
    numeric = list(numeric) if numeric is not None else [False] * len(headers)
    head = "".join(f'<th scope="col">{_esc(h)}</th>' for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{c}</td>' if n else f"<td>{c}</td>" for c, n in zip(row, numeric)) + "</tr>"
        for row in rows
    )
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _summary(entries: Sequence[ReportEntry]) -> str:
    rows = []
    for i, entry in enumerate(entries, 1):
        r = entry.result
        traced = _traced(r)
        badge = (
            '<span class="badge traced">Traced</span>'
            if traced
            else '<span class="badge none">No watermark found</span>'
        )
        viewer = _esc(r.payload.viewer_id) if traced else "&mdash;"
        when = (
            f'<span class="nowrap">{_esc(_utc(r.payload.timestamp).strftime("%Y-%m-%d %H:%M UTC"))}</span>'
            if traced else "&mdash;"
        )
        bound = (
            f'<span class="nowrap">&le; {_esc(_probability_text(float(r.false_attribution_probability)))}</span>'
            if traced else "&mdash;"
        )
        sha = (
            f'<span class="mono nowrap" title="{_esc(r.sha256)}">{_esc(r.sha256[:12])}&hellip;</span>'
            if r.sha256 else '<span class="muted nowrap">in memory</span>'
        )
        rows.append([
            f'<a href="#entry-{i}">{i}</a>', f'<a href="#entry-{i}">{_esc(r.source)}</a>', badge, viewer, when,
            bound, sha,
        ])
    table = _grid_table(
        ["#", "File", "Verdict", "Viewer", "Screen time", "False-attribution bound", "SHA-256"], rows,
    )
    traced = sum(_traced(e.result) for e in entries)
    return (
        '<section class="card summary"><h2>Summary</h2>'
        f"<p>{_plural(len(entries), 'image')} examined: {traced} traced, {len(entries) - traced} without a readable "
        "watermark.</p>" + table + "</section>"
    )


def _evidence_rows(result: TraceResult, image: NDArray[np.uint8], generated: str) -> list[tuple[str, str]]:
    traced = _traced(result)
    rows: list[tuple[str, str]] = [("File", f"<span class=\"mono\">{_esc(result.source)}</span>")]
    if result.sha256:
        rows.append(("SHA-256 of the file", f'<span class="mono">{_esc(result.sha256)}</span>'))
    else:
        rows.append((
            "SHA-256 of the file",
            '<span class="muted">not available: the image was supplied in memory, not read from a file, '
            "so no file hash could be recorded</span>",
        ))
    w, h = result.image_size
    size = f"{int(w)} &times; {int(h)} px"
    if (image.shape[1], image.shape[0]) != (int(w), int(h)):
        size += f' <span class="muted">(image given to the report: {image.shape[1]} &times; {image.shape[0]} px)</span>'
    rows.append(("Image size", size))
    if traced:
        p = result.payload
        rows += [
            ("Viewer ID", f"<strong>{_esc(p.viewer_id)}</strong>"),
            ("Screen rendered at (UTC)", f'<span class="mono">{_esc(_utc(p.timestamp).isoformat())}</span> '
             '<span class="muted">(one-minute resolution)</span>'),
            ("Payload format version", _esc(p.version)),
        ]
    rows.append((
        "Key fingerprint",
        f'<span class="mono">{_esc(result.key_fingerprint)}</span>' if result.key_fingerprint
        else '<span class="muted">none: no key\'s mark was found</span>',
    ))
    fap = float(result.false_attribution_probability)
    fap_html = (
        f'<span class="mono">{_esc(_probability_text(fap))}</span> '
        f'<span class="muted">(exact: {_esc(repr(fap))})</span>'
    )
    if not traced:
        fap_html += ' <span class="muted">&mdash; not applicable: nobody was attributed</span>'
    rows += [
        ("False-attribution bound", fap_html),
        ("Detection score", f"{_esc(_fmt_number(result.detection_score))} "
         '<span class="muted">(best tile-phase energy peak, robust z-score, over all hypotheses; a diagnostic only: marks made with other keys raise it too)</span>'),
        ("Bit error rate", _esc("n/a") if result.bit_error_rate is None else
         f"{_esc(_fmt_number(100 * float(result.bit_error_rate), '.1f'))}% "
         f'<span class="muted">of channel bits corrected by the error-correcting code</span>'),
        ("Hypotheses tried", _esc(len(result.hypotheses))),
    ]
    if result.quad is not None:
        q = np.asarray(result.quad, dtype=np.float64).reshape(-1, 2)
        corners = ", ".join(f"{name} ({x:.1f}, {y:.1f})" for name, (x, y) in zip(_CORNERS, q))
        rows.append(("Screen corners (input px)", _esc(corners)))
    rows += [
        ("Software", f"leaktrace {_esc(watermark.__version__)} "
         f'<span class="muted">(Python {_esc(platform.python_version())}, NumPy {_esc(np.__version__)}, '
         f"OpenCV {_esc(cv2.__version__)})</span>"),
        ("Report generated (UTC)", f'<span class="mono">{_esc(generated)}</span>'),
    ]
    return rows


def _verdict(result: TraceResult) -> str:
    if _traced(result):
        return (
            '<div class="verdict traced">'
            f'<div class="head">{_esc(_verdict_text(result))}</div>'
            f"<p>{_esc(probability_sentence(result))}</p>"
            '<p class="small muted">The mark records which viewer account had this screen displayed and when the '
            "screen was rendered (UTC, to the minute). It does not show who took the photograph or screenshot; "
            "weigh it together with the access ledger and other evidence.</p></div>"
        )
    n = len(result.hypotheses)
    return (
        '<div class="verdict none">'
        f'<div class="head">{_esc(_verdict_text(result))}</div>'
        "<p><strong>This does not prove that the image is unmarked or authentic.</strong> A mark can be lost to "
        "heavy cropping, blur, glare, low resolution or repeated re-compression, and a mark made with a key that "
        "was not given to the tracer reads as no mark.</p>"
        f'<p class="small muted">Best detection score {_esc(_fmt_number(result.detection_score))} over '
        f"{_esc(_plural(n, 'geometric hypothesis', 'geometric hypotheses'))}; no candidate passed the keyed "
        "integrity check, so no viewer is named.</p></div>"
    )


def _input_figure(entry: ReportEntry, index: int) -> str:
    small, sx, sy = _downscale(entry.image)
    outlined = entry.result.quad is not None and _draw_quad(small, entry.result.quad, sx, sy)
    h, w = entry.image.shape[:2]
    scale = "" if small.shape[:2] == (h, w) else (
        f" Shown at {small.shape[1]} &times; {small.shape[0]} px (the file is {w} &times; {h} px)."
    )
    caption = (
        "The magenta outline is the screen area the tracer located; the dot marks the screen's top-left corner."
        if outlined else "The tracer did not locate a screen outline in this image."
    )
    return (
        f'<figure><img src="{_jpeg_data_uri(small)}" alt="Input image {index}" width="{small.shape[1]}" '
        f'height="{small.shape[0]}"><figcaption>Input image. {caption}{scale}</figcaption></figure>'
    )


def _rectified_figure(result: TraceResult, index: int) -> str:
    if result.rectified is None:
        return '<p class="muted">No rectified screen is available for this image.</p>'
    try:
        small, _, _ = _downscale(_as_rgb8(result.rectified))
    except ImageError as exc:
        return f'<p class="muted">The rectified screen could not be shown: {_esc(exc)}</p>'
    return (
        f'<figure><img src="{_jpeg_data_uri(small)}" alt="Rectified screen {index}" width="{small.shape[1]}" '
        f'height="{small.shape[0]}"><figcaption>The screen as the decoder saw it, mapped back to screen '
        f"geometry ({small.shape[1]} &times; {small.shape[0]} px shown).</figcaption></figure>"
    )


def _bits_section(result: TraceResult, index: int) -> str:
    if result.bit_snr is None or np.asarray(result.bit_snr).size == 0:
        return '<p class="muted">No per-bit values are available (no decode reached the bit level).</p>'
    snr = np.asarray(result.bit_snr, dtype=np.float64).ravel()
    finite = snr[np.isfinite(snr)]
    png = _bit_plot_png(snr)
    parts = []
    if png is None:
        parts.append('<p class="muted">The plot needs matplotlib, which is not installed.</p>')
    else:
        parts.append(
            f'<figure><img src="{_png_data_uri(png)}" alt="Per-bit confidence plot {index}">'
            "<figcaption>Left: how strongly each channel bit of the code reads in this image, in units of the "
            "noise level (positive reads as 0, negative as 1; the grey band marks weak bits). Right: the same values "
            "as a histogram, against the red curve that pure noise would give. A clear mark shows two clusters away "
            "from zero; an unmarked image shows one cluster around zero that follows the red curve.</figcaption>"
            "</figure>"
        )
    if finite.size:
        weak = int(np.sum(np.abs(finite) < 1))
        stats = (
            f"{finite.size} channel bits; median |value| {np.median(np.abs(finite)):.2f} noise SDs; "
            f"{weak} ({100 * weak / finite.size:.0f}%) weak (|value| &lt; 1)."
        )
        if finite.size != snr.size:
            stats += f" {snr.size - finite.size} non-finite values omitted."
        parts.append(f'<p class="small">{stats}</p>')
    return "".join(parts)


def _ledger_section(ledger: Mapping[str, Any]) -> str:
    rows = [(_label(k), _value_html(v)) for k, v in ledger.items() if k != "surrounding"]
    parts = [_kv_table(rows)] if rows else []
    surrounding = ledger.get("surrounding")
    if surrounding is not None:
        items = list(surrounding) if isinstance(surrounding, (list, tuple)) else [surrounding]
        if items and all(isinstance(item, Mapping) for item in items):
            columns: list[str] = []
            for item in items:
                columns += [str(k) for k in item if str(k) not in columns]
            body = [[_value_html(next((v for k, v in item.items() if str(k) == c), None)) for c in columns]
                    for item in items]
            parts.append('<p class="small muted">Other accesses around that time:</p>')
            parts.append(_grid_table([_label(c) for c in columns], body))
        elif items:
            parts.append(_kv_table([("Surrounding", _value_html(items))]))
        else:
            parts.append('<p class="small muted">No other accesses around that time.</p>')
    return "".join(parts) or '<p class="muted">The ledger entry is empty.</p>'


def _hypotheses_section(result: TraceResult) -> str:
    if not result.hypotheses:
        return '<p class="muted">No hypotheses were recorded.</p>'
    rows = [
        [
            _esc(h.name), _esc(_fmt_number(h.scale, ".3g")), f"{_esc(int(h.rotation) * 90 % 360)}&deg;",
            "yes" if h.mirrored else "no", _esc(_fmt_number(h.detection_score)),
            "<strong>yes</strong>" if h.found else "no", _esc(h.mac_checks),
        ]
        for h in result.hypotheses
    ]
    return _grid_table(
        ["Hypothesis", "Scale", "Rotation", "Mirrored", "Detection score", "Mark found", "Keyed checks"],
        rows, [False, True, True, False, True, False, True],
    )


def _parameters_section(result: TraceResult) -> str:
    params = result.parameters or {}
    if not params:
        return '<p class="muted">The tracer recorded no decode parameters.</p>'
    return _kv_table([(str(k), _value_html(v)) for k, v in params.items()])


def _timings_section(result: TraceResult) -> str:
    if not result.timings:
        return '<p class="muted">No timings were recorded.</p>'
    rows = []
    for name, seconds in result.timings.items():
        label = str(name)[:-2] if str(name).endswith("_s") else str(name)
        rows.append((label.replace("_", " "), f"{_esc(_fmt_number(seconds, '.3f'))} s"))
    return _kv_table(rows)


def _entry(entry: ReportEntry, index: int, total: int, generated: str) -> str:
    r = entry.result
    parts = [
        f'<section class="card entry" id="entry-{index}">',
        f'<h2>Image {index} of {total} <span class="entry-file">&middot; {_esc(r.source)}</span></h2>',
        _verdict(r),
    ]
    if entry.ledger is not None:
        parts += ["<h3>Access ledger</h3>", _ledger_section(entry.ledger)]
    parts += [
        "<h3>Evidence</h3>", _kv_table(_evidence_rows(r, entry.image, generated)),
        "<h3>Input image</h3>", _input_figure(entry, index),
        "<h3>Rectified screen</h3>", _rectified_figure(r, index),
        "<h3>Per-bit confidence</h3>", _bits_section(r, index),
        "<h3>Geometric hypotheses tried</h3>", _hypotheses_section(r),
        "<h3>Decode parameters</h3>", _parameters_section(r),
        "<h3>Timings</h3>", _timings_section(r),
        "</section>",
    ]
    return "\n".join(parts)


_ABOUT = (
    '<section class="card"><h2>About this report</h2><footer>'
    "<p>Every record screen is stamped, when it is rendered, with an invisible pattern that encodes the viewer "
    "account ID and the time (UTC, to the minute), protected by an error-correcting code and a keyed integrity "
    "check that only the hospital's secret key can produce. The tracer locates the screen in the image, tries a "
    "set of geometric hypotheses (scale, rotation, mirroring), and names a viewer only when a decoded candidate "
    "passes the keyed check. The false-attribution bound counts every candidate checked.</p>"
    "<p>The SHA-256 hash identifies the exact file analysed: anyone can recompute it to confirm that the file in "
    "evidence is the one described here. The key fingerprint identifies the key without revealing it. The images "
    "in this report are reduced previews; the original file remains the evidence.</p>"
    "</footer></section>"
)


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
    TypeError
        If an entry is not a ``ReportEntry``.
    ValueError
        If ``entries`` is empty.

    Examples
    --------
    >>> import numpy as np
    >>> from tracer._trace import TraceResult
    >>> result = TraceResult(found=False, payload=None, key_fingerprint=None,
    ...     false_attribution_probability=9.1e-13, detection_score=0.4, quad=None,
    ...     hypotheses=[], timings={}, source="leak.png", sha256=None, image_size=(64, 48))
    >>> page = render_report([ReportEntry(result, np.zeros((48, 64, 3), np.uint8))])
    >>> "No watermark found" in page and "<script" not in page
    True
    """
    entries = list(entries)
    if not entries:
        raise ValueError("entries must hold at least one ReportEntry, got none")
    for i, entry in enumerate(entries):
        if not isinstance(entry, ReportEntry):
            raise TypeError(f"entries[{i}] must be a ReportEntry, got {type(entry).__name__}")
    when = datetime.now(timezone.utc) if generated_at is None else _utc(generated_at)
    generated = when.isoformat(timespec="seconds")
    body = "\n".join(_entry(e, i, len(entries), generated) for i, e in enumerate(entries, 1))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="generator" content="leaktrace {_esc(watermark.__version__)}">\n'
        f"<title>{_esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        '<header class="bar"><div class="wrap"><span class="tag">Confidential</span>'
        f"<h1>{_esc(title)}</h1>"
        f'<div class="meta">Generated {_esc(generated)} &middot; leaktrace {_esc(watermark.__version__)} '
        f"&middot; {_esc(_plural(len(entries), 'image'))}</div></div></header>\n"
        '<main class="wrap">\n' + _summary(entries) + "\n" + body + "\n" + _ABOUT + "\n</main>\n</body>\n</html>\n"
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

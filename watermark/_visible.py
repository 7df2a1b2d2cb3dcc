"""Visible deterrent mark: tiled, semi-transparent diagonal text over a screen.

The invisible mark is what traces a leak; the visible one is what prevents
it. Every employee sees, across the whole record, their own name, ID and the
time, so that nobody can believe a photo of the screen is anonymous.

Two renderings share one geometry and one set of options:

* :func:`visible_mark` composites the text onto an image (a server-rendered
  record page, an exported PNG), with Pillow's bundled scalable font, so no
  system font is needed.
* :func:`visible_mark_svg`, :func:`visible_mark_css` and
  :func:`visible_mark_html` give the same mark as a vector layer for a web
  page: a full-viewport, click-through element whose background is an SVG
  pattern, sharp at any device pixel ratio or zoom and printed with the page.

Layout: the text block is repeated along its own baseline direction with
``spacing`` font sizes of blank space between copies, in rows ``spacing``
font sizes apart, every other row shifted by half a period (a brick
pattern), and the whole lattice is rotated by ``angle`` degrees
counter-clockwise.
"""

from __future__ import annotations

import functools
import html
import math
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from xml.sax.saxutils import escape as _xml_escape

import numpy as np
from numpy.typing import NDArray

from ._errors import OptionError, OptionTypeError
from ._image import as_rgb_uint8

__all__ = [
    "DEFAULT_VISIBLE_LABEL",
    "visible_mark",
    "visible_mark_css",
    "visible_mark_html",
    "visible_mark_svg",
    "visible_mark_text",
]

DEFAULT_VISIBLE_LABEL = "CONFIDENTIAL - every view is logged"
"""Label appended to the viewer line by :func:`visible_mark_text`."""

DEFAULT_OPACITY = 0.12
DEFAULT_ANGLE = 30.0
DEFAULT_COLOR = (70, 70, 70)
DEFAULT_SPACING = 3.0
DEFAULT_CSS_FONT_SIZE = 16.0
_LINE_HEIGHT = 1.3  # line pitch in font sizes
_TEXT_WIDTH_MARGIN = 1.08  # SVG text is stretched to the measured width times this
_SVG_FONTS = "DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif"
_MAX_FONT_SIZE = 512.0
_MAX_SPACING = 50.0


@dataclass(frozen=True)
class _Style:
    lines: tuple[str, ...]
    opacity: float
    angle: float
    font_size: float
    color: tuple[int, int, int]
    spacing: float


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise OptionTypeError(f"{name} must be a number, got {type(value).__name__}", name=name, value=value)
    value = float(value)
    if not math.isfinite(value):
        raise OptionError(f"{name} must be finite, got {value}", name=name, value=value)
    return value


def _style(text: Any, opacity: Any, angle: Any, font_size: Any, color: Any, spacing: Any) -> _Style:
    """Validate the shared options; every public function goes through here."""
    if not isinstance(text, str):
        raise OptionTypeError(f"text must be a str, got {type(text).__name__}", name="text", value=text)
    lines = tuple(line.strip() for line in text.strip().splitlines() if line.strip())
    if not lines:
        raise OptionError("text must contain at least one non-blank line", name="text", value=text)
    opacity = _number(opacity, "opacity")
    if not 0.0 < opacity <= 1.0:
        raise OptionError(f"opacity must be in (0, 1], got {opacity}", name="opacity", value=opacity)
    angle = _number(angle, "angle")
    if not -90.0 <= angle <= 90.0:
        raise OptionError(f"angle must be in [-90, 90] degrees, got {angle}", name="angle", value=angle)
    font_size = _number(font_size, "font_size")
    if not 4.0 <= font_size <= _MAX_FONT_SIZE:
        raise OptionError(f"font_size must be in [4, {_MAX_FONT_SIZE:g}] pixels, got {font_size}", name="font_size", value=font_size)
    try:
        rgb = tuple(int(c) for c in color)
        valid = len(rgb) == 3 and all(0 <= c <= 255 for c in rgb) and all(
            not isinstance(c, bool) and float(c) == int(c) for c in color
        )
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise OptionError(f"color must be three ints in 0..255 (R, G, B), got {color!r}", name="color", value=color)
    spacing = _number(spacing, "spacing")
    if not 0.0 <= spacing <= _MAX_SPACING:
        raise OptionError(f"spacing must be in [0, {_MAX_SPACING:g}] font sizes, got {spacing}", name="spacing", value=spacing)
    return _Style(lines, opacity, angle, font_size, rgb, spacing)  # type: ignore[arg-type]


@functools.lru_cache(maxsize=32)
def _font(size: int) -> Any:
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def _line_widths(lines: tuple[str, ...], font_size: float) -> list[float]:
    font = _font(max(1, round(font_size)))
    return [float(font.getlength(line)) * font_size / max(1, round(font_size)) for line in lines]


def _periods(style: _Style) -> tuple[float, float, float, float]:
    """(block width, block height, period along the text, row pitch), in pixels."""
    width = max(_line_widths(style.lines, style.font_size)) * _TEXT_WIDTH_MARGIN
    height = len(style.lines) * _LINE_HEIGHT * style.font_size
    gap = style.spacing * style.font_size
    return width, height, width + gap, height + gap


@functools.lru_cache(maxsize=8)
def _coverage(style: _Style, width: int, height: int) -> NDArray[np.float32]:
    """Text coverage in [0, 1] over a ``height`` x ``width`` frame (cached, read-only)."""
    from PIL import Image, ImageDraw

    block_w, block_h, period_u, period_v = _periods(style)
    size = max(1, round(style.font_size))
    font = _font(size)
    pad = 2
    sprite = Image.new("L", (math.ceil(block_w) + 2 * pad, math.ceil(block_h) + 2 * pad), 0)
    draw = ImageDraw.Draw(sprite)
    pitch = _LINE_HEIGHT * style.font_size
    for i, line in enumerate(style.lines):
        draw.text((sprite.width / 2, pad + (i + 0.5) * pitch), line, font=font, fill=255, anchor="mm")
    rotated = np.asarray(sprite.rotate(style.angle, resample=Image.Resampling.BICUBIC, expand=True), dtype=np.float32) / 255.0
    rh, rw = rotated.shape
    theta = math.radians(style.angle)
    # Unit vectors of the text frame in image coordinates (y down).
    u = np.array([math.cos(theta), -math.sin(theta)])
    v = np.array([math.sin(theta), math.cos(theta)])
    corners = np.array([[0, 0], [width, 0], [0, height], [width, height]], dtype=np.float64)
    centre = np.array([width / 2.0, height / 2.0])
    proj_u, proj_v = (corners - centre) @ u, (corners - centre) @ v
    reach = math.hypot(rw, rh) / 2.0
    j_range = range(math.floor((proj_v.min() - reach) / period_v), math.ceil((proj_v.max() + reach) / period_v) + 1)
    i_lo = math.floor((proj_u.min() - reach) / period_u) - 1
    i_hi = math.ceil((proj_u.max() + reach) / period_u) + 1
    out = np.zeros((height, width), dtype=np.float32)
    for j in j_range:
        for i in range(i_lo, i_hi + 1):
            c = centre + (i + 0.5 * (j % 2)) * period_u * u + j * period_v * v
            x0, y0 = round(c[0] - rw / 2.0), round(c[1] - rh / 2.0)
            sx0, sy0 = max(0, -x0), max(0, -y0)
            dx0, dy0 = max(0, x0), max(0, y0)
            dx1, dy1 = min(width, x0 + rw), min(height, y0 + rh)
            if dx1 <= dx0 or dy1 <= dy0:
                continue
            region = out[dy0:dy1, dx0:dx1]
            np.maximum(region, rotated[sy0:sy0 + dy1 - dy0, sx0:sx0 + dx1 - dx0], out=region)
    out.setflags(write=False)
    return out


def visible_mark_text(display_name: str, viewer_id: int, timestamp: datetime, *, label: str = DEFAULT_VISIBLE_LABEL) -> str:
    """The standard two-line text of the visible mark.

    Parameters
    ----------
    display_name : str
        The viewer's name as employees know it.
    viewer_id : int
        The viewer ID carried by the invisible mark.
    timestamp : datetime
        When the screen was rendered; timezone-aware. Shown in UTC to the
        minute, as the invisible mark stores it.
    label : str, keyword-only
        A notice appended to the second line; empty for none.

    Returns
    -------
    str
        ``"{display_name} · ID {viewer_id}\\n{YYYY-MM-DD HH:MM} UTC · {label}"``.

    Raises
    ------
    ValueError
        If ``timestamp`` is naive.

    Examples
    --------
    >>> t = datetime(2026, 3, 1, 9, 30, 42, tzinfo=timezone.utc)
    >>> print(visible_mark_text("Dr. Marek Lindqvist", 4821, t, label="CONFIDENTIAL"))
    Dr. Marek Lindqvist · ID 4821
    2026-03-01 09:30 UTC · CONFIDENTIAL
    """
    if not isinstance(timestamp, datetime):
        raise OptionTypeError(f"timestamp must be a datetime, got {type(timestamp).__name__}", name="timestamp", value=timestamp)
    if timestamp.tzinfo is None or timestamp.utcoffset() is None:
        raise OptionError("timestamp must be timezone-aware (e.g. datetime.now(timezone.utc))", name="timestamp", value=timestamp)
    when = timestamp.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    name = " ".join(str(display_name).split())
    second = f"{when} · {label.strip()}" if label and label.strip() else when
    return f"{name} · ID {int(viewer_id)}\n{second}"


def visible_mark(
    image: Any,
    text: str,
    *,
    opacity: float = DEFAULT_OPACITY,
    angle: float = DEFAULT_ANGLE,
    font_size: float | None = None,
    color: tuple[int, int, int] = DEFAULT_COLOR,
    spacing: float = DEFAULT_SPACING,
) -> Any:
    """Tile semi-transparent diagonal ``text`` over ``image``.

    Parameters
    ----------
    image : ndarray or PIL.Image.Image
        HxWx3 RGB (or HxWx4 RGBA, alpha kept), uint8 or float in [0, 1], at
        least 256x256 pixels.
    text : str
        The text; one line per ``\\n``. :func:`visible_mark_text` builds the
        usual one.
    opacity : float, keyword-only
        Blend weight of ``color`` where the text is solid, in (0, 1].
    angle : float, keyword-only
        Degrees counter-clockwise from horizontal, in [-90, 90].
    font_size : float, keyword-only
        Pixels; default ``max(12, min(height, width) / 40)``.
    color : (int, int, int), keyword-only
        Text colour, RGB.
    spacing : float, keyword-only
        Blank space between copies and between rows, in font sizes.

    Returns
    -------
    ndarray or PIL.Image.Image
        The marked image, of the same type, shape and dtype as ``image``.

    Raises
    ------
    ImageError
        For an unsupported image (see :func:`watermark.embed`).
    ValueError, TypeError
        For an option out of range, naming it.

    Notes
    -----
    Each pixel becomes ``(1 - o c) p + o c k`` with ``o`` the opacity, ``c``
    the antialiased text coverage and ``k`` the colour. Apply it *after*
    :func:`watermark.embed`: the decoder treats the text strokes as content
    (missing data) and reads the invisible mark between and under them.

    Examples
    --------
    >>> import numpy as np
    >>> screen = np.full((400, 600, 3), 255, np.uint8)
    >>> out = visible_mark(screen, "Dr. Lindqvist · ID 4821", opacity=0.2)
    >>> out.shape, int(out.min()) < 255
    ((400, 600, 3), True)
    """
    rgb, _, restore = as_rgb_uint8(image)
    h, w = rgb.shape[:2]
    if font_size is None:
        font_size = max(12.0, round(min(h, w) / 40.0))
    style = _style(text, opacity, angle, font_size, color, spacing)
    weight = _coverage(style, w, h) * np.float32(style.opacity)
    ink = np.asarray(style.color, dtype=np.float32)
    out = rgb.astype(np.float32)
    out += weight[:, :, None] * (ink - out)
    return restore(np.clip(np.rint(out), 0, 255).astype(np.uint8))


def visible_mark_svg(
    text: str,
    *,
    opacity: float = DEFAULT_OPACITY,
    angle: float = DEFAULT_ANGLE,
    font_size: float = DEFAULT_CSS_FONT_SIZE,
    color: tuple[int, int, int] = DEFAULT_COLOR,
    spacing: float = DEFAULT_SPACING,
) -> str:
    """The mark as a standalone SVG document that fills whatever box shows it.

    Parameters
    ----------
    text, opacity, angle, color, spacing
        As for :func:`visible_mark`.
    font_size : float, keyword-only
        CSS pixels.

    Returns
    -------
    str
        An ``<svg>`` of width and height 100% holding a rotated text pattern;
        one SVG user unit is one CSS pixel.

    Raises
    ------
    ValueError, TypeError
        For an option out of range, naming it.

    Notes
    -----
    Each line's ``textLength`` is fixed to its width in Pillow's bundled
    font, so the pattern period is the same whatever font the browser picks
    and copies never overlap.

    Examples
    --------
    >>> svg = visible_mark_svg("ID 4821 <test>", angle=45)
    >>> svg.startswith("<svg") and "ID 4821 &lt;test&gt;" in svg and "rotate(-45" in svg
    True
    """
    style = _style(text, opacity, angle, font_size, color, spacing)
    _, block_h, period_u, period_v = _periods(style)
    widths = [wd * _TEXT_WIDTH_MARGIN for wd in _line_widths(style.lines, style.font_size)]
    pitch = _LINE_HEIGHT * style.font_size

    def block(cx: float, cy: float) -> str:
        top = cy - block_h / 2.0
        parts = []
        for i, (line, wd) in enumerate(zip(style.lines, widths)):
            y = top + (i + 0.5) * pitch
            parts.append(
                f'<text x="{cx:.2f}" y="{y:.2f}" textLength="{wd:.2f}" lengthAdjust="spacingAndGlyphs">'
                f"{_xml_escape(line)}</text>"
            )
        return "".join(parts)

    # One pattern cell holds a full copy in the first row and the two halves
    # of the shifted copy of the second row, which meet across the cell edge.
    cells = block(period_u / 2.0, period_v / 2.0) + block(0.0, 1.5 * period_v) + block(period_u, 1.5 * period_v)
    r, g, b = style.color
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="100%" height="100%">'
        f'<defs><pattern id="leaktrace-visible" patternUnits="userSpaceOnUse" width="{period_u:.2f}" '
        f'height="{2 * period_v:.2f}" patternTransform="rotate({-style.angle:g})">'
        f'<g font-family="{_SVG_FONTS}" font-size="{style.font_size:g}" fill="rgb({r},{g},{b})" '
        f'fill-opacity="{style.opacity:g}" text-anchor="middle" dominant-baseline="central">{cells}</g>'
        "</pattern></defs>"
        '<rect width="100%" height="100%" fill="url(#leaktrace-visible)"/></svg>'
    )


def visible_mark_css(
    text: str,
    *,
    opacity: float = DEFAULT_OPACITY,
    angle: float = DEFAULT_ANGLE,
    font_size: float = DEFAULT_CSS_FONT_SIZE,
    color: tuple[int, int, int] = DEFAULT_COLOR,
    spacing: float = DEFAULT_SPACING,
    z_index: int = 2147483000,
) -> str:
    """CSS declarations for a full-viewport, click-through layer showing the mark.

    Parameters
    ----------
    text, opacity, angle, font_size, color, spacing
        As for :func:`visible_mark_svg`.
    z_index : int, keyword-only
        Stacking order; keep the invisible overlay above it.

    Returns
    -------
    str
        ``position:fixed; inset:0; pointer-events:none`` and the SVG of
        :func:`visible_mark_svg` as a data-URI background, printed with the
        page (``print-color-adjust: exact``). Put it in a ``style`` attribute
        (escaped, as :func:`visible_mark_html` does) or a rule.

    Raises
    ------
    ValueError, TypeError
        For an option out of range, naming it.

    Examples
    --------
    >>> css = visible_mark_css("ID 4821")
    >>> "position:fixed" in css and "pointer-events:none" in css and "data:image/svg+xml," in css
    True
    """
    if isinstance(z_index, bool) or not isinstance(z_index, int):
        raise OptionTypeError(f"z_index must be an int, got {type(z_index).__name__}", name="z_index", value=z_index)
    svg = visible_mark_svg(text, opacity=opacity, angle=angle, font_size=font_size, color=color, spacing=spacing)
    uri = "data:image/svg+xml," + urllib.parse.quote(svg, safe=" =:/,;()")
    return (
        f"position:fixed;inset:0;pointer-events:none;z-index:{z_index};"
        f'background-image:url("{uri}");background-repeat:no-repeat;background-size:100% 100%;'
        "-webkit-print-color-adjust:exact;print-color-adjust:exact;"
    )


def visible_mark_html(
    text: str,
    *,
    opacity: float = DEFAULT_OPACITY,
    angle: float = DEFAULT_ANGLE,
    font_size: float = DEFAULT_CSS_FONT_SIZE,
    color: tuple[int, int, int] = DEFAULT_COLOR,
    spacing: float = DEFAULT_SPACING,
    z_index: int = 2147483000,
) -> str:
    """A ready ``<div>`` carrying :func:`visible_mark_css`, to put at the end of ``<body>``.

    Parameters
    ----------
    text, opacity, angle, font_size, color, spacing, z_index
        As for :func:`visible_mark_css`.

    Returns
    -------
    str
        ``<div class="leaktrace-visible-mark" aria-hidden="true" style="...">``
        with the style escaped for an HTML attribute.

    Raises
    ------
    ValueError, TypeError
        For an option out of range, naming it.

    Examples
    --------
    >>> visible_mark_html("ID 4821").startswith('<div class="leaktrace-visible-mark" aria-hidden="true"')
    True
    """
    css = visible_mark_css(
        text, opacity=opacity, angle=angle, font_size=font_size, color=color, spacing=spacing, z_index=z_index
    )
    return f'<div class="leaktrace-visible-mark" aria-hidden="true" style="{html.escape(css, quote=True)}"></div>'

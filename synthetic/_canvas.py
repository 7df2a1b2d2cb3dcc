"""A drawing canvas for EMR screens: colour themes, fonts and the widgets screens are built from."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Sequence, Union

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

RGB = tuple[int, int, int]
Cell = Union[str, tuple[str, RGB]]
"""A table cell: text, or ``(text, colour)`` for a highlighted value."""
Row = Union[str, Sequence[Cell]]
"""A table row: its cells, or a ``str`` for a section row spanning the table."""
Column = Union[tuple[str, float], tuple[str, float, str]]
"""A table column: ``(header, width weight)``, with a third item ``"r"`` to right-align."""
Box = Sequence[float]
"""``(x0, y0, x1, y1)`` in pixels."""


@dataclass(frozen=True)
class Theme:
    """The colours of one EMR look (light or dark)."""

    bg: RGB = (255, 255, 255)
    panel: RGB = (244, 246, 249)
    text: RGB = (31, 35, 40)
    muted: RGB = (98, 106, 116)
    border: RGB = (206, 212, 220)
    header: RGB = (232, 237, 243)
    row_alt: RGB = (247, 249, 252)
    banner: RGB = (235, 242, 250)
    title_bar: RGB = (22, 58, 99)
    title_text: RGB = (238, 243, 248)
    accent: RGB = (0, 100, 178)
    accent_soft: RGB = (221, 235, 250)
    danger: RGB = (196, 28, 28)
    danger_soft: RGB = (253, 230, 230)
    warn: RGB = (190, 100, 0)
    warn_soft: RGB = (255, 240, 212)
    ok: RGB = (28, 128, 60)
    ref_band: RGB = (226, 243, 231)
    series: tuple[RGB, ...] = ((0, 100, 178), (214, 88, 30), (118, 78, 170))


LIGHT = Theme()
DARK = Theme(bg=(30, 31, 34), panel=(40, 42, 46), text=(224, 227, 231), muted=(150, 156, 163),
             border=(66, 69, 75), header=(49, 52, 57), row_alt=(35, 37, 40),
             banner=(38, 45, 56), title_bar=(19, 20, 23), title_text=(214, 219, 224),
             accent=(80, 160, 250), accent_soft=(36, 56, 84), danger=(255, 110, 110),
             danger_soft=(78, 36, 38), warn=(255, 178, 70), warn_soft=(76, 57, 28),
             ok=(100, 200, 122), ref_band=(36, 58, 44),
             series=((80, 160, 250), (255, 150, 90), (190, 150, 255)))


@functools.lru_cache(maxsize=64)
def load_font(size: int) -> ImageFont.FreeTypeFont:
    """Pillow's bundled scalable font at ``size`` pixels (needs Pillow built with FreeType)."""
    loaded = ImageFont.load_default(size=size)
    if not isinstance(loaded, ImageFont.FreeTypeFont):  # pragma: no cover - Pillow without FreeType
        raise ImportError("the EMR screen renderer needs Pillow with FreeType support (Pillow >= 10.1)")
    return loaded


def fit(text: str, font: ImageFont.FreeTypeFont, width: float) -> str:
    """Shorten ``text`` with an ellipsis so that it fits in ``width`` pixels."""
    if font.getlength(text) <= width:
        return text
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if font.getlength(text[:mid] + "…") <= width else (lo, mid - 1)
    return text[:lo].rstrip() + "…" if lo else ""


def wrap(text: str, font: ImageFont.FreeTypeFont, width: float) -> list[str]:
    """Break ``text`` into lines of at most ``width`` pixels, at spaces."""
    lines: list[str] = []
    cur = ""
    for word in text.split():
        trial = f"{cur} {word}" if cur else word
        if cur and font.getlength(trial) > width:
            lines.append(cur)
            cur = word
        else:
            cur = trial
    return lines + [cur] if cur else lines


def nice_ticks(lo: float, hi: float, n: int = 5) -> NDArray[np.float64]:
    """About ``n`` round tick values (steps of 1, 2, 2.5 or 5 times a power of ten) covering [lo, hi]."""
    hi = max(hi, lo + 1e-6)
    raw = (hi - lo) / n
    mag = 10.0 ** np.floor(np.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    return np.arange(np.floor(lo / step) * step, np.ceil(hi / step) * step + step / 2, step)


class Screen:
    """A canvas with a theme, a base font size ``u`` (the layout unit) and widgets."""

    def __init__(self, size: tuple[int, int], theme: Theme, rng: np.random.Generator) -> None:
        self.w, self.h = size
        self.t, self.rng = theme, rng
        self.u = max(8, round(14 * min(self.w / 1920, self.h / 1080) ** 0.6))
        self.img = Image.new("RGB", size, theme.bg)
        self.d = ImageDraw.Draw(self.img)

    def font(self, rel: float = 1.0) -> ImageFont.FreeTypeFont:
        """The font at ``rel`` times the layout unit."""
        return load_font(max(7, round(self.u * rel)))

    def text(self, xy: tuple[float, float], text: str, *, rel: float = 1.0,
             fill: RGB | None = None, bold: bool = False, width: float | None = None,
             anchor: str = "lm") -> float:
        """Draw one line of text (fitted to ``width``); return its advance width."""
        font = self.font(rel)
        if width is not None:
            text = fit(text, font, width)
        fill = fill or self.t.text
        self.d.text(xy, text, font=font, fill=fill, anchor=anchor,
                    stroke_width=0.028 * font.size if bold else 0, stroke_fill=fill)
        return font.getlength(text)

    def button(self, x: float, y: float, label: str, *, primary: bool = False,
               icon: RGB | None = None) -> float:
        """A rounded button at ``(x, y)``, optionally with a coloured icon; return its width."""
        u, t = self.u, self.t
        w = self.font(0.92).getlength(label) + 1.8 * u + (1.3 * u if icon else 0)
        h = round(1.9 * u)
        self.d.rounded_rectangle((x, y, x + w, y + h), radius=u // 3,
                                 fill=t.accent if primary else t.panel, outline=t.border)
        tx = x + 0.9 * u
        if icon:
            s = 0.45 * u
            self.d.rounded_rectangle((tx, y + h / 2 - s, tx + 2 * s, y + h / 2 + s), radius=2,
                                     fill=icon)
            tx += 1.3 * u
        self.text((tx, y + h / 2), label, rel=0.92, fill=(255, 255, 255) if primary else t.text)
        return w

    def badge(self, x: float, y: float, label: str, fg: RGB, bg: RGB, maxw: float) -> float:
        """A coloured pill label fitted to ``maxw``; return its width."""
        font, u = self.font(0.88), self.u
        label = fit(label, font, maxw - 1.4 * u)
        w = font.getlength(label) + 1.4 * u
        if label:
            self.d.rounded_rectangle((x, y, x + w, y + 1.6 * u), radius=u // 2, fill=bg, outline=fg)
            self.text((x + 0.7 * u, y + 0.8 * u), label, rel=0.88, fill=fg, bold=True)
        return w

    def section(self, x0: float, y: float, x1: float, title: str, right: str = "") -> int:
        """A section heading with an optional right-aligned note and a rule; return the y below it."""
        u = self.u
        self.text((x0, y + 0.9 * u), title, rel=1.12, bold=True, width=x1 - x0)
        if right:
            self.text((x1, y + 0.9 * u), right, rel=0.88, fill=self.t.muted, anchor="rm")
        self.d.line((x0, y + 1.9 * u, x1, y + 1.9 * u), fill=self.t.border)
        return round(y + 2.4 * u)

    def table(self, box: Box, cols: Sequence[Column], rows: Sequence[Row],
              *, selected: int = -1, rel: float = 0.95) -> int:
        """Grid table; a ``str`` row is a section row. Return the bottom edge."""
        x0, y0, x1, y1 = (int(v) for v in box)
        t, u = self.t, self.u
        rh = round(1.75 * u * rel)
        wts = np.array([c[1] for c in cols], float)
        xs = np.round(x0 + np.concatenate([[0], np.cumsum(wts)]) / wts.sum() * (x1 - x0))
        xs = xs.astype(int)
        n = int(max(0, min(len(rows), (y1 - y0) // rh - 1)))
        self.d.rectangle((x0, y0, x1, y0 + rh), fill=t.header)
        for r, row in enumerate([None, *rows[:n]]):
            y = y0 + r * rh
            if isinstance(row, str):
                self.d.rectangle((x0, y, x1, y + rh), fill=t.accent_soft)
                self.text((x0 + 0.5 * u, y + rh / 2), row, rel=rel, bold=True, width=x1 - x0 - u)
                continue
            if r - 1 == selected:
                self.d.rectangle((x0, y, x1, y + rh), fill=t.accent_soft)
            elif r and r % 2 == 0:
                self.d.rectangle((x0, y, x1, y + rh), fill=t.row_alt)
            for x in xs[1:-1]:
                self.d.line((x, y, x, y + rh), fill=t.border)
            self._cells(xs, y, rh, cols, row, rel)
        yb = y0 + (n + 1) * rh
        for r in range(1, n + 1):
            self.d.line((x0, y0 + r * rh, x1, y0 + r * rh), fill=t.border)
        self.d.rectangle((x0, y0, x1, yb), outline=t.border)
        return yb

    def _cells(self, xs: NDArray[np.int_], y: int, rh: int, cols: Sequence[Column],
               row: Sequence[Cell] | None, rel: float) -> None:
        """The cells of one table row (the header when ``row`` is None)."""
        t, u = self.t, self.u
        cells: Sequence[Cell] = [c[0] for c in cols] if row is None else row
        for i, cell in enumerate(cells[:len(cols)]):
            text, fill = (cell, None) if isinstance(cell, str) else cell
            right = cols[i][2:] == ("r",)
            pad, cw = 0.45 * u, xs[i + 1] - xs[i] - 0.9 * u
            xy = (xs[i + 1] - pad, y + rh / 2) if right else (xs[i] + pad, y + rh / 2)
            self.text(xy, text, rel=rel, fill=fill or (t.muted if row is None else None),
                      bold=row is None or fill is not None, width=cw,
                      anchor="rm" if right else "lm")

    def chart(self, box: Box, title: str, xlabels: Sequence[str],
              series: Sequence[tuple[str, NDArray[np.float64]]], *,
              ref: tuple[float, float] | None = None, units: str = "") -> None:
        """Line chart with a reference band, gridlines, ticks and a legend."""
        x0, y0, x1, y1 = (int(v) for v in box)
        t, u, d = self.t, self.u, self.d
        d.rectangle((x0, y0, x1, y1), fill=t.bg, outline=t.border)
        title = f"{title} ({units})" if units else title
        self.text((x0 + 0.8 * u, y0 + 1.1 * u), title, bold=True, width=(x1 - x0) / 2)
        lx = x1 - 0.8 * u
        for (name, _), color in reversed(list(zip(series, t.series))):
            lx -= self.text((lx, y0 + 1.1 * u), name, rel=0.85, fill=t.muted, anchor="rm") + 2.6 * u
            d.line((lx + 0.5 * u, y0 + 1.1 * u, lx + 2 * u, y0 + 1.1 * u), fill=color, width=3)
        px0, px1, py0, py1 = x0 + 4 * u, x1 - 1.2 * u, y0 + 3 * u, y1 - 2.2 * u
        if px1 - px0 < 4 * u or py1 - py0 < 3 * u:
            return
        values = np.concatenate([np.asarray(v, float) for _, v in series] + [np.array(ref or [])])
        nticks = max(2, min(6, int((py1 - py0) / (2 * u))))
        ticks = nice_ticks(values.min(), values.max(), n=nticks)
        lo, hi = ticks[0], ticks[-1]

        def ymap(v: NDArray[np.float64] | float) -> NDArray[np.float64]:
            return py1 - (np.asarray(v, float) - lo) / (hi - lo) * (py1 - py0)

        if ref is not None:
            d.rectangle((px0, float(ymap(ref[1])), px1, float(ymap(ref[0]))), fill=t.ref_band)
        for tk in ticks:
            y = float(ymap(tk))
            d.line((px0, y, px1, y), fill=t.border)
            self.text((px0 - 0.5 * u, y), f"{tk:g}", rel=0.8, fill=t.muted, anchor="rm")
        n = len(xlabels)
        xs = np.linspace(px0 + u, px1 - u, n)
        step = int(np.ceil(n * (self.font(0.8).getlength(max(xlabels, key=len)) + u) / (px1 - px0)))
        for i in range(n):
            d.line((xs[i], py1, xs[i], py1 + 0.35 * u), fill=t.muted)
            if i % max(1, step) == 0:
                self.text((xs[i], py1 + 1.1 * u), xlabels[i], rel=0.8, fill=t.muted, anchor="mm")
        d.line((px0, py0, px0, py1, px1, py1), fill=t.muted)
        r = max(2, u // 5)
        for (_, vals), color in zip(series, t.series):
            pts = list(zip(xs.tolist(), ymap(vals).tolist()))
            d.line(pts, fill=color, width=max(2, u // 7), joint="curve")
            for x, y in pts:
                d.ellipse((x - r, y - r, x + r, y + r), fill=t.bg, outline=color, width=2)

    def paragraphs(self, box: Box, blocks: Sequence[tuple[str, str]]) -> int:
        """Headed, word-wrapped paragraphs; stops at the box bottom. Return the bottom edge."""
        x0, y, x1, y1 = box
        u, font = self.u, self.font()
        lh = round(1.45 * u)
        for head, body in blocks:
            if y + 2 * lh > y1:
                break
            self.text((x0, y + lh / 2), head, bold=True, fill=self.t.accent)
            y += lh
            for line in wrap(body, font, x1 - x0):
                if y + lh > y1:
                    return int(y)
                self.text((x0, y + lh / 2), line)
                y += lh
            y += 0.5 * lh
        return int(y)

    def card(self, box: Box, title: str) -> tuple[int, int, int, int]:
        """A titled, rounded panel; return its content box."""
        x0, y0, x1, y1 = (int(v) for v in box)
        u = self.u
        self.d.rounded_rectangle((x0, y0, x1, y1), radius=u // 2, fill=self.t.bg,
                                 outline=self.t.border)
        self.text((x0 + u, y0 + 1.2 * u), title, rel=1.05, bold=True, width=x1 - x0 - 2 * u)
        self.d.line((x0, y0 + round(2.4 * u), x1, y0 + round(2.4 * u)), fill=self.t.border)
        return x0 + u, y0 + round(3 * u), x1 - u, y1 - u

"""The visible deterrent mark: what employees see, and that the invisible mark survives it."""

from __future__ import annotations

import io
import urllib.parse
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from PIL import Image

import watermark
from synthetic import render_screen

TEXT = "Dr. Anselm Quist · ID 4821\n2026-03-01 09:30 UTC · CONFIDENTIAL"
WHITE = np.full((600, 900, 3), 255, np.uint8)


def test_text_names_viewer_id_and_minute_in_utc():
    local = timezone(timedelta(hours=2))
    text = watermark.visible_mark_text("Dr. Anselm Quist", 4821, datetime(2026, 3, 1, 11, 30, 59, tzinfo=local))
    assert text == f"Dr. Anselm Quist · ID 4821\n2026-03-01 09:30 UTC · {watermark.DEFAULT_VISIBLE_LABEL}"


def test_text_label_is_configurable_and_optional():
    t = datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc)
    assert watermark.visible_mark_text("A", 1, t, label="Northwind · do not photograph").endswith(
        "UTC · Northwind · do not photograph"
    )
    assert watermark.visible_mark_text("A", 1, t, label="").endswith("09:30 UTC")


def test_text_rejects_naive_time():
    with pytest.raises(ValueError, match="timezone-aware"):
        watermark.visible_mark_text("A", 1, datetime(2026, 3, 1, 9, 30))


def test_mark_darkens_white_by_exactly_the_opacity():
    out = watermark.visible_mark(WHITE, TEXT, opacity=0.2, color=(0, 0, 0))
    assert out.shape == WHITE.shape and out.dtype == np.uint8
    assert int(out.min()) == round(255 * 0.8)
    assert (out >= round(255 * 0.8)).all()
    changed = (out < 255).any(axis=2).mean()
    assert 0.03 < changed < 0.5  # text, not a wash over the whole screen


def test_mark_is_tiled_over_the_whole_image():
    out = watermark.visible_mark(np.full((1080, 1920, 3), 255, np.uint8), TEXT)
    marked = (out < 250).any(axis=2)
    blocks = marked.reshape(1080 // 180, 180, 1920 // 240, 240).any(axis=(1, 3))
    assert blocks.all(), "every part of the screen shows the deterrent"


def test_angle_zero_gives_horizontal_text_rows():
    flat = watermark.visible_mark(WHITE, TEXT, angle=0, opacity=0.5)
    tilted = watermark.visible_mark(WHITE, TEXT, angle=30, opacity=0.5)
    empty_rows = lambda img: int(((img < 255).any(axis=2).sum(axis=1) == 0).sum())  # noqa: E731
    assert empty_rows(flat) > 100  # blank bands between rows of text
    assert empty_rows(tilted) < 20  # diagonal text crosses nearly every row


def test_font_size_scales_the_text():
    small = watermark.visible_mark(WHITE, "ID 4821", angle=0, font_size=12, opacity=0.5)
    large = watermark.visible_mark(WHITE, "ID 4821", angle=0, font_size=36, opacity=0.5)

    def row_height(img: np.ndarray) -> int:
        rows = (img < 255).any(axis=2).any(axis=1).astype(int)
        runs = np.diff(np.flatnonzero(np.diff(np.r_[0, rows, 0])))[::2]
        return int(np.median(runs))

    assert 2.2 < row_height(large) / row_height(small) < 3.8


def test_mark_keeps_input_type_and_alpha():
    rgba = np.dstack([WHITE, np.full(WHITE.shape[:2], 77, np.uint8)])
    out = watermark.visible_mark(rgba, TEXT)
    assert out.shape == rgba.shape and (out[:, :, 3] == 77).all()
    pil = watermark.visible_mark(Image.fromarray(WHITE), TEXT)
    assert isinstance(pil, Image.Image) and pil.mode == "RGB"
    as_float = watermark.visible_mark(WHITE.astype(np.float32) / 255, TEXT)
    assert as_float.dtype == np.float32 and 0.0 <= as_float.min() < 1.0


@pytest.mark.parametrize("kind", ["medications", "notes", "summary_dashboard"])
@pytest.mark.parametrize("opacity", [0.12, 0.25])
def test_invisible_mark_decodes_with_visible_mark_on_top(kind, opacity, payload, key):
    screen = render_screen(kind, size=(1366, 768), seed=11)
    text = watermark.visible_mark_text("Dr. Anselm Quist", payload.viewer_id, payload.timestamp)
    stamped = watermark.visible_mark(watermark.embed(screen, payload, key), text, opacity=opacity)
    buf = io.BytesIO()
    Image.fromarray(stamped).save(buf, format="JPEG", quality=90)
    for image in (stamped, np.asarray(Image.open(buf))):
        result = watermark.extract(image, key)
        assert result.found and result.payload == payload


def test_svg_is_well_formed_rotated_and_escapes_text():
    svg = watermark.visible_mark_svg('Eve <script>"x"</script> & co', angle=25, font_size=18, opacity=0.1,
                                     color=(10, 20, 30))
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    pattern = root.find(f"{ns}defs/{ns}pattern")
    assert pattern is not None and pattern.get("patternTransform") == "rotate(-25)"
    group = pattern.find(f"{ns}g")
    assert group.get("font-size") == "18" and group.get("fill-opacity") == "0.1" and group.get("fill") == "rgb(10,20,30)"
    texts = [t.text for t in pattern.iter(f"{ns}text")]
    assert len(texts) == 3 and set(texts) == {'Eve <script>"x"</script> & co'}
    assert "<script>" not in svg


def test_css_layer_is_fixed_full_viewport_and_click_through():
    css = watermark.visible_mark_css(TEXT, opacity=0.15)
    for declaration in ("position:fixed", "inset:0", "pointer-events:none", "print-color-adjust:exact"):
        assert declaration in css
    uri = css.split('url("', 1)[1].split('")', 1)[0]
    assert uri.startswith("data:image/svg+xml,") and "#" not in uri and '"' not in uri
    ET.fromstring(urllib.parse.unquote(uri.split(",", 1)[1]))


def test_html_layer_escapes_its_style_attribute():
    html = watermark.visible_mark_html('O"Brien <b>')
    assert html.startswith('<div class="leaktrace-visible-mark" aria-hidden="true" style="')
    assert html.count('"') == 6  # class, aria-hidden and style values only
    assert "<b>" not in html


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"opacity": 0.0}, "opacity must be in"),
        ({"opacity": 1.5}, "opacity must be in"),
        ({"angle": 120}, "angle must be in"),
        ({"font_size": 2}, "font_size must be in"),
        ({"color": (300, 0, 0)}, "color must be three ints"),
        ({"color": (1, 2)}, "color must be three ints"),
        ({"spacing": -1}, "spacing must be in"),
    ],
)
def test_invalid_options_are_rejected(options, match):
    with pytest.raises(ValueError, match=match):
        watermark.visible_mark(WHITE, TEXT, **options)
    with pytest.raises(ValueError, match=match):
        watermark.visible_mark_css(TEXT, **options)


def test_blank_text_is_rejected():
    with pytest.raises(ValueError, match="at least one non-blank line"):
        watermark.visible_mark_svg("  \n ")
    with pytest.raises(TypeError, match="text must be a str"):
        watermark.visible_mark(WHITE, 4821)

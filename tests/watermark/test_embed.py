from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import watermark
from watermark import ImageError


def _luma_psnr(a: np.ndarray, b: np.ndarray) -> float:
    diff = (a.astype(np.float64) - b.astype(np.float64)) @ np.array([0.299, 0.587, 0.114])
    return 10 * np.log10(255.0**2 / np.mean(diff**2))


def test_embed_keeps_shape_dtype_and_is_imperceptible(screen, marked):
    assert marked.shape == screen.shape and marked.dtype == np.uint8
    assert _luma_psnr(screen, marked) >= 42.0
    assert np.abs(marked.astype(int) - screen.astype(int)).max() <= 6


def test_embed_changes_luma_only(screen, marked):
    diff = marked.astype(int) - screen.astype(int)
    unclipped = (screen > 10).all(axis=2) & (screen < 245).all(axis=2)
    assert np.array_equal(diff[unclipped, 0], diff[unclipped, 1])
    assert np.array_equal(diff[unclipped, 1], diff[unclipped, 2])


def test_embed_is_deterministic_and_payload_dependent(screen, payload, key, marked):
    assert np.array_equal(watermark.embed(screen, payload, key), marked)
    other = watermark.embed(screen, payload.replace(viewer_id=4822), key)
    assert not np.array_equal(other, marked)


def test_embed_accepts_pil_and_returns_pil(screen, payload, key, marked):
    out = watermark.embed(Image.fromarray(screen), payload, key)
    assert isinstance(out, Image.Image) and out.mode == "RGB"
    assert np.array_equal(np.asarray(out), marked)


def test_embed_keeps_alpha(screen, payload, key, marked):
    rgba = np.dstack([screen, np.full(screen.shape[:2], 200, np.uint8)])
    out = watermark.embed(rgba, payload, key)
    assert out.shape[2] == 4 and (out[:, :, 3] == 200).all()
    assert np.array_equal(out[:, :, :3], marked)


def test_embed_accepts_float_in_unit_range(screen, payload, key, marked):
    out = watermark.embed(screen.astype(np.float32) / 255, payload, key)
    assert out.dtype == np.float32
    assert np.array_equal(np.rint(out * 255).astype(np.uint8), marked)


@pytest.mark.parametrize(
    "image, message",
    [
        (np.zeros((512, 512), np.uint8), "HxWx3"),
        (np.zeros((512, 512, 2), np.uint8), "HxWx3"),
        (np.zeros((100, 512, 3), np.uint8), "at least 256x256"),
        (np.full((512, 512, 3), 2.0, np.float32), r"\[0, 1\]"),
        (np.zeros((512, 512, 3), np.int32), "uint8 or float"),
        ("screen.png", "numpy array or a PIL image"),
    ],
)
def test_embed_rejects_bad_images_with_a_clear_message(image, message, payload, key):
    with pytest.raises(ImageError, match=message):
        watermark.embed(image, payload, key)


def test_embed_rejects_bad_strength(screen, payload, key):
    with pytest.raises(ValueError, match="strength"):
        watermark.embed(screen, payload, key, strength=0)


def test_white_screen_carries_mark_without_brightening(payload, key):
    white = np.full((512, 512, 3), 255, np.uint8)
    out = watermark.embed(white, payload, key)
    assert out.max() == 255 and out.min() >= 255 - 6
    assert watermark.extract(out, key).payload == payload


def _composite(layer: np.ndarray, page: np.ndarray) -> np.ndarray:
    """Browser compositing (source-over) in 8 bits: out = a * overlay + (1 - a) * page."""
    a = layer[:, :, 3:].astype(np.float64) / 255.0
    return np.rint(a * layer[:, :, :3] + (1.0 - a) * page).astype(np.uint8)


def test_overlay_composited_over_screens_decodes(screen, payload, key):
    layer = watermark.overlay(payload, key, size=(screen.shape[1], screen.shape[0]))
    assert layer.shape == (*screen.shape[:2], 4) and layer.dtype == np.uint8
    assert (layer[:, :, 0] == layer[:, :, 1]).all() and (layer[:, :, 1] == layer[:, :, 2]).all()
    composited = _composite(layer, screen)
    assert np.abs(composited.astype(int) - screen.astype(int)).max() <= 12  # a few levels and a 3 % contrast at most
    assert watermark.extract(composited, key).payload == payload


@pytest.mark.parametrize("level", [255, 244, 128, 40, 18, 0])
def test_overlay_adds_the_whole_pattern_over_any_background(payload, key, level):
    """Over white, grey, a dark theme's background and black, the layer adds the pattern, both signs, at full size."""
    layer = watermark.overlay(payload, key, size=(512, 512))
    half, _ = watermark.overlay_levels()
    alpha = int(layer[0, 0, 3])
    assert alpha == 2 * half and (layer[:, :, 3] == alpha).all()
    page = np.full((512, 512, 3), level, np.uint8)
    added = _composite(layer, page)[:, :, 0].astype(np.float64) - level * (1 - alpha / 255) - half
    pattern = np.tile(np.rint(watermark.pattern_tile(payload, key)), (2, 2))
    assert np.abs(added - pattern).max() <= 0.5 + 1e-9
    assert watermark.extract(_composite(layer, page), key).payload == payload


def test_overlay_levels_survive_premultiplied_8_bit_compositing():
    for strength in (0.5, 1.0, 1.3, 2.0, 8.0):
        half, greys = watermark.overlay_levels(strength)
        assert greys[0] == 0 and greys[-1] == 255 and len(greys) == 2 * half + 1
        assert [round(int(g) * 2 * half / 255) for g in greys] == list(range(2 * half + 1))


def test_overlay_rejects_small_size(payload, key):
    with pytest.raises(ImageError, match="at least 256x256"):
        watermark.overlay(payload, key, size=(100, 100))

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

import watermark
from synthetic import natural_images, render_screen

RNG_SEED = 7  # crop offsets below depend on it


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def test_png_round_trip_is_exact(marked, key, payload):
    res = watermark.extract(marked, key)
    assert res.found and res.payload == payload
    assert res.offset == (0, 0)
    assert res.false_positive_probability < 1e-11
    assert res.bit_error_rate < 0.1


def test_jpeg50_round_trip(marked, key, payload):
    assert watermark.extract(_jpeg(marked, 50), key).payload == payload


def test_crop_at_random_offset_then_jpeg75(marked, key, payload):
    rng = np.random.default_rng(RNG_SEED)
    for _ in range(3):
        y, x = int(rng.integers(0, marked.shape[0] - 512)), int(rng.integers(0, marked.shape[1] - 512))
        crop = _jpeg(marked[y : y + 512, x : x + 512], 75)
        res = watermark.extract(crop, key)
        assert res.payload == payload
        assert res.offset == (y % 256, x % 256)


def test_unmarked_screen_gives_no_payload(screen, key):
    res = watermark.extract(screen, key)
    assert not res.found and res.payload is None


def test_wrong_key_gives_no_payload(marked, other_key):
    assert watermark.extract(marked, other_key).payload is None


def test_dark_theme_screen_round_trip(key, payload):
    dark = render_screen("dark_theme", size=(1366, 768), seed=1)
    assert watermark.extract(_jpeg(watermark.embed(dark, payload, key), 75), key).payload == payload


def test_natural_image_shown_large_round_trips(key, payload):
    # A photo as a viewer shows it (upscaled to ~1500 px); the 512 px originals
    # hold only four tiles of dense texture, too little area at strength 1.
    name, image = natural_images()[0]
    large = np.asarray(Image.fromarray(image).resize((image.shape[1] * 3, image.shape[0] * 3), Image.BICUBIC))
    assert watermark.extract(_jpeg(watermark.embed(large, payload, key), 85), key).payload == payload, name


def test_extract_rejects_too_small_image(key):
    with pytest.raises(watermark.ImageError, match="at least 256x256"):
        watermark.extract(np.zeros((200, 300, 3), np.uint8), key)


def test_tile_soft_bits_reads_a_stack_as_soft_bits_at_reads_one(marked, key):
    from watermark.decoding import TILE, soft_bits_at, tile_soft_bits

    tiles = np.stack([marked[:TILE, :TILE, 1], marked[TILE : 2 * TILE, :TILE, 1]]).astype(np.float64)
    stacked = tile_soft_bits(tiles, key)
    assert stacked.shape == (2, 256)
    np.testing.assert_allclose(stacked[1], soft_bits_at(tiles[1], key, [(0, 0)])[0])


def test_tile_soft_bits_rejects_a_tile_of_the_wrong_size(key):
    from watermark.decoding import tile_soft_bits

    with pytest.raises(ValueError, match=r"tiles must have shape \(n, 256, 256\), got \(2, 128, 128\)"):
        tile_soft_bits(np.zeros((2, 128, 128)), key)


def test_shifted_bands_equal_the_wavelet_band_of_each_shifted_tile() -> None:
    """The decoder's hill-climb reads every pixel phase from one correlation; it must be the transform it replaces."""
    from watermark._pattern import band_correlation, shifted_bands, tile_to_band

    rng = np.random.default_rng(7)
    tile = rng.normal(size=(256, 256))
    shifts = [(0, 0), (1, -1), (-2, 2), (3, 255), (-300, 7), (128, 64)]
    expected = np.stack([tile_to_band(np.roll(tile, (-dy, -dx), axis=(0, 1))) for dy, dx in shifts])
    got = shifted_bands(band_correlation(tile), shifts)
    assert got.shape == expected.shape == (len(shifts), 64, 64)
    assert np.abs(got - expected).max() < 1e-12 * np.abs(expected).max()

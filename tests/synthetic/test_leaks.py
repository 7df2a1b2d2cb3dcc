"""The leak-channel simulator: screenshots and phone photos of a stamped screen."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import synthetic
import watermark
from synthetic import SCREENSHOT_CHANNELS, Leak, phone_photo_leak, project_points, render_screen, screenshot_leak

LEAK_SEED = 11  # every leak below depends on it (crops, tone, the whole phone chain)
PHOTO_SIZE = (800, 600)  # small phone photos: the chain is the same, only cheaper
WHITE = np.full((240, 320, 3), 255, np.uint8)


@pytest.fixture(scope="module")
def screen() -> np.ndarray:
    return render_screen("labs_chart", size=(640, 400), seed=2)


def _corners(width: int, height: int) -> np.ndarray:
    return np.array([[-0.5, -0.5], [width - 0.5, -0.5], [width - 0.5, height - 0.5], [-0.5, height - 0.5]])


@pytest.mark.parametrize("channel", SCREENSHOT_CHANNELS)
def test_every_screenshot_channel_gives_a_uint8_rgb_leak_named_for_it(screen, channel):
    leak = screenshot_leak(screen, channel, seed=LEAK_SEED)
    assert leak.channel == channel
    assert leak.image.dtype == np.uint8 and leak.image.ndim == 3 and leak.image.shape[2] == 3
    assert leak.homography is not None and leak.homography.shape == (3, 3)
    assert leak.params["output_size"] == [leak.image.shape[1], leak.image.shape[0]]


def test_a_screenshot_leak_is_the_same_for_the_same_seed(screen):
    first = screenshot_leak(screen, "crop_rescale_jpeg", seed=LEAK_SEED)
    again = screenshot_leak(screen, "crop_rescale_jpeg", seed=LEAK_SEED)
    other = screenshot_leak(screen, "crop_rescale_jpeg", seed=LEAK_SEED + 1)
    assert np.array_equal(first.image, again.image) and first.params == again.params
    assert first.params["crop_box_xywh"] != other.params["crop_box_xywh"]


@pytest.mark.parametrize("channel", ["down0.5", "up1.5", "rot90", "rot180"])
def test_screenshot_geometry_maps_the_screen_corners_onto_the_image_corners(screen, channel):
    leak = screenshot_leak(screen, channel, seed=LEAK_SEED)
    h, w = leak.image.shape[:2]
    mapped = project_points(leak, _corners(screen.shape[1], screen.shape[0]))
    assert sorted(map(tuple, np.round(mapped, 6))) == sorted(map(tuple, _corners(w, h)))


def test_a_crop_maps_its_box_origin_to_the_leak_origin(screen):
    leak = screenshot_leak(screen, "crop25", seed=LEAK_SEED)
    x0, y0, cw, ch = leak.params["crop_box_xywh"]
    assert project_points(leak, [[x0, y0]]).tolist() == [[0.0, 0.0]]
    assert np.array_equal(leak.image, screen[y0:y0 + ch, x0:x0 + cw])


def test_a_phone_photo_is_the_same_for_the_same_seed(screen):
    first = phone_photo_leak(screen, seed=LEAK_SEED, photo_size=PHOTO_SIZE)
    again = phone_photo_leak(screen, seed=LEAK_SEED, photo_size=PHOTO_SIZE)
    assert np.array_equal(first.image, again.image)
    assert np.array_equal(first.homography, again.homography)
    assert first.params == again.params


def test_a_phone_photo_has_the_photo_size_and_records_json_parameters(screen):
    leak = phone_photo_leak(screen, level="hard", seed=LEAK_SEED, photo_size=PHOTO_SIZE)
    assert leak.image.shape == (PHOTO_SIZE[1], PHOTO_SIZE[0], 3) and leak.image.dtype == np.uint8
    assert leak.channel == "phone-hard"
    assert json.loads(json.dumps(leak.params)) == leak.params


def test_an_override_fixes_one_parameter_and_leaves_every_other_draw_alone(screen):
    base = phone_photo_leak(screen, seed=LEAK_SEED, photo_size=PHOTO_SIZE)
    turned = phone_photo_leak(screen, seed=LEAK_SEED, photo_size=PHOTO_SIZE, yaw_deg=25.0)
    assert turned.params["yaw_deg"] == 25.0 != base.params["yaw_deg"]
    for name in ("glare_strength", "lens_k1", "electrons_at_white", "jpeg_quality", "sharpen_amount"):
        assert turned.params[name] == base.params[name]


@pytest.mark.parametrize("level", synthetic.PHONE_LEVELS)
def test_photo_geometry_maps_the_screen_corners_onto_the_screen_in_the_photo(level):
    leak = phone_photo_leak(WHITE, level=level, seed=LEAK_SEED, photo_size=PHOTO_SIZE,
                            glare_strength=0.0, reflection_strength=0.0)
    corners = project_points(leak, _corners(320, 240))
    assert np.allclose(corners, leak.params["screen_quad_leaked"])
    h, w = leak.image.shape[:2]
    assert ((corners >= 0) & (corners < (w, h))).all()
    # A little inside each projected corner is the white screen; a little outside, the dark bezel.
    centre = project_points(leak, [[159.5, 119.5]])[0]
    luma = leak.image.mean(axis=2)
    for corner in corners:
        inside = np.rint(corner + 0.06 * (centre - corner)).astype(int)
        outside = np.rint(corner - 0.03 * (centre - corner)).astype(int)
        assert luma[inside[1], inside[0]] > luma[outside[1], outside[0]] + 60


def test_contact_sheet_writes_a_png_holding_every_leak(screen, tmp_path):
    leaks = [screenshot_leak(screen, channel, seed=LEAK_SEED) for channel in ("png", "rot90", "down0.5")]
    path = synthetic.contact_sheet(leaks, tmp_path / "sheet.png", thumb=64)
    with Image.open(path) as sheet:
        assert sheet.format == "PNG" and sheet.size == (2 * 70 + 6, 2 * (64 + 16 + 6) + 6)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda s: screenshot_leak(s, "fax", seed=0), watermark.OptionError, "unknown screenshot channel 'fax'"),
        (lambda s: screenshot_leak(s[..., 0], "png", seed=0), watermark.ImageError, "image must be HxWx3 uint8 RGB"),
        (lambda s: screenshot_leak(s[:8], "png", seed=0), watermark.ImageError, "at least 16x16"),
        (lambda s: screenshot_leak(s.tolist(), "png", seed=0), TypeError, "image must be a numpy array"),
        (lambda s: screenshot_leak(s, "png", seed="7"), TypeError, "seed must be an int or numpy.random.Generator"),
        (lambda s: phone_photo_leak(s, level="easy", seed=0), watermark.OptionError, "level must be one of"),
        (lambda s: phone_photo_leak(s, seed=0, photo_size=(800, 600), yaw=3), watermark.OptionError,
         r"unknown phone_photo_leak override\(s\) \['yaw'\]"),
        (lambda s: phone_photo_leak(s, seed=0, photo_size=(32, 600)), watermark.OptionError,
         "photo_size must be at least 64x64"),
        (lambda s: phone_photo_leak(s, seed=0, orientation="square"), watermark.OptionError,
         "orientation must be 'landscape' or 'portrait'"),
        (lambda s: synthetic.contact_sheet([], "unused.png"), watermark.OptionError, "at least one leak"),
        (lambda s: synthetic.contact_sheet([screenshot_leak(s, "png", seed=0)], "unused.png", thumb=8),
         watermark.OptionError, "thumb must be >= 32 pixels, got 8"),
        (lambda s: project_points(Leak(s, None, "custom", {}), [[0, 0]]), watermark.OptionError,
         "leak 'custom' has no geometric map"),
    ],
)
def test_bad_arguments_raise_a_clear_error(screen, call, error, message):
    with pytest.raises(error, match=message) as info:
        call(screen)
    assert isinstance(info.value, watermark.LeaktraceError)

"""The second phone-photo scene generator (synthetic.scenes_b): a held-out test set for the screen finder."""

from __future__ import annotations

import json
import math

import cv2
import numpy as np
import pytest

import synthetic
import watermark
from synthetic import Leak, render_screen, screenshot_leak
from synthetic.scenes_b import LEVELS_B, photo_leak_b, project_points_b

SIZE = (960, 540)  # screens below: smaller than 1080p, the photo chain is the same
BRIGHT = np.full((SIZE[1], SIZE[0], 3), 235, np.uint8)
DARK = np.full((SIZE[1], SIZE[0], 3), 20, np.uint8)
# Seeds picked for what the bezel test needs (a wide bezel, no glare); the test re-checks that.
EASY_BLACK_BEZEL_SEED = 4    # easy level, 960x540: a black bezel around a bright screen
HARD_WHITE_BEZEL_SEED = 15   # hard level, 960x540: a white bezel lit brighter than a dark screen


def _corners(w: int, h: int) -> np.ndarray:
    return np.array([[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]])


@pytest.fixture(scope="module")
def emr() -> np.ndarray:
    return render_screen("summary_dashboard", size=SIZE, seed=2)


@pytest.fixture(scope="module")
def chat(emr) -> Leak:
    return photo_leak_b(emr, level="chat", seed=3)


@pytest.fixture(scope="module")
def easy_bright() -> Leak:
    return photo_leak_b(BRIGHT, level="easy", seed=EASY_BLACK_BEZEL_SEED)


@pytest.fixture(scope="module")
def hard_dark() -> Leak:
    return photo_leak_b(DARK, level="hard", seed=HARD_WHITE_BEZEL_SEED)


@pytest.fixture(scope="module")
def leaks(chat, easy_bright, hard_dark) -> dict[str, Leak]:
    return {"chat": chat, "easy": easy_bright, "hard": hard_dark}


def test_the_same_seed_gives_the_same_photo_and_parameters(emr, chat):
    again = photo_leak_b(emr, level="chat", seed=3)
    assert np.array_equal(again.image, chat.image)
    assert json.dumps(again.params, sort_keys=True) == json.dumps(chat.params, sort_keys=True)
    assert np.array_equal(again.homography, chat.homography)


def test_a_photo_is_uint8_rgb_at_a_phone_or_messenger_size(leaks):
    for level, leak in leaks.items():
        img = leak.image
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3, level
        assert leak.params["photo_size"] == [img.shape[1], img.shape[0]]
        assert leak.channel == f"phone-b-{level}" and leak.params["level"] == level
        assert leak.homography is not None and leak.homography.shape == (3, 3)
        assert leak.homography.dtype == np.float64
        sensor = leak.params["camera"]["sensor_size"]
        if level == "easy":  # no messenger: the sensor's own size
            assert [img.shape[1], img.shape[0]] == sensor
        else:  # shrunk by the messenger, aspect kept
            assert max(img.shape[:2]) == {"chat": 1280, "hard": 1600}[level]
            assert abs(img.shape[1] / img.shape[0] - sensor[0] / sensor[1]) < 0.01


def test_every_parameter_is_json_friendly_and_the_pose_is_within_the_level(leaks):
    ranges = {"easy": (0.5, 0.8, 12.0), "hard": (0.2, 0.45, 45.0), "chat": (0.17, 0.23, 30.0)}
    for level, leak in leaks.items():
        p = json.loads(json.dumps(leak.params))
        assert p == leak.params
        lo, hi, angle = ranges[level]
        assert lo * 0.8 <= p["pose"]["width_fraction"] <= hi + 1e-9
        assert p["pose"]["off_axis_deg"] <= angle + 1e-9
        assert p["pose"]["view_angle_deg"] == pytest.approx(p["pose"]["off_axis_deg"], abs=1e-6)
        for key in ("camera", "display", "scene", "room", "exposure", "sensor", "isp", "geometry"):
            assert key in p, key


def test_project_points_b_of_the_corners_is_the_recorded_screen_corners(leaks):
    for level, leak in leaks.items():
        w, h = leak.params["screen_size"]
        got = project_points_b(leak, _corners(w, h))
        assert got.shape == (4, 2) and got.dtype == np.float64
        assert np.allclose(got, leak.params["screen_corners"], rtol=0, atol=1e-9), level
        ph, pw = leak.image.shape[:2]
        assert np.all(got >= 0) and np.all(got[:, 0] <= pw - 1) and np.all(got[:, 1] <= ph - 1)
        # TL, TR, BR, BL: clockwise in the photo (the screen is seen from its front)
        x, y = got[:, 0], got[:, 1]
        assert 0.5 * np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y) > 0
        # the homography is the same map without lens distortion: close, not equal
        hom = cv2.perspectiveTransform(_corners(w, h).reshape(-1, 1, 2), leak.homography).reshape(-1, 2)
        assert np.max(np.abs(hom - got)) < 0.05 * max(pw, ph)


def test_project_points_b_keeps_the_shape_and_is_the_homography_without_distortion(chat):
    pts = np.array([[[0.0, 0.0], [100.0, 50.0]], [[959.0, 539.0], [480.0, 270.0]]])
    assert project_points_b(chat, pts).shape == (2, 2, 2)
    params = json.loads(json.dumps(chat.params))
    params["geometry"]["k1"] = params["geometry"]["k2"] = 0.0
    flat = Leak(image=chat.image, homography=chat.homography, channel=chat.channel, params=params)
    expect = cv2.perspectiveTransform(pts.reshape(-1, 1, 2), chat.homography).reshape(pts.shape)
    assert np.allclose(project_points_b(flat, pts), expect, atol=1e-9)


def test_the_photo_warped_back_with_the_true_geometry_matches_the_screen(emr, chat):
    h, w = emr.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w]
    grid = project_points_b(chat, np.stack([xs, ys], axis=-1).astype(np.float64)).astype(np.float32)
    back = cv2.remap(chat.image, grid[..., 0], grid[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    f = 4  # compare at about the photo's resolution (the screen is ~0.25 photo px per screen px)
    a = cv2.resize(cv2.cvtColor(emr, cv2.COLOR_RGB2GRAY), (w // f, h // f), interpolation=cv2.INTER_AREA)
    b = cv2.resize(cv2.cvtColor(back, cv2.COLOR_RGB2GRAY), (w // f, h // f), interpolation=cv2.INTER_AREA)

    def ncc(u: np.ndarray, v: np.ndarray) -> float:
        u = u.astype(np.float64)[4:-4, 4:-4] - u[4:-4, 4:-4].mean()
        v = v.astype(np.float64)[4:-4, 4:-4] - v[4:-4, 4:-4].mean()
        return float((u * v).sum() / math.sqrt((u * u).sum() * (v * v).sum()))

    true = ncc(a, b)
    assert true > 0.8
    for dx, dy in ((2, 0), (-2, 0), (0, 2), (0, -2)):
        assert true > ncc(a, np.roll(b, (dy, dx), axis=(0, 1))) + 0.005


def _luma_at(leak: Leak, screen_pts: np.ndarray) -> np.ndarray:
    q = project_points_b(leak, screen_pts).astype(np.float32).reshape(-1, 1, 2)
    gray = cv2.cvtColor(leak.image, cv2.COLOR_RGB2GRAY)
    return cv2.remap(gray, q[..., 0], q[..., 1], cv2.INTER_LINEAR).ravel().astype(np.float64)


def _bezel_and_screen(leak: Leak) -> tuple[float, float]:
    """Median photo luma on the bezel's mid-line and just inside the displayed image, along all four edges."""
    w, h = leak.params["screen_size"]
    left, top, right, bottom = leak.params["display"]["bezel"]["widths_px"]
    t = np.linspace(0.15, 0.85, 40)
    bezel = np.concatenate([np.c_[np.full(40, -0.5 - left / 2), t * h], np.c_[np.full(40, w - 0.5 + right / 2), t * h],
                            np.c_[t * w, np.full(40, -0.5 - top / 2)], np.c_[t * w, np.full(40, h - 0.5 + bottom / 2)]])
    inset = max(left, top, right, bottom) / 2 + 8
    screen = np.concatenate([np.c_[np.full(40, inset), t * h], np.c_[np.full(40, w - 1 - inset), t * h],
                             np.c_[t * w, np.full(40, inset)], np.c_[t * w, np.full(40, h - 1 - inset)]])
    return float(np.median(_luma_at(leak, bezel))), float(np.median(_luma_at(leak, screen)))


def _drawn_screen_nits(leak: Leak, value: int) -> float:
    d, room = leak.params["display"], leak.params["room"]
    level = d["black_level"] + (1 - d["black_level"]) * (value / 255) ** d["gamma"]
    return d["screen_white_radiance_nits"] * level + d["surface_reflectance"] * room["wall_lux"] / math.pi


def _bezel_width_in_photo(leak: Leak) -> float:
    p = leak.params
    scale = p["display_render"]["scale_range"][0] * p["photo_size"][0] / p["geometry"]["render_size"][0]
    return min(p["display"]["bezel"]["widths_px"]) * scale


def test_a_bright_screen_is_brighter_in_the_photo_than_its_black_bezel(easy_bright):
    d = easy_bright.params["display"]
    assert d["bezel"]["colour"] == "black" and easy_bright.params["glare"] is None  # what the seed was picked for
    assert _bezel_width_in_photo(easy_bright) > 10
    assert _drawn_screen_nits(easy_bright, 235) > 20 * d["bezel_nits"]
    bezel, screen = _bezel_and_screen(easy_bright)
    assert screen > bezel + 60


def test_a_dark_screen_is_darker_in_the_photo_than_a_lit_white_bezel(hard_dark):
    d = hard_dark.params["display"]
    assert d["bezel"]["colour"] == "white" and hard_dark.params["glare"] is None  # what the seed was picked for
    assert _bezel_width_in_photo(hard_dark) > 6
    assert d["bezel_nits"] > 3 * _drawn_screen_nits(hard_dark, 20)
    bezel, screen = _bezel_and_screen(hard_dark)
    assert bezel > screen + 10


@pytest.mark.parametrize(("kwargs", "name", "words"), [
    ({"level": "extreme", "seed": 0}, "level", "one of 'easy', 'standard', 'hard', 'chat'"),
    ({"level": 3, "seed": 0}, "level", "got 3"),
    ({"seed": 1.5}, "seed", "int or numpy.random.Generator"),
    ({"seed": True}, "seed", "int or numpy.random.Generator"),
])
def test_bad_options_raise_option_error_naming_the_option(kwargs, name, words):
    with pytest.raises(watermark.OptionError) as info:
        photo_leak_b(BRIGHT, **kwargs)
    assert info.value.name == name and words in str(info.value)


@pytest.mark.parametrize(("image", "words"), [
    ([[0, 0, 0]], "numpy array"),
    (np.zeros((64, 64), np.uint8), "HxWx3 uint8"),
    (np.zeros((64, 64, 3), np.float32), "HxWx3 uint8"),
    (np.zeros((8, 64, 3), np.uint8), "at least 16x16"),
])
def test_a_bad_image_raises_option_error(image, words):
    with pytest.raises(watermark.OptionError) as info:
        photo_leak_b(image, seed=0)
    assert info.value.name == "image" and words in str(info.value)


def test_project_points_b_rejects_other_leaks_and_bad_points(chat):
    other = screenshot_leak(BRIGHT, "down0.5", seed=0)
    with pytest.raises(watermark.OptionError, match="photo_leak_b") as info:
        project_points_b(other, [[0.0, 0.0]])
    assert info.value.name == "leak"
    for bad in ([[1.0, 2.0, 3.0]], "corner", 7.0):
        with pytest.raises(watermark.OptionError) as info:
            project_points_b(chat, bad)
        assert info.value.name == "points"


def test_the_module_is_public_in_synthetic():
    assert "scenes_b" in synthetic.__all__ and synthetic.scenes_b.photo_leak_b is photo_leak_b
    assert LEVELS_B == ("easy", "standard", "hard", "chat")

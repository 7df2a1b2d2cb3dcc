"""Each geometry path of tracer.trace on simulated leaks. Results depend on the seeds below."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

import tracer
import watermark
from synthetic import phone_photo_leak, render_screen, screenshot_leak

PHOTO_SEED = 1  # simulated camera pose, noise and scene
SHOT_SEED = 11  # crop offsets and rescale factors


@pytest.fixture(scope="module")
def marked_notes(payload, key):
    return watermark.embed(render_screen("notes", size=(1920, 1080), seed=1), payload, key)


@pytest.fixture(scope="module")
def standard_photo(marked_notes):
    return phone_photo_leak(marked_notes, level="standard", seed=PHOTO_SEED)


def test_photo_with_screen_border_names_the_viewer(standard_photo, key, payload):
    res = tracer.trace(standard_photo.image, key)
    assert res.found and res.payload == payload
    assert res.key_fingerprint == key.fingerprint
    assert res.false_attribution_probability < 1e-9
    assert res.hypotheses[-1].name.startswith("screen-quad")
    # the located quadrilateral lies on the true screen (within a few percent of its size)
    true = cv2.perspectiveTransform(np.array([[[0.0, 0.0]], [[1920.0, 0.0]], [[1920.0, 1080.0]], [[0.0, 1080.0]]]), standard_photo.homography)
    assert np.abs(res.quad - true.reshape(4, 2)).max() < 0.05 * np.ptp(true[:, 0, 0])


def test_photo_with_border_cut_off_names_the_viewer(payload, key):
    marked = watermark.embed(render_screen("labs_chart", size=(1920, 1080), seed=0), payload, key)
    leak = phone_photo_leak(marked, level="standard", seed=0)
    inner = cv2.perspectiveTransform(np.array([[[300.0, 200.0]], [[1620.0, 200.0]], [[1620.0, 880.0]], [[300.0, 880.0]]]), leak.homography)
    (x0, y0), (x1, y1) = inner.reshape(4, 2).min(axis=0).astype(int), inner.reshape(4, 2).max(axis=0).astype(int)
    res = tracer.trace(np.ascontiguousarray(leak.image[y0:y1, x0:x1]), key)
    assert res.payload == payload
    assert res.hypotheses[-1].name.startswith("content-lines")


def test_dark_screen_against_a_lighter_wall_names_the_viewer(payload, key):
    # A dark-theme screen photographed in a light room: no bright screen
    # region to outline, so the dark outline (bezel included) is used.
    marked = watermark.embed(render_screen("dark_theme", size=(1920, 1080), seed=3), payload, key)
    leak = phone_photo_leak(marked, level="standard", seed=1, background_level=0.35, glare_strength=0.05)
    res = tracer.trace(leak.image, key)
    assert res.payload == payload
    assert res.hypotheses[-1].name.startswith("dark-screen-quad")
    true = cv2.perspectiveTransform(np.array([[[0.0, 0.0]], [[1920.0, 0.0]], [[1920.0, 1080.0]], [[0.0, 1080.0]]]), leak.homography)
    assert np.abs(res.quad - true.reshape(4, 2)).max() < 0.1 * np.ptp(true[:, 0, 0])  # the bezel's outer edge


def test_small_rescaled_crop_names_the_viewer(marked_notes, key, payload):
    # About 2.8 x 2.8 tiles of screen at 0.65x, JPEG 50: the comb is noisy on
    # so few tiles, and its candidates are ranked by phase peak.
    crop = marked_notes[200:920, 600:1320]
    small = cv2.resize(crop, (468, 468), interpolation=cv2.INTER_AREA)
    _, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 50])
    res = tracer.trace(cv2.imdecode(buf, cv2.IMREAD_UNCHANGED), key)
    assert res.payload == payload
    assert res.parameters["scale"] == pytest.approx(468 / 720, rel=0.01)


def test_rescaled_recompressed_crop_names_the_viewer(marked_notes, key, payload):
    leak = screenshot_leak(marked_notes, "crop_rescale_jpeg", seed=SHOT_SEED)
    res = tracer.trace(leak.image, key)
    assert res.payload == payload, leak.params


@pytest.mark.parametrize("scale", [0.45, 1.7])
def test_rescaled_screenshot_names_the_viewer(marked_notes, key, payload, scale):
    size = (int(marked_notes.shape[1] * scale), int(marked_notes.shape[0] * scale))
    image = cv2.resize(marked_notes, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
    res = tracer.trace(image, key)
    assert res.payload == payload
    assert res.parameters["scale"] == pytest.approx(scale, rel=0.01)


@pytest.mark.parametrize("channel", ["rot90", "rot180"])
def test_rotated_screenshot_names_the_viewer(marked_notes, key, payload, channel):
    assert tracer.trace(screenshot_leak(marked_notes, channel, seed=SHOT_SEED).image, key).payload == payload


def test_mirrored_screenshot_names_the_viewer(marked_notes, key, payload):
    res = tracer.trace(np.ascontiguousarray(marked_notes[:, ::-1]), key)
    assert res.payload == payload
    assert res.hypotheses[-1].mirrored


def test_unmarked_photo_names_no_one(key):
    leak = phone_photo_leak(render_screen("medications", size=(1920, 1080), seed=4), level="standard", seed=2)
    res = tracer.trace(leak.image, key)
    assert not res.found and res.payload is None and res.key_fingerprint is None
    assert res.confidence == 0.0


def test_other_hospitals_mark_names_no_one(marked_notes, other_key):
    res = tracer.trace(marked_notes, other_key)
    assert not res.found and res.payload is None


def test_key_rotation_reports_the_matching_key(marked_notes, key, other_key, payload):
    res = tracer.trace(marked_notes, [other_key, key])
    assert res.payload == payload and res.key_fingerprint == key.fingerprint


def test_trace_rejects_a_non_key():
    with pytest.raises(TypeError, match="watermark.Key"):
        tracer.trace(np.zeros((300, 300, 3), np.uint8), "secret")


# The perspective a vanishing-point fit returned for a composite of two screenshots (3926 x 768): its horizon
# runs through the image. Rectifying the whole image through it asked OpenCV for a 67 GB blur kernel (a segfault).
HORIZON_INSIDE = np.array([[-2.848635e00, 1.792040e04, -6.854069e06],
                           [3.291724e00, -1.792040e04, 6.853199e06],
                           [4.086376e-07, -1.456988e-03, 1.0]])


def test_rectify_refuses_a_perspective_whose_horizon_crosses_the_region():
    from tracer._geometry import image_corners, rectify

    assert rectify(np.zeros((768, 3926), np.float32), HORIZON_INSIDE, image_corners(3926, 768)) is None


def test_rectify_refuses_a_region_spread_past_any_useful_size():
    from tracer._geometry import image_corners, rectify

    # The horizon just below the image: the bottom edge maps a billion pixels away.
    hom = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, -(1 - 1e-6) / 600, 1.0]])
    assert rectify(np.zeros((600, 800), np.float32), hom, image_corners(800, 600)) is None
    ok = rectify(np.zeros((600, 800), np.float32), np.eye(3), image_corners(800, 600))
    assert ok is not None and ok[0].shape == (601, 801)


def test_content_lines_with_the_horizon_inside_the_photo_try_nothing_and_trace_ends(key, monkeypatch):
    import tracer._strategies as strategies

    hom = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, -1 / 300, 1.0]])  # the horizon at y = 300 of a 600 px photo
    monkeypatch.setattr(strategies, "rectify_from_lines", lambda rgb: hom)
    rng = np.random.default_rng(3)
    photo = np.clip(rng.normal(128, 25, (600, 900, 3)), 0, 255).astype(np.uint8)
    res = tracer.trace(photo, key, thorough=True)
    assert not res.found and not any(h.name.startswith("content-lines") for h in res.hypotheses)


@pytest.mark.parametrize("shape", [(3000, 5), (5, 3000), (40, 40)])
def test_comb_search_on_a_sliver_finds_nothing(shape):
    # A degenerate rectification (a nearly edge-on vanishing-point fit) can
    # hand the comb a sliver: no tiles fit, so no candidates and no error.
    from tracer._sync import comb_search

    rng = np.random.default_rng(0)
    assert comb_search(rng.normal(128, 20, shape).astype(np.float32)) == []

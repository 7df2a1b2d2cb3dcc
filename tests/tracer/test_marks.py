"""Every mark in the image: composites name each viewer once, a single mark is one, no mark is none.

Composites are built with the real producers (``synthetic.render_screen``,
``watermark.embed``, ``synthetic.phone_photo_leak``). Results depend on the
screen seeds below and the keys of ``tests/conftest.py``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

import tracer
import watermark
from synthetic import phone_photo_leak, render_screen
from tracer import _marks
from tracer._report import ReportEntry, render_report
from tracer._search import TimeLimitExceeded
from tracer.cli import main

LEFT_SEED, RIGHT_SEED, BASE_SEED, PASTE_SEED = 1, 2, 3, 4  # rendered screens
PHOTO_SEED = 6  # simulated camera of the single-mark photo
PASTE_BOX = (300, 700, 640, 900)  # y, x, height, width of the pasted part in the 1920x1080 base


@pytest.fixture(scope="module")
def second(payload):
    return payload.replace(viewer_id=5177)


def _side_by_side(payload, second, key_left, key_right):
    left = watermark.embed(render_screen("notes", size=(1366, 768), seed=LEFT_SEED), payload, key_left)
    right = watermark.embed(render_screen("labs_chart", size=(1366, 768), seed=RIGHT_SEED), second, key_right)
    return np.ascontiguousarray(np.hstack([left, right]))


@pytest.fixture(scope="module")
def side_by_side(payload, second, key):
    return _side_by_side(payload, second, key, key)


@pytest.fixture(scope="module")
def side_by_side_two_keys(payload, second, key, other_key):
    return _side_by_side(payload, second, key, other_key)


@pytest.fixture(scope="module")
def pasted(payload, second, key):
    """A 1920x1080 screenshot with a 900x640 part of another viewer's screenshot pasted over it."""
    base = watermark.embed(render_screen("medications", size=(1920, 1080), seed=BASE_SEED), payload, key).copy()
    other = watermark.embed(render_screen("notes", size=(1366, 768), seed=PASTE_SEED), second, key)
    y, x, h, w = PASTE_BOX
    base[y : y + h, x : x + w] = other[50 : 50 + h, 100 : 100 + w]
    return base


@pytest.fixture(scope="module")
def traced_side_by_side(side_by_side, key):
    return tracer.trace(side_by_side, key)


def _viewers(result):
    return [m.payload.viewer_id for m in result.marks]


def _centre_x(mark):
    return float(mark.region[:, 0].mean())


def test_side_by_side_screenshots_name_both_viewers(traced_side_by_side, payload, second, key):
    res = traced_side_by_side
    assert sorted(_viewers(res)) == sorted([payload.viewer_id, second.viewer_id])
    assert all(m.key_fingerprint == key.fingerprint for m in res.marks)
    by_viewer = {m.payload: m for m in res.marks}
    assert _centre_x(by_viewer[payload]) < 1366 < _centre_x(by_viewer[second])  # each read in its own half


def test_first_mark_stays_where_callers_find_it(traced_side_by_side):
    res = traced_side_by_side
    first = res.marks[0]
    assert res.found and res.payload == first.payload and res.key_fingerprint == first.key_fingerprint
    assert res.hypotheses[0].found and res.hypotheses[0].name == first.hypothesis


def test_each_mark_bound_counts_the_checks_made_up_to_it(traced_side_by_side):
    res = traced_side_by_side
    checks = sum(h.mac_checks for h in res.hypotheses)
    bounds = [m.false_attribution_probability for m in res.marks]
    assert [m.mac_checks for m in res.marks] == sorted(m.mac_checks for m in res.marks)
    assert bounds == [m.mac_checks * 2.0**-40 for m in res.marks]
    assert res.false_attribution_probability == checks * 2.0**-40 >= max(bounds)
    assert res.parameters["more_marks"] == "complete"


def test_pasted_screenshot_names_both_viewers(pasted, key, payload, second):
    res = tracer.trace(pasted, key)
    assert _viewers(res) == [payload.viewer_id, second.viewer_id]
    y, x, h, w = PASTE_BOX
    region = res.marks[1].region
    assert x - 256 <= region[:, 0].min() and region[:, 0].max() <= x + w + 256  # the pasted part, to a tile
    assert y - 256 <= region[:, 1].min() and region[:, 1].max() <= y + h + 256


def test_single_mark_screenshot_reports_exactly_one(marked, key, payload):
    res = tracer.trace(marked, key)
    assert [m.payload for m in res.marks] == [payload]
    assert res.marks[0].region is not None
    assert res.marks[0].region.min(axis=0).tolist() == [0.0, 0.0]
    assert res.marks[0].region.max(axis=0).tolist() == [marked.shape[1], marked.shape[0]]


def test_single_mark_photo_reports_exactly_one(key, payload):
    marked = watermark.embed(render_screen("labs_chart", size=(1920, 1080), seed=BASE_SEED), payload, key)
    res = tracer.trace(phone_photo_leak(marked, level="standard", seed=PHOTO_SEED).image, key)
    assert [m.payload for m in res.marks] == [payload]


def test_unmarked_image_reports_none(key):
    res = tracer.trace(render_screen("notes", size=(640, 400), seed=BASE_SEED), key, thorough=True)
    assert not res.found and res.marks == () and res.to_dict()["marks"] == []


def test_mark_under_a_key_not_given_is_not_reported(side_by_side_two_keys, key, payload):
    res = tracer.trace(side_by_side_two_keys, key)
    assert [m.payload for m in res.marks] == [payload]


def test_two_keys_given_name_both_with_their_keys(side_by_side_two_keys, key, other_key, payload, second):
    res = tracer.trace(side_by_side_two_keys, [key, other_key])
    marks = {m.payload: m.key_fingerprint for m in res.marks}
    assert marks == {payload: key.fingerprint, second: other_key.fingerprint}


def test_stacked_overlays_under_two_keys_name_both(key, other_key, payload, second):
    screen = render_screen("notes", size=(1920, 1080), seed=PASTE_SEED)
    stacked = watermark.embed(watermark.embed(screen, payload, key), second, other_key)
    res = tracer.trace(stacked, [key, other_key])
    assert sorted(_viewers(res)) == sorted([payload.viewer_id, second.viewer_id])


def test_all_marks_false_stops_at_the_first(side_by_side, key):
    res = tracer.trace(side_by_side, key, all_marks=False)
    assert len(res.marks) == 1 and res.parameters["more_marks"] is None
    assert not any(h.name.endswith(("~more", "~rest")) for h in res.hypotheses)


def test_time_limit_in_the_search_for_more_keeps_the_marks_found(side_by_side, key, payload, monkeypatch):
    def expire(self):
        raise TimeLimitExceeded("the geometry search ran past its time limit", seconds=1.0)

    monkeypatch.setattr(_marks.MoreMarks, "run", expire)
    res = tracer.trace(side_by_side, key)
    assert res.found and len(res.marks) == 1 and res.parameters["more_marks"] == "time limit"
    assert res.marks[0].region is not None


def test_json_cli_and_report_list_every_mark(tmp_path, side_by_side, traced_side_by_side, key, payload, second, capsys):
    key_path, image_path = tmp_path / "h.key", tmp_path / "composite.png"
    key.save(key_path)
    Image.fromarray(side_by_side).save(image_path)
    assert main([str(image_path), "--key-file", str(key_path)]) == 0
    text = capsys.readouterr().out
    assert "2 marks in the image" in text
    assert f"mark 2: viewer {traced_side_by_side.marks[1].payload.viewer_id} at" in text
    assert main([str(image_path), "--key-file", str(key_path), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["results"][0]["marks"]
    assert sorted(m["payload"]["viewer_id"] for m in listed) == sorted([payload.viewer_id, second.viewer_id])
    assert all(len(m["region"]) == 4 and m["false_attribution_probability"] > 0 for m in listed)
    page = render_report([ReportEntry(traced_side_by_side, side_by_side)])
    assert "Traced: 2 marks: viewer" in page and "Marks found" in page
    assert f"<strong>{payload.viewer_id}</strong>" in page and f"<strong>{second.viewer_id}</strong>" in page

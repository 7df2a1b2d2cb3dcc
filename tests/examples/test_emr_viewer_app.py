"""The example EMR viewer's routes, in-process (Flask test client): ledger, marks, failures."""

from __future__ import annotations

import io
from datetime import datetime, timezone

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("flask", reason="flask is in the 'viewer' extra")

import tracer  # noqa: E402
import watermark  # noqa: E402
from examples.emr_viewer.overlay_png import encode_overlay_png  # noqa: E402
from examples.emr_viewer.records import EMPLOYEES, patients  # noqa: E402
from examples.render_export import render_record_image  # noqa: E402
from ledger import Ledger, LedgerError  # noqa: E402

from viewer_helpers import ledger_views, logged_in  # noqa: E402

PATIENT = patients()[4]  # WHITLOCK, Yannick M. (seed 5)


# -- pages, ledger, marks
def test_pages_need_a_login(app):
    client = app.test_client()
    for path in ("/patients", f"/patients/{PATIENT.mrn}", "/overlay/" + "0" * 32 + ".png?w=800&h=600",
                 "/views/" + "0" * 32 + ".png"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_every_record_view_writes_one_ledger_row(app, ledger_path, viewer_key, tokens):
    client = logged_in(app, "mokafor", token=tokens["WS-5W-207"])
    assert client.get(f"/patients/{PATIENT.mrn}").status_code == 200
    assert client.get(f"/patients/{PATIENT.mrn}").status_code == 200
    views = ledger_views(ledger_path)
    assert len(views) == 2
    for view in views:
        assert (view.viewer_id, view.display_name) == (5170, "Maren Okafor, RN")
        assert view.record_id == PATIENT.record_id and view.workstation == "WS-5W-207"
        assert view.client_address == "127.0.0.1" and view.key_fingerprint == viewer_key.fingerprint


def test_ledger_rows_are_signed_with_the_viewers_ledger_key(app, ledger_path, ledger_key):
    logged_in(app).get(f"/patients/{PATIENT.mrn}")
    with Ledger.open(ledger_path, read_only=True, ledger_key=ledger_key.public_only()) as ledger:
        report = ledger.verify()
    assert report.ok and report.checked == 1 and report.signer == ledger_key.fingerprint


def test_viewer_refuses_to_start_without_a_ledger_key(make_app):
    with pytest.raises(LedgerError, match="signing key"):
        make_app(ledger_key=None)


def test_record_page_carries_both_marks_and_is_never_cached(app, ledger_path):
    client = logged_in(app)
    response = client.get(f"/patients/{PATIENT.mrn}")
    html = response.get_data(as_text=True)
    view = ledger_views(ledger_path)[-1]
    assert PATIENT.name in html and PATIENT.mrn in html
    assert 'class="leaktrace-visible-mark"' in html
    assert f'data-src="/overlay/{view.view_uid}.png"' in html
    assert 'class="lt-awaiting-mark"' in html  # content hidden until the overlay is painted
    assert response.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    visible_text = watermark.visible_mark_text(view.display_name, view.viewer_id, view.viewed_at)
    svg = watermark.visible_mark_svg(visible_text, opacity=0.12)
    assert watermark.visible_mark_html(visible_text, opacity=0.12) in html and "Dr. Anselm Quist" in svg


def test_patient_list_is_stamped_and_recorded_too(app, ledger_path):
    client = logged_in(app)
    html = client.get("/patients").get_data(as_text=True)
    assert all(p.name in html for p in patients()) and "leaktrace-overlay" in html
    assert [v.record_id for v in ledger_views(ledger_path)] == ["patient-list"]


def test_overlay_png_is_exactly_the_overlay_at_the_requested_device_size(app, ledger_path, viewer_key):
    client = logged_in(app)
    client.get(f"/patients/{PATIENT.mrn}")
    view = ledger_views(ledger_path)[-1]
    response = client.get(f"/overlay/{view.view_uid}.png?w=1366&h=768")
    assert response.status_code == 200 and response.mimetype == "image/png"
    png = Image.open(io.BytesIO(response.data))
    assert png.size == (1366, 768)
    assert not {"gamma", "icc_profile", "srgb", "chromaticity"} & set(png.info)  # no colour management
    expected = watermark.overlay(view.payload, viewer_key, size=(1366, 768))
    assert np.array_equal(np.asarray(png.convert("RGBA")), expected)


def test_overlay_is_cached_per_viewer_minute_and_size(app, ledger_path):
    client = logged_in(app)
    client.get(f"/patients/{PATIENT.mrn}")
    uid = ledger_views(ledger_path)[-1].view_uid
    first = client.get(f"/overlay/{uid}.png?w=1920&h=1080")
    second = client.get(f"/overlay/{uid}.png?w=1920&h=1080")
    other_size = client.get(f"/overlay/{uid}.png?w=1536&h=864")
    assert [r.headers["X-Leaktrace-Overlay-Cache"] for r in (first, second, other_size)] == ["miss", "hit", "miss"]
    assert first.data == second.data
    assert "private" in first.headers["Cache-Control"]
    assert "Set-Cookie" not in first.headers  # a cacheable response carries no cookie


def test_small_viewports_get_one_full_tile(app, ledger_path):
    client = logged_in(app)
    client.get(f"/patients/{PATIENT.mrn}")
    uid = ledger_views(ledger_path)[-1].view_uid
    png = Image.open(io.BytesIO(client.get(f"/overlay/{uid}.png?w=200&h=100").data))
    assert png.size == (256, 256)


@pytest.mark.parametrize("query", ["", "?w=1920", "?w=0&h=100", "?w=9000&h=100", "?w=abc&h=100"])
def test_overlay_rejects_bad_sizes(app, ledger_path, query):
    client = logged_in(app)
    client.get(f"/patients/{PATIENT.mrn}")
    uid = ledger_views(ledger_path)[-1].view_uid
    response = client.get(f"/overlay/{uid}.png{query}")
    assert response.status_code == 400 and b"device pixels" in response.data


def test_overlay_of_another_employees_view_is_not_served(app, ledger_path):
    logged_in(app, "aquist").get(f"/patients/{PATIENT.mrn}")
    uid = ledger_views(ledger_path)[-1].view_uid
    other = logged_in(app, "mokafor")
    assert other.get(f"/overlay/{uid}.png?w=800&h=600").status_code == 404
    assert other.get("/overlay/not-a-view.png?w=800&h=600").status_code == 404


def test_unknown_record_is_404_and_not_recorded(app, ledger_path):
    assert logged_in(app).get("/patients/00000000").status_code == 404
    assert ledger_views(ledger_path) == []


def test_viewer_refuses_to_start_without_a_writable_ledger(make_app, tmp_path):
    with pytest.raises(LedgerError, match="does not exist"):
        make_app(ledger=str(tmp_path / "missing" / "ledger.sqlite"))


def test_export_png_is_stamped_with_both_marks_and_recorded(app, ledger_path, viewer_key, tokens):
    client = logged_in(app, "lhaverkamp", token=tokens["WS-6C-031"])
    response = client.get(f"/patients/{PATIENT.mrn}/export.png")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert "attachment" in response.headers["Content-Disposition"]
    view = ledger_views(ledger_path)[-1]
    assert (view.action, view.record_id, view.viewer_id, view.workstation) == (
        "export", PATIENT.record_id, 7315, "WS-6C-031")
    image = np.asarray(Image.open(io.BytesIO(response.data)).convert("RGB"))
    assert (image.shape[1], image.shape[0]) == (1920, 1080)
    result = tracer.trace(image, viewer_key)
    assert result.found and result.payload == view.payload
    screen = render_record_image(PATIENT.seed)  # the visible text: many pixels well darker than the screen
    assert ((screen.astype(int) - image.astype(int)).max(axis=2) > 12).mean() > 0.02


def test_encode_overlay_png_round_trips_and_rejects_what_is_not_an_overlay(viewer_key):
    payload = watermark.Payload(viewer_id=4821, timestamp=datetime(2026, 12, 3, 9, 40, tzinfo=timezone.utc))
    for strength in (1.0, 3.0):  # 9 levels (4-bit palette) and 27 (8-bit)
        layer = watermark.overlay(payload, viewer_key, size=(300, 257), strength=strength)
        decoded = np.asarray(Image.open(io.BytesIO(encode_overlay_png(layer))).convert("RGBA"))
        assert np.array_equal(decoded, layer)
    cases = ((3, 1, "one even, non-zero alpha"), (1, 1, "grey"), (slice(0, 3), 2, "overlay's 9 levels"))
    for channel, value, message in cases:  # an odd alpha, a green pixel, a grey off the levels
        bad = watermark.overlay(payload, viewer_key, size=(256, 256)).copy()
        bad[0, 0, channel] = value
        with pytest.raises(ValueError, match=message):
            encode_overlay_png(bad)


def test_demo_employees_have_distinct_viewer_ids():
    assert len({e.viewer_id for e in EMPLOYEES.values()}) == len(EMPLOYEES) >= 2


def test_viewer_refuses_a_protected_key_equal_to_the_overlay_key(make_app, viewer_key):
    with pytest.raises(ValueError, match="protected_key must differ"):
        make_app(protected_key=viewer_key)

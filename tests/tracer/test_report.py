"""The forensic HTML report: self-contained, complete, escaped, written atomically.

Inputs come from the real producers: ``tracer.trace`` on a stamped screen
framed like a photo (read from a file, so it has a SHA-256) and on an unmarked
screen, and ``ledger.Ledger.lookup`` on a real SQLite ledger.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import io
import re
import sys
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from markupsafe import escape
from PIL import Image

import ledger
import tracer
import watermark
from synthetic import render_screen
from tracer._report import ReportEntry, probability_sentence, render_report, write_report

SCREEN_SEED = 2  # the rendered screens below depend on these seeds; the traces on them
UNMARKED_SEED = 3
GENERATED = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
T_VIEW = datetime(2026, 3, 1, 9, 30, 17, 250000, tzinfo=timezone.utc)
EXPECTED_SENTENCE = (
    "The chance that an image carrying no watermark of this hospital's key would produce this or any other "
    "viewer ID by accident is at most 1 in 90 billion (1.1e-11), counting all 3 geometric hypotheses the tracer "
    "tried (11 keyed checks in all)."
)


def _record(opened: ledger.Ledger, **fields) -> ledger.View:
    """Record a view (fields default to Dr. Ava Example's view of MRN-0042917 at WS-ICU-07); give key_fingerprint."""
    row = dict(viewer_id=4821, display_name="Dr. Ava Example", record_id="MRN-0042917", workstation="WS-ICU-07",
               client_address="10.20.30.41", viewed_at=T_VIEW)
    row.update(fields)
    return opened.record_view(**row)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, key):
    """A SQLite ledger with the stamped view, one earlier view by the same account and a nurse at the same desk."""
    url = f"sqlite:///{tmp_path_factory.mktemp('ledger') / 'ledger.sqlite'}"
    with ledger.Ledger.open(url, ledger_key=ledger.LedgerKey.generate()) as opened:
        _record(opened, record_id="patient-list", key_fingerprint=key.fingerprint,
                viewed_at=T_VIEW - timedelta(minutes=2))
        view = _record(opened, key_fingerprint=key.fingerprint)
        _record(opened, viewer_id=5177, display_name="Maren Okafor, RN", record_id="MRN-0051234",
                key_fingerprint=key.fingerprint, viewed_at=T_VIEW + timedelta(minutes=3))
        lookup = opened.lookup(view.viewer_id, view.viewed_at, key_fingerprint=key.fingerprint)
    return url, view, lookup


@pytest.fixture(scope="module")
def photo(tmp_path_factory, key, recorded):
    """A stamped 1280x720 screen on a dark 1600x900 background, saved as PNG: the tracer finds its outline."""
    _, view, _ = recorded
    marked = watermark.embed(render_screen("notes", size=(1280, 720), seed=SCREEN_SEED), view.payload, key)
    image = np.full((900, 1600, 3), 40, np.uint8)
    image[90:810, 160:1440] = marked
    path = tmp_path_factory.mktemp("photo") / "leak.png"
    Image.fromarray(image).save(path)
    return path, image


@pytest.fixture(scope="module")
def found(photo, key):
    path, _ = photo
    result = tracer.trace(path, key)
    assert result.found and result.quad is not None and result.bit_snr is not None
    return result


@pytest.fixture(scope="module")
def unmarked():
    return render_screen("notes", size=(640, 400), seed=UNMARKED_SEED)


@pytest.fixture(scope="module")
def not_found(unmarked, key):
    result = tracer.trace(unmarked, key, thorough=True)  # searched in full: the report counts its hypotheses
    assert not result.found and result.hypotheses
    return result


def test_a_dismissed_image_says_no_geometry_was_searched(unmarked, key):
    result = tracer.trace(unmarked, key)
    assert result.dismissed and not result.found
    page = render_report([ReportEntry(result, unmarked)])
    assert "Dismissed by the fast rejection" in page and "--thorough" in page
    assert str(escape(result.screening.reason)) in page
    assert "This does not prove that the image is unmarked" in page


@pytest.fixture(scope="module")
def found_page(found, photo) -> str:
    return render_report([ReportEntry(found, photo[1])], generated_at=GENERATED)


def _data_uris(page: str) -> list[str]:
    return re.findall(r'<img[^>]*\ssrc="([^"]*)"', page)


def _decode(uri: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))


def test_write_report_creates_a_self_contained_file(tmp_path, found, photo, not_found, unmarked):
    path = tmp_path / "report.html"
    write_report(path, [ReportEntry(found, photo[1]), ReportEntry(not_found, unmarked)])
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r'(src|href)\s*=\s*"(?!data:|#)', page)  # only data: URIs and in-page anchors
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page and "<link" not in page
    uris = _data_uris(page)
    assert len(uris) == 4  # two inputs, one rectified screen, one bit plot (the unmarked result has no bits)
    assert all(u.startswith(("data:image/jpeg;base64,", "data:image/png;base64,")) for u in uris)
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_found_verdict_names_viewer_and_time(found_page):
    assert "Traced: viewer 4821, 2026-03-01 09:30 UTC" in found_page
    assert "2026-03-01T09:30:00+00:00" in found_page  # ISO 8601 render time of the screen


def test_evidence_shows_hash_fingerprint_version_and_generation_time(found_page, found, photo, key):
    assert found.sha256 == hashlib.sha256(photo[0].read_bytes()).hexdigest()
    assert found.sha256 in found_page
    assert key.fingerprint in found_page
    assert f"leaktrace {watermark.__version__}" in found_page
    assert "2026-03-02T10:00:00+00:00" in found_page
    assert "1600 &times; 900 px" in found_page
    assert f"{100 * found.bit_error_rate:.1f}%" in found_page and f"{found.detection_score:.2f}" in found_page


def test_probability_is_explained_in_one_conservative_sentence(found, found_page):
    sentence = probability_sentence(found)
    checks = sum(h.mac_checks for h in found.hypotheses)
    assert re.fullmatch(r"The chance .* is at most 1 in [\d.,]+ (trillion|billion) \(\d\.\de-1\d\), counting .*", sentence)
    assert f"({checks} keyed check" in sentence
    assert str(escape(sentence)) in found_page


def test_sentence_counts_every_hypothesis_and_keyed_check(found, not_found):
    hypotheses = [dataclasses.replace(found.hypotheses[0], mac_checks=1)]
    hypotheses += [dataclasses.replace(h, mac_checks=5) for h in not_found.hypotheses[:2]]
    result = dataclasses.replace(found, hypotheses=hypotheses, false_attribution_probability=11 * 2.0**-40)
    assert probability_sentence(result) == EXPECTED_SENTENCE


def test_single_hypothesis_sentence_is_grammatical(found):
    one = [dataclasses.replace(found.hypotheses[0], mac_checks=1)]
    result = dataclasses.replace(found, hypotheses=one, false_attribution_probability=2.0**-40)
    assert probability_sentence(result).endswith(
        "at most 1 in 1 trillion (9.1e-13), counting the 1 geometric hypothesis the tracer tried "
        "(1 keyed check in all)."
    )


def test_parameters_hypotheses_and_timings_are_tabulated(found_page, found):
    assert f'<th scope="row">max_pixels</th><td>{found.parameters["max_pixels"]}</td>' in found_page
    assert str(escape(f'["{found.key_fingerprint}"]')) in found_page  # a list parameter, as JSON
    for h in found.hypotheses:
        assert f"<td>{h.name}</td>" in found_page
        assert f'<td class="num">{h.rotation * 90 % 360}&deg;</td>' in found_page
    assert f'<th scope="row">total</th><td>{found.timings["total_s"]:.3f} s</td>' in found_page


def test_input_preview_is_downscaled_with_the_quad_outlined(found_page, found):
    preview = np.asarray(_decode(_data_uris(found_page)[0]).convert("RGB")).astype(int)
    assert preview.shape == (675, 1200, 3)
    x = round(float(found.quad[0][0]) * 0.75)  # the quad's left edge in the preview
    edge = preview[300:400, x - 6:x + 4]
    magenta = (edge[..., 0] > 180) & (edge[..., 1] < 90) & (edge[..., 2] > 110)
    assert magenta.mean() > 0.2
    inside = preview[300:400, 400:800]
    assert not ((inside[..., 0] > 180) & (inside[..., 1] < 90)).any()


def test_bit_confidence_plot_is_an_embedded_png(found_page, found):
    pngs = [u for u in _data_uris(found_page) if u.startswith("data:image/png")]
    assert len(pngs) == 1
    plot = _decode(pngs[0])
    assert plot.format == "PNG" and plot.width > 600
    assert f"{found.bit_snr.size} channel bits" in found_page


def test_not_found_says_so_and_that_it_proves_nothing(not_found, unmarked):
    page = render_report([ReportEntry(not_found, unmarked)])
    assert "No watermark found" in page
    assert "does not prove that the image is unmarked or authentic" in page
    assert "Traced:" not in page
    assert "supplied in memory" in page  # no SHA-256 for an in-memory image, and the report says why
    assert "No rectified screen" in page and "No per-bit values" in page
    assert f"over {len(not_found.hypotheses)} geometric hypotheses" in page


def test_special_characters_in_names_are_escaped(tmp_path, found, photo, key):
    with ledger.Ledger.open(tmp_path / "ledger.sqlite", ledger_key=ledger.LedgerKey.generate()) as opened:
        view = _record(opened, display_name="<b>Mallory</b>", workstation="WS <1>", key_fingerprint=key.fingerprint)
        lookup = opened.lookup(view.viewer_id, view.viewed_at)
    source = '<script>alert("x")</script> & <img src=http://evil>.jpg'
    result = dataclasses.replace(found, source=source, parameters={"<k>": "<v>"})
    page = render_report([ReportEntry(result, photo[1], lookup)], title="<T&C>")
    assert "<script" not in page and "<b>Mallory" not in page and "<img src=http" not in page
    assert str(escape(source)) in page
    assert "&lt;b&gt;Mallory&lt;/b&gt;" in page and "WS &lt;1&gt;" in page
    assert "<th scope=\"row\">&lt;k&gt;</th><td>&lt;v&gt;</td>" in page
    assert "<title>&lt;T&amp;C&gt;</title>" in page


def test_ledger_join_is_shown_as_tables(found, photo, recorded):
    url, view, lookup = recorded
    page = render_report([ReportEntry(found, photo[1], lookup)])
    section = page.split("<h3>Access ledger</h3>", 1)[1].split("<h3>Evidence</h3>", 1)[0]
    assert url in section and view.view_uid in section
    for text in ("<strong>Dr. Ava Example</strong> (viewer 4821)", "<td><strong>MRN-0042917</strong></td>",
                 "<td><strong>WS-ICU-07</strong></td>", "10.20.30.41", "2026-03-01T09:30:17.250000Z",
                 "Client address", "Viewer ID", "between 09:25Z and 09:35Z"):
        assert text in section
    assert "patient-list" in section  # the viewer's earlier view in the window
    assert "Other accounts on WS-ICU-07" in section and "Maren Okafor, RN" in section and "5177" in section
    assert "Access ledger" not in render_report([ReportEntry(found, photo[1])])


def test_ledger_without_a_recorded_view_says_so(tmp_path, found, photo, key):
    with ledger.Ledger.open(tmp_path / "empty.sqlite", ledger_key=ledger.LedgerKey.generate()) as opened:
        lookup = opened.lookup(4821, found.payload.timestamp, key_fingerprint=key.fingerprint)
    page = render_report([ReportEntry(found, photo[1], lookup)])
    assert "No recorded view by viewer 4821 at 2026-03-01T09:30Z." in page
    assert "Recorded views that minute</th><td><strong>0</strong>" in page


def test_summary_lists_every_entry_with_its_verdict(found, photo, not_found, unmarked):
    page = render_report([ReportEntry(found, photo[1]), ReportEntry(not_found, unmarked)])
    summary = page.split('id="entry-1"')[0]
    assert "2 images examined: 1 traced, 1 without a readable watermark." in summary
    assert 'href="#entry-1"' in summary and 'href="#entry-2"' in summary
    assert str(escape(found.source)) in summary and "&lt;array&gt;" in summary
    assert f'title="{found.sha256}"' in summary and "in memory" in summary


def test_report_renders_without_matplotlib(monkeypatch, found, photo):
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)
    page = render_report([ReportEntry(found, photo[1])])
    assert "needs matplotlib" in page and "Traced: viewer 4821" in page


def test_missing_directory_raises_and_writes_nothing(tmp_path, not_found, unmarked):
    with pytest.raises(FileNotFoundError):
        write_report(tmp_path / "missing" / "report.html", [ReportEntry(not_found, unmarked)])
    assert list(tmp_path.iterdir()) == []


def test_failed_rename_leaves_no_temp_file_and_keeps_the_old_report(tmp_path, monkeypatch, not_found, unmarked):
    path = tmp_path / "report.html"
    path.write_text("old report", encoding="utf-8")

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("tracer._report.os.replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_report(path, [ReportEntry(not_found, unmarked)])
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
    assert path.read_text(encoding="utf-8") == "old report"


def test_bad_entries_are_rejected_with_clear_messages(found, unmarked, recorded):
    with pytest.raises(watermark.ImageError, match=r"HxWx3 uint8 RGB array, got shape \(10, 10\) and dtype float64") as caught:
        ReportEntry(found, np.zeros((10, 10)))
    assert caught.value.shape == (10, 10) and caught.value.dtype == "float64"
    with pytest.raises(watermark.OptionTypeError, match="result must be a tracer.TraceResult, got dict") as caught:
        ReportEntry({}, unmarked)
    assert caught.value.name == "result" and isinstance(caught.value, TypeError)
    with pytest.raises(TypeError, match="ledger must be a ledger.LedgerLookup or None, got dict") as caught:
        ReportEntry(found, unmarked, ledger=recorded[2].to_dict())  # the JSON form is not the typed lookup
    assert caught.value.name == "ledger"
    with pytest.raises(watermark.OptionError, match="at least one ReportEntry") as caught:
        render_report([])
    assert caught.value.name == "entries" and isinstance(caught.value, ValueError)
    with pytest.raises(TypeError, match=r"entries\[0\] must be a ReportEntry, got TraceResult"):
        render_report([found])

"""The forensic HTML report: self-contained, complete, escaped, written atomically."""

from __future__ import annotations

import base64
import html
import io
import re
import sys
from datetime import datetime, timezone

import numpy as np
import pytest
from PIL import Image

import watermark
from tracer._report import ReportEntry, probability_sentence, render_report, write_report
from tracer._trace import Hypothesis, TraceResult

SEED = 11  # synthetic image and soft bits below depend on it
SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
FINGERPRINT = "3fa9-1c22-8e0b-77d4"
GENERATED = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
HYPOTHESES = [
    Hypothesis(name="screen-quad", scale=0.98, rotation=0, mirrored=False, detection_score=14.2, found=True,
               mac_checks=1),
    Hypothesis(name="screen-quad-rot90", scale=0.98, rotation=1, mirrored=False, detection_score=1.1, found=False,
               mac_checks=5),
    Hypothesis(name="screen-quad-mirror", scale=0.98, rotation=0, mirrored=True, detection_score=0.9, found=False,
               mac_checks=5),
]
EXPECTED_SENTENCE = (
    "The chance that an image carrying no watermark of this hospital's key would produce this or any other "
    "viewer ID by accident is at most 1 in 90 billion (1.1e-11), counting all 3 geometric hypotheses the tracer "
    "tried (11 keyed checks in all)."
)


def _image(width: int = 1600, height: int = 900) -> np.ndarray:
    rng = np.random.default_rng(SEED)
    image = np.full((height, width, 3), 70, np.uint8)
    image[100:-100, 150:-150] = 245  # a bright "screen" on a dark background
    return np.clip(image + rng.normal(0, 3, image.shape), 0, 255).astype(np.uint8)


def _found(**changes) -> TraceResult:
    rng = np.random.default_rng(SEED)
    fields = dict(
        found=True,
        payload=watermark.Payload(viewer_id=4821, timestamp=datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc)),
        key_fingerprint=FINGERPRINT,
        false_attribution_probability=11 * 2.0**-40,
        detection_score=14.2,
        quad=np.array([[160.0, 110.0], [1440.0, 110.0], [1440.0, 790.0], [160.0, 790.0]]),
        hypotheses=HYPOTHESES,
        timings={"load_s": 0.08, "decode_s": 0.6, "total_s": 0.7},
        source="leak.jpg",
        sha256=SHA,
        image_size=(1600, 900),
        bit_error_rate=0.042,
        bit_snr=rng.choice([-1.0, 1.0], 284) * np.abs(rng.normal(3, 1, 284)),
        rectified=_image(1300, 700),
        parameters={"tile": 256, "dwt_level": 2, "prefilter": {"kind": "normalized-conv", "radius": 4}},
    )
    fields.update(changes)
    return TraceResult(**fields)


def _not_found(**changes) -> TraceResult:
    fields = dict(
        found=False, payload=None, key_fingerprint=None, false_attribution_probability=11 * 2.0**-40,
        detection_score=1.3, quad=None, hypotheses=HYPOTHESES[1:], timings={"total_s": 0.4},
        source="screenshot.png", sha256=None, image_size=(1600, 900),
    )
    fields.update(changes)
    return TraceResult(**fields)


@pytest.fixture(scope="module")
def found_page() -> str:
    return render_report([ReportEntry(_found(), _image())], generated_at=GENERATED)


def _data_uris(page: str) -> list[str]:
    return re.findall(r'<img[^>]*\ssrc="([^"]*)"', page)


def _decode(uri: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))


def test_write_report_creates_a_self_contained_file(tmp_path):
    path = tmp_path / "report.html"
    write_report(path, [ReportEntry(_found(), _image()), ReportEntry(_not_found(), _image())])
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r'(src|href)\s*=\s*"(?!data:|#)', page)  # only data: URIs and in-page anchors
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page and "<link" not in page
    uris = _data_uris(page)
    assert len(uris) == 4  # two inputs, one rectified screen, one bit plot (the other result has no bits)
    assert all(u.startswith(("data:image/jpeg;base64,", "data:image/png;base64,")) for u in uris)
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_found_verdict_names_viewer_and_time(found_page):
    assert "Traced: viewer 4821, 2026-03-01 09:30 UTC" in found_page
    assert "2026-03-01T09:30:00+00:00" in found_page  # ISO 8601 render time of the screen


def test_evidence_shows_hash_fingerprint_version_and_generation_time(found_page):
    assert SHA in found_page
    assert FINGERPRINT in found_page
    assert f"leaktrace {watermark.__version__}" in found_page
    assert "2026-03-02T10:00:00+00:00" in found_page
    assert "1600 &times; 900 px" in found_page
    assert "4.2%" in found_page and "14.20" in found_page


def test_probability_is_explained_in_one_conservative_sentence(found_page):
    assert probability_sentence(_found()) == EXPECTED_SENTENCE
    assert html.escape(EXPECTED_SENTENCE) in found_page


def test_single_hypothesis_sentence_is_grammatical():
    result = _found(hypotheses=HYPOTHESES[:1], false_attribution_probability=2.0**-40)
    assert probability_sentence(result).endswith(
        "at most 1 in 1 trillion (9.1e-13), counting the 1 geometric hypothesis the tracer tried "
        "(1 keyed check in all)."
    )


def test_parameters_hypotheses_and_timings_are_tabulated(found_page):
    assert html.escape('{"kind": "normalized-conv", "radius": 4}') in found_page
    for h in HYPOTHESES:
        assert f"<td>{h.name}</td>" in found_page
    assert "90&deg;" in found_page
    assert "0.600 s" in found_page


def test_input_preview_is_downscaled_with_the_quad_outlined(found_page):
    preview = np.asarray(_decode(_data_uris(found_page)[0]).convert("RGB")).astype(int)
    assert preview.shape == (675, 1200, 3)
    edge = preview[300:400, 114:124]  # the quad's left edge, x = 160 * 0.75 = 120
    magenta = (edge[..., 0] > 180) & (edge[..., 1] < 90) & (edge[..., 2] > 110)
    assert magenta.mean() > 0.2
    inside = preview[300:400, 400:800]
    assert not ((inside[..., 0] > 180) & (inside[..., 1] < 90)).any()


def test_bit_confidence_plot_is_an_embedded_png(found_page):
    pngs = [u for u in _data_uris(found_page) if u.startswith("data:image/png")]
    assert len(pngs) == 1
    plot = _decode(pngs[0])
    assert plot.format == "PNG" and plot.width > 600
    assert "284 channel bits" in found_page


def test_not_found_says_so_and_that_it_proves_nothing():
    page = render_report([ReportEntry(_not_found(), _image())])
    assert "No watermark found" in page
    assert "does not prove that the image is unmarked or authentic" in page
    assert "Traced:" not in page
    assert "supplied in memory" in page  # no SHA-256 for an in-memory image, and the report says why
    assert "No rectified screen" in page and "No per-bit values" in page


def test_special_characters_in_names_are_escaped():
    source = '<script>alert("x")</script> & <img src=http://evil>.jpg'
    ledger = {"display_name": "<b>Mallory</b>", "surrounding": [{"workstation": "WS <1>"}]}
    page = render_report(
        [ReportEntry(_found(source=source, parameters={"<k>": "<v>"}), _image(), ledger)], title="<T&C>"
    )
    assert "<script" not in page and "<b>Mallory" not in page and "<img src=http" not in page
    assert html.escape(source) in page
    assert "&lt;b&gt;Mallory&lt;/b&gt;" in page and "WS &lt;1&gt;" in page
    assert "<title>&lt;T&amp;C&gt;</title>" in page


def test_ledger_join_is_shown_as_tables():
    ledger = {
        "display_name": "Dr. Ava Example",
        "record_id": "MRN-0042917",
        "workstation": "WS-ICU-07",
        "client_address": "10.20.30.41",
        "viewed_at": datetime(2026, 3, 1, 9, 30, 12, tzinfo=timezone.utc),
        "surrounding": [
            {"viewer_id": 4821, "viewed_at": "2026-03-01T09:28:40Z"},
            {"viewer_id": 5177, "viewed_at": "2026-03-01T09:41:03Z", "workstation": "WS-ER-02"},
        ],
    }
    page = render_report([ReportEntry(_found(), _image(320, 200), ledger)])
    assert "Access ledger" in page
    for text in ("Dr. Ava Example", "MRN-0042917", "WS-ICU-07", "10.20.30.41", "2026-03-01T09:30:12+00:00",
                 "5177", "WS-ER-02", "Client address", "Viewer ID"):
        assert text in page
    assert "Access ledger" not in render_report([ReportEntry(_found(), _image(320, 200))])


def test_summary_lists_every_entry_with_its_verdict():
    page = render_report([ReportEntry(_found(), _image(320, 200)), ReportEntry(_not_found(), _image(320, 200))])
    summary = page.split('id="entry-1"')[0]
    assert "2 images examined: 1 traced, 1 without a readable watermark." in summary
    assert 'href="#entry-1"' in summary and 'href="#entry-2"' in summary
    assert "leak.jpg" in summary and "screenshot.png" in summary


def test_report_renders_without_matplotlib(monkeypatch):
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)
    page = render_report([ReportEntry(_found(), _image(320, 200))])
    assert "needs matplotlib" in page and "Traced: viewer 4821" in page


def test_missing_directory_raises_and_writes_nothing(tmp_path):
    with pytest.raises(FileNotFoundError):
        write_report(tmp_path / "missing" / "report.html", [ReportEntry(_not_found(), _image(320, 200))])
    assert list(tmp_path.iterdir()) == []


def test_failed_rename_leaves_no_temp_file_and_keeps_the_old_report(tmp_path, monkeypatch):
    path = tmp_path / "report.html"
    path.write_text("old report", encoding="utf-8")

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("tracer._report.os.replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_report(path, [ReportEntry(_not_found(), _image(320, 200))])
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
    assert path.read_text(encoding="utf-8") == "old report"


def test_bad_entries_are_rejected_with_clear_messages():
    with pytest.raises(watermark.ImageError, match=r"HxWx3 uint8 RGB array, got shape \(10, 10\) and dtype float64"):
        ReportEntry(_found(), np.zeros((10, 10)))
    with pytest.raises(TypeError, match="result must be a tracer.TraceResult, got dict"):
        ReportEntry({}, _image(32, 32))
    with pytest.raises(TypeError, match="ledger must be a mapping or None, got list"):
        ReportEntry(_found(), _image(32, 32), ledger=[1, 2])
    with pytest.raises(ValueError, match="at least one ReportEntry"):
        render_report([])
    with pytest.raises(TypeError, match=r"entries\[0\] must be a ReportEntry"):
        render_report([_found()])

"""``trace-leak`` end to end: exit codes, output, ledger join, report, and every error path a user can hit."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from PIL import Image

import ledger
import watermark
from synthetic import render_screen
from tracer.cli import main


def _files(tmp_path, key, payload):
    key_path = tmp_path / "h.key"
    key.save(key_path)
    marked = watermark.embed(render_screen("notes", size=(1366, 768), seed=2), payload, key)
    leaked = tmp_path / "leaked.jpg"
    Image.fromarray(marked).save(leaked, quality=80)
    unmarked = tmp_path / "unmarked.png"
    Image.fromarray(render_screen("notes", size=(1366, 768), seed=3)).save(unmarked)
    return key_path, leaked, unmarked


def test_traced_image_exits_0_and_names_viewer_and_time(tmp_path, key, payload, capsys):
    key_path, leaked, _ = _files(tmp_path, key, payload)
    assert main([str(leaked), "--key-file", str(key_path)]) == 0
    out = capsys.readouterr().out
    assert "viewer 4821 at 2026-03-01T09:30Z" in out and "false-attribution probability" in out


def test_unmarked_image_exits_1(tmp_path, key, payload, capsys):
    key_path, _, unmarked = _files(tmp_path, key, payload)
    assert main([str(unmarked), "--key-file", str(key_path)]) == 1
    out = capsys.readouterr().out
    assert "no watermark found" in out and "This does not show the image is unmarked" in out
    # an unmarked record screen is dismissed by the fast rejection, and the line says so and how to search it in full
    assert "dismissed by the fast rejection" in out and "--thorough" in out
    assert main([str(unmarked), "--key-file", str(key_path), "--thorough"]) == 1
    out = capsys.readouterr().out
    assert "no watermark found" in out and "geometries tried" in out and "dismissed" not in out


def test_json_lists_every_image_and_exits_1_when_any_is_unmarked(tmp_path, key, payload, capsys):
    key_path, leaked, unmarked = _files(tmp_path, key, payload)
    assert main([str(leaked), str(unmarked), "--key-file", str(key_path), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    first, second = doc["results"]
    assert first["found"] and first["payload"]["viewer_id"] == 4821
    assert first["payload"]["timestamp"] == "2026-03-01T09:30:00+00:00"
    assert first["key_fingerprint"] == key.fingerprint and len(first["sha256"]) == 64
    assert not second["found"] and second["payload"] is None
    assert doc["exit_status"] == 1


def test_corrupt_image_exits_2_naming_the_file(tmp_path, key, payload, capsys):
    key_path, _, _ = _files(tmp_path, key, payload)
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really")
    assert main([str(bad), "--key-file", str(key_path)]) == 2
    assert "broken.jpg" in capsys.readouterr().err


def test_bad_key_file_exits_2(tmp_path, key, payload, capsys):
    _, leaked, _ = _files(tmp_path, key, payload)
    bad_key = tmp_path / "bad.key"
    bad_key.write_text("leaktrace-key-v1\n1234\n")
    assert main([str(leaked), "--key-file", str(bad_key)]) == 2
    assert "bad.key" in capsys.readouterr().err


def test_report_is_written_with_the_verdict(tmp_path, key, payload, capsys):
    key_path, leaked, _ = _files(tmp_path, key, payload)
    report = tmp_path / "report.html"
    assert main([str(leaked), "--key-file", str(key_path), "--report", str(report)]) == 0
    html = report.read_text(encoding="utf-8")
    assert "4821" in html and key.fingerprint in html and "data:image/" in html
    assert "http://" not in html and "https://" not in html


def test_progress_bar_for_several_images(tmp_path, key, payload, capsys):
    key_path, leaked, unmarked = _files(tmp_path, key, payload)
    main([str(leaked), str(unmarked), "--key-file", str(key_path)])
    err = capsys.readouterr().err
    assert "1/2" in err and "2/2" in err


# ----------------------------------------------------------------- the ledger and the report, end to end
T_VIEW = datetime(2026, 3, 1, 9, 30, 17, 250000, tzinfo=timezone.utc)


def _stamped_view(tmp_path, key):
    """A real flow: record the view in a SQLite ledger, stamp the screen with its payload, save it as PNG."""
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    with ledger.Ledger.open(url, ledger_key=ledger.LedgerKey.generate()) as opened:
        opened.record_view(viewer_id=5170, display_name="Maren Okafor, RN", record_id="patient-list",
                           workstation="WS-4B-112", client_address="10.20.4.112", key_fingerprint=key.fingerprint,
                           viewed_at=T_VIEW - timedelta(minutes=2))
        view = opened.record_view(viewer_id=4821, display_name="Dr. Anselm <Quist>", record_id="MRN 28110431",
                                  workstation="WS-4B-112", client_address="10.20.4.112",
                                  key_fingerprint=key.fingerprint, viewed_at=T_VIEW)
    marked = watermark.embed(render_screen("notes", size=(1366, 768), seed=2), view.payload, key)
    png = tmp_path / "leaked.png"
    Image.fromarray(marked).save(png)
    key_path = tmp_path / "h.key"
    key.save(key_path)
    return url, png, key_path, view


def test_ledger_and_report_name_the_record_and_the_workstation(tmp_path, key, capsys):
    url, png, key_path, view = _stamped_view(tmp_path, key)
    report = tmp_path / "report.html"
    code = main([str(png), "--key-file", str(key_path), "--ledger", url, "--report", str(report), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    doc = json.loads(captured.out)
    (first,) = doc["results"]
    assert first["ledger"]["found"] and first["ledger"]["matches"][0]["view_uid"] == view.view_uid
    page = report.read_text(encoding="utf-8")
    assert "Access ledger" in page
    assert "<td><strong>MRN 28110431</strong></td>" in page
    assert "<td><strong>WS-4B-112</strong></td>" in page
    assert "Dr. Anselm &lt;Quist&gt;" in page and "<Quist>" not in page  # the display name, escaped
    assert "Maren Okafor, RN" in page  # another account at the same workstation in the window
    assert view.view_uid in page and "2026-03-01T09:30:17.250000Z" in page


def test_ledger_join_is_printed_for_the_officer(tmp_path, key, capsys):
    url, png, key_path, _ = _stamped_view(tmp_path, key)
    assert main([str(png), "--key-file", str(key_path), "--ledger", url]) == 0
    out = capsys.readouterr().out
    assert "record:       MRN 28110431" in out and "workstation:  WS-4B-112 (client 10.20.4.112)" in out


def _tamper_sqlite(url: str, sql: str) -> None:
    """What an insider with write access to the ledger file did: triggers dropped, a row changed, triggers back."""
    import sqlite3

    from ledger._sqlite import _TRIGGER_NAMES, _TRIGGERS, split_sql

    conn = sqlite3.connect(url[len("sqlite:///"):], isolation_level=None)
    for name in _TRIGGER_NAMES:
        conn.execute(f"DROP TRIGGER {name}")
    conn.execute(sql)
    for statement in split_sql(_TRIGGERS):
        conn.execute(statement)
    conn.close()


def test_a_tampered_ledger_names_nobody_but_the_mark_still_speaks(tmp_path, key, capsys):
    url, png, key_path, _ = _stamped_view(tmp_path, key)
    _tamper_sqlite(url, "UPDATE leaktrace_views SET display_name = 'Maren Okafor, RN', workstation = 'WS-1' "
                        "WHERE viewer_id = 4821")
    report = tmp_path / "report.html"
    assert main([str(png), "--key-file", str(key_path), "--ledger", url, "--report", str(report)]) == 0
    out = capsys.readouterr().out
    assert "viewer 4821 at 2026-03-01T09:30Z" in out  # the decoded viewer ID and time
    assert "NOBODY IS NAMED" in out and "was changed after it was recorded" in out
    assert "Okafor" not in out and "who:" not in out
    page = report.read_text(encoding="utf-8")
    assert "Nobody is named from this ledger" in page and "Okafor" not in page
    assert main([str(png), "--key-file", str(key_path), "--ledger", url, "--json"]) == 0
    (record,) = json.loads(capsys.readouterr().out)["results"]
    assert record["ledger"]["named"] is False and record["ledger"]["integrity"]["first_bad_seq"] == 2


def test_the_pinned_ledger_key_and_the_directory_are_checked(tmp_path, key, capsys):
    url, png, key_path, _ = _stamped_view(tmp_path, key)
    other = tmp_path / "other.pub"
    ledger.LedgerKey.generate().save(other, public=True)
    assert main([str(png), "--key-file", str(key_path), "--ledger", url, "--ledger-key", str(other)]) == 0
    out = capsys.readouterr().out
    assert "NOBODY IS NAMED" in out and "not signed by ledger key" in out and "Quist" not in out
    directory = tmp_path / "accounts.json"
    directory.write_text(json.dumps({"format": "leaktrace-directory", "version": 1, "accounts": [
        {"viewer_id": 4821, "display_name": "Dr. Marek Lindqvist"}]}))
    assert main([str(png), "--key-file", str(key_path), "--ledger", url, "--directory", str(directory)]) == 0
    out = capsys.readouterr().out
    assert "NOBODY IS NAMED" in out and "the directory lists 'Dr. Marek Lindqvist'" in out
    directory.write_text(json.dumps({"format": "leaktrace-directory", "version": 1, "accounts": [
        {"viewer_id": 4821, "display_name": "Dr. Anselm <Quist>"}]}))
    assert main([str(png), "--key-file", str(key_path), "--ledger", url, "--directory", str(directory)]) == 0
    out = capsys.readouterr().out
    assert "who:          Dr. Anselm <Quist> (viewer 4821)" in out and "chain verified" in out


def test_leaktrace_ledger_verify_reports_the_first_broken_link(tmp_path, key, capsys):
    from ledger._cli import main as ledger_main

    url, _, _, _ = _stamped_view(tmp_path, key)
    assert ledger_main(["keygen", str(tmp_path / "unused.key")]) == 0
    assert ledger_main(["keygen", str(tmp_path / "unused.key")]) == 2
    assert "--force" in capsys.readouterr().err
    with ledger.Ledger.open(url, read_only=True) as opened:
        public = tmp_path / "ledger.pub"
        opened.ledger_key.save(public, public=True)
    assert ledger_main(["verify", url, "--key", str(public)]) == 0
    assert "chain intact: 2 rows" in capsys.readouterr().out
    _tamper_sqlite(url, "DELETE FROM leaktrace_views WHERE viewer_id = 5170")
    assert ledger_main(["verify", url, "--key", str(public), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["first_bad_seq"] == 1


# ----------------------------------------------------------------- errors: exit 2, one line on stderr, no traceback
def test_window_out_of_range_exits_2_before_tracing(tmp_path, key, capsys):
    url, png, key_path, _ = _stamped_view(tmp_path, key)  # a traced image: the old CLI crashed in the lookup
    with pytest.raises(SystemExit) as caught:
        main([str(png), "--key-file", str(key_path), "--ledger", url, "--window", "2000"])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert re.search(r"trace-leak: error: argument --window: expected an integer in 0\.\.1440, got 2000", err)
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--window", "-1", r"argument --window: expected an integer in 0\.\.1440, got -1"),
        ("--window", "five", r"argument --window: expected an integer in 0\.\.1440, got 'five'"),
        ("--max-pixels", "0", r"argument --max-pixels: expected an integer >= 1, got 0"),
        ("--max-pixels", "1e6", r"argument --max-pixels: expected an integer >= 1, got '1e6'"),
    ],
)
def test_numeric_options_are_validated_with_a_clear_message(tmp_path, option, value, message, capsys):
    with pytest.raises(SystemExit) as caught:
        main([str(tmp_path / "any.png"), "--key-file", str(tmp_path / "h.key"), option, value])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert re.search(message, err) and "Traceback" not in err


def test_max_pixels_reaches_the_trace_and_the_report(tmp_path, key, payload, capsys):
    key_path, leaked, _ = _files(tmp_path, key, payload)
    report = tmp_path / "report.html"
    assert main([str(leaked), "--key-file", str(key_path), "--max-pixels", "2000000", "--json",
                 "--report", str(report)]) == 0
    (first,) = json.loads(capsys.readouterr().out)["results"]
    assert first["parameters"]["max_pixels"] == 2_000_000
    assert re.search(r'<th scope="row">max_pixels</th><td>2000000</td>', report.read_text(encoding="utf-8"))


def test_image_over_max_pixels_exits_2_naming_the_file(tmp_path, key, payload, capsys):
    key_path, leaked, _ = _files(tmp_path, key, payload)
    assert main([str(leaked), "--key-file", str(key_path), "--max-pixels", "100000"]) == 2
    err = capsys.readouterr().err
    assert re.search(r"trace-leak: error: .*leaked\.jpg", err) and "100000" in err and "Traceback" not in err


def test_missing_ledger_exits_2_without_tracing(tmp_path, key, payload, capsys):
    key_path, leaked, _ = _files(tmp_path, key, payload)
    missing = tmp_path / "none.sqlite"
    assert main([str(leaked), "--key-file", str(key_path), "--ledger", f"sqlite:///{missing}"]) == 2
    captured = capsys.readouterr()
    assert re.search(r"trace-leak: error: ledger file .*none\.sqlite' does not exist", captured.err)
    assert captured.out == "" and not missing.exists()


def test_bad_ledger_url_exits_2(tmp_path, key, payload, capsys):
    key_path, leaked, _ = _files(tmp_path, key, payload)
    assert main([str(leaked), "--key-file", str(key_path), "--ledger", "mysql://audit:s3cret@db/emr"]) == 2
    err = capsys.readouterr().err
    assert "unsupported ledger URL scheme 'mysql'" in err and "s3cret" not in err


def test_ledger_failure_during_the_lookup_exits_2(tmp_path, key, capsys, monkeypatch):
    url, png, key_path, _ = _stamped_view(tmp_path, key)

    def unavailable(self, *args, **kwargs):
        raise ledger.LedgerUnavailableError("cannot read ledger: disk I/O error", url=self.url, reason="i/o error")

    monkeypatch.setattr(ledger.Ledger, "lookup", unavailable)
    assert main([str(png), "--key-file", str(key_path), "--ledger", url, "--json"]) == 2
    captured = capsys.readouterr()
    assert "trace-leak: error: cannot read ledger: disk I/O error" in captured.err
    doc = json.loads(captured.out)
    assert doc["exit_status"] == 2 and doc["results"][0]["error"] == "cannot read ledger: disk I/O error"


def test_missing_key_file_exits_2(tmp_path, key, payload, capsys):
    _, leaked, _ = _files(tmp_path, key, payload)
    assert main([str(leaked), "--key-file", str(tmp_path / "nope.key")]) == 2
    err = capsys.readouterr().err
    assert re.search(r"trace-leak: error: .*nope\.key", err) and "Traceback" not in err


def test_unexpected_failure_exits_2_not_1(tmp_path, key, payload, capsys, monkeypatch):
    key_path, leaked, _ = _files(tmp_path, key, payload)

    def broken(*args, **kwargs):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr("tracer.cli.trace", broken)
    assert main([str(leaked), "--key-file", str(key_path)]) == 2
    assert "trace-leak: error: internal error (RuntimeError: simulated bug)" in capsys.readouterr().err


def test_unwritable_report_exits_2(tmp_path, key, payload, capsys):
    key_path, leaked, _ = _files(tmp_path, key, payload)
    target = tmp_path / "missing" / "report.html"
    assert main([str(leaked), "--key-file", str(key_path), "--report", str(target)]) == 2
    assert re.search(r"trace-leak: error: cannot write report .*report\.html", capsys.readouterr().err)

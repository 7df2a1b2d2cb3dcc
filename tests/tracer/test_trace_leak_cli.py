from __future__ import annotations

import json

from PIL import Image

import watermark
from benchmarks.screens import render_screen
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
    assert "no watermark found" in capsys.readouterr().out


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

"""``trace-leak`` on inputs that must fail cleanly: one line on stderr, exit 2, no traceback, and strict JSON.

Results depend on the seeds below (the noise image must be dismissed by
the fast rejection, and must reach the geometry search with --thorough).
"""

from __future__ import annotations

import json
import os
import re
import signal

import numpy as np
import pytest
from PIL import Image

import watermark
from tracer.cli import main

NOISE_SEED = 1  # the unmarked noise photo


def _strict_json(text: str) -> dict:
    """Parse as standard JSON: NaN, Infinity and -Infinity are refused."""

    def refuse(constant: str) -> None:
        raise ValueError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def key_path(tmp_path, key):
    path = tmp_path / "h.key"
    key.save(path)
    return path


@pytest.fixture
def noise_png(tmp_path):
    path = tmp_path / "noise.png"
    Image.fromarray(np.random.default_rng(NOISE_SEED).integers(0, 256, (300, 400, 3), dtype=np.uint8)).save(path)
    return path


def test_each_hostile_input_is_one_clear_line_and_exit_2(hostile_input, key_path, capsys):
    source, message = hostile_input
    code = main([source, "--key-file", str(key_path)])
    captured = capsys.readouterr()
    assert code == 2
    if os.path.isdir(source):  # a folder is scanned: an empty one is an error, not "every image traced"
        message = r"no image files found in .*directory\.png"
    assert re.search(rf"^trace-leak: error: .*{message}.*$", captured.err, re.MULTILINE), captured.err
    assert "Traceback" not in captured.err and len(captured.err.strip().splitlines()) == 1


def test_hostile_inputs_beside_a_good_one_keep_every_result_in_the_json(tmp_path, hostile_input, key_path, noise_png, capsys):
    source, message = hostile_input
    if os.path.isdir(source):
        pytest.skip("a folder makes a batch scan (tested below)")
    code = main([str(noise_png), source, "--key-file", str(key_path), "--json"])
    captured = capsys.readouterr()
    assert code == 2
    doc = _strict_json(captured.out)
    good, bad = doc["results"]
    assert good["source"] == str(noise_png) and good["found"] is False
    assert bad["source"] == source and re.search(message, bad["error"])
    assert doc["exit_status"] == 2 and "Traceback" not in captured.err


def test_an_internal_failure_on_one_image_keeps_the_others_results(tmp_path, key_path, noise_png, capsys, monkeypatch):
    import tracer.cli

    real_trace = tracer.cli.trace
    second = tmp_path / "second.png"
    Image.fromarray(np.full((300, 400, 3), 200, np.uint8)).save(second)

    def fails_on_second(loaded, *args, **kwargs):
        if loaded.source == str(second):
            raise RuntimeError("simulated bug")
        return real_trace(loaded, *args, **kwargs)

    monkeypatch.setattr(tracer.cli, "trace", fails_on_second)
    code = main([str(noise_png), str(second), "--key-file", str(key_path), "--json"])
    captured = capsys.readouterr()
    assert code == 2
    first, failed = _strict_json(captured.out)["results"]
    assert first["found"] is False and "error" not in first
    assert failed["source"] == str(second) and failed["error"] == "internal error (RuntimeError: simulated bug)"
    assert "trace-leak: error: " in captured.err and "simulated bug" in captured.err


@pytest.mark.parametrize("thorough", [False, True], ids=["dismissed", "searched"])
def test_json_is_standard_for_an_unmarked_image(key_path, noise_png, thorough, capsys):
    args = [str(noise_png), "--key-file", str(key_path), "--json"] + (["--thorough"] if thorough else [])
    assert main(args) == 1
    (result,) = _strict_json(capsys.readouterr().out)["results"]
    assert result["found"] is False and result["payload"] is None
    assert bool(result["hypotheses"]) == thorough  # the dismissed image was never searched; the other was


def test_batch_json_is_standard_too(tmp_path, key_path, noise_png, capsys):
    out = tmp_path / "rows.jsonl"
    assert main([str(noise_png), "--key-file", str(key_path), "--json", "--out", str(out)]) == 1
    (row,) = _strict_json(capsys.readouterr().out)["results"]
    assert row["status"] == "dismissed"
    assert [_strict_json(line)["status"] for line in out.read_text().splitlines()] == ["dismissed"]


def test_json_is_written_even_when_the_report_cannot_be(tmp_path, key_path, noise_png, capsys):
    code = main([str(noise_png), "--key-file", str(key_path), "--json", "--report", str(tmp_path / "missing" / "r.html")])
    captured = capsys.readouterr()
    assert code == 2
    doc = _strict_json(captured.out)
    assert doc["exit_status"] == 2 and doc["results"][0]["source"] == str(noise_png)
    assert re.search(r"trace-leak: error: cannot write report .*r\.html", captured.err)


def test_max_bytes_option_refuses_a_larger_file(key_path, noise_png, capsys):
    size = noise_png.stat().st_size
    assert main([str(noise_png), "--key-file", str(key_path), "--max-bytes", str(size - 1)]) == 2
    assert f"{size} bytes is over the limit of {size - 1} bytes" in capsys.readouterr().err


def test_max_bytes_option_reaches_a_batch_scan(tmp_path, key_path, noise_png, capsys):
    size = noise_png.stat().st_size
    out = tmp_path / "rows.jsonl"
    assert main([str(noise_png), "--key-file", str(key_path), "--out", str(out), "--max-bytes", str(size - 1)]) == 2
    (row,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert row["status"] == "error" and f"over the limit of {size - 1} bytes" in row["error"]


@pytest.mark.parametrize("value", ["0", "-5", "lots"])
def test_max_bytes_option_is_validated(tmp_path, value, capsys):
    with pytest.raises(SystemExit) as caught:
        main([str(tmp_path / "any.png"), "--key-file", str(tmp_path / "h.key"), "--max-bytes", value])
    assert caught.value.code == 2
    assert re.search(r"argument --max-bytes: expected an integer >= 1", capsys.readouterr().err)


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_world_readable_key_file_is_a_warning_line(key_path, noise_png, capsys):
    os.chmod(key_path, 0o644)
    assert main([str(noise_png), "--key-file", str(key_path)]) == 1
    err = capsys.readouterr().err
    assert re.search(r"^trace-leak: warning: key file .*h\.key' is readable by group and others .*chmod 600", err, re.MULTILINE)


@pytest.mark.parametrize("kind", ["dev-zero", "fifo", "directory"])
def test_key_file_that_is_not_a_regular_file_exits_2(tmp_path, noise_png, kind, capsys):
    if kind == "dev-zero":
        if not os.path.exists("/dev/zero"):
            pytest.skip("needs /dev/zero")
        path = "/dev/zero"
    else:
        path = str(tmp_path / "k")
        if kind == "fifo":
            if not hasattr(os, "mkfifo"):
                pytest.skip("named pipes are POSIX")
            os.mkfifo(path)
        else:
            os.mkdir(path)
    assert main([str(noise_png), "--key-file", path]) == 2
    err = capsys.readouterr().err
    assert re.fullmatch(rf"trace-leak: error: key file '{re.escape(path)}' is a .*, not a regular file\n", err), err


def test_folder_with_a_named_pipe_called_zip_does_not_hang(tmp_path, key_path, noise_png, capsys):
    if not hasattr(os, "mkfifo"):
        pytest.skip("named pipes are POSIX")
    folder = tmp_path / "export"
    folder.mkdir()
    os.mkfifo(folder / "chat.zip")
    Image.open(noise_png).save(folder / "a.png")

    def hung(signum, frame):
        raise TimeoutError("trace-leak blocked on the named pipe")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(60)
    try:
        code = main([str(folder), "--key-file", str(key_path), "--json"])
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert code == 2
    rows = {row["id"]: row for row in _strict_json(capsys.readouterr().out)["results"]}
    assert rows[str(folder / "chat.zip")]["status"] == "error" and rows[str(folder / "a.png")]["status"] == "dismissed"


def test_trace_of_a_thin_file_is_an_error_not_no_watermark(tmp_path, key):
    path = tmp_path / "thin.png"
    Image.new("RGB", (3000, 2), "white").save(path)
    import tracer

    with pytest.raises(watermark.ImageLoadError, match="too small"):
        tracer.trace(path, key)

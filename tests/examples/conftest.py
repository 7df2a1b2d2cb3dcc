"""Fixtures for the example EMR viewer: the app in-process, the real server, a real Chromium.

Browser tests drive Debian's Chromium (``apt-get install chromium``) through
Playwright's Python client, never a browser that Playwright downloads. They
are skipped on a machine without them, except under CI (``CI`` set), where
they fail instead.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

import watermark

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("LEAKTRACE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--force-color-profile=srgb",  # no display colour transform on the overlay
]
VIEWER_KEY = bytes(range(40, 72))  # fixed key: the traces below depend on it


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must install it: see the test notes in tests/examples/conftest.py)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def viewer_key() -> watermark.Key:
    return watermark.Key(VIEWER_KEY)


@dataclass
class Viewer:
    """A running ``python -m examples.emr_viewer``."""

    url: str
    data_dir: Path
    key_file: Path
    ledger_url: str
    log: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def viewer_server(tmp_path_factory, viewer_key) -> Iterator[Viewer]:
    """Start the example viewer with its one command, on a free localhost port, with an embedded ledger."""
    pytest.importorskip("flask", reason="flask is in the 'viewer' extra")
    data_dir = tmp_path_factory.mktemp("viewer")
    key_file = data_dir / "hospital.key"
    viewer_key.save(key_file)
    port = _free_port()
    log = data_dir / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "examples.emr_viewer", "--port", str(port), "--data-dir", str(data_dir),
             "--workstation", "WS-TEST-00"],
            cwd=REPO, stdout=out, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"viewer exited with {proc.returncode}:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(url + "/login", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"viewer did not start in 60 s:\n{log.read_text()}")
            time.sleep(0.2)
        match = re.search(r"ledger (\S+)", log.read_text())
        assert match, log.read_text()
        yield Viewer(url, data_dir, key_file, match.group(1), log)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium, headless, driven by Playwright (no browser download)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright (python client) is not installed; it is in the 'viewer' extra")
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        _missing(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()

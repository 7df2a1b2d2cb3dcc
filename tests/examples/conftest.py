"""Fixtures for the example EMR viewer: the app in-process, the real server, a real Chromium.

Browser tests drive Debian's Chromium (``apt-get install chromium``) through
Playwright's Python client, never a browser that Playwright downloads. They
are skipped on a machine without them, except under CI (``CI`` set), where
they fail instead.

Accounts are made with the viewer's own account store (cheap argon2
parameters, fixed passwords below), workstations with its own registry, and
the ledger is signed with a ledger key made here: the fixtures use the same
producers as a deployment, not hand-written files.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

import watermark
from ledger import LedgerKey
from viewer_helpers import free_port, make_accounts, make_workstations

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
PROTECTED_KEY = bytes(range(90, 122))  # fixed key for server-stamped sensitive records

def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must install it: see the test notes in tests/examples/conftest.py)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def viewer_key() -> watermark.Key:
    return watermark.Key(VIEWER_KEY)


@pytest.fixture(scope="session")
def protected_key() -> watermark.Key:
    return watermark.Key(PROTECTED_KEY)


@pytest.fixture(scope="session")
def ledger_key() -> LedgerKey:
    return LedgerKey.generate()


@dataclass
class Viewer:
    """A running ``python -m examples.emr_viewer``."""

    url: str
    data_dir: Path
    key_file: Path
    protected_key_file: Path
    ledger_url: str
    ledger_public_key: Path
    accounts: Path
    workstation_tokens: dict[str, str]
    log: Path


@pytest.fixture(scope="session")
def viewer_server(tmp_path_factory, viewer_key, protected_key) -> Iterator[Viewer]:
    """Start the example viewer with its one command, on a free localhost port, with an embedded ledger."""
    pytest.importorskip("flask", reason="flask is in the 'viewer' extra")
    data_dir = tmp_path_factory.mktemp("viewer")
    key_file = data_dir / "hospital.key"
    viewer_key.save(key_file)
    protected_key_file = data_dir / "protected.key"
    protected_key.save(protected_key_file)
    ledger_key_file = data_dir / "ledger.key"
    signing = LedgerKey.generate()
    signing.save(ledger_key_file)
    public_key_file = signing.save(data_dir / "ledger.pub", public=True)
    accounts = make_accounts(data_dir / "accounts.json")
    tokens = make_workstations(data_dir / "workstations.json")
    port = free_port()
    log = data_dir / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "examples.emr_viewer", "--port", str(port), "--data-dir", str(data_dir),
             "--key-file", str(key_file), "--protected-key-file", str(protected_key_file),
             "--ledger-key", str(ledger_key_file), "--accounts", str(accounts),
             "--workstations", str(data_dir / "workstations.json")],
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
        yield Viewer(url, data_dir, key_file, protected_key_file, match.group(1), public_key_file, accounts, tokens,
                     log)
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
        _missing("playwright (python client) is not installed; it is in the 'test' extra")
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        _missing(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


# -- the app in-process (Flask test client)
@pytest.fixture
def ledger_path(tmp_path):
    return tmp_path / "ledger.sqlite"


@pytest.fixture(scope="session")
def accounts_path(tmp_path_factory):
    return make_accounts(tmp_path_factory.mktemp("accounts") / "accounts.json")


@pytest.fixture
def tokens(tmp_path):
    return make_workstations(tmp_path / "workstations.json")


@pytest.fixture
def make_app(ledger_path, viewer_key, protected_key, ledger_key, accounts_path, tokens, tmp_path):
    apps = []

    def make(**options):
        settings = dict(ledger=str(ledger_path), ledger_key=ledger_key, key=viewer_key, protected_key=protected_key,
                        accounts=accounts_path, workstations=tmp_path / "workstations.json", secret_key=b"test-only",
                        ledger_timeout_s=0.3)
        settings.update(options)
        pytest.importorskip("flask", reason="flask is in the 'viewer' extra")
        from examples.emr_viewer import create_app

        app = create_app(**settings)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["leaktrace_viewer"].ledger.close()


@pytest.fixture
def app(make_app):
    return make_app()

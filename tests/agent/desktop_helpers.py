"""Helpers and fixtures of the desktop agent's tests: the marking service, an X display, a record page, the agent.

The fixtures live here, imported by the test module, rather than in a ``conftest.py``: a second
``conftest`` module name beside ``tests/conftest.py`` clashes under ``--doctest-modules``.

The X programs come from ``scripts/test-services.sh`` (Debian's xvfb, picom,
x11-apps, xdotool, x11-xserver-utils and the xcb libraries), Qt for Python
from the test extra. Without them the tests that need a display skip here
and fail under CI.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pytest

import watermark
from agent import AccountMap, Marker, MarkService, WorkstationTokens
from benchmarks.xsession import XSession, missing_tools
from ledger import Ledger, LedgerKey

HERE = Path(__file__).parent
OS_USER = pwd.getpwuid(os.geteuid()).pw_name
ACCOUNTS = [
    {"username": OS_USER, "viewer_id": 4821, "display_name": "Dr. Marek Lindqvist"},
    {"username": "akowalski", "viewer_id": 5130, "display_name": "Anna Kowalski"},
]
WORKSTATION = "WS-4B-112"

RECORD_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>EMR - Lindqvist view</title>
<style>body{margin:0;font:14px 'DejaVu Sans',sans-serif;background:#fff;color:#1d2733}
header{background:#1f4e79;color:#fff;padding:10px 16px;font-size:17px}
main{padding:12px 16px} table{border-collapse:collapse;width:100%;margin:8px 0}
td,th{border-bottom:1px solid #d8dee6;padding:4px 6px;text-align:left} th{background:#eef2f6}
#sign{position:absolute;left:40px;top:90px;width:220px;height:56px;font-size:16px}</style></head>
<body><header>Patient record &middot; MRN 28110431 &middot; ERIKSSON, Ingrid &middot; DOB 1957-04-12</header>
<main><div style="height:80px"></div>
<h3>Medications</h3><table><tr><th>Drug</th><th>Dose</th><th>Route</th><th>Frequency</th><th>Start</th></tr>
ROWS</table><h3>Progress notes</h3><p>NOTES</p></main>
<button id="sign" onclick="document.title='clicked through the overlay'">Sign note</button></body></html>"""


def record_page(path: Path) -> Path:
    """Write a text-heavy, white EMR-like page with a button at a fixed place (40..260, 90..146 CSS px)."""
    drugs = ["Metoprolol", "Atorvastatin", "Apixaban", "Furosemide", "Lisinopril", "Metformin", "Omeprazole",
             "Levothyroxine", "Amlodipine", "Sertraline", "Warfarin", "Insulin glargine"]
    rows = "".join(f"<tr><td>{d}</td><td>{(i * 37) % 200 + 5} mg</td><td>oral</td><td>{1 + i % 3}x daily</td>"
                   f"<td>2026-0{1 + i % 9}-{10 + i}</td></tr>" for i, d in enumerate(drugs))
    notes = " ".join(["Patient reviewed on the ward round; breathing comfortably at rest, mild ankle oedema, "
                      "plan to continue diuretics and recheck renal function and potassium tomorrow."] * 6)
    path.write_text(RECORD_PAGE.replace("ROWS", rows).replace("NOTES", notes), encoding="utf-8")
    return path


def need_display() -> None:
    """Skip (fail under CI) when the X programs or Qt for Python are missing."""
    missing = missing_tools()
    try:
        import PySide6  # noqa: F401
    except ImportError:
        missing.append("PySide6 (the agent extra)")
    if shutil.which("chromium") is None:
        missing.append("chromium")
    if missing:
        reason = f"desktop agent tests need {', '.join(missing)} (scripts/test-services.sh installs them)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


def wait_for(check: Callable[[], Any], timeout: float = 20.0, what: str = "condition") -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found is not None and (isinstance(found, np.ndarray) or found):
            return found
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def read_status(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


class Service:
    """The marking service on loopback, its ledger and this workstation's token file."""

    def __init__(self, folder: Path) -> None:
        self.key = watermark.Key(bytes(range(32)))
        self.ledger_url = f"sqlite:///{folder / 'ledger.sqlite'}"
        self.ledger_key_path = folder / "ledger.key"
        ledger_key = LedgerKey.generate()
        ledger_key.save(self.ledger_key_path)
        self.ledger = Ledger.open(self.ledger_url, ledger_key=ledger_key)
        tokens = WorkstationTokens.load(folder / "tokens.json")
        self.token_file = folder / "ws.token"
        self.token_file.write_text(tokens.enrol(WORKSTATION))
        self.accounts_path = folder / "accounts.json"
        self.accounts_path.write_text(json.dumps({"format": "leaktrace-directory", "version": 1,
                                                  "accounts": ACCOUNTS}))
        self.key_path = folder / "hospital.key"
        self.key.save(self.key_path)
        self.service = MarkService(Marker(self.key, self.ledger, AccountMap.load(self.accounts_path)),
                                   WorkstationTokens.load(folder / "tokens.json")).start()
        self.url = self.service.url

    def rows(self, action: str | None = None) -> list[Any]:
        from datetime import datetime, timedelta, timezone

        views = self.ledger.views(since=datetime.now(timezone.utc) - timedelta(days=1),
                                  until=datetime.now(timezone.utc) + timedelta(days=3))
        return sorted((v for v in views if action is None or v.action == action), key=lambda v: v.view_id)

    def close(self) -> None:
        self.service.close()
        self.ledger.close()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    running = Service(tmp_path_factory.mktemp("agent-service"))
    yield running
    running.close()


@pytest.fixture()
def xsession() -> Iterator[XSession]:
    need_display()
    with XSession((1920, 1080)) as session:
        yield session


def start_chromium(x: XSession, page: Path, folder: Path, *, scale: float = 1.0) -> subprocess.Popen[bytes]:
    """Chromium showing ``page`` in an app window over the whole screen; waits until it has drawn."""
    w, h = x.size
    proc = x.spawn("chromium", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
                   "--disable-background-networking", "--disable-component-update", "--password-store=basic",
                   f"--user-data-dir={folder / 'chromium-profile'}", f"--force-device-scale-factor={scale}",
                   "--window-position=0,0", f"--window-size={round(w / scale)},{round(h / scale)}",
                   f"--app=file://{page}")
    wait_for(lambda: x.run("xdotool", "search", "--name", "EMR - Lindqvist", check=False).returncode == 0,
             30, "the Chromium window")
    settle(x)
    return proc


def settle(x: XSession, timeout: float = 30.0) -> Any:
    """Wait until the screen stops changing (two captures 0.5 s apart are equal); returns the capture."""
    previous = x.capture()

    def still() -> Any:
        nonlocal previous
        time.sleep(0.5)
        current = x.capture()
        same = np.array_equal(current, previous)
        previous = current
        return current if same else None

    return wait_for(still, timeout, "the screen to settle")


def start_agent(x: XSession, service: Service, status: Path, *, scale: float | str = 1.0,
                watchdog: bool = False, extra: tuple[str, ...] = ()) -> subprocess.Popen[bytes]:
    """``leaktrace-agent run|overlay --service ...`` on the display at Qt scale ``scale`` (or ``"NAME=f;..."``)."""
    env = x.env
    env["QT_SCREEN_SCALE_FACTORS"] = str(scale)
    argv = [sys.executable, "-m", "agent", "run" if watchdog else "overlay", "--service", service.url,
            "--token-file", str(service.token_file), "--status-file", str(status), *extra]
    return x.spawn(*argv, env=env, stderr=subprocess.PIPE)


def start_controlled_agent(x: XSession, service: Service, session_file: Path, status: Path,
                           speed: float) -> subprocess.Popen[bytes]:
    return x.spawn(sys.executable, str(HERE / "controlled_agent.py"), str(session_file), service.url,
                   str(service.token_file), str(status), str(speed), stderr=subprocess.PIPE)

"""The agent on a real X display: over Chromium and a plain X application, at two monitor scales.

Each test starts Xvfb with the picom compositor, an application, then the
agent (``python -m agent``, the real Qt windows and the marking service over
HTTP), takes the composited screen with ``xwd -root`` and traces it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

import synthetic
import tracer
from agent import MarkTile
from benchmarks.xsession import XSession

from desktop_helpers import (  # noqa: F401 - service and xsession are fixtures
    OS_USER,
    WORKSTATION,
    Service,
    read_status,
    service,
    xsession,
    record_page,
    settle,
    start_agent,
    start_chromium,
    start_controlled_agent,
    wait_for,
)


def _marking(status: Path, viewer: int | None = None, timeout: float = 30) -> dict:
    return wait_for(lambda: (s := read_status(status)) and s["state"] == "marking"
                    and (viewer is None or s["viewer_id"] == viewer) and s, timeout, f"the agent marking {viewer}")


def _expected(before: np.ndarray, service: Service, viewer: int, minute: str) -> np.ndarray:
    """The screen the compositor must show: ``before`` under the overlay, pixel for pixel (source-over, 8 bits)."""
    session_tiles = service.service._server.marker  # the marker that issued the tiles
    levels = session_tiles._tiles[(viewer, datetime.fromisoformat(minute))]
    tile = MarkTile(viewer_id=viewer, minute=datetime.fromisoformat(minute), half=session_tiles.half, levels=levels)
    h, w = before.shape[:2]
    over = tile.premultiplied(w, h).astype(np.int32)
    alpha = int(over[0, 0, 3])
    return np.rint(before.astype(np.int32) * (255 - alpha) / 255.0).astype(np.int32) + over[:, :, :3]


def _stop(proc: subprocess.Popen[bytes]) -> str:
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return (err or b"").decode(errors="replace")


@pytest.mark.parametrize("scale", [1.0, 1.25, 2.0])
def test_agent_over_chromium_names_the_logged_in_viewer(xsession: XSession, service: Service, tmp_path: Path,
                                                         scale: float) -> None:
    start_chromium(xsession, record_page(tmp_path / "record.html"), tmp_path, scale=scale)
    before = settle(xsession)
    status = tmp_path / "status.json"
    agent = start_agent(xsession, service, status, scale=scale)
    state = _marking(status, 4821)
    assert state["screens"] == [{"name": "screen", "device_size": [1920, 1080], "scale": scale, "origin": [0, 0]}]
    shot = settle(xsession)
    # One overlay pixel on one device pixel: the composited screen is the page under the exact overlay.
    expected = _expected(before, service, 4821, state["minute"])
    exact = np.mean(shot.astype(np.int32) == expected)
    assert exact > 0.999, f"only {exact:.4f} of the subpixels are the page under the overlay"
    result = tracer.trace(shot, service.key)
    assert result.found and result.payload is not None
    assert result.payload.viewer_id == 4821
    assert result.payload.timestamp.isoformat() == state["minute"]
    rows = [v for v in service.rows("agent-minute") if v.viewed_at == result.payload.timestamp]
    assert rows and rows[-1].workstation == WORKSTATION and rows[-1].viewer_id == 4821
    # The same screen photographed by a phone (the benchmark's standard level) still names the viewer.
    photo = synthetic.phone_photo_leak(shot, level="standard", seed=7 + int(scale))
    traced = tracer.trace(photo.image, service.key)
    assert traced.found and traced.payload is not None and traced.payload.viewer_id == 4821
    _stop(agent)
    ends = service.rows("agent-end")
    assert ends and ends[-1].record_id == "(session end: agent stopped)"


def _window_ids(x: XSession) -> set[str]:
    found = x.run("xdotool", "search", "--name", "leaktrace screen mark", check=False).stdout.decode().split()
    return set(found)


def test_plain_x_application_at_150_percent_and_the_watchdog_restarts_a_killed_overlay(
        xsession: XSession, service: Service, tmp_path: Path) -> None:
    xsession.spawn("xlogo", "-geometry", "1400x900+100+60", "-render", "-bg", "white", "-fg", "#203040")
    wait_for(lambda: xsession.run("xdotool", "search", "--name", "xlogo", check=False).returncode == 0, 20, "xlogo")
    before = settle(xsession)
    status = tmp_path / "status.json"
    agent = start_agent(xsession, service, status, scale=1.5, watchdog=True)
    first = _marking(status, 4821)
    assert first["screens"][0]["scale"] == 1.5 and first["screens"][0]["device_size"] == [1920, 1080]
    shot = settle(xsession)
    exact = np.mean(shot.astype(np.int32) == _expected(before, service, 4821, first["minute"]))
    assert exact > 0.999, f"only {exact:.4f} of the subpixels are the application under the overlay"
    result = tracer.trace(shot, service.key)
    assert result.found and result.payload is not None and result.payload.viewer_id == 4821
    # Kill the overlay: the watchdog starts another and the ledger records the unmarked seconds.
    gaps_before = len(service.rows("agent-gap"))
    os.kill(first["pid"], signal.SIGKILL)
    second = wait_for(lambda: (s := read_status(status)) and s["pid"] != first["pid"] and s["state"] == "marking"
                      and s, 30, "the restarted overlay")
    assert second["viewer_id"] == 4821
    wait_for(lambda: len(service.rows("agent-gap")) > gaps_before, 10, "the gap row")
    gap = service.rows("agent-gap")[-1]
    assert "killed by SIGKILL" in gap.record_id and gap.workstation == WORKSTATION and gap.viewer_id == 4821
    assert tracer.trace(settle(xsession), service.key).found
    _stop(agent)


def test_clicks_go_through_the_overlay_to_the_application(xsession: XSession, service: Service,
                                                          tmp_path: Path) -> None:
    start_chromium(xsession, record_page(tmp_path / "record.html"), tmp_path)
    status = tmp_path / "status.json"
    agent = start_agent(xsession, service, status)
    _marking(status, 4821)
    assert _window_ids(xsession), "the overlay window is not mapped"
    assert tracer.trace(settle(xsession), service.key).found  # the overlay is on top where we click
    # The button sits at CSS (40..260, 90..146) below the header; the window's content starts under Chromium's bar.
    window = xsession.run("xdotool", "search", "--name", "EMR - Lindqvist").stdout.decode().split()[0]
    xsession.run("xdotool", "mousemove", "--window", window, "150", "150", "click", "1")
    wait_for(lambda: xsession.run("xdotool", "search", "--name", "clicked through the overlay",
                                  check=False).returncode == 0, 10, "the page to receive the click")
    _stop(agent)


def _write_session(path: Path, **state: object) -> None:
    path.write_text(json.dumps({"username": OS_USER, "session_id": "7", "locked": False, "client": "", **state}))


def test_minutes_renew_in_place_and_sessions_follow_the_account(xsession: XSession, service: Service,
                                                                tmp_path: Path) -> None:
    start_chromium(xsession, record_page(tmp_path / "record.html"), tmp_path)
    before = settle(xsession)
    session_file, status = tmp_path / "session.json", tmp_path / "status.json"
    _write_session(session_file)
    agent = start_controlled_agent(xsession, service, session_file, status, speed=20)  # a minute every 3 s
    _marking(status, 4821)
    windows = _window_ids(xsession)
    shots = []
    for _ in range(24):  # about 6 s at a minute per 3 s: two renewals
        shots.append(xsession.capture())
        time.sleep(0.15)
    assert _window_ids(xsession) == windows, "a renewal must redraw the same window, not map another"
    minutes = []
    for shot in shots:
        result = tracer.trace(shot, service.key)
        assert result.found and result.payload is not None and result.payload.viewer_id == 4821, \
            "a capture during renewals is unmarked"
        minutes.append(result.payload.timestamp)
    assert minutes == sorted(minutes) and len(set(minutes)) >= 2
    # Another user on the same workstation: the mark follows the account.
    _write_session(session_file, username="akowalski", session_id="8")
    _marking(status, 5130)
    time.sleep(0.3)
    assert tracer.trace(settle(xsession), service.key).payload.viewer_id == 5130  # type: ignore[union-attr]
    # Locked: nobody is shown anything, nothing is marked.
    _write_session(session_file, username="akowalski", session_id="8", locked=True)
    wait_for(lambda: (s := read_status(status)) and s["state"] == "locked", 10, "the locked state")
    assert np.array_equal(settle(xsession), before)
    # A remote-desktop reconnect from another client starts a new session under that client.
    _write_session(session_file, username="akowalski", session_id="8", client="citrix-home-laptop")
    _marking(status, 5130)
    _stop(agent)
    sessions = [(v.viewer_id, v.client_address) for v in service.rows("agent-session")][-3:]
    assert sessions == [(4821, "console"), (5130, "console"), (5130, "citrix-home-laptop")]
    ends = [v.record_id for v in service.rows("agent-end")][-3:]
    assert ends[0].startswith("(session end: session changed") and ends[1] == "(session end: screen locked)"


def test_without_a_compositor_nothing_is_drawn_the_user_is_told_and_the_gap_recorded(
        xsession: XSession, service: Service, tmp_path: Path) -> None:
    xsession.spawn("xlogo", "-geometry", "1400x900+100+60", "-render")
    wait_for(lambda: xsession.run("xdotool", "search", "--name", "xlogo", check=False).returncode == 0, 20, "xlogo")
    status = tmp_path / "status.json"
    agent = start_agent(xsession, service, status)
    _marking(status, 4821)
    xsession.stop_compositor()
    off = wait_for(lambda: (s := read_status(status)) and s["state"] == "off" and s, 10, "the agent to stop drawing")
    assert "no compositing manager" in off["reason"]
    shot = settle(xsession)
    red = (np.abs(shot.astype(int) - [176, 0, 32]).sum(axis=2) < 30)
    assert red[:, 1400:].mean() > 0.005, "the user sees no notice"
    assert not tracer.trace(shot, service.key).found  # and no half-drawn overlay either
    gaps_before = len(service.rows("agent-gap"))
    xsession.start_compositor()
    _marking(status, 4821)
    wait_for(lambda: len(service.rows("agent-gap")) > gaps_before, 10, "the gap row")
    assert "no compositing manager" in service.rows("agent-gap")[-1].record_id
    _stop(agent)


def test_monitors_added_and_removed_are_followed_each_with_its_own_scale_and_tile_origin(
        service: Service, tmp_path: Path) -> None:
    from desktop_helpers import need_display

    need_display()
    with XSession((2560, 800)) as x:
        # RIGHT starts at 1200, not a multiple of the 256 px tile: its own origin is told from the screen's.
        x.run("xrandr", "--setmonitor", "LEFT", "1200/317x800/211+0+0", "none")
        x.run("xrandr", "--setmonitor", "RIGHT", "1360/360x800/211+1200+0", "none")
        start_chromium(x, record_page(tmp_path / "record.html"), tmp_path)
        before = settle(x)
        status = tmp_path / "status.json"
        agent = start_agent(x, service, status, scale="LEFT=1;RIGHT=2;screen=1")
        state = _marking(status, 4821)
        scales = {s["name"]: (s["scale"], s["device_size"]) for s in state["screens"]}
        assert scales == {"LEFT": (1.0, [1200, 800]), "RIGHT": (2.0, [1360, 800]), "screen": (1.0, [2560, 800])}
        shot = settle(x)
        for x0, width in ((0, 1200), (1200, 1360)):  # each monitor's tile starts at its own corner
            part = _expected(before[:, x0:x0 + width], service, 4821, state["minute"])
            assert np.mean(shot[:, x0:x0 + width].astype(np.int32) == part) > 0.999
        x.run("xrandr", "--delmonitor", "RIGHT")
        wait_for(lambda: (s := read_status(status)) and len(s["screens"]) == 2, 10, "the monitor's removal")
        shot = settle(x)
        for x0 in (0, 1280):  # the right half is still marked, now by the whole screen's window
            crop = shot[:, x0:x0 + 1280]
            result = tracer.trace(crop, service.key)
            assert result.found and result.payload is not None and result.payload.viewer_id == 4821
        _stop(agent)

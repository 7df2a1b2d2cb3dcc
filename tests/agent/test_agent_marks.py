"""Tiles and ledger rows: the marking service over real HTTP, the local marker, and the session state machine."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

import watermark
from agent import (
    AccountMap,
    IdentityError,
    LocalMarks,
    Marker,
    Marking,
    MarkService,
    MarkSourceError,
    ServiceMarks,
    SessionState,
    WorkstationTokens,
)
from ledger import Ledger, LedgerKey, View

KEY = watermark.Key(bytes(range(32)))
ACCOUNTS = AccountMap.from_rows([
    {"username": "mlindqvist", "viewer_id": 4821, "display_name": "Dr. Marek Lindqvist"},
    {"username": "akowalski", "viewer_id": 5130, "display_name": "Anna Kowalski"},
])
T = datetime(2026, 3, 1, 9, 30, 42, tzinfo=timezone.utc)


@pytest.fixture()
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger.open(tmp_path / "ledger.sqlite", ledger_key=LedgerKey.generate()) as opened:
        yield opened


@pytest.fixture()
def service(ledger: Ledger, tmp_path: Path) -> Iterator[tuple[MarkService, str]]:
    tokens = WorkstationTokens.load(tmp_path / "tokens.json")
    token = tokens.enrol("WS-4B-112")
    with MarkService(Marker(KEY, ledger, ACCOUNTS), WorkstationTokens.load(tmp_path / "tokens.json")) as running:
        yield running, token


def _views(ledger: Ledger) -> list[View]:
    """Every row, in commit order (session rows carry the real time, minute rows the test's)."""
    return sorted(ledger.views(since=T - timedelta(days=1)), key=lambda v: v.view_id)


def _rows(ledger: Ledger) -> list[tuple[int, str, str, str]]:
    return [(v.viewer_id, v.action, v.record_id, v.workstation) for v in _views(ledger)]


def test_service_tile_is_the_overlay_and_every_session_minute_and_gap_is_recorded(
        service: tuple[MarkService, str], ledger: Ledger) -> None:
    running, token = service
    client = ServiceMarks(running.url, token)
    session = client.open_session(SessionState(username="mlindqvist", session_id="3", client="thin-client-7"))
    assert (session.identity.viewer_id, session.workstation, session.key_fingerprint) == (4821, "WS-4B-112",
                                                                                         KEY.fingerprint)
    tile = client.tile(session, T)
    assert tile.recorded and tile.minute == T.replace(second=0)
    expected = watermark.overlay(watermark.Payload(viewer_id=4821, timestamp=T), KEY, size=(700, 300))
    got = tile.premultiplied(700, 300)
    alpha = expected[:, :, 3].astype(np.int32)
    assert (got[:, :, 3] == alpha).all()
    assert (got[:, :, 0] == np.rint(expected[:, :, 0] * alpha / 255.0)).all()  # premultiplied level
    client.tile(session, T + timedelta(seconds=5))  # same minute: one row only
    client.tile(session, T + timedelta(minutes=1))
    client.record_gap(SessionState(username="mlindqvist", client="thin-client-7"), T, T + timedelta(seconds=9),
                      "the overlay was killed by SIGKILL")
    client.close_session(session, "screen locked")
    rows = _rows(ledger)
    assert [r[1] for r in rows] == ["agent-session", "agent-minute", "agent-minute", "agent-gap", "agent-end"]
    assert all(r[0] == 4821 and r[3] == "WS-4B-112" for r in rows)
    assert "SIGKILL" in rows[3][2] and "09:30:42Z" in rows[3][2] and rows[4][2] == "(session end: screen locked)"
    minute_rows = [v for v in _views(ledger) if v.action == "agent-minute"]
    assert minute_rows[0].client_address == "thin-client-7" and minute_rows[0].viewed_at == T.replace(second=0)
    assert ledger.lookup(4821, T).matches[0].action == "agent-minute"
    assert ledger.verify().ok
    with pytest.raises(MarkSourceError) as closed:
        client.tile(session, T)
    assert closed.value.status == 404


def test_service_refuses_unknown_tokens_unknown_accounts_and_clear_text_off_loopback(
        service: tuple[MarkService, str], ledger: Ledger) -> None:
    running, token = service
    with pytest.raises(MarkSourceError) as refused:
        ServiceMarks(running.url, "forged-token").open_session(SessionState(username="mlindqvist"))
    assert refused.value.status == 401
    with pytest.raises(IdentityError, match="not in the account map"):
        ServiceMarks(running.url, token).open_session(SessionState(username="intruder"))
    assert _rows(ledger) == []
    with pytest.raises(ValueError, match="needs TLS"):
        MarkService(Marker(KEY, None, ACCOUNTS), WorkstationTokens({}), host="0.0.0.0")
    with pytest.raises(MarkSourceError, match="unreachable"):
        ServiceMarks("http://127.0.0.1:9", token, timeout_s=1).open_session(SessionState(username="mlindqvist"))


def test_tokens_are_kept_hashed(tmp_path: Path) -> None:
    tokens = WorkstationTokens.load(tmp_path / "t.json")
    token = tokens.enrol("WS-1")
    stored = (tmp_path / "t.json").read_text()
    assert token not in stored and "WS-1" in stored
    assert WorkstationTokens.load(tmp_path / "t.json").workstation(token) == "WS-1"
    (tmp_path / "bad.json").write_text("[]")
    with pytest.raises(ValueError, match="not a leaktrace-agent-tokens"):
        WorkstationTokens.load(tmp_path / "bad.json")


class _Clock:
    def __init__(self) -> None:
        self.now = T

    def __call__(self) -> datetime:
        return self.now


class _Probe:
    def __init__(self) -> None:
        self.state = SessionState(username="mlindqvist", session_id="3")

    def __call__(self) -> SessionState:
        return self.state


def test_marking_follows_minutes_users_locks_and_reconnects(ledger: Ledger) -> None:
    clock, probe = _Clock(), _Probe()
    marking = Marking(LocalMarks(Marker(KEY, ledger, ACCOUNTS), workstation="WS-1"), probe=probe, clock=clock, probe_s=0)
    first = marking.poll()
    assert first.state == "marking" and first.tile is not None and first.tile.viewer_id == 4821
    clock.now = T.replace(second=55)  # within the prefetch window: the next minute is fetched ahead
    assert marking.poll().tile.minute == T.replace(second=0)  # type: ignore[union-attr]
    assert (T.replace(second=0) + timedelta(minutes=1)) in marking._tiles
    clock.now = T.replace(second=0) + timedelta(minutes=1, seconds=1)
    assert marking.poll().tile.minute == T.replace(second=0) + timedelta(minutes=1)  # type: ignore[union-attr]
    probe.state = SessionState(username="akowalski", session_id="4")  # switch user
    assert marking.poll().tile.viewer_id == 5130  # type: ignore[union-attr]
    probe.state = SessionState(username="akowalski", session_id="4", locked=True)
    locked = marking.poll()
    assert locked.state == "locked" and locked.tile is None
    probe.state = SessionState(username="akowalski", session_id="4", client="home-laptop")  # reconnect elsewhere
    assert marking.poll().state == "marking"
    probe.state = SessionState(username="intruder", session_id="5")
    off = marking.poll()
    assert off.state == "off" and "not in the account map" in off.reason and off.tile is None
    clock.now += timedelta(seconds=30)
    probe.state = SessionState(username="mlindqvist", session_id="6")
    assert marking.poll().state == "marking"
    marking.close()
    actions = [(v.viewer_id, v.action, v.client_address) for v in _views(ledger)]
    sessions = [a for a in actions if a[1] in ("agent-session", "agent-end")]
    assert sessions == [
        (4821, "agent-session", "console"), (4821, "agent-end", "console"),
        (5130, "agent-session", "console"), (5130, "agent-end", "console"),  # lock
        (5130, "agent-session", "home-laptop"), (5130, "agent-end", "home-laptop"),  # the intruder's login
        (4821, "agent-session", "console"), (4821, "agent-end", "console"),
    ]
    minutes = [a for a in actions if a[1] == "agent-minute"]
    assert len(minutes) == 5  # 4821: 2 minutes; 5130: once before the lock, once after; 4821 again


def test_marking_cannot_show_records_one_gap(ledger: Ledger) -> None:
    clock, probe = _Clock(), _Probe()
    marking = Marking(LocalMarks(Marker(KEY, ledger, ACCOUNTS), workstation="WS-1"), probe=probe, clock=clock, probe_s=0)
    assert marking.poll().state == "marking"
    for _ in range(3):
        clock.now += timedelta(seconds=2)
        status = marking.poll(can_show=False, cannot_show_reason="no compositing manager is running")
        assert status.state == "off"
    clock.now += timedelta(seconds=2)
    assert marking.poll().state == "marking"
    gaps = [v for v in _views(ledger) if v.action == "agent-gap"]
    assert len(gaps) == 1 and "no compositing manager" in gaps[0].record_id
    assert "from 2026-03-01T09:30:44Z to 2026-03-01T09:30:50Z" in gaps[0].record_id

"""``trace-leak --audit-log``: the EMR's access log says which record the agent-marked screen showed."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import watermark
from agent import AccountMap, LocalMarks, Marker, SessionState
from ledger import AuditLog, Ledger, LedgerError, LedgerKey
from synthetic import render_screen
from tracer.cli import main as trace_leak

KEY = watermark.Key(bytes(range(32)))
ACCOUNTS = [{"username": "mlindqvist", "viewer_id": 4821, "display_name": "Dr. Marek Lindqvist"},
            {"username": "akowalski", "viewer_id": 5130, "display_name": "Anna Kowalski"}]


def _agent_screen(tmp_path: Path) -> tuple[Path, str, datetime]:
    """A screen under the agent's overlay for viewer 4821 (composited as picom does), and its signed ledger."""
    ledger_key = LedgerKey.generate()
    ledger_key.save(tmp_path / "ledger.key")
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    with Ledger.open(url, ledger_key=ledger_key) as ledger:
        source = LocalMarks(Marker(KEY, ledger, AccountMap.from_rows(ACCOUNTS)), workstation="WS-4B-112")
        session = source.open_session(SessionState(username="mlindqvist"))
        tile = source.tile(session, datetime.now(timezone.utc))
    screen = render_screen("medications", size=(1920, 1080), seed=5).astype(np.int32)
    over = tile.premultiplied(1920, 1080).astype(np.int32)
    shot = np.rint(screen * (255 - over[:, :, 3:4]) / 255.0) + over[:, :, :3]
    path = tmp_path / "screenshot.png"
    Image.fromarray(shot.astype(np.uint8)).save(path)
    return path, url, tile.minute


def test_trace_leak_joins_the_audit_log_with_the_agent_minute(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image, url, minute = _agent_screen(tmp_path)
    KEY.save(tmp_path / "k.key")
    stamp = (minute + timedelta(seconds=12)).isoformat()
    earlier = (minute - timedelta(minutes=3)).isoformat()
    (tmp_path / "audit.csv").write_text(
        "accessed_at,record_id,username,action,workstation\n"
        f"{earlier},MRN 11111111,mlindqvist,open,WS-4B-112\n"
        f"{stamp},MRN 28110431,MLindqvist,open,WS-4B-112\n"
        f"{stamp},MRN 99999999,akowalski,open,WS-2A-001\n"
        f"{stamp},MRN 77777777,svc-backup,export,SERVER\n")
    (tmp_path / "accounts.json").write_text(json.dumps({"format": "leaktrace-directory", "version": 1,
                                                        "accounts": ACCOUNTS}))
    status = trace_leak([str(image), "--key-file", str(tmp_path / "k.key"), "--ledger", url,
                         "--audit-log", str(tmp_path / "audit.csv"),
                         "--agent-accounts", str(tmp_path / "accounts.json"), "--json"])
    assert status == 0
    doc = json.loads(capsys.readouterr().out)
    result = doc["results"][0] if "results" in doc else doc[0]
    assert result["payload"]["viewer_id"] == 4821
    assert "agent-minute" in [m["action"] for m in result["ledger"]["matches"]]
    assert result["ledger"]["named"] and result["ledger"]["verified"]
    assert [e["record_id"] for e in result["audit"]["in_minute"]] == ["MRN 28110431"]
    # The agent session began in this minute (the test's login): what was opened before it is not listed.
    assert result["audit"]["before"] == [] and result["audit"]["since"].startswith(minute.strftime("%Y-%m-%dT%H:%M"))
    status = trace_leak([str(image), "--key-file", str(tmp_path / "k.key"), "--ledger", url,
                         "--audit-log", str(tmp_path / "audit.csv"), "--agent-accounts",
                         str(tmp_path / "accounts.json")])
    text = capsys.readouterr().out
    assert "in " + minute.strftime("%H:%MZ") + ", the mark's minute:" in text
    assert "MRN 28110431 (open at" in text and "MRN 99999999" not in text


@pytest.mark.parametrize(("csv_text", "message"), [
    ("record_id,viewer_id\nMRN 1,4821\n", "no accessed_at column"),
    ("accessed_at,record_id\n2026-03-01T09:30:00Z,MRN 1\n", "viewer_id or a username"),
    ("accessed_at,record_id,viewer_id\n2026-03-01 09:30:00,MRN 1,4821\n", "line 2: .* no UTC offset"),
    ("accessed_at,record_id,viewer_id\nyesterday,MRN 1,4821\n", "line 2: .* not an ISO 8601"),
    ("accessed_at,record_id,viewer_id\n2026-03-01T09:30:00Z,,4821\n", "line 2: empty record_id"),
    ("accessed_at,record_id,username\n2026-03-01T09:30:00Z,MRN 1,x\n", "give the account map"),
])
def test_an_unreadable_audit_log_is_an_error_naming_the_line(csv_text: str, message: str) -> None:
    with pytest.raises(LedgerError, match=message):
        AuditLog.from_text(csv_text, source="audit.csv")


def test_audit_log_needs_a_ledger(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    KEY.save(tmp_path / "k.key")
    (tmp_path / "a.png").write_bytes(b"")
    assert trace_leak([str(tmp_path / "a.png"), "--key-file", str(tmp_path / "k.key"),
                       "--audit-log", str(tmp_path / "audit.csv")]) == 2
    assert "give --ledger" in capsys.readouterr().err


def test_records_opened_earlier_in_the_agent_session_are_listed_newest_first() -> None:
    from ledger import View

    t = datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc)
    log = AuditLog.from_text(
        "accessed_at,record_id,viewer_id\n"
        "2026-03-01T07:00:00Z,MRN before-login,4821\n"
        "2026-03-01T09:10:00Z,MRN 1,4821\n"
        "2026-03-01T09:29:59Z,MRN 2,4821\n"
        "2026-03-01T09:30:30+01:00,MRN other-minute,4821\n"
        "2026-03-01T09:30:59Z,MRN 3,4821\n"
        "2026-03-01T09:31:00Z,MRN after,4821\n", source="audit.csv")
    session = View(view_id=1, view_uid="u", viewer_id=4821, display_name="x", record_id="(screen)",
                   workstation="WS", client_address="console", viewed_at=datetime(2026, 3, 1, 8, 0, tzinfo=timezone.utc),
                   key_fingerprint="f", action="agent-session")
    join = log.join(4821, t + timedelta(seconds=20), agent_rows=[session])
    assert [e.record_id for e in join.in_minute] == ["MRN 3"]
    assert [e.record_id for e in join.before] == ["MRN 2", "MRN 1", "MRN other-minute"]  # 08:30:30Z
    assert join.since == session.viewed_at
    assert log.join(5130, t).in_minute == ()

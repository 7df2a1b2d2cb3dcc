"""The real overlay (Qt windows, the service client) with a session and a clock the test drives.

``python controlled_agent.py SESSION_JSON SERVICE_URL TOKEN_FILE STATUS_FILE SPEED``: the session is read
from SESSION_JSON at every poll (the test writes another user, a lock, a
reconnect); the clock starts at the real time and runs SPEED times faster,
so that minutes renew every few seconds.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from agent import Marking, ServiceMarks, SessionState
from agent._overlay import run_overlay


def main() -> int:
    session_file, url, token_file, status_file, speed = sys.argv[1:6]
    started, base = time.monotonic(), datetime.now(timezone.utc)

    def probe() -> SessionState:
        return SessionState(**json.loads(Path(session_file).read_text()))

    def clock() -> datetime:
        return base + timedelta(seconds=(time.monotonic() - started) * float(speed))

    source = ServiceMarks(url, Path(token_file).read_text().strip())
    return run_overlay(Marking(source, probe=probe, clock=clock), status_file=Path(status_file))


if __name__ == "__main__":
    sys.exit(main())

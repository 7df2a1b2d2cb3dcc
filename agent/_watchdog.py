"""The watchdog: runs the overlay as a child process, restarts it when it dies or hangs, records the gap.

``leaktrace-agent run`` is this loop. The child (``leaktrace-agent overlay
--heartbeat``) writes ``alive <state>`` to its stdout every couple of
seconds. When it exits unasked, or is silent for :data:`HANG_S`, the
watchdog kills it, logs the failure for the administrator, and starts it
again after a back-off (1 s, doubling to :data:`MAX_BACKOFF_S`; reset after
a child that lived a minute). The time from the child's last heartbeat to
the restarted child's first ``alive marking`` is recorded in the ledger as
one ``agent-gap``, with the exit status as the reason. The agent's own
start is wired to the session (a login item, a systemd user unit with
``Restart=always``, a Windows scheduled task at logon), so the watchdog is
restarted too if it is killed.
"""

from __future__ import annotations

import logging
import selectors
import signal
import subprocess
import time
from datetime import datetime, timezone
from typing import Any, Callable, Sequence

from watermark import LeaktraceError

from ._marks import MarkSource
from ._session import SessionProbe, probe_session

__all__ = ["HANG_S", "MAX_BACKOFF_S", "watch"]

log = logging.getLogger("leaktrace.agent")

HANG_S = 15.0
"""Seconds without a heartbeat after which the overlay is taken to be hung and is killed."""

MAX_BACKOFF_S = 60.0
"""Longest wait between restarts."""


def _describe(returncode: int) -> str:
    if returncode < 0:
        try:
            return f"the overlay was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"the overlay was killed by signal {-returncode}"
    return f"the overlay exited with status {returncode}"


def watch(command: Sequence[str], source: MarkSource, *, probe: SessionProbe = probe_session,
          hang_s: float = HANG_S, max_backoff_s: float = MAX_BACKOFF_S,
          on_start: Callable[[subprocess.Popen[str]], None] | None = None) -> int:
    """Run ``command`` (the overlay with ``--heartbeat``) until SIGTERM or SIGINT; returns 0 then.

    Parameters
    ----------
    command : sequence of str
        The child's argv.
    source : MarkSource
        Where gaps are recorded.
    probe : SessionProbe
        The session a gap is recorded under.
    hang_s, max_backoff_s : float
        See :data:`HANG_S`, :data:`MAX_BACKOFF_S`.
    on_start : callable, optional
        Called with each child just started (tests read its PID).
    """
    stopping: list[int] = []
    child: dict[str, Any] = {"proc": None}

    def stop(signum: int, *_: Any) -> None:
        stopping.append(signum)
        proc = child["proc"]
        if proc is not None and proc.poll() is None:
            proc.terminate()

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    backoff = 1.0
    gap_since: datetime | None = None
    gap_reason = ""
    try:
        while not stopping:
            started = time.monotonic()
            proc = subprocess.Popen(list(command), stdout=subprocess.PIPE, text=True, bufsize=1)
            child["proc"] = proc
            if on_start is not None:
                on_start(proc)
            selector = selectors.DefaultSelector()
            assert proc.stdout is not None
            selector.register(proc.stdout, selectors.EVENT_READ)
            last_beat = time.monotonic()
            hung = False
            while proc.poll() is None and not stopping:
                if selector.select(timeout=0.5):
                    line = proc.stdout.readline()
                    if not line:
                        break
                    last_beat = time.monotonic()
                    if line.startswith("alive marking") and gap_since is not None:
                        _record_gap(source, probe, gap_since, gap_reason)
                        gap_since = None
                elif time.monotonic() - last_beat > hang_s:
                    hung = True
                    proc.kill()
                    break
            selector.close()
            try:
                returncode = proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                returncode = proc.wait()
            if stopping:
                break
            reason = f"the overlay hung (no heartbeat for {hang_s:.0f} s)" if hung else _describe(returncode)
            if gap_since is None:
                gap_since = datetime.fromtimestamp(time.time() - (time.monotonic() - last_beat), timezone.utc)
                gap_reason = reason
            log.error("screen marking is OFF: %s; restarting it in %.0f s", reason, backoff)
            if time.monotonic() - started > 60:
                backoff = 1.0
            deadline = time.monotonic() + backoff
            while time.monotonic() < deadline and not stopping:
                time.sleep(0.1)
            backoff = min(max_backoff_s, backoff * 2)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if gap_since is not None:
        _record_gap(source, probe, gap_since, gap_reason)
    return 0


def _record_gap(source: MarkSource, probe: SessionProbe, start: datetime, reason: str) -> None:
    try:
        source.record_gap(probe(), start, datetime.now(timezone.utc), reason)
    except (LeaktraceError, OSError) as exc:
        log.error("could not record the gap from %s (%s): %s", start.isoformat(), reason, exc)

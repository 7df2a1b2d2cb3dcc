"""The agent's decisions, without Qt: whose mark to show now, and what to tell the ledger when that changes.

:class:`Marking` is polled (four times a second) by the overlay. It reads
the session (:mod:`agent._session`) once a second, ends the marked session when the
account, the session or the remote client changed or the screen locked,
starts the next one, and keeps the tile of the current minute and the next
(fetched ahead, so a minute's renewal never waits on the network). Polling
the clock rather than arming a timer for the minute boundary keeps the mark
right across clock steps (NTP, suspend and resume).

When the overlay cannot be shown (no compositor, the source unreachable, an
unknown account) the time from the first failed poll to the first good one
is recorded as one ``agent-gap``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

from watermark import LeaktraceError

from ._identity import IdentityError
from ._marks import MarkSession, MarkSource, MarkSourceError, MarkTile, minute_start
from ._session import SessionProbe, SessionState, probe_session

__all__ = ["Marking", "MarkingStatus", "PREFETCH_S", "PROBE_S", "RETRY_S"]

log = logging.getLogger("leaktrace.agent")

PROBE_S = 1.0
"""Seconds between readings of the session (``loginctl`` is a process): how late a lock or a switch is seen."""

PREFETCH_S = 10.0
"""Seconds before a minute starts that its tile is fetched."""

RETRY_S = 5.0
"""Seconds between attempts to reach the source, or to resolve an unknown account, after a failure."""

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class MarkingStatus:
    """What the screen shows now.

    Attributes
    ----------
    state : str
        ``"marking"``, ``"locked"`` (nothing is shown and nothing is marked) or ``"off"`` (the overlay
        should be shown and is not: ``reason`` says why).
    reason : str
    tile : MarkTile or None
        The tile to show (``"marking"`` only).
    session : MarkSession or None
    """

    state: str
    reason: str = ""
    tile: MarkTile | None = None
    session: MarkSession | None = None


class Marking:
    """Session changes, minute renewal, gap accounting (see the module docstring).

    Parameters
    ----------
    source : MarkSource
    probe : SessionProbe
        Default :func:`agent.probe_session`.
    clock : callable returning an aware datetime
        Default: the system clock in UTC.
    probe_s : float
        Seconds between session readings (:data:`PROBE_S`); the clock is read at every poll.
    """

    def __init__(self, source: MarkSource, *, probe: SessionProbe = probe_session, clock: Clock = _utc_now,
                 probe_s: float = PROBE_S) -> None:
        self.source = source
        self.probe = probe
        self.clock = clock
        self.probe_s = float(probe_s)
        self._probed_at = -float("inf")
        self.session: MarkSession | None = None
        self.state: SessionState | None = None
        self._tiles: dict[datetime, MarkTile] = {}
        self._gap_since: datetime | None = None
        self._gap_reason = ""
        self._gap_state: SessionState | None = None
        self._retry_at: datetime | None = None
        self._last_error = ""

    # -- the gap
    def _gap(self, state: SessionState | None, reason: str) -> None:
        if self._gap_since is None:
            self._gap_since, self._gap_reason = self.clock(), reason
            log.error("screen marking is OFF: %s", reason)
        if state is not None:
            self._gap_state = state

    def _gap_over(self) -> None:
        if self._gap_since is None:
            return
        start, reason, state = self._gap_since, self._gap_reason, self._gap_state
        self._gap_since, self._gap_state = None, None
        log.warning("screen marking is back on after %s", reason)
        if state is None:
            return
        try:
            self.source.record_gap(state, start, self.clock(), reason)
        except (LeaktraceError, OSError) as exc:
            log.error("could not record the gap from %s (%s): %s", start.isoformat(), reason, exc)

    # -- sessions
    def _end(self, reason: str) -> None:
        session, self.session = self.session, None
        self._tiles.clear()
        if session is None:
            return
        try:
            self.source.close_session(session, reason)
        except (LeaktraceError, OSError) as exc:
            log.error("could not record the end of session %s: %s", session.token[:8], exc)

    def close(self, reason: str = "agent stopped") -> None:
        """End the marked session (the agent is stopping)."""
        self._end(reason)
        self._gap_over()

    def _tile(self, minute: datetime) -> MarkTile:
        found = self._tiles.get(minute)
        if found is None:
            assert self.session is not None
            found = self.source.tile(self.session, minute)
            self._tiles[minute] = found
            for old in [m for m in self._tiles if m < minute - timedelta(minutes=1)]:
                del self._tiles[old]
        return found

    def poll(self, *, can_show: bool = True, cannot_show_reason: str = "") -> MarkingStatus:
        """Read the session and the clock; return what the screen must show.

        Parameters
        ----------
        can_show : bool, keyword-only
            False when the overlay cannot be shown now (``cannot_show_reason`` says why): the time is a gap.
        """
        now = self.clock()
        try:
            if self.state is None or time.monotonic() - self._probed_at >= self.probe_s:
                state = self.probe()
                self._probed_at = time.monotonic()
            else:
                state = self.state
        except OSError as exc:
            self._end("the session could not be read")
            self._gap(None, f"the session could not be read: {exc}")
            return MarkingStatus("off", self._gap_reason)
        if self.state is not None and not state.same_session(self.state):
            self._end(f"session changed ({self.state.username} -> {state.username})")
        if state.locked:
            if self.session is not None:
                self._end("screen locked")
            self._gap_over()
            self.state = state
            return MarkingStatus("locked", "the screen is locked")
        self.state = state
        if not can_show:
            self._gap(state, cannot_show_reason or "the overlay cannot be shown")
            return MarkingStatus("off", cannot_show_reason, session=self.session)
        if self._retry_at is not None and now < self._retry_at:
            return MarkingStatus("off", self._last_error, session=self.session)
        try:
            if self.session is None:
                self.session = self.source.open_session(state)
            tile = self._tile(minute_start(now))
            upcoming = minute_start(now) + timedelta(minutes=1)
            if (upcoming - now).total_seconds() <= PREFETCH_S:
                try:
                    self._tile(upcoming)
                except (LeaktraceError, OSError) as exc:  # the current tile is still good
                    log.warning("could not fetch the next minute's tile yet: %s", exc)
        except MarkSourceError as exc:
            if exc.status == 404:  # the service forgot the session (restarted): open another
                self.session = None
                self._tiles.clear()
            return self._failed(state, str(exc), now)
        except (IdentityError, LeaktraceError, OSError) as exc:
            return self._failed(state, str(exc), now)
        self._retry_at = None
        self._gap_over()
        return MarkingStatus("marking", tile=tile, session=self.session)

    def _failed(self, state: SessionState, reason: str, now: datetime) -> MarkingStatus:
        self._last_error = reason
        self._retry_at = now + timedelta(seconds=RETRY_S)
        self._gap(state, reason)
        return MarkingStatus("off", reason, session=self.session)

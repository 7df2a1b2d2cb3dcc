"""Where the agent's overlay tiles come from, and how each marked session and minute reaches the ledger.

The overlay repeats one 256x256 tile (:func:`watermark.overlay`), so the
agent never needs the watermark key: it needs the tile of its viewer for
each minute. Two sources give it:

* :class:`ServiceMarks` (what a hospital deploys): the agent asks the
  marking service (``leaktrace-agent serve``, :mod:`agent._service`) for its
  tiles over HTTPS, authenticated by the workstation's enrolment token. The
  service holds the watermark key and the ledger's signing key, resolves the
  OS account to a viewer, and records every session, minute and gap.
* :class:`LocalMarks`: the same :class:`Marker` in the agent's own process,
  with the key file on the workstation: for a single machine, a demo or a
  test. Whoever can read that key file can forge any viewer's mark.

Ledger rows written for the agent (the ledger's ``record_id`` names what
was on screen; the agent cannot know the record, which the EMR's own audit
log tells, see :mod:`ledger._audit`):

===================  ==========================  ===========================================
action               record_id                   when
===================  ==========================  ===========================================
``agent-session``    ``(screen)``                a session starts (login, unlock, reconnect)
``agent-minute``     ``(screen)``                each minute a tile is issued, stamped at the minute
``agent-gap``        ``(no mark from .. to ..)`` the overlay was not shown (crash, no compositor)
``agent-end``        ``(session end: reason)``   lock, logout, user switch, agent stop
===================  ==========================  ===========================================
"""

from __future__ import annotations

import logging
import secrets
import socket
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

import watermark
from ledger import Ledger, LedgerError
from watermark import Key, LeaktraceError, Payload
from watermark.decoding import TILE

from ._identity import Identity, IdentityError, IdentityResolver
from ._session import SessionState

__all__ = [
    "AGENT_ACTIONS",
    "SCREEN_RECORD",
    "LocalMarks",
    "Marker",
    "MarkSession",
    "MarkSource",
    "MarkSourceError",
    "MarkTile",
    "minute_start",
]

log = logging.getLogger("leaktrace.agent")

SCREEN_RECORD = "(screen)"
"""The ``record_id`` of the agent's session and minute rows: the whole screen, whatever record it shows."""

AGENT_ACTIONS = ("agent-session", "agent-minute", "agent-gap", "agent-end")
"""The ledger ``action`` values the agent's rows carry."""

_TILE_CACHE = 64


class MarkSourceError(LeaktraceError, OSError):
    """The marking service cannot be reached or refused the request (``.status``: the HTTP status, 0 if none)."""

    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


def minute_start(when: datetime) -> datetime:
    """The start of ``when``'s minute, in UTC (a mark's resolution).

    >>> minute_start(datetime(2026, 3, 1, 9, 30, 42, 5, tzinfo=timezone.utc)).isoformat()
    '2026-03-01T09:30:00+00:00'
    """
    if when.tzinfo is None:
        raise ValueError("the time must be timezone-aware")
    return when.astimezone(timezone.utc).replace(second=0, microsecond=0)


@dataclass(frozen=True)
class MarkSession:
    """A marked session: who is at the screen, at which workstation, under which key.

    Attributes
    ----------
    token : str
        The session's random ID (the service's handle for it).
    identity : Identity
    workstation, client : str
    key_fingerprint : str
        Of the key the tiles are made with.
    strength : float
        Overlay strength the tiles carry (see :func:`watermark.overlay`).
    """

    token: str
    identity: Identity
    workstation: str
    client: str
    key_fingerprint: str
    strength: float = 1.0


@dataclass(frozen=True)
class MarkTile:
    """One minute's overlay tile.

    Attributes
    ----------
    viewer_id : int
    minute : datetime
        Start of the minute (UTC) the tile's payload carries.
    half : int
        The overlay's half range ``h`` (:func:`watermark.overlay_levels`).
    levels : ndarray of uint8, shape (256, 256)
        Pattern level plus ``h`` per pixel, 0 .. 2h: composited at alpha
        ``2h / 255``, a pixel of level ``i`` adds ``i`` to the screen
        (premultiplied colour ``i``), which is the overlay's grey ``greys[i]``.
    recorded : bool
        False when the ledger could not record this minute (the tile is
        still given: an unmarked screen would be worse; the outage is logged).
    """

    viewer_id: int
    minute: datetime
    half: int
    levels: NDArray[np.uint8] = field(repr=False)
    recorded: bool = True

    def premultiplied(self, width: int, height: int) -> NDArray[np.uint8]:
        """The overlay over a ``width`` x ``height`` device-pixel area as premultiplied RGBA (tile origin top-left).

        Equal, after un-premultiplying, to ``watermark.overlay(payload, key, size=(width, height))``.
        """
        if width < 1 or height < 1:
            raise ValueError(f"overlay area must be at least 1x1, got {width}x{height}")
        reps = (-(-height // TILE), -(-width // TILE))
        level = np.tile(self.levels, reps)[:height, :width]
        out = np.empty((height, width, 4), np.uint8)
        out[:, :, :3] = level[:, :, None]
        out[:, :, 3] = 2 * self.half
        return out


class MarkSource(Protocol):
    """What the agent needs from a tile source (:class:`LocalMarks`, :class:`ServiceMarks`)."""

    def open_session(self, state: SessionState) -> MarkSession:
        """Start a marked session for the logged-in account (ledger: ``agent-session``).

        Raises IdentityError for an account nobody may be marked as, MarkSourceError when unreachable."""

    def tile(self, session: MarkSession, minute: datetime) -> MarkTile:
        """The tile for ``minute`` (ledger: ``agent-minute``, once per session and minute)."""

    def record_gap(self, state: SessionState, start: datetime, end: datetime, reason: str) -> None:
        """Record that the overlay was not shown from ``start`` to ``end`` (ledger: ``agent-gap``)."""

    def close_session(self, session: MarkSession, reason: str) -> None:
        """End a session (ledger: ``agent-end``)."""


class Marker:
    """Issues tiles and writes the agent's ledger rows: the part that holds the keys.

    The marking service runs one for all workstations; :class:`LocalMarks`
    runs one inside the agent.

    Parameters
    ----------
    key : watermark.Key
        The hospital's watermark key.
    ledger : ledger.Ledger or None
        Opened for writing (with its ledger key). None records nothing (a demo).
    resolver : IdentityResolver
        OS account to identity (an :class:`~agent.AccountMap` or a callback).
    strength : float
        Overlay strength (:func:`watermark.overlay`).
    """

    def __init__(self, key: Key, ledger: Ledger | None, resolver: IdentityResolver, *, strength: float = 1.0) -> None:
        if not isinstance(key, Key):
            raise TypeError(f"key must be a watermark.Key, got {type(key).__name__}")
        self.key = key
        self.ledger = ledger
        self.resolver = resolver
        self.strength = float(strength)
        self.half, greys = watermark.overlay_levels(self.strength)
        self._grey_to_level = np.zeros(256, np.uint8)
        self._grey_to_level[greys] = np.arange(len(greys), dtype=np.uint8)
        self._sessions: dict[str, MarkSession] = {}
        self._minutes: dict[str, set[datetime]] = {}
        self._tiles: OrderedDict[tuple[int, datetime], NDArray[np.uint8]] = OrderedDict()
        self._lock = threading.Lock()

    def _identity(self, state: SessionState) -> Identity:
        identity = self.resolver(state)
        if identity is None:
            raise IdentityError(f"account {state.username!r} is not in the account map: nobody may be marked as it")
        return identity

    def _record(self, identity: Identity, workstation: str, client: str, action: str, record: str,
                when: datetime) -> bool:
        """Write one row; False (and an error logged for the administrator) when the ledger refused it."""
        if self.ledger is None:
            return False
        try:
            self.ledger.record_view(viewer_id=identity.viewer_id, display_name=identity.display_name,
                                    record_id=record, workstation=workstation, client_address=client or "console",
                                    key_fingerprint=self.key.fingerprint, action=action, viewed_at=when)
        except LedgerError as exc:
            # The mark on screen is the evidence; the row corroborates it. An outage is reported, not hidden.
            log.error("ledger: could not record %s of viewer %s at %s: %s", action, identity.viewer_id,
                      when.isoformat(), exc)
            return False
        return True

    def open_session(self, state: SessionState, workstation: str) -> MarkSession:
        """Resolve the account and record ``agent-session``; see :meth:`MarkSource.open_session`."""
        identity = self._identity(state)
        session = MarkSession(token=secrets.token_hex(16), identity=identity, workstation=workstation,
                              client=state.client, key_fingerprint=self.key.fingerprint, strength=self.strength)
        self._record(identity, workstation, state.client, "agent-session", SCREEN_RECORD, datetime.now(timezone.utc))
        with self._lock:
            self._sessions[session.token] = session
            self._minutes[session.token] = set()
        log.info("session %s: viewer %s (%s) at %s", session.token[:8], identity.viewer_id, state.username, workstation)
        return session

    def session(self, token: str) -> MarkSession | None:
        """The open session with this token, or None."""
        with self._lock:
            return self._sessions.get(token)

    def tile(self, session: MarkSession, minute: datetime) -> MarkTile:
        """The tile of ``session``'s viewer for ``minute``; ``agent-minute`` is recorded once per minute."""
        minute = minute_start(minute)
        with self._lock:
            if session.token not in self._sessions:
                raise MarkSourceError("the session is closed or unknown", status=404)
            first = minute not in self._minutes[session.token]
            self._minutes[session.token].add(minute)
            while len(self._minutes[session.token]) > 4:
                self._minutes[session.token].discard(min(self._minutes[session.token]))
            levels = self._tiles.get((session.identity.viewer_id, minute))
        if levels is None:
            payload = Payload(viewer_id=session.identity.viewer_id, timestamp=minute)
            grey = watermark.overlay(payload, self.key, size=(TILE, TILE), strength=self.strength)[:, :, 0]
            levels = self._grey_to_level[grey]
            levels.setflags(write=False)
            with self._lock:
                self._tiles[(session.identity.viewer_id, minute)] = levels
                while len(self._tiles) > _TILE_CACHE:
                    self._tiles.popitem(last=False)
        recorded = not first or self._record(session.identity, session.workstation, session.client, "agent-minute",
                                             SCREEN_RECORD, minute)
        return MarkTile(viewer_id=session.identity.viewer_id, minute=minute, half=self.half, levels=levels,
                        recorded=recorded)

    def record_gap(self, state: SessionState, workstation: str, start: datetime, end: datetime, reason: str) -> None:
        """Record ``agent-gap`` for the account of ``state``; see :meth:`MarkSource.record_gap`."""
        identity = self._identity(state)
        record = f"(no mark from {_hms(start)} to {_hms(end)}: {_one_line(reason)})"[:512]
        self._record(identity, workstation, state.client, "agent-gap", record, start)
        log.warning("gap: viewer %s at %s unmarked from %s to %s: %s", identity.viewer_id, workstation,
                    start.isoformat(), end.isoformat(), reason)

    def close_session(self, session: MarkSession, reason: str) -> None:
        """Record ``agent-end`` and forget the session."""
        with self._lock:
            known = self._sessions.pop(session.token, None) is not None
            self._minutes.pop(session.token, None)
        if known:
            self._record(session.identity, session.workstation, session.client, "agent-end",
                         f"(session end: {_one_line(reason)})"[:512], datetime.now(timezone.utc))


def _hms(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _one_line(text: str) -> str:
    return " ".join(str(text).split()) or "unspecified"


class LocalMarks:
    """A :class:`MarkSource` with the :class:`Marker` in the agent's process (the key on the workstation).

    Parameters
    ----------
    marker : Marker
    workstation : str, optional
        Default: the host name.

    Examples
    --------
    >>> from agent import AccountMap, SessionState
    >>> accounts = AccountMap.from_rows([{"username": "mlindqvist", "viewer_id": 4821, "display_name": "Dr. L"}])
    >>> source = LocalMarks(Marker(Key(bytes(range(32))), None, accounts), workstation="WS-1")
    >>> session = source.open_session(SessionState(username="mlindqvist"))
    >>> tile = source.tile(session, datetime(2026, 3, 1, 9, 30, 42, tzinfo=timezone.utc))
    >>> tile.viewer_id, tile.minute.isoformat(), tile.levels.shape, int(tile.levels.max()) <= 2 * tile.half
    (4821, '2026-03-01T09:30:00+00:00', (256, 256), True)
    """

    def __init__(self, marker: Marker, *, workstation: str | None = None) -> None:
        self.marker = marker
        self.workstation = workstation or socket.gethostname() or "workstation"

    def open_session(self, state: SessionState) -> MarkSession:
        return self.marker.open_session(state, self.workstation)

    def tile(self, session: MarkSession, minute: datetime) -> MarkTile:
        return self.marker.tile(session, minute)

    def record_gap(self, state: SessionState, start: datetime, end: datetime, reason: str) -> None:
        self.marker.record_gap(state, self.workstation, start, end, reason)

    def close_session(self, session: MarkSession, reason: str) -> None:
        self.marker.close_session(session, reason)


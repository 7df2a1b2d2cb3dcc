"""The :class:`Ledger` front: opening by URL, validated writes, lookups; backends fill in four hooks."""

from __future__ import annotations

import logging
import os
import re
import secrets
import threading
import urllib.parse
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Sequence

from watermark import EARLIEST_TIMESTAMP

from ._errors import LedgerError, LedgerURLError
from ._records import LedgerLookup, View
from ._validate import (
    minute_of,
    positive_seconds,
    redact,
    text_field,
    utc_field,
    viewer_id_field,
    window_field,
)

__all__ = [
    "COLUMNS",
    "DEFAULT_TIMEOUT_S",
    "DEFAULT_WINDOW_MINUTES",
    "INSERT_COLUMNS",
    "Ledger",
    "SCHEMA_VERSION",
    "TABLE",
    "view_from_row",
]

log = logging.getLogger(__name__)

DEFAULT_WINDOW_MINUTES = 5
"""Minutes either side of the mark's minute that a lookup reports as surrounding views."""

DEFAULT_TIMEOUT_S = 10.0
"""How long an operation may wait for a lock (SQLite) or a connection and statement (PostgreSQL)."""

SCHEMA_VERSION = 1
"""Version of the table layout, kept in ``leaktrace_meta``; a ledger of another version is refused."""

TABLE = "leaktrace_views"
INSERT_COLUMNS = (
    "view_uid, viewer_id, display_name, record_id, workstation, client_address, viewed_at, minute, "
    "key_fingerprint, action"
)
COLUMNS = f"view_id, {INSERT_COLUMNS}"


def view_from_row(row: Sequence[Any], viewed_at: datetime) -> View:
    """A :class:`View` from a ``SELECT COLUMNS`` row; the backend converts ``viewed_at`` (column 7)."""
    return View(
        view_id=int(row[0]), view_uid=row[1], viewer_id=int(row[2]), display_name=row[3], record_id=row[4],
        workstation=row[5], client_address=row[6], viewed_at=viewed_at, key_fingerprint=row[9], action=row[10],
    )


def _open_url(text: str, *, read_only: bool, timeout_s: float) -> Ledger:
    """Dispatch a URL or plain path to its backend."""
    from ._postgres import PostgresLedger
    from ._sqlite import SQLiteLedger

    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if scheme in ("postgresql", "postgres"):
        return PostgresLedger(text, read_only=read_only, timeout_s=timeout_s)
    if scheme == "sqlite":
        rest = text[len("sqlite://"):]
        if not rest.startswith("/") or len(rest) < 2:
            raise LedgerURLError(
                f"a SQLite ledger URL is sqlite:///relative/path or sqlite:////absolute/path, got {text!r}", url=text
            )
        path = urllib.parse.unquote(rest[1:].split("?", 1)[0])
        return SQLiteLedger(Path(path), read_only=read_only, timeout_s=timeout_s)
    if scheme:
        raise LedgerURLError(
            f"unsupported ledger URL scheme {scheme!r} in {redact(text)!r}: use sqlite:/// or postgresql://",
            url=redact(text),
        )
    return SQLiteLedger(Path(text), read_only=read_only, timeout_s=timeout_s)


class Ledger:
    """An append-only record of stamped views. Open one with :meth:`Ledger.open`.

    A ``Ledger`` holds one database connection and may be shared by the
    threads of one process (operations are serialised); each process opens
    its own. Use it as a context manager or call :meth:`close`.
    """

    backend: str = ""

    def __init__(self, url: str, *, read_only: bool, timeout_s: float) -> None:
        self._url = url
        self.read_only = read_only
        self.timeout_s = timeout_s
        self._lock = threading.RLock()
        self._closed = False

    # -- opening
    @staticmethod
    def open(url_or_path: str | os.PathLike[str], *, read_only: bool = False, timeout_s: float = DEFAULT_TIMEOUT_S) -> Ledger:
        """Open (and, unless read-only, create) a ledger.

        Parameters
        ----------
        url_or_path : str or path
            ``sqlite:///relative/path.sqlite``, ``sqlite:////absolute/path``
            (SQLAlchemy's convention), a plain file path (SQLite), or
            ``postgresql://user:password@host:port/dbname?...`` (libpq URL;
            ``postgres://`` too).
        read_only : bool, keyword-only
            Open for lookups only (what a security officer's ``trace-leak
            --ledger`` does): a SQLite file must already exist, and a write
            raises :class:`LedgerError`.
        timeout_s : float, keyword-only
            SQLite: how long a write waits for another writer's lock.
            PostgreSQL: connect timeout and statement timeout.

        Returns
        -------
        Ledger

        Raises
        ------
        LedgerURLError
            If the URL scheme is not supported or the URL or path cannot name
            a ledger (a ``ValueError``).
        LedgerUnavailableError
            If the database cannot be reached, created or read now: missing
            file, locked, read-only, server down (an ``OSError``).
        LedgerSchemaError
            If the database is not a leaktrace ledger.
        watermark.OptionError
            If ``timeout_s`` is not in (0, 3600] (a ``ValueError``).
        """
        timeout = positive_seconds(timeout_s, "timeout_s")
        if isinstance(url_or_path, os.PathLike):
            from ._sqlite import SQLiteLedger

            return SQLiteLedger(Path(url_or_path), read_only=read_only, timeout_s=timeout)
        if not isinstance(url_or_path, str) or not url_or_path.strip():
            raise LedgerURLError(f"a ledger is a sqlite:/// or postgresql:// URL or a file path, got {url_or_path!r}")
        return _open_url(url_or_path.strip(), read_only=read_only, timeout_s=timeout)

    @property
    def url(self) -> str:
        """Where the ledger lives, password removed (safe to log and print)."""
        return redact(self._url)

    def __repr__(self) -> str:
        mode = "read-only" if self.read_only else "read-write"
        return f"<{type(self).__name__} {self.url} ({mode})>"

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection; further use raises :class:`LedgerError`."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._close()

    def _check_open(self) -> None:
        if self._closed:
            raise LedgerError(f"ledger {self.url} is closed", url=self.url)

    # -- writing
    def record_view(
        self,
        *,
        viewer_id: int,
        display_name: str,
        record_id: str,
        workstation: str,
        client_address: str,
        key_fingerprint: str,
        action: str = "view",
        viewed_at: datetime | None = None,
    ) -> View:
        """Durably record one stamped view, before the screen is shown.

        Parameters
        ----------
        viewer_id : int, keyword-only
            The account (0 .. 2**32 - 1), as the watermark will carry it.
        display_name, record_id, workstation, client_address : str, keyword-only
            Non-empty, at most 512 characters, no control characters.
        key_fingerprint : str, keyword-only
            ``Key.fingerprint`` of the key the screen is stamped with.
        action : str, keyword-only
            ``"view"`` (default), ``"export"``, ...
        viewed_at : datetime, keyword-only
            Timezone-aware; default now. Stamp the screen with
            ``View.payload`` so that mark and ledger agree to the minute.

        Returns
        -------
        View
            The committed row.

        Raises
        ------
        LedgerUnavailableError
            If the row could not be committed now (locked ledger, full disk,
            lost server, ...). Nothing is half-written.
        LedgerError
            If the ledger is open read-only or closed.
        LedgerFieldError, LedgerFieldTypeError
            For an invalid field, naming it in ``.field`` (a ``ValueError``,
            resp. ``TypeError``).
        """
        row: dict[str, Any] = {
            "view_uid": secrets.token_hex(16),
            "viewer_id": viewer_id_field(viewer_id),
            "display_name": text_field(display_name, "display_name"),
            "record_id": text_field(record_id, "record_id"),
            "workstation": text_field(workstation, "workstation"),
            "client_address": text_field(client_address, "client_address"),
            "key_fingerprint": text_field(key_fingerprint, "key_fingerprint"),
            "action": text_field(action, "action"),
        }
        when = utc_field(viewed_at, "viewed_at") if viewed_at is not None else datetime.now(timezone.utc)
        row["viewed_at"] = when
        row["minute"] = minute_of(when)
        with self._lock:
            self._check_open()
            if self.read_only:
                raise LedgerError(f"ledger {self.url} is open read-only; the view was not recorded", url=self.url)
            view_id = self._insert(row)
        view = View(view_id=view_id, **{k: v for k, v in row.items() if k != "minute"})
        log.debug("recorded view %s of %s by viewer %s", view.view_id, view.record_id, view.viewer_id)
        return view

    # -- reading
    def get_view(self, view_uid: str) -> View | None:
        """The view with this UID, or None.

        Raises
        ------
        LedgerError
            If the ledger cannot be read.
        """
        if not isinstance(view_uid, str) or not re.fullmatch(r"[0-9a-f]{32}", view_uid):
            return None
        rows = self._select("view_uid = ?", (view_uid,))
        return rows[0] if rows else None

    def views(
        self, *, viewer_id: int | None = None, since: datetime | None = None, until: datetime | None = None,
        record_id: str | None = None,
    ) -> list[View]:
        """Recorded views in commit order, optionally for one viewer, one record and a time range.

        Parameters
        ----------
        viewer_id : int, keyword-only
        record_id : str, keyword-only
            Only the views of this record (the candidates of ``trace-leak --record``).
        since, until : datetime, keyword-only
            Inclusive lower and exclusive upper bound on ``viewed_at``.

        Returns
        -------
        list of View

        Raises
        ------
        LedgerError
            If the ledger cannot be read.
        LedgerFieldError, LedgerFieldTypeError
            For an invalid viewer ID or time.
        """
        clauses: list[str] = []
        params: list[Any] = []
        lo = utc_field(since, "since") if since is not None else None
        hi = utc_field(until, "until") if until is not None else None
        if viewer_id is not None:
            clauses.append("viewer_id = ?")
            params.append(viewer_id_field(viewer_id))
        if record_id is not None:
            clauses.append("record_id = ?")
            params.append(text_field(record_id, "record_id"))
        if lo is not None:
            clauses.append("minute >= ?")
            params.append(minute_of(lo))
        if hi is not None:
            clauses.append("minute <= ?")
            params.append(minute_of(hi))
        rows = self._select(" AND ".join(clauses) or "1 = 1", tuple(params))
        return [v for v in rows if (lo is None or v.viewed_at >= lo) and (hi is None or v.viewed_at < hi)]

    def count(self) -> int:
        """Number of recorded views.

        Raises
        ------
        LedgerError
            If the ledger cannot be read.
        """
        with self._lock:
            self._check_open()
            return self._count()

    def lookup(
        self,
        viewer_id: int,
        timestamp: datetime,
        *,
        window_minutes: int = DEFAULT_WINDOW_MINUTES,
        key_fingerprint: str | None = None,
    ) -> LedgerLookup:
        """Join a decoded payload with the ledger.

        Parameters
        ----------
        viewer_id : int
            ``Payload.viewer_id`` from the trace.
        timestamp : datetime
            ``Payload.timestamp`` (any time within the minute).
        window_minutes : int, keyword-only
            Minutes either side reported as surrounding views (0 .. 1440).
        key_fingerprint : str, keyword-only
            ``TraceResult.key_fingerprint``: matches must have been stamped
            under that key.

        Returns
        -------
        LedgerLookup

        Raises
        ------
        LedgerError
            If the ledger cannot be read.
        LedgerFieldError, LedgerFieldTypeError
            For an invalid viewer ID or timestamp.
        watermark.OptionError, watermark.OptionTypeError
            If ``window_minutes`` is not an int in 0..1440.

        Examples
        --------
        See the package docstring.
        """
        viewer_id = viewer_id_field(viewer_id)
        minute = minute_of(utc_field(timestamp, "timestamp"))
        window = window_field(window_minutes)
        lo, hi = minute - window, minute + window
        own = self._select("viewer_id = ? AND minute BETWEEN ? AND ?", (viewer_id, lo, hi))
        matches = tuple(
            v for v in own if v.minute == minute and (key_fingerprint is None or v.key_fingerprint == key_fingerprint)
        )
        match_ids = {v.view_id for v in matches}
        return LedgerLookup(
            viewer_id=viewer_id,
            timestamp=EARLIEST_TIMESTAMP + timedelta(minutes=minute),
            window_minutes=window,
            key_fingerprint=key_fingerprint,
            matches=matches,
            surrounding=tuple(v for v in own if v.view_id not in match_ids),
            workstation_views=self._others_at(sorted({v.workstation for v in matches}), lo, hi, viewer_id),
            ledger=self.url,
        )

    def _others_at(self, stations: list[str], lo: int, hi: int, viewer_id: int) -> tuple[View, ...]:
        """Views by other accounts on these workstations between minutes ``lo`` and ``hi``."""
        if not stations:
            return ()
        marks = ", ".join("?" for _ in stations)
        return tuple(
            self._select(
                f"workstation IN ({marks}) AND minute BETWEEN ? AND ? AND viewer_id <> ?",
                (*stations, lo, hi, viewer_id),
            )
        )

    def _select(self, where: str, params: Sequence[Any]) -> list[View]:
        with self._lock:
            self._check_open()
            return self._query(where, tuple(params))

    # -- backend hooks
    def _insert(self, row: dict[str, Any]) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def _query(self, where: str, params: tuple[Any, ...]) -> list[View]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _count(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def _close(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

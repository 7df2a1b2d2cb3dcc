"""The access ledger: every stamped view, recorded durably, and its join with a trace.

A watermark names an *account and a minute*. The ledger turns that into
evidence: which record that account opened in that minute, on which
workstation, from which client address, under which key, and what else the
account (and anyone else at that workstation) looked at around it.

Backends
--------
* **SQLite** (default, embedded): a file opened in WAL mode with
  ``synchronous=FULL`` (every commit is fsynced to the write-ahead log before
  :meth:`Ledger.record_view` returns) and a busy timeout, so many viewer
  processes on one host can write concurrently without losing a row.
* **PostgreSQL** (``postgresql://...``, needs ``psycopg``: the ``postgres``
  extra): one transaction per view, committed with the server's default
  synchronous commit. A lost connection is re-established once and the
  write retried; the insert is idempotent (keyed by a random view UID), so a
  retry never records a view twice.

Both keep one append-only table, ``leaktrace_views``; triggers refuse
``UPDATE`` and ``DELETE`` on it. Any failure to open, read or write raises
:class:`LedgerError`: a viewer must treat it as "do not show the record".

Examples
--------
>>> import tempfile, os
>>> from datetime import datetime, timezone
>>> folder = tempfile.mkdtemp()
>>> with Ledger.open(os.path.join(folder, "ledger.sqlite")) as ledger:
...     view = ledger.record_view(viewer_id=4821, display_name="Dr. Marek Lindqvist",
...                               record_id="MRN 28110431", workstation="WS-4B-112",
...                               client_address="10.20.4.112", key_fingerprint="1a2b-3c4d-5e6f-7a8b",
...                               viewed_at=datetime(2026, 3, 1, 9, 30, 17, tzinfo=timezone.utc))
...     join = ledger.lookup(4821, datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc))
>>> [v.record_id for v in join.matches]
['MRN 28110431']
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import sqlite3
import threading
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator, Sequence

from watermark import Payload, WatermarkError
from watermark._payload import EPOCH, LATEST

__all__ = [
    "DEFAULT_WINDOW_MINUTES",
    "Ledger",
    "LedgerError",
    "LedgerLookup",
    "View",
    "format_ledger_join",
    "ledger_join_dict",
]

log = logging.getLogger(__name__)

DEFAULT_WINDOW_MINUTES = 5
"""Minutes either side of the mark's minute that a lookup reports as surrounding views."""

DEFAULT_TIMEOUT_S = 10.0
"""How long an operation may wait for a lock (SQLite) or a connection and statement (PostgreSQL)."""

SCHEMA_VERSION = 1
_TABLE = "leaktrace_views"
_MAX_TEXT = 512
_INSERT_COLUMNS = (
    "view_uid, viewer_id, display_name, record_id, workstation, client_address, viewed_at, minute, "
    "key_fingerprint, action"
)
_COLUMNS = f"view_id, {_INSERT_COLUMNS}"
_PG_SCHEMA_LOCK = 7411062520170001  # pg_advisory_xact_lock id serialising schema creation


class LedgerError(WatermarkError):
    """The access ledger cannot be opened, read or written.

    A viewer that gets this must not display the record: an unrecorded view
    is exactly what the ledger exists to prevent.
    """


@dataclass(frozen=True)
class View:
    """One recorded, stamped view of a record.

    Attributes
    ----------
    view_id : int
        Ledger row number, increasing in commit order.
    view_uid : str
        Random 128-bit identifier (hex); safe to put in URLs.
    viewer_id : int
        The account, as carried by the watermark.
    display_name, record_id, workstation, client_address : str
    viewed_at : datetime
        UTC, microsecond resolution, from the viewer server's clock.
    key_fingerprint : str
        Fingerprint of the key the screen was stamped with.
    action : str
        What was shown: ``"view"`` for a record page, ``"export"`` for a
        server-rendered image, or another short word the viewer chooses.
    """

    view_id: int
    view_uid: str
    viewer_id: int
    display_name: str
    record_id: str
    workstation: str
    client_address: str
    viewed_at: datetime
    key_fingerprint: str
    action: str = "view"

    @property
    def minute(self) -> int:
        """Minutes since 2020-01-01T00:00Z: the time field of the payload stamped for this view."""
        return _minute(self.viewed_at)

    @property
    def payload(self) -> Payload:
        """The payload to stamp for this view (viewer ID and the view's minute)."""
        return Payload(viewer_id=self.viewer_id, timestamp=self.viewed_at)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form; times as ISO 8601 UTC strings."""
        return {
            "view_id": self.view_id,
            "view_uid": self.view_uid,
            "viewer_id": self.viewer_id,
            "display_name": self.display_name,
            "record_id": self.record_id,
            "workstation": self.workstation,
            "client_address": self.client_address,
            "viewed_at": _iso(self.viewed_at),
            "key_fingerprint": self.key_fingerprint,
            "action": self.action,
        }


@dataclass(frozen=True)
class LedgerLookup:
    """The ledger's answer for one decoded payload.

    Attributes
    ----------
    viewer_id : int
    timestamp : datetime
        Start of the payload's minute (UTC).
    window_minutes : int
    key_fingerprint : str or None
        When given, only views stamped under this key count as matches.
    matches : tuple of View
        The viewer's views in the payload's minute: the screen in the leak
        is one of these. More than one means the viewer opened several
        screens that minute; the leaked content tells which.
    surrounding : tuple of View
        The viewer's other views within ``window_minutes`` either side.
    workstation_views : tuple of View
        Views by *other* accounts on the matched workstations in the same
        window: who else was at that screen.
    ledger : str
        The ledger's URL, password removed.
    """

    viewer_id: int
    timestamp: datetime
    window_minutes: int
    key_fingerprint: str | None
    matches: tuple[View, ...]
    surrounding: tuple[View, ...]
    workstation_views: tuple[View, ...] = ()
    ledger: str = ""

    @property
    def found(self) -> bool:
        """True when at least one recorded view matches the payload."""
        return bool(self.matches)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (see :func:`ledger_join_dict`)."""
        return ledger_join_dict(self)


# ----------------------------------------------------------------- helpers
def _minute(when: datetime) -> int:
    return int((when - EPOCH) // timedelta(minutes=1))


def _iso(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc)


def _utc(when: Any, name: str) -> datetime:
    if not isinstance(when, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(when).__name__}")
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {when.isoformat()}")
    when = when.astimezone(timezone.utc)
    if not EPOCH <= when <= LATEST + timedelta(seconds=59.999999):
        raise ValueError(f"{name} must be between {EPOCH:%Y-%m-%d} and {LATEST:%Y-%m-%d} (payload range), got {when.isoformat()}")
    return when


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    value = value.strip()
    if not value:
        raise ValueError(f"{name} must not be empty")
    if len(value) > _MAX_TEXT:
        raise ValueError(f"{name} must be at most {_MAX_TEXT} characters, got {len(value)}")
    if any(ord(c) < 32 for c in value):
        raise ValueError(f"{name} must not contain control characters, got {value!r}")
    return value


def _viewer_id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"viewer_id must be an int, got {type(value).__name__}")
    if not 0 <= value <= 2**32 - 1:
        raise ValueError(f"viewer_id must be in 0..{2**32 - 1}, got {value}")
    return int(value)


def _redact(url: str) -> str:
    """The URL with any password replaced by ``***``."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))


# ----------------------------------------------------------------- the ledger
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
    def open(url_or_path: str | os.PathLike[str], *, read_only: bool = False, timeout_s: float = DEFAULT_TIMEOUT_S) -> "Ledger":
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
        LedgerError
            If the database cannot be reached, created or read, is not a
            leaktrace ledger, or the URL scheme is not supported.
        ValueError
            If ``timeout_s`` is not positive.
        """
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or not 0 < timeout_s <= 3600:
            raise ValueError(f"timeout_s must be a number of seconds in (0, 3600], got {timeout_s!r}")
        if isinstance(url_or_path, os.PathLike):
            return _SQLiteLedger(Path(url_or_path), read_only=read_only, timeout_s=float(timeout_s))
        if not isinstance(url_or_path, str) or not url_or_path.strip():
            raise LedgerError(f"a ledger is a sqlite:/// or postgresql:// URL or a file path, got {url_or_path!r}")
        text = url_or_path.strip()
        scheme = text.split("://", 1)[0].lower() if "://" in text else ""
        if scheme in ("postgresql", "postgres"):
            return _PostgresLedger(text, read_only=read_only, timeout_s=float(timeout_s))
        if scheme == "sqlite":
            rest = text[len("sqlite://"):]
            if not rest.startswith("/") or len(rest) < 2:
                raise LedgerError(f"a SQLite ledger URL is sqlite:///relative/path or sqlite:////absolute/path, got {text!r}")
            path = urllib.parse.unquote(rest[1:].split("?", 1)[0])
            return _SQLiteLedger(Path(path), read_only=read_only, timeout_s=float(timeout_s))
        if scheme:
            raise LedgerError(f"unsupported ledger URL scheme {scheme!r} in {_redact(text)!r}: use sqlite:/// or postgresql://")
        return _SQLiteLedger(Path(text), read_only=read_only, timeout_s=float(timeout_s))

    @property
    def url(self) -> str:
        """Where the ledger lives, password removed (safe to log and print)."""
        return _redact(self._url)

    def __repr__(self) -> str:
        mode = "read-only" if self.read_only else "read-write"
        return f"<{type(self).__name__} {self.url} ({mode})>"

    def __enter__(self) -> "Ledger":
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
            raise LedgerError(f"ledger {self.url} is closed")

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
        LedgerError
            If the row could not be committed (read-only or locked ledger,
            full disk, lost server, ...). Nothing is half-written.
        ValueError, TypeError
            For an invalid field, naming it.
        """
        row = {
            "view_uid": secrets.token_hex(16),
            "viewer_id": _viewer_id(viewer_id),
            "display_name": _text(display_name, "display_name"),
            "record_id": _text(record_id, "record_id"),
            "workstation": _text(workstation, "workstation"),
            "client_address": _text(client_address, "client_address"),
            "key_fingerprint": _text(key_fingerprint, "key_fingerprint"),
            "action": _text(action, "action"),
        }
        when = _utc(viewed_at, "viewed_at") if viewed_at is not None else datetime.now(timezone.utc)
        row["viewed_at"] = when
        row["minute"] = _minute(when)
        with self._lock:
            self._check_open()
            if self.read_only:
                raise LedgerError(f"ledger {self.url} is open read-only; the view was not recorded")
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
        self, *, viewer_id: int | None = None, since: datetime | None = None, until: datetime | None = None
    ) -> list[View]:
        """Recorded views in commit order, optionally for one viewer and a time range.

        Parameters
        ----------
        viewer_id : int, keyword-only
        since, until : datetime, keyword-only
            Inclusive lower and exclusive upper bound on ``viewed_at``.

        Returns
        -------
        list of View

        Raises
        ------
        LedgerError
            If the ledger cannot be read.
        """
        clauses, params = [], []
        if viewer_id is not None:
            clauses.append("viewer_id = ?")
            params.append(_viewer_id(viewer_id))
        if since is not None:
            clauses.append("minute >= ?")
            params.append(_minute(_utc(since, "since")))
        if until is not None:
            clauses.append("minute <= ?")
            params.append(_minute(_utc(until, "until")))
        rows = self._select(" AND ".join(clauses) or "1 = 1", tuple(params))
        lo = _utc(since, "since") if since is not None else None
        hi = _utc(until, "until") if until is not None else None
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

        Examples
        --------
        See the module docstring.
        """
        viewer_id = _viewer_id(viewer_id)
        minute = _minute(_utc(timestamp, "timestamp"))
        if isinstance(window_minutes, bool) or not isinstance(window_minutes, int) or not 0 <= window_minutes <= 1440:
            raise ValueError(f"window_minutes must be an int in 0..1440, got {window_minutes!r}")
        lo, hi = minute - window_minutes, minute + window_minutes
        own = self._select("viewer_id = ? AND minute BETWEEN ? AND ?", (viewer_id, lo, hi))
        matches = tuple(
            v for v in own if v.minute == minute and (key_fingerprint is None or v.key_fingerprint == key_fingerprint)
        )
        match_ids = {v.view_id for v in matches}
        surrounding = tuple(v for v in own if v.view_id not in match_ids)
        stations = sorted({v.workstation for v in matches})
        others: tuple[View, ...] = ()
        if stations:
            marks = ", ".join("?" for _ in stations)
            others = tuple(
                self._select(
                    f"workstation IN ({marks}) AND minute BETWEEN ? AND ? AND viewer_id <> ?",
                    (*stations, lo, hi, viewer_id),
                )
            )
        return LedgerLookup(
            viewer_id=viewer_id,
            timestamp=EPOCH + timedelta(minutes=minute),
            window_minutes=window_minutes,
            key_fingerprint=key_fingerprint,
            matches=matches,
            surrounding=surrounding,
            workstation_views=others,
            ledger=self.url,
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


def _view_from_row(row: Sequence[Any], viewed_at: datetime) -> View:
    return View(
        view_id=int(row[0]), view_uid=row[1], viewer_id=int(row[2]), display_name=row[3], record_id=row[4],
        workstation=row[5], client_address=row[6], viewed_at=viewed_at, key_fingerprint=row[9], action=row[10],
    )


# ----------------------------------------------------------------- SQLite
_SQLITE_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {_TABLE} (
    view_id INTEGER PRIMARY KEY AUTOINCREMENT,
    view_uid TEXT NOT NULL UNIQUE,
    viewer_id INTEGER NOT NULL,
    display_name TEXT NOT NULL,
    record_id TEXT NOT NULL,
    workstation TEXT NOT NULL,
    client_address TEXT NOT NULL,
    viewed_at TEXT NOT NULL,
    minute INTEGER NOT NULL,
    key_fingerprint TEXT NOT NULL,
    action TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS {_TABLE}_viewer_minute ON {_TABLE} (viewer_id, minute);
CREATE INDEX IF NOT EXISTS {_TABLE}_workstation_minute ON {_TABLE} (workstation, minute);
CREATE TRIGGER IF NOT EXISTS {_TABLE}_no_update BEFORE UPDATE ON {_TABLE}
BEGIN SELECT RAISE(ABORT, 'the leaktrace ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS {_TABLE}_no_delete BEFORE DELETE ON {_TABLE}
BEGIN SELECT RAISE(ABORT, 'the leaktrace ledger is append-only'); END;
CREATE TABLE IF NOT EXISTS leaktrace_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO leaktrace_meta (name, value) VALUES ('schema_version', '{SCHEMA_VERSION}');
"""


class _SQLiteLedger(Ledger):
    backend = "sqlite"

    def __init__(self, path: Path, *, read_only: bool, timeout_s: float) -> None:
        super().__init__(f"sqlite:///{path}", read_only=read_only, timeout_s=timeout_s)
        self.path = path
        if str(path) in ("", ":memory:"):
            raise LedgerError("an in-memory SQLite ledger would record nothing durable; give a file path")
        if path.is_dir():
            raise LedgerError(f"ledger path {str(path)!r} is a directory; give a file path")
        if read_only and not path.exists():
            raise LedgerError(f"ledger file {str(path)!r} does not exist")
        if not read_only and not path.parent.is_dir():
            raise LedgerError(f"cannot create ledger {str(path)!r}: directory {str(path.parent)!r} does not exist")
        uri = f"file:{urllib.parse.quote(str(path.resolve()))}?mode={'ro' if read_only else 'rwc'}"
        try:
            self._conn = sqlite3.connect(uri, uri=True, timeout=timeout_s, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot open ledger {str(path)!r}: {exc}") from exc
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {int(timeout_s * 1000)}")
            if read_only:
                self._check_schema()
            else:
                mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise LedgerError(f"ledger {str(path)!r} cannot use write-ahead logging (journal mode {mode!r})")
                self._conn.execute("PRAGMA synchronous = FULL")
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    for statement in _split_sql(_SQLITE_SCHEMA):
                        self._conn.execute(statement)
                    self._conn.execute("COMMIT")
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._check_schema()
        except sqlite3.Error as exc:
            self._conn.close()
            hint = ""
            if "unable to open" in str(exc) or "readonly" in str(exc):
                hint = (" (the file or its folder is read-only; a reader needs to create the -wal and -shm files"
                        " beside it: copy the ledger and its -wal file to a writable folder to read it)")
            raise LedgerError(f"cannot open ledger {str(path)!r}: {exc}{hint}") from exc
        except LedgerError:
            self._conn.close()
            raise

    def _check_schema(self) -> None:
        found = self._conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", (_TABLE,)
        ).fetchone()[0]
        if not found:
            raise LedgerError(f"{str(self.path)!r} is a SQLite database but not a leaktrace ledger (no {_TABLE} table)")
        version = self._conn.execute("SELECT value FROM leaktrace_meta WHERE name = 'schema_version'").fetchone()
        if version is None or int(version[0]) != SCHEMA_VERSION:
            raise LedgerError(f"ledger {str(self.path)!r} has schema version {version and version[0]}, expected {SCHEMA_VERSION}")

    def _insert(self, row: dict[str, Any]) -> int:
        values = (
            row["view_uid"], row["viewer_id"], row["display_name"], row["record_id"], row["workstation"],
            row["client_address"], _iso(row["viewed_at"]), row["minute"], row["key_fingerprint"], row["action"],
        )
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                cur = self._conn.execute(
                    f"INSERT INTO {_TABLE} ({_INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", values
                )
                view_id = int(cur.lastrowid or 0)
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot record the view in ledger {str(self.path)!r}: {exc}") from exc
        return view_id

    def _query(self, where: str, params: tuple[Any, ...]) -> list[View]:
        try:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM {_TABLE} WHERE {where} ORDER BY viewed_at, view_id", params
            ).fetchall()
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot read ledger {str(self.path)!r}: {exc}") from exc
        return [_view_from_row(r, _parse_iso(r[7])) for r in rows]

    def _count(self) -> int:
        try:
            return int(self._conn.execute(f"SELECT count(*) FROM {_TABLE}").fetchone()[0])
        except sqlite3.Error as exc:
            raise LedgerError(f"cannot read ledger {str(self.path)!r}: {exc}") from exc

    def _close(self) -> None:
        self._conn.close()


def _split_sql(script: str) -> Iterator[str]:
    """Statements of a schema script (triggers keep their inner ``;``)."""
    buf: list[str] = []
    for line in script.strip().splitlines():
        buf.append(line)
        text = "\n".join(buf).strip()
        if text.endswith(";") and (not text.upper().startswith("CREATE TRIGGER") or text.upper().endswith("END;")):
            yield text
            buf = []


# ----------------------------------------------------------------- PostgreSQL
_PG_SCHEMA = (
    f"""CREATE TABLE IF NOT EXISTS {_TABLE} (
        view_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        view_uid TEXT NOT NULL UNIQUE,
        viewer_id BIGINT NOT NULL,
        display_name TEXT NOT NULL,
        record_id TEXT NOT NULL,
        workstation TEXT NOT NULL,
        client_address TEXT NOT NULL,
        viewed_at TIMESTAMPTZ NOT NULL,
        minute INTEGER NOT NULL,
        key_fingerprint TEXT NOT NULL,
        action TEXT NOT NULL)""",
    f"CREATE INDEX IF NOT EXISTS {_TABLE}_viewer_minute ON {_TABLE} (viewer_id, minute)",
    f"CREATE INDEX IF NOT EXISTS {_TABLE}_workstation_minute ON {_TABLE} (workstation, minute)",
    f"""CREATE OR REPLACE FUNCTION {_TABLE}_append_only() RETURNS trigger LANGUAGE plpgsql AS
        $$BEGIN RAISE EXCEPTION 'the leaktrace ledger is append-only'; END$$""",
    f"""DO $$BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = '{_TABLE}_append_only'
                       AND tgrelid = '{_TABLE}'::regclass) THEN
            CREATE TRIGGER {_TABLE}_append_only BEFORE UPDATE OR DELETE ON {_TABLE}
                FOR EACH ROW EXECUTE FUNCTION {_TABLE}_append_only();
        END IF; END$$""",
    "CREATE TABLE IF NOT EXISTS leaktrace_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    f"INSERT INTO leaktrace_meta (name, value) VALUES ('schema_version', '{SCHEMA_VERSION}') ON CONFLICT DO NOTHING",
)


class _PostgresLedger(Ledger):
    backend = "postgresql"

    def __init__(self, url: str, *, read_only: bool, timeout_s: float) -> None:
        super().__init__(url, read_only=read_only, timeout_s=timeout_s)
        try:
            import psycopg
        except ImportError as exc:
            raise LedgerError(
                "a PostgreSQL ledger needs psycopg 3: pip install 'leaktrace[postgres]' (or 'psycopg[binary]')"
            ) from exc
        self._psycopg = psycopg
        self._conn: Any = None
        self._connect()
        try:
            with self._conn.transaction():
                if read_only:
                    self._check_schema()
                else:
                    self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (_PG_SCHEMA_LOCK,))
                    for statement in _PG_SCHEMA:
                        self._conn.execute(statement)
            if not read_only:
                with self._conn.transaction():
                    self._check_schema()
        except psycopg.Error as exc:
            self._conn.close()
            raise LedgerError(f"cannot open ledger {self.url}: {_pg_message(exc)}") from exc
        except LedgerError:
            self._conn.close()
            raise

    def _connect(self) -> None:
        psycopg = self._psycopg
        options = f"-c statement_timeout={int(self.timeout_s * 1000)}"
        if self.read_only:
            options += " -c default_transaction_read_only=on"
        try:
            given = psycopg.conninfo.conninfo_to_dict(self._url).get("options")
        except psycopg.Error as exc:
            raise LedgerError(f"invalid PostgreSQL ledger URL {self.url}: {_pg_message(exc)}") from exc
        if given:  # keep the URL's own options (search_path, ...) and add ours
            options = f"{given} {options}"
        try:
            self._conn = psycopg.connect(
                self._url, autocommit=True, connect_timeout=max(1, round(self.timeout_s)),
                application_name="leaktrace-ledger", options=options,
            )
        except psycopg.Error as exc:
            raise LedgerError(f"cannot connect to ledger {self.url}: {_pg_message(exc)}") from exc

    def _check_schema(self) -> None:
        found = self._conn.execute("SELECT to_regclass(%s) IS NOT NULL", (_TABLE,)).fetchone()[0]
        if not found:
            raise LedgerError(f"database {self.url} is not a leaktrace ledger (no {_TABLE} table)")
        version = self._conn.execute("SELECT value FROM leaktrace_meta WHERE name = 'schema_version'").fetchone()
        if version is None or int(version[0]) != SCHEMA_VERSION:
            raise LedgerError(f"ledger {self.url} has schema version {version and version[0]}, expected {SCHEMA_VERSION}")

    def _insert(self, row: dict[str, Any]) -> int:
        psycopg = self._psycopg
        values = (
            row["view_uid"], row["viewer_id"], row["display_name"], row["record_id"], row["workstation"],
            row["client_address"], row["viewed_at"], row["minute"], row["key_fingerprint"], row["action"],
        )
        insert = (
            f"INSERT INTO {_TABLE} ({_INSERT_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (view_uid) DO NOTHING RETURNING view_id"
        )
        for attempt in (1, 2):
            try:
                if self._conn.closed:
                    self._connect()
                with self._conn.transaction():
                    found = self._conn.execute(insert, values).fetchone()
                    if found is None:  # a first attempt committed before its connection was lost
                        found = self._conn.execute(
                            f"SELECT view_id FROM {_TABLE} WHERE view_uid = %s", (row["view_uid"],)
                        ).fetchone()
                return int(found[0])
            except psycopg.OperationalError as exc:
                if attempt == 2 or not self._conn.closed:
                    raise LedgerError(f"cannot record the view in ledger {self.url}: {_pg_message(exc)}") from exc
                log.warning("ledger %s: connection lost (%s); reconnecting once", self.url, _pg_message(exc))
            except psycopg.Error as exc:
                raise LedgerError(f"cannot record the view in ledger {self.url}: {_pg_message(exc)}") from exc
            except LedgerError:
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _query(self, where: str, params: tuple[Any, ...]) -> list[View]:
        psycopg = self._psycopg
        sql = f"SELECT {_COLUMNS} FROM {_TABLE} WHERE {where.replace('?', '%s')} ORDER BY viewed_at, view_id"
        for attempt in (1, 2):
            try:
                if self._conn.closed:
                    self._connect()
                rows = self._conn.execute(sql, params).fetchall()
                return [_view_from_row(r, r[7].astimezone(timezone.utc)) for r in rows]
            except psycopg.OperationalError as exc:
                if attempt == 2 or not self._conn.closed:
                    raise LedgerError(f"cannot read ledger {self.url}: {_pg_message(exc)}") from exc
            except psycopg.Error as exc:
                raise LedgerError(f"cannot read ledger {self.url}: {_pg_message(exc)}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _count(self) -> int:
        psycopg = self._psycopg
        try:
            if self._conn.closed:
                self._connect()
            return int(self._conn.execute(f"SELECT count(*) FROM {_TABLE}").fetchone()[0])
        except psycopg.Error as exc:
            raise LedgerError(f"cannot read ledger {self.url}: {_pg_message(exc)}") from exc

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()


def _pg_message(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


# ----------------------------------------------------------------- reporting
def ledger_join_dict(lookup_result: LedgerLookup) -> dict[str, Any]:
    """The ledger join as a JSON-friendly dict, for ``trace-leak --json``.

    Parameters
    ----------
    lookup_result : LedgerLookup
        From :meth:`Ledger.lookup`.

    Returns
    -------
    dict
        ``ledger``, ``viewer_id``, ``minute`` (ISO), ``window_minutes``,
        ``key_fingerprint``, ``found``, ``matches``, ``surrounding``,
        ``workstation_views`` (lists of :meth:`View.to_dict`).
    """
    if not isinstance(lookup_result, LedgerLookup):
        raise TypeError(f"lookup_result must be a LedgerLookup, got {type(lookup_result).__name__}")
    r = lookup_result
    return {
        "ledger": r.ledger,
        "viewer_id": r.viewer_id,
        "minute": r.timestamp.strftime("%Y-%m-%dT%H:%MZ"),
        "window_minutes": r.window_minutes,
        "key_fingerprint": r.key_fingerprint,
        "found": r.found,
        "matches": [v.to_dict() for v in r.matches],
        "surrounding": [v.to_dict() for v in r.surrounding],
        "workstation_views": [v.to_dict() for v in r.workstation_views],
    }


def _view_line(view: View, marker: str = "") -> str:
    when = view.viewed_at.strftime("%H:%M:%S")
    action = "" if view.action == "view" else f" [{view.action}]"
    return f"    {when}Z  {view.record_id}{action}  on {view.workstation} from {view.client_address}{marker}"


def format_ledger_join(lookup_result: LedgerLookup) -> str:
    """The ledger join as text for a security officer (``trace-leak --ledger``).

    Parameters
    ----------
    lookup_result : LedgerLookup
        From :meth:`Ledger.lookup`.

    Returns
    -------
    str
        Several lines, no trailing newline: who, which record, which
        workstation and client, when, the key, then the viewer's views in the
        surrounding window (the matched one marked) and other accounts seen
        on the same workstation.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> t = datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc)
    >>> print(format_ledger_join(LedgerLookup(4821, t, 5, None, (), (), (), "sqlite:///x.sqlite")))
    ledger sqlite:///x.sqlite: NO recorded view by viewer 4821 at 2026-03-01T09:30Z.
      The mark is genuine (it passed the keyed check), so this view was not
      recorded in this ledger: check that it is the ledger of the viewer that
      stamped it, and the viewer servers' clocks.
      No other views by viewer 4821 between 09:25Z and 09:35Z.
    """
    if not isinstance(lookup_result, LedgerLookup):
        raise TypeError(f"lookup_result must be a LedgerLookup, got {type(lookup_result).__name__}")
    r = lookup_result
    minute = r.timestamp.strftime("%Y-%m-%dT%H:%MZ")
    lo = (r.timestamp - timedelta(minutes=r.window_minutes)).strftime("%H:%MZ")
    hi = (r.timestamp + timedelta(minutes=r.window_minutes)).strftime("%H:%MZ")
    lines: list[str] = []
    if not r.matches:
        lines += [
            f"ledger {r.ledger}: NO recorded view by viewer {r.viewer_id} at {minute}.",
            "  The mark is genuine (it passed the keyed check), so this view was not",
            "  recorded in this ledger: check that it is the ledger of the viewer that",
            "  stamped it, and the viewer servers' clocks.",
        ]
    elif len(r.matches) == 1:
        v = r.matches[0]
        action = "" if v.action == "view" else f" ({v.action})"
        lines += [
            f"ledger {r.ledger}: 1 recorded view by viewer {r.viewer_id} at {minute}",
            f"  who:          {v.display_name} (viewer {v.viewer_id})",
            f"  record:       {v.record_id}{action}",
            f"  workstation:  {v.workstation} (client {v.client_address})",
            f"  viewed at:    {_iso(v.viewed_at)} (ledger view #{v.view_id})",
            f"  key:          {v.key_fingerprint}",
        ]
    else:
        names = ", ".join(sorted({v.display_name for v in r.matches}))
        lines += [
            (f"ledger {r.ledger}: {len(r.matches)} recorded views by viewer {r.viewer_id} at {minute}"
             " (the mark is per minute: the leaked content tells which)"),
            f"  who:          {names} (viewer {r.viewer_id})",
        ]
        for i, v in enumerate(r.matches, 1):
            action = "" if v.action == "view" else f" ({v.action})"
            lines.append(
                f"  [{i}] {v.record_id}{action}  on {v.workstation} (client {v.client_address})"
                f"  at {_iso(v.viewed_at)}  view #{v.view_id}  key {v.key_fingerprint}"
            )
    own = sorted(r.matches + r.surrounding, key=lambda v: (v.viewed_at, v.view_id))
    matched = {v.view_id for v in r.matches}
    if r.surrounding:
        lines.append(f"  Views by viewer {r.viewer_id} between {lo} and {hi} ({len(own)}):")
        lines += [_view_line(v, "   <- this mark" if v.view_id in matched else "") for v in own]
    else:
        lines.append(f"  No other views by viewer {r.viewer_id} between {lo} and {hi}.")
    if r.matches:
        stations = ", ".join(sorted({v.workstation for v in r.matches}))
        if r.workstation_views:
            lines.append(f"  Other accounts on {stations} between {lo} and {hi}:")
            lines += [
                f"    {v.viewed_at.strftime('%H:%M:%S')}Z  {v.display_name} (viewer {v.viewer_id})  {v.record_id}"
                for v in r.workstation_views
            ]
        else:
            lines.append(f"  No other accounts on {stations} between {lo} and {hi}.")
    return "\n".join(lines)

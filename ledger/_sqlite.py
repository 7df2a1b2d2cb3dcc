"""The SQLite backend: one file in WAL mode, fsynced on every commit, append-only by trigger."""

from __future__ import annotations

import sqlite3
import urllib.parse
from pathlib import Path
from typing import Any, Iterator

from ._core import COLUMNS, INSERT_COLUMNS, SCHEMA_VERSION, TABLE, Ledger, view_from_row
from ._errors import LedgerError, LedgerSchemaError, LedgerURLError, LedgerUnavailableError
from ._records import View
from ._validate import iso, parse_iso

__all__ = ["SQLiteLedger"]

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
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
CREATE INDEX IF NOT EXISTS {TABLE}_viewer_minute ON {TABLE} (viewer_id, minute);
CREATE INDEX IF NOT EXISTS {TABLE}_workstation_minute ON {TABLE} (workstation, minute);
CREATE TRIGGER IF NOT EXISTS {TABLE}_no_update BEFORE UPDATE ON {TABLE}
BEGIN SELECT RAISE(ABORT, 'the leaktrace ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS {TABLE}_no_delete BEFORE DELETE ON {TABLE}
BEGIN SELECT RAISE(ABORT, 'the leaktrace ledger is append-only'); END;
CREATE TABLE IF NOT EXISTS leaktrace_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO leaktrace_meta (name, value) VALUES ('schema_version', '{SCHEMA_VERSION}');
"""

_READ_ONLY_HINT = (
    " (the file or its folder is read-only; a reader needs to create the -wal and -shm files"
    " beside it: copy the ledger and its -wal file to a writable folder to read it)"
)

# SQLite reports these conditions only in its message text; each is a reason a retry or an operator can fix.
_UNAVAILABLE_REASONS = (
    ("locked", "locked"),
    ("busy", "locked"),
    ("readonly", "read-only"),
    ("unable to open", "cannot open"),
    ("disk is full", "disk full"),
    ("disk i/o", "i/o error"),
)


def split_sql(script: str) -> Iterator[str]:
    """Statements of a schema script (triggers keep their inner ``;``)."""
    buf: list[str] = []
    for line in script.strip().splitlines():
        buf.append(line)
        text = "\n".join(buf).strip()
        if text.endswith(";") and (not text.upper().startswith("CREATE TRIGGER") or text.upper().endswith("END;")):
            yield text
            buf = []


def _error(exc: sqlite3.Error, message: str, url: str) -> LedgerError:
    """The ledger error for a SQLite failure: unavailable (retry / operator), not a ledger, or other."""
    text = str(exc).lower()
    if "file is not a database" in text:
        return LedgerSchemaError(message, url=url)
    for needle, reason in _UNAVAILABLE_REASONS:
        if needle in text:
            return LedgerUnavailableError(message, url=url, reason=reason)
    if isinstance(exc, sqlite3.OperationalError):
        return LedgerUnavailableError(message, url=url, reason="operational error")
    return LedgerError(message, url=url)


class SQLiteLedger(Ledger):
    """A ledger in one SQLite file (open it with :meth:`Ledger.open`)."""

    backend = "sqlite"

    def __init__(self, path: Path, *, read_only: bool, timeout_s: float) -> None:
        super().__init__(f"sqlite:///{path}", read_only=read_only, timeout_s=timeout_s)
        self.path = path
        self._check_path()
        uri = f"file:{urllib.parse.quote(str(path.resolve()))}?mode={'ro' if read_only else 'rwc'}"
        try:
            self._conn = sqlite3.connect(uri, uri=True, timeout=timeout_s, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise _error(exc, f"cannot open ledger {str(path)!r}: {exc}", self.url) from exc
        try:
            self._prepare()
        except sqlite3.Error as exc:
            self._conn.close()
            hint = _READ_ONLY_HINT if "unable to open" in str(exc) or "readonly" in str(exc) else ""
            raise _error(exc, f"cannot open ledger {str(path)!r}: {exc}{hint}", self.url) from exc
        except LedgerError:
            self._conn.close()
            raise

    def _check_path(self) -> None:
        path = self.path
        if str(path) in ("", ":memory:"):
            raise LedgerURLError("an in-memory SQLite ledger would record nothing durable; give a file path", url=self.url)
        if path.is_dir():
            raise LedgerURLError(f"ledger path {str(path)!r} is a directory; give a file path", url=self.url)
        if self.read_only and not path.exists():
            raise LedgerUnavailableError(f"ledger file {str(path)!r} does not exist", url=self.url, reason="missing")
        if not self.read_only and not path.parent.is_dir():
            raise LedgerUnavailableError(
                f"cannot create ledger {str(path)!r}: directory {str(path.parent)!r} does not exist",
                url=self.url, reason="missing",
            )

    def _prepare(self) -> None:
        """Set the timeout; unless read-only, switch to WAL with full sync and create the schema."""
        self._conn.execute(f"PRAGMA busy_timeout = {int(self.timeout_s * 1000)}")
        if self.read_only:
            self._check_schema()
            return
        mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise LedgerError(
                f"ledger {str(self.path)!r} cannot use write-ahead logging (journal mode {mode!r})", url=self.url
            )
        self._conn.execute("PRAGMA synchronous = FULL")
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in split_sql(_SCHEMA):
                self._conn.execute(statement)
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._check_schema()

    def _check_schema(self) -> None:
        found = self._conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", (TABLE,)
        ).fetchone()[0]
        if not found:
            raise LedgerSchemaError(
                f"{str(self.path)!r} is a SQLite database but not a leaktrace ledger (no {TABLE} table)", url=self.url
            )
        version = self._conn.execute("SELECT value FROM leaktrace_meta WHERE name = 'schema_version'").fetchone()
        if version is None or int(version[0]) != SCHEMA_VERSION:
            raise LedgerSchemaError(
                f"ledger {str(self.path)!r} has schema version {version and version[0]}, expected {SCHEMA_VERSION}",
                url=self.url,
            )

    def _insert(self, row: dict[str, Any]) -> int:
        values = (
            row["view_uid"], row["viewer_id"], row["display_name"], row["record_id"], row["workstation"],
            row["client_address"], iso(row["viewed_at"]), row["minute"], row["key_fingerprint"], row["action"],
        )
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                cur = self._conn.execute(
                    f"INSERT INTO {TABLE} ({INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", values
                )
                view_id = int(cur.lastrowid or 0)
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise _error(exc, f"cannot record the view in ledger {str(self.path)!r}: {exc}", self.url) from exc
        return view_id

    def _query(self, where: str, params: tuple[Any, ...]) -> list[View]:
        try:
            rows = self._conn.execute(
                f"SELECT {COLUMNS} FROM {TABLE} WHERE {where} ORDER BY viewed_at, view_id", params
            ).fetchall()
        except sqlite3.Error as exc:
            raise _error(exc, f"cannot read ledger {str(self.path)!r}: {exc}", self.url) from exc
        return [view_from_row(r, parse_iso(r[7])) for r in rows]

    def _count(self) -> int:
        try:
            return int(self._conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0])
        except sqlite3.Error as exc:
            raise _error(exc, f"cannot read ledger {str(self.path)!r}: {exc}", self.url) from exc

    def _close(self) -> None:
        self._conn.close()

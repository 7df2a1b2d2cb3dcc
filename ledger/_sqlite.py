"""The SQLite backend: one file in WAL mode, fsynced on every commit, append-only by trigger."""

from __future__ import annotations

import os
import secrets
import sqlite3
import urllib.parse
from pathlib import Path
from typing import Any, Callable, Iterator

from ._chain import ChainLink, Checkpoint
from ._core import (
    CHAIN_COLUMNS,
    COLUMNS,
    INSERT_COLUMNS,
    SCHEMA_VERSION,
    TABLE,
    Ledger,
    chain_fields,
    view_from_row,
)
from ._errors import LedgerError, LedgerIntegrityError, LedgerSchemaError, LedgerURLError, LedgerUnavailableError
from ._key import LedgerKey
from ._records import View
from ._validate import iso, parse_iso

__all__ = ["SQLiteLedger"]

_TABLES = f"""
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
    action TEXT NOT NULL,
    seq INTEGER NOT NULL UNIQUE,
    prev_hash TEXT NOT NULL,
    row_hash TEXT NOT NULL,
    signature TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS {TABLE}_viewer_minute ON {TABLE} (viewer_id, minute);
CREATE INDEX IF NOT EXISTS {TABLE}_workstation_minute ON {TABLE} (workstation, minute);
CREATE INDEX IF NOT EXISTS {TABLE}_minute ON {TABLE} (minute);
CREATE TABLE IF NOT EXISTS leaktrace_checkpoints (
    seq INTEGER NOT NULL,
    row_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    signer TEXT NOT NULL,
    signature TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS leaktrace_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO leaktrace_meta (name, value) VALUES ('schema_version', '{SCHEMA_VERSION}');
"""

_TRIGGERS = f"""
CREATE TRIGGER IF NOT EXISTS {TABLE}_no_update BEFORE UPDATE ON {TABLE}
BEGIN SELECT RAISE(ABORT, 'the leaktrace ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS {TABLE}_no_delete BEFORE DELETE ON {TABLE}
BEGIN SELECT RAISE(ABORT, 'the leaktrace ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS leaktrace_checkpoints_no_change BEFORE UPDATE ON leaktrace_checkpoints
BEGIN SELECT RAISE(ABORT, 'the leaktrace ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS leaktrace_checkpoints_no_delete BEFORE DELETE ON leaktrace_checkpoints
BEGIN SELECT RAISE(ABORT, 'the leaktrace ledger is append-only'); END;
"""

_TRIGGER_NAMES = (f"{TABLE}_no_update", f"{TABLE}_no_delete", "leaktrace_checkpoints_no_change",
                  "leaktrace_checkpoints_no_delete")

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

    def __init__(self, path: Path, *, read_only: bool, timeout_s: float, key: LedgerKey | None,
                 repair: bool = False) -> None:
        super().__init__(f"sqlite:///{path}", read_only=read_only, timeout_s=timeout_s, key=key, repair=repair)
        self.path = path
        self._check_path()
        if not read_only:
            self._create_private()
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

    def _create_private(self) -> None:
        """Create a missing ledger file readable and writable by its owner only (SQLite gives its -wal
        and -shm files the same mode)."""
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return
        except OSError as exc:
            raise LedgerUnavailableError(f"cannot create ledger {str(self.path)!r}: {exc.strerror}", url=self.url,
                                         reason="cannot open") from exc
        os.close(fd)

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
            existing = self._has_table()
            if existing:
                self._check_schema()
                missing = self._missing_triggers()
                if missing and not self._repair:
                    raise LedgerIntegrityError(
                        f"ledger {str(self.path)!r} has lost its append-only triggers ({', '.join(missing)}): "
                        f"someone altered the database. Nothing was written. Check it with "
                        f"'leaktrace-ledger verify {self.url} --key LEDGER.pub', then restore them with "
                        f"'leaktrace-ledger verify ... --restore-triggers'",
                        url=self.url, problem="triggers missing",
                    )
            else:
                for statement in split_sql(_TABLES + _TRIGGERS):
                    self._conn.execute(statement)
                self._conn.execute("INSERT OR IGNORE INTO leaktrace_meta (name, value) VALUES ('ledger_id', ?)",
                                   (secrets.token_hex(16),))
                assert self.ledger_key is not None  # a writer has one
                self._conn.execute("INSERT OR IGNORE INTO leaktrace_meta (name, value) VALUES ('public_key', ?)",
                                   (self.ledger_key.public_bytes.hex(),))
            self._conn.execute("COMMIT")
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
        self._check_schema()

    def _has_table(self) -> bool:
        return bool(self._conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", (TABLE,)).fetchone()[0])

    def _check_schema(self) -> None:
        if not self._has_table():
            raise LedgerSchemaError(
                f"{str(self.path)!r} is a SQLite database but not a leaktrace ledger (no {TABLE} table)", url=self.url
            )
        version = self._conn.execute("SELECT value FROM leaktrace_meta WHERE name = 'schema_version'").fetchone()
        if version is None or int(version[0]) != SCHEMA_VERSION:
            raise LedgerSchemaError(
                f"ledger {str(self.path)!r} has schema version {version and version[0]}, expected {SCHEMA_VERSION}"
                + (" (a version-1 ledger has no signed chain: start a new ledger file and keep the old one, "
                   "read-only, as the record of its views)" if version and str(version[0]) == "1" else ""),
                url=self.url,
            )
        ledger_id = self._conn.execute("SELECT value FROM leaktrace_meta WHERE name = 'ledger_id'").fetchone()
        if ledger_id is None:
            raise LedgerSchemaError(f"ledger {str(self.path)!r} has no ledger ID", url=self.url)
        public = self._conn.execute("SELECT value FROM leaktrace_meta WHERE name = 'public_key'").fetchone()
        self._set_identity(str(ledger_id[0]), str(public[0]) if public else None)

    def _insert(
        self, row: dict[str, Any], link: Callable[[tuple[int, str] | None], ChainLink]
    ) -> tuple[int, ChainLink]:
        try:
            self._conn.execute("BEGIN IMMEDIATE")  # excludes every other writer until COMMIT
            try:
                last = self._conn.execute(f"SELECT seq, row_hash FROM {TABLE} ORDER BY seq DESC LIMIT 1").fetchone()
                chained = link((int(last[0]), str(last[1])) if last else None)
                values = (
                    row["view_uid"], row["viewer_id"], row["display_name"], row["record_id"], row["workstation"],
                    row["client_address"], iso(row["viewed_at"]), row["minute"], row["key_fingerprint"],
                    row["action"], chained.seq, chained.prev_hash, chained.row_hash, chained.signature,
                )
                marks = ", ".join("?" for _ in values)
                cur = self._conn.execute(f"INSERT INTO {TABLE} ({INSERT_COLUMNS}) VALUES ({marks})", values)
                view_id = int(cur.lastrowid or 0)
                self._conn.execute("INSERT OR REPLACE INTO leaktrace_meta (name, value) VALUES ('head', ?)",
                                   (self._head_record(chained),))
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise _error(exc, f"cannot record the view in ledger {str(self.path)!r}: {exc}", self.url) from exc
        return view_id, chained

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise _error(exc, f"cannot read ledger {str(self.path)!r}: {exc}", self.url) from exc

    def _meta(self, name: str) -> str | None:
        rows = self._read("SELECT value FROM leaktrace_meta WHERE name = ?", (name,))
        return str(rows[0][0]) if rows else None

    def _max_seq(self) -> int:
        return int(self._read(f"SELECT coalesce(max(seq), 0) FROM {TABLE}")[0][0])

    def _seq_span(self, lo_minute: int, hi_minute: int) -> tuple[int, int] | None:
        lo, hi = self._read(f"SELECT min(seq), max(seq) FROM {TABLE} WHERE minute BETWEEN ? AND ?",
                            (lo_minute, hi_minute))[0]
        return None if lo is None else (int(lo), int(hi))

    def _chain_rows(self, lo: int, hi: int) -> list[tuple[int, dict[str, Any], str, str, str, int]]:
        rows = self._read(f"SELECT {CHAIN_COLUMNS} FROM {TABLE} WHERE seq BETWEEN ? AND ? ORDER BY seq", (lo, hi))
        return [chain_fields(r) for r in rows]

    def _missing_triggers(self) -> list[str]:
        present = {
            name for name, sql in self._read("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
            if "RAISE(ABORT" in str(sql).upper().replace(" ", "")
        }
        return [name for name in _TRIGGER_NAMES if name not in present]

    def _create_triggers(self) -> None:
        try:
            for name in self._missing_triggers():  # a trigger of that name that does nothing is replaced
                self._conn.execute(f'DROP TRIGGER IF EXISTS "{name}"')
            for statement in split_sql(_TRIGGERS):
                self._conn.execute(statement)
        except sqlite3.Error as exc:
            raise _error(exc, f"cannot restore the triggers of ledger {str(self.path)!r}: {exc}", self.url) from exc

    def _stored_checkpoints(self) -> list[Checkpoint]:
        rows = self._read("SELECT seq, row_hash, created_at, signer, signature FROM leaktrace_checkpoints ORDER BY rowid")
        return [Checkpoint(self.ledger_id, int(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4])) for r in rows]

    def _store_checkpoint(self, make: Callable[[int, str], Checkpoint]) -> Checkpoint:
        try:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                last = self._conn.execute(f"SELECT seq, row_hash FROM {TABLE} ORDER BY seq DESC LIMIT 1").fetchone()
                point = make(int(last[0]), str(last[1])) if last else make(0, "")
                self._conn.execute(
                    "INSERT INTO leaktrace_checkpoints (seq, row_hash, created_at, signer, signature) "
                    "VALUES (?, ?, ?, ?, ?)", (point.seq, point.row_hash, point.created_at, point.signer,
                                               point.signature))
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise _error(exc, f"cannot store a checkpoint in ledger {str(self.path)!r}: {exc}", self.url) from exc
        return point

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

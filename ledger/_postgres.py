"""The PostgreSQL backend (psycopg 3): one transaction per view, one reconnect on a lost connection."""

from __future__ import annotations

import logging
from datetime import timezone
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from ._core import COLUMNS, INSERT_COLUMNS, SCHEMA_VERSION, TABLE, Ledger, view_from_row
from ._errors import LedgerError, LedgerSchemaError, LedgerURLError, LedgerUnavailableError
from ._records import View

if TYPE_CHECKING:  # psycopg is optional (the "postgres" extra): imported when a PostgreSQL ledger is opened
    from psycopg import Connection

__all__ = ["PostgresLedger"]

log = logging.getLogger(__name__)

T = TypeVar("T")

SCHEMA_LOCK_ID = 7411062520170001
"""``pg_advisory_xact_lock`` id that serialises schema creation between viewer processes."""

_SCHEMA = (
    f"""CREATE TABLE IF NOT EXISTS {TABLE} (
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
    f"CREATE INDEX IF NOT EXISTS {TABLE}_viewer_minute ON {TABLE} (viewer_id, minute)",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_workstation_minute ON {TABLE} (workstation, minute)",
    f"""CREATE OR REPLACE FUNCTION {TABLE}_append_only() RETURNS trigger LANGUAGE plpgsql AS
        $$BEGIN RAISE EXCEPTION 'the leaktrace ledger is append-only'; END$$""",
    f"""DO $$BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = '{TABLE}_append_only'
                       AND tgrelid = '{TABLE}'::regclass) THEN
            CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE}
                FOR EACH ROW EXECUTE FUNCTION {TABLE}_append_only();
        END IF; END$$""",
    "CREATE TABLE IF NOT EXISTS leaktrace_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    f"INSERT INTO leaktrace_meta (name, value) VALUES ('schema_version', '{SCHEMA_VERSION}') ON CONFLICT DO NOTHING",
)


def _message(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


class PostgresLedger(Ledger):
    """A ledger in a PostgreSQL database (open it with :meth:`Ledger.open`)."""

    backend = "postgresql"
    _conn: Connection[tuple[Any, ...]]  # set by _connect, first thing in __init__

    def __init__(self, url: str, *, read_only: bool, timeout_s: float) -> None:
        super().__init__(url, read_only=read_only, timeout_s=timeout_s)
        try:
            import psycopg
        except ImportError as exc:
            raise LedgerError(
                "a PostgreSQL ledger needs psycopg 3: pip install 'leaktrace[postgres]' (or 'psycopg[binary]')",
                url=self.url,
            ) from exc
        self._psycopg: ModuleType = psycopg
        self._connect()
        try:
            self._prepare()
        except psycopg.Error as exc:
            self._conn.close()
            raise self._error(exc, f"cannot open ledger {self.url}: {_message(exc)}") from exc
        except LedgerError:
            self._conn.close()
            raise

    def _error(self, exc: BaseException, message: str) -> LedgerError:
        """Unavailable (server, network, timeout: retry later) or another ledger error."""
        if isinstance(exc, self._psycopg.errors.QueryCanceled):
            return LedgerUnavailableError(message, url=self.url, reason="timeout")
        if isinstance(exc, self._psycopg.OperationalError):
            reason = "connection lost" if self._conn.closed else "unreachable"
            return LedgerUnavailableError(message, url=self.url, reason=reason)
        return LedgerError(message, url=self.url)

    def _connect(self) -> None:
        psycopg = self._psycopg
        options = f"-c statement_timeout={int(self.timeout_s * 1000)}"
        if self.read_only:
            options += " -c default_transaction_read_only=on"
        try:
            given = psycopg.conninfo.conninfo_to_dict(self._url).get("options")
        except psycopg.Error as exc:
            raise LedgerURLError(f"invalid PostgreSQL ledger URL {self.url}: {_message(exc)}", url=self.url) from exc
        if given:  # keep the URL's own options (search_path, ...) and add ours
            options = f"{given} {options}"
        try:
            self._conn = psycopg.connect(
                self._url, autocommit=True, connect_timeout=max(1, round(self.timeout_s)),
                application_name="leaktrace-ledger", options=options,
            )
        except psycopg.Error as exc:
            raise LedgerUnavailableError(
                f"cannot connect to ledger {self.url}: {_message(exc)}", url=self.url, reason="unreachable"
            ) from exc

    def _prepare(self) -> None:
        """Check the schema (read-only) or create it under an advisory lock, then check it."""
        with self._conn.transaction():
            if self.read_only:
                self._check_schema()
                return
            self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_ID,))
            for statement in _SCHEMA:
                self._conn.execute(statement)
        with self._conn.transaction():
            self._check_schema()

    def _scalar(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        """The first column of the first row of a query that always returns one (None if it returned none)."""
        row = self._conn.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def _check_schema(self) -> None:
        if not self._scalar("SELECT to_regclass(%s) IS NOT NULL", (TABLE,)):
            raise LedgerSchemaError(f"database {self.url} is not a leaktrace ledger (no {TABLE} table)", url=self.url)
        version = self._conn.execute("SELECT value FROM leaktrace_meta WHERE name = 'schema_version'").fetchone()
        if version is None or int(version[0]) != SCHEMA_VERSION:
            raise LedgerSchemaError(
                f"ledger {self.url} has schema version {version and version[0]}, expected {SCHEMA_VERSION}",
                url=self.url,
            )

    def _retrying(self, operation: Callable[[], T], doing: str) -> T:
        """Run ``operation``; if the connection was lost, reconnect once and run it again."""
        psycopg = self._psycopg
        for attempt in (1, 2):
            try:
                if self._conn.closed:
                    self._connect()
                return operation()
            except psycopg.OperationalError as exc:
                if attempt == 2 or not self._conn.closed:
                    raise self._error(exc, f"{doing} {self.url}: {_message(exc)}") from exc
                log.warning("ledger %s: connection lost (%s); reconnecting once", self.url, _message(exc))
            except psycopg.Error as exc:
                raise self._error(exc, f"{doing} {self.url}: {_message(exc)}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _insert(self, row: dict[str, Any]) -> int:
        values = (
            row["view_uid"], row["viewer_id"], row["display_name"], row["record_id"], row["workstation"],
            row["client_address"], row["viewed_at"], row["minute"], row["key_fingerprint"], row["action"],
        )
        insert = (
            f"INSERT INTO {TABLE} ({INSERT_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (view_uid) DO NOTHING RETURNING view_id"
        )

        def write() -> int:
            with self._conn.transaction():
                view_id = self._scalar(insert, values)
                if view_id is None:  # a first attempt committed before its connection was lost
                    view_id = self._scalar(f"SELECT view_id FROM {TABLE} WHERE view_uid = %s", (row["view_uid"],))
            if view_id is None:  # pragma: no cover - the row was neither inserted nor there
                raise LedgerError(f"ledger {self.url} neither recorded nor holds view {row['view_uid']}", url=self.url)
            return int(view_id)

        return self._retrying(write, "cannot record the view in ledger")

    def _query(self, where: str, params: tuple[Any, ...]) -> list[View]:
        sql = f"SELECT {COLUMNS} FROM {TABLE} WHERE {where.replace('?', '%s')} ORDER BY viewed_at, view_id"

        def read() -> list[View]:
            rows = self._conn.execute(sql, params).fetchall()
            return [view_from_row(r, r[7].astimezone(timezone.utc)) for r in rows]

        return self._retrying(read, "cannot read ledger")

    def _count(self) -> int:
        psycopg = self._psycopg
        try:
            if self._conn.closed:
                self._connect()
            return int(self._scalar(f"SELECT count(*) FROM {TABLE}"))
        except psycopg.Error as exc:
            raise self._error(exc, f"cannot read ledger {self.url}: {_message(exc)}") from exc

    def _close(self) -> None:
        self._conn.close()

"""The PostgreSQL backend (psycopg 3): rows linked by the database under the chain lock, signed by the writer after."""

from __future__ import annotations

import logging
import secrets
from datetime import timezone
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from ._chain import ChainLink, Checkpoint, content_digest, genesis_hash, link_hash
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

if TYPE_CHECKING:  # psycopg is optional (the "postgres" extra): imported when a PostgreSQL ledger is opened
    from psycopg import Connection

__all__ = ["PostgresLedger"]

log = logging.getLogger(__name__)

T = TypeVar("T")

SCHEMA_LOCK_ID = 7411062520170001
"""``pg_advisory_xact_lock`` id that serialises schema creation between viewer processes."""

CHAIN_LOCK_ID = 7411062520170002
"""``pg_advisory_xact_lock`` id that serialises writers: each row is chained to the one committed before it."""

_TRIGGER_NAMES = (f"{TABLE}_append_only", "leaktrace_checkpoints_append_only", f"{TABLE}_sign_once")

_TABLES = (
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
        action TEXT NOT NULL,
        seq BIGINT NOT NULL UNIQUE,
        prev_hash TEXT NOT NULL,
        row_hash TEXT NOT NULL,
        signature TEXT)""",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_viewer_minute ON {TABLE} (viewer_id, minute)",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_workstation_minute ON {TABLE} (workstation, minute)",
    f"CREATE INDEX IF NOT EXISTS {TABLE}_minute ON {TABLE} (minute)",
    """CREATE TABLE IF NOT EXISTS leaktrace_checkpoints (
        id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        seq BIGINT NOT NULL,
        row_hash TEXT NOT NULL,
        created_at TEXT NOT NULL,
        signer TEXT NOT NULL,
        signature TEXT NOT NULL)""",
    "CREATE TABLE IF NOT EXISTS leaktrace_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    f"INSERT INTO leaktrace_meta (name, value) VALUES ('schema_version', '{SCHEMA_VERSION}') ON CONFLICT DO NOTHING",
)

_FUNCTIONS = (
    f"""CREATE OR REPLACE FUNCTION {TABLE}_append_only() RETURNS trigger LANGUAGE plpgsql AS
        $$BEGIN RAISE EXCEPTION 'the leaktrace ledger is append-only'; END$$""",
    # The one update a row ever gets: its writer's signature, once, nothing else changed.
    f"""CREATE OR REPLACE FUNCTION {TABLE}_sign_once() RETURNS trigger LANGUAGE plpgsql AS
        $$BEGIN
            IF OLD.signature IS NULL AND NEW.signature IS NOT NULL
                    AND to_jsonb(NEW) - 'signature' = to_jsonb(OLD) - 'signature' THEN
                RETURN NEW;
            END IF;
            RAISE EXCEPTION 'the leaktrace ledger is append-only';
        END$$""",
    # Link a new row under the chain lock, in one statement: the writer's round trip is the only time the lock
    # is held, and the commit does not wait for the disk (the writer's signature, committed synchronously next,
    # makes the row durable).
    f"""CREATE OR REPLACE FUNCTION leaktrace_append(
            p_view_uid TEXT, p_viewer_id BIGINT, p_display_name TEXT, p_record_id TEXT, p_workstation TEXT,
            p_client_address TEXT, p_viewed_at TIMESTAMPTZ, p_minute INTEGER, p_key_fingerprint TEXT, p_action TEXT,
            p_digest TEXT, p_ledger_id TEXT, p_genesis TEXT)
        RETURNS TABLE (r_view_id BIGINT, r_seq BIGINT, r_prev_hash TEXT, r_row_hash TEXT) LANGUAGE plpgsql VOLATILE AS
        $$DECLARE
            last_seq BIGINT; last_hash TEXT; new_hash TEXT; new_id BIGINT;
        BEGIN
            PERFORM set_config('synchronous_commit', 'off', true);
            PERFORM pg_advisory_xact_lock({CHAIN_LOCK_ID});
            SELECT v.seq, v.row_hash INTO last_seq, last_hash FROM {TABLE} v ORDER BY v.seq DESC LIMIT 1;
            IF last_seq IS NULL THEN
                last_seq := 0;
                last_hash := p_genesis;
            END IF;
            new_hash := encode(sha256(convert_to('leaktrace-ledger row ' || p_ledger_id || ' ' || (last_seq + 1)
                                                 || ' ' || last_hash || ' ' || p_digest, 'UTF8')), 'hex');
            INSERT INTO {TABLE} (view_uid, viewer_id, display_name, record_id, workstation, client_address,
                                 viewed_at, minute, key_fingerprint, action, seq, prev_hash, row_hash)
                VALUES (p_view_uid, p_viewer_id, p_display_name, p_record_id, p_workstation, p_client_address,
                        p_viewed_at, p_minute, p_key_fingerprint, p_action, last_seq + 1, last_hash, new_hash)
                RETURNING view_id INTO new_id;
            RETURN QUERY SELECT new_id, last_seq + 1, last_hash, new_hash;
        END$$""",
)


def _trigger_sql(name: str, table: str, events: str, level: str, function: str) -> str:
    return f"""DO $$BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = '{name}' AND tgrelid = '{table}'::regclass) THEN
            CREATE TRIGGER {name} BEFORE {events} ON {table}
                FOR EACH {level} EXECUTE FUNCTION {function}();
        END IF; END$$"""


_TRIGGER_TABLES = {_TRIGGER_NAMES[0]: TABLE, _TRIGGER_NAMES[1]: "leaktrace_checkpoints", _TRIGGER_NAMES[2]: TABLE}
_TRIGGERS = (
    _trigger_sql(_TRIGGER_NAMES[0], TABLE, "DELETE OR TRUNCATE", "STATEMENT", f"{TABLE}_append_only"),
    _trigger_sql(_TRIGGER_NAMES[1], "leaktrace_checkpoints", "UPDATE OR DELETE OR TRUNCATE", "STATEMENT",
                 f"{TABLE}_append_only"),
    _trigger_sql(_TRIGGER_NAMES[2], TABLE, "UPDATE", "ROW", f"{TABLE}_sign_once"),
)


def _message(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


class PostgresLedger(Ledger):
    """A ledger in a PostgreSQL database (open it with :meth:`Ledger.open`)."""

    backend = "postgresql"
    _conn: Connection[tuple[Any, ...]]  # set by _connect, first thing in __init__

    def __init__(self, url: str, *, read_only: bool, timeout_s: float, key: LedgerKey | None,
                 repair: bool = False) -> None:
        super().__init__(url, read_only=read_only, timeout_s=timeout_s, key=key, repair=repair)
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
            if self._scalar("SELECT to_regclass(%s) IS NOT NULL", (TABLE,)):
                self._check_schema()
                missing = self._missing_triggers()
                if missing and not self._repair:
                    raise LedgerIntegrityError(
                        f"ledger {self.url} has lost its append-only triggers ({', '.join(missing)}): someone "
                        f"altered the database. Nothing was written. Check it with 'leaktrace-ledger verify "
                        f"{self.url} --key LEDGER.pub', then restore them with 'leaktrace-ledger verify ... "
                        f"--restore-triggers'",
                        url=self.url, problem="triggers missing",
                    )
            else:
                for statement in (*_TABLES, *_FUNCTIONS, *_TRIGGERS):
                    self._conn.execute(statement)
                self._conn.execute("INSERT INTO leaktrace_meta (name, value) VALUES ('ledger_id', %s) "
                                   "ON CONFLICT DO NOTHING", (secrets.token_hex(16),))
                assert self.ledger_key is not None  # a writer has one
                self._conn.execute("INSERT INTO leaktrace_meta (name, value) VALUES ('public_key', %s) "
                                   "ON CONFLICT DO NOTHING", (self.ledger_key.public_bytes.hex(),))
            for statement in _FUNCTIONS:  # this version's (a writer of an older one may have made the ledger)
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
                f"ledger {self.url} has schema version {version and version[0]}, expected {SCHEMA_VERSION}"
                + (" (a version-1 ledger has no signed chain: start a new ledger database and keep the old one "
                   "as the record of its views)" if version and str(version[0]) == "1" else ""),
                url=self.url,
            )
        ledger_id = self._scalar("SELECT value FROM leaktrace_meta WHERE name = 'ledger_id'")
        if ledger_id is None:
            raise LedgerSchemaError(f"ledger {self.url} has no ledger ID", url=self.url)
        public = self._scalar("SELECT value FROM leaktrace_meta WHERE name = 'public_key'")
        self._set_identity(str(ledger_id), str(public) if public else None)

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

    def _insert(
        self, row: dict[str, Any], link: Callable[[tuple[int, str] | None], ChainLink]
    ) -> tuple[int, ChainLink]:
        # ``link`` is not used: the database links the row under the chain lock (``leaktrace_append``, the
        # same hash as ``link_row``), and this writer checks the link it returns and signs it.
        key = self.ledger_key
        assert key is not None  # open() refuses a writer without one
        digest = content_digest(self.ledger_id, row)
        attempts = 0

        def write() -> tuple[int, ChainLink]:
            nonlocal attempts
            attempts += 1
            done = None
            if attempts > 1:  # a first attempt may have linked the row before its connection was lost
                done = self._conn.execute(
                    f"SELECT view_id, seq, prev_hash, row_hash, signature FROM {TABLE} WHERE view_uid = %s",
                    (row["view_uid"],)).fetchone()
                if done is not None and done[4]:
                    return int(done[0]), ChainLink(int(done[1]), done[2], done[3], done[4])
            if done is None:
                done = self._conn.execute(
                    "SELECT * FROM leaktrace_append(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (row["view_uid"], row["viewer_id"], row["display_name"], row["record_id"], row["workstation"],
                     row["client_address"], row["viewed_at"], row["minute"], row["key_fingerprint"], row["action"],
                     digest, self.ledger_id, genesis_hash(self.ledger_id))).fetchone()
            if done is None:  # pragma: no cover - the function always returns its row
                raise LedgerError(f"ledger {self.url} did not return the recorded view", url=self.url)
            view_id, seq, prev_hash, stored = int(done[0]), int(done[1]), str(done[2]), str(done[3])
            if stored != link_hash(self.ledger_id, seq, prev_hash, digest):
                raise LedgerIntegrityError(
                    f"ledger {self.url} linked the view as {stored!r}, not the hash of its fields: someone altered "
                    f"the database's leaktrace_append function. The view was not signed.",
                    url=self.url, problem="append function altered", seq=seq)
            chained = ChainLink(seq, prev_hash, stored, key.sign(bytes.fromhex(stored)).hex())
            # Committed synchronously: when this returns, the log is on disk up to the row and its signature.
            self._conn.execute(f"UPDATE {TABLE} SET signature = %s WHERE view_id = %s AND signature IS NULL",
                               (chained.signature, view_id))
            # The head, without waiting for the disk (a head lost in a crash only lags: the rows after it are
            # checked by their own signatures); never moved back by a writer that signed an older row.
            self._conn.execute(
                "INSERT INTO leaktrace_meta (name, value) SELECT 'head', %s "
                "FROM (SELECT set_config('synchronous_commit', 'off', true)) AS asynchronous "
                "ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value "
                "WHERE (leaktrace_meta.value::jsonb ->> 'seq')::bigint < %s", (self._head_record(chained), seq))
            return view_id, chained

        return self._retrying(write, "cannot record the view in ledger")

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        return self._retrying(lambda: self._conn.execute(sql, params).fetchall(), "cannot read ledger")

    def _meta(self, name: str) -> str | None:
        rows = self._rows("SELECT value FROM leaktrace_meta WHERE name = %s", (name,))
        return str(rows[0][0]) if rows else None

    def _max_seq(self) -> int:
        return int(self._rows(f"SELECT coalesce(max(seq), 0) FROM {TABLE}")[0][0])

    def _seq_span(self, lo_minute: int, hi_minute: int) -> tuple[int, int] | None:
        lo, hi = self._rows(f"SELECT min(seq), max(seq) FROM {TABLE} WHERE minute BETWEEN %s AND %s",
                            (lo_minute, hi_minute))[0]
        return None if lo is None else (int(lo), int(hi))

    def _chain_rows(self, lo: int, hi: int) -> list[tuple[int, dict[str, Any], str, str, str, int]]:
        rows = self._rows(f"SELECT {CHAIN_COLUMNS} FROM {TABLE} WHERE seq BETWEEN %s AND %s ORDER BY seq", (lo, hi))
        return [chain_fields((*r[:7], r[7].astimezone(timezone.utc), *r[8:])) for r in rows]

    def _missing_triggers(self) -> list[str]:
        present = {(str(r[0]), str(r[1])) for r in self._rows(
            "SELECT tgname, tgrelid::regclass::text FROM pg_trigger WHERE tgenabled <> 'D' AND tgname = ANY(%s)",
            (list(_TRIGGER_NAMES),))}
        return [name for name in _TRIGGER_NAMES if (name, _TRIGGER_TABLES[name]) not in present]

    def _create_triggers(self) -> None:
        def create() -> None:
            with self._conn.transaction():
                for name in self._missing_triggers():  # a disabled trigger of that name is replaced
                    self._conn.execute(f"DROP TRIGGER IF EXISTS {name} ON {_TRIGGER_TABLES[name]}")
                for statement in _FUNCTIONS:
                    self._conn.execute(statement)
                for statement in _TRIGGERS:
                    self._conn.execute(statement)

        self._retrying(create, "cannot restore the triggers of ledger")

    def _stored_checkpoints(self) -> list[Checkpoint]:
        rows = self._rows("SELECT seq, row_hash, created_at, signer, signature FROM leaktrace_checkpoints ORDER BY id")
        return [Checkpoint(self.ledger_id, int(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4])) for r in rows]

    def _store_checkpoint(self, make: Callable[[int, str], Checkpoint]) -> Checkpoint:
        def store() -> Checkpoint:
            with self._conn.transaction():
                self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (CHAIN_LOCK_ID,))
                last = self._conn.execute(f"SELECT seq, row_hash FROM {TABLE} ORDER BY seq DESC LIMIT 1").fetchone()
                point = make(int(last[0]), str(last[1])) if last else make(0, "")
                self._conn.execute(
                    "INSERT INTO leaktrace_checkpoints (seq, row_hash, created_at, signer, signature) "
                    "VALUES (%s, %s, %s, %s, %s)",
                    (point.seq, point.row_hash, point.created_at, point.signer, point.signature))
            return point

        return self._retrying(store, "cannot store a checkpoint in ledger")

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

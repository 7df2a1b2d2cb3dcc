"""The access ledger, against real SQLite files and a real PostgreSQL server.

PostgreSQL tests read ``LEAKTRACE_TEST_POSTGRES_URL`` (CI's .ci/run starts a
server and sets it); without it they are skipped locally, and fail under CI.
Each test gets its own PostgreSQL schema, dropped afterwards.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import urllib.parse
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import watermark
from ledger import (
    Ledger,
    LedgerKey,
    LedgerError,
    LedgerFieldError,
    LedgerFieldTypeError,
    LedgerLookup,
    LedgerSchemaError,
    LedgerUnavailableError,
    LedgerURLError,
    View,
    format_ledger_join,
    ledger_join_dict,
)

PG_ENV = "LEAKTRACE_TEST_POSTGRES_URL"
T0 = datetime(2026, 3, 1, 9, 30, 17, 250000, tzinfo=timezone.utc)
FP = "1a2b-3c4d-5e6f-7a8b"
WRITERS = 8
VIEWS_PER_WRITER = 40
LKEY = LedgerKey.generate()
"""The ledger signing key of every ledger these tests write."""


def _pg_base_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        if os.environ.get("CI"):
            pytest.fail(f"{PG_ENV} is not set: .ci/run must start PostgreSQL and export it")
        pytest.skip(f"{PG_ENV} not set (CI sets it); PostgreSQL ledger tests skipped locally")
    pytest.importorskip("psycopg", reason="psycopg is in the 'postgres' extra")
    return url


def _with_schema(url: str, schema: str) -> str:
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query)
    query.append(("options", f"-csearch_path={schema}"))
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


@pytest.fixture
def pg_url():
    import psycopg

    base = _pg_base_url()
    schema = f"lt_test_{secrets.token_hex(6)}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield _with_schema(base, schema)
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def ledger(ledger_url):
    with Ledger.open(ledger_url, ledger_key=LKEY) as opened:
        yield opened


def _record(ledger: Ledger, **fields) -> View:
    row = dict(
        viewer_id=4821, display_name="Dr. Anselm Quist", record_id="MRN 28110431", workstation="WS-4B-112",
        client_address="10.20.4.112", key_fingerprint=FP, viewed_at=T0,
    )
    row.update(fields)
    return ledger.record_view(**row)


# ----------------------------------------------------------------- recording and lookup
def test_record_view_returns_the_committed_row(ledger):
    view = _record(ledger)
    assert view.view_id >= 1 and len(view.view_uid) == 32
    assert (view.viewer_id, view.record_id, view.workstation, view.client_address) == (
        4821, "MRN 28110431", "WS-4B-112", "10.20.4.112")
    assert view.viewed_at == T0 and view.key_fingerprint == FP and view.action == "view"
    assert view.payload.viewer_id == 4821 and view.payload.timestamp == T0.replace(second=0, microsecond=0)
    assert ledger.get_view(view.view_uid) == view
    assert ledger.count() == 1


def test_default_time_is_now_in_utc(ledger):
    before = datetime.now(timezone.utc)
    view = _record(ledger, viewed_at=None)
    assert before <= view.viewed_at <= datetime.now(timezone.utc)
    assert view.viewed_at.tzinfo is not None and view.viewed_at.utcoffset() == timedelta(0)


def test_lookup_names_the_record_viewed_in_the_marks_minute(ledger):
    _record(ledger, record_id="patient-list", viewed_at=T0 - timedelta(minutes=2))
    hit = _record(ledger, record_id="MRN 28110431")
    _record(ledger, record_id="MRN 96120261", viewed_at=T0 + timedelta(minutes=3))
    _record(ledger, record_id="MRN 10711341", viewed_at=T0 + timedelta(minutes=20))  # outside the window
    join = ledger.lookup(4821, T0.replace(second=0, microsecond=0), window_minutes=5, key_fingerprint=FP)
    assert join.found and join.matches == (hit,)
    assert [v.record_id for v in join.surrounding] == ["patient-list", "MRN 96120261"]
    assert join.timestamp == datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc)


def test_lookup_lists_every_view_of_that_minute(ledger):
    first = _record(ledger, record_id="patient-list", viewed_at=T0.replace(second=2))
    second = _record(ledger, record_id="MRN 28110431", viewed_at=T0.replace(second=40))
    join = ledger.lookup(4821, T0)
    assert join.matches == (first, second) and join.surrounding == ()


def test_lookup_ignores_other_viewers_and_other_keys(ledger):
    _record(ledger, viewer_id=5170, display_name="Maren Okafor, RN")
    _record(ledger, key_fingerprint="ffff-ffff-ffff-ffff")
    join = ledger.lookup(4821, T0, key_fingerprint=FP)
    assert not join.found
    assert [v.key_fingerprint for v in join.surrounding] == ["ffff-ffff-ffff-ffff"]


def test_lookup_reports_other_accounts_on_the_same_workstation(ledger):
    _record(ledger)
    nurse = _record(ledger, viewer_id=5170, display_name="Maren Okafor, RN", record_id="MRN 34427468",
                    viewed_at=T0 + timedelta(minutes=1))
    _record(ledger, viewer_id=6032, display_name="Teodor Brandvold", workstation="WS-REG-01")
    join = ledger.lookup(4821, T0)
    assert join.workstation_views == (nurse,)


def test_views_filters_by_viewer_and_time(ledger):
    _record(ledger, viewed_at=T0 - timedelta(hours=1))
    kept = _record(ledger)
    _record(ledger, viewer_id=5170, display_name="Maren Okafor, RN")
    assert ledger.views(viewer_id=4821, since=T0 - timedelta(minutes=1)) == [kept]
    assert len(ledger.views()) == 3


def test_views_survive_reopening(ledger_url):
    with Ledger.open(ledger_url, ledger_key=LKEY) as writer:
        view = _record(writer)
    with Ledger.open(ledger_url, read_only=True) as reader:
        assert reader.get_view(view.view_uid) == view


def test_ledger_is_append_only(ledger, ledger_url):
    _record(ledger)
    if ledger.backend == "sqlite":
        conn = sqlite3.connect(ledger.path)
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("UPDATE leaktrace_views SET viewer_id = 1")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            conn.execute("DELETE FROM leaktrace_views")
        conn.close()
    else:
        import psycopg

        with psycopg.connect(ledger_url, autocommit=True) as conn:
            with pytest.raises(psycopg.Error, match="append-only"):
                conn.execute("UPDATE leaktrace_views SET viewer_id = 1")
            with pytest.raises(psycopg.Error, match="append-only"):
                conn.execute("DELETE FROM leaktrace_views")
    assert ledger.count() == 1


# ----------------------------------------------------------------- concurrency and durability
def _writer(url: str, writer: int, n: int, key: dict) -> None:
    with Ledger.open(url, timeout_s=60, ledger_key=LedgerKey.from_dict(key)) as ledger:
        for i in range(n):
            ledger.record_view(
                viewer_id=1000 + writer, display_name=f"Writer {writer}", record_id=f"R{writer}-{i}",
                workstation=f"WS-{writer}", client_address="127.0.0.1", key_fingerprint=FP,
            )


def test_concurrent_writer_processes_lose_nothing(ledger_url):
    Ledger.open(ledger_url, ledger_key=LKEY).close()  # schema in place before the race
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(ledger_url, w, VIEWS_PER_WRITER, LKEY.to_dict(include_private=True))) for w in range(WRITERS)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0] * WRITERS
    with Ledger.open(ledger_url, read_only=True, ledger_key=LKEY.public_only()) as ledger:
        views = ledger.views()
        chain = ledger.verify()
    assert len(views) == WRITERS * VIEWS_PER_WRITER
    assert chain.ok and chain.checked == len(views), chain.problems  # one chain, in commit order, under the race
    assert sorted(v.seq for v in views) == list(range(1, len(views) + 1))
    expected = {f"R{w}-{i}" for w in range(WRITERS) for i in range(VIEWS_PER_WRITER)}
    assert {v.record_id for v in views} == expected
    assert len({v.view_id for v in views}) == len(views) and len({v.view_uid for v in views}) == len(views)
    for w in range(WRITERS):  # each writer's rows are in its own order
        own = [int(v.record_id.split("-")[1]) for v in sorted(views, key=lambda v: v.view_id) if v.viewer_id == 1000 + w]
        assert own == list(range(VIEWS_PER_WRITER))


def test_sqlite_commits_are_durable_wal_with_full_sync(tmp_path):
    path = tmp_path / "ledger.sqlite"
    with Ledger.open(path, ledger_key=LKEY) as ledger:
        assert ledger._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert ledger._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL: fsync per commit


def test_view_recorded_just_before_a_crash_is_kept(ledger_url):
    Ledger.open(ledger_url, ledger_key=LKEY).close()
    code = (
        "import json, os, sys\n"
        "from ledger import Ledger, LedgerKey\n"
        "ledger = Ledger.open(sys.argv[1], ledger_key=LedgerKey.from_dict(json.loads(sys.argv[2])))\n"
        "v = ledger.record_view(viewer_id=4821, display_name='A', record_id='MRN 1', workstation='W',"
        " client_address='c', key_fingerprint='f')\n"
        "print(v.view_uid, flush=True)\n"
        "os._exit(0)  # no close, no cleanup: as if killed\n"
    )
    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code, ledger_url, json.dumps(LKEY.to_dict(include_private=True))], capture_output=True, text=True, cwd=repo,
                          timeout=60, check=True)
    uid = done.stdout.strip()
    with Ledger.open(ledger_url, read_only=True) as ledger:
        assert ledger.get_view(uid) is not None


# ----------------------------------------------------------------- failures are errors, never silent
def test_read_only_ledger_refuses_to_record(ledger_url):
    Ledger.open(ledger_url, ledger_key=LKEY).close()
    with Ledger.open(ledger_url, read_only=True) as ledger:
        with pytest.raises(LedgerError, match="read-only; the view was not recorded") as caught:
            _record(ledger)
        assert caught.value.url == ledger.url
        assert ledger.count() == 0


def test_locked_sqlite_ledger_raises_instead_of_losing_the_view(tmp_path):
    path = tmp_path / "ledger.sqlite"
    Ledger.open(path, ledger_key=LKEY).close()
    ledger = Ledger.open(path, timeout_s=0.2, ledger_key=LKEY)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process holds the write lock past the timeout
    try:
        with pytest.raises(LedgerUnavailableError, match="cannot record the view.*locked") as caught:
            _record(ledger)
        assert isinstance(caught.value, OSError) and caught.value.reason == "locked"
        assert caught.value.url == f"sqlite:///{path}"
        with pytest.raises(LedgerUnavailableError, match="cannot open ledger .*locked") as caught:
            Ledger.open(path, timeout_s=0.2, ledger_key=LKEY)
        assert caught.value.reason == "locked"
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        ledger.close()
    with Ledger.open(path, read_only=True) as ledger:
        assert ledger.count() == 0


def test_read_only_sqlite_file_cannot_be_opened_for_writing(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "ledger.sqlite"
    with Ledger.open(path, ledger_key=LKEY) as ledger:
        _record(ledger)
    if os.geteuid() == 0:  # root ignores permission bits; make the file and folder immutable instead
        if shutil.which("chattr") is None:
            pytest.skip("running as root without chattr: cannot make a file read-only")
        lock = subprocess.run(["chattr", "+i", str(path), str(folder)], capture_output=True, text=True, check=False)
        if lock.returncode:
            pytest.skip(f"chattr +i is not supported here: {lock.stderr.strip()}")
        unlock = ["chattr", "-i", str(path), str(folder)]
    else:
        path.chmod(0o444)
        folder.chmod(0o555)
        unlock = None
    try:
        with pytest.raises(LedgerUnavailableError, match="cannot open ledger .*read-only") as caught:
            Ledger.open(path, ledger_key=LKEY)
        assert caught.value.reason in ("read-only", "cannot open")
    finally:
        if unlock:
            subprocess.run(unlock, check=True)
        else:
            folder.chmod(0o755)
            path.chmod(0o644)


def test_unreachable_postgres_raises():
    pytest.importorskip("psycopg", reason="psycopg is in the 'postgres' extra")
    with pytest.raises(LedgerUnavailableError, match="cannot connect to ledger postgresql://leaktrace:\\*\\*\\*@127.0.0.1:1/") as caught:
        Ledger.open("postgresql://leaktrace:secret@127.0.0.1:1/ledger", timeout_s=2, ledger_key=LKEY)
    assert caught.value.url == "postgresql://leaktrace:***@127.0.0.1:1/ledger" and caught.value.reason == "unreachable"
    assert "secret" not in str(caught.value) and "secret" not in repr(caught.value.details)


def test_postgres_lost_connection_is_reestablished_once(pg_url):
    import psycopg

    with Ledger.open(pg_url, ledger_key=LKEY) as ledger:
        _record(ledger)
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (ledger._conn.info.backend_pid,))
        view = _record(ledger, record_id="MRN 96120261")
        assert ledger.get_view(view.view_uid) == view and ledger.count() == 2


def test_postgres_write_that_cannot_complete_raises(pg_url):
    import psycopg

    with Ledger.open(pg_url, timeout_s=1, ledger_key=LKEY) as ledger:
        with psycopg.connect(pg_url) as blocker:
            blocker.execute("LOCK TABLE leaktrace_views IN ACCESS EXCLUSIVE MODE")
            with pytest.raises(LedgerUnavailableError, match="cannot record the view.*statement timeout") as caught:
                _record(ledger)
            assert caught.value.reason == "timeout"
            blocker.rollback()
        assert ledger.count() == 0


@pytest.mark.parametrize(
    ("target", "error", "match"),
    [
        ("mysql://host/db", LedgerURLError, "unsupported ledger URL scheme 'mysql'"),
        ("sqlite://", LedgerURLError, "sqlite:///relative/path"),
        (":memory:", LedgerURLError, "in-memory SQLite ledger"),
        ("  ", LedgerURLError, "a ledger is a sqlite:/// or postgresql:// URL or a file path"),
        ("{tmp}/missing/ledger.sqlite", LedgerUnavailableError, "directory .* does not exist"),
        ("{tmp}", LedgerURLError, "is a directory"),
        ("{tmp}/garbage.sqlite", LedgerSchemaError, "file is not a database"),
        ("{tmp}/other.sqlite", LedgerSchemaError, "not a leaktrace ledger"),
    ],
)
def test_open_rejects_what_is_not_a_ledger(tmp_path, target, error, match):
    (tmp_path / "garbage.sqlite").write_bytes(b"this is not a database" * 100)
    sqlite3.connect(tmp_path / "other.sqlite").execute("CREATE TABLE t (x)").connection.close()
    target = target.format(tmp=tmp_path)
    read_only = target.endswith("other.sqlite")
    with pytest.raises(error, match=match) as caught:
        Ledger.open(target, read_only=read_only, ledger_key=LKEY)
    assert isinstance(caught.value, LedgerError) and isinstance(caught.value, watermark.LeaktraceError)


def test_url_errors_are_value_errors_with_the_redacted_url():
    with pytest.raises(ValueError, match="unsupported ledger URL scheme 'mysql'") as caught:
        Ledger.open("mysql://audit:s3cret@db/emr", ledger_key=LKEY)
    assert isinstance(caught.value, LedgerURLError)
    assert caught.value.url == "mysql://audit:***@db/emr" and "s3cret" not in str(caught.value)


def test_read_only_open_of_a_missing_file_does_not_create_it(tmp_path):
    with pytest.raises(LedgerUnavailableError, match="does not exist") as caught:
        Ledger.open(tmp_path / "nope.sqlite", read_only=True)
    assert caught.value.reason == "missing" and isinstance(caught.value, OSError)
    assert not (tmp_path / "nope.sqlite").exists()


@pytest.mark.parametrize(
    ("timeout_s", "error"),
    [(0, watermark.OptionError), (3601, watermark.OptionError), ("10", watermark.OptionTypeError),
     (True, watermark.OptionTypeError)],
)
def test_open_rejects_a_bad_timeout(tmp_path, timeout_s, error):
    with pytest.raises(error, match=r"timeout_s must be a number of seconds in \(0, 3600\]") as caught:
        Ledger.open(tmp_path / "ledger.sqlite", timeout_s=timeout_s, ledger_key=LKEY)
    assert caught.value.name == "timeout_s" and caught.value.value == timeout_s
    assert not (tmp_path / "ledger.sqlite").exists()


@pytest.mark.parametrize(
    ("fields", "error", "match"),
    [
        ({"viewer_id": -1}, LedgerFieldError, "viewer_id must be in 0..4294967295, got -1"),
        ({"viewer_id": 2**32}, LedgerFieldError, "viewer_id must be in 0..4294967295"),
        ({"viewer_id": True}, LedgerFieldTypeError, "viewer_id must be an int, got bool"),
        ({"display_name": None}, LedgerFieldTypeError, "display_name must be a str, got NoneType"),
        ({"workstation": "  "}, LedgerFieldError, "workstation must not be empty"),
        ({"client_address": "x" * 513}, LedgerFieldError, "client_address must be at most 512 characters, got 513"),
        ({"record_id": "MRN\n1"}, LedgerFieldError, "record_id must not contain control characters"),
        ({"viewed_at": "2026-03-01"}, LedgerFieldTypeError, "viewed_at must be a datetime, got str"),
        ({"viewed_at": datetime(2026, 3, 1, 9, 30)}, LedgerFieldError, "viewed_at must be timezone-aware"),
        ({"viewed_at": datetime(2019, 3, 1, tzinfo=timezone.utc)}, LedgerFieldError, "viewed_at must be between"),
    ],
)
def test_record_view_validates_fields(tmp_path, fields, error, match):
    with Ledger.open(tmp_path / "ledger.sqlite", ledger_key=LKEY) as ledger:
        with pytest.raises(error, match=match) as caught:
            _record(ledger, **fields)
        assert ledger.count() == 0
    (field, value), = fields.items()
    assert caught.value.field == field and caught.value.value == value
    builtin = TypeError if error is LedgerFieldTypeError else ValueError
    assert isinstance(caught.value, builtin) and isinstance(caught.value, LedgerError)


@pytest.mark.parametrize(
    ("window", "error"),
    [(-1, watermark.OptionError), (1441, watermark.OptionError), (2.5, watermark.OptionTypeError),
     (False, watermark.OptionTypeError)],
)
def test_lookup_rejects_a_bad_window(ledger, window, error):
    with pytest.raises(error, match=r"window_minutes must be an int in 0\.\.1440, got") as caught:
        ledger.lookup(4821, T0, window_minutes=window)
    assert caught.value.name == "window_minutes" and caught.value.value == window


def test_lookup_and_views_validate_their_arguments(ledger):
    with pytest.raises(LedgerFieldTypeError, match="timestamp must be a datetime, got int") as caught:
        ledger.lookup(4821, 1772357400)
    assert caught.value.field == "timestamp"
    with pytest.raises(LedgerFieldError, match="viewer_id must be in") as caught:
        ledger.lookup(-5, T0)
    assert caught.value.field == "viewer_id" and caught.value.value == -5
    with pytest.raises(LedgerFieldError, match="since must be timezone-aware") as caught:
        ledger.views(since=datetime(2026, 3, 1))
    assert caught.value.field == "since"


def test_ledger_errors_survive_pickling(tmp_path):
    import pickle

    with pytest.raises(LedgerUnavailableError) as caught:
        Ledger.open(tmp_path / "nope.sqlite", read_only=True)
    copy = pickle.loads(pickle.dumps(caught.value))
    assert type(copy) is LedgerUnavailableError and str(copy) == str(caught.value)
    assert (copy.url, copy.reason) == (caught.value.url, "missing")


def test_closed_ledger_raises(tmp_path):
    ledger = Ledger.open(tmp_path / "ledger.sqlite", ledger_key=LKEY)
    ledger.close()
    with pytest.raises(LedgerError, match="is closed") as caught:
        _record(ledger)
    assert caught.value.url == ledger.url


def test_url_never_shows_the_password(pg_url):
    base = os.environ[PG_ENV]
    password = urllib.parse.urlsplit(base).password
    with Ledger.open(pg_url, ledger_key=LKEY) as ledger:
        if password:
            assert f":{password}@" not in ledger.url and f":{password}@" not in repr(ledger)
            assert ":***@" in ledger.url


# ----------------------------------------------------------------- the join as the officer reads it
def test_format_ledger_join_names_who_record_workstation_and_neighbours(ledger):
    _record(ledger, record_id="patient-list", viewed_at=T0 - timedelta(minutes=1))
    _record(ledger)
    _record(ledger, viewer_id=5170, display_name="Maren Okafor, RN", record_id="MRN 34427468",
            viewed_at=T0 + timedelta(minutes=2))
    text = format_ledger_join(ledger.lookup(4821, T0, key_fingerprint=FP))
    assert "1 recorded view by viewer 4821 at 2026-03-01T09:30Z" in text
    assert "who:          Dr. Anselm Quist (viewer 4821)" in text
    assert "record:       MRN 28110431" in text
    assert "workstation:  WS-4B-112 (client 10.20.4.112)" in text
    assert "viewed at:    2026-03-01T09:30:17.250000Z" in text
    assert "09:29:17Z  patient-list  on WS-4B-112" in text
    assert "09:30:17Z  MRN 28110431  on WS-4B-112 from 10.20.4.112   <- this mark" in text
    assert "Maren Okafor, RN (viewer 5170)  MRN 34427468" in text


def test_format_ledger_join_says_when_nothing_was_recorded(ledger):
    text = format_ledger_join(ledger.lookup(4821, T0))
    assert "NO recorded view by viewer 4821 at 2026-03-01T09:30Z" in text


def test_format_ledger_join_lists_several_views_of_one_minute(ledger):
    _record(ledger, record_id="patient-list", viewed_at=T0.replace(second=1))
    _record(ledger)
    text = format_ledger_join(ledger.lookup(4821, T0))
    assert "2 recorded views" in text and "the leaked content tells which" in text
    assert "[1] patient-list" in text and "[2] MRN 28110431" in text


def test_ledger_join_dict_is_json(ledger):
    view = _record(ledger)
    data = ledger_join_dict(ledger.lookup(4821, T0, key_fingerprint=FP))
    assert json.loads(json.dumps(data)) == data
    assert data["found"] is True and data["minute"] == "2026-03-01T09:30Z"
    assert data["matches"][0]["record_id"] == "MRN 28110431"
    assert data["matches"][0]["viewed_at"] == "2026-03-01T09:30:17.250000Z"
    assert data["matches"][0]["view_uid"] == view.view_uid


def test_join_helpers_reject_other_types():
    with pytest.raises(watermark.OptionTypeError, match="lookup_result must be a LedgerLookup, got dict") as caught:
        format_ledger_join({"viewer_id": 1})
    assert caught.value.name == "lookup_result" and isinstance(caught.value, TypeError)
    with pytest.raises(TypeError, match="lookup_result must be a LedgerLookup, got NoneType"):
        ledger_join_dict(None)
    assert isinstance(LedgerLookup(1, T0, 5, None, (), ()).to_dict(), dict)

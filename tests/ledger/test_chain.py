"""The ledger's signed hash chain: every way of tampering with the database is seen, on SQLite and PostgreSQL.

Each tampering test does what an insider who can write the database (but
does not hold the ledger's private key) would do: drop the append-only
triggers, change the rows, put the triggers back. Then the chain check
names the first broken position, a lookup around it names nobody, and a
writer refuses to open a ledger whose triggers are gone.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from datetime import datetime, timedelta, timezone

import pytest

from ledger import (
    Checkpoint,
    Directory,
    Ledger,
    LedgerIntegrityError,
    LedgerKey,
    LedgerKeyError,
    LedgerKeyWarning,
    format_ledger_join,
    ledger_join_dict,
)
from ledger._postgres import _TRIGGER_TABLES as PG_TRIGGER_TABLES
from ledger._postgres import _TRIGGERS as PG_TRIGGERS
from ledger._sqlite import _TRIGGER_NAMES as SQLITE_TRIGGERS
from ledger._sqlite import _TRIGGERS as SQLITE_TRIGGER_SQL
from ledger._sqlite import split_sql

from test_ledger import FP, LKEY, ledger_url, pg_url  # noqa: F401  (fixtures; pytest puts this folder on sys.path)

T0 = datetime(2026, 3, 1, 9, 30, 5, tzinfo=timezone.utc)
ROWS = 12
"""Rows of the tampered ledger: viewer 4821 and 5170 alternating, 30 s apart."""


def _name(i: int) -> str:
    return "Dr. Anselm Quist" if i % 2 == 0 else "Maren Okafor, RN"


@pytest.fixture
def filled(ledger_url):
    with Ledger.open(ledger_url, ledger_key=LKEY) as ledger:
        for i in range(ROWS):
            ledger.record_view(
                viewer_id=4821 if i % 2 == 0 else 5170, display_name=_name(i), record_id=f"MRN {1000 + i}",
                workstation="WS-4B-112", client_address="10.20.4.112", key_fingerprint=FP,
                viewed_at=T0 + timedelta(seconds=30 * i),
            )
    return ledger_url


def _tamper(url: str, *statements: str, restore_triggers: bool = True) -> None:
    """Run SQL on the ledger's database with its triggers dropped, then (by default) put them back."""
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect(url[len("sqlite:///"):], isolation_level=None)
        for name in SQLITE_TRIGGERS:
            conn.execute(f"DROP TRIGGER IF EXISTS {name}")
        for sql in statements:
            conn.execute(sql)
        if restore_triggers:
            for sql in split_sql(SQLITE_TRIGGER_SQL):
                conn.execute(sql)
        conn.close()
        return
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        for name, table in PG_TRIGGER_TABLES.items():
            conn.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        for sql in statements:
            conn.execute(sql.replace("?", "%s"))
        if restore_triggers:
            for sql in PG_TRIGGERS:
                conn.execute(sql)


def _verify(url: str, **kwargs):
    with Ledger.open(url, read_only=True, ledger_key=LKEY.public_only()) as ledger:
        return ledger.verify(**kwargs)


def _lookup(url: str, minute: datetime, **kwargs):
    with Ledger.open(url, read_only=True, ledger_key=LKEY.public_only()) as ledger:
        return ledger.lookup(4821, minute, **kwargs)


def test_an_untouched_chain_verifies(filled):
    report = _verify(filled)
    assert report.ok and report.checked == ROWS and report.head_seq == ROWS and report.problems == ()
    assert report.signer == LKEY.fingerprint
    join = _lookup(filled, T0)
    assert join.named and join.verified and join.integrity.ok
    assert "chain verified" in format_ledger_join(join)


def test_another_key_does_not_verify(filled):
    report = _verify(filled, key=LedgerKey.generate().public_only())
    assert not report.ok and report.first_bad_seq == 1


TAMPERING = {
    # what was done: (statements, the first position that must be reported)
    "update": (["UPDATE leaktrace_views SET display_name = 'Dr. Someone Else', workstation = 'WS-1' WHERE seq = 5"], 5),
    "update minute": (["UPDATE leaktrace_views SET minute = minute + 100 WHERE seq = 3"], 3),
    "delete": (["DELETE FROM leaktrace_views WHERE seq = 6"], 6),
    "insert": ([
        "INSERT INTO leaktrace_views (view_uid, viewer_id, display_name, record_id, workstation, client_address, "
        "viewed_at, minute, key_fingerprint, action, seq, prev_hash, row_hash, signature) "
        "SELECT CASE WHEN substr(view_uid, 1, 1) = 'f' THEN 'e' ELSE 'f' END || substr(view_uid, 2), 5170, 'Maren Okafor, RN', 'MRN 1', workstation, client_address, viewed_at, "
        "minute, key_fingerprint, action, 13, row_hash, row_hash, signature FROM leaktrace_views WHERE seq = 12",
    ], 13),
    "reorder": ([
        "UPDATE leaktrace_views SET seq = -4 WHERE seq = 4",
        "UPDATE leaktrace_views SET seq = 4 WHERE seq = 8",
        "UPDATE leaktrace_views SET seq = 8 WHERE seq = -4",
    ], 4),
    "truncate": (["DELETE FROM leaktrace_views WHERE seq > 9"], 10),
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_tampering_is_detected_at_its_first_position(filled, case):
    statements, first = TAMPERING[case]
    _tamper(filled, *statements)
    report = _verify(filled)
    assert not report.ok and report.first_bad_seq == first, report.problems
    assert report.triggers_ok  # put back: only the chain shows it


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_a_lookup_around_a_tampered_row_names_nobody(filled, case):
    statements, first = TAMPERING[case]
    _tamper(filled, *statements)
    when = T0 + timedelta(seconds=30 * (min(first, ROWS) - 1))
    join = _lookup(filled, when, window_minutes=1)
    assert not join.named and join.problems and not join.verified
    text = format_ledger_join(join)
    assert "NOBODY IS NAMED" in text and "Dr. Anselm Quist" not in text and "Dr. Someone Else" not in text
    record = ledger_join_dict(join)
    assert record["named"] is False and record["integrity"]["ok"] is False
    json.dumps(record)


def test_truncation_with_an_older_head_put_back_is_caught_by_an_exported_checkpoint(filled, tmp_path):
    with Ledger.open(filled, read_only=True, ledger_key=LKEY.public_only()) as ledger:
        old_head = ledger._meta("head")
    with Ledger.open(filled, ledger_key=LKEY) as ledger:
        ledger.record_view(viewer_id=4821, display_name=_name(0), record_id="MRN 2000", workstation="WS-4B-112",
                           client_address="10.20.4.112", key_fingerprint=FP, viewed_at=T0 + timedelta(minutes=7))
        exported = ledger.checkpoint()
    exported = Checkpoint.from_dict(json.loads(json.dumps(exported.to_dict())))
    # the insider removes the new row, the stored checkpoint and puts back the head saved before it
    _tamper(filled, f"DELETE FROM leaktrace_views WHERE seq = {ROWS + 1}", "DELETE FROM leaktrace_checkpoints",
            "UPDATE leaktrace_meta SET value = ? WHERE name = 'head'".replace("?", _quote(old_head)))
    assert _verify(filled).ok  # without the exported checkpoint the shortened chain is consistent
    report = _verify(filled, checkpoints=[exported])
    assert not report.ok and report.first_bad_seq == ROWS + 1
    assert any("rows removed from the end" in p for p in report.problems)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def test_dropped_triggers_are_reported_and_a_writer_refuses_to_open(filled):
    _tamper(filled, restore_triggers=False)
    report = _verify(filled)
    assert not report.ok and not report.triggers_ok and report.first_bad_seq is None
    assert any("triggers" in p for p in report.problems)
    with pytest.raises(LedgerIntegrityError, match="lost its append-only triggers"):
        Ledger.open(filled, ledger_key=LKEY)
    assert not _lookup(filled, T0).named
    # after the chain is checked, an administrator puts them back explicitly
    from ledger._sqlite import SQLiteLedger
    from ledger._postgres import PostgresLedger

    cls = SQLiteLedger if filled.startswith("sqlite") else PostgresLedger
    with Ledger.open(filled, read_only=True, ledger_key=LKEY) as ledger:
        assert isinstance(ledger, cls)
    opened = _open_despite_triggers(filled)
    assert opened.restore_triggers()
    opened.close()
    assert _verify(filled).ok
    Ledger.open(filled, ledger_key=LKEY).close()


def _open_despite_triggers(url: str) -> Ledger:
    """What ``leaktrace-ledger verify --restore-triggers`` does: open for writing without the trigger check."""
    from ledger._cli import open_for_repair

    return open_for_repair(url, LKEY)


def test_checkpoints_are_stored_signed_and_checked(filled):
    with Ledger.open(filled, ledger_key=LKEY) as ledger:
        point = ledger.checkpoint()
    assert point.seq == ROWS and point.valid(LKEY.public_only()) and point.signer == LKEY.fingerprint
    assert not point.valid(LedgerKey.generate())
    report = _verify(filled)
    assert report.ok and report.checkpoints == 1
    forged = Checkpoint(point.ledger_id, point.seq, "0" * 64, point.created_at, point.signer, point.signature)
    assert not _verify(filled, checkpoints=[forged]).ok
    other = Checkpoint("another-ledger", point.seq, point.row_hash, point.created_at, point.signer, point.signature)
    assert any("another ledger" in p for p in _verify(filled, checkpoints=[other]).problems)


def test_a_writer_needs_the_private_key():
    with pytest.raises(LedgerKeyError, match="private signing key"):
        Ledger.open("ledger.sqlite")
    with pytest.raises(LedgerKeyError, match="private signing key"):
        Ledger.open("ledger.sqlite", ledger_key=LKEY.public_only())


def test_the_directory_must_confirm_the_name(filled, tmp_path):
    good = Directory.from_accounts([{"viewer_id": 4821, "display_name": "Dr. Anselm Quist"}])
    assert _lookup(filled, T0, directory=good).named
    wrong = Directory.from_accounts([{"viewer_id": 4821, "display_name": "Dr. Marek Lindqvist"}])
    join = _lookup(filled, T0, directory=wrong)
    assert not join.named and "the directory lists 'Dr. Marek Lindqvist'" in join.problems[0]
    path = tmp_path / "accounts.json"
    path.write_text(json.dumps({"format": "leaktrace-directory", "version": 1, "accounts": [
        {"viewer_id": 4821, "username": "aquist", "display_name": "Dr. Anselm Quist", "password_hash": "x"}]}))
    assert Directory.load(path).name_of(4821) == "Dr. Anselm Quist"
    csv_path = tmp_path / "directory.csv"
    csv_path.write_text("viewer_id,display_name,department\n4821,Dr. Anselm Quist,Cardiology\n")
    assert Directory.load(csv_path).names == {4821: "Dr. Anselm Quist"}


def test_ledger_and_key_files_are_private(tmp_path):
    path = tmp_path / "ledger.sqlite"
    with Ledger.open(path, ledger_key=LKEY) as ledger:
        ledger.record_view(viewer_id=1, display_name="A", record_id="R", workstation="W", client_address="c",
                           key_fingerprint=FP)
        for name in ("ledger.sqlite", "ledger.sqlite-wal", "ledger.sqlite-shm"):  # while open
            assert stat.S_IMODE(os.stat(tmp_path / name).st_mode) == 0o600, name
    key_path = LKEY.save(tmp_path / "ledger.key")
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    assert LedgerKey.load(key_path) == LKEY and LedgerKey.load(key_path).can_sign
    public = LKEY.save(tmp_path / "ledger.pub", public=True)
    assert not LedgerKey.load(public).can_sign
    os.chmod(key_path, 0o644)
    with pytest.warns(LedgerKeyWarning, match="readable by other users"):
        LedgerKey.load(key_path)
    with pytest.raises(LedgerKeyError, match="exists"):
        LKEY.save(key_path)


def test_a_reader_without_a_key_checks_against_the_recorded_key_and_says_so(filled):
    with Ledger.open(filled, read_only=True) as ledger:
        assert ledger.ledger_key == LKEY.public_only() and not ledger.key_pinned
        join = ledger.lookup(4821, T0)
    assert join.named and not join.key_pinned and "--ledger-key" in format_ledger_join(join)
    _tamper(filled, TAMPERING["update"][0][0])
    with Ledger.open(filled, read_only=True) as ledger:
        assert not ledger.lookup(4821, T0 + timedelta(minutes=2)).named


def test_a_writer_with_another_key_is_refused(filled):
    with pytest.raises(LedgerKeyError, match="is signed by ledger key"):
        Ledger.open(filled, ledger_key=LedgerKey.generate())


# -- PostgreSQL: the database links each row under the chain lock, the writer signs it after


def _link_without_signing(url: str, viewer_id: int, when: datetime) -> int:
    """What a writer that died between linking and signing leaves (or someone without the key): an unsigned row."""
    import psycopg

    from ledger._chain import content_digest, genesis_hash
    from ledger._validate import minute_of

    with Ledger.open(url, read_only=True) as ledger:
        ledger_id = ledger.ledger_id
    fields = {"view_uid": os.urandom(16).hex(), "viewer_id": viewer_id, "display_name": "Dr. Nobody",
              "record_id": "MRN 9", "workstation": "WS-1", "client_address": "10.0.0.9", "viewed_at": when,
              "key_fingerprint": FP, "action": "view"}
    digest = content_digest(ledger_id, fields)
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT * FROM leaktrace_append(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (fields["view_uid"], viewer_id, fields["display_name"], fields["record_id"], fields["workstation"],
             fields["client_address"], when, minute_of(when), FP, "view", digest, ledger_id,
             genesis_hash(ledger_id))).fetchone()
    return int(row[1])


def test_a_row_left_unsigned_is_never_named_and_is_a_problem_once_the_head_passes_it(pg_url):
    with Ledger.open(pg_url, ledger_key=LKEY) as ledger:
        ledger.record_view(viewer_id=4821, display_name=_name(0), record_id="MRN 1", workstation="WS-4B-112",
                           client_address="10.20.4.112", key_fingerprint=FP, viewed_at=T0)
    seq = _link_without_signing(pg_url, 7777, T0 + timedelta(minutes=5))
    report = _verify(pg_url)
    assert report.ok  # a writer's row between its link and its signature is no problem ...
    with Ledger.open(pg_url, read_only=True, ledger_key=LKEY.public_only()) as ledger:
        join = ledger.lookup(7777, T0 + timedelta(minutes=5))
    assert join.matches and not join.named  # ... but nobody is named from it
    assert any("not signed yet" in p for p in join.problems)
    with Ledger.open(pg_url, ledger_key=LKEY) as ledger:  # the next writer's signed head passes it
        ledger.record_view(viewer_id=5170, display_name=_name(1), record_id="MRN 2", workstation="WS-4B-112",
                           client_address="10.20.4.112", key_fingerprint=FP, viewed_at=T0 + timedelta(minutes=6))
    report = _verify(pg_url)
    assert not report.ok and report.first_bad_seq == seq
    assert any("not signed by ledger key" in p for p in report.problems)


def test_the_only_update_a_row_takes_is_its_signature_once(pg_url):
    import psycopg

    with Ledger.open(pg_url, ledger_key=LKEY) as ledger:
        ledger.record_view(viewer_id=4821, display_name=_name(0), record_id="MRN 1", workstation="WS-4B-112",
                           client_address="10.20.4.112", key_fingerprint=FP, viewed_at=T0)
    seq = _link_without_signing(pg_url, 7777, T0)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for sql in ("UPDATE leaktrace_views SET display_name = 'Someone Else' WHERE seq = 1",
                    "UPDATE leaktrace_views SET signature = 'ab' WHERE seq = 1",  # signed already
                    f"UPDATE leaktrace_views SET signature = 'ab', workstation = 'WS-9' WHERE seq = {seq}"):
            with pytest.raises(psycopg.Error, match="append-only"):
                conn.execute(sql)
        conn.execute(f"UPDATE leaktrace_views SET signature = 'ab' WHERE seq = {seq}")  # allowed, and forged:
    report = _verify(pg_url)
    assert not report.ok and report.first_bad_seq == seq


def test_a_writer_refuses_to_sign_a_link_the_database_computed_otherwise(pg_url):
    import psycopg

    with Ledger.open(pg_url, ledger_key=LKEY) as ledger:
        ledger.record_view(viewer_id=4821, display_name=_name(0), record_id="MRN 1", workstation="WS-4B-112",
                           client_address="10.20.4.112", key_fingerprint=FP, viewed_at=T0)
        with psycopg.connect(pg_url, autocommit=True) as conn:  # an insider rewrites the append function
            source = conn.execute("SELECT prosrc FROM pg_proc WHERE proname = 'leaktrace_append'").fetchone()[0]
            args = conn.execute("SELECT pg_get_function_arguments(oid), pg_get_function_result(oid) FROM pg_proc "
                                "WHERE proname = 'leaktrace_append'").fetchone()
            forged = source.replace("'leaktrace-ledger row '", "'forged row '")
            conn.execute(f"CREATE OR REPLACE FUNCTION leaktrace_append({args[0]}) RETURNS {args[1]} "
                         f"LANGUAGE plpgsql VOLATILE AS $fn${forged}$fn$")
        with pytest.raises(LedgerIntegrityError, match="leaktrace_append"):
            ledger.record_view(viewer_id=5170, display_name=_name(1), record_id="MRN 2", workstation="WS-4B-112",
                               client_address="10.20.4.112", key_fingerprint=FP, viewed_at=T0)
    report = _verify(pg_url)
    assert not report.ok  # the row it left is unsigned, and not named from

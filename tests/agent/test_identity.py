"""The account map and the integrator callback: OS account to viewer, never a typed field."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from agent import AccountMap, Identity, IdentityError, SessionState, load_callback, probe_session


def _write_json(path: Path, accounts: list[dict[str, object]]) -> Path:
    path.write_text(json.dumps({"format": "leaktrace-directory", "version": 1, "accounts": accounts}))
    return path


def test_json_accounts_file_maps_users_case_insensitively_and_by_domain(tmp_path: Path) -> None:
    accounts = AccountMap.load(_write_json(tmp_path / "a.json", [
        {"username": "mlindqvist", "viewer_id": 4821, "display_name": "Dr. Marek Lindqvist", "password": "x"},
        {"username": "HOSP\\akowalski", "viewer_id": 5130, "display_name": "Anna Kowalski"},
    ]))
    assert accounts.identity(SessionState(username="MLindqvist")) == Identity(4821, "Dr. Marek Lindqvist",
                                                                                 "mlindqvist")
    assert accounts.identity(SessionState(username="HOSP\\mlindqvist")).viewer_id == 4821
    assert accounts.identity(SessionState(username="hosp\\AKOWALSKI")).viewer_id == 5130
    # An entry that names a domain is not matched from another domain or from no domain.
    assert accounts.identity(SessionState(username="akowalski")) is None
    assert accounts.identity(SessionState(username="OTHER\\akowalski")) is None
    assert accounts.directory.name_of(5130) == "Anna Kowalski"


def test_csv_export_is_read(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text("username,viewer_id,display_name,department\nmlindqvist,4821,Dr. Marek Lindqvist,Cardiology\n")
    assert AccountMap.load(path).identity(SessionState(username="mlindqvist")).viewer_id == 4821


@pytest.mark.parametrize(("content", "message"), [
    ("username,viewer_id\nx,1\n", "lacks display_name"),
    ("username,viewer_id,display_name\nx,not-a-number,X\n", "entry 1"),
    ("username,viewer_id,display_name\nx,1,X\nX,2,Y\n", "listed twice"),
    ("username,viewer_id,display_name\n,1,X\n", "empty username"),
    ("username,viewer_id,display_name\nx,4294967296,X\n", "entry 1"),
    ('{"format": "something-else", "accounts": []}', "not a leaktrace-directory"),
    ("{broken", "not valid JSON"),
])
def test_a_bad_account_map_is_refused_naming_the_problem(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "a.txt"
    path.write_text(content)
    with pytest.raises(IdentityError, match=message):
        AccountMap.load(path)


def test_a_missing_or_binary_account_map_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(IdentityError, match="cannot read"):
        AccountMap.load(tmp_path / "missing.json")
    (tmp_path / "b.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(IdentityError, match="not UTF-8"):
        AccountMap.load(tmp_path / "b.json")


def test_integrator_callback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "hospital_directory.py").write_text(
        "def lookup(state):\n"
        "    return {'mlindqvist': (4821, 'Dr. Marek Lindqvist')}.get(state.username)\n"
        "def bad(state):\n"
        "    return 'nonsense'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    resolve = load_callback("hospital_directory:lookup")
    assert resolve(SessionState(username="mlindqvist")) == Identity(4821, "Dr. Marek Lindqvist", "mlindqvist")
    assert resolve(SessionState(username="guest")) is None
    with pytest.raises(IdentityError, match="returned"):
        load_callback("hospital_directory:bad")(SessionState(username="x"))
    for spec in ("no_colon", "missing_module_xyz:f", "hospital_directory:absent"):
        with pytest.raises(IdentityError):
            load_callback(spec)
    sys.modules.pop("hospital_directory", None)


def test_probe_reads_the_process_account() -> None:
    import pwd
    import os

    state = probe_session()
    assert state.username == pwd.getpwuid(os.geteuid()).pw_name
    assert state.same_session(SessionState(username=state.username, session_id=state.session_id,
                                           client=state.client, locked=not state.locked))
    assert not state.same_session(SessionState(username=state.username + "x"))

"""Helpers of the example viewer's tests: accounts and workstations made with the viewer's own producers,
and a Flask test client that logs in the way a browser does (CSRF token first)."""

from __future__ import annotations

import re
import socket
from pathlib import Path

from ledger import Ledger

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORDS = {  # fixed test passwords, one per demo employee (the demo itself makes random ones)
    "aquist": "quist-violet-harbour-17",
    "mokafor": "okafor-copper-meadow-42",
    "tbrandvold": "brandvold-slate-river-05",
    "lhaverkamp": "haverkamp-amber-ridge-88",
}
WORKSTATIONS = ("WS-4B-112", "WS-5W-207", "WS-6C-031")


def fast_hasher():
    """argon2id with cheap parameters, for tests only (the viewer verifies each hash with its own parameters)."""
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)


def make_accounts(path: Path, *, hasher=None) -> Path:
    """The demo staff as accounts with the passwords in PASSWORDS, through the viewer's own store."""
    from examples.emr_viewer.accounts import AccountStore
    from examples.emr_viewer.records import EMPLOYEES

    store = AccountStore.create(path, hasher=hasher or fast_hasher())
    for employee in EMPLOYEES.values():
        store.add(viewer_id=employee.viewer_id, username=employee.username, display_name=employee.display_name,
                  role=employee.role, password=PASSWORDS[employee.username])
    return path


def make_workstations(path: Path) -> dict[str, str]:
    """Register WORKSTATIONS through the viewer's own registry; returns name -> token."""
    from examples.emr_viewer.workstations import WorkstationRegistry

    registry = WorkstationRegistry(path)
    return {name: registry.add(name) for name in WORKSTATIONS}


def csrf_of(client, path="/login"):
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return CSRF_FIELD.search(response.get_data(as_text=True)).group(1)


def client_at(app, *, token=None, address="127.0.0.1", **kwargs):
    client = app.test_client(**kwargs)
    client.environ_base["REMOTE_ADDR"] = address
    if token is not None:
        client.environ_base["HTTP_X_LEAKTRACE_WORKSTATION"] = token
    return client


def post_login(client, username, password, **extra):
    return client.post("/login", data={"username": username, "password": password, "csrf_token": csrf_of(client),
                                       **extra})


def logged_in(app, username="aquist", *, token=None, address="127.0.0.1"):
    """A test client logged in as `username` (form with its CSRF token, as a browser posts it)."""
    client = client_at(app, token=token, address=address)
    response = post_login(client, username, PASSWORDS[username])
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


def log_out(client):
    token = CSRF_FIELD.search(client.get("/patients").get_data(as_text=True)).group(1)
    return client.post("/logout", data={"csrf_token": token})


def ledger_views(ledger_path):
    with Ledger.open(ledger_path, read_only=True) as ledger:
        return ledger.views()


def session_cookie(client):
    cookie = client.get_cookie("leaktrace_session")
    return None if cookie is None else cookie.value


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])

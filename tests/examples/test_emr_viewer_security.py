"""The example viewer's security findings (issue 14), in-process: each test failed before its fix.

1 passwords, 2 CSRF, 3 workstation, 4 log-in rate limit, 5 sessions, 7 server-stamped
sensitive records, 8 the ledger's 503 page. (6, printing, is in the browser tests.)
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import stat
import statistics
import time

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("flask", reason="flask is in the 'viewer' extra")
pytest.importorskip("argon2", reason="argon2-cffi is in the 'viewer' extra")

import watermark  # noqa: E402
from examples.emr_viewer.accounts import AccountStore, create_demo_accounts  # noqa: E402
from examples.emr_viewer.accounts import main as accounts_main  # noqa: E402
from examples.emr_viewer.records import EMPLOYEES, patients  # noqa: E402
from examples.emr_viewer.sessions import SessionStore  # noqa: E402
from examples.emr_viewer.throttle import LoginThrottle  # noqa: E402
from examples.emr_viewer.workstations import main as workstations_main  # noqa: E402
from ledger import Directory  # noqa: E402

from viewer_helpers import (  # noqa: E402
    CSRF_FIELD,
    PASSWORDS,
    client_at,
    csrf_of,
    logged_in,
    log_out,
    post_login,
    session_cookie,
    ledger_views,
    fast_hasher,
    make_accounts,
)

PATIENT = patients()[4]  # WHITLOCK, Yannick M. (seed 5): an ordinary record
SENSITIVE = next(p for p in patients() if p.sensitive and not p.restricted)  # OAKHURST, Delphine F. (seed 8)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _without_csrf(html: str) -> str:
    return CSRF_FIELD.sub('name="csrf_token" value=""', html)


# -- 1. passwords
def test_login_page_shows_no_password_and_lists_no_accounts(app):
    html = app.test_client().get("/login").get_data(as_text=True)
    assert not re.search(r"password is|>demo<", html, flags=re.I)
    assert "<select" not in html and not any(e.display_name in html or e.username in html for e in EMPLOYEES.values())


def test_the_old_shared_password_no_longer_logs_in(app):
    assert post_login(client_at(app), "aquist", "demo").status_code == 401


def test_each_account_has_its_own_password(app):
    assert post_login(client_at(app), "mokafor", PASSWORDS["aquist"]).status_code == 401
    assert post_login(client_at(app), "mokafor", PASSWORDS["mokafor"]).status_code == 302


def test_accounts_file_is_a_private_directory_of_argon2id_hashes_the_tracer_reads(accounts_path):
    assert stat.S_IMODE(os.stat(accounts_path).st_mode) == 0o600
    data = json.loads(accounts_path.read_text())
    assert (data["format"], data["version"]) == ("leaktrace-directory", 1)
    account = next(a for a in data["accounts"] if a["username"] == "aquist")
    assert (account["viewer_id"], account["display_name"]) == (4821, "Dr. Anselm Quist")
    assert account["password_hash"].startswith("$argon2id$")
    assert not any(password in accounts_path.read_text() for password in PASSWORDS.values())
    directory = Directory.load(accounts_path)
    assert {e.viewer_id: directory.name_of(e.viewer_id) for e in EMPLOYEES.values()} == {
        e.viewer_id: e.display_name for e in EMPLOYEES.values()}


def test_unknown_user_and_wrong_password_get_the_same_answer_in_about_the_same_time(make_app, tmp_path):
    from argon2 import PasswordHasher

    # Parameters costly enough (about 15 ms here) that a skipped hash would show.
    accounts = make_accounts(tmp_path / "slow.json", hasher=PasswordHasher(time_cost=2, memory_cost=16384,
                                                                          parallelism=1))
    app = make_app(accounts=accounts, login_throttle=LoginThrottle(max_failures=1000))
    client = client_at(app)
    token = csrf_of(client)

    def attempt(username):
        t0 = time.perf_counter()
        response = client.post("/login", data={"username": username, "password": "not-the-password",
                                               "csrf_token": token})
        return time.perf_counter() - t0, response

    attempt("aquist")  # warm up: templates, the dummy hash
    unknown, wrong = [], []
    for i in range(7):
        t_unknown, r_unknown = attempt(f"nobody{i}")
        t_wrong, r_wrong = attempt("aquist")
        unknown.append(t_unknown)
        wrong.append(t_wrong)
        assert r_unknown.status_code == r_wrong.status_code == 401
        body_unknown = _without_csrf(r_unknown.get_data(as_text=True)).replace(f"nobody{i}", "USER")
        assert body_unknown == _without_csrf(r_wrong.get_data(as_text=True)).replace("aquist", "USER")
    ratio = statistics.median(unknown) / statistics.median(wrong)
    assert 0.5 < ratio < 2.0, f"unknown user {statistics.median(unknown) * 1e3:.1f} ms, wrong password " \
                              f"{statistics.median(wrong) * 1e3:.1f} ms"


def test_accounts_cli_adds_accounts_and_sets_passwords_the_running_viewer_uses(make_app, tmp_path, capsys):
    path = tmp_path / "accounts.json"
    add = ["add", "--accounts", str(path), "--viewer-id", "9001", "--username", "mlindqvist",
           "--display-name", "Dr. Marek Lindqvist", "--password-stdin"]
    assert accounts_main(add, stdin=io.StringIO("first-password-123\n")) == 0
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    app = make_app(accounts=path)
    assert post_login(client_at(app), "mlindqvist", "first-password-123").status_code == 302
    passwd = ["passwd", "--accounts", str(path), "--username", "mlindqvist", "--password-stdin"]
    assert accounts_main(passwd, stdin=io.StringIO("second-password-456\n")) == 0
    assert post_login(client_at(app), "mlindqvist", "first-password-123").status_code == 401
    assert post_login(client_at(app), "mlindqvist", "second-password-456").status_code == 302
    assert Directory.load(path).name_of(9001) == "Dr. Marek Lindqvist"
    capsys.readouterr()
    assert accounts_main(add, stdin=io.StringIO("third-password-789\n")) == 1  # username taken
    assert "is taken" in capsys.readouterr().err
    assert accounts_main(["passwd", "--accounts", str(path), "--username", "nobody", "--password-stdin"],
                         stdin=io.StringIO("fourth-password-000\n")) == 1
    assert accounts_main(passwd, stdin=io.StringIO("short\n")) == 1
    assert "12 to 1024 characters" in capsys.readouterr().err
    assert accounts_main(["list", "--accounts", str(tmp_path / "missing.json")]) == 2


def test_demo_accounts_get_distinct_random_passwords(tmp_path):
    created = create_demo_accounts(tmp_path / "accounts.json", EMPLOYEES.values(), hasher=fast_hasher())
    passwords = [password for _, password in created]
    assert len(set(passwords)) == len(EMPLOYEES) and all(len(p) >= 16 for p in passwords)
    store = AccountStore(tmp_path / "accounts.json")
    for account, password in created:
        assert store.authenticate(account.username, password) == account


def test_demo_setup_shows_each_password_once_and_keeps_keys_private(tmp_path):
    from examples.emr_viewer.__main__ import parse_args, prepare

    args = parse_args(["--data-dir", str(tmp_path / "data")])
    first = io.StringIO()
    app = prepare(args, out=first)
    passwords = dict(re.findall(r"^\s+(\S+)\s.*password: (\S+)$", first.getvalue(), flags=re.M))
    assert set(passwords) == set(EMPLOYEES) and len(set(passwords.values())) == len(EMPLOYEES)
    assert post_login(client_at(app), "aquist", passwords["aquist"]).status_code == 302
    assert passwords["aquist"] not in app.test_client().get("/login").get_data(as_text=True)
    for name in ("accounts.json", "hospital.key", "protected.key", "ledger.key"):
        assert stat.S_IMODE(os.stat(tmp_path / "data" / name).st_mode) == 0o600, name
    app.extensions["leaktrace_viewer"].ledger.close()
    second = io.StringIO()
    prepare(args, out=second).extensions["leaktrace_viewer"].ledger.close()
    assert "password" not in second.getvalue()


# -- 2. CSRF
def test_login_without_a_csrf_token_is_refused(app):
    client = client_at(app)
    client.get("/login")
    response = client.post("/login", data={"username": "aquist", "password": PASSWORDS["aquist"]})
    assert response.status_code == 400
    assert client.get("/patients").status_code == 302


def test_post_from_another_origin_is_refused_even_with_a_valid_token(app):
    client = client_at(app)
    token = csrf_of(client)
    response = client.post("/login", data={"username": "aquist", "password": PASSWORDS["aquist"],
                                           "csrf_token": token}, headers={"Origin": "http://127.0.0.1:8999"})
    assert response.status_code == 400
    assert client.get("/patients").status_code == 302


def test_logout_is_a_post_with_a_csrf_token(app):
    client = logged_in(app)
    assert client.get("/logout").status_code == 405
    assert client.post("/logout").status_code == 400
    assert client.get("/patients").status_code == 200  # still logged in
    assert log_out(client).status_code == 302
    assert client.get("/patients").status_code == 302


# -- 3. workstation
def test_workstation_is_never_taken_from_the_login_form(app, ledger_path):
    client = client_at(app, address="10.20.4.112")
    response = post_login(client, "aquist", PASSWORDS["aquist"], workstation="WS-CHOSEN-BY-ATTACKER")
    assert response.status_code == 302
    client.get(f"/patients/{PATIENT.mrn}")
    assert [(v.workstation, v.client_address) for v in ledger_views(ledger_path)] == [("10.20.4.112", "10.20.4.112")]


def test_registered_workstation_token_names_the_workstation(app, ledger_path, tokens):
    logged_in(app, token=tokens["WS-4B-112"], address="10.20.4.112").get(f"/patients/{PATIENT.mrn}")
    logged_in(app, token="not-a-registered-token", address="10.20.4.113").get(f"/patients/{PATIENT.mrn}")
    assert [v.workstation for v in ledger_views(ledger_path)] == ["WS-4B-112", "10.20.4.113"]


def test_workstation_enrolment_sets_a_long_lived_cookie_with_the_token(app, ledger_path, tokens):
    client = client_at(app)
    token = csrf_of(client, "/workstation/enrol")
    refused = client.post("/workstation/enrol", data={"token": "guess", "csrf_token": token})
    assert refused.status_code == 400 and client.get_cookie("leaktrace_workstation") is None
    enrolled = client.post("/workstation/enrol", data={"token": tokens["WS-5W-207"], "csrf_token": token})
    assert enrolled.status_code == 200 and "WS-5W-207" in enrolled.get_data(as_text=True)
    cookie = client.get_cookie("leaktrace_workstation")
    assert cookie.value == tokens["WS-5W-207"] and cookie.http_only and cookie.max_age > 300 * 86400
    assert post_login(client, "mokafor", PASSWORDS["mokafor"]).status_code == 302
    client.get(f"/patients/{PATIENT.mrn}")
    assert ledger_views(ledger_path)[-1].workstation == "WS-5W-207"


def test_workstations_cli_prints_a_token_once_and_stores_its_hash(tmp_path, capsys):
    path = tmp_path / "workstations.json"
    assert workstations_main(["add", "--workstations", str(path), "--name", "WS-9Z-001"]) == 0
    token = capsys.readouterr().out.strip()
    assert len(token) >= 40 and token not in path.read_text()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert workstations_main(["remove", "--workstations", str(path), "--name", "WS-9Z-001"]) == 0
    assert workstations_main(["remove", "--workstations", str(path), "--name", "WS-9Z-001"]) == 1


def test_forwarded_for_is_honoured_only_from_a_configured_trusted_proxy(make_app, ledger_path):
    forwarded = {"X-Forwarded-For": "10.99.0.7"}
    for proxies in (0, 1):
        client = logged_in(make_app(trusted_proxies=proxies), address="10.0.0.1")
        client.get(f"/patients/{PATIENT.mrn}", headers=forwarded)
    assert [v.client_address for v in ledger_views(ledger_path)] == ["10.0.0.1", "10.99.0.7"]


# -- 4. log-in rate limit
def test_five_failures_for_a_username_then_429_with_retry_after_even_for_the_right_password(make_app):
    clock = FakeClock()
    app = make_app(login_throttle=LoginThrottle(max_failures=5, window_s=900, clock=clock))
    for i in range(5):  # from five addresses: the username's count
        assert post_login(client_at(app, address=f"10.0.0.{i + 1}"), "aquist", "wrong").status_code == 401
    limited = post_login(client_at(app, address="10.0.0.9"), "aquist", PASSWORDS["aquist"])
    assert limited.status_code == 429 and 0 < int(limited.headers["Retry-After"]) <= 900
    clock.now += 901
    assert post_login(client_at(app, address="10.0.0.9"), "aquist", PASSWORDS["aquist"]).status_code == 302


def test_failures_from_one_address_are_limited_across_usernames(make_app):
    app = make_app(login_throttle=LoginThrottle(max_failures=5, window_s=900))
    client = client_at(app, address="10.0.0.66")
    for name in ("aquist", "mokafor", "nobody", "tbrandvold", "lhaverkamp"):
        assert post_login(client, name, "wrong").status_code == 401
    assert post_login(client, "mokafor", PASSWORDS["mokafor"]).status_code == 429
    assert post_login(client_at(app, address="10.0.0.67"), "mokafor", PASSWORDS["mokafor"]).status_code == 302


def test_unknown_usernames_are_limited_like_real_ones(make_app):
    app = make_app(login_throttle=LoginThrottle(max_failures=2, window_s=900))
    answers = {}
    for name in ("aquist", "nobody"):
        codes = [post_login(client_at(app, address=f"10.1.{i}.{len(name)}"), name, "wrong").status_code
                 for i in range(3)]
        answers[name] = codes
    assert answers["aquist"] == answers["nobody"] == [401, 401, 429]


# -- 5. sessions
def test_session_cookie_replayed_after_logout_opens_nothing(app):
    client = logged_in(app)
    assert client.get(f"/patients/{PATIENT.mrn}").status_code == 200
    copied = session_cookie(client)
    assert log_out(client).status_code == 302
    thief = app.test_client()
    thief.set_cookie("leaktrace_session", copied)
    response = thief.get(f"/patients/{PATIENT.mrn}")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_session_cookie_is_a_random_id_and_changes_at_login(app):
    client = client_at(app)
    csrf_of(client)
    before = session_cookie(client)
    assert post_login(client, "aquist", PASSWORDS["aquist"]).status_code == 302
    after = session_cookie(client)
    assert before and after and before != after
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", after)  # 256 random bits, no data, no signature
    fixed = app.test_client()
    fixed.set_cookie("leaktrace_session", before)  # the pre-login ID opens nothing
    assert fixed.get("/patients").status_code == 302


def test_sessions_end_after_idle_and_absolute_timeouts(make_app):
    clock = FakeClock()
    app = make_app(sessions=SessionStore(idle_timeout_s=900, max_age_s=3600, clock=clock))
    idle = logged_in(app)
    clock.now += 901
    assert idle.get("/patients").status_code == 302
    busy = logged_in(app)
    for _ in range(4):  # used every 14 minutes: kept for the first 56 minutes
        clock.now += 840
        assert busy.get("/patients").status_code == 200
    clock.now += 840  # 70 minutes after log-in
    assert busy.get("/patients").status_code == 302


def _set_cookie_headers(response):
    return response.headers.getlist("Set-Cookie")


@pytest.mark.parametrize(("base_url", "secure_cookies", "secure"), [
    ("http://localhost", None, False),
    ("http://127.0.0.1:5000", None, False),
    ("https://emr.hospital.example", None, True),
    ("http://emr.hospital.example", None, True),
    ("http://localhost", True, True),
])
def test_cookies_are_httponly_samesite_lax_and_secure_unless_on_localhost(make_app, base_url, secure_cookies,
                                                                          secure):
    app = make_app(secure_cookies=secure_cookies)
    headers = _set_cookie_headers(app.test_client().get("/login", base_url=base_url))
    cookie = next(h for h in headers if h.startswith("leaktrace_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert ("Secure" in cookie) is secure


def test_login_over_https_works_with_the_same_origin_referrer(make_app):
    app = make_app()
    client = app.test_client()
    base = "https://emr.hospital.example"
    page = client.get("/login", base_url=base)
    token = CSRF_FIELD.search(page.get_data(as_text=True)).group(1)
    assert page.headers["Referrer-Policy"] == "same-origin"  # so that the HTTPS referrer check can pass
    response = client.post("/login", base_url=base, headers={"Referer": base + "/login", "Origin": base},
                           data={"username": "aquist", "password": PASSWORDS["aquist"], "csrf_token": token})
    assert response.status_code == 302


@pytest.mark.parametrize("target", ["//evil.example/x", "/\\evil.example/x", "https://evil.example/",
                                    "/\t/evil.example"])
def test_login_redirects_only_to_local_paths(app, target):
    client = client_at(app)
    response = client.post(f"/login?next={target}", data={"username": "aquist", "password": PASSWORDS["aquist"],
                                                          "csrf_token": csrf_of(client)})
    assert response.status_code == 302 and response.headers["Location"] == "/patients"


# -- 7. sensitive records: stamped on the server, no overlay for the client to divide out
def test_sensitive_record_page_has_no_overlay_and_its_image_carries_the_mark(app, ledger_path, protected_key,
                                                                             viewer_key):
    client = logged_in(app, "tbrandvold")
    response = client.get(f"/patients/{SENSITIVE.mrn}")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    assert "/overlay/" not in html and "leaktrace-overlay" not in html
    assert SENSITIVE.name not in html  # the record's content is only in the stamped image
    view = ledger_views(ledger_path)[-1]
    assert (view.record_id, view.viewer_id, view.key_fingerprint) == (SENSITIVE.record_id, 6032,
                                                                      protected_key.fingerprint)
    assert f'src="/views/{view.view_uid}.png"' in html
    image_response = client.get(f"/views/{view.view_uid}.png")
    assert image_response.status_code == 200 and image_response.mimetype == "image/png"
    assert "no-store" in image_response.headers["Cache-Control"]
    image = np.asarray(Image.open(io.BytesIO(image_response.data)).convert("RGB"))
    result = watermark.extract(image, protected_key)
    assert result.found and result.payload == view.payload
    assert not watermark.extract(image, viewer_key).found  # no overlay key pattern for a client to hold
    assert len(ledger_views(ledger_path)) == 1  # the image is the recorded view, not another


def test_no_overlay_is_served_for_a_sensitive_view(app, ledger_path):
    client = logged_in(app, "tbrandvold")
    client.get(f"/patients/{SENSITIVE.mrn}")
    uid = ledger_views(ledger_path)[-1].view_uid
    assert client.get(f"/overlay/{uid}.png?w=1920&h=1080").status_code == 404


def test_sensitive_image_is_served_only_for_its_viewers_sensitive_view(app, ledger_path):
    client = logged_in(app, "tbrandvold")
    client.get(f"/patients/{SENSITIVE.mrn}")
    uid = ledger_views(ledger_path)[-1].view_uid
    assert logged_in(app, "aquist").get(f"/views/{uid}.png").status_code == 404
    client.get(f"/patients/{PATIENT.mrn}")  # an ordinary record: overlay, no server image
    assert client.get(f"/views/{ledger_views(ledger_path)[-1].view_uid}.png").status_code == 404


def test_sensitive_export_is_stamped_under_the_protected_key(app, ledger_path, protected_key):
    response = logged_in(app, "aquist").get(f"/patients/{SENSITIVE.mrn}/export.png")
    view = ledger_views(ledger_path)[-1]
    assert response.status_code == 200 and view.key_fingerprint == protected_key.fingerprint
    image = np.asarray(Image.open(io.BytesIO(response.data)).convert("RGB"))
    assert watermark.extract(image, protected_key).payload == view.payload


# -- 8. the ledger's 503 page
def test_ledger_failure_gives_503_with_a_generic_page_and_details_only_in_the_log(app, ledger_path, caplog):
    import sqlite3

    client = logged_in(app)
    holder = sqlite3.connect(ledger_path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # the ledger is locked past the viewer's timeout
    try:
        with caplog.at_level(logging.ERROR, logger="examples.emr_viewer.app"):
            response = client.get(f"/patients/{PATIENT.mrn}")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    html = response.get_data(as_text=True)
    assert response.status_code == 503 and "Access cannot be recorded" in html
    assert PATIENT.name not in html and PATIENT.mrn not in html and "leaktrace-overlay" not in html
    assert str(ledger_path) not in html and "sqlite" not in html.lower() and "locked" not in html.lower()
    assert str(ledger_path) in caplog.text
    assert ledger_views(ledger_path) == []

"""The example EMR viewer: Flask app factory and routes.

Every page that shows patient data goes through :func:`_stamped_page` or,
for a record flagged sensitive, :func:`_protected_page`:

1. the view is recorded in the access ledger (viewer ID, display name,
   record ID, workstation, client address, time, key fingerprint); if the
   ledger cannot be written the viewer answers 503 and shows nothing of the
   record;
2. an ordinary page carries the visible mark (a CSS layer with the viewer's
   name, ID and the time) and an invisible-overlay layer whose PNG the page
   requests at its exact device-pixel size from ``/overlay/<view_uid>.png``;
   the record's content stays hidden until that overlay has been drawn;
3. a sensitive record's page is only an image rendered and stamped on the
   server (``/views/<view_uid>.png``: invisible mark under the *protected*
   key, then the visible mark), so that no client ever holds the pattern
   that marks it (a client holding its overlay can divide it out of a
   screenshot exactly).

The mark is stamped with the ledger row's own time, so the mark and the
ledger agree to the minute, and a page left open keeps the time it was
viewed (re-requests on resize or zoom reuse it).

Log-in: per-user argon2id passwords from the accounts file
(:mod:`.accounts`), CSRF tokens on every form (Flask-WTF) and a same-origin
check on every POST, failed log-ins limited per username and per client
address (:mod:`.throttle`), server-side sessions (:mod:`.sessions`). The
workstation is what the server can check: a registered workstation token
(:mod:`.workstations`), else the client address.
"""

from __future__ import annotations

import io
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import wraps
from typing import Any, Callable
from urllib.parse import urlsplit

from flask import Flask, Response, abort, current_app, g, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError, CSRFProtect
from markupsafe import Markup
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response as WerkzeugResponse

import watermark
from ledger import Ledger, LedgerError, LedgerKey, View

from .accounts import Account, AccountStore, normalize_username
from .errors import ViewerError
from .overlay_png import OverlayCache, overlay_png
from .records import Patient, patient_by_mrn, patients
from .sessions import ServerSession, ServerSessionInterface, SessionStore
from .throttle import LoginThrottle
from .workstations import COOKIE as WORKSTATION_COOKIE
from .workstations import HEADER as WORKSTATION_HEADER
from .workstations import WorkstationRegistry

__all__ = ["create_app", "MAX_OVERLAY_SIDE", "PROTECTED_IMAGE_SIZE"]

log = logging.getLogger(__name__)

MAX_OVERLAY_SIDE = 8192
"""Largest overlay side served, in device pixels (an 8K screen)."""

MIN_OVERLAY_SIDE = 256
"""One watermark tile: ``watermark.overlay`` needs at least this much."""

PROTECTED_IMAGE_SIZE = (1920, 1080)
"""Size of a sensitive record's server-rendered page image (a 1080p screen)."""

WORKSTATION_COOKIE_MAX_AGE_S = 400 * 86400
"""Life of the enrolment cookie: 400 days, the most browsers keep a cookie."""

_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


@dataclass
class ViewerState:
    """What the routes share: ledger, keys, accounts, workstations, limits, overlay cache and options."""

    ledger: Ledger
    key: watermark.Key
    protected_key: watermark.Key
    accounts: AccountStore
    workstations: WorkstationRegistry
    throttle: LoginThrottle
    sessions: ServerSessionInterface
    visible_label: str
    visible_opacity: float
    cache: OverlayCache


def _state() -> ViewerState:
    state: ViewerState = current_app.extensions["leaktrace_viewer"]
    return state


def create_app(
    *,
    ledger: str | os.PathLike[str] | Ledger,
    key: watermark.Key,
    protected_key: watermark.Key,
    accounts: str | os.PathLike[str] | AccountStore,
    ledger_key: LedgerKey | str | os.PathLike[str] | None = None,
    workstations: str | os.PathLike[str] | WorkstationRegistry | None = None,
    secret_key: bytes | None = None,
    secure_cookies: bool | None = None,
    trusted_proxies: int = 0,
    sessions: SessionStore | None = None,
    login_throttle: LoginThrottle | None = None,
    visible_label: str = watermark.DEFAULT_VISIBLE_LABEL,
    visible_opacity: float = 0.12,
    overlay_cache_bytes: int = 64 << 20,
    ledger_timeout_s: float = 10.0,
) -> Flask:
    """Build the example viewer.

    Parameters
    ----------
    ledger : str, path or Ledger, keyword-only
        A ledger URL or path (opened read-write now, with ``ledger_key``: a
        ledger that cannot be opened stops the viewer from starting), or an
        open :class:`ledger.Ledger`.
    key : watermark.Key, keyword-only
        The hospital's watermark key, for the browser overlay.
    protected_key : watermark.Key, keyword-only
        A second key, for the server-stamped images of sensitive records
        (never used for an overlay, so no client holds its patterns). It must
        differ from ``key``; the tracer is given both.
    accounts : path or AccountStore, keyword-only
        The accounts file (:mod:`examples.emr_viewer.accounts`); changes are
        picked up at the next log-in.
    ledger_key : LedgerKey or path, keyword-only
        The ledger's private signing key, required to open ``ledger`` by URL
        for writing (not given with an open ``Ledger``).
    workstations : path or WorkstationRegistry, keyword-only
        The registered workstation tokens; None: every workstation is named
        by its client address.
    secret_key : bytes, keyword-only
        Signs the CSRF tokens; random per process by default.
    secure_cookies : bool or None, keyword-only
        True when served over HTTPS: cookies get ``Secure``. None (default):
        ``Secure`` unless the request is addressed to a loopback host.
    trusted_proxies : int, keyword-only
        Reverse proxies in front of the viewer whose ``X-Forwarded-For`` and
        ``X-Forwarded-Proto`` are believed (werkzeug's ``ProxyFix``); 0:
        none, the client address is the peer's.
    sessions : SessionStore, keyword-only
        The server-side session store (default: 15 minutes idle, 12 hours at
        most, in this process).
    login_throttle : LoginThrottle, keyword-only
        Failed log-in limiting (default: 5 failures per 15 minutes per
        username and per client address, in this process).
    visible_label : str, keyword-only
        Notice shown in the visible mark after the viewer and time.
    visible_opacity : float, keyword-only
        Opacity of the visible mark.
    overlay_cache_bytes : int, keyword-only
        Size bound of the encoded-overlay cache.
    ledger_timeout_s : float, keyword-only
        Lock / statement timeout of the ledger.

    Returns
    -------
    flask.Flask

    Raises
    ------
    LedgerError
        If the ledger cannot be opened for writing (``LedgerKeyError``
        without a private ledger key).
    ViewerError
        If the accounts or workstations file cannot be read.
    TypeError, ValueError
        For keys of the wrong type, equal keys, or a negative proxy count.
    """
    for name, value in (("key", key), ("protected_key", protected_key)):
        if not isinstance(value, watermark.Key):
            raise TypeError(f"{name} must be a watermark.Key, got {type(value).__name__}")
    if protected_key.fingerprint == key.fingerprint:
        raise ValueError(f"protected_key must differ from key (both are {key.fingerprint}): a client holding an "
                         "overlay of the key could remove the server-stamped mark")
    if isinstance(trusted_proxies, bool) or not isinstance(trusted_proxies, int) or trusted_proxies < 0:
        raise ValueError(f"trusted_proxies must be an int >= 0, got {trusted_proxies!r}")
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secret_key or secrets.token_bytes(32),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=bool(secure_cookies),
        WTF_CSRF_TIME_LIMIT=None,  # a token lives as long as its session (which has its own timeouts)
        WTF_CSRF_SSL_STRICT=True,  # over HTTPS the Referer must be this origin too
    )
    if trusted_proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=trusted_proxies, x_proto=trusted_proxies)  # type: ignore[method-assign]
    store = accounts if isinstance(accounts, AccountStore) else AccountStore(accounts)
    registry = workstations if isinstance(workstations, WorkstationRegistry) else WorkstationRegistry(workstations)
    if isinstance(ledger, Ledger):
        if ledger_key is not None:
            raise ValueError("ledger_key is for a ledger URL or path; an open Ledger already holds its key")
        opened = ledger
    else:
        opened = Ledger.open(ledger, ledger_key=ledger_key, timeout_s=ledger_timeout_s)
    # Validate the visible-mark options now rather than on the first record view.
    watermark.visible_mark_svg(watermark.visible_mark_text("x", 0, _now(), label=visible_label), opacity=visible_opacity)
    interface = ServerSessionInterface(SessionStore() if sessions is None else sessions, secure_cookies=secure_cookies)
    app.session_interface = interface
    app.extensions["leaktrace_viewer"] = ViewerState(
        ledger=opened,
        key=key,
        protected_key=protected_key,
        accounts=store,
        workstations=registry,
        throttle=LoginThrottle() if login_throttle is None else login_throttle,
        sessions=interface,
        visible_label=visible_label,
        visible_opacity=visible_opacity,
        cache=OverlayCache(overlay_cache_bytes),
    )
    _register_checks(app)
    CSRFProtect(app)
    _register_errors(app)
    _register_login(app)
    _register_pages(app)
    return app


def _now() -> datetime:
    return datetime.now(timezone.utc)


# -- who, where
def _current_employee() -> Account | None:
    """The logged-in account, if its session names one that still exists with the same viewer ID."""
    username = session.get("username")
    if not isinstance(username, str):
        return None
    account = _state().accounts.get(username)
    if account is None or account.viewer_id != session.get("viewer_id"):
        return None
    return account


def _client_address() -> str:
    # With trusted_proxies, ProxyFix has already replaced it by the forwarded address it trusts.
    return request.remote_addr or "unknown"


def _workstation() -> str:
    """The registered workstation presenting its token (header, else cookie), else the client address."""
    token = request.headers.get(WORKSTATION_HEADER) or request.cookies.get(WORKSTATION_COOKIE)
    name = _state().workstations.name_for(token)
    if token and name is None:
        log.warning("unregistered workstation token presented from %s; naming the workstation by its address",
                    _client_address())
    return name or _client_address()


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Redirect to the log-in page unless an employee is logged in."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        employee = _current_employee()
        if employee is None:
            session.clear()
            return redirect(url_for("login", next=request.path))
        g.employee = employee
        g.workstation = _workstation()
        return view(*args, **kwargs)

    return wrapped


def _safe_next(target: str) -> str:
    """``target`` when it is a path on this site, else the patient list (no open redirect)."""
    parts = urlsplit(target)
    if (target.startswith("/") and not target.startswith("//") and not parts.scheme and not parts.netloc
            and "\\" not in target and target.isprintable() and not any(c.isspace() for c in target)):
        return target
    return url_for("patient_list")


# -- recording and stamping
def _record(record_id: str, *, key: watermark.Key, action: str = "view") -> View:
    """Record the view now; raises LedgerError (handled as 503) if it cannot be."""
    employee: Account = g.employee
    return _state().ledger.record_view(
        viewer_id=employee.viewer_id,
        display_name=employee.display_name,
        record_id=record_id,
        workstation=g.workstation,
        client_address=_client_address(),
        key_fingerprint=key.fingerprint,
        action=action,
    )


def _html(body: str, status: int = 200) -> Response:
    response = Response(body, status, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"  # every display is a request, and so a ledger row
    return response


def _stamped_page(template: str, record_id: str, **context: Any) -> Response:
    """Record the view, then render ``template`` with both marks; never one without the other."""
    state = _state()
    view = _record(record_id, key=state.key)
    text = watermark.visible_mark_text(view.display_name, view.viewer_id, view.viewed_at, label=state.visible_label)
    visible = Markup(watermark.visible_mark_html(text, opacity=state.visible_opacity))
    return _html(render_template(
        template,
        employee=g.employee,
        workstation=g.workstation,
        view=view,
        visible_mark=visible,
        overlay_src=url_for("overlay", view_uid=view.view_uid),
        **context,
    ))


def _protected_page(patient: Patient) -> Response:
    """Record the view under the protected key; the page is only the server-stamped image of it."""
    view = _record(patient.record_id, key=_state().protected_key)
    return _html(render_template("protected.html", employee=g.employee, workstation=g.workstation, view=view,
                                 patient=patient, image_src=url_for("protected_image", view_uid=view.view_uid),
                                 image_size=PROTECTED_IMAGE_SIZE))


def _stamped_png(patient: Patient, view: View, key: watermark.Key) -> bytes:
    from ..render_export import render_record_image, stamp_export

    state = _state()
    image = stamp_export(render_record_image(patient.seed, size=PROTECTED_IMAGE_SIZE), view, key,
                         label=state.visible_label)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def _own_view(view_uid: str) -> View:
    """The logged-in employee's view with this UID, else 404."""
    view = _state().ledger.get_view(view_uid)
    if view is None or view.viewer_id != g.employee.viewer_id:
        abort(404)
    return view


# -- routes
def _error_page(title: str, message: str, status: int) -> tuple[str, int]:
    return render_template("error.html", title=title, message=message, employee=None), status


def _register_checks(app: Flask) -> None:
    @app.before_request
    def same_origin_posts() -> Any:
        # Besides the CSRF token: a browser names the page that sent a POST. A page on another origin
        # (another port of this host too, whose cookies it could set) is refused even with a valid token.
        if request.method in {"GET", "HEAD", "OPTIONS"}:
            return None
        origin = request.headers.get("Origin")
        own = f"{request.scheme}://{request.host}"
        if origin is not None and origin != own:
            log.warning("refused a %s to %s from origin %r (this viewer is %s)", request.method, request.path,
                        origin, own)
            return _error_page("Request refused", "This form did not come from the viewer's own pages.", 400)
        return None

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", _CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        # same-origin, not no-referrer: over HTTPS the CSRF check needs the Referer of our own forms,
        # and with no-referrer Chromium sends "Origin: null".
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response


def _register_errors(app: Flask) -> None:
    @app.errorhandler(LedgerError)
    def ledger_down(exc: LedgerError) -> tuple[str, int]:
        log.error("access ledger unavailable: %s", exc)  # the details (URL, path, cause) for the operators only
        return (
            render_template(
                "error.html",
                title="Access cannot be recorded",
                message=(
                    "The access ledger could not record this view, so the record is not shown. "
                    "Every view of a record must be logged. Please try again in a moment or call the IT service desk."
                ),
                employee=None,
            ),
            503,
        )

    @app.errorhandler(ViewerError)
    def viewer_files_down(exc: ViewerError) -> tuple[str, int]:
        log.error("viewer configuration unavailable: %s", exc)
        return _error_page("Log-in unavailable",
                           "The viewer cannot check accounts right now. Please call the IT service desk.", 503)

    @app.errorhandler(CSRFError)
    def csrf_refused(exc: CSRFError) -> tuple[str, int]:
        log.warning("refused a %s to %s: %s", request.method, request.path, exc.description)
        return _error_page("Request refused",
                           "This form has expired or did not come from the viewer's own pages. "
                           "Go back, reload the page and try again.", 400)

    @app.errorhandler(404)
    def not_found(exc: Exception) -> tuple[str, int]:
        return _error_page("Not found", "There is no such page or record.", 404)


def _register_login(app: Flask) -> None:
    @app.get("/")
    def index() -> WerkzeugResponse:
        return redirect(url_for("patient_list" if _current_employee() else "login"))

    @app.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        if request.method == "GET":
            return render_template("login.html", error=None, username="", employee=None)
        state = _state()
        username = request.form.get("username", "")[:256]
        password = request.form.get("password", "")
        keys = [("user", normalize_username(username)), ("address", _client_address())]
        wait = state.throttle.retry_after(keys)
        if wait is not None:
            log.warning("log-in refused (too many failures) for %r from %s", username, _client_address())
            body = render_template("login.html", username=username, employee=None,
                                   error=f"Too many failed log-ins. Try again in {-(-wait // 60)} minute(s).")
            return body, 429, {"Retry-After": str(wait)}
        account = state.accounts.authenticate(username, password)
        if account is None:
            state.throttle.record_failure(keys)
            log.warning("failed log-in for %r from %s", username, _client_address())
            body = render_template("login.html", username=username, employee=None,
                                   error="Unknown user or wrong password.")
            return body, 401
        state.throttle.reset(keys[0])
        assert isinstance(session, ServerSession)
        session.regenerate()  # a new session ID at log-in: no session fixation
        session.clear()
        session["username"] = account.username
        session["viewer_id"] = account.viewer_id
        log.info("log-in: %s (viewer %s) from %s", account.username, account.viewer_id, _client_address())
        return redirect(_safe_next(request.args.get("next", "")))

    @app.post("/logout")
    def logout() -> WerkzeugResponse:
        session.clear()  # the server forgets the session: its cookie opens nothing any more
        return redirect(url_for("login"))

    @app.route("/workstation/enrol", methods=["GET", "POST"])
    def enrol_workstation() -> Any:
        state = _state()
        if request.method == "GET":
            return render_template("enrol.html", name=None, error=None, employee=None)
        keys = [("enrol", _client_address())]
        wait = state.throttle.retry_after(keys)
        if wait is not None:
            return (render_template("enrol.html", name=None, employee=None, error="Too many wrong tokens."), 429,
                    {"Retry-After": str(wait)})
        token = request.form.get("token", "").strip()
        name = state.workstations.name_for(token)
        if name is None:
            state.throttle.record_failure(keys)
            log.warning("workstation enrolment with an unregistered token from %s", _client_address())
            return render_template("enrol.html", name=None, employee=None, error="This token is not registered."), 400
        log.info("browser at %s enrolled as workstation %s", _client_address(), name)
        response = Response(render_template("enrol.html", name=name, error=None, employee=None), mimetype="text/html")
        response.set_cookie(WORKSTATION_COOKIE, token, max_age=WORKSTATION_COOKIE_MAX_AGE_S, path="/",
                            secure=state.sessions.cookie_secure(request), httponly=True, samesite="Lax")
        return response


def _register_pages(app: Flask) -> None:
    @app.get("/patients")
    @login_required
    def patient_list() -> Response:
        return _stamped_page("patients.html", "patient-list", patients=patients())

    @app.get("/patients/<mrn>")
    @login_required
    def record(mrn: str) -> Response:
        patient = patient_by_mrn(mrn)
        if patient is None:
            abort(404)
        if patient.sensitive:
            return _protected_page(patient)
        return _stamped_page("record.html", patient.record_id, patient=patient)

    @app.get("/views/<view_uid>.png")
    @login_required
    def protected_image(view_uid: str) -> Response:
        state = _state()
        view = _own_view(view_uid)
        patient = next((p for p in patients() if p.record_id == view.record_id), None)
        if (patient is None or not patient.sensitive or view.action != "view"
                or view.key_fingerprint != state.protected_key.fingerprint):
            abort(404)
        response = Response(_stamped_png(patient, view, state.protected_key), mimetype="image/png")
        response.headers["Cache-Control"] = "no-store, private"
        return response

    @app.get("/patients/<mrn>/export.png")
    @login_required
    def export_png(mrn: str) -> Response:
        patient = patient_by_mrn(mrn)
        if patient is None:
            abort(404)
        state = _state()
        key = state.protected_key if patient.sensitive else state.key
        view = _record(patient.record_id, key=key, action="export")
        response = Response(_stamped_png(patient, view, key), mimetype="image/png")
        response.headers["Cache-Control"] = "no-store"
        response.headers["Content-Disposition"] = f'attachment; filename="record-{mrn}-view-{view.view_id}.png"'
        return response

    @app.get("/overlay/<view_uid>.png")
    @login_required
    def overlay(view_uid: str) -> Response:
        width = request.args.get("w", type=int)
        height = request.args.get("h", type=int)
        if width is None or height is None or not (1 <= width <= MAX_OVERLAY_SIDE and 1 <= height <= MAX_OVERLAY_SIDE):
            return Response(f"w and h must be integers in 1..{MAX_OVERLAY_SIDE} (device pixels)\n", 400,
                            mimetype="text/plain")
        state = _state()
        view = _own_view(view_uid)
        if view.key_fingerprint != state.key.fingerprint:
            abort(404)  # a sensitive (server-stamped) view: its pattern never leaves the server
        # Below one tile the layer is rendered at one tile and clipped by the page.
        size = (max(width, MIN_OVERLAY_SIDE), max(height, MIN_OVERLAY_SIDE))
        payload = view.payload
        png, hit = state.cache.get(
            (payload.viewer_id, payload.minutes, state.key.fingerprint, size),
            lambda: overlay_png(payload, state.key, size=size),
        )
        response = Response(png, mimetype="image/png")
        response.headers["Cache-Control"] = "private, max-age=86400, immutable"
        response.headers["X-Leaktrace-Overlay-Cache"] = "hit" if hit else "miss"
        return response

    @app.context_processor
    def chrome() -> dict[str, Any]:
        return {"app_title": "Northwind General · EMR Viewer (demo)"}

"""The example EMR viewer: Flask app factory and routes.

Every page that shows patient data goes through :func:`_stamped_page`:

1. the view is recorded in the access ledger (viewer ID, display name,
   record ID, workstation, client address, time, key fingerprint); if the
   ledger cannot be written the viewer answers 503 and shows nothing of the
   record;
2. the page carries the visible mark (a CSS layer with the viewer's name, ID
   and the time) and an invisible-overlay layer whose PNG the page requests
   at its exact device-pixel size from ``/overlay/<view_uid>.png``; the
   record's content stays hidden until that overlay has been drawn.

The overlay is stamped with the ledger row's own time, so the mark and the
ledger agree to the minute, and a page left open keeps the time it was
viewed (re-requests on resize or zoom reuse it).
"""

from __future__ import annotations

import io
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import wraps
from typing import Any, Callable

from flask import Flask, Response, abort, current_app, g, redirect, render_template, request, session, url_for
from markupsafe import Markup
from werkzeug.security import check_password_hash, generate_password_hash

import watermark
from ledger import Ledger, LedgerError, View

from .overlay_png import OverlayCache, overlay_png
from .records import DEMO_PASSWORD, EMPLOYEES, Employee, patient_by_mrn, patients

__all__ = ["create_app", "MAX_OVERLAY_SIDE"]

log = logging.getLogger(__name__)

MAX_OVERLAY_SIDE = 8192
"""Largest overlay side served, in device pixels (an 8K screen)."""

MIN_OVERLAY_SIDE = 256
"""One watermark tile: ``watermark.overlay`` needs at least this much."""

DEFAULT_WORKSTATION = "WS-DEMO-01"
WORKSTATION_COOKIE = "leaktrace_workstation"
_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


@dataclass
class ViewerState:
    """What the routes share: ledger, key, overlay cache and options."""

    ledger: Ledger
    key: watermark.Key
    visible_label: str
    visible_opacity: float
    default_workstation: str
    cache: OverlayCache
    password_hashes: dict[str, str] = field(default_factory=dict)


def _state() -> ViewerState:
    return current_app.extensions["leaktrace_viewer"]


def create_app(
    *,
    ledger: str | Ledger,
    key: watermark.Key,
    secret_key: bytes | None = None,
    visible_label: str = watermark.DEFAULT_VISIBLE_LABEL,
    visible_opacity: float = 0.12,
    default_workstation: str = DEFAULT_WORKSTATION,
    overlay_cache_bytes: int = 64 << 20,
    ledger_timeout_s: float = 10.0,
) -> Flask:
    """Build the example viewer.

    Parameters
    ----------
    ledger : str or Ledger
        A ledger URL or path (opened read-write now: a ledger that cannot be
        opened stops the viewer from starting), or an open :class:`Ledger`.
    key : watermark.Key
        The hospital's watermark key.
    secret_key : bytes, keyword-only
        Signs the session cookie; random per process by default (sessions
        end when the viewer restarts).
    visible_label : str, keyword-only
        Notice shown in the visible mark after the viewer and time.
    visible_opacity : float, keyword-only
        Opacity of the visible mark.
    default_workstation : str, keyword-only
        Workstation name proposed on the log-in form when the browser has
        none remembered.
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
        If the ledger cannot be opened for writing.
    """
    if not isinstance(key, watermark.Key):
        raise TypeError(f"key must be a watermark.Key, got {type(key).__name__}")
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secret_key or secrets.token_bytes(32),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    opened = ledger if isinstance(ledger, Ledger) else Ledger.open(ledger, timeout_s=ledger_timeout_s)
    # Validate the visible-mark options now rather than on the first record view.
    watermark.visible_mark_svg(watermark.visible_mark_text("x", 0, _now(), label=visible_label), opacity=visible_opacity)
    app.extensions["leaktrace_viewer"] = ViewerState(
        ledger=opened,
        key=key,
        visible_label=visible_label,
        visible_opacity=visible_opacity,
        default_workstation=default_workstation,
        cache=OverlayCache(overlay_cache_bytes),
        password_hashes={
            name: generate_password_hash(DEMO_PASSWORD, method="pbkdf2:sha256:60000") for name in EMPLOYEES
        },
    )
    _register(app)
    return app


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _current_employee() -> Employee | None:
    username = session.get("username")
    return EMPLOYEES.get(username) if isinstance(username, str) else None


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Redirect to the log-in page unless an employee is logged in."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        employee = _current_employee()
        if employee is None:
            return redirect(url_for("login", next=request.path))
        g.employee = employee
        g.workstation = session.get("workstation") or _state().default_workstation
        return view(*args, **kwargs)

    return wrapped


def _client_address() -> str:
    # Behind a reverse proxy, wrap the app in werkzeug's ProxyFix with the
    # proxy count you trust; never take X-Forwarded-For from the client.
    return request.remote_addr or "unknown"


def _record(record_id: str, *, action: str = "view") -> View:
    """Record the view now; raises LedgerError (handled as 503) if it cannot be."""
    state = _state()
    employee: Employee = g.employee
    return state.ledger.record_view(
        viewer_id=employee.viewer_id,
        display_name=employee.display_name,
        record_id=record_id,
        workstation=g.workstation,
        client_address=_client_address(),
        key_fingerprint=state.key.fingerprint,
        action=action,
    )


def _stamped_page(template: str, record_id: str, **context: Any) -> Response:
    """Record the view, then render ``template`` with both marks; never one without the other."""
    view = _record(record_id)
    state = _state()
    text = watermark.visible_mark_text(view.display_name, view.viewer_id, view.viewed_at, label=state.visible_label)
    visible = Markup(watermark.visible_mark_html(text, opacity=state.visible_opacity))
    body = render_template(
        template,
        employee=g.employee,
        workstation=g.workstation,
        view=view,
        visible_mark=visible,
        overlay_src=url_for("overlay", view_uid=view.view_uid),
        **context,
    )
    response = Response(body, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"  # every display is a request, and so a ledger row
    return response


def _register(app: Flask) -> None:
    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", _CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response

    @app.errorhandler(LedgerError)
    def ledger_down(exc: LedgerError) -> tuple[str, int]:
        log.error("access ledger unavailable: %s", exc)
        return (
            render_template(
                "error.html",
                title="Access cannot be recorded",
                message=(
                    "The access ledger could not record this view, so the record is not shown. "
                    "Every view of a record must be logged. Please try again in a moment or call the IT service desk."
                ),
                detail=str(exc),
                employee=_current_employee(),
            ),
            503,
        )

    @app.errorhandler(404)
    def not_found(exc: Exception) -> tuple[str, int]:
        return render_template("error.html", title="Not found", message="There is no such page or record.",
                               detail="", employee=_current_employee()), 404

    @app.get("/")
    def index() -> Response:
        return redirect(url_for("patient_list" if _current_employee() else "login"))

    @app.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        state = _state()
        error = None
        status = 200
        workstation = request.cookies.get(WORKSTATION_COOKIE) or state.default_workstation
        if request.method == "POST":
            username = request.form.get("username", "")
            password = request.form.get("password", "")
            workstation = " ".join(request.form.get("workstation", "").split())[:64] or state.default_workstation
            hashed = state.password_hashes.get(username)
            if hashed is None or not check_password_hash(hashed, password):
                error, status = "Unknown user or wrong password.", 401
            else:
                session.clear()
                session["username"] = username
                session["workstation"] = workstation
                target = request.args.get("next", "")
                if not target.startswith("/") or target.startswith("//"):
                    target = url_for("patient_list")
                response = redirect(target)
                response.set_cookie(WORKSTATION_COOKIE, workstation, max_age=3600 * 24 * 365, samesite="Lax",
                                    httponly=True)
                return response
        body = render_template("login.html", employees=EMPLOYEES.values(), error=error,
                               workstation=workstation, demo_password=DEMO_PASSWORD, employee=None)
        return body, status

    @app.post("/logout")
    def logout() -> Response:
        session.clear()
        return redirect(url_for("login"))

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
        return _stamped_page("record.html", patient.record_id, patient=patient)

    @app.get("/patients/<mrn>/export.png")
    @login_required
    def export_png(mrn: str) -> Response:
        from ..render_export import render_record_image, stamp_export

        patient = patient_by_mrn(mrn)
        if patient is None:
            abort(404)
        view = _record(patient.record_id, action="export")
        state = _state()
        image = stamp_export(render_record_image(patient.seed), view, state.key, label=state.visible_label)
        buf = io.BytesIO()
        image.save(buf, format="PNG")
        response = Response(buf.getvalue(), mimetype="image/png")
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
        view = state.ledger.get_view(view_uid)
        if view is None or view.viewer_id != g.employee.viewer_id:
            abort(404)
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

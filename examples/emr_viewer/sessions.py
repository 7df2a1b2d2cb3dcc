"""Server-side sessions: the cookie carries only a random session ID; the server keeps the rest.

Flask's default session is a signed cookie that holds the data itself: a
copy of it stays valid after log-out, until it expires. Here the cookie holds
a 256-bit random ID; the server keeps the session under the SHA-256 of that
ID (so that a dump of the store yields no usable cookie), and log-out deletes
it, after which a replayed cookie opens nothing. A session ends after
``idle_timeout_s`` without a request or ``max_age_s`` after log-in, whichever
comes first. Logging in issues a new ID (no session fixation).

The store is this process's memory, bounded by ``max_sessions`` (the least
recently used are dropped first: the log-in page's anonymous sessions, which
hold only a CSRF token, are created by anyone who loads it). Sessions end
when the viewer restarts. A deployment with several worker processes or hosts
keeps them in a store the workers share (a database table, Redis) instead;
:class:`SessionStore` is the interface to replace.

The cookie is always ``HttpOnly`` and ``SameSite=Lax``, and ``Secure`` when
the viewer is served over HTTPS (``secure_cookies=True``) or, by default, for
any request not addressed to a loopback host name.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable

from flask import Flask, Request, Response, request
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

__all__ = ["ServerSession", "ServerSessionInterface", "SessionStore", "is_loopback_host"]

COOKIE_NAME = "leaktrace_session"


def is_loopback_host(host: str) -> bool:
    """True for ``localhost``, ``127.0.0.0/8`` and ``::1``, with or without a port.

    >>> [is_loopback_host(h) for h in ("127.0.0.1:5000", "localhost", "[::1]:80", "viewer.example", "10.0.0.7")]
    [True, True, True, False, False]
    """
    name = host.strip()
    if name.startswith("["):
        name = name[1:].split("]", 1)[0]
    elif name.count(":") == 1:
        name = name.split(":", 1)[0]
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass
class _Stored:
    data: dict[str, Any]
    created: float
    seen: float


class SessionStore:
    """Sessions by hashed ID, with idle and absolute timeouts, in this process.

    Parameters
    ----------
    idle_timeout_s : float, keyword-only
        A session unused this long is gone (15 minutes: a workstation left unlocked).
    max_age_s : float, keyword-only
        A session older than this is gone, used or not (12 hours: one shift).
    max_sessions : int, keyword-only
        Sessions kept at most; the least recently used are dropped beyond it.
    clock : callable, keyword-only
        Seconds (tests pass a fake).
    """

    def __init__(self, *, idle_timeout_s: float = 15 * 60, max_age_s: float = 12 * 3600,
                 max_sessions: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        if idle_timeout_s <= 0 or max_age_s <= 0 or max_sessions < 1:
            raise ValueError(f"idle_timeout_s, max_age_s and max_sessions must be positive, got {idle_timeout_s}, "
                             f"{max_age_s}, {max_sessions}")
        self.idle_timeout_s = float(idle_timeout_s)
        self.max_age_s = float(max_age_s)
        self.max_sessions = int(max_sessions)
        self.clock = clock
        self._sessions: OrderedDict[str, _Stored] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _digest(sid: str) -> str:
        return hashlib.sha256(sid.encode("utf-8", "surrogateescape")).hexdigest()

    def load(self, sid: str) -> tuple[dict[str, Any], float] | None:
        """A copy of the session's data and its creation time, or None if unknown or expired (then deleted)."""
        digest = self._digest(sid)
        with self._lock:
            stored = self._sessions.get(digest)
            if stored is None:
                return None
            now = self.clock()
            if now - stored.seen > self.idle_timeout_s or now - stored.created > self.max_age_s:
                del self._sessions[digest]
                return None
            stored.seen = now
            self._sessions.move_to_end(digest)
            return dict(stored.data), stored.created

    def save(self, sid: str, data: dict[str, Any], *, created: float | None) -> None:
        """Store the session's data (``created`` None: a new session, created now)."""
        digest = self._digest(sid)
        with self._lock:
            now = self.clock()
            self._sessions[digest] = _Stored(dict(data), now if created is None else created, now)
            self._sessions.move_to_end(digest)
            while len(self._sessions) > self.max_sessions:
                self._sessions.popitem(last=False)

    def delete(self, sid: str) -> None:
        """Forget the session (log-out)."""
        with self._lock:
            self._sessions.pop(self._digest(sid), None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)


class ServerSession(CallbackDict[str, Any], SessionMixin):
    """A session's data for one request; :meth:`regenerate` gives it a new ID when the response is sent."""

    def __init__(self, data: dict[str, Any] | None = None, *, sid: str | None = None,
                 created: float | None = None) -> None:
        def changed(_: Any) -> None:
            self.modified = True

        super().__init__(data or {}, changed)
        self.sid = sid
        self.created = created
        self.previous_sid: str | None = None
        self.modified = False

    def regenerate(self) -> None:
        """Drop the current ID (and its stored session) and issue a new one: call it at log-in."""
        if self.sid is not None:
            self.previous_sid = self.sid
        self.sid = None
        self.created = None
        self.modified = True


class ServerSessionInterface(SessionInterface):
    """Flask session interface over a :class:`SessionStore`.

    Parameters
    ----------
    store : SessionStore
    secure_cookies : bool or None
        ``True``: the cookie is always ``Secure`` (served over HTTPS);
        ``False``: never (plain HTTP on a trusted network, not advised);
        ``None``: ``Secure`` unless the request is addressed to a loopback host.
    """

    def __init__(self, store: SessionStore, *, secure_cookies: bool | None = None) -> None:
        self.store = store
        self.secure_cookies = secure_cookies

    def cookie_secure(self, request: Request) -> bool:
        """Whether cookies set in answer to ``request`` get the ``Secure`` attribute."""
        if self.secure_cookies is not None:
            return self.secure_cookies
        return request.is_secure or not is_loopback_host(request.host)

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        sid = request.cookies.get(COOKIE_NAME)
        if sid:
            found = self.store.load(sid)
            if found is not None:
                data, created = found
                return ServerSession(data, sid=sid, created=created)
        return ServerSession()

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        assert isinstance(session, ServerSession)
        if session.previous_sid is not None:
            self.store.delete(session.previous_sid)
        secure = self.cookie_secure(request)
        if not session:  # empty: logged out, or never used
            if session.sid is not None:
                self.store.delete(session.sid)
            if COOKIE_NAME in request.cookies or session.previous_sid is not None:
                response.delete_cookie(COOKIE_NAME, path="/", secure=secure, httponly=True, samesite="Lax")
            return
        response.vary.add("Cookie")
        if session.sid is None:
            session.sid = secrets.token_urlsafe(32)
            self.store.save(session.sid, dict(session), created=None)
            response.set_cookie(COOKIE_NAME, session.sid, path="/", secure=secure, httponly=True, samesite="Lax")
        elif session.modified:
            self.store.save(session.sid, dict(session), created=session.created)

"""The marking service: holds the keys, gives each enrolled workstation its viewer's tiles, keeps the ledger.

``leaktrace-agent serve`` runs it. One service serves every workstation; an
agent authenticates with its workstation's enrolment token
(``leaktrace-agent enrol``, stored hashed in the tokens file) and sends
the OS account it runs under. The service resolves the account to a viewer
(its account map or callback), and every tile it gives is recorded
(``agent-minute``) in the ledger under that workstation.

Protocol (JSON in and out, except the tile; ``Authorization: Bearer TOKEN``):

* ``POST /v1/session`` ``{"username", "session_id", "client"}`` ->
  ``{"session", "viewer_id", "display_name", "key_fingerprint", "strength", "workstation"}``;
  403 for an account nobody may be marked as.
* ``GET /v1/tile?session=S&minute=ISO`` -> 65,536 bytes, the tile's levels
  (:class:`agent.MarkTile`), headers ``X-Leaktrace-Half``,
  ``X-Leaktrace-Viewer``, ``X-Leaktrace-Minute``, ``X-Leaktrace-Recorded``.
* ``POST /v1/gap`` ``{"username", "session_id", "client", "start", "end", "reason"}``.
* ``POST /v1/end`` ``{"session", "reason"}``.

It listens over TLS when given a certificate; without one it only binds a
loopback address (tokens would cross the network in clear).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import os
import secrets
import ssl
import threading
import urllib.parse
from datetime import datetime, timezone
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from ._identity import IdentityError
from ._marks import MarkSourceError, Marker
from ._session import SessionState

__all__ = ["MarkService", "TOKENS_FORMAT", "WorkstationTokens"]

log = logging.getLogger("leaktrace.agent")

TOKENS_FORMAT = "leaktrace-agent-tokens"
_MAX_BODY = 64 * 1024


def _digest(token: str) -> str:
    return hashlib.sha256(b"leaktrace-agent-token\x00" + token.encode()).hexdigest()


class WorkstationTokens:
    """Enrolled workstations: name to the SHA-256 of its token (the tokens themselves are not kept).

    Examples
    --------
    >>> tokens = WorkstationTokens({})
    >>> token = tokens.enrol("WS-4B-112")
    >>> tokens.workstation(token), tokens.workstation("forged")
    ('WS-4B-112', None)
    """

    def __init__(self, digests: dict[str, str], path: Path | None = None) -> None:
        self.digests = dict(digests)
        self.path = path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> WorkstationTokens:
        """Read a tokens file; a missing file is an empty one (enrolment creates it).

        Raises
        ------
        ValueError
            If the file is not a tokens file.
        """
        where = Path(path)
        if not where.exists():
            return cls({}, where)
        try:
            doc = json.loads(where.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"cannot read the tokens file {where}: {exc}") from None
        if not isinstance(doc, dict) or doc.get("format") != TOKENS_FORMAT or not isinstance(
                doc.get("workstations"), dict):
            raise ValueError(f"{where} is not a {TOKENS_FORMAT} file")
        return cls({str(k): str(v) for k, v in doc["workstations"].items()}, where)

    def enrol(self, workstation: str) -> str:
        """A new token for ``workstation`` (replacing any earlier one), saved when the set has a path."""
        name = " ".join(str(workstation).split())
        if not name or len(name) > 128:
            raise ValueError("a workstation name must be 1 to 128 printable characters")
        token = secrets.token_urlsafe(32)
        self.digests[name] = _digest(token)
        if self.path is not None:
            text = json.dumps({"format": TOKENS_FORMAT, "version": 1, "workstations": self.digests}, indent=2)
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.write_text(text + "\n", encoding="utf-8")
            os.chmod(tmp, 0o600)
            os.replace(tmp, self.path)
        return token

    def workstation(self, token: str) -> str | None:
        """The workstation a token was issued to, or None (compared in constant time)."""
        digest = _digest(token)
        found = None
        for name, stored in self.digests.items():
            if hmac.compare_digest(stored, digest):
                found = name
        return found


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        log.debug("%s %s", self.address_string(), format % args)

    def _send(self, status: int, body: bytes, content_type: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, doc: dict[str, Any]) -> None:
        self._send(status, json.dumps(doc).encode())

    def _workstation(self) -> str | None:
        auth = self.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        name = self.server.tokens.workstation(token.strip()) if scheme.lower() == "bearer" else None
        if name is None:
            self._json(HTTPStatus.UNAUTHORIZED, {"error": "unknown or missing workstation token"})
        return name

    def _body(self) -> dict[str, Any] | None:
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if not 0 <= length <= _MAX_BODY:
            self._json(HTTPStatus.BAD_REQUEST, {"error": "bad Content-Length"})
            return None
        try:
            doc = json.loads(self.rfile.read(length) or b"{}")
        except (UnicodeDecodeError, json.JSONDecodeError):
            doc = None
        if not isinstance(doc, dict):
            self._json(HTTPStatus.BAD_REQUEST, {"error": "the body must be a JSON object"})
            return None
        return doc

    @staticmethod
    def _state(doc: dict[str, Any]) -> SessionState:
        username = doc.get("username")
        if not isinstance(username, str) or not username.strip():
            raise ValueError("username is required")
        return SessionState(username=username, session_id=str(doc.get("session_id", "")),
                            client=str(doc.get("client", "")))

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        workstation = self._workstation()
        if workstation is None:
            return
        doc = self._body()
        if doc is None:
            return
        marker = self.server.marker
        try:
            if self.path == "/v1/session":
                session = marker.open_session(self._state(doc), workstation)
                self._json(HTTPStatus.OK, {
                    "session": session.token, "viewer_id": session.identity.viewer_id,
                    "display_name": session.identity.display_name, "key_fingerprint": session.key_fingerprint,
                    "strength": session.strength, "workstation": workstation})
            elif self.path == "/v1/gap":
                start, end = (_parse_time(doc.get(k)) for k in ("start", "end"))
                marker.record_gap(self._state(doc), workstation, start, end, str(doc.get("reason", "")))
                self._json(HTTPStatus.OK, {"recorded": True})
            elif self.path == "/v1/end":
                ending = marker.session(str(doc.get("session", "")))
                if ending is not None and ending.workstation == workstation:
                    marker.close_session(ending, str(doc.get("reason", "")))
                self._json(HTTPStatus.OK, {"closed": ending is not None})
            else:
                self._json(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint {self.path}"})
        except IdentityError as exc:
            self._json(HTTPStatus.FORBIDDEN, {"error": str(exc)})
        except ValueError as exc:
            self._json(HTTPStatus.BAD_REQUEST, {"error": str(exc)})

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        workstation = self._workstation()
        if workstation is None:
            return
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/v1/tile":
            self._json(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint {url.path}"})
            return
        query = urllib.parse.parse_qs(url.query)
        session = self.server.marker.session(query.get("session", [""])[0])
        if session is None or session.workstation != workstation:
            self._json(HTTPStatus.NOT_FOUND, {"error": "no such session at this workstation"})
            return
        try:
            tile = self.server.marker.tile(session, _parse_time(query.get("minute", [""])[0]))
        except (ValueError, MarkSourceError) as exc:
            self._json(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
            return
        self._send(HTTPStatus.OK, tile.levels.tobytes(), "application/octet-stream", {
            "X-Leaktrace-Half": str(tile.half), "X-Leaktrace-Viewer": str(tile.viewer_id),
            "X-Leaktrace-Minute": tile.minute.isoformat(), "X-Leaktrace-Recorded": "yes" if tile.recorded else "no"})


def _parse_time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("a time must be an ISO 8601 string")
    when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if when.tzinfo is None:
        raise ValueError("a time must carry its UTC offset")
    return when.astimezone(timezone.utc)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], marker: Marker, tokens: WorkstationTokens) -> None:
        self.marker = marker
        self.tokens = tokens
        super().__init__(address, _Handler)


class MarkService:
    """The marking service, in a thread (tests, an embedding) or in the foreground (:meth:`serve_forever`).

    Parameters
    ----------
    marker : Marker
        Holds the key, the ledger and the account map.
    tokens : WorkstationTokens
    host, port : str, int
        Where to listen; port 0 picks a free one (see :attr:`url`).
    certfile, keyfile : path, optional
        TLS certificate and key; without them only a loopback host is allowed.

    Raises
    ------
    ValueError
        For a non-loopback host without TLS.
    """

    def __init__(self, marker: Marker, tokens: WorkstationTokens, *, host: str = "127.0.0.1", port: int = 0,
                 certfile: str | os.PathLike[str] | None = None,
                 keyfile: str | os.PathLike[str] | None = None) -> None:
        if certfile is None:
            try:
                loopback = ipaddress.ip_address(host).is_loopback
            except ValueError:
                loopback = host == "localhost"
            if not loopback:
                raise ValueError(f"serving on {host} needs TLS (--cert, --cert-key): tokens would cross the network "
                                 "in clear")
        self._server = _Server((host, port), marker, tokens)
        self.scheme = "http"
        if certfile is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.load_cert_chain(certfile, keyfile)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
            self.scheme = "https"
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The service's base URL, e.g. ``http://127.0.0.1:8791``."""
        host, port = self._server.server_address[:2]
        return f"{self.scheme}://{host!s}:{port}"

    def start(self) -> MarkService:
        """Serve in a daemon thread; returns self."""
        self._thread = threading.Thread(target=self._server.serve_forever, name="leaktrace-mark-service", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted."""
        self._server.serve_forever()

    def close(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> MarkService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

"""The agent's side of the marking service: :class:`ServiceMarks`, a :class:`~agent.MarkSource` over HTTP(S)."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from typing import Any

import numpy as np

from watermark.decoding import TILE

from ._identity import Identity, IdentityError
from ._marks import MarkSession, MarkSourceError, MarkTile, minute_start
from ._session import SessionState

__all__ = ["ServiceMarks"]


class ServiceMarks:
    """Tiles from the marking service (``leaktrace-agent serve``); the workstation holds only its token.

    Parameters
    ----------
    url : str
        The service's base URL (``https://marks.hospital.example:8791``).
    token : str
        This workstation's enrolment token (``leaktrace-agent enrol``).
    timeout_s : float
        Per request.
    cafile : path, optional
        CA bundle that signs the service's certificate (default: the system's).
    """

    def __init__(self, url: str, token: str, *, timeout_s: float = 5.0, cafile: str | None = None) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"the marking service URL must be http(s)://host:port, got {url!r}")
        if not token.strip():
            raise ValueError("the workstation token is empty")
        self.url = url.rstrip("/")
        self._token = token.strip()
        self.timeout_s = float(timeout_s)
        self._context = ssl.create_default_context(cafile=cafile) if parts.scheme == "https" else None

    def __repr__(self) -> str:
        return f"ServiceMarks({self.url!r})"

    def _request(self, method: str, path: str, doc: dict[str, Any] | None = None) -> tuple[bytes, Any]:
        data = json.dumps(doc).encode() if doc is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self._token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s, context=self._context) as response:
                return response.read(), response.headers
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("error", exc.reason)
            except (ValueError, AttributeError):
                message = exc.reason
            if exc.code == 403:
                raise IdentityError(f"marking service: {message}") from None
            raise MarkSourceError(f"marking service {self.url}: {exc.code} {message}", status=exc.code) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise MarkSourceError(f"marking service {self.url} unreachable: {reason}") from None

    def _json(self, path: str, doc: dict[str, Any]) -> dict[str, Any]:
        body, _ = self._request("POST", path, doc)
        try:
            answer = json.loads(body)
        except ValueError:
            raise MarkSourceError(f"marking service {self.url}: not a JSON answer") from None
        if not isinstance(answer, dict):
            raise MarkSourceError(f"marking service {self.url}: not a JSON object")
        return answer

    @staticmethod
    def _state_doc(state: SessionState) -> dict[str, Any]:
        return {"username": state.username, "session_id": state.session_id, "client": state.client}

    def open_session(self, state: SessionState) -> MarkSession:
        answer = self._json("/v1/session", self._state_doc(state))
        try:
            identity = Identity(viewer_id=int(answer["viewer_id"]), display_name=str(answer["display_name"]),
                                username=state.username)
            return MarkSession(token=str(answer["session"]), identity=identity,
                               workstation=str(answer["workstation"]), client=state.client,
                               key_fingerprint=str(answer["key_fingerprint"]), strength=float(answer["strength"]))
        except (KeyError, TypeError, ValueError):
            raise MarkSourceError(f"marking service {self.url}: malformed session answer") from None

    def tile(self, session: MarkSession, minute: datetime) -> MarkTile:
        minute = minute_start(minute)
        query = urllib.parse.urlencode({"session": session.token, "minute": minute.isoformat()})
        body, headers = self._request("GET", f"/v1/tile?{query}")
        try:
            half = int(headers["X-Leaktrace-Half"])
            viewer = int(headers["X-Leaktrace-Viewer"])
        except (KeyError, TypeError, ValueError):
            raise MarkSourceError(f"marking service {self.url}: tile without its headers") from None
        if len(body) != TILE * TILE or viewer != session.identity.viewer_id or not 1 <= half <= 64:
            raise MarkSourceError(f"marking service {self.url}: malformed tile")
        levels = np.frombuffer(body, np.uint8).reshape(TILE, TILE)
        if int(levels.max()) > 2 * half:
            raise MarkSourceError(f"marking service {self.url}: tile levels out of range")
        return MarkTile(viewer_id=viewer, minute=minute, half=half, levels=levels,
                        recorded=headers.get("X-Leaktrace-Recorded") == "yes")

    def record_gap(self, state: SessionState, start: datetime, end: datetime, reason: str) -> None:
        self._json("/v1/gap", {**self._state_doc(state), "start": start.isoformat(), "end": end.isoformat(),
                               "reason": reason})

    def close_session(self, session: MarkSession, reason: str) -> None:
        self._json("/v1/end", {"session": session.token, "reason": reason})

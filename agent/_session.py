"""Who is logged in at this workstation, and whether the session is locked or remote.

The agent never asks the user who they are: it reads the account from the
operating system and the session manager, every few seconds, and a change
(another user, a lock, a remote-desktop reconnect from another client)
ends the marked session and starts another.

* **Linux / X11**: the account is the process's effective user; the session
  is ``XDG_SESSION_ID``, and ``loginctl`` (systemd-logind) says whether it is
  locked (``LockedHint``) and whether it is remote (``Remote``, ``RemoteHost``).
  Without logind the session is never reported locked.
* **Windows** (Remote Desktop, Citrix): the Terminal Services API
  (``WTSQuerySessionInformationW`` for the current session): user, domain,
  client name, connection state and the lock flag of ``WTSSessionInfoEx``.
  Written to the documented API but not run here (no Windows in CI).
* **macOS**: the account only; the lock state is not read (not run here).
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any, Callable

__all__ = ["SessionState", "SessionProbe", "probe_session"]


@dataclass(frozen=True)
class SessionState:
    """One reading of the workstation's session.

    Attributes
    ----------
    username : str
        The OS account (``DOMAIN\\user`` on Windows when a domain is known).
    session_id : str
        The session manager's ID for the session ("" when there is none).
    locked : bool
        True while the screen is locked: nobody is shown anything, so nothing is marked.
    client : str
        The remote client (Remote Desktop or Citrix client name, SSH peer),
        "" for a local console. A reconnect from another client changes it.
    """

    username: str
    session_id: str = ""
    locked: bool = False
    client: str = ""

    def same_session(self, other: SessionState | None) -> bool:
        """True when ``other`` is the same user in the same session from the same client (lock state aside)."""
        return other is not None and (self.username, self.session_id, self.client) == (
            other.username, other.session_id, other.client)


SessionProbe = Callable[[], SessionState]
"""A function returning the current :class:`SessionState`; :func:`probe_session` is the default."""


def _os_user() -> str:
    if sys.platform == "win32":  # pragma: no cover - not run here
        return os.environ.get("USERNAME", "")
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name


def _logind(session_id: str) -> dict[str, str]:
    """``loginctl show-session`` properties of a session, {} when logind cannot say."""
    if not session_id:
        return {}
    try:
        out = subprocess.run(
            ["loginctl", "show-session", session_id, "-p", "LockedHint", "-p", "Remote", "-p", "RemoteHost",
             "-p", "Name"],
            capture_output=True, text=True, timeout=2.0, check=False)
    except (OSError, subprocess.SubprocessError):
        return {}
    if out.returncode != 0:
        return {}
    return dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)


def _probe_posix() -> SessionState:
    session_id = os.environ.get("XDG_SESSION_ID", "")
    props = _logind(session_id)
    client = props.get("RemoteHost", "") if props.get("Remote") == "yes" else ""
    if not client and os.environ.get("SSH_CONNECTION"):
        client = os.environ["SSH_CONNECTION"].split()[0]
    return SessionState(username=_os_user(), session_id=session_id, locked=props.get("LockedHint") == "yes",
                        client=client)


def _probe_windows() -> SessionState:  # pragma: no cover - not run here (no Windows in CI)
    wtsapi: Any = getattr(ctypes, "WinDLL")("wtsapi32")
    current_server, current_session = ctypes.c_void_p(0), ctypes.c_ulong(0xFFFFFFFF)

    def query(info_class: int) -> ctypes.c_void_p:
        buf, size = ctypes.c_void_p(), ctypes.c_ulong()
        if not wtsapi.WTSQuerySessionInformationW(current_server, current_session, info_class,
                                                  ctypes.byref(buf), ctypes.byref(size)):
            raise OSError("WTSQuerySessionInformationW failed")
        return buf

    def text(info_class: int) -> str:
        buf = query(info_class)
        try:
            return ctypes.wstring_at(buf.value) if buf.value else ""
        finally:
            wtsapi.WTSFreeMemory(buf)

    wts_session_id, wts_user, wts_domain, wts_client, wts_info_ex = 4, 5, 7, 10, 25
    buf = query(wts_session_id)
    session_id = str(ctypes.cast(buf, ctypes.POINTER(ctypes.c_ulong)).contents.value)
    wtsapi.WTSFreeMemory(buf)
    user, domain = text(wts_user), text(wts_domain)
    # WTSINFOEXW: Level (DWORD), then WTSINFOEX_LEVEL1_W: SessionId, SessionState (ints), SessionFlags (LONG).
    buf = query(wts_info_ex)
    fields = ctypes.cast(buf, ctypes.POINTER(ctypes.c_long * 4)).contents
    wtsapi.WTSFreeMemory(buf)
    wts_sessionstate_lock = 0
    return SessionState(username=f"{domain}\\{user}" if domain else user, session_id=session_id,
                        locked=fields[3] == wts_sessionstate_lock, client=text(wts_client))


def probe_session() -> SessionState:
    """Read the current session from the operating system.

    Returns
    -------
    SessionState

    Raises
    ------
    OSError
        If the operating system cannot say who is logged in.

    Examples
    --------
    >>> state = probe_session()
    >>> isinstance(state.username, str) and state.username != ""
    True
    """
    if sys.platform == "win32":  # pragma: no cover - not run here
        return _probe_windows()
    state = _probe_posix()
    if not state.username:
        raise OSError("the operating system did not report a user for this process")
    return state

"""The desktop screen agent: the leaktrace mark over any application, not only web pages.

Most record systems are desktop applications, often reached through Citrix
or Remote Desktop, and will not import a library. The agent lays the
invisible overlay (:func:`watermark.overlay`), and optionally the visible
mark, in a click-through, always-on-top, per-pixel translucent window over
every monitor, at one overlay pixel per device pixel on each monitor's own
scale, and renews the minute without a flicker.

* **Who**: the logged-in OS account (:func:`probe_session`), mapped to a
  viewer by the hospital's account file (:class:`AccountMap`) or an
  integrator's callback (:func:`load_callback`); locking, switching users
  and reconnecting change the mark (:class:`Marking`).
* **Tiles**: from the marking service (:class:`ServiceMarks`, served by
  :class:`MarkService`), so the workstation never holds the watermark key;
  or from a local :class:`Marker` (:class:`LocalMarks`) on one machine.
* **Ledger**: every session, marked minute and gap is a ledger row
  (actions :data:`AGENT_ACTIONS`); ``trace-leak --audit-log`` joins the EMR's
  own access log to say which records the viewer opened in that minute.
* **Failure**: no compositor, no service, an unknown account: the overlay is
  not drawn, the user sees a notice, the administrator a log line (syslog),
  the ledger a gap; the watchdog (``leaktrace-agent run``) restarts a dead
  or hung overlay.

Qt for Python is needed only for the overlay itself (the ``agent`` extra);
everything else here is importable without it.
"""

from ._client import ServiceMarks
from ._identity import AccountMap, Identity, IdentityError, IdentityResolver, load_callback
from ._marks import (
    AGENT_ACTIONS,
    SCREEN_RECORD,
    LocalMarks,
    Marker,
    MarkSession,
    MarkSource,
    MarkSourceError,
    MarkTile,
    minute_start,
)
from ._service import MarkService, WorkstationTokens
from ._session import SessionProbe, SessionState, probe_session
from ._state import Marking, MarkingStatus

__all__ = [
    "AGENT_ACTIONS",
    "AccountMap",
    "Identity",
    "IdentityError",
    "IdentityResolver",
    "LocalMarks",
    "MarkService",
    "MarkSession",
    "MarkSource",
    "MarkSourceError",
    "MarkTile",
    "Marker",
    "Marking",
    "MarkingStatus",
    "SCREEN_RECORD",
    "ServiceMarks",
    "SessionProbe",
    "SessionState",
    "WorkstationTokens",
    "load_callback",
    "minute_start",
    "probe_session",
]

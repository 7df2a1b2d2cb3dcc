"""The EMR's own access audit log, imported from its CSV export, joined with an agent's marked minute.

The desktop agent (``leaktrace-agent``) marks the whole screen and cannot
know which record it shows: its ledger rows say *who* was at *which
workstation* in *which minute*. The EMR knows which records that account
opened, and every EMR keeps an access audit log (HIPAA and its equivalents
require one). ``trace-leak --ledger ... --audit-log export.csv`` joins the
two: the records the viewer opened in the mark's minute, and the ones
opened before it in the same agent session (still on screen, perhaps).

CSV columns (a header row; names are matched without regard to case, other
columns are ignored):

==================  ========  ===============================================================
column              required  meaning
==================  ========  ===============================================================
``accessed_at``     yes       when the record was opened: ISO 8601 with a UTC offset
                              (``2026-03-01T09:30:12+01:00``, ``...Z``)
``record_id``       yes       the record as the EMR names it (``MRN 28110431``)
``viewer_id``       one of    the account as the mark carries it, or
``username``        the two   the OS / EMR login name, mapped through the account map the
                              agent's service uses (``--agent-accounts``)
``action``          no        ``open``, ``print``, ``export``, ... (default ``open``)
``workstation``     no        the EMR's name for the client machine
==================  ========  ===============================================================

A row that cannot be read (a bad time, a missing record) is an error naming
the line: an investigation must not silently lose an access.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping, Sequence

from ._errors import LedgerError
from ._records import View

__all__ = ["AUDIT_COLUMNS", "AUDIT_SESSION_LOOKBACK", "AuditEntry", "AuditJoin", "AuditLog", "format_audit_join"]

AUDIT_COLUMNS = ("accessed_at", "record_id", "viewer_id", "username", "action", "workstation")
"""The columns read from an audit export (see the module docstring)."""

MAX_BYTES = 512 * 1024 * 1024
AUDIT_SESSION_LOOKBACK = timedelta(hours=12)
"""How far back records opened before the mark's minute are listed when no agent session row bounds it."""


@dataclass(frozen=True)
class AuditEntry:
    """One access in the EMR's audit log."""

    accessed_at: datetime
    record_id: str
    viewer_id: int
    action: str = "open"
    workstation: str = ""
    line: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {"accessed_at": self.accessed_at.isoformat().replace("+00:00", "Z"), "record_id": self.record_id,
                "viewer_id": self.viewer_id, "action": self.action, "workstation": self.workstation,
                "line": self.line}


@dataclass(frozen=True)
class AuditJoin:
    """What the audit log says the viewer opened around a marked minute.

    Attributes
    ----------
    viewer_id : int
    minute : datetime
        Start of the mark's minute (UTC).
    in_minute : tuple of AuditEntry
        Records opened in that minute.
    before : tuple of AuditEntry
        Records opened earlier in the same agent session (since ``since``), newest first: possibly still on screen.
    since : datetime
        Start of the agent session that marked the minute (from the ledger), else the lookback's start.
    source : str
    """

    viewer_id: int
    minute: datetime
    in_minute: tuple[AuditEntry, ...]
    before: tuple[AuditEntry, ...]
    since: datetime
    source: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (``trace-leak --json``: the ``audit`` key)."""
        return {"source": self.source, "viewer_id": self.viewer_id,
                "minute": self.minute.isoformat().replace("+00:00", "Z"),
                "since": self.since.isoformat().replace("+00:00", "Z"),
                "in_minute": [e.to_dict() for e in self.in_minute], "before": [e.to_dict() for e in self.before]}


def _time(text: str, line: int, source: str) -> datetime:
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise LedgerError(f"audit log {source}, line {line}: accessed_at {text!r} is not an ISO 8601 time") from None
    if when.tzinfo is None or when.utcoffset() is None:
        raise LedgerError(f"audit log {source}, line {line}: accessed_at {text!r} has no UTC offset "
                          "(a local time cannot be placed against the mark's UTC minute)")
    return when.astimezone(timezone.utc)


@dataclass(frozen=True)
class AuditLog:
    """The accesses of an audit export, by viewer.

    Examples
    --------
    >>> log = AuditLog.from_text("accessed_at,record_id,viewer_id\\n2026-03-01T09:30:12Z,MRN 28110431,4821\\n")
    >>> join = log.join(4821, datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc))
    >>> [e.record_id for e in join.in_minute]
    ['MRN 28110431']
    """

    entries: tuple[AuditEntry, ...]
    source: str = ""

    @classmethod
    def from_text(cls, text: str, *, usernames: Mapping[str, int] | None = None, source: str = "") -> AuditLog:
        """Parse CSV text; ``usernames`` maps a ``username`` column to viewer IDs (case-insensitively).

        Raises
        ------
        LedgerError
            For a missing column or an unreadable row, naming the line.
        """
        where = source or "(given)"
        reader = csv.DictReader(io.StringIO(text))
        columns = {name.strip().lower(): name for name in (reader.fieldnames or ())}
        for needed in ("accessed_at", "record_id"):
            if needed not in columns:
                raise LedgerError(f"audit log {where}: no {needed} column (columns: {', '.join(columns) or 'none'})")
        if "viewer_id" not in columns and "username" not in columns:
            raise LedgerError(f"audit log {where}: needs a viewer_id or a username column")
        if "viewer_id" not in columns and usernames is None:
            raise LedgerError(f"audit log {where} names accounts by username: give the account map "
                              "(--agent-accounts) to map them to viewer IDs")
        folded = {k.strip().casefold(): v for k, v in (usernames or {}).items()}
        entries = []
        for row in reader:
            line = reader.line_num

            def get(name: str) -> str:
                return (row.get(columns[name]) or "").strip() if name in columns else ""

            record = get("record_id")
            if not record:
                raise LedgerError(f"audit log {where}, line {line}: empty record_id")
            if get("viewer_id"):
                try:
                    viewer = int(get("viewer_id"))
                except ValueError:
                    raise LedgerError(f"audit log {where}, line {line}: viewer_id {get('viewer_id')!r} "
                                      "is not a number") from None
            else:
                username = get("username")
                if username.casefold() not in folded:
                    continue  # an account the agent never marks (a service account, another site)
                viewer = folded[username.casefold()]
            entries.append(AuditEntry(accessed_at=_time(get("accessed_at"), line, where), record_id=record,
                                      viewer_id=viewer, action=get("action") or "open",
                                      workstation=get("workstation"), line=line))
        entries.sort(key=lambda e: e.accessed_at)
        return cls(tuple(entries), where)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, usernames: Mapping[str, int] | None = None) -> AuditLog:
        """Read a CSV export (UTF-8, with or without a byte-order mark).

        Raises
        ------
        LedgerError
            If the file cannot be read or parsed.
        """
        try:
            with open(path, "rb") as handle:
                data = handle.read(MAX_BYTES + 1)
        except OSError as exc:
            raise LedgerError(f"cannot read the audit log {path}: {exc.strerror or exc}") from None
        if len(data) > MAX_BYTES:
            raise LedgerError(f"audit log {path} is over {MAX_BYTES // 2**20} MiB: export the days around the leak")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise LedgerError(f"audit log {path} is not UTF-8 text") from None
        return cls.from_text(text, usernames=usernames, source=str(path))

    def join(self, viewer_id: int, minute: datetime, *, agent_rows: Sequence[View] = ()) -> AuditJoin:
        """The viewer's accesses in ``minute`` and earlier in the agent session that marked it.

        Parameters
        ----------
        viewer_id : int
        minute : datetime
            Any time in the mark's minute (aware).
        agent_rows : sequence of View
            The viewer's ledger rows around the minute; the latest ``agent-session`` row before the minute
            bounds "earlier" (else :data:`AUDIT_SESSION_LOOKBACK`).
        """
        start = minute.astimezone(timezone.utc).replace(second=0, microsecond=0)
        end = start + timedelta(minutes=1)
        sessions = [v.viewed_at for v in agent_rows if v.action == "agent-session" and v.viewed_at < end
                    and v.viewer_id == viewer_id]
        since = max(sessions) if sessions else start - AUDIT_SESSION_LOOKBACK
        own = [e for e in self.entries if e.viewer_id == viewer_id]
        in_minute = tuple(e for e in own if start <= e.accessed_at < end)
        before = tuple(sorted((e for e in own if since <= e.accessed_at < start), key=lambda e: e.accessed_at,
                              reverse=True))
        return AuditJoin(viewer_id, start, in_minute, before, since, self.source)


def format_audit_join(join: AuditJoin, *, limit: int = 8) -> str:
    """The join as text for a security officer (``trace-leak --audit-log``).

    >>> t = datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc)
    >>> print(format_audit_join(AuditJoin(4821, t, (), (), t - timedelta(hours=12), "audit.csv")))
    EMR audit log audit.csv: viewer 4821 opened NO record in 09:30Z, nor since 2026-02-28T21:30Z.
    """
    minute = join.minute.strftime("%H:%MZ")
    since = join.since.strftime("%Y-%m-%dT%H:%MZ")
    if not join.in_minute and not join.before:
        return f"EMR audit log {join.source}: viewer {join.viewer_id} opened NO record in {minute}, nor since {since}."

    def entry(e: AuditEntry) -> str:
        where = f", {e.workstation}" if e.workstation else ""
        return f"{e.record_id} ({e.action} at {e.accessed_at.strftime('%H:%M:%SZ')}{where}; line {e.line})"

    lines = [f"EMR audit log {join.source}: records viewer {join.viewer_id} opened"]
    if join.in_minute:
        lines.append(f"  in {minute}, the mark's minute:")
        lines += [f"    {entry(e)}" for e in join.in_minute]
    else:
        lines.append(f"  in {minute}, the mark's minute: none")
    if join.before:
        lines.append(f"  before it, since {since} (the screen may still have shown them):")
        lines += [f"    {entry(e)}" for e in join.before[:limit]]
        if len(join.before) > limit:
            lines.append(f"    ... and {len(join.before) - limit} earlier")
    return "\n".join(lines)

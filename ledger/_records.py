"""What the ledger holds and answers: :class:`View` rows, :class:`LedgerLookup` joins, and their text and JSON forms."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from watermark import OptionTypeError, Payload

from ._validate import iso, minute_of

if TYPE_CHECKING:
    from ._chain import ChainReport

__all__ = ["LedgerLookup", "View", "format_ledger_join", "ledger_join_dict"]


@dataclass(frozen=True)
class View:
    """One recorded, stamped view of a record.

    Attributes
    ----------
    view_id : int
        Ledger row number, increasing in commit order.
    view_uid : str
        Random 128-bit identifier (hex); safe to put in URLs.
    viewer_id : int
        The account, as carried by the watermark.
    display_name, record_id, workstation, client_address : str
    viewed_at : datetime
        UTC, microsecond resolution, from the viewer server's clock.
    key_fingerprint : str
        Fingerprint of the key the screen was stamped with.
    action : str
        What was shown: ``"view"`` for a record page, ``"export"`` for a
        server-rendered image, or another short word the viewer chooses.
    seq : int
        Position in the ledger's signed hash chain (1, 2, 3, ... in commit order).
    """

    view_id: int
    view_uid: str
    viewer_id: int
    display_name: str
    record_id: str
    workstation: str
    client_address: str
    viewed_at: datetime
    key_fingerprint: str
    action: str = "view"
    seq: int = 0

    @property
    def minute(self) -> int:
        """Minutes since 2020-01-01T00:00Z: the time field of the payload stamped for this view."""
        return minute_of(self.viewed_at)

    @property
    def payload(self) -> Payload:
        """The payload to stamp for this view (viewer ID and the view's minute)."""
        return Payload(viewer_id=self.viewer_id, timestamp=self.viewed_at)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form; times as ISO 8601 UTC strings."""
        return {
            "view_id": self.view_id,
            "view_uid": self.view_uid,
            "viewer_id": self.viewer_id,
            "display_name": self.display_name,
            "record_id": self.record_id,
            "workstation": self.workstation,
            "client_address": self.client_address,
            "viewed_at": iso(self.viewed_at),
            "key_fingerprint": self.key_fingerprint,
            "action": self.action,
            "seq": self.seq,
        }


@dataclass(frozen=True)
class LedgerLookup:
    """The ledger's answer for one decoded payload.

    Attributes
    ----------
    viewer_id : int
    timestamp : datetime
        Start of the payload's minute (UTC).
    window_minutes : int
    key_fingerprint : str or None
        When given, only views stamped under this key count as matches.
    matches : tuple of View
        The viewer's views in the payload's minute: the screen in the leak
        is one of these. More than one means the viewer opened several
        screens that minute; the leaked content tells which.
    surrounding : tuple of View
        The viewer's other views within ``window_minutes`` either side.
    workstation_views : tuple of View
        Views by *other* accounts on the matched workstations in the same
        window: who else was at that screen.
    ledger : str
        The ledger's URL, password removed.
    integrity : ChainReport or None
        The verification of the chain over the rows of the window and their
        neighbours; None when the ledger was opened without a ledger key.
    problems : tuple of str
        Every integrity problem and every display name the directory does not
        confirm. When there are any, nobody is named from this join.
    key_pinned : bool
        True when the chain was checked against a key given by the caller,
        False when against the key the ledger records for itself.
    """

    viewer_id: int
    timestamp: datetime
    window_minutes: int
    key_fingerprint: str | None
    matches: tuple[View, ...]
    surrounding: tuple[View, ...]
    workstation_views: tuple[View, ...] = ()
    ledger: str = ""
    integrity: ChainReport | None = None
    problems: tuple[str, ...] = ()
    key_pinned: bool = False

    @property
    def found(self) -> bool:
        """True when at least one recorded view matches the payload."""
        return bool(self.matches)

    @property
    def verified(self) -> bool:
        """True when the chain around the rows was checked and found intact, with no other problem."""
        return self.integrity is not None and not self.problems

    @property
    def named(self) -> bool:
        """True when the join may name the person: a match, and no integrity or directory problem."""
        return self.found and not self.problems

    @property
    def minute_text(self) -> str:
        """The payload's minute as ``YYYY-MM-DDTHH:MMZ``."""
        return self.timestamp.strftime("%Y-%m-%dT%H:%MZ")

    @property
    def window_start(self) -> datetime:
        """First minute of the surrounding window."""
        return self.timestamp - timedelta(minutes=self.window_minutes)

    @property
    def window_end(self) -> datetime:
        """Last minute of the surrounding window."""
        return self.timestamp + timedelta(minutes=self.window_minutes)

    @property
    def own_views(self) -> tuple[View, ...]:
        """The viewer's views in the window, matches included, in time order."""
        return tuple(sorted(self.matches + self.surrounding, key=lambda v: (v.viewed_at, v.view_id)))

    @property
    def workstations(self) -> tuple[str, ...]:
        """The workstations of the matched views, sorted."""
        return tuple(sorted({v.workstation for v in self.matches}))

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (see :func:`ledger_join_dict`)."""
        return ledger_join_dict(self)


def _check_lookup(lookup_result: object) -> LedgerLookup:
    if not isinstance(lookup_result, LedgerLookup):
        raise OptionTypeError(
            f"lookup_result must be a LedgerLookup, got {type(lookup_result).__name__}",
            name="lookup_result", value=lookup_result,
        )
    return lookup_result


def ledger_join_dict(lookup_result: LedgerLookup) -> dict[str, Any]:
    """The ledger join as a JSON-friendly dict, for ``trace-leak --json``.

    Parameters
    ----------
    lookup_result : LedgerLookup
        From :meth:`Ledger.lookup`.

    Returns
    -------
    dict
        ``ledger``, ``viewer_id``, ``minute`` (ISO), ``window_minutes``,
        ``key_fingerprint``, ``found``, ``matches``, ``surrounding``,
        ``workstation_views`` (lists of :meth:`View.to_dict`), ``verified``,
        ``named`` (False when a problem forbids naming anyone), ``integrity``
        (the chain check, or None when no ledger key was given) and ``problems``.

    Raises
    ------
    watermark.OptionTypeError
        If ``lookup_result`` is not a :class:`LedgerLookup` (a ``TypeError``).
    """
    r = _check_lookup(lookup_result)
    return {
        "ledger": r.ledger,
        "viewer_id": r.viewer_id,
        "minute": r.minute_text,
        "window_minutes": r.window_minutes,
        "key_fingerprint": r.key_fingerprint,
        "found": r.found,
        "matches": [v.to_dict() for v in r.matches],
        "surrounding": [v.to_dict() for v in r.surrounding],
        "workstation_views": [v.to_dict() for v in r.workstation_views],
        "verified": r.verified,
        "named": r.named,
        "integrity": r.integrity.to_dict() if r.integrity is not None else None,
        "key_pinned": r.key_pinned,
        "problems": list(r.problems),
    }


def _action_suffix(view: View, template: str) -> str:
    return "" if view.action == "view" else template.format(view.action)


def _view_line(view: View, marker: str = "") -> str:
    when = view.viewed_at.strftime("%H:%M:%S")
    action = _action_suffix(view, " [{}]")
    return f"    {when}Z  {view.record_id}{action}  on {view.workstation} from {view.client_address}{marker}"


def _integrity_lines(r: LedgerLookup) -> list[str]:
    """Why nobody is named, or that the chain was not checked."""
    if r.problems:
        lines = [
            f"ledger {r.ledger}: NOBODY IS NAMED from this ledger for viewer {r.viewer_id} at {r.minute_text}:",
            "  its rows around the mark fail verification, so what it says about who and where is not evidence.",
        ]
        lines += [f"  - {p}" for p in r.problems]
        lines.append(f"  Run: leaktrace-ledger verify {r.ledger} --key LEDGER.pub")
        return lines
    if r.integrity is None:
        return ["  (chain not verified: give the ledger's public key, trace-leak --ledger-key FILE, "
                "to check that these rows were not altered)"]
    pinned = "" if r.key_pinned else (
        " (the key the ledger records for itself: give trace-leak --ledger-key FILE to rule out a ledger "
        "re-signed under another key)")
    n = r.integrity.checked
    return [f"  chain verified: {n} row{'' if n == 1 else 's'} around the mark signed by ledger key "
            f"{r.integrity.signer} and linked{pinned}"]


def _match_lines(r: LedgerLookup) -> list[str]:
    """Who, which record, which workstation: the heart of the join."""
    if not r.matches:
        return [
            f"ledger {r.ledger}: NO recorded view by viewer {r.viewer_id} at {r.minute_text}.",
            "  The mark is genuine (it passed the keyed check), so this view was not",
            "  recorded in this ledger: check that it is the ledger of the viewer that",
            "  stamped it, and the viewer servers' clocks.",
        ]
    if len(r.matches) == 1:
        v = r.matches[0]
        return [
            f"ledger {r.ledger}: 1 recorded view by viewer {r.viewer_id} at {r.minute_text}",
            f"  who:          {v.display_name} (viewer {v.viewer_id})",
            f"  record:       {v.record_id}{_action_suffix(v, ' ({})')}",
            f"  workstation:  {v.workstation} (client {v.client_address})",
            f"  viewed at:    {iso(v.viewed_at)} (ledger view #{v.view_id})",
            f"  key:          {v.key_fingerprint}",
        ]
    names = ", ".join(sorted({v.display_name for v in r.matches}))
    lines = [
        (f"ledger {r.ledger}: {len(r.matches)} recorded views by viewer {r.viewer_id} at {r.minute_text}"
         " (the mark is per minute: the leaked content tells which)"),
        f"  who:          {names} (viewer {r.viewer_id})",
    ]
    lines += [
        f"  [{i}] {v.record_id}{_action_suffix(v, ' ({})')}  on {v.workstation} (client {v.client_address})"
        f"  at {iso(v.viewed_at)}  view #{v.view_id}  key {v.key_fingerprint}"
        for i, v in enumerate(r.matches, 1)
    ]
    return lines


def _window_lines(r: LedgerLookup) -> list[str]:
    """The viewer's other views, and other accounts at the same workstations, around the mark."""
    lo, hi = r.window_start.strftime("%H:%MZ"), r.window_end.strftime("%H:%MZ")
    lines: list[str] = []
    if r.surrounding:
        own = r.own_views
        matched = {v.view_id for v in r.matches}
        lines.append(f"  Views by viewer {r.viewer_id} between {lo} and {hi} ({len(own)}):")
        lines += [_view_line(v, "   <- this mark" if v.view_id in matched else "") for v in own]
    else:
        lines.append(f"  No other views by viewer {r.viewer_id} between {lo} and {hi}.")
    if not r.matches:
        return lines
    stations = ", ".join(r.workstations)
    if r.workstation_views:
        lines.append(f"  Other accounts on {stations} between {lo} and {hi}:")
        lines += [
            f"    {v.viewed_at.strftime('%H:%M:%S')}Z  {v.display_name} (viewer {v.viewer_id})  {v.record_id}"
            for v in r.workstation_views
        ]
    else:
        lines.append(f"  No other accounts on {stations} between {lo} and {hi}.")
    return lines


def format_ledger_join(lookup_result: LedgerLookup) -> str:
    """The ledger join as text for a security officer (``trace-leak --ledger``).

    Parameters
    ----------
    lookup_result : LedgerLookup
        From :meth:`Ledger.lookup`.

    Returns
    -------
    str
        Several lines, no trailing newline: who, which record, which
        workstation and client, when, the key, then the viewer's views in the
        surrounding window (the matched one marked) and other accounts seen
        on the same workstation.

    Raises
    ------
    watermark.OptionTypeError
        If ``lookup_result`` is not a :class:`LedgerLookup` (a ``TypeError``).

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> t = datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc)
    >>> print(format_ledger_join(LedgerLookup(4821, t, 5, None, (), (), (), "sqlite:///x.sqlite")))
    ledger sqlite:///x.sqlite: NO recorded view by viewer 4821 at 2026-03-01T09:30Z.
      The mark is genuine (it passed the keyed check), so this view was not
      recorded in this ledger: check that it is the ledger of the viewer that
      stamped it, and the viewer servers' clocks.
      No other views by viewer 4821 between 09:25Z and 09:35Z.
    """
    r = _check_lookup(lookup_result)
    if r.problems:
        return "\n".join(_integrity_lines(r))
    lines = _match_lines(r) + _window_lines(r)
    if r.integrity is not None or r.found:
        lines += _integrity_lines(r)
    return "\n".join(lines)

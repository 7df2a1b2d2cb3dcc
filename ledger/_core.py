"""The :class:`Ledger` front: opening by URL, validated writes, lookups; backends fill in four hooks."""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import threading
import urllib.parse
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

from watermark import EARLIEST_TIMESTAMP

from ._chain import ChainLink, ChainReport, Checkpoint, check_rows, head_bytes, link_row
from ._directory import Directory
from ._errors import LedgerError, LedgerIntegrityError, LedgerKeyError, LedgerURLError
from ._key import LedgerKey, as_key
from ._records import LedgerLookup, View
from ._validate import (
    minute_of,
    positive_seconds,
    redact,
    text_field,
    utc_field,
    viewer_id_field,
    window_field,
)

__all__ = [
    "COLUMNS",
    "DEFAULT_TIMEOUT_S",
    "DEFAULT_WINDOW_MINUTES",
    "INSERT_COLUMNS",
    "Ledger",
    "SCHEMA_VERSION",
    "TABLE",
    "view_from_row",
]

log = logging.getLogger(__name__)

DEFAULT_WINDOW_MINUTES = 5
"""Minutes either side of the mark's minute that a lookup reports as surrounding views."""

DEFAULT_TIMEOUT_S = 10.0
"""How long an operation may wait for a lock (SQLite) or a connection and statement (PostgreSQL)."""

SCHEMA_VERSION = 2
"""Version of the table layout, kept in ``leaktrace_meta``; a ledger of another version is refused.

Version 2 added the signed hash chain (``seq``, ``prev_hash``, ``row_hash``,
``signature``), the signed head and the checkpoints table."""

VERIFY_BATCH = 5000
"""Rows fetched at a time by a full verification."""

TABLE = "leaktrace_views"
INSERT_COLUMNS = (
    "view_uid, viewer_id, display_name, record_id, workstation, client_address, viewed_at, minute, "
    "key_fingerprint, action, seq, prev_hash, row_hash, signature"
)
COLUMNS = f"view_id, {INSERT_COLUMNS}"
CHAIN_COLUMNS = (
    "seq, view_uid, viewer_id, display_name, record_id, workstation, client_address, viewed_at, "
    "key_fingerprint, action, prev_hash, row_hash, signature, minute"
)
TRIGGERS = (f"{TABLE}_no_update", f"{TABLE}_no_delete", "leaktrace_checkpoints_no_change")
"""The append-only triggers every ledger must hold (names as in SQLite; PostgreSQL has its own)."""


def view_from_row(row: Sequence[Any], viewed_at: datetime) -> View:
    """A :class:`View` from a ``SELECT COLUMNS`` row; the backend converts ``viewed_at`` (column 7)."""
    return View(
        view_id=int(row[0]), view_uid=row[1], viewer_id=int(row[2]), display_name=row[3], record_id=row[4],
        workstation=row[5], client_address=row[6], viewed_at=viewed_at, key_fingerprint=row[9], action=row[10],
        seq=int(row[11]),
    )


def _head_seq(head: dict[str, Any] | None) -> int | None:
    """The position a stored head names, when it names one (it is verified separately)."""
    try:
        return int(head["seq"]) if head else None
    except (KeyError, TypeError, ValueError):
        return None


def chain_fields(row: Sequence[Any]) -> tuple[int, dict[str, Any], str, str, str, int]:
    """A ``SELECT CHAIN_COLUMNS`` row as :func:`ledger._chain.check_rows` takes it."""
    names = ("view_uid", "viewer_id", "display_name", "record_id", "workstation", "client_address", "viewed_at",
             "key_fingerprint", "action")
    fields = dict(zip(names, row[1:10]))
    return int(row[0]), fields, row[10], row[11], row[12], row[13]


def _open_url(text: str, *, read_only: bool, timeout_s: float, key: LedgerKey | None, repair: bool = False) -> Ledger:
    """Dispatch a URL or plain path to its backend."""
    from ._postgres import PostgresLedger
    from ._sqlite import SQLiteLedger

    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if scheme in ("postgresql", "postgres"):
        return PostgresLedger(text, read_only=read_only, timeout_s=timeout_s, key=key, repair=repair)
    if scheme == "sqlite":
        rest = text[len("sqlite://"):]
        if not rest.startswith("/") or len(rest) < 2:
            raise LedgerURLError(
                f"a SQLite ledger URL is sqlite:///relative/path or sqlite:////absolute/path, got {text!r}", url=text
            )
        path = urllib.parse.unquote(rest[1:].split("?", 1)[0])
        return SQLiteLedger(Path(path), read_only=read_only, timeout_s=timeout_s, key=key, repair=repair)
    if scheme:
        raise LedgerURLError(
            f"unsupported ledger URL scheme {scheme!r} in {redact(text)!r}: use sqlite:/// or postgresql://",
            url=redact(text),
        )
    return SQLiteLedger(Path(text), read_only=read_only, timeout_s=timeout_s, key=key, repair=repair)


class Ledger:
    """An append-only record of stamped views. Open one with :meth:`Ledger.open`.

    A ``Ledger`` holds one database connection and may be shared by the
    threads of one process (operations are serialised); each process opens
    its own. Use it as a context manager or call :meth:`close`.
    """

    backend: str = ""

    def __init__(self, url: str, *, read_only: bool, timeout_s: float, key: LedgerKey | None,
                 repair: bool = False) -> None:
        self._url = url
        self._repair = repair  # open for writing although the triggers are gone (restore_triggers only)
        self.read_only = read_only
        self.timeout_s = timeout_s
        self.ledger_key = key
        self.ledger_id = ""  # set by the backend once the schema is checked (_set_identity)
        self.key_pinned = key is not None
        self._lock = threading.RLock()
        self._closed = False

    # -- opening
    @staticmethod
    def open(
        url_or_path: str | os.PathLike[str], *, ledger_key: LedgerKey | str | os.PathLike[str] | None = None,
        read_only: bool = False, timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> Ledger:
        """Open (and, unless read-only, create) a ledger.

        Parameters
        ----------
        url_or_path : str or path
            ``sqlite:///relative/path.sqlite``, ``sqlite:////absolute/path``
            (SQLAlchemy's convention), a plain file path (SQLite), or
            ``postgresql://user:password@host:port/dbname?...`` (libpq URL;
            ``postgres://`` too).
        ledger_key : LedgerKey or path, keyword-only
            The ledger's signing key (``leaktrace-ledger keygen``), or its key
            file. Required to write: every row is signed and chained with it.
            A reader may give the public key, and lookups then verify the
            chain around every row they return (:attr:`LedgerLookup.integrity`).
        read_only : bool, keyword-only
            Open for lookups only (what a security officer's ``trace-leak
            --ledger`` does): a SQLite file must already exist, and a write
            raises :class:`LedgerError`.
        timeout_s : float, keyword-only
            SQLite: how long a write waits for another writer's lock.
            PostgreSQL: connect timeout and statement timeout.

        Returns
        -------
        Ledger

        Raises
        ------
        LedgerURLError
            If the URL scheme is not supported or the URL or path cannot name
            a ledger (a ``ValueError``).
        LedgerUnavailableError
            If the database cannot be reached, created or read now: missing
            file, locked, read-only, server down (an ``OSError``).
        LedgerSchemaError
            If the database is not a leaktrace ledger.
        LedgerKeyError
            If the ledger is opened for writing without a private ledger key,
            or the key file cannot be read.
        LedgerIntegrityError
            If the ledger is opened for writing and its append-only triggers
            are missing (someone dropped them: run ``leaktrace-ledger verify``).
        watermark.OptionError
            If ``timeout_s`` is not in (0, 3600] (a ``ValueError``).
        """
        timeout = positive_seconds(timeout_s, "timeout_s")
        key = as_key(ledger_key, "ledger_key")
        if not read_only and (key is None or not key.can_sign):
            raise LedgerKeyError(
                "a ledger opened for writing needs its private signing key (ledger_key=...; "
                "create one with: leaktrace-ledger keygen ledger.key)"
            )
        if isinstance(url_or_path, os.PathLike):
            from ._sqlite import SQLiteLedger

            return SQLiteLedger(Path(url_or_path), read_only=read_only, timeout_s=timeout, key=key)
        if not isinstance(url_or_path, str) or not url_or_path.strip():
            raise LedgerURLError(f"a ledger is a sqlite:/// or postgresql:// URL or a file path, got {url_or_path!r}")
        return _open_url(url_or_path.strip(), read_only=read_only, timeout_s=timeout, key=key)

    @property
    def url(self) -> str:
        """Where the ledger lives, password removed (safe to log and print)."""
        return redact(self._url)

    def __repr__(self) -> str:
        mode = "read-only" if self.read_only else "read-write"
        return f"<{type(self).__name__} {self.url} ({mode})>"

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection; further use raises :class:`LedgerError`."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._close()

    def _set_identity(self, ledger_id: str, public_hex: str | None) -> None:
        """Adopt the ledger's ID and recorded public key (backends call it once the schema is checked).

        A writer's key must be the recorded one; a reader's key may differ (a ledger re-signed under
        another key then fails verification against it). A reader given no key verifies against the recorded
        key, which shows any change made without re-signing the whole chain; ``key_pinned`` is then
        False, since only a key from elsewhere rules out a ledger re-signed under another key.
        """
        self.ledger_id = ledger_id
        recorded = None
        if public_hex:
            try:
                recorded = LedgerKey.from_dict({"format": "leaktrace-ledger-key", "version": 1, "public": public_hex})
            except LedgerKeyError:
                recorded = None
        if self.ledger_key is not None:
            if recorded is not None and recorded != self.ledger_key and not self.read_only:
                raise LedgerKeyError(
                    f"ledger {self.url} is signed by ledger key {recorded.fingerprint}, not by the key given "
                    f"({self.ledger_key.fingerprint})", url=self.url)
            self.key_pinned = True
        else:
            self.ledger_key = recorded
            self.key_pinned = False

    def _check_open(self) -> None:
        if self._closed:
            raise LedgerError(f"ledger {self.url} is closed", url=self.url)

    # -- writing
    def record_view(
        self,
        *,
        viewer_id: int,
        display_name: str,
        record_id: str,
        workstation: str,
        client_address: str,
        key_fingerprint: str,
        action: str = "view",
        viewed_at: datetime | None = None,
    ) -> View:
        """Durably record one stamped view, before the screen is shown.

        Parameters
        ----------
        viewer_id : int, keyword-only
            The account (0 .. 2**32 - 1), as the watermark will carry it.
        display_name, record_id, workstation, client_address : str, keyword-only
            Non-empty, at most 512 characters, no control characters.
        key_fingerprint : str, keyword-only
            ``Key.fingerprint`` of the key the screen is stamped with.
        action : str, keyword-only
            ``"view"`` (default), ``"export"``, ...
        viewed_at : datetime, keyword-only
            Timezone-aware; default now. Stamp the screen with
            ``View.payload`` so that mark and ledger agree to the minute.

        Returns
        -------
        View
            The committed row.

        Raises
        ------
        LedgerUnavailableError
            If the row could not be committed now (locked ledger, full disk,
            lost server, ...). Nothing is half-written.
        LedgerError
            If the ledger is open read-only or closed.
        LedgerFieldError, LedgerFieldTypeError
            For an invalid field, naming it in ``.field`` (a ``ValueError``,
            resp. ``TypeError``).
        """
        row: dict[str, Any] = {
            "view_uid": secrets.token_hex(16),
            "viewer_id": viewer_id_field(viewer_id),
            "display_name": text_field(display_name, "display_name"),
            "record_id": text_field(record_id, "record_id"),
            "workstation": text_field(workstation, "workstation"),
            "client_address": text_field(client_address, "client_address"),
            "key_fingerprint": text_field(key_fingerprint, "key_fingerprint"),
            "action": text_field(action, "action"),
        }
        when = utc_field(viewed_at, "viewed_at") if viewed_at is not None else datetime.now(timezone.utc)
        row["viewed_at"] = when
        row["minute"] = minute_of(when)
        with self._lock:
            self._check_open()
            if self.read_only:
                raise LedgerError(f"ledger {self.url} is open read-only; the view was not recorded", url=self.url)
            key, ledger_id = self.ledger_key, self.ledger_id
            assert key is not None  # open() refuses a writer without one

            def link(previous: tuple[int, str] | None) -> ChainLink:
                return link_row(key, ledger_id, previous, row)

            view_id, chained = self._insert(row, link)
        view = View(view_id=view_id, seq=chained.seq, **{k: v for k, v in row.items() if k != "minute"})
        log.debug("recorded view %s of %s by viewer %s", view.view_id, view.record_id, view.viewer_id)
        return view

    # -- reading
    def get_view(self, view_uid: str) -> View | None:
        """The view with this UID, or None.

        Raises
        ------
        LedgerError
            If the ledger cannot be read.
        """
        if not isinstance(view_uid, str) or not re.fullmatch(r"[0-9a-f]{32}", view_uid):
            return None
        rows = self._select("view_uid = ?", (view_uid,))
        return rows[0] if rows else None

    def views(
        self, *, viewer_id: int | None = None, since: datetime | None = None, until: datetime | None = None,
        record_id: str | None = None,
    ) -> list[View]:
        """Recorded views in commit order, optionally for one viewer, one record and a time range.

        Parameters
        ----------
        viewer_id : int, keyword-only
        record_id : str, keyword-only
            Only the views of this record (the candidates of ``trace-leak --record``).
        since, until : datetime, keyword-only
            Inclusive lower and exclusive upper bound on ``viewed_at``.

        Returns
        -------
        list of View

        Raises
        ------
        LedgerError
            If the ledger cannot be read.
        LedgerFieldError, LedgerFieldTypeError
            For an invalid viewer ID or time.
        """
        clauses: list[str] = []
        params: list[Any] = []
        lo = utc_field(since, "since") if since is not None else None
        hi = utc_field(until, "until") if until is not None else None
        if viewer_id is not None:
            clauses.append("viewer_id = ?")
            params.append(viewer_id_field(viewer_id))
        if record_id is not None:
            clauses.append("record_id = ?")
            params.append(text_field(record_id, "record_id"))
        if lo is not None:
            clauses.append("minute >= ?")
            params.append(minute_of(lo))
        if hi is not None:
            clauses.append("minute <= ?")
            params.append(minute_of(hi))
        rows = self._select(" AND ".join(clauses) or "1 = 1", tuple(params))
        return [v for v in rows if (lo is None or v.viewed_at >= lo) and (hi is None or v.viewed_at < hi)]

    def count(self) -> int:
        """Number of recorded views.

        Raises
        ------
        LedgerError
            If the ledger cannot be read.
        """
        with self._lock:
            self._check_open()
            return self._count()

    def lookup(
        self,
        viewer_id: int,
        timestamp: datetime,
        *,
        window_minutes: int = DEFAULT_WINDOW_MINUTES,
        key_fingerprint: str | None = None,
        directory: Directory | None = None,
    ) -> LedgerLookup:
        """Join a decoded payload with the ledger.

        Parameters
        ----------
        viewer_id : int
            ``Payload.viewer_id`` from the trace.
        timestamp : datetime
            ``Payload.timestamp`` (any time within the minute).
        window_minutes : int, keyword-only
            Minutes either side reported as surrounding views (0 .. 1440).
        key_fingerprint : str, keyword-only
            ``TraceResult.key_fingerprint``: matches must have been stamped
            under that key.
        directory : Directory, keyword-only
            The viewer's account directory: each match's display name must be
            the one it lists for the viewer ID (else a problem is reported).

        When the ledger was opened with a ledger key, the chain is verified
        over every row of the window and one row either side
        (:attr:`LedgerLookup.integrity`); any problem there or with the
        directory is in :attr:`LedgerLookup.problems`, and
        :attr:`LedgerLookup.named` is then False.

        Returns
        -------
        LedgerLookup

        Raises
        ------
        LedgerError
            If the ledger cannot be read.
        LedgerFieldError, LedgerFieldTypeError
            For an invalid viewer ID or timestamp.
        watermark.OptionError, watermark.OptionTypeError
            If ``window_minutes`` is not an int in 0..1440.

        Examples
        --------
        See the package docstring.
        """
        viewer_id = viewer_id_field(viewer_id)
        minute = minute_of(utc_field(timestamp, "timestamp"))
        window = window_field(window_minutes)
        lo, hi = minute - window, minute + window
        own = self._select("viewer_id = ? AND minute BETWEEN ? AND ?", (viewer_id, lo, hi))
        matches = tuple(
            v for v in own if v.minute == minute and (key_fingerprint is None or v.key_fingerprint == key_fingerprint)
        )
        match_ids = {v.view_id for v in matches}
        others = self._others_at(sorted({v.workstation for v in matches}), lo, hi, viewer_id)
        integrity = None
        if self.ledger_key is not None:
            with self._lock:
                self._check_open()
                span = self._seq_span(lo, hi)
            integrity = self._verify_span(span, scope=f"every row of minutes {lo}..{hi} and their neighbours")
        problems: tuple[str, ...] = integrity.problems if integrity is not None else ()
        if directory is not None:
            problems += tuple(directory.mismatches(matches))
        return LedgerLookup(
            viewer_id=viewer_id,
            timestamp=EARLIEST_TIMESTAMP + timedelta(minutes=minute),
            window_minutes=window,
            key_fingerprint=key_fingerprint,
            matches=matches,
            surrounding=tuple(v for v in own if v.view_id not in match_ids),
            workstation_views=others,
            ledger=self.url,
            integrity=integrity,
            problems=problems,
            key_pinned=self.key_pinned,
        )

    # -- integrity
    def _verifier(self, key: LedgerKey | None) -> LedgerKey:
        chosen = key if key is not None else self.ledger_key
        if chosen is None:
            raise LedgerKeyError(
                f"verifying ledger {self.url} needs its public ledger key (ledger_key=... or key=...)", url=self.url
            )
        return chosen

    def _verify_span(self, span: tuple[int, int] | None, *, scope: str, key: LedgerKey | None = None,
                     checkpoints: Sequence[Checkpoint] = ()) -> ChainReport:
        """Check positions ``span`` (and one either side), the signed head, the triggers and checkpoints."""
        verifier = self._verifier(key)
        with self._lock:
            self._check_open()
            head = self._head()
            top = self._max_seq()
            missing = self._missing_triggers()
            problems: list[tuple[int | None, str]] = []
            checked = 0
            hashes: dict[int, str] = {}
            if span is not None:
                start, stop = max(1, span[0] - 1), min(max(top, span[1]), span[1] + 1)
                pending: list[int] = []
                checked, found, hashes = check_rows(
                    self._chain_rows(start, stop), verifier, self.ledger_id, start=start, stop=stop,
                    pending_after=_head_seq(head), pending=pending)
                problems += found
                # A neighbour still being signed does not matter; a row the caller uses must be signed.
                problems += [(seq, f"row at position {seq} is not signed yet (recorded moments ago): "
                                   f"nobody is named from it") for seq in pending if span[0] <= seq <= span[1]]
            stored = self._stored_checkpoints()
        problems += self._head_problems(head, top, hashes, verifier)
        for point in (*stored, *checkpoints):
            problems += self._checkpoint_problems(point, top, hashes, verifier)
        if missing:
            problems.append((None, "the append-only triggers " + ", ".join(missing) + " are missing (dropped)"))
        ordered = sorted(problems, key=lambda p: (p[0] is None, p[0] or 0))
        first = next((seq for seq, _ in ordered if seq is not None), None)
        return ChainReport(
            ok=not ordered, checked=checked, first_bad_seq=first, problems=tuple(text for _, text in ordered),
            head_seq=top, signer=verifier.fingerprint, scope=scope, checkpoints=len(stored) + len(checkpoints),
            triggers_ok=not missing,
        )

    def _head_problems(self, head: dict[str, Any] | None, top: int, hashes: dict[int, str],
                       key: LedgerKey) -> list[tuple[int | None, str]]:
        if head is None:
            return [] if top == 0 else [(None, "the ledger's signed head is missing")]
        try:
            seq, digest, signature = int(head["seq"]), str(head["row_hash"]), bytes.fromhex(str(head["signature"]))
        except (KeyError, TypeError, ValueError):
            return [(None, "the ledger's signed head is malformed")]
        if not key.verify(signature, head_bytes(self.ledger_id, seq, digest)):
            return [(None, f"the ledger's head is not signed by ledger key {key.fingerprint}")]
        if seq > top:
            return [(top + 1, f"the signed head is at position {seq} but the last row is {top} (rows removed from the end)")]
        if seq < top:
            # Writers sign the head after their rows: rows after it are fine when each is linked and signed
            # (or still being signed); any other problem there is one.
            with self._lock:
                rows = self._chain_rows(max(1, seq), top)
            _, after, _ = check_rows(rows, key, self.ledger_id, start=max(1, seq), stop=top, pending_after=seq, pending=[])
            if after:
                return [(after[0][0], f"rows after position {seq}, which the signed head covers, do not check out: "
                                      f"{after[0][1]}")]
        if seq > 0 and self._row_hash_at(seq, hashes) != digest:
            return [(seq, f"the last row (position {seq}) is not the one the signed head names")]
        return []

    def _row_hash_at(self, seq: int, hashes: dict[int, str]) -> str | None:
        """The stored hash of position ``seq``, from rows already read or read now."""
        if seq in hashes:
            return hashes[seq]
        with self._lock:
            rows = self._chain_rows(seq, seq)
        return str(rows[0][3]) if rows else None

    def _checkpoint_problems(self, point: Checkpoint, top: int, hashes: dict[int, str],
                             key: LedgerKey) -> list[tuple[int | None, str]]:
        where = f"checkpoint of position {point.seq} ({point.created_at})"
        if point.ledger_id != self.ledger_id:
            return [(None, f"{where} belongs to another ledger ({point.ledger_id})")]
        if not point.valid(key):
            return [(None, f"{where} is not signed by ledger key {key.fingerprint}")]
        if point.seq > top:
            return [(top + 1, f"{where}: the ledger now ends at position {top} (rows removed from the end)")]
        if point.seq > 0 and self._row_hash_at(point.seq, hashes) != point.row_hash:
            return [(point.seq, f"{where}: the row there is not the one the checkpoint names (rewritten)")]
        return []

    def verify(self, *, key: LedgerKey | str | os.PathLike[str] | None = None,
               checkpoints: Sequence[Checkpoint] = ()) -> ChainReport:
        """Check the whole chain: every row's content, signature and link, the head, triggers, checkpoints.

        Parameters
        ----------
        key : LedgerKey or path, keyword-only
            The public (or private) ledger key; default the key the ledger was opened with.
        checkpoints : sequence of Checkpoint, keyword-only
            Checkpoints exported earlier and kept elsewhere (see :meth:`checkpoint`), checked
            in addition to those the ledger stores.

        Returns
        -------
        ChainReport
            ``ok`` and, when broken, ``first_bad_seq`` and every problem found.

        Raises
        ------
        LedgerKeyError
            If no key is given and the ledger was opened without one.
        LedgerError
            If the ledger cannot be read.
        """
        verifier = self._verifier(as_key(key, "key"))
        with self._lock:
            self._check_open()
            top = self._max_seq()
            head_seq = _head_seq(self._head())
        found: list[tuple[int, str]] = []
        checked = 0
        for start in range(1, top + 1, VERIFY_BATCH):
            # each batch starts one row early, so that the link across batches is checked too
            lo, hi = max(1, start - 1), min(top, start + VERIFY_BATCH - 1)
            with self._lock:
                self._check_open()
                rows = self._chain_rows(lo, hi)
            n, problems, _ = check_rows(rows, verifier, self.ledger_id, start=lo, stop=hi,
                                        pending_after=head_seq, pending=[])
            checked += n - (start - lo)
            found += [p for p in problems if p not in found]
        tail = self._verify_span(None, scope="full", key=verifier, checkpoints=checkpoints)
        texts = [text for _, text in sorted(found)]
        texts += [text for text in tail.problems if text not in texts]
        firsts = [seq for seq, _ in found] + ([tail.first_bad_seq] if tail.first_bad_seq is not None else [])
        return ChainReport(
            ok=not texts, checked=checked, first_bad_seq=min(firsts) if firsts else None, problems=tuple(texts),
            head_seq=top, signer=verifier.fingerprint, scope="full", checkpoints=tail.checkpoints,
            triggers_ok=tail.triggers_ok,
        )

    def verify_views(self, views: Sequence[View]) -> ChainReport:
        """Check each of these views' rows and its links to the rows either side, the head and triggers.

        What ``trace-leak --record`` calls on its candidates before naming any of them.

        Raises
        ------
        LedgerKeyError
            If the ledger was opened without a ledger key.
        """
        verifier = self._verifier(None)
        problems: list[str] = []
        first: int | None = None
        checked = 0
        seqs = sorted({v.seq for v in views})
        runs: list[tuple[int, int]] = []
        for seq in seqs:
            if runs and seq <= runs[-1][1] + 3:
                runs[-1] = (runs[-1][0], seq)
            else:
                runs.append((seq, seq))
        for lo, hi in runs:
            report = self._verify_span((lo, hi), scope="", key=verifier)
            checked += report.checked
            for text in report.problems:
                if text not in problems:
                    problems.append(text)
            if report.first_bad_seq is not None:
                first = report.first_bad_seq if first is None else min(first, report.first_bad_seq)
        if not runs:
            report = self._verify_span(None, scope="", key=verifier)
            problems += list(report.problems)
        for view in views:
            if view.seq <= 0:
                problems.append(f"view {view.view_uid} has no chain position")
        with self._lock:
            top = self._max_seq()
        return ChainReport(ok=not problems, checked=checked, first_bad_seq=first, problems=tuple(problems),
                           head_seq=top, signer=verifier.fingerprint,
                           scope=f"{len(seqs)} rows and their neighbours")

    def checkpoint(self) -> Checkpoint:
        """Sign and store a checkpoint of the chain's current end, and return it for export.

        Keep the exported checkpoints where the viewer servers cannot write
        (``leaktrace-ledger checkpoint URL --out FILE`` appends one as a JSON
        line); :meth:`verify` with them proves that nothing up to them was
        removed or rewritten.

        Raises
        ------
        LedgerError
            If the ledger is read-only or cannot be written.
        """
        with self._lock:
            self._check_open()
            if self.read_only or self.ledger_key is None:
                raise LedgerError(f"ledger {self.url} is open read-only; no checkpoint was made", url=self.url)
            key = self.ledger_key
            return self._store_checkpoint(lambda seq, digest: Checkpoint.make(key, self.ledger_id, seq, digest))

    def restore_triggers(self) -> list[str]:
        """Re-create missing append-only triggers after :meth:`verify` found the chain intact; returns their names."""
        with self._lock:
            self._check_open()
            if self.read_only:
                raise LedgerError(f"ledger {self.url} is open read-only", url=self.url)
            missing = self._missing_triggers()
            if missing:
                log.warning("ledger %s: re-creating append-only triggers %s", self.url, ", ".join(missing))
                self._create_triggers()
            return missing

    def _others_at(self, stations: list[str], lo: int, hi: int, viewer_id: int) -> tuple[View, ...]:
        """Views by other accounts on these workstations between minutes ``lo`` and ``hi``."""
        if not stations:
            return ()
        marks = ", ".join("?" for _ in stations)
        return tuple(
            self._select(
                f"workstation IN ({marks}) AND minute BETWEEN ? AND ? AND viewer_id <> ?",
                (*stations, lo, hi, viewer_id),
            )
        )

    def _select(self, where: str, params: Sequence[Any]) -> list[View]:
        with self._lock:
            self._check_open()
            return self._query(where, tuple(params))

    # -- backend hooks (called with the lock held)
    def _insert(self, row: dict[str, Any], link: Callable[[tuple[int, str] | None], ChainLink]) -> tuple[int, ChainLink]:
        """In one transaction that excludes other writers: read the last ``(seq, row_hash)``, chain the row
        with ``link``, insert it and sign the new head (:meth:`_head_record`); return its view ID and link."""
        raise NotImplementedError  # pragma: no cover - abstract

    def _head_record(self, chained: ChainLink) -> str:
        """The signed head, as stored in ``leaktrace_meta``, after ``chained``."""
        assert self.ledger_key is not None
        signature = self.ledger_key.sign(head_bytes(self.ledger_id, chained.seq, chained.row_hash)).hex()
        return json.dumps({"seq": chained.seq, "row_hash": chained.row_hash, "signature": signature})

    def _head(self) -> dict[str, Any] | None:
        """The stored signed head, parsed (None when absent or not JSON)."""
        text = self._meta("head")
        if text is None:
            return None
        try:
            value = json.loads(text)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def _meta(self, name: str) -> str | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _max_seq(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def _seq_span(self, lo_minute: int, hi_minute: int) -> tuple[int, int] | None:  # pragma: no cover - abstract
        """Smallest and largest chain position of rows with minute in ``lo..hi`` (None: no rows)."""
        raise NotImplementedError

    def _chain_rows(self, lo: int, hi: int) -> list[tuple[int, dict[str, Any], str, str, str, int]]:
        """Rows at positions ``lo..hi`` as :func:`chain_fields` tuples, in position order."""
        raise NotImplementedError  # pragma: no cover - abstract

    def _missing_triggers(self) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _create_triggers(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _stored_checkpoints(self) -> list[Checkpoint]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _store_checkpoint(self, make: Callable[[int, str], Checkpoint]) -> Checkpoint:  # pragma: no cover
        """In one writer transaction: sign the current end with ``make(seq, row_hash)`` and store it."""
        raise NotImplementedError

    def _query(self, where: str, params: tuple[Any, ...]) -> list[View]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _count(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def _close(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

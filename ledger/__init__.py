"""The access ledger: every stamped view, recorded durably, and its join with a trace.

A watermark names an *account and a minute*. The ledger turns that into
evidence: which record that account opened in that minute, on which
workstation, from which client address, under which key, and what else the
account (and anyone else at that workstation) looked at around it. The EMR
viewer writes it (:meth:`Ledger.record_view`, before a screen is shown);
``trace-leak --ledger`` reads it (:meth:`Ledger.lookup`).

Backends
--------
* **SQLite** (default, embedded): a file opened in WAL mode with
  ``synchronous=FULL`` (every commit is fsynced to the write-ahead log before
  :meth:`Ledger.record_view` returns) and a busy timeout, so many viewer
  processes on one host can write concurrently without losing a row.
* **PostgreSQL** (``postgresql://...``, needs ``psycopg``: the ``postgres``
  extra): one transaction per view, committed with the server's default
  synchronous commit. A lost connection is re-established once and the
  write retried; the insert is idempotent (keyed by a random view UID), so a
  retry never records a view twice.

Both keep one append-only table, ``leaktrace_views``; triggers refuse
``UPDATE`` and ``DELETE`` on it.

Evidence that holds
-------------------
Triggers stop mistakes, not an insider who can write the database. So every
row is also signed with the ledger's own Ed25519 key (:class:`LedgerKey`,
separate from the watermark key; the viewer servers hold the private half)
and chained to the row before it; a signed head and signed checkpoints pin
the chain's end (:mod:`ledger._chain`). :meth:`Ledger.verify` and
``leaktrace-ledger verify`` report the first broken link; :meth:`Ledger.lookup`
verifies the rows around every match it returns and, with a
:class:`Directory`, checks the display names, and names nobody
(:attr:`LedgerLookup.named` False) when anything fails. Export checkpoints
(``leaktrace-ledger checkpoint --out``) to storage the viewers cannot write.

Errors
------
Every failure raises a :class:`LedgerError` (a :class:`watermark.LeaktraceError`);
a viewer must treat any of them as "do not show the record". Its subclasses
tell the cases apart: :class:`LedgerUnavailableError` (an ``OSError``: locked,
unreachable, missing, read-only; retry later), :class:`LedgerURLError` (a
``ValueError``: the URL cannot name a ledger), :class:`LedgerSchemaError` (not
a leaktrace ledger), :class:`LedgerFieldError` / :class:`LedgerFieldTypeError`
(a ``ValueError`` / ``TypeError``: an invalid field, named in ``.field``). Each
carries ``.url``, the ledger's URL without its password.

Examples
--------
>>> import tempfile, os
>>> from datetime import datetime, timezone
>>> with tempfile.TemporaryDirectory() as folder:
...     signing_key = LedgerKey.generate()  # leaktrace-ledger keygen; kept by the viewer servers
...     with Ledger.open(f"sqlite:///{os.path.join(folder, 'ledger.sqlite')}", ledger_key=signing_key) as ledger:
...         view = ledger.record_view(viewer_id=4821, display_name="Dr. Marek Lindqvist",
...                                   record_id="MRN 28110431", workstation="WS-4B-112",
...                                   client_address="10.20.4.112", key_fingerprint="1a2b-3c4d-5e6f-7a8b",
...                                   viewed_at=datetime(2026, 3, 1, 9, 30, 17, tzinfo=timezone.utc))
...         join = ledger.lookup(4821, datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc))
>>> [v.record_id for v in join.matches], join.matches[0].workstation
(['MRN 28110431'], 'WS-4B-112')
>>> print(format_ledger_join(join).splitlines()[1])
  who:          Dr. Marek Lindqvist (viewer 4821)
"""

from __future__ import annotations

from ._audit import AUDIT_COLUMNS, AUDIT_SESSION_LOOKBACK, AuditEntry, AuditJoin, AuditLog, format_audit_join
from ._chain import ChainReport, Checkpoint
from ._core import DEFAULT_TIMEOUT_S, DEFAULT_WINDOW_MINUTES, SCHEMA_VERSION, Ledger
from ._directory import Directory
from ._errors import (
    LedgerError,
    LedgerFieldError,
    LedgerFieldTypeError,
    LedgerIntegrityError,
    LedgerKeyError,
    LedgerSchemaError,
    LedgerUnavailableError,
    LedgerURLError,
)
from ._key import LedgerKey, LedgerKeyWarning
from ._records import LedgerLookup, View, format_ledger_join, ledger_join_dict
from ._validate import MAX_TIMEOUT_S, MAX_WINDOW_MINUTES

__all__ = [
    "AUDIT_COLUMNS",
    "AUDIT_SESSION_LOOKBACK",
    "AuditEntry",
    "AuditJoin",
    "AuditLog",
    "DEFAULT_TIMEOUT_S",
    "DEFAULT_WINDOW_MINUTES",
    "MAX_TIMEOUT_S",
    "MAX_WINDOW_MINUTES",
    "SCHEMA_VERSION",
    "ChainReport",
    "Checkpoint",
    "Directory",
    "Ledger",
    "LedgerError",
    "LedgerFieldError",
    "LedgerFieldTypeError",
    "LedgerIntegrityError",
    "LedgerKey",
    "LedgerKeyError",
    "LedgerKeyWarning",
    "LedgerLookup",
    "LedgerSchemaError",
    "LedgerURLError",
    "LedgerUnavailableError",
    "View",
    "format_audit_join",
    "format_ledger_join",
    "ledger_join_dict",
]

"""Compatibility re-export: the access ledger is now the top-level :mod:`ledger` package.

Import it from there (``import ledger`` / ``from ledger import Ledger``); this
module keeps ``tracer.ledger`` working for callers of version 0.1.
"""

from __future__ import annotations

from ledger import (
    DEFAULT_TIMEOUT_S,
    DEFAULT_WINDOW_MINUTES,
    Ledger,
    LedgerError,
    LedgerFieldError,
    LedgerFieldTypeError,
    LedgerLookup,
    LedgerSchemaError,
    LedgerUnavailableError,
    LedgerURLError,
    View,
    format_ledger_join,
    ledger_join_dict,
)

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "DEFAULT_WINDOW_MINUTES",
    "Ledger",
    "LedgerError",
    "LedgerFieldError",
    "LedgerFieldTypeError",
    "LedgerLookup",
    "LedgerSchemaError",
    "LedgerURLError",
    "LedgerUnavailableError",
    "View",
    "format_ledger_join",
    "ledger_join_dict",
]

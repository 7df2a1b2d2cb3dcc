"""Errors of the access ledger: one base, :class:`LedgerError`, and the kinds a caller tells apart.

Every class derives :class:`watermark.LeaktraceError` (the project's root, which
the command-line tools catch) and, where one fits, the builtin a caller would
catch for that kind of problem. Each carries ``.url``: the ledger's URL with any
password replaced by ``***`` (never the password itself), or None when the
error concerns no particular ledger.

>>> try:
...     raise LedgerFieldError("viewer_id must be in 0..4294967295, got -1", field="viewer_id", value=-1)
... except ValueError as exc:
...     (exc.field, exc.value, isinstance(exc, LedgerError))
('viewer_id', -1, True)
"""

from __future__ import annotations

from typing import Any

from watermark import LeaktraceError

__all__ = [
    "LedgerError",
    "LedgerFieldError",
    "LedgerFieldTypeError",
    "LedgerIntegrityError",
    "LedgerKeyError",
    "LedgerSchemaError",
    "LedgerURLError",
    "LedgerUnavailableError",
]


class LedgerError(LeaktraceError):
    """The access ledger cannot be opened, read or written.

    A viewer that gets this must not display the record: an unrecorded view
    is exactly what the ledger exists to prevent.

    Parameters
    ----------
    message : str
        What went wrong.
    url : str or None, keyword-only
        The ledger, password removed; kept as ``.url``.
    """

    def __init__(self, message: str, *, url: str | None = None, **details: Any) -> None:
        super().__init__(message, url=url, **details)
        self.url = url


class LedgerURLError(LedgerError, ValueError):
    """The URL or path cannot name a ledger (unsupported scheme, malformed URL, in-memory, a directory)."""


class LedgerUnavailableError(LedgerError, OSError):
    """The ledger cannot be used now: unreachable server, lost connection, lock or statement timeout,
    missing file, read-only file or folder, full disk.

    ``.reason`` says which in a few words (``"locked"``, ``"unreachable"``,
    ``"missing"``, ``"read-only"``, ``"timeout"``, ...). Retrying later may succeed.
    """

    def __init__(self, message: str, *, url: str | None = None, reason: str = "") -> None:
        super().__init__(message, url=url, reason=reason)
        self.reason = reason


class LedgerSchemaError(LedgerError):
    """The database exists but is not a leaktrace ledger, or has another schema version."""


class LedgerFieldError(LedgerError, ValueError):
    """A view field or query argument is out of range: ``.field`` names it, ``.value`` is what was given."""

    def __init__(self, message: str, *, field: str, value: Any = None, url: str | None = None) -> None:
        super().__init__(message, url=url, field=field, value=value)
        self.field = field
        self.value = value


class LedgerFieldTypeError(LedgerFieldError, TypeError):
    """A view field or query argument has the wrong type: ``.field`` and ``.value``."""


class LedgerKeyError(LedgerError):
    """A ledger signing key file is missing, unreadable or malformed, or a public key was asked to sign."""


class LedgerIntegrityError(LedgerError):
    """The ledger shows signs of tampering: a broken chain link, a bad signature, missing triggers.

    ``.problem`` says what was found and ``.seq`` the first chain position
    concerned (None when it is not one row).
    """

    def __init__(self, message: str, *, url: str | None = None, problem: str = "", seq: int | None = None) -> None:
        super().__init__(message, url=url, problem=problem, seq=seq)
        self.problem = problem
        self.seq = seq

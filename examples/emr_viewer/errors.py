"""Errors of the example EMR viewer, under leaktrace's one root (:class:`watermark.LeaktraceError`).

The viewer's commands catch :class:`ViewerError` and exit with status 2 (a
file or option that cannot be used) or 1 (a refused change); see each
command's ``--help``.
"""

from __future__ import annotations

from watermark import LeaktraceError

__all__ = ["RefusedChangeError", "ViewerError", "ViewerFileError"]


class ViewerError(LeaktraceError):
    """Root of the errors raised by the example viewer's own modules."""


class ViewerFileError(ViewerError, OSError):
    """A viewer file (accounts, workstations) that cannot be read or written: ``.path`` and ``.reason``."""

    def __init__(self, message: str, *, path: str, reason: str = "") -> None:
        super().__init__(message, path=path, reason=reason)
        self.path = path
        self.reason = reason


class RefusedChangeError(ViewerError, ValueError):
    """An account or workstation change refused (taken, unknown, invalid): ``.field`` and ``.value``."""

    def __init__(self, message: str, *, field: str, value: object = None) -> None:
        super().__init__(message, field=field, value=value)
        self.field = field
        self.value = value

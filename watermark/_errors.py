"""Exception hierarchy of leaktrace: every error it raises derives from LeaktraceError (warnings from LeaktraceWarning).

Each class also derives the builtin a caller would catch for that kind of
problem (``ValueError`` for a bad value, ``OSError`` for a file that cannot be
read, ``TypeError`` for an argument of the wrong type), and carries the data
that describes the problem as attributes, so a caller can act on it without
parsing the message.

>>> try:
...     raise OptionError("strength must be in (0, 8], got -1", name="strength", value=-1)
... except ValueError as exc:
...     (exc.name, exc.value, isinstance(exc, LeaktraceError))
('strength', -1, True)
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "LeaktraceError",
    "WatermarkError",
    "OptionError",
    "OptionTypeError",
    "KeyMaterialError",
    "KeyFileError",
    "PayloadError",
    "ImageError",
    "ImageLoadError",
    "LeaktraceWarning",
    "InsecureKeyFileWarning",
]


def _rebuild(cls: type[LeaktraceError], message: str, details: dict[str, Any]) -> LeaktraceError:
    return cls(message, **details)


class LeaktraceError(Exception):
    """Root of every error raised by leaktrace (watermark, tracer, ledger, synthetic).

    Parameters
    ----------
    message : str
        What went wrong, naming the value and what was expected.
    **details
        The data of the error; subclasses expose each as an attribute.
    """

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only fields would break the default pickling (worker processes send errors back).
        return (_rebuild, (type(self), self.message, self.details))


class WatermarkError(LeaktraceError):
    """Root of the errors raised by the ``watermark`` package (kept for callers of version 0.1)."""


class OptionError(WatermarkError, ValueError):
    """An option or argument is out of range: ``.name`` is the option, ``.value`` what was given."""

    def __init__(self, message: str, *, name: str, value: Any = None) -> None:
        super().__init__(message, name=name, value=value)
        self.name = name
        self.value = value


class OptionTypeError(OptionError, TypeError):
    """An option or argument has the wrong type: ``.name`` is the option, ``.value`` what was given."""


class KeyMaterialError(WatermarkError, ValueError):
    """Bytes that cannot be a key (wrong length or type); ``.value`` describes what was given."""

    def __init__(self, message: str, *, value: Any = None) -> None:
        super().__init__(message, value=value)
        self.value = value


class KeyFileError(WatermarkError, OSError):
    """A key file is missing, unreadable, truncated, malformed or would be overwritten.

    ``.path`` is the file, ``.reason`` the problem in a few words.
    """

    def __init__(self, message: str, *, path: str, reason: str) -> None:
        super().__init__(message, path=path, reason=reason)
        self.path = path
        self.reason = reason


class PayloadError(WatermarkError, ValueError):
    """A payload field is out of range or of the wrong type: ``.field`` and ``.value``."""

    def __init__(self, message: str, *, field: str | None = None, value: Any = None) -> None:
        super().__init__(message, field=field, value=value)
        self.field = field
        self.value = value


class ImageError(WatermarkError, ValueError):
    """An image array has the wrong shape, dtype, range or size; ``.shape`` and ``.dtype`` when known."""

    def __init__(self, message: str, *, shape: tuple[int, ...] | None = None, dtype: str | None = None) -> None:
        super().__init__(message, shape=shape, dtype=dtype)
        self.shape = shape
        self.dtype = dtype


class ImageLoadError(WatermarkError, OSError):
    """A file or byte string could not be read as an image (missing, corrupt, truncated, too large).

    ``.path`` is the source (a path, or a description such as ``<bytes>``),
    ``.reason`` the problem in a few words.
    """

    def __init__(self, message: str, *, path: str | None = None, reason: str = "") -> None:
        super().__init__(message, path=path, reason=reason)
        self.path = path
        self.reason = reason


class LeaktraceWarning(UserWarning):
    """Root of the warnings leaktrace issues: a soft problem, and the operation went on.

    The command-line tools print these as one ``warning:`` line on stderr.
    """


class InsecureKeyFileWarning(LeaktraceWarning):
    """A key file that other accounts may read (POSIX mode bits): ``.path`` and ``.mode`` (the permission bits).

    Whoever reads the key can forge marks that accuse anyone; ``Key.save``
    writes mode 0600.
    """

    def __init__(self, message: str, *, path: str, mode: int) -> None:
        super().__init__(message)
        self.path = path
        self.mode = mode

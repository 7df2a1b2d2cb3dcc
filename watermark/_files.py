"""Reading a file named by a user, safely: a regular file only, of bounded size, never blocking.

Both the image loader and the key reader take paths from the command
line, where a directory, a named pipe (which blocks the reader until a
writer comes), a device (``/dev/zero`` never ends) or a multi-gigabyte
file are all one typing mistake away. The checks come before the cost:
``os.stat`` first, then a non-blocking open whose result is checked again
(``os.fstat``: the file opened is the file checked), then at most
``max_bytes + 1`` bytes read.
"""

from __future__ import annotations

import os
import stat

__all__ = ["FileRefused", "read_regular_file"]

_NOT_REGULAR = (
    (stat.S_ISDIR, "is a directory, not a regular file"),
    (stat.S_ISFIFO, "is a named pipe (FIFO), not a regular file"),
    (stat.S_ISCHR, "is a character device, not a regular file"),
    (stat.S_ISBLK, "is a block device, not a regular file"),
    (stat.S_ISSOCK, "is a socket, not a regular file"),
)

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)
"""Read-only and non-blocking, so that a named pipe swapped in after the check cannot hang the open."""

_READ_CHUNK = 2**20
"""Read size once the file has given what its size said (a file that is still growing, or a /proc file)."""


class FileRefused(Exception):
    """Internal: why a file was not read. Each caller turns it into its own error (``ImageLoadError``, ``KeyFileError``).

    ``reason``: a few words (``no such file``, ``not a regular file``, ``too large``, ``cannot be read (...)``);
    ``detail``: the message after the file's name.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _refuse_unless_regular(mode: int) -> None:
    if not stat.S_ISREG(mode):
        detail = next((text for is_kind, text in _NOT_REGULAR if is_kind(mode)), "is not a regular file")
        raise FileRefused("not a regular file", detail)


def _unreadable(exc: OSError) -> FileRefused:
    if isinstance(exc, FileNotFoundError):
        return FileRefused("no such file", "no such file")
    reason = f"cannot be read ({exc.strerror or exc})"
    return FileRefused(reason, reason)


def read_regular_file(path: str | os.PathLike[str], max_bytes: int) -> tuple[bytes, os.stat_result]:
    """The bytes of the regular file ``path`` (at most ``max_bytes``) and its ``os.fstat``.

    Raises
    ------
    FileRefused
        Missing, unreadable, not a regular file, or over ``max_bytes``
        (by its size before anything is read, or by what a read returned).
    """
    try:
        before = os.stat(path)
    except OSError as exc:
        raise _unreadable(exc) from None
    _refuse_unless_regular(before.st_mode)
    if before.st_size > max_bytes:
        raise FileRefused("too large", f"{before.st_size} bytes is over the limit of {max_bytes} bytes")
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise _unreadable(exc) from None
    with open(fd, "rb", buffering=0) as handle:
        try:
            opened = os.fstat(handle.fileno())
            _refuse_unless_regular(opened.st_mode)
            chunks: list[bytes] = []
            total = 0
            want = opened.st_size + 1 if opened.st_size > 0 else _READ_CHUNK
            while total <= max_bytes:
                block = handle.read(min(want, max_bytes + 1 - total))
                if not block:
                    break
                chunks.append(block)
                total += len(block)
                want = _READ_CHUNK
        except OSError as exc:
            raise _unreadable(exc) from None
    if total > max_bytes:
        raise FileRefused("too large", f"more than {max_bytes} bytes, over the limit of {max_bytes} bytes")
    return b"".join(chunks), opened

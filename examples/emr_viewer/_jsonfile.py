"""Private JSON files of the viewer (accounts, workstations): read bounded, written atomically at mode 0600."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
import tempfile
from pathlib import Path
from typing import Any, Iterator

from .errors import ViewerFileError

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 16 * 1024 * 1024
"""Largest viewer file read: a directory of 50 000 accounts is about 10 MB."""


def file_state(path: Path) -> tuple[int, int, int] | None:
    """(inode, size, mtime_ns) of ``path``, or None when it does not exist: changes when the file is replaced."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ViewerFileError(f"cannot read {str(path)!r}: {exc.strerror}", path=str(path),
                              reason=str(exc.strerror)) from exc
    return (info.st_ino, info.st_size, info.st_mtime_ns)


def read_json(path: Path, *, format_name: str, what: str) -> dict[str, Any]:
    """The JSON object in ``path``, checked to have ``format == format_name`` and ``version == 1``.

    A file that group or others can read is read all the same, with a logged warning.

    Raises
    ------
    ViewerFileError
        If the file is missing, too large, not JSON or of another format.
    """
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
            raise ViewerFileError(f"{what} {str(path)!r} is not a regular file of at most {MAX_FILE_BYTES} bytes",
                                  path=str(path), reason="not a regular file or too large")
        text = path.read_text(encoding="utf-8")
    except ViewerFileError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ViewerFileError(f"cannot read {what} {str(path)!r}: {reason}", path=str(path), reason=reason) from exc
    if os.name == "posix" and info.st_mode & 0o077:
        log.warning("%s %s is readable by other users (mode %o): chmod 600 it", what, path, stat.S_IMODE(info.st_mode))
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ViewerFileError(f"{what} {str(path)!r} is not valid JSON: {exc}", path=str(path),
                              reason="not JSON") from exc
    if not isinstance(data, dict) or data.get("format") != format_name or data.get("version") != 1:
        raise ViewerFileError(f"{str(path)!r} is not a {what} (format {format_name!r}, version 1)", path=str(path),
                              reason="wrong format")
    return data


def write_json(path: Path, data: dict[str, Any], *, what: str, create: bool = False) -> None:
    """Write ``data`` to ``path`` atomically (temporary file, fsync, rename), mode 0600.

    With ``create=True`` the file must not exist yet.

    Raises
    ------
    ViewerFileError
        If the file cannot be written, or exists and ``create`` is true.
    """
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)  # mode 0600
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            if create:
                os.link(temporary, path)  # atomic, and fails if the file exists
            else:
                os.replace(temporary, path)
        finally:
            Path(temporary).unlink(missing_ok=True)
    except FileExistsError as exc:
        raise ViewerFileError(f"{what} {str(path)!r} exists; refusing to overwrite it", path=str(path),
                              reason="exists") from exc
    except OSError as exc:
        raise ViewerFileError(f"cannot write {what} {str(path)!r}: {exc.strerror or exc}", path=str(path),
                              reason=str(exc.strerror or exc)) from exc


@contextlib.contextmanager
def file_lock(path: Path, *, what: str) -> Iterator[None]:
    """An advisory lock on ``PATH.lock`` (POSIX) around a read-modify-write: two commands lose no change."""
    try:
        import fcntl
    except ImportError:  # not POSIX: one administrator at a time
        yield
        return
    try:
        fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise ViewerFileError(f"cannot lock {what} {str(path)!r}: {exc.strerror}", path=str(path),
                              reason=str(exc.strerror)) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)

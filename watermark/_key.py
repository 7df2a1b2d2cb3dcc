"""The secret key: 256 random bits, and everything derived from it.

All keyed material (spreading signs, slot permutation, whitening stream, MAC
key) is derived with HMAC-SHA256 under distinct labels, so one secret serves
every purpose without any two uses sharing bits.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
import warnings
from pathlib import Path

from ._errors import InsecureKeyFileWarning, KeyFileError, KeyMaterialError
from ._files import FileRefused, read_regular_file

__all__ = ["Key"]

_KEY_BYTES = 32
_HEADER = "leaktrace-key-v1"
_MAX_KEY_FILE_BYTES = 64 * 1024
"""A key file is about 130 bytes; anything far larger is not one (and is not read into memory)."""


def _warn_if_readable_by_others(path: Path, mode: int) -> None:
    """Warn (POSIX) when a key file's group or other read bit is set."""
    if os.name != "posix" or not mode & (stat.S_IRGRP | stat.S_IROTH):
        return
    who = {stat.S_IRGRP: "group", stat.S_IROTH: "others", stat.S_IRGRP | stat.S_IROTH: "group and others"}[mode & (stat.S_IRGRP | stat.S_IROTH)]
    bits = stat.S_IMODE(mode)
    warnings.warn(
        InsecureKeyFileWarning(
            f"key file {str(path)!r} is readable by {who} (mode {bits:04o}): anyone who can read it can forge marks; "
            f"restrict it with: chmod 600 {path}",
            path=str(path),
            mode=bits,
        ),
        stacklevel=3,
    )


class Key:
    """A 256-bit watermarking secret.

    The key decides where and with which signs the payload is spread, whitens
    the payload and authenticates it. Whoever holds it can read *and forge*
    marks, so keep it like a signing key: on the viewer servers and the
    security officer's workstation only.

    Parameters
    ----------
    secret : bytes
        Exactly 32 bytes. Use :meth:`generate` or :meth:`from_file` rather
        than building one by hand.

    Examples
    --------
    >>> key = Key.generate()
    >>> len(key.fingerprint)
    19
    >>> Key(bytes(32)).fingerprint == Key(bytes(32)).fingerprint
    True
    """

    __slots__ = ("_secret",)

    def __init__(self, secret: bytes) -> None:
        if not isinstance(secret, (bytes, bytearray)) or len(secret) != _KEY_BYTES:
            got = f"{len(secret)} bytes" if isinstance(secret, (bytes, bytearray)) else type(secret).__name__
            raise KeyMaterialError(f"a key is exactly {_KEY_BYTES} bytes, got {got}", value=got)
        self._secret = bytes(secret)

    @classmethod
    def generate(cls) -> "Key":
        """Return a new key from the operating system's CSPRNG."""
        return cls(secrets.token_bytes(_KEY_BYTES))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> "Key":
        """Read a key written by :meth:`save`.

        Raises
        ------
        KeyFileError
            If the file is missing, unreadable, not a regular file (a
            directory, pipe or device), larger than a key file can be,
            truncated or malformed; the message names the file.

        Warns
        -----
        InsecureKeyFileWarning
            On POSIX, when the file's mode lets its group or other accounts
            read it (anyone who can read the key can forge marks).
        """
        path = Path(path)
        try:
            raw, info = read_regular_file(path, _MAX_KEY_FILE_BYTES)
        except FileRefused as exc:
            if exc.reason == "no such file":
                raise KeyFileError(f"key file {str(path)!r} does not exist", path=str(path), reason="does not exist") from None
            if exc.reason == "too large":
                raise KeyFileError(
                    f"key file {str(path)!r} is malformed: {exc.detail} (a key file is about 130 bytes)",
                    path=str(path),
                    reason="malformed",
                ) from None
            raise KeyFileError(f"key file {str(path)!r} {exc.detail}", path=str(path), reason=exc.reason) from None
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError as exc:
            raise KeyFileError(f"key file {str(path)!r} cannot be read: {exc}", path=str(path), reason=f"cannot be read: {exc}") from None
        lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
        if len(lines) != 2 or lines[0] != _HEADER:
            raise KeyFileError(
                f"key file {str(path)!r} is malformed: expected a '{_HEADER}' line and one line of "
                f"{2 * _KEY_BYTES} hex digits",
                path=str(path),
                reason="malformed",
            )
        hexdigits = lines[1]
        if len(hexdigits) != 2 * _KEY_BYTES:
            raise KeyFileError(
                f"key file {str(path)!r} is truncated or malformed: the key line has {len(hexdigits)} "
                f"characters, expected {2 * _KEY_BYTES} hex digits",
                path=str(path),
                reason="truncated or malformed",
            )
        try:
            secret = bytes.fromhex(hexdigits)
        except ValueError:
            raise KeyFileError(
                f"key file {str(path)!r} is malformed: the key line is not hexadecimal", path=str(path), reason="not hexadecimal"
            ) from None
        key = cls(secret)
        _warn_if_readable_by_others(path, info.st_mode)
        return key

    def save(self, path: str | os.PathLike[str], *, overwrite: bool = False) -> None:
        """Write the key to ``path``, readable by its owner only (mode 0600).

        Raises
        ------
        KeyFileError
            If ``path`` exists and ``overwrite`` is false, or it cannot be written.
        """
        path = Path(path)
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
        try:
            fd = os.open(path, flags, 0o600)
        except FileExistsError:
            raise KeyFileError(
                f"key file {str(path)!r} exists; pass overwrite=True to replace it", path=str(path), reason="exists"
            ) from None
        except OSError as exc:
            raise KeyFileError(
                f"key file {str(path)!r} cannot be written: {exc}", path=str(path), reason=f"cannot be written: {exc}"
            ) from None
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            if hasattr(os, "fchmod"):  # POSIX: an existing file overwritten keeps its mode otherwise
                os.fchmod(handle.fileno(), 0o600)
            handle.write(f"# leaktrace watermark key, fingerprint {self.fingerprint}. Keep secret.\n")
            handle.write(f"{_HEADER}\n{self._secret.hex()}\n")

    @property
    def fingerprint(self) -> str:
        """A short public identifier (64 bits of a one-way hash), safe to print in reports."""
        digest = hashlib.sha256(b"leaktrace-fingerprint\x00" + self._secret).hexdigest()[:16]
        return "-".join(digest[i : i + 4] for i in range(0, 16, 4))

    def derive(self, label: str, n_bytes: int = 32) -> bytes:
        """Return ``n_bytes`` of keyed material for ``label`` (HMAC-SHA256 in counter mode)."""
        out = bytearray()
        counter = 0
        while len(out) < n_bytes:
            out += hmac.new(self._secret, f"{label}\x00{counter}".encode(), hashlib.sha256).digest()
            counter += 1
        return bytes(out[:n_bytes])

    def mac(self, message: bytes, n_bytes: int) -> bytes:
        """Truncated HMAC-SHA256 of ``message`` under the derived MAC key."""
        return hmac.new(self.derive("mac"), message, hashlib.sha256).digest()[:n_bytes]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Key) and hmac.compare_digest(self._secret, other._secret)

    def __hash__(self) -> int:
        return hash(self.fingerprint)

    def __repr__(self) -> str:
        return f"Key(fingerprint={self.fingerprint!r})"

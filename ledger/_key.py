"""The ledger's signing key: an Ed25519 key pair, separate from the watermark key.

The viewer servers hold the private key and sign every ledger row with it;
whoever verifies the ledger (``leaktrace-ledger verify``, ``trace-leak
--ledger-key``) needs only the public key. Someone who can write the database
file but does not hold the private key cannot change, insert, reorder or
remove a row without the chain showing where.

Key files are JSON: ``{"format": "leaktrace-ledger-key", "version": 1,
"public": HEX, "private": HEX}`` (the private half only in the private file,
created mode 0600).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import warnings
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from watermark import OptionTypeError

from ._errors import LedgerKeyError

__all__ = ["KEY_FORMAT", "LedgerKey", "LedgerKeyWarning"]

KEY_FORMAT = "leaktrace-ledger-key"
"""The ``format`` field of a ledger key file."""

_MAX_KEY_FILE_BYTES = 4096


class LedgerKeyWarning(UserWarning):
    """A private ledger key file that other users of the machine can read."""


class LedgerKey:
    """An Ed25519 key for signing (private) or verifying (public only) ledger rows.

    Create one with :meth:`generate` or :meth:`load`; never construct directly.

    Examples
    --------
    >>> key = LedgerKey.generate()
    >>> signature = key.sign(b"row")
    >>> key.public_only().verify(signature, b"row"), key.public_only().can_sign
    (True, False)
    """

    def __init__(self, public: Ed25519PublicKey, private: Ed25519PrivateKey | None) -> None:
        self._public = public
        self._private = private
        self.public_bytes = public.public_bytes(Encoding.Raw, PublicFormat.Raw)

    @classmethod
    def generate(cls) -> LedgerKey:
        """A new random key pair (from the operating system's CSPRNG)."""
        private = Ed25519PrivateKey.generate()
        return cls(private.public_key(), private)

    @property
    def can_sign(self) -> bool:
        """True when the private half is present."""
        return self._private is not None

    @property
    def fingerprint(self) -> str:
        """First 64 bits of SHA-256 of the public key, as four groups of hex (safe to print and log)."""
        digest = hashlib.sha256(self.public_bytes).hexdigest()[:16]
        return "-".join(digest[i:i + 4] for i in range(0, 16, 4))

    def public_only(self) -> LedgerKey:
        """The same key without its private half (what a verifier holds)."""
        return LedgerKey(self._public, None)

    def sign(self, data: bytes) -> bytes:
        """Ed25519 signature of ``data``.

        Raises
        ------
        LedgerKeyError
            If this is a public key only.
        """
        if self._private is None:
            raise LedgerKeyError(f"ledger key {self.fingerprint} is a public key: it can verify, not sign")
        return self._private.sign(data)

    def verify(self, signature: bytes, data: bytes) -> bool:
        """True when ``signature`` is this key's signature of ``data``."""
        try:
            self._public.verify(signature, data)
        except InvalidSignature:
            return False
        return True

    def __repr__(self) -> str:
        kind = "private" if self.can_sign else "public"
        return f"<LedgerKey {self.fingerprint} ({kind})>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LedgerKey) and other.public_bytes == self.public_bytes

    def __hash__(self) -> int:
        return hash(self.public_bytes)

    # -- files
    def to_dict(self, *, include_private: bool) -> dict[str, Any]:
        """The key file's JSON object."""
        data: dict[str, Any] = {"format": KEY_FORMAT, "version": 1, "fingerprint": self.fingerprint,
                                "public": self.public_bytes.hex()}
        if include_private:
            if self._private is None:
                raise LedgerKeyError(f"ledger key {self.fingerprint} has no private half to save")
            data["private"] = self._private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()).hex()
        return data

    def save(self, path: str | os.PathLike[str], *, public: bool = False, overwrite: bool = False) -> Path:
        """Write the private key file (mode 0600), or with ``public=True`` the public key file (0644).

        Raises
        ------
        LedgerKeyError
            If the file exists and ``overwrite`` is false, or cannot be written.
        """
        target = Path(path)
        text = json.dumps(self.to_dict(include_private=not public), indent=2) + "\n"
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
        try:
            fd = os.open(target, flags, 0o644 if public else 0o600)
        except FileExistsError as exc:
            raise LedgerKeyError(f"ledger key file {str(target)!r} exists; refusing to overwrite it") from exc
        except OSError as exc:
            raise LedgerKeyError(f"cannot write ledger key file {str(target)!r}: {exc.strerror}") from exc
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            if not public:
                os.fchmod(out.fileno(), 0o600)
            out.write(text)
        return target

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> LedgerKey:
        """Read a private or public ledger key file.

        A private key file that group or others can read is loaded with a
        :class:`LedgerKeyWarning`.

        Raises
        ------
        LedgerKeyError
            If the file is missing, not a regular file, too large, or not a
            leaktrace ledger key.
        """
        if not isinstance(path, (str, os.PathLike)):
            raise OptionTypeError(f"a ledger key path must be a str or path, got {type(path).__name__}",
                                  name="path", value=path)
        source = Path(path)
        try:
            info = source.stat()
        except OSError as exc:
            raise LedgerKeyError(f"cannot read ledger key file {str(source)!r}: {exc.strerror}") from exc
        if not stat.S_ISREG(info.st_mode) or info.st_size > _MAX_KEY_FILE_BYTES:
            raise LedgerKeyError(f"{str(source)!r} is not a leaktrace ledger key file")
        try:
            data = json.loads(source.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise LedgerKeyError(f"{str(source)!r} is not a leaktrace ledger key file ({exc})") from exc
        key = cls.from_dict(data, source=str(source))
        if key.can_sign and os.name == "posix" and info.st_mode & 0o077:
            warnings.warn(
                f"private ledger key file {str(source)!r} is readable by other users (mode "
                f"{stat.S_IMODE(info.st_mode):o}); anyone who reads it can forge ledger rows: chmod 600 it",
                LedgerKeyWarning, stacklevel=2,
            )
        return key

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "ledger key") -> LedgerKey:
        """The key from its JSON object (see :meth:`to_dict`)."""
        if not isinstance(data, dict) or data.get("format") != KEY_FORMAT or data.get("version") != 1:
            raise LedgerKeyError(f"{source!r} is not a leaktrace ledger key (format {KEY_FORMAT!r}, version 1)")
        try:
            public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(str(data["public"])))
            private = (Ed25519PrivateKey.from_private_bytes(bytes.fromhex(str(data["private"])))
                       if "private" in data else None)
        except (KeyError, ValueError) as exc:
            raise LedgerKeyError(f"{source!r} holds a malformed ledger key ({exc})") from exc
        if private is not None and private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw) != \
                public.public_bytes(Encoding.Raw, PublicFormat.Raw):
            raise LedgerKeyError(f"{source!r}: its private and public halves do not belong together")
        return cls(public, private)


def as_key(value: LedgerKey | str | os.PathLike[str] | None, name: str) -> LedgerKey | None:
    """A :class:`LedgerKey` from a key or a key file path (None stays None)."""
    if value is None or isinstance(value, LedgerKey):
        return value
    if isinstance(value, (str, os.PathLike)):
        return LedgerKey.load(value)
    raise OptionTypeError(f"{name} must be a LedgerKey or a key file path, got {type(value).__name__}",
                          name=name, value=value)

"""The viewer's accounts: the hospital's directory file, argon2id password hashes, and a CLI to manage them.

The accounts file is the directory the tracer reads (``ledger.Directory.load``)
to check each ledger row's display name, so it has exactly that shape::

    {"format": "leaktrace-directory", "version": 1,
     "accounts": [{"viewer_id": 4821, "username": "mlindqvist",
                   "display_name": "Dr. Marek Lindqvist", "role": "...",
                   "password_hash": "$argon2id$v=19$m=65536,t=3,p=4$..."}, ...]}

It is written atomically (temporary file, fsync, rename) at mode 0600, under
an advisory lock on ``FILE.lock`` (so two commands lose no change), and
the running viewer picks up changes (a new account, a new password) at the
next log-in. Passwords are hashed with argon2-cffi's :class:`PasswordHasher`
(argon2id, RFC 9106 parameters); verification runs in constant time in
libargon2. A log-in with an unknown username verifies against a dummy hash
with the same parameters, so that it takes as long as a wrong password and
gives the same answer.

Command line (``python -m examples.emr_viewer.accounts --help``)::

    python -m examples.emr_viewer.accounts add --accounts accounts.json \\
        --viewer-id 4821 --username mlindqvist --display-name "Dr. Marek Lindqvist"
    python -m examples.emr_viewer.accounts passwd --accounts accounts.json --username mlindqvist
    python -m examples.emr_viewer.accounts list --accounts accounts.json
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import os
import re
import secrets
import sys
import threading
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any, Iterable, Iterator, Mapping, Sequence

from argon2 import PasswordHasher, extract_parameters
from argon2.exceptions import InvalidHashError, VerificationError

from ._jsonfile import file_lock, file_state, read_json, write_json
from .errors import RefusedChangeError, ViewerError, ViewerFileError

__all__ = [
    "ACCOUNTS_FORMAT",
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "Account",
    "AccountStore",
    "create_demo_accounts",
    "main",
    "normalize_username",
]

ACCOUNTS_FORMAT = "leaktrace-directory"
"""The ``format`` field: the same as ``ledger.Directory``'s JSON form, which reads this file."""

MIN_PASSWORD_LENGTH = 12
"""Shortest password accepted when one is set (NIST SP 800-63B asks for at least 8; 12 for staff accounts)."""

MAX_PASSWORD_LENGTH = 1024
"""Longest password accepted; longer ones are refused at log-in without being hashed differently."""

_USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_FILE = "accounts file"


def normalize_username(username: str) -> str:
    """The form usernames are stored and compared in: stripped, NFKC, lower case."""
    return unicodedata.normalize("NFKC", username).strip().lower()


@dataclass(frozen=True)
class Account:
    """One viewer account: what the watermark (``viewer_id``) and the ledger (``display_name``) name.

    ``extra`` keeps fields of the file this version does not use, so that a
    rewrite does not drop them.
    """

    viewer_id: int
    username: str
    display_name: str
    password_hash: str = field(repr=False)
    role: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The account's JSON object in the file."""
        data: dict[str, Any] = dict(self.extra)
        data.update(viewer_id=self.viewer_id, username=self.username, display_name=self.display_name)
        if self.role:
            data["role"] = self.role
        data["password_hash"] = self.password_hash
        return data

    @classmethod
    def from_dict(cls, data: Any, *, index: int, source: str) -> Account:
        """An account from its JSON object.

        Raises
        ------
        ViewerFileError
            If a field is missing or invalid.
        """
        try:
            if not isinstance(data, dict):
                raise RefusedChangeError("an account must be an object", field="account", value=data)
            account = cls(
                viewer_id=_viewer_id(data.get("viewer_id")),
                username=_username(data.get("username")),
                display_name=_display_name(data.get("display_name")),
                password_hash=_password_hash(data.get("password_hash")),
                role=_display_name(data["role"], name="role") if data.get("role") else "",
                extra={k: v for k, v in data.items()
                       if k not in {"viewer_id", "username", "display_name", "password_hash", "role"}},
            )
        except RefusedChangeError as exc:
            raise ViewerFileError(f"{_FILE} {source!r}: account {index + 1}: {exc}", path=source,
                                  reason=str(exc)) from exc
        return account


def _viewer_id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2**32 - 1:
        raise RefusedChangeError(f"viewer_id must be an integer in 0..{2**32 - 1}, got {value!r}", field="viewer_id",
                           value=value)
    return value


def _username(value: Any) -> str:
    if not isinstance(value, str) or not _USERNAME.fullmatch(value):
        raise RefusedChangeError(f"username must be 1-64 of a-z 0-9 . _ - (starting with a letter or digit), got {value!r}",
                           field="username", value=value)
    return value


def _display_name(value: Any, *, name: str = "display_name") -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 200 or any(
            unicodedata.category(c) == "Cc" for c in value):
        raise RefusedChangeError(f"{name} must be 1-200 printable characters, got {value!r}", field=name, value=value)
    return value


def _password_hash(value: Any) -> str:
    if not isinstance(value, str) or not value.startswith("$argon2"):
        raise RefusedChangeError("password_hash must be an argon2 hash ($argon2id$...)", field="password_hash")
    try:
        extract_parameters(value)
    except InvalidHashError as exc:
        raise RefusedChangeError(f"password_hash is not a valid argon2 hash ({exc})", field="password_hash") from exc
    return value


def _check_password(password: Any) -> str:
    if not isinstance(password, str) or not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise RefusedChangeError(f"a password must be {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters",
                           field="password")
    return password


class AccountStore:
    """The accounts file, loaded and re-read when it changes on disk.

    Parameters
    ----------
    path : path
        The accounts file (see the module notes). It must exist; create one
        with :meth:`create`.
    hasher : argon2.PasswordHasher, keyword-only
        Hashes new passwords; default argon2-cffi's defaults (RFC 9106 low
        memory: argon2id, t=3, m=64 MiB, p=4). Verification always uses the
        parameters stored in each hash.

    Raises
    ------
    ViewerFileError
        If the file cannot be read or is not an accounts file.

    Examples
    --------
    >>> import tempfile, os
    >>> from argon2 import PasswordHasher
    >>> folder = tempfile.mkdtemp()
    >>> store = AccountStore.create(os.path.join(folder, "accounts.json"),
    ...                             hasher=PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1))
    >>> store.add(viewer_id=4821, username="mlindqvist", display_name="Dr. Marek Lindqvist",
    ...           password="correct horse battery").display_name
    'Dr. Marek Lindqvist'
    >>> store.authenticate("mlindqvist", "correct horse battery").viewer_id
    4821
    >>> store.authenticate("mlindqvist", "wrong"), store.authenticate("nobody", "wrong")
    (None, None)
    >>> oct(os.stat(store.path).st_mode & 0o777)
    '0o600'
    """

    def __init__(self, path: str | os.PathLike[str], *, hasher: PasswordHasher | None = None) -> None:
        self.path = Path(path)
        self.hasher = hasher if hasher is not None else PasswordHasher()
        self._lock = threading.Lock()
        self._state: tuple[int, int, int] | None = None
        self._accounts: dict[str, Account] = {}
        self._extra: dict[str, Any] = {}
        self._dummy: tuple[Any, str] | None = None
        self._refresh()

    @classmethod
    def create(cls, path: str | os.PathLike[str], *, hasher: PasswordHasher | None = None) -> AccountStore:
        """Create an empty accounts file (mode 0600) and open it.

        Raises
        ------
        ViewerFileError
            If the file exists or cannot be written.
        """
        write_json(Path(path), {"format": ACCOUNTS_FORMAT, "version": 1, "accounts": []}, what=_FILE, create=True)
        return cls(path, hasher=hasher)

    # -- reading
    def _refresh(self) -> None:
        with self._lock:
            state = file_state(self.path)
            if state is None:
                raise ViewerFileError(f"{_FILE} {str(self.path)!r} does not exist", path=str(self.path),
                                      reason="missing")
            if state == self._state:
                return
            data = read_json(self.path, format_name=ACCOUNTS_FORMAT, what=_FILE)
            entries = data.get("accounts")
            if not isinstance(entries, list):
                raise ViewerFileError(f"{_FILE} {str(self.path)!r} has no list of accounts", path=str(self.path),
                                      reason="no accounts list")
            accounts: dict[str, Account] = {}
            ids: set[int] = set()
            for i, entry in enumerate(entries):
                account = Account.from_dict(entry, index=i, source=str(self.path))
                if account.username in accounts or account.viewer_id in ids:
                    raise ViewerFileError(f"{_FILE} {str(self.path)!r}: account {i + 1} repeats a username or "
                                          f"viewer ID ({account.username!r}, {account.viewer_id})",
                                          path=str(self.path), reason="duplicate account")
                accounts[account.username] = account
                ids.add(account.viewer_id)
            self._accounts = accounts
            self._extra = {k: v for k, v in data.items() if k not in {"format", "version", "accounts"}}
            self._state = state

    def accounts(self) -> tuple[Account, ...]:
        """Every account, in file order (re-read if the file changed)."""
        self._refresh()
        return tuple(self._accounts.values())

    def get(self, username: str) -> Account | None:
        """The account with this username (normalized, see :func:`normalize_username`), or None."""
        self._refresh()
        return self._accounts.get(normalize_username(username)) if isinstance(username, str) else None

    # -- log-in
    def _dummy_hash(self) -> str:
        """A hash of a random password with the accounts' own parameters (for unknown usernames)."""
        sample = next(iter(self._accounts.values()), None)
        params = extract_parameters(sample.password_hash) if sample is not None else None
        if self._dummy is None or self._dummy[0] != params:
            hasher = PasswordHasher.from_parameters(params) if params is not None else self.hasher
            self._dummy = (params, hasher.hash(secrets.token_urlsafe(16)))
        return self._dummy[1]

    def authenticate(self, username: str, password: str) -> Account | None:
        """The account when ``password`` is its password, else None, in about the same time either way.

        An unknown username is checked against a dummy hash with the same
        argon2 parameters, so neither the answer nor the time tells whether
        the account exists.

        Raises
        ------
        ViewerFileError
            If the accounts file cannot be read (the caller must refuse the log-in).
        """
        self._refresh()
        account = self._accounts.get(normalize_username(username)) if isinstance(username, str) else None
        hashed = account.password_hash if account is not None else self._dummy_hash()
        if not isinstance(password, str) or len(password) > MAX_PASSWORD_LENGTH:
            password, account = "", None  # still hash, so the time does not tell
        try:
            self.hasher.verify(hashed, password)
        except (VerificationError, InvalidHashError):
            return None
        return account

    # -- changes
    @contextlib.contextmanager
    def _changing(self) -> Iterator[dict[str, Account]]:
        """Re-read the file under an advisory lock, yield the accounts to change, write them back."""
        with file_lock(self.path, what=_FILE):
            self._state = None  # another process may have written it since
            self._refresh()
            accounts = dict(self._accounts)
            yield accounts
            data = {"format": ACCOUNTS_FORMAT, "version": 1, **self._extra,
                    "accounts": [a.to_dict() for a in accounts.values()]}
            write_json(self.path, data, what=_FILE)
            self._state = None
            self._refresh()

    def add(self, *, viewer_id: int, username: str, display_name: str, password: str, role: str = "") -> Account:
        """Add an account with this password (hashed).

        Raises
        ------
        RefusedChangeError
            If a field is invalid, the password is too short, or the username or viewer ID is taken.
        ViewerFileError
            If the file cannot be read or written.
        """
        account = Account(
            viewer_id=_viewer_id(viewer_id), username=_username(normalize_username(username)),
            display_name=_display_name(display_name), role=_display_name(role, name="role") if role else "",
            password_hash=self.hasher.hash(_check_password(password)),
        )
        with self._changing() as accounts:
            if account.username in accounts:
                raise RefusedChangeError(f"username {account.username!r} is taken", field="username",
                                   value=account.username)
            taken = next((a for a in accounts.values() if a.viewer_id == account.viewer_id), None)
            if taken is not None:
                raise RefusedChangeError(f"viewer ID {account.viewer_id} belongs to {taken.username!r}", field="viewer_id",
                                   value=account.viewer_id)
            accounts[account.username] = account
        return account

    def set_password(self, username: str, password: str) -> Account:
        """Set an account's password (hashed).

        Raises
        ------
        RefusedChangeError
            If there is no such account or the password is too short.
        ViewerFileError
            If the file cannot be read or written.
        """
        hashed = self.hasher.hash(_check_password(password))
        name = normalize_username(username)
        with self._changing() as accounts:
            if name not in accounts:
                raise RefusedChangeError(f"no account {name!r}", field="username", value=name)
            accounts[name] = replace(accounts[name], password_hash=hashed)
        return accounts[name]


def create_demo_accounts(path: str | os.PathLike[str], employees: Iterable[Any], *,
                         hasher: PasswordHasher | None = None) -> list[tuple[Account, str]]:
    """Create an accounts file for the invented demo staff, each with its own random password.

    Parameters
    ----------
    path : path
        The accounts file to create (it must not exist).
    employees : iterable
        Objects with ``viewer_id``, ``username``, ``display_name`` and ``role``
        (``examples.emr_viewer.records.EMPLOYEES.values()``).
    hasher : argon2.PasswordHasher, keyword-only

    Returns
    -------
    list of (Account, str)
        Each account and its password, to be shown once to whoever started
        the demo; only the hashes are stored.
    """
    store = AccountStore.create(path, hasher=hasher)
    created = []
    for employee in employees:
        password = secrets.token_urlsafe(12)  # 16 characters, 96 bits
        account = store.add(viewer_id=employee.viewer_id, username=employee.username,
                            display_name=employee.display_name, role=employee.role, password=password)
        created.append((account, password))
    return created


# -- command line
EPILOG = """examples:
  python -m examples.emr_viewer.accounts add --accounts accounts.json \\
      --viewer-id 4821 --username mlindqvist --display-name "Dr. Marek Lindqvist" --role "Cardiology"
  printf '%s\\n' "$NEW_PASSWORD" | python -m examples.emr_viewer.accounts passwd \\
      --accounts accounts.json --username mlindqvist --password-stdin
  python -m examples.emr_viewer.accounts list --accounts accounts.json

The running viewer picks up a change at the next log-in. Keep the file at mode 0600:
it holds the password hashes.

exit status: 0 done, 1 refused (username or viewer ID taken, no such account,
password too short or not repeated the same), 2 the file cannot be read or written
"""


def _read_password(args: argparse.Namespace, stdin: IO[str]) -> str:
    if args.password_stdin:
        return stdin.readline().rstrip("\r\n")
    password = getpass.getpass(f"New password for {args.username}: ")
    if getpass.getpass("Repeat it: ") != password:
        raise RefusedChangeError("the two passwords differ", field="password")
    return password


def main(argv: Sequence[str] | None = None, *, stdin: IO[str] | None = None) -> int:
    """Manage the viewer's accounts file; see ``--help``."""
    parser = argparse.ArgumentParser(prog="python -m examples.emr_viewer.accounts",
                                     description="Create accounts and set passwords in the EMR viewer's accounts file.",
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="add an account (creates the file if missing)")
    passwd = commands.add_parser("passwd", help="set an account's password")
    listing = commands.add_parser("list", help="list accounts (no hashes)")
    for sub in (add, passwd, listing):
        sub.add_argument("--accounts", type=Path, required=True, help="the accounts file")
    for sub in (add, passwd):
        sub.add_argument("--username", required=True)
        sub.add_argument("--password-stdin", action="store_true",
                         help="read the password from the first line of standard input instead of prompting")
    add.add_argument("--viewer-id", type=int, required=True, help="the ID the watermark carries (0..2**32-1)")
    add.add_argument("--display-name", required=True, help="the name the ledger and the visible mark show")
    add.add_argument("--role", default="", help="job title shown to no one but kept in the directory")
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            for account in AccountStore(args.accounts).accounts():
                print(f"{account.viewer_id}\t{account.username}\t{account.display_name}\t{account.role}")
            return 0
        store = (AccountStore(args.accounts) if args.command == "passwd" or args.accounts.exists()
                 else AccountStore.create(args.accounts))
        password = _read_password(args, stdin or sys.stdin)
        if args.command == "add":
            account = store.add(viewer_id=args.viewer_id, username=args.username, display_name=args.display_name,
                                role=args.role, password=password)
            print(f"added {account.username} (viewer {account.viewer_id}, {account.display_name}) to {args.accounts}",
                  file=sys.stderr)
        else:
            account = store.set_password(args.username, password)
            print(f"set the password of {account.username} in {args.accounts}", file=sys.stderr)
    except RefusedChangeError as exc:
        print(f"accounts: refused: {exc}", file=sys.stderr)
        return 1
    except ViewerError as exc:
        print(f"accounts: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

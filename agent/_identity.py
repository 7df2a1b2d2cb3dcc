"""From an OS account to the viewer ID the mark carries: a directory file or an integrator's callback.

The mark must name the person at the screen, so the viewer ID comes from
the account the operating system reports (:mod:`agent._session`), mapped
through a file the hospital's IT keeps or a function an integrator
provides; it is never typed by the user. An account the map does not know
gets no mark at all (and the administrator is told): the agent never draws
somebody else's ID, nor a made-up one.

File forms (the first line or the ``format`` field tells them apart):

* JSON, as the example viewer's accounts file:
  ``{"format": "leaktrace-directory", "version": 1, "accounts":
  [{"username": "mlindqvist", "viewer_id": 4821, "display_name": "Dr. Marek
  Lindqvist"}, ...]}`` (other fields ignored);
* CSV with a header naming ``username``, ``viewer_id`` and ``display_name``
  (an export from the hospital's directory).

User names match without regard to case, and ``DOMAIN\\user`` matches an
entry for ``DOMAIN\\user`` or, when no entry names a domain for that user,
for ``user``.
"""

from __future__ import annotations

import csv
import importlib
import io
import json
import os
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from ledger import Directory, LedgerError
from watermark import LeaktraceError

from ._session import SessionState

__all__ = ["AccountMap", "Identity", "IdentityError", "IdentityResolver", "load_callback"]

_MAX_BYTES = 16 * 1024 * 1024
DIRECTORY_FORMAT = "leaktrace-directory"
"""The ``format`` field of a JSON accounts file (as :class:`ledger.Directory` reads it)."""


class IdentityError(LeaktraceError, ValueError):
    """The account map or callback is unusable, or it does not know the logged-in account."""


@dataclass(frozen=True)
class Identity:
    """The person the mark names.

    Attributes
    ----------
    viewer_id : int
        0 .. 2**32 - 1, as the watermark carries it.
    display_name : str
        As the hospital knows them (shown in the visible mark and the ledger).
    username : str
        The OS account it was resolved from.
    """

    viewer_id: int
    display_name: str
    username: str


IdentityResolver = Callable[[SessionState], "Identity | None"]
"""A function from the session to the :class:`Identity` at the screen, or None when the account is unknown."""


def _fold(username: str) -> str:
    return username.strip().casefold()


def _short(username: str) -> str:
    return _fold(username).rsplit("\\", 1)[-1]


@dataclass(frozen=True)
class AccountMap:
    """OS account name to :class:`Identity`, from the hospital's directory.

    Examples
    --------
    >>> m = AccountMap.from_rows([{"username": "mlindqvist", "viewer_id": 4821,
    ...                            "display_name": "Dr. Marek Lindqvist"}])
    >>> m.identity(SessionState(username="HOSP\\\\MLindqvist")).viewer_id
    4821
    >>> m.identity(SessionState(username="guest")) is None
    True
    """

    accounts: Mapping[str, Identity]
    source: str = ""

    @classmethod
    def from_rows(cls, rows: Iterable[Mapping[str, Any]], *, source: str = "") -> AccountMap:
        """From mappings with ``username``, ``viewer_id`` and ``display_name``.

        Raises
        ------
        IdentityError
            For a missing or invalid field, or a user name listed twice, naming the row.
        """
        accounts: dict[str, Identity] = {}
        for n, row in enumerate(rows, 1):
            try:
                username = str(row["username"]).strip()
                checked = Directory.from_accounts([{"viewer_id": row["viewer_id"],
                                                    "display_name": row["display_name"]}])
            except KeyError as exc:
                raise IdentityError(f"{source or 'account map'}: entry {n} has no {exc.args[0]!r}") from None
            except LedgerError as exc:
                raise IdentityError(f"{source or 'account map'}: entry {n}: {exc}") from None
            if not username:
                raise IdentityError(f"{source or 'account map'}: entry {n} has an empty username")
            (viewer_id, display_name), = checked.names.items()
            folded = _fold(username)
            if folded in accounts:
                raise IdentityError(f"{source or 'account map'}: user {username!r} is listed twice")
            accounts[folded] = Identity(viewer_id=viewer_id, display_name=display_name, username=username)
        return cls(accounts=accounts, source=source)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> AccountMap:
        """Read a JSON accounts file or a CSV export (see the module docstring).

        Raises
        ------
        IdentityError
            If the file cannot be read or is not an account map.
        """
        where = str(path)
        try:
            with open(path, "rb") as handle:
                data = handle.read(_MAX_BYTES + 1)
        except OSError as exc:
            raise IdentityError(f"cannot read the account map {where}: {exc.strerror or exc}") from None
        if len(data) > _MAX_BYTES:
            raise IdentityError(f"account map {where} is over {_MAX_BYTES // (1024 * 1024)} MiB")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise IdentityError(f"account map {where} is not UTF-8 text") from None
        if text.lstrip().startswith("{"):
            try:
                doc = json.loads(text)
            except json.JSONDecodeError as exc:
                raise IdentityError(f"account map {where} is not valid JSON: {exc}") from None
            if not isinstance(doc, dict) or doc.get("format") != DIRECTORY_FORMAT or not isinstance(
                    doc.get("accounts"), list):
                raise IdentityError(f"account map {where} is not a {DIRECTORY_FORMAT} file with an accounts list")
            rows = [a for a in doc["accounts"] if isinstance(a, dict)]
            if len(rows) != len(doc["accounts"]):
                raise IdentityError(f"account map {where}: every account must be an object")
            return cls.from_rows(rows, source=where)
        reader = csv.DictReader(io.StringIO(text))
        missing = {"username", "viewer_id", "display_name"} - set(reader.fieldnames or ())
        if missing:
            raise IdentityError(f"account map {where}: the CSV header lacks {', '.join(sorted(missing))}")
        return cls.from_rows(list(reader), source=where)

    def identity(self, state: SessionState) -> Identity | None:
        """The identity of the session's account, or None when the map does not list it."""
        folded = _fold(state.username)
        found = self.accounts.get(folded)
        if found is None and "\\" in folded:
            short = _short(folded)
            plain = self.accounts.get(short)
            found = plain if plain is not None and "\\" not in short else None
        return found

    __call__ = identity

    @property
    def directory(self) -> Directory:
        """The same accounts as a ledger :class:`~ledger.Directory` (viewer ID to name), for ``trace-leak --directory``."""
        return Directory(names={i.viewer_id: i.display_name for i in self.accounts.values()}, source=self.source)


def load_callback(spec: str) -> IdentityResolver:
    """Import an integrator's resolver named ``package.module:function``.

    The function is called with the :class:`SessionState` and returns an
    :class:`Identity` (or a ``(viewer_id, display_name)`` pair), or None for
    an account it does not know.

    Raises
    ------
    IdentityError
        If ``spec`` does not name an importable callable.
    """
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise IdentityError(f"identity callback must be 'package.module:function', got {spec!r}")
    try:
        target: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise IdentityError(f"cannot import the identity callback {spec!r}: {exc}") from None
    if not callable(target):
        raise IdentityError(f"identity callback {spec!r} is not callable")
    function: Callable[[SessionState], Any] = target

    def resolve(state: SessionState) -> Identity | None:
        found = function(state)
        if found is None or isinstance(found, Identity):
            return found
        try:
            viewer_id, display_name = found
            checked = Directory.from_accounts([{"viewer_id": viewer_id, "display_name": display_name}])
        except (TypeError, ValueError, LedgerError) as exc:
            raise IdentityError(f"identity callback {spec!r} returned {found!r}: {exc}") from None
        (vid, name), = checked.names.items()
        return Identity(viewer_id=vid, display_name=name, username=state.username)

    return resolve


"""The viewer's account directory: who each viewer ID is, from a source other than the ledger.

A ledger row says who was logged in, in the words of the viewer that wrote
it. The join with a trace checks that name against the directory the viewer
keeps (its accounts file), so that a row whose name does not belong to its
viewer ID is reported instead of printed as the leaker.

Two file forms are read:

* the viewer's accounts file, JSON: ``{"format": "leaktrace-directory",
  "version": 1, "accounts": [{"viewer_id": 4821, "display_name": "...",
  ...}, ...]}`` (other fields, such as the username or the password hash,
  are ignored);
* CSV with a header row naming at least ``viewer_id`` and ``display_name``
  (an export from a hospital's directory).
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from ._errors import LedgerError
from ._records import View
from ._validate import text_field, viewer_id_field

__all__ = ["DIRECTORY_FORMAT", "Directory"]

DIRECTORY_FORMAT = "leaktrace-directory"
"""The ``format`` field of a JSON accounts file."""

_MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class Directory:
    """Viewer ID to display name, as the hospital's directory has them.

    Examples
    --------
    >>> d = Directory.from_accounts([{"viewer_id": 4821, "display_name": "Dr. Marek Lindqvist"}])
    >>> d.name_of(4821), d.name_of(7)
    ('Dr. Marek Lindqvist', None)
    """

    names: Mapping[int, str]
    source: str = ""

    @classmethod
    def from_accounts(cls, accounts: Iterable[Mapping[str, Any]], *, source: str = "") -> Directory:
        """From account objects, each with ``viewer_id`` and ``display_name``.

        Raises
        ------
        LedgerError
            If an account lacks either field or a viewer ID appears twice with different names.
        """
        names: dict[int, str] = {}
        for i, account in enumerate(accounts):
            try:
                viewer = viewer_id_field(int(account["viewer_id"]))
                name = text_field(account["display_name"], "display_name")
            except (KeyError, TypeError, ValueError) as exc:
                raise LedgerError(f"directory {source or '(given)'}: account {i + 1} is malformed ({exc})") from exc
            if names.get(viewer, name) != name:
                raise LedgerError(f"directory {source or '(given)'}: viewer {viewer} is listed under two names")
            names[viewer] = name
        return cls(names, source)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Directory:
        """Read a JSON accounts file or a CSV export.

        Raises
        ------
        LedgerError
            If the file cannot be read or holds no directory.
        """
        source = Path(path)
        try:
            info = source.stat()
            if not stat.S_ISREG(info.st_mode) or info.st_size > _MAX_BYTES:
                raise LedgerError(f"directory {str(source)!r} is not a regular file of at most {_MAX_BYTES} bytes")
            text = source.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise LedgerError(f"cannot read directory {str(source)!r}: {exc}") from exc
        if text.lstrip().startswith("{"):
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise LedgerError(f"directory {str(source)!r} is not valid JSON: {exc}") from exc
            if not isinstance(data, dict) or data.get("format") != DIRECTORY_FORMAT or not isinstance(
                    data.get("accounts"), list):
                raise LedgerError(f"{str(source)!r} is not a leaktrace directory (format {DIRECTORY_FORMAT!r})")
            return cls.from_accounts(data["accounts"], source=str(source))
        rows = list(csv.DictReader(io.StringIO(text)))
        if not rows or not {"viewer_id", "display_name"} <= set(rows[0]):
            raise LedgerError(f"directory {str(source)!r}: a CSV directory needs viewer_id and display_name columns")
        return cls.from_accounts(rows, source=str(source))

    def name_of(self, viewer_id: int) -> str | None:
        """The directory's display name for ``viewer_id``, or None when it lists no such viewer."""
        return self.names.get(viewer_id)

    def mismatches(self, views: Iterable[View]) -> list[str]:
        """A sentence for each view whose display name is not the directory's for its viewer ID."""
        problems = []
        for view in views:
            listed = self.name_of(view.viewer_id)
            if listed is None:
                problems.append(f"the directory lists no viewer {view.viewer_id} (ledger view #{view.view_id} "
                                f"names {view.display_name!r})")
            elif listed != view.display_name:
                problems.append(f"ledger view #{view.view_id} names {view.display_name!r} for viewer "
                                f"{view.viewer_id}, but the directory lists {listed!r}")
        return problems

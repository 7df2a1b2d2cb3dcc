"""Registered workstations: a secret token per workstation, kept by its hash, and a CLI to enrol them.

The ledger's workstation must come from something the server can check,
never from what the user types. IT registers each workstation here: the
command prints a random token once, and stores only its SHA-256 (the tokens
are 256-bit random, so a fast hash is enough). The workstation then presents
the token with every request, either

* as the header ``X-Leaktrace-Workstation: TOKEN``, added by the kiosk
  browser's managed policy, a local agent or the VDI gateway (best: the user
  never holds it), or
* as the long-lived ``HttpOnly`` cookie ``leaktrace_workstation``, set by
  opening the viewer's enrolment page (``/workstation/enrol``) on that
  workstation and pasting the token (a bearer secret in that browser
  profile: whoever copies the profile copies the workstation).

A request without a registered token is named by its client address.

The file, ``workstations.json``::

    {"format": "leaktrace-workstations", "version": 1,
     "workstations": {"<sha256 hex of the token>": "WS-4B-112", ...}}

Command line (``python -m examples.emr_viewer.workstations --help``)::

    python -m examples.emr_viewer.workstations add --workstations workstations.json --name WS-4B-112
    python -m examples.emr_viewer.workstations remove --workstations workstations.json --name WS-4B-112
    python -m examples.emr_viewer.workstations list --workstations workstations.json
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import secrets
import sys
import threading
from pathlib import Path
from typing import Sequence

from ._jsonfile import file_lock, file_state, read_json, write_json
from .errors import RefusedChangeError, ViewerError, ViewerFileError

__all__ = ["HEADER", "COOKIE", "WORKSTATIONS_FORMAT", "WorkstationRegistry", "main", "token_digest"]

WORKSTATIONS_FORMAT = "leaktrace-workstations"
"""The ``format`` field of a workstations file."""

HEADER = "X-Leaktrace-Workstation"
"""Request header carrying a workstation token."""

COOKIE = "leaktrace_workstation"
"""Cookie carrying a workstation token (set by the enrolment page)."""

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._/-]{0,63}")
_FILE = "workstations file"


def token_digest(token: str) -> str:
    """SHA-256 (hex) of a workstation token: what the file keeps."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise RefusedChangeError(f"a workstation name must be 1-64 of A-Z a-z 0-9 space . _ / - , got {name!r}",
                           field="name", value=name)
    return name


class WorkstationRegistry:
    """The workstations file, re-read when it changes on disk.

    Parameters
    ----------
    path : path or None
        The workstations file; None (or a file that does not exist yet):
        no workstation is registered, every request is named by its address.

    Examples
    --------
    >>> import tempfile, os
    >>> registry = WorkstationRegistry(os.path.join(tempfile.mkdtemp(), "workstations.json"))
    >>> token = registry.add("WS-4B-112")
    >>> registry.name_for(token), registry.name_for("not-a-token")
    ('WS-4B-112', None)
    """

    def __init__(self, path: str | os.PathLike[str] | None) -> None:
        self.path = Path(path) if path is not None else None
        self._lock = threading.Lock()
        self._state: tuple[int, int, int] | None = None
        self._names: dict[str, str] = {}
        self._refresh()

    def _refresh(self) -> None:
        if self.path is None:
            return
        with self._lock:
            state = file_state(self.path)
            if state == self._state:
                return
            names: dict[str, str] = {}
            if state is not None:
                data = read_json(self.path, format_name=WORKSTATIONS_FORMAT, what=_FILE)
                entries = data.get("workstations")
                if not isinstance(entries, dict) or not all(
                        isinstance(k, str) and re.fullmatch(r"[0-9a-f]{64}", k) and isinstance(v, str)
                        for k, v in entries.items()):
                    raise ViewerFileError(f"{_FILE} {str(self.path)!r} must map token SHA-256 hex to names",
                                          path=str(self.path), reason="malformed")
                names = dict(entries)
            self._names, self._state = names, state

    def name_for(self, token: str | None) -> str | None:
        """The workstation a token was issued to, or None for no token or an unregistered one."""
        if not token or len(token) > 256:
            return None
        self._refresh()
        return self._names.get(token_digest(token))

    def names(self) -> list[str]:
        """Registered workstation names, sorted."""
        self._refresh()
        return sorted(set(self._names.values()))

    def _reread(self) -> None:
        with self._lock:
            self._state = None
        self._refresh()

    def _write(self, names: dict[str, str]) -> None:
        assert self.path is not None
        write_json(self.path, {"format": WORKSTATIONS_FORMAT, "version": 1, "workstations": names}, what=_FILE)
        self._reread()

    def add(self, name: str) -> str:
        """Register a workstation (creating the file if needed) and return its new token, to be shown once.

        Raises
        ------
        RefusedChangeError
            If the name is invalid.
        ViewerFileError
            If the file cannot be written (or there is none: ``path`` None).
        """
        if self.path is None:
            raise ViewerFileError("no workstations file configured", path="", reason="none")
        _check_name(name)
        token = secrets.token_urlsafe(32)
        with file_lock(self.path, what=_FILE):
            self._reread()
            self._write({**self._names, token_digest(token): name})
        return token

    def remove(self, name: str) -> int:
        """Revoke every token of a workstation; returns how many.

        Raises
        ------
        RefusedChangeError
            If no token is registered to that name.
        """
        if self.path is None:
            raise ViewerFileError("no workstations file configured", path="", reason="none")
        with file_lock(self.path, what=_FILE):
            self._reread()
            kept = {k: v for k, v in self._names.items() if v != name}
            removed = len(self._names) - len(kept)
            if not removed:
                raise RefusedChangeError(f"no workstation {name!r} is registered", field="name", value=name)
            self._write(kept)
        return removed


EPILOG = """examples:
  python -m examples.emr_viewer.workstations add --workstations workstations.json --name WS-4B-112
  python -m examples.emr_viewer.workstations remove --workstations workstations.json --name WS-4B-112

'add' prints the new token once, on standard output; only its hash is stored.
Configure the workstation to send it as the X-Leaktrace-Workstation header, or
open https://VIEWER/workstation/enrol on it and paste it there. A workstation
may hold several tokens; 'remove' revokes them all.

exit status: 0 done, 1 refused (invalid name, no such workstation), 2 the file
cannot be read or written
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Register and revoke workstation tokens; see ``--help``."""
    parser = argparse.ArgumentParser(prog="python -m examples.emr_viewer.workstations",
                                     description="Register the EMR viewer's workstations (token -> name).",
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    subs = [commands.add_parser(name, help=text) for name, text in (
        ("add", "register a workstation and print its new token"),
        ("remove", "revoke every token of a workstation"),
        ("list", "list registered workstations"))]
    for sub in subs:
        sub.add_argument("--workstations", type=Path, required=True, help="the workstations file")
    for sub in subs[:2]:
        sub.add_argument("--name", required=True, help="the workstation's name in the ledger, e.g. WS-4B-112")
    args = parser.parse_args(argv)
    try:
        registry = WorkstationRegistry(args.workstations)
        if args.command == "add":
            print(registry.add(args.name))
            print(f"registered {args.name} in {args.workstations}; the token above is shown only once",
                  file=sys.stderr)
        elif args.command == "remove":
            print(f"revoked {registry.remove(args.name)} token(s) of {args.name}", file=sys.stderr)
        else:
            print("\n".join(registry.names()))
    except RefusedChangeError as exc:
        print(f"workstations: refused: {exc}", file=sys.stderr)
        return 1
    except ViewerError as exc:
        print(f"workstations: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

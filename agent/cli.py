"""``leaktrace-agent``: the desktop screen agent, its watchdog and the marking service.

Subcommands:

* ``run``: the watchdog with the overlay under it (what a login item starts);
* ``overlay``: the overlay alone, in the foreground;
* ``serve``: the marking service (on a server: holds the key and writes the ledger);
* ``enrol``: issue a workstation's token (on the server).

Exit status: 0 on a clean stop, 2 for an error (bad arguments, unreadable
files, Qt missing), printed as one line on stderr.
"""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import os
import socket
import sys
from pathlib import Path
from typing import Sequence

from ledger import Ledger, LedgerError
from watermark import Key, LeaktraceError

from ._client import ServiceMarks
from ._identity import AccountMap, IdentityError, IdentityResolver, load_callback
from ._marks import LocalMarks, Marker, MarkSource
from ._service import MarkService, WorkstationTokens
from ._state import Marking

__all__ = ["main"]

log = logging.getLogger("leaktrace.agent")

EPILOG = """\
examples:
  on the server:
    leaktrace-agent enrol WS-4B-112 --tokens agent-tokens.json > ws-4b-112.token
    leaktrace-agent serve --key-file hospital.key --accounts accounts.json \\
        --ledger postgresql://... --ledger-key ledger.key --tokens agent-tokens.json \\
        --host 0.0.0.0 --port 8791 --cert marks.pem --cert-key marks-key.pem
  on each workstation (a login item):
    leaktrace-agent run --service https://marks.hospital.example:8791 --token-file ws-4b-112.token
  one machine, no server (the key file is on the workstation):
    leaktrace-agent run --key-file hospital.key --accounts accounts.json --ledger sqlite:///ledger.sqlite \\
        --ledger-key ledger.key
"""


class _UsageError(Exception):
    pass


def _setup_logging(log_file: Path | None, verbose: bool) -> None:
    root = logging.getLogger("leaktrace")
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.propagate = False
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setFormatter(logging.Formatter("leaktrace-agent[%(process)d]: %(levelname)s %(message)s"))
    root.addHandler(stderr)
    if os.path.exists("/dev/log"):  # the administrator's log (journald, syslog)
        try:
            syslog = logging.handlers.SysLogHandler(address="/dev/log",
                                                    facility=logging.handlers.SysLogHandler.LOG_AUTH)
            syslog.setFormatter(logging.Formatter("leaktrace-agent[%(process)d]: %(message)s"))
            syslog.setLevel(logging.WARNING)
            root.addHandler(syslog)
        except OSError:
            pass
    if log_file is not None:
        handler = logging.FileHandler(log_file, encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(message)s"))
        root.addHandler(handler)


def _resolver(args: argparse.Namespace) -> IdentityResolver:
    if bool(args.accounts) == bool(args.identity_callback):
        raise _UsageError("give exactly one of --accounts FILE and --identity-callback module:function")
    return AccountMap.load(args.accounts) if args.accounts else load_callback(args.identity_callback)


def _open_ledger(args: argparse.Namespace) -> Ledger | None:
    if not args.ledger:
        return None
    if not args.ledger_key:
        raise _UsageError("--ledger needs --ledger-key (the private key its rows are signed with)")
    return Ledger.open(args.ledger, ledger_key=args.ledger_key)


def _source(args: argparse.Namespace) -> MarkSource:
    if args.service:
        if args.key_file or args.accounts or args.identity_callback or args.ledger:
            raise _UsageError("--service: the key, the account map and the ledger are the service's; "
                              "do not give them here")
        if not args.token_file:
            raise _UsageError("--service needs --token-file (leaktrace-agent enrol writes the token)")
        try:
            token = Path(args.token_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise _UsageError(f"cannot read the token file {args.token_file}: {exc.strerror or exc}") from None
        return ServiceMarks(args.service, token, cafile=args.ca_file)
    if not args.key_file:
        raise _UsageError("give --service URL --token-file F, or --key-file K with --accounts (one machine)")
    return LocalMarks(Marker(Key.from_file(args.key_file), _open_ledger(args), _resolver(args)),
                      workstation=args.workstation)


def _source_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--service", metavar="URL", help="the marking service (leaktrace-agent serve)")
    parser.add_argument("--token-file", type=Path, metavar="FILE", help="this workstation's enrolment token")
    parser.add_argument("--ca-file", metavar="FILE", help="CA bundle for the service's certificate")
    parser.add_argument("--key-file", type=Path, metavar="FILE",
                        help="one machine without a service: the watermark key (whoever reads it can forge marks)")
    parser.add_argument("--workstation", help="this workstation's name in the ledger (default: the host name)")
    _identity_options(parser)
    parser.add_argument("--visible", action="store_true", help="also show the visible mark (name, ID, time)")
    parser.add_argument("--status-file", type=Path, metavar="FILE",
                        help="keep a JSON status here (state, viewer, minute, monitors) for monitoring")


def _identity_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--accounts", type=Path, metavar="FILE",
                        help="OS account to viewer: JSON accounts file or CSV username,viewer_id,display_name")
    parser.add_argument("--identity-callback", metavar="MODULE:FUNCTION",
                        help="an integrator's function from the session to (viewer_id, display_name)")
    parser.add_argument("--ledger", help="ledger URL to record sessions, minutes and gaps in")
    parser.add_argument("--ledger-key", type=Path, metavar="FILE", help="the ledger's private signing key")


def _overlay_argv(args: argparse.Namespace) -> list[str]:
    argv = [sys.executable, "-m", "agent", "overlay", "--heartbeat"]
    for option in ("service", "token_file", "ca_file", "key_file", "workstation", "accounts", "identity_callback",
                   "ledger", "ledger_key", "status_file", "log_file"):
        value = getattr(args, option)
        if value:
            argv += [f"--{option.replace('_', '-')}", str(value)]
    if args.visible:
        argv.append("--visible")
    if args.verbose:
        argv.append("--verbose")
    return argv


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="leaktrace-agent", description=(
        "Lay the invisible leaktrace mark (and optionally the visible one) over every monitor of this "
        "workstation, naming the logged-in account and the minute."), epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("run", "the overlay under a watchdog that restarts it and records gaps"),
                       ("overlay", "the overlay alone, in the foreground")):
        sub = commands.add_parser(name, help=text, description=text)
        _source_options(sub)
        sub.add_argument("--log-file", type=Path, metavar="FILE")
        sub.add_argument("--verbose", action="store_true")
        if name == "overlay":
            sub.add_argument("--heartbeat", action="store_true", help=argparse.SUPPRESS)
    serve = commands.add_parser("serve", help="the marking service", description=(
        "Give enrolled workstations their viewer's overlay tiles; record sessions, minutes and gaps."))
    serve.add_argument("--key-file", type=Path, required=True, metavar="FILE")
    _identity_options(serve)
    serve.add_argument("--tokens", type=Path, required=True, metavar="FILE", help="enrolled workstations")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8791)
    serve.add_argument("--cert", metavar="FILE", help="TLS certificate chain (PEM)")
    serve.add_argument("--cert-key", metavar="FILE", help="TLS private key (PEM)")
    serve.add_argument("--log-file", type=Path, metavar="FILE")
    serve.add_argument("--verbose", action="store_true")
    enrol = commands.add_parser("enrol", help="issue a workstation's token (printed once; only its hash is kept)")
    enrol.add_argument("workstation")
    enrol.add_argument("--tokens", type=Path, required=True, metavar="FILE")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``leaktrace-agent``; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "enrol":
            print(WorkstationTokens.load(args.tokens).enrol(args.workstation))
            return 0
        _setup_logging(args.log_file, args.verbose)
        if args.command == "serve":
            return _serve(args)
        source = _source(args)
        if args.command == "run":
            from ._watchdog import watch

            return watch(_overlay_argv(args), source)
        try:
            from ._overlay import run_overlay
        except ImportError as exc:
            raise _UsageError(f"Qt for Python is not installed ({exc}): pip install 'leaktrace[agent]'") from None
        return run_overlay(Marking(source), visible=args.visible, status_file=args.status_file,
                           heartbeat=args.heartbeat)
    except (_UsageError, IdentityError, LedgerError, LeaktraceError, ValueError, OSError) as exc:
        print(f"leaktrace-agent: error: {exc}", file=sys.stderr)
        return 2


def _serve(args: argparse.Namespace) -> int:
    marker = Marker(Key.from_file(args.key_file), _open_ledger(args), _resolver(args))
    service = MarkService(marker, WorkstationTokens.load(args.tokens), host=args.host, port=args.port,
                          certfile=args.cert, keyfile=args.cert_key)
    log.info("marking service on %s (key %s, %s)", service.url, marker.key.fingerprint, socket.gethostname())
    print(f"leaktrace-agent: serving on {service.url}", file=sys.stderr, flush=True)
    try:
        service.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0

"""``python -m examples.emr_viewer``: start the example EMR viewer on localhost.

With no options it keeps everything under ``emr-viewer-data/``, created on
first start: the watermark key (``hospital.key``), the protected-rendering
key for sensitive records (``protected.key``), the ledger's signing key
(``ledger.key``, public half ``ledger.pub``), the embedded SQLite ledger, and
demo accounts for the invented staff, each with a random password printed
once to the console. It serves on http://127.0.0.1:5000/. Trace a screenshot
of one of its pages with::

    trace-leak shot.png --key-file emr-viewer-data/hospital.key --key-file emr-viewer-data/protected.key

and join it with the ledger in Python (``ledger``), or with
``trace-leak --ledger sqlite:///emr-viewer-data/ledger.sqlite``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Sequence, TextIO

from flask import Flask

import watermark
from ledger import LedgerError, LedgerKey

from .accounts import create_demo_accounts
from .app import create_app
from .errors import ViewerError
from .records import EMPLOYEES
from .sessions import is_loopback_host

EPILOG = """examples:
  python -m examples.emr_viewer
  python -m examples.emr_viewer --port 8080 --https --trusted-proxies 1 \\
      --ledger postgresql://viewer:secret@dbhost/emr_audit --ledger-key /etc/leaktrace/ledger.key \\
      --key-file /etc/leaktrace/hospital.key --protected-key-file /etc/leaktrace/protected.key \\
      --accounts /etc/leaktrace/accounts.json --workstations /etc/leaktrace/workstations.json

Files given with an option must exist; only the defaults under DATA_DIR are
created when missing (demo accounts with random passwords, shown once).
Manage accounts with python -m examples.emr_viewer.accounts and workstations
with python -m examples.emr_viewer.workstations.

exit status: 0 after a clean stop, 2 when a key, the accounts, the workstations
or the ledger cannot be opened
"""


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line (see ``--help``)."""
    parser = argparse.ArgumentParser(
        prog="python -m examples.emr_viewer",
        description="Example EMR viewer that stamps every record page (visible + invisible marks) and logs every view.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default %(default)s)")
    parser.add_argument("--port", type=int, default=5000, help="port (default %(default)s)")
    parser.add_argument("--data-dir", type=Path, default=Path("emr-viewer-data"),
                        help="folder for the default keys, ledger and accounts (default %(default)s)")
    parser.add_argument("--key-file", type=Path, help="watermark key (default DATA_DIR/hospital.key)")
    parser.add_argument("--protected-key-file", type=Path,
                        help="watermark key of server-stamped sensitive records (default DATA_DIR/protected.key)")
    parser.add_argument("--ledger", help="ledger URL or path (default sqlite:///DATA_DIR/ledger.sqlite)")
    parser.add_argument("--ledger-key", type=Path, help="the ledger's private signing key (default DATA_DIR/ledger.key)")
    parser.add_argument("--accounts", type=Path, help="accounts file (default DATA_DIR/accounts.json)")
    parser.add_argument("--workstations", type=Path,
                        help="registered workstation tokens (default DATA_DIR/workstations.json; "
                             "none: workstations are named by client address)")
    parser.add_argument("--https", action=argparse.BooleanOptionalAction, default=None,
                        help="the viewer is reached over HTTPS (directly or through a TLS proxy): Secure cookies; "
                             "default: Secure unless addressed as localhost")
    parser.add_argument("--trusted-proxies", type=int, default=0,
                        help="reverse proxies whose X-Forwarded-For/-Proto are believed (default %(default)s)")
    parser.add_argument("--label", default=watermark.DEFAULT_VISIBLE_LABEL, help="notice in the visible mark")
    return parser.parse_args(argv)


def _say(out: TextIO, text: str) -> None:
    print(text, file=out, flush=True)


def _watermark_key(given: Path | None, default: Path, out: TextIO) -> watermark.Key:
    path = given or default
    if given is None and not path.exists():
        watermark.Key.generate().save(path)
        _say(out, f"created key {path}")
    return watermark.Key.from_file(path)


def _ledger_key(given: Path | None, data_dir: Path, out: TextIO) -> LedgerKey:
    path = given or data_dir / "ledger.key"
    if given is None and not path.exists():
        key = LedgerKey.generate()
        key.save(path)
        key.save(data_dir / "ledger.pub", public=True, overwrite=True)
        _say(out, f"created ledger signing key {path} ({key.fingerprint}); public key {data_dir / 'ledger.pub'}")
    return LedgerKey.load(path)


def _accounts(given: Path | None, data_dir: Path, out: TextIO) -> Path:
    path = given or data_dir / "accounts.json"
    if given is None and not path.exists():
        created = create_demo_accounts(path, EMPLOYEES.values())
        _say(out, f"created demo accounts in {path}; their passwords are shown now and never again:")
        width = max(len(account.username) for account, _ in created)
        for account, password in created:
            _say(out, f"  {account.username:<{width}}  {account.display_name} (viewer {account.viewer_id})  "
                      f"password: {password}")
    return path


def prepare(args: argparse.Namespace, *, out: TextIO = sys.stderr) -> Flask:
    """Create what is missing under ``args.data_dir`` (saying so on ``out``) and build the app.

    Raises
    ------
    watermark.WatermarkError, LedgerError, ViewerError
        If a key, the accounts, the workstations or the ledger cannot be opened.
    """
    data_dir: Path = args.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    key = _watermark_key(args.key_file, data_dir / "hospital.key", out)
    protected_key = _watermark_key(args.protected_key_file, data_dir / "protected.key", out)
    secure = args.https
    if secure is None and not is_loopback_host(args.host):
        secure = True
    return create_app(
        ledger=args.ledger or str(data_dir / "ledger.sqlite"),
        ledger_key=_ledger_key(args.ledger_key, data_dir, out),
        key=key,
        protected_key=protected_key,
        accounts=_accounts(args.accounts, data_dir, out),
        workstations=args.workstations or data_dir / "workstations.json",
        secure_cookies=secure,
        trusted_proxies=args.trusted_proxies,
        visible_label=args.label,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, open keys, accounts and ledger, and serve until interrupted."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        app = prepare(args)
    except (watermark.WatermarkError, LedgerError, ViewerError, ValueError) as exc:
        print(f"emr_viewer: error: {exc}", file=sys.stderr)
        return 2
    state = app.extensions["leaktrace_viewer"]
    print(
        f"EMR viewer on http://{args.host}:{args.port}/  keys {state.key.fingerprint} (overlay), "
        f"{state.protected_key.fingerprint} (protected)  ledger {state.ledger.url}",
        file=sys.stderr,
        flush=True,
    )
    app.run(host=args.host, port=args.port, threaded=True, use_reloader=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())

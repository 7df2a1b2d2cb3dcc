"""``python -m examples.emr_viewer``: start the example EMR viewer on localhost.

With no options it keeps its key and an embedded SQLite ledger under
``emr-viewer-data/`` (created on first start) and serves on
http://127.0.0.1:5000/. Trace a screenshot of one of its pages with::

    trace-leak shot.png --key-file emr-viewer-data/hospital.key

and join it with the ledger in Python (``ledger``), or with
``trace-leak --ledger sqlite:///emr-viewer-data/ledger.sqlite``.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Sequence

import watermark
from ledger import LedgerError

from .app import DEFAULT_WORKSTATION, create_app

EPILOG = """examples:
  python -m examples.emr_viewer
  python -m examples.emr_viewer --port 8080 --ledger postgresql://viewer:secret@dbhost/emr_audit
  python -m examples.emr_viewer --data-dir /tmp/viewer --key-file /etc/leaktrace/hospital.key

exit status: 0 after a clean stop, 2 when the key or the ledger cannot be opened
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, open key and ledger, and serve until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m examples.emr_viewer",
        description="Example EMR viewer that stamps every record page (visible + invisible marks) and logs every view.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default %(default)s)")
    parser.add_argument("--port", type=int, default=5000, help="port (default %(default)s)")
    parser.add_argument("--data-dir", type=Path, default=Path("emr-viewer-data"),
                        help="folder for the default key and ledger (default %(default)s)")
    parser.add_argument("--key-file", type=Path, help="watermark key (default DATA_DIR/hospital.key, created if missing)")
    parser.add_argument("--ledger", help="ledger URL or path (default sqlite:///DATA_DIR/ledger.sqlite)")
    parser.add_argument("--workstation", default=DEFAULT_WORKSTATION,
                        help="workstation name proposed at log-in (default %(default)s)")
    parser.add_argument("--label", default=watermark.DEFAULT_VISIBLE_LABEL, help="notice in the visible mark")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args.data_dir.mkdir(parents=True, exist_ok=True)
    key_path = args.key_file or args.data_dir / "hospital.key"
    try:
        if args.key_file is None and not key_path.exists():
            watermark.Key.generate().save(key_path)
            print(f"created key {key_path}", file=sys.stderr)
        key = watermark.Key.from_file(key_path)
        ledger = args.ledger or str(args.data_dir / "ledger.sqlite")
        app = create_app(ledger=ledger, key=key, default_workstation=args.workstation, visible_label=args.label)
    except (watermark.WatermarkError, LedgerError) as exc:
        print(f"emr_viewer: error: {exc}", file=sys.stderr)
        return 2
    state = app.extensions["leaktrace_viewer"]
    print(
        f"EMR viewer on http://{args.host}:{args.port}/  key {key_path} ({key.fingerprint})  ledger {state.ledger.url}",
        file=sys.stderr,
        flush=True,
    )
    app.run(host=args.host, port=args.port, threaded=True, use_reloader=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())

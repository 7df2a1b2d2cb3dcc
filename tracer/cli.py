"""``trace-leak``: who displayed the screen in this leaked image?

Exit codes: 0 every image traced, 1 some image had no (decodable) mark,
2 an error (unreadable image, bad key file, unreachable ledger, bad
arguments).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Sequence, TextIO

from watermark import Key, WatermarkError

from ._load import DEFAULT_MAX_PIXELS, LoadedImage, load_image
from ._trace import TraceResult, trace

__all__ = ["main"]

EPILOG = """examples:
  trace-leak leaked.jpg --key-file hospital.key
  trace-leak leaked.jpg --key-file hospital.key --report leak-report.html
  trace-leak a.jpg b.png --key-file 2026.key --key-file 2025.key --json
  trace-leak leaked.jpg --key-file hospital.key --ledger sqlite:///ledger.sqlite

exit status: 0 every image traced, 1 some image carried no readable mark, 2 error
"""


def _describe(result: TraceResult) -> str:
    if not result.found or result.payload is None:
        return (
            f"{result.source}: no watermark found (best detection score {result.detection_score:.1f}; "
            f"{len(result.hypotheses)} geometries tried). This does not show the image is unmarked."
        )
    p = result.payload
    return (
        f"{result.source}: viewer {p.viewer_id} at {p.timestamp.strftime('%Y-%m-%dT%H:%MZ')} "
        f"(key {result.key_fingerprint}; false-attribution probability <= {result.false_attribution_probability:.1e})"
    )


class _Progress:
    """A one-line progress bar on stderr for several images (plain lines when not a terminal)."""

    def __init__(self, total: int, stream: TextIO) -> None:
        self.total, self.stream = total, stream
        self.enabled = total > 1
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.start = time.perf_counter()

    def update(self, done: int, name: str) -> None:
        if not self.enabled:
            return
        width = 24
        filled = int(width * done / self.total)
        elapsed = time.perf_counter() - self.start
        line = f"[{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} {elapsed:5.1f}s {name}"
        if self.tty:
            self.stream.write("\r" + line[:100].ljust(100))
            if done == self.total:
                self.stream.write("\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``trace-leak``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="trace-leak",
        description="Recover the viewer ID and time stamped into a leaked screenshot or photo of a screen.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("images", nargs="+", type=Path, help="leaked image file(s): JPEG, PNG, WebP, TIFF, BMP, HEIC")
    parser.add_argument("--key-file", action="append", type=Path, required=True, help="key file; repeat for rotated keys")
    parser.add_argument("--json", action="store_true", help="print one JSON document with every result")
    parser.add_argument("--report", type=Path, help="write a self-contained HTML forensic report here")
    parser.add_argument("--ledger", help="access ledger (sqlite:///path, a file path, or postgresql://...) to join with")
    parser.add_argument("--window", type=int, default=5, help="ledger: minutes of surrounding views to list (default %(default)s)")
    parser.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, help="refuse larger images (default %(default)s)")
    args = parser.parse_args(argv)
    try:
        keys = [Key.from_file(path) for path in args.key_file]
    except WatermarkError as exc:
        print(f"trace-leak: error: {exc}", file=sys.stderr)
        return 2
    ledger = None
    if args.ledger:
        from .ledger import Ledger

        try:
            ledger = Ledger.open(args.ledger, read_only=True)
        except WatermarkError as exc:
            print(f"trace-leak: error: {exc}", file=sys.stderr)
            return 2
    status = 0
    records: list[dict[str, Any]] = []
    entries = []
    progress = _Progress(len(args.images), sys.stderr)
    for done, path in enumerate(args.images, start=1):
        try:
            loaded: LoadedImage = load_image(path, max_pixels=args.max_pixels)
            result = trace(loaded, keys)
            join = None
            if ledger is not None and result.found and result.payload is not None:
                join = ledger.lookup(
                    result.payload.viewer_id, result.payload.timestamp, window_minutes=args.window, key_fingerprint=result.key_fingerprint
                )
        except WatermarkError as exc:
            print(f"trace-leak: error: {exc}", file=sys.stderr)
            records.append({"source": str(path), "error": str(exc)})
            status = 2
            progress.update(done, path.name)
            continue
        progress.update(done, path.name)
        record = result.to_dict()
        if join is not None:
            from .ledger import format_ledger_join, ledger_join_dict

            record["ledger"] = ledger_join_dict(join)
        records.append(record)
        entries.append((result, loaded.rgb, record.get("ledger")))
        if not result.found:
            status = max(status, 1)
        if not args.json:
            print(_describe(result))
            if join is not None:
                print(format_ledger_join(join))
    if ledger is not None:
        ledger.close()
    if args.report is not None and entries:
        from ._report import ReportEntry, write_report

        try:
            write_report(args.report, [ReportEntry(result=r, image=img, ledger=led) for r, img, led in entries])
        except OSError as exc:
            print(f"trace-leak: error: cannot write report {str(args.report)!r}: {exc}", file=sys.stderr)
            return 2
        if not args.json:
            print(f"report written to {args.report}")
    if args.json:
        json.dump({"results": records, "exit_status": status}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

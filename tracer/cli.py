"""``trace-leak``: who displayed the screen in this leaked image?

Exit codes: 0 every image traced, 1 some image had no (decodable) mark,
2 an error (unreadable image, bad key file, unreachable ledger, bad
arguments). Errors go to stderr as one line each, never as a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence, TextIO

from ledger import (
    DEFAULT_WINDOW_MINUTES,
    MAX_WINDOW_MINUTES,
    Ledger,
    LedgerLookup,
    format_ledger_join,
    ledger_join_dict,
)
from watermark import DEFAULT_MAX_PIXELS, Key, LeaktraceError, load_image

from ._report import ReportEntry, write_report
from ._result import TraceResult
from ._trace import trace

__all__ = ["EXIT_ERROR", "EXIT_NOT_FOUND", "EXIT_TRACED", "main"]

EXIT_TRACED = 0
"""Every image carried a mark that passed the keyed check."""

EXIT_NOT_FOUND = 1
"""Some image carried no readable mark (and nothing failed)."""

EXIT_ERROR = 2
"""Something could not be done: bad arguments, unreadable image or key file, unreachable ledger."""

EPILOG = """examples:
  trace-leak leaked.jpg --key-file hospital.key
  trace-leak leaked.jpg --key-file hospital.key --report leak-report.html
  trace-leak a.jpg b.png --key-file 2026.key --key-file 2025.key --json
  trace-leak leaked.jpg --key-file hospital.key --ledger sqlite:///ledger.sqlite

exit status: 0 every image traced, 1 some image carried no readable mark, 2 error
"""


def _int_in(low: int, high: int | None) -> Callable[[str], int]:
    """An argparse type: an integer in ``low..high`` (no upper bound when ``high`` is None)."""
    expected = f"an integer in {low}..{high}" if high is not None else f"an integer >= {low}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {value}")
        return value

    return parse


def _parser() -> argparse.ArgumentParser:
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
    parser.add_argument(
        "--window", type=_int_in(0, MAX_WINDOW_MINUTES), default=DEFAULT_WINDOW_MINUTES,
        help=f"ledger: minutes of surrounding views to list, 0..{MAX_WINDOW_MINUTES} (default %(default)s)",
    )
    parser.add_argument(
        "--max-pixels", type=_int_in(1, None), default=DEFAULT_MAX_PIXELS,
        help="refuse larger images (default %(default)s)",
    )
    return parser


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


def _error(message: object) -> None:
    print(f"trace-leak: error: {message}", file=sys.stderr)


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


@dataclass
class _Run:
    """One invocation: the options, the keys, the open ledger, and what has been found so far."""

    args: argparse.Namespace
    keys: list[Key]
    ledger: Ledger | None
    status: int = EXIT_TRACED
    records: list[dict[str, Any]] = field(default_factory=list)
    entries: list[ReportEntry] = field(default_factory=list)

    def trace_image(self, path: Path) -> None:
        """Trace one image, join it with the ledger, print it; an error is recorded and the run goes on."""
        try:
            loaded = load_image(path, max_pixels=self.args.max_pixels)
            result = trace(loaded, self.keys, max_pixels=self.args.max_pixels)
            join = self._lookup(result)
        except LeaktraceError as exc:
            _error(exc)
            self.records.append({"source": str(path), "error": str(exc)})
            self.status = EXIT_ERROR
            return
        record = result.to_dict()
        if join is not None:
            record["ledger"] = ledger_join_dict(join)
        self.records.append(record)
        self.entries.append(ReportEntry(result=result, image=loaded.rgb, ledger=join))
        if not result.found:
            self.status = max(self.status, EXIT_NOT_FOUND)
        if not self.args.json:
            print(_describe(result))
            if join is not None:
                print(format_ledger_join(join))

    def _lookup(self, result: TraceResult) -> LedgerLookup | None:
        if self.ledger is None or not result.found or result.payload is None:
            return None
        return self.ledger.lookup(
            result.payload.viewer_id, result.payload.timestamp,
            window_minutes=self.args.window, key_fingerprint=result.key_fingerprint,
        )

    def finish(self) -> int:
        """Write the report and the JSON document; the exit status."""
        if self.args.report is not None and self.entries:
            try:
                write_report(self.args.report, self.entries)
            except OSError as exc:
                _error(f"cannot write report {str(self.args.report)!r}: {exc}")
                return EXIT_ERROR
            if not self.args.json:
                print(f"report written to {self.args.report}")
        if self.args.json:
            json.dump({"results": self.records, "exit_status": self.status}, sys.stdout, indent=2)
            sys.stdout.write("\n")
        return self.status


def _run(args: argparse.Namespace) -> int:
    keys = [Key.from_file(path) for path in args.key_file]
    ledger = Ledger.open(args.ledger, read_only=True) if args.ledger else None
    try:
        run = _Run(args, keys, ledger)
        progress = _Progress(len(args.images), sys.stderr)
        for done, path in enumerate(args.images, start=1):
            run.trace_image(path)
            progress.update(done, path.name)
    finally:
        if ledger is not None:
            ledger.close()
    return run.finish()


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``trace-leak``; returns the exit status (0 traced, 1 no watermark found, 2 error).

    Bad arguments end in argparse's usage message and ``SystemExit(2)``.
    """
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except LeaktraceError as exc:
        _error(exc)
        return EXIT_ERROR
    except Exception as exc:  # a bug: say so, and keep the exit status from claiming "no watermark found"
        _error(f"internal error ({type(exc).__name__}: {exc}); please report it with this trace:")
        traceback.print_exc(file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

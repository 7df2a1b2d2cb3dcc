"""``trace-leak``: who displayed the screen in this leaked image?

Exit codes: 0 every image traced, 1 some image had no (decodable) mark,
2 an error (unreadable image, bad key file, unreachable ledger, bad
arguments). Errors go to stderr as one line each, never as a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Sequence, TextIO

from ledger import (
    AUDIT_SESSION_LOOKBACK,
    DEFAULT_WINDOW_MINUTES,
    AuditJoin,
    AuditLog,
    MAX_WINDOW_MINUTES,
    ChainReport,
    Directory,
    Ledger,
    LedgerLookup,
    format_audit_join,
    format_ledger_join,
    ledger_join_dict,
)
from watermark import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS, Key, LeaktraceError, load_image
from watermark.cli import warnings_to_stderr

from ._attribute import DEFAULT_THRESHOLD, Attribution, attribute
from ._batch import RETRY_STATUSES
from ._report import ReportEntry, write_report
from ._result import Mark, TraceResult
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
  trace-leak leaked.jpg --key-file hospital.key --ledger sqlite:///ledger.sqlite --record "MRN 28110431"
  trace-leak leaked.jpg --key-file hospital.key --ledger sqlite:///ledger.sqlite \
      --since 2026-03-01T09:00Z --until 2026-03-01T10:00Z
  trace-leak photo.jpg --key-file hospital.key --ledger sqlite:///ledger.sqlite --audit-log emr-access.csv

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
    parser.add_argument("images", nargs="*", type=Path,
                        help="leaked image file(s): JPEG, PNG, WebP, TIFF, BMP, HEIC; folders (recursive) and zip archives are scanned")
    parser.add_argument("--key-file", action="append", type=Path, required=True, help="key file; repeat for rotated keys")
    parser.add_argument("--json", action="store_true", help="print one JSON document with every result")
    parser.add_argument("--report", type=Path, help="write a self-contained HTML forensic report here")
    parser.add_argument("--ledger", help="access ledger (sqlite:///path, a file path, or postgresql://...) to join with")
    parser.add_argument("--ledger-key", type=Path, metavar="FILE",
                        help="the ledger's public key (leaktrace-ledger keygen writes it): the rows used are verified "
                             "against it; without it, against the key the ledger records for itself")
    parser.add_argument("--directory", type=Path, metavar="FILE",
                        help="the viewer's account directory (JSON accounts file or CSV viewer_id,display_name): "
                             "a ledger name it does not confirm is not printed as the leaker")
    parser.add_argument("--audit-log", type=Path, metavar="FILE.csv",
                        help="the EMR's access audit log (CSV: accessed_at, record_id, viewer_id or username): "
                             "which records the viewer opened in the mark's minute (for desktop-agent marks)")
    parser.add_argument("--agent-accounts", type=Path, metavar="FILE",
                        help="the agent's account map (username to viewer), for an audit log that names usernames")
    parser.add_argument(
        "--window", type=_int_in(0, MAX_WINDOW_MINUTES), default=DEFAULT_WINDOW_MINUTES,
        help=f"ledger: minutes of surrounding views to list, 0..{MAX_WINDOW_MINUTES} (default %(default)s)",
    )
    parser.add_argument(
        "--max-pixels", type=_int_in(1, None), default=DEFAULT_MAX_PIXELS,
        help="refuse larger images, from their header before decoding (default %(default)s)",
    )
    parser.add_argument(
        "--max-bytes", type=_int_in(1, None), default=DEFAULT_MAX_BYTES,
        help="refuse larger image files, unread (default %(default)s)",
    )
    parser.add_argument("--thorough", action="store_true",
                        help="run the full geometry search on every image (no fast rejection of images that show no sign of the mark)")
    parser.add_argument("--time-limit", type=_seconds, metavar="S", help="seconds one image may take (default: no limit)")
    batch = parser.add_argument_group(
        "batch scanning",
        "folders, zip archives (a chat export) and list files; results are appended to --out as they come, "
        "and a rerun skips what the file already holds",
    )
    batch.add_argument("--list", action="append", type=Path, default=[], metavar="FILE", help="a file naming one image (or folder, or archive) per line")
    batch.add_argument("--out", type=Path, metavar="FILE.jsonl", help="append one JSON row per image here; a rerun resumes")
    batch.add_argument("--retry", nargs="+", choices=RETRY_STATUSES, default=[], metavar="STATUS",
                       help="scan again the images --out holds with this status (timeout, error): a second pass, "
                            "for example with a longer --time-limit, over what a quick first pass left open")
    batch.add_argument("--jobs", type=_int_in(1, 256), default=1, help="parallel processes on this machine (default 1)")
    batch.add_argument("--dask", metavar="ADDRESS", help="scan on a Dask cluster: a scheduler address (tcp://host:8786) or 'local'")
    attribution = parser.add_argument_group(
        "ledger-assisted attribution",
        "test the image against the views the ledger recorded (of one record, or every view in a time window): "
        "names a viewer when the blind decode cannot, and only when the false-attribution probability is below the threshold",
    )
    attribution.add_argument("--record", help="the record shown in the image: its views in the ledger are the candidates")
    attribution.add_argument("--since", type=_when, help="candidates viewed at or after this time (ISO 8601 with a time zone)")
    attribution.add_argument("--until", type=_when, help="candidates viewed before this time (ISO 8601 with a time zone)")
    attribution.add_argument(
        "--threshold", type=_probability, default=DEFAULT_THRESHOLD,
        help="name a candidate only below this false-attribution probability (default %(default)s)",
    )
    attribution.add_argument(
        "--null-samples", type=_int_in(0, 100_000), default=1000,
        help="random never-displayed payloads scored on the same tests, for the report's null plot (default %(default)s)",
    )
    return parser


def _when(text: str) -> datetime:
    """An argparse type: an ISO 8601 time with a time zone (``Z`` allowed)."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an ISO 8601 time such as 2026-03-01T09:30Z, got {text!r}") from None
    if value.tzinfo is None or value.utcoffset() is None:
        raise argparse.ArgumentTypeError(f"give a time zone (e.g. {text}Z or {text}+01:00), got {text!r}")
    return value


def _seconds(text: str) -> float:
    """An argparse type: a positive number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _probability(text: str) -> float:
    """An argparse type: a probability strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a probability such as 1e-9, got {text!r}") from None
    if not (math.isfinite(value) and 0.0 < value < 1.0):
        raise argparse.ArgumentTypeError(f"expected a probability in (0, 1), got {text!r}")
    return value


def _describe_attribution(att: Attribution) -> str:
    window = f"{att.candidates} candidate views from the ledger"
    if att.skipped:
        window += f"; {att.skipped} rows under keys not given were not tested"
    if att.named:
        return f"  ledger attribution: NAMED {att.reason} ({window})"
    best = att.best
    top = "" if best is None else f"; best candidate viewer {best.payload.viewer_id} scored {best.score:.1f}, {att.score_threshold():.1f} needed"
    return f"  ledger attribution: nobody named: {att.reason} ({window}{top})"


def _describe(result: TraceResult) -> str:
    if result.dismissed and result.screening is not None:
        return (
            f"{result.source}: no watermark found (dismissed by the fast rejection in {result.screening.seconds:.2f} s: "
            f"{result.screening.reason}; --thorough searches every geometry). This does not show the image is unmarked."
        )
    if not result.found or result.payload is None:
        return (
            f"{result.source}: no watermark found (best detection score {result.detection_score:.1f}; "
            f"{len(result.hypotheses)} geometries tried). This does not show the image is unmarked."
        )
    p = result.payload
    line = (
        f"{result.source}: viewer {p.viewer_id} at {p.timestamp.strftime('%Y-%m-%dT%H:%MZ')} "
        f"(key {result.key_fingerprint}; false-attribution probability <= {result.false_attribution_probability:.1e})"
    )
    if len(result.marks) < 2:
        return line
    lines = [line, f"  {len(result.marks)} marks in the image (each bound counts every keyed check made up to its decode):"]
    lines += [f"  mark {i}: {_describe_mark(m)}" for i, m in enumerate(result.marks, 1)]
    return "\n".join(lines)


def _describe_mark(mark: Mark) -> str:
    """One mark of several: who, when, its own bound, and where in the image."""
    p = mark.payload
    where = ""
    if mark.region is not None:
        (x0, y0), (x1, y1) = mark.region.min(axis=0), mark.region.max(axis=0)
        where = f" in x {x0:.0f}-{x1:.0f}, y {y0:.0f}-{y1:.0f}"
    return (f"viewer {p.viewer_id} at {p.timestamp.strftime('%Y-%m-%dT%H:%MZ')} (key {mark.key_fingerprint}; "
            f"false-attribution probability <= {mark.false_attribution_probability:.1e}){where} [{mark.hypothesis}]")


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

    directory: Directory | None = None
    audit: AuditLog | None = None
    """The EMR's access audit log (``--audit-log``), joined with each ledger match."""
    candidates: list[Any] | None = None
    """Ledger views to attribute against (``--record`` / ``--since`` / ``--until``), else None."""
    candidate_check: ChainReport | None = None
    """The chain check of the candidates' rows: when it fails, no candidate is named."""

    def trace_image(self, path: Path) -> None:
        """Trace one image, join it with the ledger, print it; an error is recorded and the run goes on."""
        attribution: Attribution | None = None
        try:
            loaded = load_image(path, max_pixels=self.args.max_pixels, max_bytes=self.args.max_bytes)
            if self.candidates is not None:
                attribution = attribute(loaded, self.keys, self.candidates, threshold=self.args.threshold,
                                        null_samples=self.args.null_samples, max_pixels=self.args.max_pixels)
                result = attribution.blind
            else:
                result = trace(loaded, self.keys, max_pixels=self.args.max_pixels, thorough=self.args.thorough,
                               time_limit=self.args.time_limit)
            join = self._lookup(result, attribution)
        except LeaktraceError as exc:
            _error(exc)
            self.records.append({"source": str(path), "error": str(exc)})
            self.status = EXIT_ERROR
            return
        except Exception as exc:  # a bug: this image's row says so, and the other images' results are kept
            message = f"internal error ({type(exc).__name__}: {exc})"
            _error(f"{message} on {path}; please report it with this trace:")
            traceback.print_exc(file=sys.stderr)
            self.records.append({"source": str(path), "error": message})
            self.status = EXIT_ERROR
            return
        refused = self._refusal(attribution)
        if refused:
            join = None  # the attributed view came from rows that fail verification: nothing is joined
        record = result.to_dict()
        audit = self._audit(join)
        if join is not None:
            record["ledger"] = ledger_join_dict(join)
        if audit is not None:
            record["audit"] = audit.to_dict()
        if attribution is not None:
            record["attribution"] = attribution.to_dict()
            if refused:
                record["attribution"].update(named=False, refused=refused)
        self.records.append(record)
        self.entries.append(ReportEntry(result=result, image=loaded.rgb, ledger=join, attribution=attribution))
        if not (result.found or (attribution is not None and attribution.named and not refused)):
            self.status = max(self.status, EXIT_NOT_FOUND)
        if not self.args.json:
            print(_describe(result))
            if attribution is not None and refused:
                print("  ledger attribution: NOBODY IS NAMED: the ledger's candidate rows fail verification:")
                print("\n".join(f"    - {p}" for p in refused))
            elif attribution is not None:
                print(_describe_attribution(attribution))
            if join is not None:
                print(format_ledger_join(join))
            if audit is not None:
                print(format_audit_join(audit))

    def _audit(self, join: LedgerLookup | None) -> AuditJoin | None:
        """The audit log's records around a named ledger match, else None."""
        if self.audit is None or join is None or not join.named:
            return None
        # The viewer's rows up to the mark's minute: the latest agent-session among them bounds "earlier".
        rows = self.ledger.views(viewer_id=join.viewer_id, since=join.timestamp - AUDIT_SESSION_LOOKBACK,
                                 until=join.timestamp + timedelta(minutes=1)) if self.ledger is not None else []
        return self.audit.join(join.viewer_id, join.timestamp, agent_rows=rows)

    def _refusal(self, attribution: Attribution | None) -> list[str]:
        """Why a ledger attribution must not name anyone (its candidates' rows fail verification), else []."""
        check = self.candidate_check
        if attribution is None or not attribution.named or check is None or check.ok:
            return []
        return list(check.problems)

    def _lookup(self, result: TraceResult, attribution: Attribution | None) -> LedgerLookup | None:
        """The ledger join of the blind decode's payload, else of the attributed viewer's (first) minute."""
        if self.ledger is None:
            return None
        if result.found and result.payload is not None:
            viewer, when, fingerprint = result.payload.viewer_id, result.payload.timestamp, result.key_fingerprint
        elif attribution is not None and attribution.named and attribution.viewer_id is not None and attribution.minute_from is not None:
            viewer, when = attribution.viewer_id, attribution.minute_from
            fingerprint = attribution.best.key_fingerprint if attribution.best is not None else None
        else:
            return None
        return self.ledger.lookup(viewer, when, window_minutes=self.args.window, key_fingerprint=fingerprint,
                                  directory=self.directory)

    def finish(self) -> int:
        """Write the report and the JSON document; the exit status."""
        if self.args.report is not None and self.entries:
            try:
                write_report(self.args.report, self.entries)
            except OSError as exc:
                _error(f"cannot write report {str(self.args.report)!r}: {exc}")
                self.status = EXIT_ERROR  # the JSON below still carries every result
            else:
                if not self.args.json:
                    print(f"report written to {self.args.report}")
        if self.args.json:
            _write_json({"results": self.records, "exit_status": self.status})
        return self.status


def _finite(value: Any) -> Any:
    """``value`` with every NaN and infinity (a score nothing reached) replaced by None: strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def _write_json(document: dict[str, Any]) -> None:
    """Print one standard JSON document (no NaN or Infinity, which strict parsers refuse)."""
    json.dump(_finite(document), sys.stdout, indent=2, allow_nan=False)
    sys.stdout.write("\n")


def _batch_mode(args: argparse.Namespace) -> bool:
    """Folders, archives, list files, --out, --jobs or --dask: a batch scan rather than a trace per image."""
    return bool(args.list or args.out or args.jobs > 1 or args.dask or args.retry
                or any(p.is_dir() or p.suffix.lower() == ".zip" for p in args.images))


def _run_batch(args: argparse.Namespace, keys: list[Key]) -> int:
    """Scan everything named, write rows as they come, print the summary; the exit status."""
    from ._batch import IMAGE_SUFFIXES, iter_items, scan, scan_dask, summary_table

    for option in ("report", "ledger", "ledger_key", "directory", "record", "since", "until"):
        if getattr(args, option) is not None:
            raise _UsageError(f"--{option.replace('_', '-')} works on single images, not in a batch scan (trace the images the scan found)")
    if args.retry and args.out is None:
        raise _UsageError("--retry scans again what an --out file holds: give --out")
    items = iter_items(args.images, args.list)
    counts = {"traced": 0, "clean": 0, "errors": 0}
    bar = _batch_progress()

    def on_row(row: dict[str, Any]) -> None:
        key = "traced" if row["status"] == "traced" else "errors" if row["status"] == "error" else "clean"
        counts[key] += 1
        if row["status"] == "error":
            _error(f"{row['id']}: {row['error']}")
        bar.update(1)
        bar.set_postfix(found=counts["traced"], clean=counts["clean"], errors=counts["errors"], refresh=False)

    options: dict[str, Any] = dict(out=args.out, thorough=args.thorough, time_limit=args.time_limit,
                                   max_pixels=args.max_pixels, max_bytes=args.max_bytes, on_row=on_row, retry=args.retry)
    t = time.perf_counter()
    try:
        if args.dask:
            rows = _scan_on_dask(args, items, keys, options, scan_dask)
        else:
            rows = scan(items, keys, jobs=args.jobs, **options)
    finally:
        bar.close()
    summary = summary_table(rows, time.perf_counter() - t)
    print(summary, file=sys.stderr if args.json else sys.stdout)
    if not rows:
        _error(f"no image files found in {', '.join(map(str, [*args.images, *args.list]))} "
               f"(looked for {', '.join(sorted(IMAGE_SUFFIXES))} and .zip archives)")
    if args.json:
        _write_json({"results": rows, "exit_status": _batch_status(rows)})
    return _batch_status(rows)


def _batch_status(rows: list[dict[str, Any]]) -> int:
    if not rows or any(row["status"] == "error" for row in rows):  # nothing found to scan is an error too
        return EXIT_ERROR
    return EXIT_TRACED if all(row["status"] == "traced" for row in rows) else EXIT_NOT_FOUND


def _batch_progress() -> Any:
    from tqdm import tqdm

    return tqdm(unit="image", file=sys.stderr, disable=None, dynamic_ncols=True)


def _scan_on_dask(args: argparse.Namespace, items: Any, keys: list[Key], options: dict[str, Any], scan_dask: Any) -> Any:
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise _UsageError("--dask needs Dask: pip install 'leaktrace[dask]'") from None
    if args.dask == "local":
        with LocalCluster(n_workers=args.jobs, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
                Client(cluster) as client:
            return scan_dask(client, items, keys, **options)
    try:
        client = Client(args.dask, timeout=30)
    except (OSError, TimeoutError) as exc:
        raise _UsageError(f"cannot reach the Dask scheduler at {args.dask!r}: {exc}") from None
    with client:
        return scan_dask(client, items, keys, **options)


def _run(args: argparse.Namespace) -> int:
    keys = [Key.from_file(path) for path in args.key_file]
    if not args.images and not args.list:
        raise _UsageError("give at least one image, folder, archive or --list file")
    if _batch_mode(args):
        return _run_batch(args, keys)
    attributing = args.record is not None or args.since is not None or args.until is not None
    if attributing and not args.ledger:
        raise _UsageError("--record, --since and --until choose candidates from a ledger: give --ledger")
    if attributing and args.record is None and (args.since is None or args.until is None):
        raise _UsageError("without --record, give both --since and --until (every view in that window is a candidate)")
    if args.since is not None and args.until is not None and args.until <= args.since:
        raise _UsageError("--until must be later than --since")
    if (args.ledger_key or args.directory or args.audit_log) and not args.ledger:
        raise _UsageError("--ledger-key, --directory and --audit-log work on a ledger join: give --ledger")
    if args.agent_accounts and not args.audit_log:
        raise _UsageError("--agent-accounts maps the audit log's usernames: give --audit-log")
    directory = Directory.load(args.directory) if args.directory else None
    audit = _load_audit(args)
    ledger = Ledger.open(args.ledger, read_only=True, ledger_key=args.ledger_key) if args.ledger else None
    try:
        run = _Run(args, keys, ledger, directory=directory, audit=audit)
        if attributing and ledger is not None:
            run.candidates = ledger.views(record_id=args.record, since=args.since, until=args.until)
            if not run.candidates:
                what = f"record {args.record!r}" if args.record is not None else "that window"
                raise _UsageError(f"the ledger holds no views of {what}: nothing to attribute against")
            run.candidate_check = ledger.verify_views(run.candidates)
        progress = _Progress(len(args.images), sys.stderr)
        for done, path in enumerate(args.images, start=1):
            run.trace_image(path)
            progress.update(done, path.name)
    finally:
        if ledger is not None:
            ledger.close()
    return run.finish()


def _load_audit(args: argparse.Namespace) -> AuditLog | None:
    if not args.audit_log:
        return None
    usernames = None
    if args.agent_accounts:
        from agent import AccountMap, IdentityError

        try:
            accounts = AccountMap.load(args.agent_accounts)
        except IdentityError as exc:
            raise _UsageError(str(exc)) from None
        usernames = {i.username: i.viewer_id for i in accounts.accounts.values()}
    return AuditLog.load(args.audit_log, usernames=usernames)


class _UsageError(LeaktraceError):
    """Options that do not fit together (exit 2)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``trace-leak``; returns the exit status (0 traced, 1 no watermark found, 2 error).

    Bad arguments end in argparse's usage message and ``SystemExit(2)``.
    """
    args = _parser().parse_args(argv)
    try:
        with warnings_to_stderr("trace-leak"):
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

"""Long fuzz run of the door: damaged JPEG, PNG, WebP, TIFF, GIF and HEIC files through ``load_image`` and ``trace``.

``python -m benchmarks.fuzz --seconds 600`` (run by hand; the default suite
runs a short, deterministic version: ``tests/fuzz``). The cases are
``synthetic.hostile.fuzz_case(fmt, seed)``, the same generator the tests
use; seeds run upward from ``--seed``, formats in turn, in batches.

Each batch runs in its own subprocess, with its address space capped by
``resource.setrlimit`` (``--memory-mb``) and each input bounded by an alarm
(``--input-seconds``), so a hang, a crash of a decoder or a memory blow-up
is recorded against the input that caused it and the run goes on. Inputs
are loaded with the loader's defaults (the limits ``trace-leak`` applies);
those that load and are small (``--trace-max-pixels``) are also traced,
every other one with ``thorough=True``.

The table: per format, the inputs run, their time, the outcomes (``ok``;
clean errors, by class and reason below; ``uncaught`` exceptions; ``hang``;
``killed`` - the worker died -; ``named`` - a trace named a viewer in a file
no mark was ever embedded in), the longest single input and the peak RSS
of a worker. Failures are listed with the ``fuzz_case`` call that
reproduces them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

FAILURES = ("uncaught", "hang", "killed", "named")
"""Outcomes that break the property (only LeaktraceError subclasses, no hang, bounded memory, nobody named)."""


class _Hang(BaseException):
    """Raised by the per-input alarm; a BaseException so that no ``except Exception`` on the way swallows it."""


def _limit_memory(megabytes: int) -> None:
    import resource

    limit = megabytes * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _peak_rss_mb() -> float:
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def _run_one(fmt: str, seed: int, args: argparse.Namespace, key: Any) -> dict[str, Any]:
    """Load (and maybe trace) one fuzz case; its outcome row."""
    import tracer
    import watermark
    from synthetic import hostile

    row: dict[str, Any] = {"seed": seed}
    start = time.perf_counter()
    signal.setitimer(signal.ITIMER_REAL, args.input_seconds)
    try:
        case = hostile.fuzz_case(fmt, seed)
        row["names"] = list(case.mutations)
        outcome = "ok"
        try:
            loaded = watermark.load_image(case.data)
            h, w = loaded.rgb.shape[:2]
            if h * w <= args.trace_max_pixels:
                result = tracer.trace(loaded, key, thorough=seed % 2 == 1, time_limit=args.input_seconds / 2)
                if result.found:
                    outcome = "named"
        except watermark.LeaktraceError as exc:
            outcome = f"clean {type(exc).__name__}: {getattr(exc, 'reason', '') or 'no reason'}"
        except Exception as exc:  # the property is broken: record it, keep going
            outcome = "uncaught"
            row["error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
    except _Hang:
        outcome = "hang"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    row.update(outcome=outcome, seconds=time.perf_counter() - start)
    return row


def _worker(args: argparse.Namespace) -> int:
    """Run seeds ``start .. start + count - 1`` of ``fmt``; one JSON line per event on stdout."""
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, "1")
    import cv2

    import watermark

    cv2.setNumThreads(1)
    _limit_memory(args.memory_mb)

    def expire(signum: int, frame: object) -> None:
        raise _Hang()

    signal.signal(signal.SIGALRM, expire)
    key = watermark.Key(bytes(range(32)))
    deadline = time.monotonic() + args.worker_seconds
    for seed in range(args.start, args.start + args.count):
        if time.monotonic() > deadline:
            break
        print(json.dumps({"start": seed}), flush=True)
        print(json.dumps(_run_one(args.worker, seed, args, key)), flush=True)
    print(json.dumps({"peak_rss_mb": _peak_rss_mb()}), flush=True)
    return 0


@dataclass
class _Tally:
    """What one format's batches found."""

    inputs: int = 0
    seconds: float = 0.0
    outcomes: Counter[str] = field(default_factory=Counter)
    max_seconds: float = 0.0
    peak_rss_mb: float = 0.0
    failures: list[str] = field(default_factory=list)

    def add(self, fmt: str, row: dict[str, Any]) -> None:
        self.inputs += 1
        self.seconds += row["seconds"]
        self.max_seconds = max(self.max_seconds, row["seconds"])
        outcome = row["outcome"]
        self.outcomes[outcome] += 1
        if outcome in FAILURES:
            detail = f" {row['error']}" if "error" in row else ""
            self.failures.append(f"{outcome}: fuzz_case({fmt!r}, {row['seed']}) {row.get('names', '')}{detail}")


def _run_batch(fmt: str, start: int, args: argparse.Namespace, budget: float, tally: _Tally) -> int:
    """One worker subprocess over seeds from ``start``; returns the next seed to run."""
    command = [sys.executable, "-m", "benchmarks.fuzz", "--worker", fmt, "--start", str(start), "--count", str(args.batch),
               "--worker-seconds", f"{budget:.1f}", "--memory-mb", str(args.memory_mb),
               "--input-seconds", str(args.input_seconds), "--trace-max-pixels", str(args.trace_max_pixels)]
    t0 = time.perf_counter()
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=budget + 3 * args.input_seconds + 60)
        stdout, returncode = done.stdout, done.returncode
    except subprocess.TimeoutExpired as exc:  # the alarm did not fire: a hang in native code
        stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        returncode = -signal.SIGKILL
    started: int | None = None
    next_seed = start
    for line in stdout.splitlines():
        event = json.loads(line)
        if "start" in event:
            started = event["start"]
        elif "peak_rss_mb" in event:
            tally.peak_rss_mb = max(tally.peak_rss_mb, event["peak_rss_mb"])
        else:
            tally.add(fmt, event)
            started, next_seed = None, event["seed"] + 1
    if started is not None:  # the worker died (or was killed) on this input
        elapsed = time.perf_counter() - t0
        tally.add(fmt, {"seed": started, "outcome": "killed", "seconds": elapsed,
                        "error": f"worker exit status {returncode}"})
        next_seed = started + 1
    return next_seed


def _table(tallies: dict[str, _Tally], wall: float, args: argparse.Namespace) -> str:
    clean = sorted({o for t in tallies.values() for o in t.outcomes if o.startswith("clean ")})
    lines = [
        f"# leaktrace fuzz run: {wall:.0f} s wall, {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        f"# loader defaults; traced when <= {args.trace_max_pixels} px; worker memory cap {args.memory_mb} MiB; "
        f"{args.input_seconds:g} s per input",
        "",
        f"{'format':<6} {'inputs':>7} {'time s':>7} {'ok':>6} {'clean':>6} {'uncaught':>8} {'hang':>5} {'killed':>6} "
        f"{'named':>5} {'max s/input':>11} {'peak RSS MB':>11}",
    ]
    for fmt, t in tallies.items():
        n_clean = sum(v for k, v in t.outcomes.items() if k.startswith("clean "))
        lines.append(
            f"{fmt:<6} {t.inputs:>7} {t.seconds:>7.1f} {t.outcomes['ok']:>6} {n_clean:>6} {t.outcomes['uncaught']:>8} "
            f"{t.outcomes['hang']:>5} {t.outcomes['killed']:>6} {t.outcomes['named']:>5} {t.max_seconds:>11.2f} {t.peak_rss_mb:>11.0f}"
        )
    lines += ["", "clean errors by class and reason:", f"{'':<44}" + "".join(f"{fmt:>7}" for fmt in tallies)]
    for outcome in clean:
        lines.append(f"  {outcome[len('clean '):]:<42}" + "".join(f"{t.outcomes[outcome]:>7}" for t in tallies.values()))
    failures = [f for t in tallies.values() for f in t.failures]
    lines += ["", f"failures: {len(failures)}"] + [f"  {f}" for f in failures[:50]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the fuzz loop for ``--seconds`` and print the table; exit 1 when the property broke."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fuzz", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=600.0, help="wall-clock budget (default %(default)s)")
    parser.add_argument("--formats", nargs="+", help="formats to fuzz (default: every one this installation encodes)")
    parser.add_argument("--seed", type=int, default=0, help="first case seed (default %(default)s)")
    parser.add_argument("--batch", type=int, default=400, help="cases per worker subprocess (default %(default)s)")
    parser.add_argument("--memory-mb", type=int, default=4096, help="address-space cap of a worker (default %(default)s)")
    parser.add_argument("--input-seconds", type=float, default=30.0, help="bound on one input (default %(default)s)")
    parser.add_argument("--trace-max-pixels", type=int, default=250_000, help="trace inputs up to this size (default %(default)s)")
    parser.add_argument("--worker", metavar="FORMAT", help=argparse.SUPPRESS)
    parser.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--worker-seconds", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return _worker(args)

    from synthetic import hostile

    formats = args.formats or list(hostile.available_formats())
    tallies = {fmt: _Tally() for fmt in formats}
    next_seed = {fmt: args.seed for fmt in formats}
    t0 = time.perf_counter()
    # Short batches (a tenth of the budget per format at most) so that every format gets its share.
    slice_s = max(10.0, args.seconds / (3 * len(formats)))
    while (left := args.seconds - (time.perf_counter() - t0)) > 5:
        for fmt in formats:
            left = args.seconds - (time.perf_counter() - t0)
            if left <= 5:
                break
            next_seed[fmt] = _run_batch(fmt, next_seed[fmt], args, min(slice_s, left), tallies[fmt])
    print(_table(tallies, time.perf_counter() - t0, args))
    return 1 if any(t.outcomes[f] for t in tallies.values() for f in FAILURES) else 0


if __name__ == "__main__":
    sys.exit(main())

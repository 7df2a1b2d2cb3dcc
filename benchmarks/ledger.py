"""The signed ledger under load: concurrent writer processes, nothing lost, the chain intact afterwards.

Run by hand::

    python -m benchmarks.ledger                       # SQLite, 8 writers x 500 views
    python -m benchmarks.ledger --postgres URL        # and PostgreSQL (a fresh schema, dropped afterwards)

Each writer is its own process with its own connection, as viewer servers
are; all start together and each records ``--views`` views as fast as it
can. Reported: views per second over all writers (wall clock from the start
signal to the last commit), what was stored (lost, duplicated), the median
and 99th-percentile latency of one ``record_view`` alone, and a full
``Ledger.verify`` of the result (rows per second). Writes the table to
``benchmarks/results/ledger.md``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import secrets
import statistics
import sys
import tempfile
import time
import urllib.parse
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any, Iterator, Sequence

from ledger import Ledger, LedgerKey

RESULTS = Path(__file__).parent / "results" / "ledger.md"
FINGERPRINT = "1a2b-3c4d-5e6f-7a8b"


def _writer(url: str, key: dict[str, Any], writer: int, n: int, start: Event) -> None:
    with Ledger.open(url, ledger_key=LedgerKey.from_dict(key), timeout_s=120) as ledger:
        start.wait()
        for i in range(n):
            ledger.record_view(viewer_id=2000 + writer, display_name=f"Writer {writer}", record_id=f"R{writer}-{i}",
                               workstation=f"WS-{writer}", client_address="10.0.0.1", key_fingerprint=FINGERPRINT)


def _latency(url: str, key: LedgerKey, n: int) -> list[float]:
    samples = []
    with Ledger.open(url, ledger_key=key) as ledger:
        for i in range(n):
            t0 = time.perf_counter()
            ledger.record_view(viewer_id=1, display_name="Latency", record_id=f"L{i}", workstation="WS-0",
                               client_address="10.0.0.1", key_fingerprint=FINGERPRINT)
            samples.append(time.perf_counter() - t0)
    return samples


def measure(url: str, label: str, key: LedgerKey, writers: int, views: int) -> str:
    """One table row: throughput of ``writers`` processes, what was stored, latency, verification."""
    latency = _latency(url, key, 200)
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    private = key.to_dict(include_private=True)
    procs = [ctx.Process(target=_writer, args=(url, private, w, views, start)) for w in range(writers)]
    for p in procs:
        p.start()
    time.sleep(3.0)  # every writer imported and connected
    t0 = time.perf_counter()
    start.set()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - t0
    failed = sum(p.exitcode != 0 for p in procs)
    with Ledger.open(url, read_only=True, ledger_key=key.public_only()) as ledger:
        got = [v.record_id for v in ledger.views() if v.viewer_id >= 2000]
        t1 = time.perf_counter()
        report = ledger.verify()
        verify_s = time.perf_counter() - t1
    expected = {f"R{w}-{i}" for w in range(writers) for i in range(views)}
    lost, dupes = len(expected - set(got)), len(got) - len(set(got))
    n = writers * views
    lat = sorted(latency)
    p99 = lat[min(len(lat) - 1, int(0.99 * len(lat)))]
    ok = not failed and not lost and not dupes and report.ok
    return (f"| {label} | {writers} x {views} | {n / elapsed:,.0f} | {len(got)} stored, {lost} lost, {dupes} duplicated, "
            f"{failed} writers failed | {1e3 * statistics.median(latency):.2f} / {1e3 * p99:.2f} | "
            f"{'intact' if report.ok else 'BROKEN'}: {report.checked:,} rows in {verify_s:.2f} s "
            f"({report.checked / verify_s:,.0f} rows/s) | {'ok' if ok else 'FAIL'} |")


def _postgres_schema(base: str) -> Iterator[str]:
    import psycopg

    schema = f"lt_bench_{secrets.token_hex(4)}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    parts = urllib.parse.urlsplit(base)
    query = urllib.parse.parse_qsl(parts.query) + [("options", f"-csearch_path={schema}")]
    try:
        yield urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--views", type=int, default=500, help="views per writer (default %(default)s)")
    parser.add_argument("--postgres", default=os.environ.get("LEAKTRACE_TEST_POSTGRES_URL"),
                        help="also measure PostgreSQL at this URL (default $LEAKTRACE_TEST_POSTGRES_URL)")
    args = parser.parse_args(argv)
    key = LedgerKey.generate()
    lines = [
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "",
        "| ledger | writers x views | views/s | stored | record_view ms median / p99 (one writer) | full verify | |",
        "|---|---|---:|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'ledger.sqlite'}"
        lines.append(measure(url, "SQLite WAL, synchronous=FULL", key, args.writers, args.views))
    if args.postgres:
        schema = _postgres_schema(args.postgres)
        url = next(schema)
        try:
            lines.append(measure(url, "PostgreSQL", LedgerKey.generate(), args.writers, args.views))
        finally:
            schema.close()
    text = "\n".join(lines)
    print(text)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(f"# Ledger throughput\n\n`python -m benchmarks.ledger` ({' '.join(argv or sys.argv[1:])})\n\n"
                       f"{text}\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

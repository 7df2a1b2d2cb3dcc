"""Cost of stamping one page view in the example EMR viewer, and ledger throughput.

Measures, on this machine:

* **overlay, cache miss**: a new (viewer, minute) at a screen size: pattern
  synthesis for the new payload, tiling, indexed-PNG encoding
  (``examples.emr_viewer.overlay_png``), with every pattern cache cleared;
* **overlay, cache hit**: the encoded PNG from the per-(viewer, minute, size)
  cache;
* **ledger write**: one durable ``Ledger.record_view`` (SQLite in WAL mode
  with ``synchronous=FULL``; PostgreSQL when a URL is given);
* **page view, end to end** through the Flask app (test client, no network):
  the record page (ledger write, template, visible mark) plus its overlay
  request, with the overlay cache hit and missed;
* **ledger throughput** with concurrent writer processes, checking that every
  row arrived exactly once.

Goals (issue #5): under 5 ms per view with a cache hit, under 60 ms on a miss.

Run from the repository root (needs the ``viewer`` extra; ``postgres`` for
``--postgres``)::

    python -m examples.emr_viewer.viewer_cost [--postgres postgresql://...] [--repeats 30]
"""

from __future__ import annotations

import argparse
import itertools
import multiprocessing
import os
import platform
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

import watermark
from ledger import Ledger, LedgerKey

SIZES = ((1366, 768), (1920, 1080), (2560, 1440), (3840, 2160))
KEY = watermark.Key(bytes(range(7, 39)))  # fixed key; costs do not depend on it
PROTECTED_KEY = watermark.Key(bytes(range(39, 71)))
BENCH_PASSWORD = "benchmark-password-1"


def _clear_pattern_caches() -> None:
    watermark.clear_caches(key_layouts=False)


def _timed(fn: Callable[[], object], repeats: int, setup: Callable[[], None] | None = None) -> list[float]:
    out = []
    for _ in range(repeats):
        if setup is not None:
            setup()
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def _row(name: str, samples: Sequence[float], goal_ms: float | None = None) -> str:
    ms = np.asarray(samples) * 1e3
    median, p95 = float(np.median(ms)), float(np.percentile(ms, 95))
    verdict = "" if goal_ms is None else ("ok" if median < goal_ms else "OVER")
    goal = "" if goal_ms is None else f"< {goal_ms:g}"
    return f"| {name:<58} | {median:9.4f} | {p95:9.4f} | {goal:>6} | {verdict:<4} |"


def _header() -> list[str]:
    return [
        f"| {'measurement':<58} | {'median ms':>9} | {'p95 ms':>9} | {'goal':>6} | {'':<4} |",
        f"|{'-' * 60}|{'-' * 10}:|{'-' * 10}:|{'-' * 8}|{'-' * 6}|",
    ]


def overlay_rows(repeats: int) -> list[str]:
    from examples.emr_viewer.overlay_png import OverlayCache, overlay_png

    rows = []
    t0 = datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc)
    for width, height in SIZES:
        viewers = itertools.count(1000)  # a new viewer, so a new payload, every time

        def miss(size: tuple[int, int] = (width, height), viewers: itertools.count = viewers) -> bytes:
            payload = watermark.Payload(viewer_id=next(viewers), timestamp=t0)
            return overlay_png(payload, KEY, size=size)

        samples = _timed(miss, repeats, setup=_clear_pattern_caches)
        rows.append(_row(f"overlay miss {width}x{height} (synthesis + PNG)", samples, 60))
    cache = OverlayCache()
    payload = watermark.Payload(viewer_id=4821, timestamp=t0)
    key = (payload.viewer_id, payload.minutes, KEY.fingerprint, (1920, 1080))
    cache.get(key, lambda: overlay_png(payload, KEY, size=(1920, 1080)))
    rows.append(_row("overlay hit 1920x1080 (cache lookup)", _timed(lambda: cache.get(key, bytes), repeats * 10), 5))
    return rows


def ledger_write_rows(url: str, ledger_key: Path, label: str, repeats: int) -> list[str]:
    with Ledger.open(url, ledger_key=ledger_key) as ledger:
        def write() -> None:
            ledger.record_view(viewer_id=4821, display_name="Dr. Anselm Quist", record_id="MRN 28110431",
                               workstation="WS-4B-112", client_address="10.20.4.112",
                               key_fingerprint=KEY.fingerprint)

        write()
        return [_row(f"ledger write, {label} (durable commit)", _timed(write, repeats))]


def flask_rows(ledger_url: str, ledger_key: Path, folder: Path, repeats: int) -> list[str]:
    from argon2 import PasswordHasher

    from examples.emr_viewer import create_app
    from examples.emr_viewer.accounts import AccountStore
    from examples.emr_viewer.records import patients
    from examples.emr_viewer.workstations import WorkstationRegistry

    accounts = AccountStore.create(folder / "accounts.json", hasher=PasswordHasher(time_cost=1, memory_cost=8192,
                                                                                   parallelism=1))
    accounts.add(viewer_id=4821, username="aquist", display_name="Dr. Anselm Quist", password=BENCH_PASSWORD)
    token = WorkstationRegistry(folder / "workstations.json").add("WS-4B-112")
    app = create_app(ledger=ledger_url, ledger_key=ledger_key, key=KEY, protected_key=PROTECTED_KEY,
                     accounts=accounts, workstations=folder / "workstations.json", secret_key=b"bench")
    client = app.test_client()
    client.environ_base["HTTP_X_LEAKTRACE_WORKSTATION"] = token
    login_page = client.get("/login").get_data(as_text=True)
    csrf = login_page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    answer = client.post("/login", data={"username": "aquist", "password": BENCH_PASSWORD, "csrf_token": csrf})
    assert answer.status_code == 302, answer.status_code
    mrn = next(p for p in patients() if not p.sensitive).mrn
    state = app.extensions["leaktrace_viewer"]
    uids: list[str] = []

    def page() -> None:
        response = client.get(f"/patients/{mrn}")
        assert response.status_code == 200
        uids.append(response.get_data(as_text=True).split('data-src="/overlay/', 1)[1].split(".png", 1)[0])

    def overlay() -> None:
        response = client.get(f"/overlay/{uids[-1]}.png?w=1920&h=1080")
        assert response.status_code == 200

    def page_and_overlay() -> None:
        page()
        overlay()

    page()
    overlay()  # warm: templates compiled, this minute's overlay cached
    page_samples = _timed(page, repeats)
    hit_samples = _timed(page_and_overlay, repeats)

    def forget() -> None:
        state.cache = type(state.cache)(state.cache.max_bytes)
        _clear_pattern_caches()

    miss_overlay = _timed(overlay, repeats, setup=forget)
    miss_samples = [p + o for p, o in zip(page_samples, miss_overlay)]
    rows = [
        _row("record page alone (ledger write + template + visible mark)", page_samples),
        _row("page view, overlay cache hit (page + overlay request)", hit_samples, 5),
        _row("page view, overlay cache miss, 1920x1080 (page + overlay)", miss_samples, 60),
    ]
    state.ledger.close()
    return rows


def _writer(url: str, ledger_key: Path, writer: int, n: int, start: "multiprocessing.synchronize.Event") -> None:
    with Ledger.open(url, ledger_key=ledger_key, timeout_s=120) as ledger:
        start.wait()
        for i in range(n):
            ledger.record_view(viewer_id=2000 + writer, display_name=f"Writer {writer}", record_id=f"R{writer}-{i}",
                               workstation=f"WS-{writer}", client_address="127.0.0.1",
                               key_fingerprint=KEY.fingerprint)


def throughput_row(url: str, ledger_key: Path, label: str, writers: int, per_writer: int) -> str:
    with Ledger.open(url, ledger_key=ledger_key) as ledger:
        before = ledger.count()
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=_writer, args=(url, ledger_key, w, per_writer, start)) for w in range(writers)]
    for p in procs:
        p.start()
    time.sleep(3.0)  # let every writer import and connect
    t0 = time.perf_counter()
    start.set()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - t0
    failed = [p.exitcode for p in procs if p.exitcode != 0]
    with Ledger.open(url, read_only=True) as ledger:
        views = [v for v in ledger.views() if v.viewer_id >= 2000]
        total = ledger.count() - before
    expected = {f"R{w}-{i}" for w in range(writers) for i in range(per_writer)}
    got = [v.record_id for v in views if v.record_id in expected]
    lost = len(expected - set(got))
    dupes = len(got) - len(set(got))
    n = writers * per_writer
    status = "ok" if not failed and lost == 0 and dupes == 0 and total == n else "FAIL"
    return (f"| ledger throughput, {label}, {writers} writer processes x {per_writer} | "
            f"{n / elapsed:8.0f} views/s | {n} written, {total} stored, {lost} lost, {dupes} duplicated, "
            f"{len(failed)} writers failed | {status} |")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--views-per-writer", type=int, default=200)
    parser.add_argument("--postgres", default=os.environ.get("LEAKTRACE_BENCH_POSTGRES_URL"),
                        help="also measure a PostgreSQL ledger at this URL (tables are created there)")
    args = parser.parse_args(argv)
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"numpy {np.__version__}")
    print(f"medians over {args.repeats} repeats (cache hit: {10 * args.repeats}); times in ms\n")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ledger_key = LedgerKey.generate().save(folder / "ledger.key")  # one signer for every writer process
        sqlite_url = f"sqlite:///{folder / 'ledger.sqlite'}"
        lines = _header() + overlay_rows(args.repeats)
        lines += ledger_write_rows(sqlite_url, ledger_key, "SQLite WAL", args.repeats)
        if args.postgres:
            lines += ledger_write_rows(args.postgres, ledger_key, "PostgreSQL", args.repeats)
        lines += flask_rows(str(folder / "viewer.sqlite"), ledger_key, folder, args.repeats)
        print("\n".join(lines))
        print()
        print("| ledger throughput | rate | rows | |")
        print("|---|---:|---|---|")
        print(throughput_row(sqlite_url, ledger_key, "SQLite WAL", args.writers, args.views_per_writer))
        if args.postgres:
            print(throughput_row(args.postgres, ledger_key, "PostgreSQL", args.writers, args.views_per_writer))
    return 0


if __name__ == "__main__":
    sys.exit(main())

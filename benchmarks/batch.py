"""Batch-scan benchmark: a mixed folder (mostly unmarked, a few leaks) scanned serially without the fast
rejection (as before it), in batch with ``--jobs``, and on a Dask ``LocalCluster``; dismissal times, leaks found
(against a single-image trace of each leak without a time limit), false attributions, peak memory per worker, and a
resume after a kill midway.

``python -m benchmarks.batch --n 1000`` (the issue's size; about 5% leaks) or ``--n 100`` for a quick look.

The unmarked mix stands for a chat group's media export (``KIND_WEIGHTS``): half camera-roll photos, a third
screenshots, a tenth phone photos of (unmarked) screens. A photo of a screen passes the fast rejection by design (its
mark can be too faint for any cheap test) and gets the full search, which on an unmarked one runs 60-90 s here; the
per-image time limit (``--time-limit``, 20 s) ends it as a ``timeout`` row, as a batch user would set it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

import synthetic
import watermark
from tracer import iter_items, read_done, scan, scan_dask

KINDS = ("natural-12mp", "screenshot-1080p", "screenshot-jpeg", "phone-photo-unmarked")
KIND_WEIGHTS = (0.50, 0.15, 0.25, 0.10)
"""Shares of the unmarked images (a chat export: mostly photos, then screenshots, a few photos of screens)."""
LEAKS = ("leak-screenshot", "leak-rescaled", "leak-phone-standard", "leak-phone-hard")


def _natural(rng: np.random.Generator, base: list[np.ndarray]) -> np.ndarray:
    """A 12 MP 'camera-roll' photo: a natural image, cropped, rescaled to 4000x3000, with sensor noise."""
    img = base[int(rng.integers(len(base)))]
    h, w = img.shape[:2]
    y0, x0 = int(rng.integers(0, h // 4 + 1)), int(rng.integers(0, w // 4 + 1))
    crop = img[y0 : y0 + 3 * h // 4, x0 : x0 + 3 * w // 4]
    big = cv2.resize(crop, (4000, 3000), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    return np.clip(big + rng.normal(0, 3, big.shape), 0, 255).astype(np.uint8)


def build(folder: Path, n: int, key: watermark.Key, seed: int = 20261202) -> dict[str, dict[str, Any]]:
    """Write the mixed folder; returns the truth per file name."""
    rng = np.random.default_rng(seed)
    base = [np.asarray(im) if im.ndim == 3 else np.repeat(np.asarray(im)[:, :, None], 3, 2) for _, im in synthetic.natural_images()]
    n_leaks = max(4, round(0.05 * n))
    truth: dict[str, dict[str, Any]] = {}
    for i in range(n):
        leaks_so_far = sum(t["leak"] for t in truth.values())
        leak = i % (n // n_leaks) == 0 and leaks_so_far < n_leaks
        kind = LEAKS[leaks_so_far % len(LEAKS)] if leak else KINDS[int(rng.choice(len(KINDS), p=KIND_WEIGHTS))]
        screen = synthetic.render_screen(synthetic.SCREEN_KINDS[i % len(synthetic.SCREEN_KINDS)], size=(1920, 1080), seed=i)
        payload = watermark.Payload(viewer_id=100000 + i, timestamp=datetime(2026, 11, 30, 9, i % 60, tzinfo=timezone.utc))
        if leak:
            screen = watermark.embed(screen, payload, key)
        if kind == "natural-12mp":
            image, ext = _natural(rng, base), "jpg"
        elif kind in ("screenshot-1080p", "leak-screenshot"):
            image, ext = screen, "png"
        elif kind == "screenshot-jpeg":
            image, ext = synthetic.screenshot_leak(screen, "messenger", seed=i).image, "jpg"
        elif kind == "leak-rescaled":
            image, ext = synthetic.screenshot_leak(screen, "crop_rescale_jpeg", seed=i).image, "jpg"
        else:
            level = "hard" if kind == "leak-phone-hard" else "standard"
            image, ext = synthetic.phone_photo_leak(screen, level=level, seed=i).image, "jpg"
        name = f"{i:05d}-{kind}.{ext}"
        if ext == "jpg":
            Image.fromarray(image).save(folder / name, quality=90)
        else:
            Image.fromarray(image).save(folder / name)
        truth[name] = {"kind": kind, "leak": leak, "viewer_id": payload.viewer_id if leak else None}
    return truth


def _progress(name: str, runs: dict[str, tuple[list[dict[str, Any]], float]]) -> None:
    rows, seconds = runs[name]
    counts = {s: sum(r["status"] == s for r in rows) for s in ("traced", "dismissed", "clean", "timeout", "error")}
    print(f"{name}: {len(rows)} images in {seconds:.0f} s, {counts}", flush=True)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--serial-sample", type=int, default=40, help="images scanned serially with --thorough (the old behaviour)")
    parser.add_argument("--time-limit", type=float, default=20.0, help="seconds per image in the scans (the leaks' single traces have none)")
    parser.add_argument("--retry-limit", type=float, default=60.0,
                        help="seconds per image in a second pass over the batch run's timeouts (--retry timeout); 0 skips it")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/batch.md"))
    args = parser.parse_args(argv)
    key = watermark.Key(bytes(range(7, 39)))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "export"
        folder.mkdir()
        t = time.perf_counter()
        truth = build(folder, args.n, key)
        print(f"built {len(truth)} images in {time.perf_counter() - t:.0f} s", flush=True)
        items = list(iter_items([folder]))
        runs: dict[str, tuple[list[dict[str, Any]], float]] = {}
        # every leak traced on its own as trace-leak does it, without a time limit: what the batch must find
        leak_items = [it for it in items if truth[Path(it.id).name]["leak"]]
        t = time.perf_counter()
        singles = scan(leak_items, [key], jobs=1)
        print(f"single traces of the {len(leak_items)} leaks: {sum(r['status'] == 'traced' for r in singles)} traced "
              f"in {time.perf_counter() - t:.0f} s", flush=True)
        # the serial scan without the fast rejection, on an evenly spaced sample (the whole folder would take hours)
        sample = sorted(np.random.default_rng(1).choice(len(items), min(args.serial_sample, len(items)), replace=False))
        t = time.perf_counter()
        runs["serial, thorough (before)"] = (scan([items[i] for i in sample], [key], jobs=1, thorough=True, time_limit=args.time_limit),
                                             time.perf_counter() - t)
        _progress("serial, thorough (before)", runs)
        t = time.perf_counter()
        runs[f"batch --jobs {args.jobs}"] = (scan(items, [key], jobs=args.jobs, out=Path(tmp) / "jobs.jsonl", time_limit=args.time_limit), time.perf_counter() - t)
        _progress(f"batch --jobs {args.jobs}", runs)
        rss_jobs = _peak_rss_mb()
        retried: tuple[list[dict[str, Any]], float] | None = None
        if args.retry_limit > 0:  # the second pass a user runs over what the quick first one left open
            t = time.perf_counter()
            scan(items, [key], jobs=args.jobs, out=Path(tmp) / "jobs.jsonl", time_limit=args.retry_limit, retry=["timeout"])
            retried = (list(read_done(Path(tmp) / "jobs.jsonl").values()), time.perf_counter() - t)
            print(f"retry of the timeouts at {args.retry_limit:g} s: {retried[1]:.0f} s, "
                  f"{sum(r['status'] == 'traced' for r in retried[0])} traced in all", flush=True)
        from distributed import Client, LocalCluster

        with LocalCluster(n_workers=args.jobs, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, Client(cluster) as client:
            t = time.perf_counter()
            rows = scan_dask(client, items, [key], out=Path(tmp) / "dask.jsonl", time_limit=args.time_limit)
            runs[f"Dask LocalCluster, {args.jobs} workers"] = (rows, time.perf_counter() - t)
            _progress(f"Dask LocalCluster, {args.jobs} workers", runs)
            rss_dask = max(client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024).values())
        # resume: kill a CLI scan midway, rerun it, compare with the uninterrupted result
        resumed = Path(tmp) / "resumed.jsonl"
        key_file = Path(tmp) / "k.key"
        key.save(key_file)
        cmd = [sys.executable, "-m", "tracer.cli", str(folder), "--key-file", str(key_file), "--out", str(resumed), "--jobs", str(args.jobs),
               "--time-limit", str(args.time_limit)]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        while proc.poll() is None and (not resumed.exists() or len(resumed.read_bytes().splitlines()) < len(items) // 2):
            time.sleep(0.5)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        at_kill = len(read_done(resumed))
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        lines = resumed.read_text().splitlines()
        resumed_rows = [json.loads(line) for line in lines]
        reference = {r["id"]: r for r in runs[f"batch --jobs {args.jobs}"][0]}
        # A status can differ between two runs only where the time limit decided it (an image that finished near the
        # limit in one run and ran past it in the other): those are counted apart.
        differ = [r["id"] for r in resumed_rows if r["id"] in reference and r["status"] != reference[r["id"]]["status"]]
        near_limit = [i for i in differ if "timeout" in (reference[i]["status"], next(r["status"] for r in resumed_rows if r["id"] == i))]
        same = (set(reference) == {r["id"] for r in resumed_rows}, len(differ), len(near_limit))
        report = tables(runs, truth, singles, rss_jobs, rss_dask, at_kill, len(lines), len({r["id"] for r in resumed_rows}), same, args,
                        retried)
    print(report)
    args.out.write_text(report)
    return 0


def _retry_lines(retried: tuple[list[dict[str, Any]], float] | None, rows: list[dict[str, Any]], truth: dict[str, dict[str, Any]],
                 singles: list[dict[str, Any]], args: argparse.Namespace) -> list[str]:
    """The second pass over the batch run's timeouts: its cost and what it found."""
    if retried is None:
        return []
    after, seconds = retried
    traced_after = {r["id"] for r in after if r["status"] == "traced"}
    single_traced = {r["id"] for r in singles if r["status"] == "traced"}
    wrong = [r for r in after if r["status"] == "traced" and r["viewer_id"] != truth[Path(r["id"]).name]["viewer_id"]]
    return [f"- second pass over the batch run's {sum(r['status'] == 'timeout' for r in rows)} timeouts "
            f"(`--retry timeout --time-limit {args.retry_limit:g}`): {seconds:.0f} s; leaks traced after it: {len(traced_after)} of "
            f"{sum(t['leak'] for t in truth.values())}; traced singly but not after it: {len(single_traced - traced_after)}; "
            f"timeouts left: {sum(r['status'] == 'timeout' for r in after)}; false attributions: {len(wrong)}"]


def tables(runs: dict[str, tuple[list[dict[str, Any]], float]], truth: dict[str, dict[str, Any]], singles: list[dict[str, Any]],
           rss_jobs: float, rss_dask: float,
           at_kill: int, lines: int, unique: int, same: tuple[bool, int, int], args: argparse.Namespace,
           retried: tuple[list[dict[str, Any]], float] | None = None) -> str:
    out = [f"# Batch scan: {len(truth)} images, {sum(t['leak'] for t in truth.values())} leaks; {os.cpu_count()} cores", ""]
    out += ["| run | images | seconds | images/s | ratio to serial |", "|---|---:|---:|---:|---:|"]
    base = None
    for name, (rows, seconds) in runs.items():
        rate = len(rows) / seconds
        base = base or rate
        out.append(f"| {name} | {len(rows)} | {seconds:.0f} | {rate:.2f} | {rate / base:.1f}x |")
    rows = runs[f"batch --jobs {args.jobs}"][0]
    out += ["", "Per kind (batch run): seconds per image, median / 99th percentile", "",
            "| kind | n | dismissed | clean after search | traced | timeout | error | median s | p99 s |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for kind in KINDS + LEAKS:
        mine = [r for r in rows if truth[Path(r["id"]).name]["kind"] == kind]
        if not mine:
            continue
        secs = np.array([r["seconds"] for r in mine])
        count = lambda s: sum(r["status"] == s for r in mine)  # noqa: E731
        out.append(f"| {kind} | {len(mine)} | {count('dismissed')} | {count('clean')} | {count('traced')} | {count('timeout')} | {count('error')} "
                   f"| {np.median(secs):.2f} | {np.percentile(secs, 99):.2f} |")
    dismissed = np.array([r["seconds"] for r in rows if r["status"] == "dismissed"])
    wrong = [r for r in rows if r["status"] == "traced" and r["viewer_id"] != truth[Path(r["id"]).name]["viewer_id"]]
    batch_traced = {r["id"] for r in rows if r["status"] == "traced"}
    lost = [r["id"] for r in singles if r["status"] == "traced" and r["id"] not in batch_traced]
    single_wrong = [r for r in singles if r["status"] == "traced" and r["viewer_id"] != truth[Path(r["id"]).name]["viewer_id"]]
    out += ["", f"- dismissed: {len(dismissed)} images, median {np.median(dismissed) if len(dismissed) else float('nan'):.3f} s, "
            f"p99 {np.percentile(dismissed, 99) if len(dismissed) else float('nan'):.3f} s",
            f"- leaks traced in the batch run: {sum(r['status'] == 'traced' for r in rows)} of {sum(t['leak'] for t in truth.values())}; "
            f"by a single-image trace of each (no time limit): {sum(r['status'] == 'traced' for r in singles)}; "
            f"traced singly but not by the batch: {len(lost)}" + (f" ({', '.join(Path(i).name for i in lost)})" if lost else ""),
            f"- false attributions (a traced image naming a viewer it does not carry): batch {len(wrong)}, "
            f"single traces {len(single_wrong)}",
            f"- per-image time limit in the scans: {args.time_limit:g} s",
            *_retry_lines(retried, rows, truth, singles, args),
            f"- peak memory: pool workers (largest child) {rss_jobs:.0f} MB; Dask workers (largest) {rss_dask:.0f} MB",
            f"- resume: killed with {at_kill} rows written; after the rerun {lines} rows, {unique} distinct ids; "
            f"the same images as the uninterrupted run: {same[0]}; statuses that differ from it: {same[1]}, "
            f"of which decided by the time limit (timeout in one run): {same[2]}", ""]
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())

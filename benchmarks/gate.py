"""The fast rejection alone, on every leak of the robustness run, marked and unmarked.

Run by hand::

    python -m benchmarks.gate                 # the full robustness plan: 330 marked leaks and 330 unmarked ones
    python -m benchmarks.gate --quick         # 3 screens per screenshot condition, 2 per photo condition

``tracer.trace`` runs the geometry search only on an image the fast
rejection (``tracer._gate.screen_image``) passes, and on those it runs it
exactly as ``thorough=True`` does. So "the gate loses nothing" reduces to a
check that needs no trace of what it passes: every marked leak of the
robustness run that the last full run traced
(``benchmarks/results/results.json``, from before the gate) must pass the
gate, and a marked leak it dismisses is traced in full (``thorough=True``)
to learn whether it was lost. Phone photos of the second scene generator
(``synthetic.scenes_b``: other rooms, displays and cameras, the screen
finder's held-out test set) are screened the same way; for them "traced"
is what passed, plus what the full search traced among the dismissed. This program rebuilds every leak of
the robustness plan (the same seeds, screens and payloads as
``benchmarks.robustness``), marked and, through the same channel with the
same seed, unmarked, screens each, and prints per condition: the marked
leaks passed (all, and those the last run traced), the unmarked leaks
dismissed, and the gate's median and 99th-percentile seconds; then the
reasons images passed. A miss on a leak that traces is printed by name and
makes the exit status 1.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import collections  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Sequence  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

import tracer  # noqa: E402
import watermark  # noqa: E402
from tracer._gate import screen_image  # noqa: E402

from .false_attribution import tracer_version  # noqa: E402
from .robustness import (  # noqa: E402
    Condition,
    Plan,
    _samples_for,
    all_conditions,
    content_image,
    content_payload,
    emr_content,
    make_key,
    make_leak,
    select_conditions,
)

RESULTS = Path(__file__).resolve().parent / "results"


B_LEVELS = ("easy", "standard", "hard", "chat")
"""Levels of the second scene generator (``synthetic.scenes_b``, the screen finder's test set) screened too."""
B_SEED = 20261205


@dataclass(frozen=True)
class GateTask:
    condition: Condition
    sample: int
    content: str
    marked: bool
    check_dismissed: bool = True


def _b_condition(level: str) -> Condition:
    return Condition(f"B-{level}", "photo", level, f"B-{level}")


def _leak(condition: Condition, image: np.ndarray, sample: int) -> np.ndarray:
    if condition.name.startswith("B-"):
        from synthetic.scenes_b import photo_leak_b

        seed = int(np.random.SeedSequence([B_SEED, B_LEVELS.index(condition.channel), sample]).generate_state(1)[0])
        return photo_leak_b(image, level=condition.channel, seed=seed).image
    return make_leak(condition, image, sample).image


def run_gate_task(task: GateTask) -> dict[str, Any]:
    """Build the leak (marked or not) and screen it; the record."""
    cv2.setNumThreads(1)
    key = make_key(0)
    image = content_image(task.content)
    if task.marked:
        image = watermark.embed(image, content_payload(task.content), key, strength=task.condition.strength)
    leak = _leak(task.condition, image, task.sample)
    t = time.perf_counter()
    verdict = screen_image(leak, [key])
    seconds = time.perf_counter() - t
    rec: dict[str, Any] = {
        "condition": task.condition.name, "sample": task.sample, "content": task.content, "marked": task.marked,
        "size": [int(leak.shape[1]), int(leak.shape[0])],
        "passed": verdict.passed, "reason": verdict.reason, "seconds": round(seconds, 4),
        "scores": verdict.to_dict()["scores"],
    }
    if task.marked and not verdict.passed and task.check_dismissed:
        # Would the full search have traced it? Then the gate lost it.
        try:
            res = tracer.trace(leak, key, thorough=True, time_limit=THOROUGH_LIMIT)
            rec["thorough"] = "traced" if res.found and res.payload == content_payload(task.content) else (
                "wrong" if res.found else "not traced")
        except TimeoutError:
            rec["thorough"] = "timeout"
    return rec


THOROUGH_LIMIT = 300.0
"""Seconds the full search may take on a marked leak the gate dismissed (to learn whether it was lost)."""


def last_traced(path: Path) -> dict[tuple[str, int], bool]:
    """(condition, sample) -> traced, from the last full robustness run."""
    if not path.exists():
        return {}
    records = json.loads(path.read_text())["records"]
    return {(r["condition"], int(r["sample"])): bool(r["trace"].get("exact")) for r in records}


def _pct(values: Sequence[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def report(records: Sequence[dict[str, Any]], traced: dict[tuple[str, int], bool], conditions: Sequence[Condition],
           header: str) -> tuple[str, list[str]]:
    """The markdown tables, and the names of traced leaks the gate missed."""
    lines = [header, "",
             "| condition | marked passed | traceable: passed | unmarked dismissed | median s (marked / unmarked) | p99 s |",
             "|---|---:|---:|---:|---:|---:|"]
    missed: list[str] = []
    totals = collections.Counter()
    for cond in conditions:
        mine = [r for r in records if r["condition"] == cond.name]
        marked = [r for r in mine if r["marked"]]
        unmarked = [r for r in mine if not r["marked"]]
        was = [r for r in marked if traced.get((r["condition"], r["sample"]))]
        for r in marked:
            if not r["passed"] and (r in was or r.get("thorough") == "traced"):
                missed.append(f"{r['condition']} #{r['sample']} {r['content']} ({r['reason']}; {r['scores']})")
        if not traced or cond.name.startswith("B-"):  # no last run: the dismissed ones were traced in full
            was = [r for r in marked if r["passed"] or r.get("thorough") == "traced"]
        secs = [r["seconds"] for r in mine]
        row = (sum(r["passed"] for r in marked), len(marked), sum(r["passed"] for r in was), len(was),
               sum(not r["passed"] for r in unmarked), len(unmarked))
        for name, v in zip(("mp", "m", "tp", "t", "ud", "u"), row):
            totals[name] += v
        lines.append(f"| {cond.name} | {row[0]}/{row[1]} | {row[2]}/{row[3]} | {row[4]}/{row[5]} | "
                     f"{_pct([r['seconds'] for r in marked], 50):.2f} / {_pct([r['seconds'] for r in unmarked], 50):.2f} | "
                     f"{_pct(secs, 99):.2f} |")
    secs = [r["seconds"] for r in records]
    lines.append(f"| **all** | {totals['mp']}/{totals['m']} | {totals['tp']}/{totals['t']} | {totals['ud']}/{totals['u']} | "
                 f"{_pct([r['seconds'] for r in records if r['marked']], 50):.2f} / "
                 f"{_pct([r['seconds'] for r in records if not r['marked']], 50):.2f} | {_pct(secs, 99):.2f} |")
    lines += ["", "Why images passed (count, marked / unmarked):", ""]
    reasons = collections.Counter((r["reason"], r["marked"]) for r in records if r["passed"])
    for reason in sorted({k[0] for k in reasons}):
        lines.append(f"- {reason}: {reasons[(reason, True)]} / {reasons[(reason, False)]}")
    by_family = collections.defaultdict(list)
    for r in records:
        if not r["marked"] and not r["passed"]:
            fam = "photo" if r["condition"].startswith(("phone", "angle", "coverage", "strength")) else "screenshot"
            by_family[fam].append(r["seconds"])
    lines += ["", "Seconds to dismiss an unmarked leak: " + "; ".join(
        f"{fam} median {_pct(v, 50):.3f}, p99 {_pct(v, 99):.3f} ({len(v)})" for fam, v in sorted(by_family.items()))]
    lines += ["", f"Traced leaks the gate missed: **{len(missed)}**" + ("" if not missed else ":")]
    lines += [f"- {m}" for m in missed]
    return "\n".join(lines) + "\n", missed


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="3 screens per screenshot condition, 2 per photo condition")
    ap.add_argument("--conditions", nargs="*", help="condition names or groups (as benchmarks.robustness)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--results", type=Path, default=RESULTS / "results.json", help="the last full robustness run")
    ap.add_argument("--out", type=Path, default=None, help="write the markdown here (and the records beside it, .jsonl)")
    ap.add_argument("--b-samples", type=int, default=None,
                    help="photos per level of the second scene generator (default 12, 3 with --quick; 0: none)")
    ap.add_argument("--no-check-dismissed", action="store_true",
                    help="do not run the full search on marked leaks the gate dismissed")
    args = ap.parse_args(argv)
    conditions = select_conditions(args.conditions) if args.conditions else all_conditions()
    if args.quick:
        plan = Plan(screenshot_samples=3, natural_samples=1, photo_samples=2, sweep_samples=1, peer_samples=0,
                    fp_samples=0, peers=False, workers=args.workers)
    else:
        plan = Plan(screenshot_samples=9, natural_samples=4, photo_samples=12, sweep_samples=6, peer_samples=0,
                    fp_samples=0, peers=False, workers=args.workers)
    b_samples = args.b_samples if args.b_samples is not None else (3 if args.quick else 12)
    if b_samples and not args.conditions:
        conditions = conditions + [_b_condition(level) for level in B_LEVELS]
    check = not args.no_check_dismissed
    tasks = [GateTask(c, i, content, marked, check)
             for c in conditions
             for i, content in enumerate(_samples_for(c, plan) if not c.name.startswith("B-")
                                         else [emr_content(j) for j in range(b_samples)])
             for marked in (True, False)]
    t0 = time.perf_counter()
    records: list[dict[str, Any]] = []
    with ProcessPoolExecutor(args.workers) as pool:
        for i, rec in enumerate(pool.map(run_gate_task, tasks, chunksize=1), 1):
            records.append(rec)
            if i % 20 == 0 or i == len(tasks):
                print(f"[{time.perf_counter() - t0:7.1f}s] {i}/{len(tasks)}", file=sys.stderr, flush=True)
    header = (f"# The fast rejection on the robustness run's leaks\n\n`python -m benchmarks.gate{' --quick' if args.quick else ''}` "
              f"at {tracer_version()} ({datetime.now(timezone.utc):%Y-%m-%d}, {platform.machine()}, {os.cpu_count()} cores, "
              f"{args.workers} workers; wall {(time.perf_counter() - t0) / 60:.1f} min). Every leak of the robustness plan is "
              f"rebuilt (same seeds, screens, payloads), marked and unmarked, and screened by `tracer._gate.screen_image`; "
              f"'traceable' are the leaks `{args.results.name}` (the last full run, before the gate) traced exactly; for "
              f"the second generator's photos (B-*) those the gate passed plus those a full search (thorough) traced "
              f"among the ones it dismissed.")
    text, missed = report(records, last_traced(args.results), conditions, header)
    print(text)
    if args.out:
        args.out.write_text(text)
        args.out.with_suffix(".jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())

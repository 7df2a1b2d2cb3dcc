"""Ledger-assisted attribution: named correctly, never a wrong name, against the blind decode.

Run by hand (about 40 minutes on 2 cores at the defaults)::

    python -m benchmarks.attribution [--n 24] [--beyond 12] [--negatives 8] [--jobs 2]

For each phone photo (levels ``standard`` and ``hard`` of the simulator, and
``beyond``: hard with the screen a fifth of the photo wide, then a messenger
at 1280 px and JPEG 60) the screen is stamped with a random view; candidate
sets of 10, 100 and 1000 views are drawn as a real ledger would hold them
(the true view; the same viewer's neighbouring minutes; other viewers in the
same minute; many viewers at other minutes of the same days), and the same
sets with the true view removed. One geometry search per photo tests every
set (``tracer._attribute.attribute_sets``), traced (the tracer's own
geometry) and at the true geometry (the simulator's map). Negatives:
unmarked photos and screenshots, and photos and screenshots marked with
another hospital's key, against the same kind of sets.

Printed: attributed correctly per level and set size, next to the blind
decode on the same photos and the photos whose screen the tracer found
(an attempted outline within 1% of the screen diagonal at every corner);
wrong names over every negative test with the largest score seen against
the score threshold; the null's tail against the derived bound (a plot);
the time for 1000 candidates on a 12 MP photo.
"""

from __future__ import annotations

import os

# One BLAS thread per worker process (set before numpy loads): the workers are the parallelism.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from numpy.typing import NDArray

import synthetic
import watermark
from synthetic import Leak, phone_photo_leak
from synthetic._messenger import messenger
from tracer._attribute import Attribution, attribute_sets, detection_bound
from tracer._geometry import Geometry
from tracer._search import Evaluation

from .robustness import content_image, emr_content, make_key, oracle_geometry
from .screen_finding import corner_error

SEED = 20261212
"""Results depend on this seed (payloads, sets and photos are drawn from it)."""
SET_SIZES = (10, 100, 1000)
NULL_SAMPLES = 500
LEVELS = ("standard", "hard", "beyond")


@dataclass(frozen=True)
class Task:
    kind: str  # "photo" or a negative kind
    level: str
    index: int


def _rng(*parts: int) -> np.random.Generator:
    return np.random.default_rng([SEED, *parts])


def true_view(index: int) -> watermark.Payload:
    rng = _rng(1, index)
    return watermark.Payload(viewer_id=int(rng.integers(1000, 2**31)),
                             timestamp=datetime(2026, 1, 5, tzinfo=timezone.utc) + timedelta(minutes=int(rng.integers(0, 300 * 1440))))


def ledger_set(true: watermark.Payload, size: int, rng: np.random.Generator) -> list[watermark.Payload]:
    """``size`` views as a ledger holds them for one record: the true view first.

    About a tenth are the same viewer at neighbouring minutes (within an
    hour), a tenth other viewers in the same minute, the rest a pool of
    viewers (a quarter of the set) at minutes of the same three days.
    """
    out = {true}
    n_near = max(2, size // 10)
    n_same = max(2, size // 10)
    offsets = rng.permutation(np.r_[np.arange(-60, 0), np.arange(1, 61)])
    for d in offsets[:n_near]:
        out.add(true.replace(timestamp=true.timestamp + timedelta(minutes=int(d))))
    while len(out) < 1 + n_near + n_same:
        out.add(true.replace(viewer_id=int(rng.integers(1000, 2**31))))
    pool = rng.integers(1000, 2**31, max(2, size // 4))
    while len(out) < size:
        out.add(watermark.Payload(viewer_id=int(rng.choice(pool)),
                                  timestamp=true.timestamp + timedelta(minutes=int(rng.integers(-3 * 1440, 3 * 1440)))))
    rest = sorted(out - {true}, key=lambda p: (p.viewer_id, p.minutes))
    return [true, *rest[: size - 1]]


def candidate_sets(true: watermark.Payload, index: int) -> dict[str, list[watermark.Payload]]:
    sets: dict[str, list[watermark.Payload]] = {}
    for size in SET_SIZES:
        views = ledger_set(true, size, _rng(2, index, size))
        sets[str(size)] = views
        sets[f"{size}-removed"] = views[1:]
    return sets


def beyond_hard(image: NDArray[np.uint8], seed: int) -> Leak:
    """Hard, with the screen a fifth of the photo wide, then a messenger at 1280 px and JPEG 60."""
    leak = phone_photo_leak(image, level="hard", seed=seed, coverage=0.2, messenger=False)
    params = dict(leak.params)
    out, hom = messenger(leak.image, params, longest=1280, quality=60)
    params["resize_homography"] = (hom @ np.asarray(params["resize_homography"])).tolist()
    return Leak(image=out, homography=leak.homography, channel="phone-beyond", params=params)


def photo(image: NDArray[np.uint8], level: str, seed: int) -> Leak:
    if level == "beyond":
        return beyond_hard(image, seed)
    return phone_photo_leak(image, level=level, seed=seed)


def true_corners(leak: Leak, size: tuple[int, int]) -> NDArray[np.float64]:
    w, h = size
    return synthetic.project_points(leak, [[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]])


class QuadRecorder:
    """Observer: the corner error of every outline the search attempts."""

    def __init__(self, truth: NDArray[np.float64] | None) -> None:
        self.truth = truth
        self.best = np.inf

    def __call__(self, geometry: Geometry, evaluation: Evaluation) -> None:
        if self.truth is not None and geometry.quad is not None:
            self.best = min(self.best, corner_error(geometry.quad, self.truth))


def _summary(att: Attribution, true: watermark.Payload | None) -> dict[str, Any]:
    best = att.best
    correct = bool(att.named and true is not None and att.viewer_id == true.viewer_id
                   and att.minute_from is not None and att.minute_to is not None
                   and att.minute_from <= true.timestamp <= att.minute_to)
    true_score = None
    if true is not None:
        true_score = next((c.score for c in att.ranked if c.payload == true), None)
    return {
        "named": att.named, "correct": correct, "wrong": bool(att.named and not correct),
        "range_minutes": None if att.minute_from is None or att.minute_to is None else int((att.minute_to - att.minute_from) / timedelta(minutes=1)),
        "best_score": None if best is None else best.score, "true_score": true_score,
        "score_threshold": att.score_threshold(), "fpp": att.false_attribution_probability,
        "fit_gap": att.fit_gap, "reason": att.reason, "tests": att.tests, "candidates": att.candidates,
        "match_s": att.timings.get("match_s"), "decide_s": att.timings.get("decide_s"),
    }


def run_task(task: Task) -> dict[str, Any]:
    key, other = make_key(0), make_key(1)
    content = emr_content(task.index)
    screen = content_image(content)
    true = true_view(task.index + (10_000 if task.kind != "photo" else 0))
    seed = int(np.random.SeedSequence([SEED, task.index, LEVELS.index(task.level) if task.level in LEVELS else 9]).generate_state(1)[0])
    sets = candidate_sets(true, task.index)
    rec: dict[str, Any] = {"kind": task.kind, "level": task.level, "index": task.index, "content": content}
    if task.kind == "photo":
        leak = photo(watermark.embed(screen, true, key), task.level, seed)
    elif task.kind == "unmarked-photo":
        leak = photo(screen, task.level, seed)
    elif task.kind == "other-key-photo":
        leak = photo(watermark.embed(screen, true, other), task.level, seed)
    elif task.kind == "unmarked-screenshot":
        leak = synthetic.screenshot_leak(screen, "messenger", seed=seed)
    elif task.kind == "other-key-screenshot":
        leak = synthetic.screenshot_leak(watermark.embed(screen, true, other), "messenger", seed=seed)
    else:
        raise ValueError(task.kind)
    size = (screen.shape[1], screen.shape[0])
    recorder = QuadRecorder(true_corners(leak, size) if "photo" in task.kind else None)
    t = time.perf_counter()
    traced = attribute_sets(leak.image, key, sets, null_samples=NULL_SAMPLES if task.kind == "photo" else 0,
                            seed=task.index, observers=[recorder])
    rec["seconds"] = time.perf_counter() - t
    rec["image_size"] = [int(leak.image.shape[1]), int(leak.image.shape[0])]
    any_att = next(iter(traced.values()))
    rec["blind_found"] = bool(any_att.blind.found)
    rec["blind_exact"] = bool(any_att.blind.found and any_att.blind.payload == true and task.kind == "photo")
    rec["blind_wrong"] = bool(any_att.blind.found and not rec["blind_exact"])
    rec["screen_error"] = None if not np.isfinite(recorder.best) else float(recorder.best)
    rec["screen_found"] = bool(recorder.best < 0.01)
    rec["search_s"] = any_att.timings["search_s"]
    rec["traced"] = {name: _summary(att, true if task.kind == "photo" and not name.endswith("removed") else None) for name, att in traced.items()}
    if task.kind == "photo":
        nulls = any_att.null_scores
        rec["null"] = {"scores": [] if nulls is None else [round(float(v), 3) for v in nulls], "tests": any_att.tests}
        warped, (x0, y0, x1, y1) = oracle_geometry(leak, size)
        oracle = attribute_sets(warped[y0:y1, x0:x1], key, sets)
        o_any = next(iter(oracle.values()))
        rec["oracle_blind_exact"] = bool(o_any.blind.found and o_any.blind.payload == true)
        rec["oracle"] = {name: _summary(att, None if name.endswith("removed") else true) for name, att in oracle.items()}
    return rec


def _pct(k: int, n: int) -> str:
    return f"{k}/{n} ({100.0 * k / n:.0f}%)" if n else "-"


def tables(records: list[dict[str, Any]]) -> str:
    lines: list[str] = []
    photos = [r for r in records if r["kind"] == "photo"]
    lines.append("## Attributed correctly (default threshold 1e-9)\n")
    lines.append("Screen found: an attempted outline within 1% of the screen's diagonal at every corner, or the blind decode "
                 "succeeded (its geometry was right). Minute ranges: correct attributions given as a range of minutes.\n")
    lines.append("| level | n | blind traced | screen found | set | attributed (traced) | of screen found | at true geometry | blind at true geometry | minute ranges |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|")
    for level in LEVELS:
        rows = [r for r in photos if r["level"] == level]
        if not rows:
            continue
        n = len(rows)
        found = [r for r in rows if r["screen_found"] or r["blind_exact"]]
        for size in SET_SIZES:
            s = str(size)
            ok = sum(r["traced"][s]["correct"] for r in rows)
            ok_found = sum(r["traced"][s]["correct"] for r in found)
            ok_oracle = sum(r["oracle"][s]["correct"] for r in rows)
            ranges = sum(1 for r in rows if r["traced"][s]["correct"] and (r["traced"][s]["range_minutes"] or 0) > 0)
            lines.append(f"| {level} | {n} | {_pct(sum(r['blind_exact'] for r in rows), n)} | {_pct(len(found), n)} | {size} | "
                         f"{_pct(ok, n)} | {_pct(ok_found, len(found))} | {_pct(ok_oracle, n)} | "
                         f"{_pct(sum(r['oracle_blind_exact'] for r in rows), n)} | {ranges} |")
    lines.append("\n## Never a wrong name\n")
    lines.append("| tests | n | wrong names | largest best score | its score threshold |")
    lines.append("|---|---|---|---|---|")
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in photos:
        for part in ("traced", "oracle"):
            for name, s in r[part].items():
                if name.endswith("removed"):
                    groups.setdefault(f"true view removed ({part})", []).append(s)
    for r in records:
        if r["kind"] != "photo":
            groups.setdefault(f"{r['kind']} ({r['level']})", []).extend(r["traced"].values())
    total = wrong = 0
    for name, items in groups.items():
        w = sum(s["wrong"] or s["named"] for s in items)
        total += len(items)
        wrong += w
        worst = max(items, key=lambda s: s["best_score"] or -1)
        lines.append(f"| {name} | {len(items)} | {w} | {worst['best_score'] or float('nan'):.2f} | {worst['score_threshold']:.2f} |")
    lines.append(f"| **all** | {total} | {wrong} | | |")
    blind_wrong = sum(r["blind_wrong"] for r in records)
    lines.append(f"\nBlind decodes naming a wrong payload over all {len(records)} images: {blind_wrong}.")
    lines.append("\n## Scores\n")
    lines.append("| level | true view's score (traced), median [min, max] | at true geometry | score threshold (1000 candidates), median |")
    lines.append("|---|---|---|---|")
    for level in LEVELS:
        rows = [r for r in photos if r["level"] == level]
        if not rows:
            continue
        tr = [r["traced"]["1000"]["true_score"] for r in rows if r["traced"]["1000"]["true_score"] is not None]
        orc = [r["oracle"]["1000"]["true_score"] for r in rows if r["oracle"]["1000"]["true_score"] is not None]
        thr = [r["traced"]["1000"]["score_threshold"] for r in rows]
        fmt = lambda v: f"{statistics.median(v):.1f} [{min(v):.1f}, {max(v):.1f}]" if v else "-"  # noqa: E731
        lines.append(f"| {level} | {fmt(tr)} | {fmt(orc)} | {statistics.median(thr):.2f} |")
    std = [r for r in photos if r["level"] == "standard"]
    if std:
        match = [r["traced"]["1000"]["match_s"] + r["traced"]["1000"]["decide_s"] for r in std]
        search = [r["search_s"] for r in std]
        mp = statistics.median([r["image_size"][0] * r["image_size"][1] / 1e6 for r in std])
        lines.append(f"\nTime on {mp:.0f} MP standard photos (median of {len(std)}): the geometry search with every set and "
                     f"{NULL_SAMPLES} null payloads observing {statistics.median(search):.1f} s; scoring and deciding 1000 "
                     f"candidates {statistics.median(match):.2f} s of it.")
    return "\n".join(lines)


def null_plot(records: list[dict[str, Any]], path: Path) -> str:
    """The null's tail (every photo's never-displayed payloads, traced) against the derived bound."""
    photos = [r for r in records if r["kind"] == "photo" and r["null"]["scores"]]
    scores = np.sort(np.concatenate([np.asarray(r["null"]["scores"]) for r in photos]))
    tests = statistics.median([r["null"]["tests"] for r in photos])
    grid = np.linspace(3.0, 10.0, 141)
    survival = np.array([(scores >= g).mean() for g in grid])
    bound = np.array([detection_bound(float(g), tests) for g in grid])
    text = (f"Null: {scores.size} scores of never-displayed payloads ({len(photos)} photos x {NULL_SAMPLES}), max {scores.max():.2f}; "
            f"derived bound with the median {tests:.2e} tests per candidate: P(z >= 6) <= {detection_bound(6.0, tests):.2e} "
            f"(seen {(scores >= 6).mean():.2e}).")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # pragma: no cover - the bench extra installs it
        return text + " (matplotlib missing: no plot)"
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.semilogy(grid, np.where(survival > 0, survival, np.nan), label="empirical null (traced, all photos)")
    ax.semilogy(grid, bound, "--", label=f"derived bound: {tests:.1e} tests x min(exp(-z^2/2), 4.46 Q(z))")
    ax.axhline(1.0 / scores.size, color="grey", lw=0.5)
    ax.set_xlabel("matched-filter score z of one candidate")
    ax.set_ylabel("P(score >= z)")
    ax.set_ylim(1e-6, 1.5)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return text + f" Plot: `{path.as_posix()}`."


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.attribution", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=24, help="photos per level standard and hard")
    parser.add_argument("--beyond", type=int, default=12, help="photos at the level beyond hard")
    parser.add_argument("--negatives", type=int, default=6, help="images per negative kind and level")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/attribution.md"))
    parser.add_argument("--from-json", type=Path, help="print the tables of an earlier run's raw records (no run)")
    args = parser.parse_args(argv)
    if args.from_json is not None:
        records = json.loads(args.from_json.read_text())
        print(tables(records))
        print(null_plot(records, args.from_json.with_name(args.from_json.stem + "_null.png")))
        return 0
    tasks = [Task("photo", level, i) for level, n in (("standard", args.n), ("hard", args.n), ("beyond", args.beyond)) for i in range(n)]
    for kind, levels in (("unmarked-photo", ("standard", "hard")), ("other-key-photo", ("standard", "hard")),
                         ("unmarked-screenshot", ("messenger",)), ("other-key-screenshot", ("messenger",))):
        tasks += [Task(kind, level, 100 + i) for level in levels for i in range(args.negatives)]
    t0 = time.perf_counter()
    records: list[dict[str, Any]] = []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for rec in pool.map(run_task, tasks):
            records.append(rec)
            s = rec["traced"]["1000"] if rec["kind"] == "photo" else rec["traced"]["1000-removed"]
            print(f"[{len(records)}/{len(tasks)}] {rec['kind']} {rec['level']} {rec['index']}: blind {'Y' if rec['blind_found'] else '-'} "
                  f"screen {'Y' if rec['screen_found'] else '-'} named {'Y' if s['named'] else '-'} best {s['best_score'] or 0:.1f} "
                  f"true {s['true_score'] or 0:.1f} ({rec['seconds']:.0f} s)", file=sys.stderr, flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    raw = args.out.with_suffix(".json")
    raw.write_text(json.dumps(records, default=str))
    body = tables(records)
    plot = null_plot(records, args.out.with_name(args.out.stem + "_null.png"))
    head = (f"# Ledger-assisted attribution\n\n`python -m benchmarks.attribution --n {args.n} --beyond {args.beyond} "
            f"--negatives {args.negatives} --jobs {args.jobs}` ({datetime.now(timezone.utc):%Y-%m-%d}, {platform.machine()}, "
            f"{os.cpu_count()} cores, {time.perf_counter() - t0:.0f} s; seed {SEED}; watermark {watermark.__version__})\n")
    text = f"{head}\n{body}\n\n## Null against the bound\n\n{plot}\n"
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

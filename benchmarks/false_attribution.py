"""False attribution at scale: full traces of images that carry no mark of the key, and noise decodes.

Run by hand::

    python -m benchmarks.false_attribution --traces 2000 --decodes 1000000   # about 90 minutes on 2 cores
    python -m benchmarks.false_attribution --quick                            # 60 traces, 10^5 decodes

Part 1, traces: ``tracer.trace(image, key)`` in its default mode (the fast
rejection first, then the full geometry search and the search for more
marks) on images that carry no mark of ``key``: natural photos (camera-roll
sizes, cropped, rescaled, recompressed); unmarked EMR screens as
screenshots (the simulator's channels) and as phone photos; screens marked
with *other* hospitals' keys, as screenshots and as photos; composites
(screenshots side by side or pasted over one another, screens pasted on
photos) of all of these. Every payload reported is a false attribution.
Printed per kind: how many the fast rejection dismissed and how many were
searched in full, payloads reported, keyed (MAC) checks made, the sum of
the traces' own bounds (the expected number of false attributions if every
bound were tight), and the seconds per trace.

Part 2, decodes: soft values that carry no mark of the key go through
``watermark.decoding.decode_soft_bits_batch``, the list decoder and MAC
check every decode of the tracer ends in (``decode_at`` calls
``decode_soft_bits``, which is it with one row), in batches of
``DECODE_BATCH`` rows: Gaussian noise, heavy-tailed (Laplace)
noise, and a valid codeword of another key under noise (the list decoder
then finds that codeword, and the MAC must reject it). Printed: decodes,
candidates that reached the MAC check, candidates that passed, and the
expected number of passes from the derived bound (``checks * 2**-40``;
``decodes * 5 * 2**-40`` at most).

Restartable: generated images are cached under ``--cache`` (a folder in the
system temp dir by default) and every finished trace or decode chunk is
appended to ``results.jsonl`` there (or to ``--records``); a rerun with
the same options skips what is done. A run cut short is written up with
``--report-only``; its records can be committed and resumed elsewhere
(``--records benchmarks/results/false_attribution.jsonl``): the images
are regenerated from their task (a pure function of it). Two worker processes by default (``--jobs``).
"""

from __future__ import annotations

import os

# One BLAS thread per worker process (set before numpy loads): the workers are the parallelism.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import functools  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import zlib  # noqa: E402
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait  # noqa: E402
from concurrent.futures.process import BrokenProcessPool  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Callable, Sequence  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from numpy.typing import NDArray  # noqa: E402

import synthetic  # noqa: E402
import tracer  # noqa: E402
import watermark  # noqa: E402
from watermark.decoding import CHANNEL_BITS, MAC_BITS, MAX_MAC_CHECKS_PER_DECODE, decode_soft_bits_batch, encode_payload  # noqa: E402

from .robustness import content_image, content_payload, emr_content, make_key  # noqa: E402

SEED = 20261214
"""Every image, payload and noise vector below derives from this (with the task's kind and index)."""
OTHER_KEYS = 8
"""Other hospitals' keys the marked negatives are made with (``make_key(1..8)``; the traced key is ``make_key(0)``)."""
EARLY_TRACER = "94a0a9a or 88e422a"
"""Records from before the version was recorded ran at 94a0a9a and, from its segfault fix on, 88e422a (the same
search; the fix refuses degenerate homographies)."""
TIME_LIMIT = 180.0
"""Seconds one trace may take; a trace past it is counted as a timeout (it names no one)."""
DECODE_CHUNK = 10_000
"""Noise decodes per task."""
DECODE_BATCH = 100
"""Rows per batched list decode (the decoder's cost per row is lowest about here)."""
SCREENSHOT_CHANNELS = ("png", "jpeg75", "messenger", "crop50", "crop_rescale_jpeg", "down0.5", "up1.5", "rot90", "webp", "tone")
PHOTO_LEVELS = ("standard", "hard")

KINDS: dict[str, tuple[float, str]] = {
    "natural-photo": (0.31, "a natural photo (camera-roll size), cropped, rescaled, JPEG"),
    "unmarked-screenshot": (0.24, "an unmarked EMR screen through a screenshot channel"),
    "other-key-screenshot": (0.22, "a screen marked with another key through a screenshot channel"),
    "composite": (0.20, "two screenshots (unmarked or other keys) side by side or pasted, or a screen pasted on a photo"),
    "unmarked-phone-photo": (0.015, "a phone photo of an unmarked screen (standard or hard)"),
    "other-key-phone-photo": (0.015, "a phone photo of a screen marked with another key"),
}
"""Kind -> (share of ``--traces``, what it is). Photos of screens pass the fast rejection (a screen outline) and,
carrying no mark of the key, are searched to the end (80-100 s each on 2 cores; a marked photo stops at its first
decode): their share sizes the run, 30 of each kind in 2,000 traces."""
NOISE_KINDS: dict[str, str] = {
    "gaussian": "i.i.d. N(0, 1) soft values",
    "laplace": "i.i.d. Laplace soft values (heavy tails)",
    "other-key-codeword": "another key's codeword, +-1, plus N(0, 1) noise (SNR 0 dB per bit)",
}


@dataclass(frozen=True)
class TraceTask:
    kind: str
    index: int

    @property
    def id(self) -> str:
        return f"trace:{self.kind}:{self.index}"


@dataclass(frozen=True)
class DecodeTask:
    kind: str
    chunk: int
    size: int

    @property
    def id(self) -> str:
        return f"decode:{self.kind}:{self.chunk}:{self.size}"


def _rng(*parts: int | str) -> np.random.Generator:
    return np.random.default_rng([SEED, *(p if isinstance(p, int) else zlib.crc32(p.encode()) for p in parts)])


def _other_key(rng: np.random.Generator) -> watermark.Key:
    return make_key(int(rng.integers(1, OTHER_KEYS + 1)))


# --------------------------------------------------------------------------- images


@dataclass(frozen=True)
class _Screen:
    image: NDArray[np.uint8]
    marked: bool


def _screen(rng: np.random.Generator, marked: bool) -> _Screen:
    """An EMR screen (kinds and sizes cycle), marked with a random other key and payload when ``marked``."""
    content = emr_content(int(rng.integers(0, 100_000)))
    image = content_image(content)
    if marked:
        payload = content_payload(f"other:{content}:{int(rng.integers(1 << 30))}")
        image = watermark.embed(image, payload, _other_key(rng))
    return _Screen(image, marked)


def _screenshot(rng: np.random.Generator, screen: NDArray[np.uint8]) -> NDArray[np.uint8]:
    channel = SCREENSHOT_CHANNELS[int(rng.integers(len(SCREENSHOT_CHANNELS)))]
    return synthetic.screenshot_leak(screen, channel, seed=int(rng.integers(1 << 31))).image


def _natural(rng: np.random.Generator) -> NDArray[np.uint8]:
    """A natural photo at a camera-roll size: cropped, resized to 1-12 MP, sensor noise, JPEG 70-95."""
    images = synthetic.natural_images()
    _, base = images[int(rng.integers(len(images)))]
    h, w = base.shape[:2]
    ch, cw = int(h * rng.uniform(0.5, 1.0)), int(w * rng.uniform(0.5, 1.0))
    y0, x0 = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    crop = base[y0 : y0 + ch, x0 : x0 + cw]
    long_side = int(rng.choice([1280, 2048, 3000, 4000]))
    scale = long_side / max(ch, cw)
    size = (max(1, round(cw * scale)), max(1, round(ch * scale)))
    big = cv2.resize(crop, size, interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA).astype(np.float32)
    noisy = np.clip(big + rng.normal(0, rng.uniform(1, 4), big.shape), 0, 255).astype(np.uint8)
    return _jpeg(noisy, int(rng.integers(70, 96)))


def _jpeg(image: NDArray[np.uint8], quality: int) -> NDArray[np.uint8]:
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(image[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - codec failure
        raise RuntimeError("JPEG encoding failed")
    return np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])


def _phone_photo(rng: np.random.Generator, marked: bool) -> NDArray[np.uint8]:
    level = PHOTO_LEVELS[int(rng.integers(len(PHOTO_LEVELS)))]
    return synthetic.phone_photo_leak(_screen(rng, marked).image, level=level, seed=int(rng.integers(1 << 31))).image


def _composite(rng: np.random.Generator) -> NDArray[np.uint8]:
    """Two screens (each unmarked or under another key) side by side or one pasted over the other, or a screen
    pasted on a natural photo; then, half of the time, a screenshot channel."""
    style = int(rng.integers(3))
    a, b = _screen(rng, bool(rng.integers(2))), _screen(rng, True)
    if style == 0:  # side by side, cropped to the shorter
        h = min(a.image.shape[0], b.image.shape[0])
        image = np.hstack([a.image[:h], b.image[:h]])
    elif style == 1:  # part of b pasted over a
        image = a.image.copy()
        h, w = image.shape[:2]
        ph, pw = int(h * rng.uniform(0.3, 0.7)), int(w * rng.uniform(0.3, 0.7))
        ph, pw = min(ph, b.image.shape[0]), min(pw, b.image.shape[1])
        y, x = int(rng.integers(0, h - ph + 1)), int(rng.integers(0, w - pw + 1))
        image[y : y + ph, x : x + pw] = b.image[:ph, :pw]
    else:  # a screen (or a part of it) pasted on a photo
        image = _natural(rng).copy()
        h, w = image.shape[:2]
        part = b.image[: min(b.image.shape[0], h), : min(b.image.shape[1], w)]
        y, x = int(rng.integers(0, h - part.shape[0] + 1)), int(rng.integers(0, w - part.shape[1] + 1))
        image[y : y + part.shape[0], x : x + part.shape[1]] = part
    image = np.ascontiguousarray(image)
    return _screenshot(rng, image) if rng.integers(2) else image


MAKERS: dict[str, Callable[[np.random.Generator], NDArray[np.uint8]]] = {
    "natural-photo": _natural,
    "unmarked-screenshot": lambda rng: _screenshot(rng, _screen(rng, False).image),
    "other-key-screenshot": lambda rng: _screenshot(rng, _screen(rng, True).image),
    "composite": _composite,
    "unmarked-phone-photo": lambda rng: _phone_photo(rng, False),
    "other-key-phone-photo": lambda rng: _phone_photo(rng, True),
}


def task_image(task: TraceTask, cache: Path) -> NDArray[np.uint8]:
    """The task's image: from the cache, else generated (a pure function of the task) and cached."""
    path = cache / "images" / f"{task.kind}-{task.index:05d}.png"
    if path.exists():
        loaded = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if loaded is not None:
            return np.ascontiguousarray(loaded[..., ::-1])
    image = MAKERS[task.kind](_rng(task.kind, task.index))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    cv2.imwrite(str(tmp), np.ascontiguousarray(image[..., ::-1]), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    os.replace(tmp, path)
    return image


# --------------------------------------------------------------------------- workers


@functools.lru_cache(maxsize=1)
def tracer_version() -> str:
    """The commit the tracer runs at (``+changes`` when its files differ from it), recorded with every trace."""
    root = Path(__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "tracer", "watermark"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+changes" if dirty else "")


def run_trace(task: TraceTask, cache: Path) -> dict[str, Any]:
    """Trace one image with the benchmark's key: every payload reported is a false attribution."""
    t = time.perf_counter()
    image = task_image(task, cache)
    made_s = time.perf_counter() - t
    rec: dict[str, Any] = {"id": task.id, "kind": task.kind, "index": task.index, "size": [int(image.shape[1]), int(image.shape[0])],
                           "image_s": round(made_s, 3), "tracer": tracer_version()}
    t = time.perf_counter()
    try:
        res = tracer.trace(image, make_key(0), time_limit=TIME_LIMIT)
    except TimeoutError:
        rec.update(status="timeout", seconds=round(time.perf_counter() - t, 3), marks=[], mac_checks=None, bound=None)
        return rec
    checks = int(sum(h.mac_checks for h in res.hypotheses))
    rec.update(
        status="dismissed" if res.dismissed else "searched",
        seconds=round(time.perf_counter() - t, 3),
        marks=[m.to_dict() for m in res.marks],
        mac_checks=checks,
        bound=res.false_attribution_probability,
        decodes=int(res.parameters.get("decodes", 0)),
        hypotheses=len(res.hypotheses),
        detection_score=None if not math.isfinite(res.detection_score) else round(float(res.detection_score), 3),
        screening=None if res.screening is None else res.screening.reason,
    )
    return rec


def noise_soft_values(kind: str, rng: np.random.Generator, n: int) -> NDArray[np.float64]:
    """``n`` soft-value vectors (n, CHANNEL_BITS) that carry no mark of the benchmark's key."""
    if kind == "gaussian":
        block = rng.standard_normal((n, CHANNEL_BITS))
    elif kind == "laplace":
        block = rng.laplace(0.0, 1.0, (n, CHANNEL_BITS))
    elif kind == "other-key-codeword":
        keys = [make_key(tag) for tag in range(1, OTHER_KEYS + 1)]
        block = rng.standard_normal((n, CHANNEL_BITS))
        for i in range(n):
            payload = watermark.Payload(viewer_id=int(rng.integers(0, 2**32)), timestamp=int(rng.integers(1_600_000_000, 2_000_000_000)))
            block[i] += 1.0 - 2.0 * encode_payload(payload, keys[i % len(keys)])
    else:
        raise ValueError(f"unknown noise kind {kind!r}; expected one of {sorted(NOISE_KINDS)}")
    return block


def run_decodes(task: DecodeTask) -> dict[str, Any]:
    """Decode a chunk of noise soft values with the benchmark's key: count MAC checks and passes."""
    key = make_key(0)
    t = time.perf_counter()
    checks = passes = 0
    soft = noise_soft_values(task.kind, _rng("decode", task.kind, task.chunk), task.size)
    for start in range(0, task.size, DECODE_BATCH):
        for outcome in decode_soft_bits_batch(soft[start : start + DECODE_BATCH], key):
            checks += outcome.mac_checks
            passes += outcome.payload is not None
    return {"id": task.id, "kind": task.kind, "chunk": task.chunk, "decodes": task.size, "mac_checks": checks, "passes": passes,
            "seconds": round(time.perf_counter() - t, 3)}


def _run_any(task: TraceTask | DecodeTask, cache: Path) -> dict[str, Any]:
    return run_trace(task, cache) if isinstance(task, TraceTask) else run_decodes(task)


# --------------------------------------------------------------------------- plan and run


def trace_tasks(total: int) -> list[TraceTask]:
    """``total`` traces split over the kinds by their shares (at least one of each when there are enough),
    interleaved; exactly ``total`` of them."""
    least = 1 if total >= len(KINDS) else 0
    counts = {kind: max(least, round(share * total)) for kind, (share, _) in KINDS.items()}
    counts["natural-photo"] = max(0, counts["natural-photo"] + total - sum(counts.values()))
    while sum(counts.values()) > total:  # a small total: the largest counts give way
        counts[max(counts, key=lambda k: counts[k])] -= 1
    per_kind = [[TraceTask(kind, i) for i in range(n)] for kind, n in counts.items()]
    out: list[TraceTask] = []
    for i in range(max(counts.values())):
        out += [tasks[i] for tasks in per_kind if i < len(tasks)]
    return out


def decode_tasks(total: int) -> list[DecodeTask]:
    """``total`` decodes in chunks of ``DECODE_CHUNK``, shared evenly over the noise kinds."""
    out = []
    per_kind = -(-total // len(NOISE_KINDS))
    for kind in NOISE_KINDS:
        left, chunk = per_kind, 0
        while left > 0:
            size = min(DECODE_CHUNK, left)
            out.append(DecodeTask(kind, chunk, size))
            left -= size
            chunk += 1
    return out


def interleave(traces: list[TraceTask], decodes: list[DecodeTask]) -> list[TraceTask | DecodeTask]:
    """Decode chunks spread evenly among the traces, so that a run cut short holds some of each."""
    out: list[TraceTask | DecodeTask] = []
    step = max(1, len(traces) // max(len(decodes), 1))
    pending = iter(decodes)
    for i, task in enumerate(traces):
        out.append(task)
        if i % step == step - 1 and (chunk := next(pending, None)) is not None:
            out.append(chunk)
    out.extend(pending)
    return out


def read_done(path: Path) -> dict[str, dict[str, Any]]:
    """Records already written (a line cut short by a kill is skipped)."""
    done: dict[str, dict[str, Any]] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            done[rec["id"]] = rec
    return done


def _crashed(task: TraceTask | DecodeTask) -> dict[str, Any]:
    """The record of a task whose worker process died under it twice (a crash in native code is a finding)."""
    if isinstance(task, TraceTask):
        return {"id": task.id, "kind": task.kind, "index": task.index, "size": None, "status": "crashed",
                "seconds": 0.0, "marks": [], "mac_checks": None, "bound": None}
    return {"id": task.id, "kind": task.kind, "chunk": task.chunk, "decodes": 0, "mac_checks": 0, "passes": 0,
            "seconds": 0.0, "status": "crashed"}


def run_all(tasks: Sequence[TraceTask | DecodeTask], cache: Path, jobs: int, out_path: Path) -> list[dict[str, Any]]:
    """Run what ``out_path`` (the records) does not hold yet, appending each record as it comes; every record of
    ``tasks``.

    A worker that dies (a segfault, the kernel's OOM killer) breaks the
    pool: the tasks it held are then run again one at a time, each alone in
    a fresh process, and one that kills its process again is recorded as
    ``crashed``; the run goes on.
    """
    done = read_done(out_path)
    todo = [t for t in tasks if t.id not in done]
    print(f"{len(tasks) - len(todo)} of {len(tasks)} tasks already done in {out_path}", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    finished = 0
    queue = list(reversed(todo))
    suspects: list[TraceTask | DecodeTask] = []
    with out_path.open("a") as handle:

        def record(rec: dict[str, Any]) -> None:
            nonlocal finished
            done[rec["id"]] = rec
            handle.write(json.dumps(rec) + "\n")
            handle.flush()
            finished += 1
            _progress(rec, finished, len(todo), time.perf_counter() - t0)

        while queue or suspects:
            if suspects:
                task = suspects.pop()
                try:
                    with ProcessPoolExecutor(max_workers=1) as solo:
                        rec = solo.submit(_run_any, task, cache).result()
                except BrokenProcessPool:
                    rec = _crashed(task)
                record(rec)
                continue
            with ProcessPoolExecutor(max_workers=jobs) as pool:
                in_flight: dict[Future[dict[str, Any]], TraceTask | DecodeTask] = {}
                try:
                    while queue and len(in_flight) < 2 * jobs:
                        task = queue.pop()
                        in_flight[pool.submit(_run_any, task, cache)] = task
                    while in_flight:
                        ready, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                        for future in ready:
                            task = in_flight.pop(future)
                            try:
                                rec = future.result()
                            except BrokenProcessPool:
                                suspects.append(task)
                                raise
                            record(rec)
                            if queue:
                                task = queue.pop()
                                in_flight[pool.submit(_run_any, task, cache)] = task
                except BrokenProcessPool:
                    print(f"a worker died; {len(in_flight) + 1} tasks will be rerun one at a time", file=sys.stderr, flush=True)
                    suspects.extend(in_flight.values())
    return [done[t.id] for t in tasks]


def _progress(rec: dict[str, Any], finished: int, total: int, elapsed: float) -> None:
    if rec["id"].startswith("trace:"):
        named = f" NAMED {[m['payload']['viewer_id'] for m in rec['marks']]}" if rec["marks"] else ""
        what = f"{rec['kind']} #{rec['index']}: {rec['status']}{named} ({rec['seconds']:.1f} s)"
    else:
        what = f"decodes {rec['kind']} #{rec['chunk']}: {rec['passes']} passes in {rec['mac_checks']} checks ({rec['seconds']:.0f} s)"
    print(f"[{finished}/{total} {elapsed / 60:.1f} min] {what}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- tables


def _poisson_upper(observed: int, confidence: float = 0.95) -> float:
    """Upper confidence limit of a Poisson mean given ``observed`` events (exact, via the chi-square quantile)."""
    from scipy.stats import chi2

    return float(chi2.ppf(confidence, 2 * (observed + 1)) / 2)


def trace_table(records: list[dict[str, Any]]) -> list[str]:
    lines = ["| kind | traces | dismissed by the gate | searched in full | timeouts | crashed | payloads reported | MAC checks | "
             "sum of bounds (expected false) | median s | p90 s | max s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    rows = {kind: [r for r in records if r["kind"] == kind] for kind in KINDS}
    rows["**all**"] = records
    for kind, mine in rows.items():
        if not mine:
            continue
        secs = np.array([r["seconds"] for r in mine])
        count = lambda s: sum(r["status"] == s for r in mine)  # noqa: E731
        checks = sum(r["mac_checks"] or 0 for r in mine)
        bounds = sum(r["bound"] or 0.0 for r in mine)
        reported = sum(len(r["marks"]) for r in mine)
        lines.append(f"| {kind} | {len(mine)} | {count('dismissed')} | {count('searched')} | {count('timeout')} | "
                     f"{count('crashed')} | {reported} | "
                     f"{checks} | {bounds:.2e} | {np.median(secs):.2f} | {np.percentile(secs, 90):.2f} | {secs.max():.1f} |")
    return lines


def decode_table(records: list[dict[str, Any]]) -> list[str]:
    lines = ["| noise | decodes | candidates reaching the MAC | passed | expected passes (checks x 2^-40) | "
             "bound (decodes x 5 x 2^-40) | 95% upper limit on the pass rate per check |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    rows = {kind: [r for r in records if r["kind"] == kind] for kind in NOISE_KINDS}
    rows["**all**"] = records
    for kind, mine in rows.items():
        if not mine:
            continue
        n = sum(r["decodes"] for r in mine)
        checks = sum(r["mac_checks"] for r in mine)
        passes = sum(r["passes"] for r in mine)
        lines.append(f"| {kind} | {n:,} | {checks:,} | {passes} | {checks * 2.0**-MAC_BITS:.2e} | "
                     f"{n * MAX_MAC_CHECKS_PER_DECODE * 2.0**-MAC_BITS:.2e} | {_poisson_upper(passes) / max(checks, 1):.1e} |")
    return lines


def report(traces: list[dict[str, Any]], decodes: list[dict[str, Any]], args: argparse.Namespace, wall_s: float) -> str:
    named = [r for r in traces if r["marks"]]
    secs_trace = sum(r["seconds"] for r in traces)
    secs_decode = sum(r["seconds"] for r in decodes)
    n_decodes = sum(r["decodes"] for r in decodes)
    per_decode_ms = 1000 * secs_decode / max(n_decodes, 1)
    head = (f"# False attribution at scale\n\n`python -m benchmarks.false_attribution {' '.join(args.argv)}` "
            f"({datetime.now(timezone.utc):%Y-%m-%d}, {platform.machine()}, {os.cpu_count()} cores, {args.jobs} workers; "
            f"wall {wall_s / 60:.1f} min for what this invocation ran; seed {SEED}; watermark {watermark.__version__})\n")
    lines = [head]
    if getattr(args, "partial", None):
        finished, planned = args.partial
        lines += [f"**Partial: {finished} of the {planned} planned tasks are done** (`--report-only` over the records so far; "
                  "a rerun with the same options and `--cache` resumes).\n"]
    lines += ["## Full traces of images carrying no mark of the key\n",
             f"`tracer.trace(image, key)`, default mode (fast rejection, geometry search, search for more marks), "
             f"time limit {TIME_LIMIT:g} s. Kinds: " + "; ".join(f"**{k}**: {d}" for k, (_, d) in KINDS.items()) + ".\n"]
    lines += trace_table(traces)
    versions: dict[str, int] = {}
    for r in traces:
        versions[r.get("tracer", EARLY_TRACER)] = versions.get(r.get("tracer", EARLY_TRACER), 0) + 1
    lines += ["", "Tracer versions the traces ran at (commit: traces): "
              + ", ".join(f"{v}: {n}" for v, n in versions.items()) + "."]
    expected = sum(r["bound"] or 0.0 for r in traces)
    lines += ["", f"False attributions (payloads reported): **{sum(len(r['marks']) for r in traces)}** in {len(traces)} traces "
              f"({len(named)} traces named anyone); the traces' own bounds sum to {expected:.2e} expected. "
              f"Trace time {secs_trace / 3600:.2f} CPU-hours, image generation not included.", ""]
    lines += ["## Noise decodes through the tracer's decoding path\n",
              f"`watermark.decoding.decode_soft_bits_batch(soft, key)` in batches of {DECODE_BATCH} (`decode_soft_bits`, which `decode_at` "
              "calls for every decode the tracer makes, is it with one row): "
              "the polar list decoder's 5 best candidates are checked against the 40-bit MAC. "
              + "; ".join(f"**{k}**: {d}" for k, d in NOISE_KINDS.items()) + ".\n"]
    lines += decode_table(decodes)
    lines += ["", f"{per_decode_ms:.2f} ms per decode on one core (batched). With 0 passes observed, the pass rate per MAC check is below "
              f"the last column at 95% confidence; the derived rate is 2^-40 = {2.0**-MAC_BITS:.1e}: no run of this size can "
              "reach it, which is the point of a 40-bit MAC; what the run shows is that nothing (a valid codeword of another key "
              "included) passes more often than that by orders of magnitude.", ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.false_attribution", description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=2000, help="full traces of unmarked images (default %(default)s)")
    parser.add_argument("--decodes", type=int, default=1_000_000, help="noise decodes (default %(default)s)")
    parser.add_argument("--quick", action="store_true", help="60 traces and 10^5 decodes; writes false_attribution_quick.md")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default %(default)s)")
    parser.add_argument("--cache", type=Path, help="image cache and results.jsonl (default: a folder in the temp dir; reuse it to resume)")
    parser.add_argument("--out", type=Path, help="markdown file (default benchmarks/results/false_attribution[_quick].md)")
    parser.add_argument("--records", type=Path,
                        help="the records file (default: results.jsonl in the cache); the one a run committed, "
                             "benchmarks/results/false_attribution.jsonl, resumes it on another machine")
    parser.add_argument("--report-only", action="store_true",
                        help="run nothing: write the tables from what the cache's results.jsonl holds of the plan so far")
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.quick:
        args.traces, args.decodes = 60, 100_000
    if args.traces < 0 or args.decodes < 0 or args.jobs < 1:
        parser.error("--traces and --decodes must be >= 0 and --jobs >= 1")
    cache = args.cache or Path(tempfile.gettempdir()) / "leaktrace-false-attribution"
    cache.mkdir(parents=True, exist_ok=True)
    out = args.out or Path("benchmarks/results") / ("false_attribution_quick.md" if args.quick else "false_attribution.md")
    tasks = interleave(trace_tasks(args.traces), decode_tasks(args.decodes))
    records_path = args.records or cache / "results.jsonl"
    with (cache / "plan.json").open("w") as handle:
        json.dump({"argv": args.argv, "tasks": [asdict(t) | {"id": t.id} for t in tasks]}, handle)
    t0 = time.perf_counter()
    if args.report_only:
        done = read_done(records_path)
        records = [done[t.id] for t in tasks if t.id in done]
        args.partial = (len(records), len(tasks))
    else:
        records = run_all(tasks, cache, args.jobs, records_path)
    wall = time.perf_counter() - t0
    traces = [r for r in records if r["id"].startswith("trace:")]
    decodes = [r for r in records if r["id"].startswith("decode:")]
    text = report(traces, decodes, args, wall)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

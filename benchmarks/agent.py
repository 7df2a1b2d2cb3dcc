"""Desktop agent benchmark: what the agent's screens trace at, and what the agent costs while it marks.

On a throwaway X display (Xvfb 1920x1080, picom, :mod:`benchmarks.xsession`)
the agent (``python -m agent overlay``, the marking service on loopback)
marks an application; the composited screen (``xwd -root``) is traced as a
screenshot and through the phone-photo channel at the standard and hard
levels (:func:`synthetic.phone_photo_leak`). Then the agent's CPU time
(``/proc/PID/stat``) and memory (``VmRSS``, ``VmHWM``) are sampled each
second over a wall-clock minute boundary, idle before it and across the
renewal.

    python -m benchmarks.agent [--photos 6] [--hard 6] [--out benchmarks/results/agent.md]

Needs the packages of ``scripts/test-services.sh`` and the ``agent`` extra.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

import synthetic
import tracer
import watermark
from agent import AccountMap, Marker, MarkService, WorkstationTokens

from .xsession import XSession, missing_tools

PAGE = Path(__file__).resolve().parent.parent / "tests" / "agent"


def _status(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _wait(check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise RuntimeError("timed out")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _memory(pid: int) -> tuple[float, float]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            values[line.split(":")[0]] = int(line.split()[1]) / 1024
    return values["VmRSS"], values["VmHWM"]


class _Bench:
    def __init__(self, folder: Path) -> None:
        sys.path.insert(0, str(PAGE))
        import desktop_helpers  # the tests' record page and Chromium launcher

        self.helpers = desktop_helpers
        self.folder = folder
        self.key = watermark.Key.generate()
        accounts = AccountMap.from_rows([{"username": desktop_helpers.OS_USER, "viewer_id": 4821,
                                          "display_name": "Dr. Marek Lindqvist"}])
        tokens = WorkstationTokens({})
        self.token_file = folder / "ws.token"
        self.token_file.write_text(tokens.enrol("WS-BENCH"))
        self.service = MarkService(Marker(self.key, None, accounts), tokens).start()

    def agent(self, x: XSession, scale: float, status: Path, visible: bool = False) -> subprocess.Popen[bytes]:
        env = x.env
        env["QT_SCREEN_SCALE_FACTORS"] = str(scale)
        argv = [sys.executable, "-m", "agent", "overlay", "--service", self.service.url, "--token-file",
                str(self.token_file), "--status-file", str(status)] + (["--visible"] if visible else [])
        status.unlink(missing_ok=True)  # a status left by an earlier agent would be taken for this one's
        proc = x.spawn(*argv, env=env)
        _wait(lambda: (s := _status(status)) and s["state"] == "marking" and s["pid"] == proc.pid, 30)
        self.helpers.settle(x)  # drawn and composited: two captures 0.5 s apart agree
        return proc

    def screenshot(self, app: str, scale: float, visible: bool = False) -> np.ndarray:
        with XSession((1920, 1080)) as x:
            if app == "chromium":
                self.helpers.start_chromium(x, self.helpers.record_page(self.folder / "record.html"), self.folder,
                                            scale=scale)
            else:
                x.spawn("xlogo", "-geometry", "1500x900+200+90", "-render")
                time.sleep(1.5)
            status = self.folder / f"status-{app}-{scale}-{visible}.json"
            proc = self.agent(x, scale, status, visible)
            shot = x.capture()
            proc.terminate()
            proc.wait(timeout=15)
            return shot

    def cost(self, seconds_before: float = 45.0, seconds_after: float = 15.0) -> dict[str, Any]:
        """CPU per second and memory of an overlay process, idle and across the next wall-clock minute."""
        with XSession((1920, 1080)) as x:
            self.helpers.start_chromium(x, self.helpers.record_page(self.folder / "record.html"), self.folder)
            now = time.time()
            to_boundary = 60 - now % 60
            if to_boundary < seconds_before + 8:  # start so that the boundary falls after the idle window
                time.sleep(to_boundary + 1)
            status = self.folder / "status-cost.json"
            proc = self.agent(x, 1.0, status)
            start_rss = _memory(proc.pid)[0]
            first_minute = _status(status)["minute"]  # type: ignore[index]
            samples = []
            last = _cpu_seconds(proc.pid)
            t_last = time.monotonic()
            boundary = time.time() + (60 - time.time() % 60)
            end = boundary + seconds_after
            while time.time() < end:
                time.sleep(1.0)
                cpu, t = _cpu_seconds(proc.pid), time.monotonic()
                samples.append((time.time() - boundary, (cpu - last) / (t - t_last), *_memory(proc.pid)))
                last, t_last = cpu, t
            renewed = _status(status)["minute"]  # type: ignore[index]
            proc.terminate()
            proc.wait(timeout=15)
        idle = [s[1] for s in samples if -seconds_before < s[0] < -2]
        around = [s for s in samples if -1 <= s[0] <= 3]
        return {"idle_cpu_median": statistics.median(idle), "idle_cpu_max": max(idle),
                "idle_cpu_mean": statistics.fmean(idle),
                "idle_seconds": len(idle), "renewal_cpu_max": max(s[1] for s in around),
                "renewal_cpu_seconds": sum(s[1] for s in around) - statistics.median(idle) * len(around),
                "rss_start_mib": start_rss, "rss_end_mib": samples[-1][2], "hwm_mib": max(s[3] for s in samples),
                "first_minute": first_minute, "renewed_minute": renewed}


def _trace_rate(shots: dict[str, np.ndarray], key: watermark.Key, level: str | None, n: int) -> list[list[str]]:
    rows = []
    for name, shot in shots.items():
        found, times = 0, []
        cases = [None] if level is None else list(range(n))
        for seed in cases:
            image = shot if seed is None else synthetic.phone_photo_leak(shot, level=level, seed=seed).image
            t = time.perf_counter()
            try:
                result = tracer.trace(image, key, time_limit=90)
                ok = result.found and result.payload is not None and result.payload.viewer_id == 4821
                wrong = result.found and not ok
            except TimeoutError:
                ok, wrong = False, False
            if wrong:
                raise AssertionError(f"{name}: a WRONG viewer was named")
            times.append(time.perf_counter() - t)
            found += ok
        rows.append([name, level or "screenshot", f"{found}/{len(cases)}", f"{statistics.median(times):.2f}"])
        print(" | ".join(rows[-1]), flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=6, help="standard phone photos per screenshot")
    parser.add_argument("--hard", type=int, default=6, help="hard phone photos of the 100 %% Chromium screenshot")
    parser.add_argument("--out", type=Path, help="write the Markdown tables here")
    args = parser.parse_args(argv)
    if missing_tools():
        print(f"missing: {', '.join(missing_tools())} (scripts/test-services.sh installs them)", file=sys.stderr)
        return 2
    started = time.time()
    with tempfile.TemporaryDirectory() as folder:
        bench = _Bench(Path(folder))
        cost = bench.cost()
        print(json.dumps(cost), flush=True)
        shots = {f"chromium {int(s * 100)} %": bench.screenshot("chromium", s) for s in (1.0, 1.5, 2.0)}
        shots["xlogo 100 %"] = bench.screenshot("xlogo", 1.0)
        shots["chromium 100 % + visible mark"] = bench.screenshot("chromium", 1.0, visible=True)
        rows = _trace_rate(shots, bench.key, None, 1)
        rows += _trace_rate(shots, bench.key, "standard", args.photos)
        rows += _trace_rate({"chromium 100 %": shots["chromium 100 %"]}, bench.key, "hard", args.hard)
        bench.service.close()
    lines = [
        f"# Desktop agent benchmark ({datetime.now(timezone.utc):%Y-%m-%d}, `python -m benchmarks.agent "
        f"--photos {args.photos} --hard {args.hard}`, {(time.time() - started) / 60:.1f} min)",
        "",
        "Xvfb 1920x1080 with picom (xrender); the agent over Chromium (an EMR-like record page) and xlogo; "
        "screenshots by `xwd -root`, photos by `synthetic.phone_photo_leak`. 0 wrong viewers named.",
        "",
        "| screen | channel | traced | median trace s |",
        "|---|---|---:|---:|",
        *[f"| {' | '.join(r)} |" for r in rows],
        "",
        "## Cost of the overlay process (one 1080p monitor)",
        "",
        "| measure | value |",
        "|---|---:|",
        f"| CPU idle, mean over {cost['idle_seconds']} s | {100 * cost['idle_cpu_mean']:.2f} % |",
        f"| CPU idle, median of the one-second samples (10 ms ticks) | {100 * cost['idle_cpu_median']:.2f} % |",
        f"| CPU idle, highest second | {100 * cost['idle_cpu_max']:.2f} % |",
        f"| CPU, highest second across the renewal ({cost['first_minute']} -> {cost['renewed_minute']}) | "
        f"{100 * cost['renewal_cpu_max']:.1f} % |",
        f"| CPU time the renewal adds | {1000 * cost['renewal_cpu_seconds']:.0f} ms |",
        f"| resident memory at start / end / peak | {cost['rss_start_mib']:.0f} / {cost['rss_end_mib']:.0f} / "
        f"{cost['hwm_mib']:.0f} MiB |",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Demo: stamp a rendered EMR screen, simulate a leaked phone photo of it, trace it.

Run from the repository root: ``make demo`` (or ``python examples/demo.py``).
Writes its files under ``demo-out/``: the key, the screen before and after
stamping, the simulated phone photo, and the forensic report.
"""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import watermark  # noqa: E402
from synthetic import phone_photo_leak, render_screen  # noqa: E402
from tracer.cli import main as trace_leak  # noqa: E402


def main() -> int:
    out = Path("demo-out")
    out.mkdir(exist_ok=True)
    key_path = out / "hospital.key"
    if key_path.exists():
        key = watermark.Key.from_file(key_path)
    else:
        key = watermark.Key.generate()
        key.save(key_path)
    print(f"1. key {key_path} (fingerprint {key.fingerprint})")

    screen = render_screen("labs_chart", size=(1920, 1080), seed=11)
    payload = watermark.Payload(viewer_id=4821, timestamp=datetime.now(timezone.utc))
    marked = watermark.embed(screen, payload, key)
    Image.fromarray(screen).save(out / "screen.png")
    Image.fromarray(marked).save(out / "marked.png")
    diff = (marked.astype(float) - screen) @ np.array([0.299, 0.587, 0.114])
    psnr = 10 * np.log10(255**2 / np.mean(diff**2))
    print(f"2. stamped viewer {payload.viewer_id} at {payload.timestamp:%Y-%m-%dT%H:%MZ} into {out / 'marked.png'} "
          f"(luma PSNR {psnr:.1f} dB, max change {np.abs(diff).max():.0f} levels)")

    # The leak: someone photographs the monitor with a phone, off-axis, and posts the JPEG.
    leak = phone_photo_leak(marked, level="standard", seed=7)
    photo = out / "leaked-photo.jpg"
    Image.fromarray(leak.image).save(photo, quality=92)
    p = leak.params
    print(f"3. simulated a {leak.image.shape[1]}x{leak.image.shape[0]} phone photo of the monitor: {photo}")
    print(f"   (pose yaw {p.get('yaw_deg', 0):.0f}, pitch {p.get('pitch_deg', 0):.0f}, roll {p.get('roll_deg', 0):.0f} degrees; "
          f"moire, blur, sensor noise, phone ISP, JPEG)")
    report = out / "report.html"
    print(f"4. trace-leak {photo} --key-file {key_path} --report {report}")
    return trace_leak([str(photo), "--key-file", str(key_path), "--report", str(report)])


if __name__ == "__main__":
    sys.exit(main())

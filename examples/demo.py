"""Demo: stamp a rendered EMR screen, leak it, trace it back to the viewer.

Run from the repository root: ``make demo`` (or ``python examples/demo.py``).
Writes its files under ``demo-out/``.
"""

from __future__ import annotations

import io
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import watermark  # noqa: E402
from benchmarks.screens import render_screen  # noqa: E402
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
    print(f"key {key_path} (fingerprint {key.fingerprint})")

    screen = render_screen("banner_vitals", size=(1920, 1080), seed=11)
    payload = watermark.Payload(viewer_id=4821, timestamp=datetime.now(timezone.utc))
    marked = watermark.embed(screen, payload, key)
    Image.fromarray(screen).save(out / "screen.png")
    Image.fromarray(marked).save(out / "marked.png")
    diff = (marked.astype(float) - screen) @ np.array([0.299, 0.587, 0.114])
    psnr = 10 * np.log10(255**2 / np.mean(diff**2))
    print(f"stamped viewer {payload.viewer_id} at {payload.timestamp:%Y-%m-%dT%H:%MZ} "
          f"into {out / 'marked.png'} (luma PSNR {psnr:.1f} dB, max change {np.abs(diff).max():.0f} levels)")

    # The leak: someone crops the record out of a screenshot and posts it as a JPEG.
    crop = marked[150:850, 300:1500]
    buf = io.BytesIO()
    Image.fromarray(crop).save(buf, format="JPEG", quality=60)
    leaked = out / "leaked.jpg"
    leaked.write_bytes(buf.getvalue())
    print(f"leaked a cropped JPEG (quality 60) to {leaked}; tracing it:")
    return trace_leak([str(leaked), "--key-file", str(key_path)])


if __name__ == "__main__":
    sys.exit(main())

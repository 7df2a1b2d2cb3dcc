"""Core benchmark: speed, imperceptibility, round trips and false payloads.

Run: ``python -m benchmarks.core`` (``make bench``); ``--quick`` for a short
run. Prints markdown tables; medians over repeats. Peers (``invisible-watermark``'s
``dwtDct``) are measured in the same run when installed (``pip install -e .[peers]``).
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import time
from datetime import datetime, timedelta, timezone
from typing import Callable

import numpy as np
from PIL import Image

import watermark
from watermark.decoding import CHANNEL_BITS, decode_soft_bits

from synthetic import natural_images, render_screen

SEED = 20261130  # every random draw below derives from it


def _median_time(fn: Callable[[], object], repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def _luma(image: np.ndarray) -> np.ndarray:
    return image.astype(np.float64) @ np.array([0.299, 0.587, 0.114])


def _random_payload(rng: np.random.Generator) -> watermark.Payload:
    minutes = int(rng.integers(0, 80 * 525_600))
    return watermark.Payload(
        viewer_id=int(rng.integers(0, 2**32)),
        timestamp=datetime(2020, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=minutes),
    )


def _clear_caches() -> None:
    watermark.clear_caches(key_layouts=False)


def speed(key: watermark.Key, repeats: int) -> list[str]:
    rows = ["| operation | 1920x1080 | 3840x2160 | goal (1080p / 4K) |", "|---|---:|---:|---|"]
    images = {
        size: np.asarray(Image.fromarray(render_screen("labs_chart", size=(1920, 1080), seed=1)).resize(size, Image.BICUBIC))
        for size in ((1920, 1080), (3840, 2160))
    }
    rng = np.random.default_rng(SEED)
    payload = _random_payload(rng)
    results: dict[str, list[float]] = {}

    def new_payload_embed(image: np.ndarray) -> None:
        _clear_caches()
        watermark.embed(image, _random_payload(rng), key)

    for size, image in images.items():
        marked = watermark.embed(image, payload, key)
        results.setdefault("embed, cached pattern", []).append(_median_time(lambda: watermark.embed(image, payload, key), repeats))
        results.setdefault("embed, new payload", []).append(_median_time(lambda: new_payload_embed(image), max(3, repeats // 3)))
        results.setdefault("extract (aligned)", []).append(_median_time(lambda: watermark.extract(marked, key), max(3, repeats // 3)))
    goals = {"embed, cached pattern": "10 ms / 40 ms", "embed, new payload": "60 ms / -", "extract (aligned)": "150 ms / -"}
    for name, (t1, t4) in results.items():
        rows.append(f"| leaktrace {name} | {t1 * 1e3:.1f} ms | {t4 * 1e3:.1f} ms | {goals[name]} |")
    try:
        from imwatermark import WatermarkDecoder, WatermarkEncoder
    except ImportError:
        rows.append("| imwatermark dwtDct | not installed (pip install -e .[peers]) | | |")
        return rows
    peer = {}
    for size, image in images.items():
        bgr = image[:, :, ::-1].copy()
        encoder = WatermarkEncoder()
        encoder.set_watermark("bytes", payload.to_bytes())
        encoded = encoder.encode(bgr, "dwtDct")
        decoder = WatermarkDecoder("bytes", 64)
        peer.setdefault("encode", []).append(_median_time(lambda: encoder.encode(bgr, "dwtDct"), max(3, repeats // 4)))
        peer.setdefault("decode", []).append(_median_time(lambda: decoder.decode(encoded, "dwtDct"), max(3, repeats // 4)))
    rows.append(f"| imwatermark dwtDct encode | {peer['encode'][0] * 1e3:.0f} ms | {peer['encode'][1] * 1e3:.0f} ms | |")
    rows.append(f"| imwatermark dwtDct decode | {peer['decode'][0] * 1e3:.0f} ms | {peer['decode'][1] * 1e3:.0f} ms | |")
    for ours, theirs in (("embed, cached pattern", "encode"), ("embed, new payload", "encode"), ("extract (aligned)", "decode")):
        r1 = peer[theirs][0] / results[ours][0]
        r4 = peer[theirs][1] / results[ours][1]
        rows.append(f"| speed-up: imwatermark {theirs} / leaktrace {ours} | {r1:.0f}x | {r4:.0f}x | 30x |")
    return rows


def imperceptibility(key: watermark.Key) -> list[str]:
    from skimage.metrics import structural_similarity

    rows = ["| image | size | luma PSNR (dB) | SSIM (luma) | max change (levels) | changed pixels |", "|---|---|---:|---:|---:|---:|"]
    payload = _random_payload(np.random.default_rng(SEED))
    images = [(kind, render_screen(kind, size=(1920, 1080), seed=5)) for kind in ("banner_vitals", "medications", "labs_chart", "notes", "dark_theme")]
    images += natural_images()[:2]
    for name, image in images:
        marked = watermark.embed(image, payload, key)
        a, b = _luma(image), _luma(marked)
        psnr = 10 * np.log10(255.0**2 / np.mean((a - b) ** 2))
        ssim = structural_similarity(a, b, data_range=255.0)
        change = np.abs(marked.astype(int) - image.astype(int)).max()
        frac = np.mean((marked != image).any(axis=2))
        rows.append(f"| {name} | {image.shape[1]}x{image.shape[0]} | {psnr:.1f} | {ssim:.4f} | {change} | {frac:.0%} |")
    return rows


def round_trips(key: watermark.Key, n_payloads: int) -> list[str]:
    rng = np.random.default_rng(SEED + 1)
    screens = [(kind, render_screen(kind, size=(1920, 1080), seed=9)) for kind in ("banner_vitals", "labs_chart", "notes")]
    conditions: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "PNG": lambda m: m,
        "JPEG 50": lambda m: _jpeg(m, 50),
    }

    def crop_jpeg(m: np.ndarray) -> np.ndarray:
        y, x = int(rng.integers(0, m.shape[0] - 512 + 1)), int(rng.integers(0, m.shape[1] - 512 + 1))
        return _jpeg(m[y : y + 512, x : x + 512], 75)

    conditions["2x2-tile crop at random offset + JPEG 75"] = crop_jpeg
    counts = {name: [0, 0, 0, []] for name in conditions}  # exact, wrong, total, BERs
    for _ in range(n_payloads):
        payload = _random_payload(rng)
        for _, screen in screens:
            marked = watermark.embed(screen, payload, key)
            for name, channel in conditions.items():
                res = watermark.extract(channel(marked), key)
                c = counts[name]
                c[0] += res.payload == payload
                c[1] += res.found and res.payload != payload
                c[2] += 1
                if res.bit_error_rate is not None:
                    c[3].append(res.bit_error_rate)
    rows = ["| channel | exact payloads | wrong payloads | median channel BER (decoded) |", "|---|---:|---:|---:|"]
    for name, (exact, wrong, total, bers) in counts.items():
        ber = f"{statistics.median(bers):.3f}" if bers else "-"
        rows.append(f"| {name} | {exact}/{total} ({exact / total:.1%}) | {wrong} | {ber} |")
    return rows


def false_payloads(key: watermark.Key, n_noise: int, n_images: int) -> list[str]:
    rng = np.random.default_rng(SEED + 2)
    noise_found = sum(decode_soft_bits(rng.standard_normal(CHANNEL_BITS) * rng.uniform(0.1, 10), key).payload is not None for _ in range(n_noise))
    other = watermark.Key(bytes(rng.integers(0, 256, 32, dtype=np.uint8)))
    kinds = ("banner_vitals", "medications", "labs_chart", "notes", "sidebar_list", "dark_theme", "xray_viewer", "summary_dashboard")
    found_unmarked = found_wrong_key = 0
    checks = 0
    for i in range(n_images):
        screen = render_screen(kinds[i % len(kinds)], size=(1366, 768), seed=100 + i)
        if i % 2 == 0:
            res = watermark.extract(screen, key)
            found_unmarked += res.found
        else:
            res = watermark.extract(watermark.embed(screen, _random_payload(rng), other), key)
            found_wrong_key += res.found
        checks += res.diagnostics["mac_checks"]
    bound = checks * 2.0**-40
    return [
        "| test | decodes | payloads returned |",
        "|---|---:|---:|",
        f"| noise soft values (random scale) | {n_noise} | {noise_found} |",
        f"| unmarked EMR screens | {(n_images + 1) // 2} | {found_unmarked} |",
        f"| screens marked with another key | {n_images // 2} | {found_wrong_key} |",
        f"| MAC checks made on images / union bound on any false payload | {checks} | <= {bound:.1e} |",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and samples")
    args = parser.parse_args(argv)
    key = watermark.Key(bytes(np.random.default_rng(SEED).integers(0, 256, 32, dtype=np.uint8)))
    print(f"# leaktrace core benchmark\n\nmachine: {platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, numpy {np.__version__}; {'quick' if args.quick else 'full'} run\n")
    sections = [
        ("Speed (median)", lambda: speed(key, 5 if args.quick else 30)),
        ("Imperceptibility at strength 1", lambda: imperceptibility(key)),
        ("Round trips (random payloads x 3 screens, 1920x1080)", lambda: round_trips(key, 5 if args.quick else 50)),
        ("No false payloads", lambda: false_payloads(key, 500 if args.quick else 10_000, 20 if args.quick else 200)),
    ]
    for title, run in sections:
        t = time.perf_counter()
        rows = run()
        print(f"## {title}\n\n" + "\n".join(rows) + f"\n\n({time.perf_counter() - t:.0f} s)\n", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""A coarse (2x magnified) layer of the mark against today's, at the true geometry.

The question this answers (issue "chat-group photos"): would a mark whose
features are twice as large survive small, recompressed phone captures
better, at the same visibility, and what does it cost on screenshot crops?

Carriers compared, each on the same screens, payloads and leak seeds as the
robustness benchmark:

* **fine**: today's pattern tile (256 px), ``watermark.embed``'s pattern;
* **coarse**: the same kind of tile (another key) magnified 2x by bicubic
  interpolation, a 512 px period with features of 42-128 px; decoded by
  area-averaging the screen 2x down and running today's ``extract``;
* **two-scale**: both layers at once (fine at ``--fine``, coarse at
  ``--coarse`` of their unit amplitudes, same key, so both carry the same
  codeword); decoded by both, and by the sum of the two layers' soft bits
  (each in units of its own noise, so the sum weighs them equally).

Every carrier is added as one luma delta on R, G and B over the screen with
its whites capped at 254 (the white headroom of ``watermark.embed``, without
its dark-pixel attenuation), so the comparison is between patterns only.

Visibility: mean NVIDIA FLIP at 38 and 67 ppd and luma PSNR, each marked
screen against the capped unmarked one (``--visibility`` screens).

Each leak is mapped back to screen pixels with the simulator's true geometry
(:func:`benchmarks.robustness.oracle_geometry`): synchronisation plays no
part. The table gives exact decodes and the median soft-bit SNR (mean over
standard deviation of the soft values at the phase ``extract`` chose,
signed by the true bits), and for photos the share of the screen the camera
clipped (local mean luma at least 250 in an 8 px neighbourhood), which the
mark cannot survive.

Run by hand::

    python -m benchmarks.two_scale --samples 24        # about 12 minutes on 2 cores
    python -m benchmarks.two_scale --samples 4 --conditions phone-hard --visibility 1
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

import watermark
from watermark import pattern_tile
from watermark.decoding import decode_soft_bits, encode_payload

from . import robustness as rb
from .band_snr import headroom
from .visibility import flip_map, load_flip, psnr_luma

DEFAULT_CONDITIONS = ["phone-hard", "phone-standard", "crop25", "crop_rescale_jpeg", "jpeg50", "down0.5"]
MAGNIFICATION = 2
CLIPPED_LEVEL = 250.0


def _tiled(tile: NDArray[np.float32], height: int, width: int) -> NDArray[np.float32]:
    """A periodic tile repeated over a height x width frame."""
    return np.tile(tile, (-(-height // tile.shape[0]), -(-width // tile.shape[1])))[:height, :width]


def coarse_frame(payload: watermark.Payload, key: watermark.Key, height: int, width: int) -> NDArray[np.float32]:
    """The unit-strength tile magnified ``MAGNIFICATION`` x, tiled over a frame."""
    tile = pattern_tile(payload, key, 1.0).astype(np.float32)
    side = tile.shape[0] * MAGNIFICATION
    # Wrap-pad before interpolating so the magnified tile stays periodic.
    pad = 4
    padded = np.pad(tile, pad, mode="wrap")
    big = cv2.resize(padded, None, fx=MAGNIFICATION, fy=MAGNIFICATION, interpolation=cv2.INTER_CUBIC)
    off = pad * MAGNIFICATION
    return _tiled(big[off:off + side, off:off + side], height, width)


def fine_frame(payload: watermark.Payload, key: watermark.Key, height: int, width: int) -> NDArray[np.float32]:
    """Today's unit-strength tile, tiled over a frame."""
    return _tiled(pattern_tile(payload, key, 1.0).astype(np.float32), height, width)


def add_luma(screen: NDArray[np.uint8], delta: NDArray[np.float32]) -> NDArray[np.uint8]:
    """One rounded luma delta on R, G and B over the headroom-capped screen (no dark-pixel attenuation), saturating."""
    out = headroom(screen).astype(np.int16) + np.rint(delta).astype(np.int16)[..., None]
    return np.clip(out, 0, 255).astype(np.uint8)


def carriers(fine: float, coarse: float) -> dict[str, tuple[float, float]]:
    """Name -> (fine amplitude, coarse amplitude)."""
    return {"fine": (1.0, 0.0), "coarse": (0.0, 1.0), f"two-scale {fine:g}+{coarse:g}": (fine, coarse)}


def _signed_snr(soft: NDArray[np.float64], truth: NDArray[np.uint8]) -> float:
    signed = soft * (1.0 - 2.0 * truth)
    return float(signed.mean() / signed.std())


def measure(job: tuple[str, int, dict[str, tuple[float, float]]]) -> dict[str, Any]:
    cond_name, i, variants = job
    condition = next(c for c in rb.all_conditions() if c.name == cond_name)
    key = rb.make_key(0)
    content = rb.emr_content(i)
    screen = rb.content_image(content)
    payload = rb.content_payload(content)
    truth = encode_payload(payload, key)
    h, w = screen.shape[:2]
    out: dict[str, Any] = {"condition": cond_name, "sample": i}
    for name, (fa, ca) in variants.items():
        delta = np.zeros((h, w), np.float32)
        if fa:
            delta += fa * fine_frame(payload, key, h, w)
        if ca:
            delta += ca * coarse_frame(payload, key, h, w)
        leak = rb.make_leak(condition, add_luma(screen, delta), i)
        warped, (x0, y0, x1, y1) = rb.oracle_geometry(leak, (w, h))
        crop = warped[y0:y1, x0:x1]
        rec: dict[str, Any] = {}
        softs = []
        if fa:
            ext = watermark.extract(crop, key)
            rec["fine"] = (bool(ext.found and ext.payload == payload), _signed_snr(ext.bit_snr, truth))
            softs.append(ext.bit_snr)
        if ca:
            ch, cw = crop.shape[:2]
            half = cv2.resize(crop, (max(1, cw // MAGNIFICATION), max(1, ch // MAGNIFICATION)), interpolation=cv2.INTER_AREA)
            try:
                ext = watermark.extract(half, key)
                rec["coarse"] = (bool(ext.found and ext.payload == payload), _signed_snr(ext.bit_snr, truth))
                softs.append(ext.bit_snr)
            except watermark.WatermarkError:  # smaller than one tile at half scale
                rec["coarse"] = (False, float("nan"))
        if len(softs) == 2:
            both = np.nan_to_num(softs[0]) + np.nan_to_num(softs[1])
            outcome = decode_soft_bits(both, key)
            rec["sum"] = (bool(outcome.payload == payload), _signed_snr(both, truth))
        if condition.family == "photo":
            y = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY).astype(np.float32)
            inside = cv2.blur((crop.max(axis=2) > 0).astype(np.float32), (9, 9)) > 0.99
            clipped = cv2.blur(y, (9, 9)) >= CLIPPED_LEVEL
            rec["clipped"] = float(clipped[inside].mean()) if inside.any() else float("nan")
        out[name] = rec
    return out


def visibility(variants: dict[str, tuple[float, float]], n: int) -> dict[str, list[float]]:
    flip = load_flip()
    rows: dict[str, list[list[float]]] = {}
    for i in range(n):
        key = rb.make_key(0)
        content = rb.emr_content(i)
        screen = rb.content_image(content)
        payload = rb.content_payload(content)
        h, w = screen.shape[:2]
        base = add_luma(screen, np.zeros((h, w), np.float32))
        for name, (fa, ca) in variants.items():
            delta = fa * fine_frame(payload, key, h, w) + ca * coarse_frame(payload, key, h, w)
            marked = add_luma(screen, delta)
            flips = [float(flip_map(flip, base, marked, ppd).mean()) for ppd in (38, 67)] if flip else [float("nan")] * 2
            rows.setdefault(name, []).append(flips + [psnr_luma(base, marked)])
    return {name: list(np.mean(np.array(v), axis=0)) for name, v in rows.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=24)
    parser.add_argument("--conditions", nargs="+", default=DEFAULT_CONDITIONS)
    parser.add_argument("--fine", type=float, default=0.7, help="fine amplitude in the two-scale carrier (default 0.7)")
    parser.add_argument("--coarse", type=float, default=0.75, help="coarse amplitude in the two-scale carrier (default 0.75)")
    parser.add_argument("--coarse-only", type=float, default=1.07, help="amplitude of the coarse-only carrier (default 1.07)")
    parser.add_argument("--visibility", type=int, default=6, help="screens for the FLIP table (0: skip)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    variants = carriers(args.fine, args.coarse)
    variants["coarse"] = (0.0, args.coarse_only)
    t0 = time.perf_counter()
    if args.visibility:
        vis = visibility(variants, args.visibility)
        print(f"Visibility over {args.visibility} EMR screens (mean FLIP; luma PSNR)\n")
        print("| carrier | amplitudes (fine, coarse) | FLIP 38 ppd | FLIP 67 ppd | PSNR dB |")
        print("| --- | --- | ---: | ---: | ---: |")
        for name, (fa, ca) in variants.items():
            f38, f67, psnr = vis[name]
            print(f"| {name} | {fa:g}, {ca:g} | {f38:.4f} | {f67:.4f} | {psnr:.1f} |")
        print(flush=True)
    jobs = [(c, i, variants) for c in args.conditions for i in range(args.samples)]
    with ProcessPoolExecutor(args.workers) as pool:
        records = list(pool.map(measure, jobs))
    print(f"Decoded at the true geometry, n={args.samples} per condition ({time.perf_counter() - t0:.0f} s)\n")
    print("| condition | carrier | layer | exact | soft-bit SNR (median) |")
    print("| --- | --- | --- | ---: | ---: |")
    for cond in args.conditions:
        recs = [r for r in records if r["condition"] == cond]
        for name in variants:
            for layer in ("fine", "coarse", "sum"):
                vals = [r[name][layer] for r in recs if layer in r[name]]
                if vals:
                    snr = np.nanmedian([v[1] for v in vals]) if any(np.isfinite(v[1]) for v in vals) else float("nan")
                    print(f"| {cond} | {name} | {layer} | {sum(v[0] for v in vals)}/{len(vals)} | {snr:.2f} |")
        clipped = [r["fine"]["clipped"] for r in recs if "clipped" in r.get("fine", {})]
        if clipped:
            fine_ok = [r["fine"]["fine"][0] for r in recs]
            print(f"\n{cond}: clipped share of the screen, median {np.median(clipped):.2f}; "
                  f"fine decoded where clipped < 0.5: {sum(ok for ok, c in zip(fine_ok, clipped) if c < 0.5)}/{sum(c < 0.5 for c in clipped)}, "
                  f"where >= 0.5: {sum(ok for ok, c in zip(fine_ok, clipped) if c >= 0.5)}/{sum(c >= 0.5 for c in clipped)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

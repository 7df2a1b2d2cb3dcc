"""Robustness benchmark: recovery through simulated leak channels, against peers.

Run ``python -m benchmarks.robustness --quick`` (a few minutes) or without
``--quick`` for the full run. Every condition stamps rendered EMR screens
(and, on screenshot channels, natural images) with a random payload, leaks
them through the simulator in :mod:`synthetic`, and decodes twice:

* **traced**: ``tracer.trace(leak.image, key)``, what a security officer gets;
* **oracle geometry**: the leak mapped back to screen pixels with the
  simulator's ground-truth geometry (:func:`synthetic.project_points`,
  lens distortion included), then ``watermark.extract``. A payload that
  decodes here but not when traced is a synchronisation failure; one that
  fails here too is a signal failure.

Peers (``invisible-watermark`` dwtDct and dwtDctSvd, ``blind-watermark``;
optional, ``pip install -e .[peers]``) embed the same 64 payload bits into
the same screens, are leaked through the same channel with the same seed and
decoded from the raw leak and from the oracle-geometry warp (they have no
synchronisation of their own).

A false-positive pass traces unmarked screens, and screens marked with
another key, through every base channel with our key: any payload reported
there is a false attribution, printed in red and counted.

Outputs in ``--out``: ``results.md`` (the tables printed to stdout),
``results.json`` (every record), ``recovery_vs_{angle,coverage,jpeg,strength}.png``
and ``contact_sheet.png``. Progress goes to stderr.

Examples
--------
``python -m benchmarks.robustness --quick``
``python -m benchmarks.robustness --conditions screenshots phone-standard --no-peers``
``python -m benchmarks.robustness --workers 2 --out /tmp/bench``
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import functools
import io
import json
import math
import os
import platform
import statistics
import sys
import time
import zlib
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

import tracer
import watermark
from watermark.decoding import encode_payload

from synthetic import (
    SCREEN_KINDS,
    SCREENSHOT_CHANNELS,
    Leak,
    contact_sheet,
    natural_images,
    phone_photo_leak,
    project_points,
    render_screen,
    screenshot_leak,
)

__all__ = ["Condition", "SWEEPS", "all_conditions", "main", "oracle_geometry"]

SEED = 20261203
"""Every key, payload, screen choice and leak below derives from this; the numbers reported depend on it."""

SCREEN_SIZES: tuple[tuple[int, int], ...] = ((1920, 1080), (1366, 768), (2560, 1440))
ANGLES_DEG: tuple[float, ...] = (0.0, 15.0, 30.0, 45.0)
COVERAGES: tuple[float, ...] = (0.35, 0.5, 0.65, 0.8)
JPEG_QUALITIES: tuple[int, ...] = (30, 50, 70, 90)
STRENGTHS: tuple[float, ...] = (0.5, 0.75, 1.0, 1.5, 2.0)
PEER_BITS = 64
DETECTION_SCORE = 6.0
"""Lowest detection threshold on the tracer's phase-peak z-score (the ``ExtractResult``
documentation: "above about 6 a mark is clearly present"). The threshold used is the
larger of this and the highest score seen in the run's false-positive pass, so that a
*detection* never happened on content without our mark in the same run."""
CONTACT_SHEET_CONDITIONS: tuple[str, ...] = (
    "jpeg50", "messenger", "crop_rescale_jpeg", "rot90", "tone",
    "phone-standard", "phone-hard", "angle45", "coverage0.35",
)
RED, RESET = "\033[31m", "\033[0m"


# --------------------------------------------------------------------------
# Conditions
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    """One leak condition.

    Attributes
    ----------
    name : str
        Unique, e.g. ``"jpeg75"``, ``"phone-hard"``, ``"angle30"``.
    family : {"screenshot", "photo"}
    channel : str
        A :data:`~synthetic.SCREENSHOT_CHANNELS` name, ``"jpeg"``
        (quality in ``jpeg_quality``) or a phone level (``"standard"``/``"hard"``).
    seed_group : str
        Conditions in one group draw the same leak seeds for the same sample,
        so a sweep changes only the swept parameter.
    overrides : tuple of (str, value)
        ``phone_photo_leak`` overrides.
    strength : float
        Our embedding strength; peers run only at strength 1 conditions.
    jpeg_quality : int or None
        For ``channel == "jpeg"``.
    """

    name: str
    family: str
    channel: str
    seed_group: str
    overrides: tuple[tuple[str, Any], ...] = ()
    strength: float = 1.0
    jpeg_quality: int | None = None


def all_conditions() -> list[Condition]:
    """Every condition, in report order: screenshots, photos, then sweep-only points.

    Returns
    -------
    list of Condition
    """
    conds = [Condition(ch, "screenshot", ch, "screenshot") for ch in SCREENSHOT_CHANNELS]
    conds += [
        Condition(f"jpeg{q}", "screenshot", "jpeg", "screenshot", jpeg_quality=q)
        for q in JPEG_QUALITIES
        if f"jpeg{q}" not in SCREENSHOT_CHANNELS
    ]
    conds += [Condition(f"phone-{lv}", "photo", lv, f"phone-{lv}") for lv in ("standard", "hard")]
    # Sweeps share the phone-standard seeds: same screens, noise, glare... only the swept value changes.
    conds += [
        Condition(f"angle{a:g}", "photo", "standard", "phone-standard", overrides=(("yaw_deg", a), ("pitch_deg", 0.0)))
        for a in ANGLES_DEG
    ]
    conds += [
        Condition(f"coverage{c:g}", "photo", "standard", "phone-standard", overrides=(("coverage", c),))
        for c in COVERAGES
    ]
    conds += [Condition(f"strength{s:g}", "photo", "standard", "phone-standard", strength=s) for s in STRENGTHS if s != 1.0]
    return conds


SWEEPS: dict[str, tuple[str, list[tuple[float, str]]]] = {
    "angle": ("off-axis yaw (degrees); phone photo, standard", [(a, f"angle{a:g}") for a in ANGLES_DEG]),
    "coverage": ("screen width / photo width; phone photo, standard", [(c, f"coverage{c:g}") for c in COVERAGES]),
    "jpeg": ("JPEG quality (4:2:0); screenshot", [(q, f"jpeg{q}") for q in JPEG_QUALITIES]),
    "strength": (
        "embedding strength; phone photo, standard",
        [(s, "phone-standard" if s == 1.0 else f"strength{s:g}") for s in STRENGTHS],
    ),
}
"""Sweep name -> (axis label, [(x, condition name)]). Strength 1 is the phone-standard condition itself."""


def select_conditions(tokens: Sequence[str] | None) -> list[Condition]:
    """Conditions named by ``tokens``: names, or groups (screenshots, photos, sweeps, a sweep name, all).

    Raises
    ------
    ValueError
        For a token that names nothing.
    """
    conds = all_conditions()
    if not tokens:
        return conds
    by_name = {c.name: c for c in conds}
    wanted: set[str] = set()
    for token in tokens:
        if token == "all":
            wanted |= set(by_name)
        elif token == "screenshots":
            wanted |= {c.name for c in conds if c.family == "screenshot"}
        elif token == "photos":
            wanted |= {c.name for c in conds if c.family == "photo"}
        elif token == "sweeps":
            wanted |= {name for _, pts in SWEEPS.values() for _, name in pts}
        elif token in SWEEPS:
            wanted |= {name for _, name in SWEEPS[token][1]}
        elif token in by_name:
            wanted.add(token)
        else:
            groups = ["all", "screenshots", "photos", "sweeps", *SWEEPS]
            raise ValueError(f"unknown condition {token!r}; expected one of {groups} or {sorted(by_name)}")
    return [c for c in conds if c.name in wanted]


# --------------------------------------------------------------------------
# Content, payloads, seeds
# --------------------------------------------------------------------------


def _crc(text: str) -> int:
    return zlib.crc32(text.encode())


def emr_content(index: int) -> str:
    """Content id of EMR screen number ``index``: kinds and the three sizes cycle."""
    kind = SCREEN_KINDS[index % len(SCREEN_KINDS)]
    w, h = SCREEN_SIZES[index % len(SCREEN_SIZES)]
    return f"emr:{kind}:{w}x{h}:{index}"


@functools.lru_cache(maxsize=1)
def _natural() -> dict[str, NDArray[np.uint8]]:
    return dict(natural_images())


def natural_names() -> list[str]:
    """Names of the natural images (scikit-image data)."""
    return list(_natural())


@functools.lru_cache(maxsize=24)
def content_image(content: str) -> NDArray[np.uint8]:
    """Render (or load) the image named by a content id; pure function of the id."""
    kind, *rest = content.split(":")
    if kind == "emr":
        name, size, seed = rest
        w, h = (int(v) for v in size.split("x"))
        return render_screen(name, size=(w, h), seed=int(seed))
    if kind == "natural":
        return _natural()[rest[0]]
    raise ValueError(f"unknown content id {content!r}")


def content_payload(content: str) -> watermark.Payload:
    """The random payload stamped on ``content`` (fixed by SEED and the id)."""
    rng = np.random.default_rng([SEED, _crc(content)])
    minutes = int(rng.integers(0, 80 * 525_600))
    return watermark.Payload(
        viewer_id=int(rng.integers(0, 2**32)),
        timestamp=datetime(2020, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=minutes),
    )


def payload_bits64(payload: watermark.Payload) -> NDArray[np.uint8]:
    """The 64 payload bits the peers carry (the payload's wire form)."""
    return np.unpackbits(np.frombuffer(payload.to_bytes(), np.uint8))


def leak_seed(seed_group: str, sample: int) -> int:
    """Leak seed for sample ``sample`` of any condition in ``seed_group``."""
    return int(np.random.SeedSequence([SEED, _crc(seed_group), sample]).generate_state(1)[0])


def make_key(tag: int = 0) -> watermark.Key:
    """The benchmark's key (tag 0) or another hospital's key (tag 1)."""
    return watermark.Key(bytes(np.random.default_rng([SEED, tag]).integers(0, 256, 32, dtype=np.uint8)))


# --------------------------------------------------------------------------
# Leaks and oracle geometry
# --------------------------------------------------------------------------


def _jpeg_leak(image: NDArray[np.uint8], quality: int) -> Leak:
    """Screenshot saved as baseline JPEG (libjpeg via OpenCV, 4:2:0), as the simulator's jpeg channels."""
    flags = [cv2.IMWRITE_JPEG_QUALITY, int(quality), cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420]
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(image[..., ::-1]), flags)
    if not ok:  # pragma: no cover - codec failure
        raise RuntimeError("JPEG encoding failed")
    out = np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])
    h, w = image.shape[:2]
    params = {"input_size": [w, h], "jpeg_quality": int(quality), "chroma_subsampling": "4:2:0", "jpeg_bytes": int(buf.size), "output_size": [w, h]}
    return Leak(image=out, homography=np.eye(3), channel=f"jpeg{quality}", params=params)


def make_leak(condition: Condition, image: NDArray[np.uint8], sample: int) -> Leak:
    """Leak ``image`` through ``condition`` with the seed of (seed group, sample)."""
    seed = leak_seed(condition.seed_group, sample)
    if condition.channel == "jpeg":
        return _jpeg_leak(image, int(condition.jpeg_quality or 0))
    if condition.family == "screenshot":
        return screenshot_leak(image, condition.channel, seed=seed)
    return phone_photo_leak(image, level=condition.channel, seed=seed, **dict(condition.overrides))


def _is_identity(leak: Leak, screen_shape: tuple[int, ...]) -> bool:
    return (
        leak.image.shape[:2] == screen_shape[:2]
        and leak.homography is not None
        and np.allclose(leak.homography, np.eye(3))
        and "camera_homography" not in leak.params
    )


def oracle_geometry(leak: Leak, screen_size: tuple[int, int],
                    project: Callable[[Leak, NDArray[np.float64]], NDArray[np.float64]] = project_points,
                    ) -> tuple[NDArray[np.uint8], tuple[int, int, int, int]]:
    """Map a leak back to original screen pixels with the simulator's true geometry.

    Parameters
    ----------
    leak : Leak
        From :mod:`synthetic`.
    screen_size : (int, int)
        ``(width, height)`` of the stamped screen.
    project : callable, optional
        The leak's exact map from screen to leak pixels: the generator's own
        (:func:`synthetic.scenes_b.project_points_b` for the second scene generator).

    Returns
    -------
    image : ndarray
        ``height x width x 3`` uint8 RGB; pixels that fall outside the leak are 0.
    box : (x0, y0, x1, y1)
        Bounding box of the screen pixels the leak covers (exclusive ends).

    Notes
    -----
    The map is :func:`synthetic.project_points` (the pinhole
    homography and, for photos, the recorded lens distortion and messenger
    resize), sampled at every screen pixel and applied with ``cv2.remap``
    (bilinear). Where the leak holds more than 1.25 of its pixels per screen
    pixel (an upscaled screenshot, a photo taken close), it is first
    area-averaged down to about one pixel per screen pixel, so the warp does
    not alias; the map is composed with that resize.
    """
    w, h = screen_size
    centre = np.array([[(w - 1) / 2, (h - 1) / 2], [(w - 1) / 2 + 1, (h - 1) / 2], [(w - 1) / 2, (h - 1) / 2 + 1]])
    c = project(leak, centre)
    (ax, ay), (bx, by) = c[1] - c[0], c[2] - c[0]
    scale = math.sqrt(abs(ax * by - ay * bx))  # leak pixels per screen pixel (linear), at the screen centre
    src = leak.image
    sx = sy = 1.0
    if scale > 1.25:
        lh, lw = src.shape[:2]
        nw, nh = max(1, round(lw / scale)), max(1, round(lh / scale))
        src = cv2.resize(src, (nw, nh), interpolation=cv2.INTER_AREA)
        sx, sy = nw / lw, nh / lh
    ys, xs = np.mgrid[0:h, 0:w]
    pts = project(leak, np.column_stack([xs.ravel(), ys.ravel()]).astype(np.float64))
    map_x = ((pts[:, 0] + 0.5) * sx - 0.5).reshape(h, w).astype(np.float32)
    map_y = ((pts[:, 1] + 0.5) * sy - 0.5).reshape(h, w).astype(np.float32)
    out = cv2.remap(src, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    sh, sw = src.shape[:2]
    valid = (map_x >= 0) & (map_x <= sw - 1) & (map_y >= 0) & (map_y <= sh - 1)
    rows, cols = np.flatnonzero(valid.any(axis=1)), np.flatnonzero(valid.any(axis=0))
    box = (0, 0, 0, 0) if rows.size == 0 else (int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)
    return out, box


# --------------------------------------------------------------------------
# Peers
# --------------------------------------------------------------------------


class Peer:
    """A peer watermarking method behind one interface (RGB uint8 in and out, 64 bits)."""

    name = "peer"

    def embed(self, image: NDArray[np.uint8], bits: NDArray[np.uint8]) -> NDArray[np.uint8]:
        """Mark ``image`` with ``bits`` (0/1, length 64)."""
        raise NotImplementedError

    def decode(self, image: NDArray[np.uint8]) -> NDArray[np.uint8] | None:
        """The 64 bits read from ``image``, or None when the method refuses the image."""
        raise NotImplementedError


class ImWatermarkPeer(Peer):
    """``invisible-watermark`` (``imwatermark``), method ``dwtDct`` or ``dwtDctSvd``, default settings."""

    def __init__(self, method: str) -> None:
        from imwatermark import WatermarkDecoder, WatermarkEncoder

        self.method = method
        self.name = method
        self._encoder, self._decoder = WatermarkEncoder, WatermarkDecoder

    def embed(self, image: NDArray[np.uint8], bits: NDArray[np.uint8]) -> NDArray[np.uint8]:
        encoder = self._encoder()
        encoder.set_watermark("bits", [int(b) for b in bits])
        out = encoder.encode(np.ascontiguousarray(image[..., ::-1]), self.method)
        return np.ascontiguousarray(np.clip(np.rint(out), 0, 255).astype(np.uint8)[..., ::-1])

    def decode(self, image: NDArray[np.uint8]) -> NDArray[np.uint8] | None:
        if image.shape[0] * image.shape[1] < 256 * 256:
            return None  # the library refuses images under 256x256 pixels
        bits = self._decoder("bits", PEER_BITS).decode(np.ascontiguousarray(image[..., ::-1]), self.method)
        return np.asarray(bits, dtype=np.uint8)


class BlindWatermarkPeer(Peer):
    """``blind-watermark`` ``WaterMark(password_img=1, password_wm=1)``, bit mode, default settings."""

    name = "blind"

    def __init__(self) -> None:
        with contextlib.redirect_stdout(io.StringIO()):  # it prints a banner from library code
            import blind_watermark

            blind_watermark.bw_notes.close()
        self._cls = blind_watermark.WaterMark

    def _new(self) -> Any:
        with contextlib.redirect_stdout(io.StringIO()):
            return self._cls(password_img=1, password_wm=1)

    def embed(self, image: NDArray[np.uint8], bits: NDArray[np.uint8]) -> NDArray[np.uint8]:
        bwm = self._new()
        with contextlib.redirect_stdout(io.StringIO()):
            bwm.read_img(img=np.ascontiguousarray(image[..., ::-1]))
            bwm.read_wm(np.asarray(bits, dtype=bool).copy(), mode="bit")
            out = bwm.embed()
        return np.ascontiguousarray(np.clip(np.rint(out), 0, 255).astype(np.uint8)[..., ::-1])

    def decode(self, image: NDArray[np.uint8]) -> NDArray[np.uint8] | None:
        if min(image.shape[:2]) < 16:
            return None
        bwm = self._new()
        with contextlib.redirect_stdout(io.StringIO()):
            bits = bwm.extract(embed_img=np.ascontiguousarray(image[..., ::-1]), wm_shape=PEER_BITS, mode="bit")
        return np.asarray(bits, dtype=np.uint8)


PEER_NAMES: tuple[str, ...] = ("dwtDct", "dwtDctSvd", "blind")


def load_peers() -> tuple[list[Peer], list[str]]:
    """Peers that are installed, and a note for each that is not."""
    peers: list[Peer] = []
    notes: list[str] = []
    try:
        peers += [ImWatermarkPeer("dwtDct"), ImWatermarkPeer("dwtDctSvd")]
    except ImportError as exc:
        notes.append(f"invisible-watermark not installed ({exc}); pip install -e .[peers]")
    try:
        peers.append(BlindWatermarkPeer())
    except (ImportError, RuntimeError) as exc:
        notes.append(f"blind-watermark unavailable ({type(exc).__name__}: {exc}); pip install -e .[peers]")
    return peers, notes


# --------------------------------------------------------------------------
# One sample
# --------------------------------------------------------------------------

_STATE: dict[str, Any] = {}


def _init_state(peer_names: Sequence[str], threads: int | None) -> None:
    """Per-process state: keys and peers (called in each worker, or once when serial)."""
    if threads:
        cv2.setNumThreads(threads)
    _STATE["key"] = make_key(0)
    _STATE["other_key"] = make_key(1)
    peers, _ = load_peers()
    _STATE["peers"] = [p for p in peers if p.name in peer_names]


@functools.lru_cache(maxsize=16)
def _ours_marked(content: str, strength: float) -> tuple[NDArray[np.uint8], float]:
    image = content_image(content)
    t = time.perf_counter()
    marked = watermark.embed(image, content_payload(content), _STATE["key"], strength=strength)
    return marked, time.perf_counter() - t


@functools.lru_cache(maxsize=32)  # blind-watermark takes seconds per embed: keep every peer's marked screens
def _peer_marked(peer_name: str, content: str) -> tuple[NDArray[np.uint8], float]:
    peer = next(p for p in _STATE["peers"] if p.name == peer_name)
    t = time.perf_counter()
    marked = peer.embed(content_image(content), payload_bits64(content_payload(content)))
    return marked, time.perf_counter() - t


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


@dataclass(frozen=True)
class Task:
    """One (condition, sample) to run."""

    condition: Condition
    sample: int
    content: str
    peers: bool
    keep_leak: bool = False


def _ours(leak: Leak, screen: NDArray[np.uint8], payload: watermark.Payload, key: watermark.Key) -> dict[str, Any]:
    """Trace the leak, and extract at oracle geometry; the record's 'ours' and 'oracle' parts."""
    rec: dict[str, Any] = {}
    t = time.perf_counter()
    try:
        res = tracer.trace(leak.image, key)
        rec["trace"] = {
            "found": bool(res.found),
            "exact": bool(res.found and res.payload == payload),
            "false_attribution": bool(res.found and res.payload != payload),
            "payload": None if res.payload is None else res.payload.to_dict(),
            "detection_score": float(res.detection_score),
            "hypotheses": len(res.hypotheses),
            "false_attribution_bound": float(res.false_attribution_probability),
            "bit_error_rate": res.bit_error_rate,
            "seconds": time.perf_counter() - t,
        }
    except Exception as exc:  # recorded and counted, never hidden
        rec["trace"] = {"error": _error(exc), "found": False, "exact": False, "false_attribution": False,
                        "seconds": time.perf_counter() - t}
    t = time.perf_counter()
    try:
        if _is_identity(leak, screen.shape):
            aligned = leak.image
        else:
            warped, (x0, y0, x1, y1) = oracle_geometry(leak, (screen.shape[1], screen.shape[0]))
            aligned = warped[y0:y1, x0:x1]
        warp_s = time.perf_counter() - t
        t = time.perf_counter()
        ext = watermark.extract(aligned, key)
        bits = encode_payload(payload, key)
        rec["oracle"] = {
            "found": bool(ext.found),
            "exact": bool(ext.found and ext.payload == payload),
            "false_attribution": bool(ext.found and ext.payload != payload),
            "ber": float(np.mean((ext.bit_snr < 0) != (bits == 1))),
            "detection_score": float(ext.detection_score),
            "warp_seconds": warp_s,
            "seconds": time.perf_counter() - t,
        }
    except watermark.ImageError as exc:  # e.g. a crop smaller than one tile: a failure, not a fault
        rec["oracle"] = {"refused": _error(exc), "found": False, "exact": False, "false_attribution": False, "ber": None}
    except Exception as exc:
        rec["oracle"] = {"error": _error(exc), "found": False, "exact": False, "false_attribution": False, "ber": None}
    return rec


def _peer_record(peer: Peer, condition: Condition, sample: int, content: str) -> dict[str, Any]:
    """Embed (cached), leak with the same seed, decode raw and at oracle geometry."""
    screen = content_image(content)
    truth = payload_bits64(content_payload(content))
    rec: dict[str, Any] = {}
    try:
        marked, embed_s = _peer_marked(peer.name, content)
        leak = make_leak(condition, marked, sample)
    except Exception as exc:
        return {"error": _error(exc), "raw_exact": False, "oracle_exact": False}
    rec["embed_seconds"] = embed_s
    identity = _is_identity(leak, screen.shape)
    images = {"raw": leak.image}
    if not identity:
        images["oracle"] = oracle_geometry(leak, (screen.shape[1], screen.shape[0]))[0]
    for name, img in images.items():
        t = time.perf_counter()
        try:
            bits = peer.decode(img)
        except Exception as exc:
            rec[f"{name}_error"] = _error(exc)
            bits = None
        rec[f"{name}_seconds"] = time.perf_counter() - t
        rec[f"{name}_exact"] = bool(bits is not None and np.array_equal(bits, truth))
        rec[f"{name}_ber"] = None if bits is None else float(np.mean(bits != truth))
    if identity:  # the leak is already at the original geometry: oracle == raw
        rec.update(oracle_exact=rec["raw_exact"], oracle_ber=rec["raw_ber"], oracle_seconds=0.0)
    return rec


def run_task(task: Task) -> dict[str, Any]:
    """Run one (condition, sample): our trace and oracle extract, and the peers.

    Returns
    -------
    dict
        The record (JSON-friendly), with a ``"_leak"`` entry holding the
        :class:`Leak` when ``task.keep_leak`` (removed before saving).
    """
    cond = task.condition
    key = _STATE["key"]
    screen = content_image(task.content)
    payload = content_payload(task.content)
    marked, embed_s = _ours_marked(task.content, cond.strength)
    t = time.perf_counter()
    leak = make_leak(cond, marked, task.sample)
    leak_s = time.perf_counter() - t
    rec: dict[str, Any] = {
        "condition": cond.name,
        "sample": task.sample,
        "content": task.content,
        "screen_size": [screen.shape[1], screen.shape[0]],
        "payload": payload.to_dict(),
        "leak_seed": leak_seed(cond.seed_group, task.sample),
        "leak_size": [leak.image.shape[1], leak.image.shape[0]],
        "leak_seconds": leak_s,
        "embed_seconds": embed_s,
    }
    if "screen_px_per_photo_px" in leak.params:
        rec["screen_px_per_photo_px"] = leak.params["screen_px_per_photo_px"]
        rec["photo_params"] = {k: leak.params.get(k) for k in ("yaw_deg", "pitch_deg", "roll_deg", "coverage", "orientation", "jpeg_quality", "messenger")}
    rec.update(_ours(leak, screen, payload, key))
    if task.peers:
        rec["peers"] = {p.name: _peer_record(p, cond, task.sample, task.content) for p in _STATE["peers"]}
    if task.keep_leak:
        rec["_leak"] = dataclasses.replace(leak, channel=f"{cond.name} #{task.sample} {task.content.split(':')[1]}")
    return rec


@dataclass(frozen=True)
class FalsePositiveTask:
    """One false-positive trace: unmarked content, or content marked with another key."""

    condition: Condition
    sample: int
    content: str
    kind: str  # "unmarked" | "other_key"


def run_false_positive(task: FalsePositiveTask) -> dict[str, Any]:
    """Trace an unmarked or other-key leak with our key; any payload is a false attribution."""
    image = content_image(task.content)
    if task.kind == "other_key":
        image = watermark.embed(image, content_payload("other:" + task.content), _STATE["other_key"])
    leak = make_leak(task.condition, image, task.sample)
    rec: dict[str, Any] = {"condition": task.condition.name, "sample": task.sample, "content": task.content, "kind": task.kind}
    t = time.perf_counter()
    try:
        res = tracer.trace(leak.image, _STATE["key"])
        rec.update(
            found=bool(res.found),
            payload=None if res.payload is None else res.payload.to_dict(),
            detection_score=float(res.detection_score),
            hypotheses=len(res.hypotheses),
            mac_checks=int(sum(h.mac_checks for h in res.hypotheses)),
            false_attribution_bound=float(res.false_attribution_probability),
        )
    except Exception as exc:
        rec.update(found=False, error=_error(exc))
    rec["seconds"] = time.perf_counter() - t
    return rec


# --------------------------------------------------------------------------
# Running
# --------------------------------------------------------------------------


@dataclass
class Plan:
    """How many samples of what."""

    screenshot_samples: int
    natural_samples: int
    photo_samples: int
    sweep_samples: int
    peer_samples: int
    fp_samples: int
    peers: bool
    workers: int
    peers_on_sweeps: bool = True
    mode: str = "full"
    imperceptibility_screens: int = 9
    imperceptibility_natural: int = 4
    conditions: list[Condition] = field(default_factory=list)


def _samples_for(cond: Condition, plan: Plan) -> list[str]:
    """Content ids for a condition: EMR screens, then natural images on screenshot channels."""
    if cond.family == "screenshot":
        names = natural_names()
        return [emr_content(i) for i in range(plan.screenshot_samples)] + [
            f"natural:{names[i % len(names)]}" for i in range(plan.natural_samples)
        ]
    n = plan.photo_samples if cond.name in ("phone-standard", "phone-hard") else plan.sweep_samples
    return [emr_content(i) for i in range(n)]


def build_tasks(plan: Plan) -> list[Task]:
    """Every (condition, sample) task of the plan, in report order."""
    tasks = []
    for cond in plan.conditions:
        for i, content in enumerate(_samples_for(cond, plan)):
            tasks.append(Task(
                condition=cond, sample=i, content=content,
                # Peers on the first samples, and on every natural image (small, cheap, their home ground).
                peers=(plan.peers and cond.strength == 1.0
                       and (i < plan.peer_samples or content.startswith("natural:"))
                       and (plan.peers_on_sweeps or not cond.overrides)),
                keep_leak=(cond.name in CONTACT_SHEET_CONDITIONS and i == 0)
                or (cond.name in ("phone-standard", "phone-hard") and i == 1),
            ))
    return tasks


def build_false_positive_tasks(plan: Plan) -> list[FalsePositiveTask]:
    """Unmarked and other-key content through every selected base channel (not the sweep-only points)."""
    base = [c for c in plan.conditions if c.strength == 1.0 and not c.overrides and c.channel != "jpeg"]
    names = natural_names()
    tasks = []
    for ci, cond in enumerate(base):
        for j in range(plan.fp_samples):
            index = 1000 + ci * plan.fp_samples + j  # screens not used in the main pass
            tasks.append(FalsePositiveTask(cond, j, emr_content(index), "unmarked"))
            tasks.append(FalsePositiveTask(cond, j, emr_content(index + 500), "other_key"))
        if cond.family == "screenshot":
            tasks.append(FalsePositiveTask(cond, plan.fp_samples, f"natural:{names[ci % len(names)]}", "unmarked"))
    return tasks


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _describe(rec: dict[str, Any]) -> str:
    tr, orc = rec["trace"], rec["oracle"]
    if tr.get("false_attribution"):
        ours = f"{RED}FALSE ATTRIBUTION{RESET}"
    else:
        ours = "exact" if tr["exact"] else ("error" if "error" in tr else "not found")
    ber = "-" if orc.get("ber") is None else f"{orc['ber']:.3f}"
    peer = ""
    if "peers" in rec:
        peer = " | " + " ".join(
            f"{n}:{'R' if p.get('raw_exact') else '-'}{'O' if p.get('oracle_exact') else '-'}" for n, p in rec["peers"].items()
        )
    return f"trace {ours} ({tr['seconds']:.1f} s), oracle {'exact' if orc['exact'] else 'fail'} BER {ber}{peer}"


def run_all(items: Sequence[Any], fn: Callable[[Any], dict[str, Any]], plan: Plan, label: str,
            describe: Callable[[dict[str, Any]], str]) -> list[dict[str, Any]]:
    """Run ``fn`` over ``items`` (serially or in ``plan.workers`` processes), logging progress."""
    results: list[dict[str, Any]] = [{}] * len(items)
    t0 = time.perf_counter()

    def report(done: int, i: int, rec: dict[str, Any]) -> None:
        elapsed = time.perf_counter() - t0
        eta = elapsed / done * (len(items) - done)
        item = items[i]
        _log(f"[{label} {done}/{len(items)} {elapsed:5.0f}s eta {eta:4.0f}s] {item.condition.name} #{item.sample} "
             f"{item.content}: {describe(rec)}")

    if plan.workers <= 1:
        for i, item in enumerate(items):
            results[i] = fn(item)
            report(i + 1, i, results[i])
        return results
    import multiprocessing

    threads = max(1, (os.cpu_count() or 1) // plan.workers)
    # fork: blind_watermark fixes the start method to fork at import, and the workers inherit the imports.
    with ProcessPoolExecutor(plan.workers, mp_context=multiprocessing.get_context("fork"), initializer=_init_state,
                             initargs=([p.name for p in _STATE["peers"]], threads)) as pool:
        # Photos first: they are the slowest tasks, so the workers finish together.
        order = sorted(range(len(items)), key=lambda i: items[i].condition.family != "photo")
        futures = {pool.submit(fn, items[i]): i for i in order}
        for done, fut in enumerate(as_completed(futures), 1):
            i = futures[fut]
            results[i] = fut.result()
            report(done, i, results[i])
    return results


# --------------------------------------------------------------------------
# Summaries
# --------------------------------------------------------------------------


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (95% by default)."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    d = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / d
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    # The interval contains p; clamp so float rounding at p = 0 or 1 cannot put it outside.
    return (min(p, max(0.0, centre - half)), max(p, min(1.0, centre + half)))


def _median(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def _mean(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.fmean(vals) if vals else None


def detection_threshold(fp: Sequence[dict[str, Any]]) -> float:
    """The z-score threshold for *detected*: DETECTION_SCORE or the highest false-positive-pass score."""
    return max([DETECTION_SCORE] + [r["detection_score"] for r in fp if "detection_score" in r])


def summarize(records: Sequence[dict[str, Any]], conditions: Sequence[Condition], peer_names: Sequence[str],
              threshold: float) -> dict[str, Any]:
    """Per-condition counts and rates: ours traced / oracle, BER, detection, false attributions, peers.

    A sample is *detected* when the tracer found a payload or its detection score exceeds ``threshold``.
    """
    out: dict[str, Any] = {}
    for cond in conditions:
        recs = [r for r in records if r["condition"] == cond.name]
        if not recs:
            continue
        n = len(recs)
        exact = sum(r["trace"]["exact"] for r in recs)
        s: dict[str, Any] = {
            "family": cond.family,
            "n": n,
            "trace_exact": exact,
            "trace_exact_rate": exact / n,
            "trace_exact_ci95": wilson(exact, n),
            "oracle_exact": sum(r["oracle"]["exact"] for r in recs),
            "oracle_ber_mean": _mean(r["oracle"].get("ber") for r in recs),
            "detected": sum(r["trace"]["found"] or r["trace"].get("detection_score", -math.inf) > threshold for r in recs),
            "false_attributions": sum(r["trace"]["false_attribution"] for r in recs)
            + sum(r["oracle"]["false_attribution"] for r in recs),
            "errors": sum(("error" in r["trace"]) + ("error" in r["oracle"]) for r in recs),
            "oracle_refused": sum("refused" in r["oracle"] for r in recs),
            "trace_seconds_median": _median(r["trace"]["seconds"] for r in recs),
            "peers": {},
        }
        s["oracle_exact_rate"] = s["oracle_exact"] / n
        for name in peer_names:
            prs = [r["peers"][name] for r in recs if name in r.get("peers", {})]
            if prs:
                s["peers"][name] = {
                    "n": len(prs),
                    "raw_exact": sum(p.get("raw_exact", False) for p in prs),
                    "oracle_exact": sum(p.get("oracle_exact", False) for p in prs),
                    "raw_ber_mean": _mean(p.get("raw_ber") for p in prs),
                    "oracle_ber_mean": _mean(p.get("oracle_ber") for p in prs),
                    "errors": sum(any(k.endswith("error") for k in p) for p in prs),
                }
        out[cond.name] = s
    return out


def _clear_pattern_caches() -> None:
    """Forget cached patterns, so the next embed pays for a new payload (as benchmarks.core does)."""
    watermark.clear_caches(key_layouts=False)


def imperceptibility(contents: Sequence[str], strengths: Sequence[float], peers: Sequence[Peer]) -> dict[str, Any]:
    """Luma PSNR / SSIM (BT.601, scikit-image) and embed times, ours at each strength and the peers."""
    from skimage.metrics import structural_similarity

    key = _STATE["key"]
    rows: dict[str, Any] = {}

    def luma(image: NDArray[np.uint8]) -> NDArray[np.float64]:
        return image.astype(np.float64) @ np.array([0.299, 0.587, 0.114])

    def measure(name: str, content: str, marked: NDArray[np.uint8], embed_s: float) -> None:
        a, b = luma(content_image(content)), luma(marked)
        mse = float(np.mean((a - b) ** 2))
        rows.setdefault(name, []).append({
            "content": content,
            "psnr_db": float("inf") if mse == 0 else 10 * math.log10(255.0**2 / mse),
            "ssim": float(structural_similarity(a, b, data_range=255.0)),
            "embed_seconds": embed_s,
        })

    for content in contents:
        image, payload = content_image(content), content_payload(content)
        for s in strengths:
            _clear_pattern_caches()
            t = time.perf_counter()
            marked = watermark.embed(image, payload, key, strength=s)
            new_s = time.perf_counter() - t
            t = time.perf_counter()
            watermark.embed(image, payload, key, strength=s)
            measure(f"leaktrace s={s:g}", content, marked, time.perf_counter() - t)
            rows[f"leaktrace s={s:g}"][-1]["embed_new_payload_seconds"] = new_s
        for peer in peers:
            _log(f"[imperceptibility] {peer.name} {content}")
            marked, embed_s = _peer_marked(peer.name, content)
            measure(peer.name, content, marked, embed_s)
    return rows


# --------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------


def _frac(k: int, n: int) -> str:
    return f"{k}/{n}" if n < 20 else f"{k}/{n} ({k / n:.0%})"


def _num(v: float | None, fmt: str = ".3f") -> str:
    return "-" if v is None else format(v, fmt)


def _red(text: str, color: bool) -> str:
    return f"{RED}{text}{RESET}" if color else text


def condition_table(summary: dict[str, Any], names: Sequence[str], peer_names: Sequence[str], color: bool) -> list[str]:
    """Markdown rows for the conditions in ``names`` (those present)."""
    head = "| condition | n | traced exact | oracle exact | channel BER (oracle) | detected | false attrib. | trace s (median) |"
    sep = "|---|---:|---:|---:|---:|---:|---:|---:|"
    for name in peer_names:
        head += f" {name} raw / oracle |"
        sep += "---:|"
    rows = [head, sep]
    for name in names:
        if name not in summary:
            continue
        s = summary[name]
        fa = str(s["false_attributions"])
        if s["false_attributions"]:
            fa = _red(f"**{fa}**", color)
        err = f" ({s['errors']} errors)" if s["errors"] else ""
        if s["oracle_refused"]:
            err += f" ({s['oracle_refused']} refused)"
        row = (f"| {name}{err} | {s['n']} | {_frac(s['trace_exact'], s['n'])} | {_frac(s['oracle_exact'], s['n'])} | "
               f"{_num(s['oracle_ber_mean'])} | {_frac(s['detected'], s['n'])} | {fa} | {_num(s['trace_seconds_median'], '.1f')} |")
        for peer in peer_names:
            p = s["peers"].get(peer)
            row += " - |" if p is None else f" {p['raw_exact']} / {p['oracle_exact']} of {p['n']} |"
        rows.append(row)
    return rows


def false_positive_table(fp: Sequence[dict[str, Any]], color: bool) -> list[str]:
    """Markdown rows: traces, payloads reported (false attributions), scores, hypotheses, bound."""
    rows = ["| content traced with our key | channels | traces | payloads reported (false attributions) | max detection score | median hypotheses | sum of bounds |",
            "|---|---|---:|---:|---:|---:|---:|"]
    for kind, label in (("unmarked", "unmarked (EMR screens + natural images)"), ("other_key", "marked with another key")):
        for family in ("screenshot", "photo"):
            recs = [r for r in fp if r["kind"] == kind and (r["condition"].startswith("phone") == (family == "photo"))]
            if not recs:
                continue
            found = sum(r["found"] for r in recs)
            cell = _red(f"**{found}**", color) if found else "0"
            scores = [r["detection_score"] for r in recs if "detection_score" in r]
            errors = sum("error" in r for r in recs)
            rows.append(
                f"| {label}{f' ({errors} errors)' if errors else ''} | {family}s | {len(recs)} | {cell} | "
                f"{_num(max(scores) if scores else None, '.1f')} | {_num(_median(r.get('hypotheses') for r in recs), '.0f')} | "
                f"{sum(r.get('false_attribution_bound', 0.0) for r in recs):.1e} |"
            )
    return rows


def imperceptibility_table(imp: dict[str, Any]) -> list[str]:
    """Markdown rows: PSNR / SSIM (luma) and embed time per method."""
    rows = ["| method | images | luma PSNR dB (median, min) | SSIM luma (median, min) | embed (median) |",
            "|---|---:|---:|---:|---:|"]
    for name, vals in imp.items():
        psnr = [v["psnr_db"] for v in vals]
        ssim = [v["ssim"] for v in vals]
        t = statistics.median(v["embed_seconds"] for v in vals)
        new = _median(v.get("embed_new_payload_seconds") for v in vals)
        when = f"{t * 1e3:.0f} ms" + ("" if new is None else f" cached pattern, {new * 1e3:.0f} ms new payload")
        rows.append(f"| {name} | {len(vals)} | {statistics.median(psnr):.1f}, {min(psnr):.1f} | "
                    f"{statistics.median(ssim):.4f}, {min(ssim):.4f} | {when} |")
    return rows


def timing_table(records: Sequence[dict[str, Any]], peer_names: Sequence[str]) -> list[str]:
    """Markdown rows: median decode times, screenshots and photos, ours and peers."""
    rows = ["| decoder | screenshots (median) | phone photos (median) |", "|---|---:|---:|"]

    def med(fam: str, get: Callable[[dict[str, Any]], float | None]) -> str:
        vals = [get(r) for r in records if r["condition"].startswith("phone") == (fam == "photo")]
        m = _median(vals)
        return "-" if m is None else f"{m * 1e3:.0f} ms" if m < 1 else f"{m:.2f} s"

    rows.append(f"| leaktrace trace (any geometry) | {med('screenshot', lambda r: r['trace'].get('seconds'))} | "
                f"{med('photo', lambda r: r['trace'].get('seconds'))} |")
    rows.append(f"| leaktrace extract (oracle geometry given) | {med('screenshot', lambda r: r['oracle'].get('seconds'))} | "
                f"{med('photo', lambda r: r['oracle'].get('seconds'))} |")
    for name in peer_names:
        for part in ("raw", "oracle"):
            def get(r: dict[str, Any], name: str = name, part: str = part) -> float | None:
                p = r.get("peers", {}).get(name, {})
                return p.get(f"{part}_seconds") or None
            rows.append(f"| {name} decode ({part}) | {med('screenshot', get)} | {med('photo', get)} |")
    return rows


# --------------------------------------------------------------------------
# Plots
# --------------------------------------------------------------------------

_PEER_COLORS = {"dwtDct": "tab:orange", "dwtDctSvd": "tab:green", "blind": "tab:red"}


def sweep_summaries(records: Sequence[dict[str, Any]], sweep: str, peer_names: Sequence[str],
                    threshold: float) -> list[tuple[float, dict[str, Any]]]:
    """Per point of a sweep, a summary over the EMR samples that every point has.

    Sweep points share leak seeds sample by sample, so restricting all points
    to the same sample indices compares like with like (the strength-1 point
    is the phone-standard condition, which may have more samples).

    Returns
    -------
    list of (x, summary)
        Empty when fewer than two points were run.
    """
    _, points = SWEEPS[sweep]
    emr = [r for r in records if r["content"].startswith("emr:")]
    counts = {name: len({r["sample"] for r in emr if r["condition"] == name}) for _, name in points}
    present = [(x, name) for x, name in points if counts[name]]
    if len(present) < 2:
        return []
    n = min(counts[name] for _, name in present)
    conds = {c.name: c for c in all_conditions()}
    summary = summarize([r for r in emr if r["sample"] < n], [conds[name] for _, name in present], peer_names, threshold)
    return [(x, summary[name]) for x, name in present]


def _legend(ax: Any) -> None:
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)


def plot_sweep(sweep: str, pts: Sequence[tuple[float, dict[str, Any]]], imp: dict[str, Any],
               peer_names: Sequence[str], path: Path) -> None:
    """Recovery and bit error rate against the swept value, ours against the peers (matplotlib, Agg).

    Parameters
    ----------
    sweep : str
        A key of :data:`SWEEPS`.
    pts : sequence of (x, summary)
        From :func:`sweep_summaries`.
    imp : dict
        From :func:`imperceptibility`; gives the PSNR axis of the strength plot.
    peer_names : sequence of str
    path : Path
        PNG written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    label = SWEEPS[sweep][0]
    xs = np.array([x for x, _ in pts], dtype=float)
    n = min(s["n"] for _, s in pts)
    ncols = 3 if sweep == "strength" else 2
    fig, axes = plt.subplots(1, ncols, figsize=(5.2 * ncols, 5.4))
    ax, ax_ber = axes[0], axes[1]
    rate = np.array([s["trace_exact_rate"] for _, s in pts])
    ci = np.array([s["trace_exact_ci95"] for _, s in pts])
    oracle = [s["oracle_exact_rate"] for _, s in pts]
    ax.errorbar(xs, rate, yerr=np.clip([rate - ci[:, 0], ci[:, 1] - rate], 0.0, None), fmt="o-", color="tab:blue", capsize=3,
                label=f"leaktrace, traced (n={n}, 95% CI)")
    ax.plot(xs, oracle, "s--", color="tab:blue", alpha=0.6, label=f"leaktrace, oracle geometry (n={n})")
    ax_ber.plot(xs, [np.nan if s["oracle_ber_mean"] is None else s["oracle_ber_mean"] for _, s in pts], "o-",
                color="tab:blue", label="leaktrace, 284 channel bits (oracle)")
    for name in peer_names:
        c = _PEER_COLORS.get(name, "gray")
        have = [(x, s["peers"][name]) for x, s in pts if name in s["peers"]]
        if not have:
            continue
        m = min(p["n"] for _, p in have)
        if sweep == "strength":  # one strength of their own: their strength-1 (phone-standard) result as a level
            ref = next(p for x, p in have if x == 1.0) if any(x == 1.0 for x, _ in have) else None
            if ref:
                ax.axhline(ref["oracle_exact"] / ref["n"], color=c, ls=":", label=f"{name}, oracle, own strength (n={ref['n']})")
                ax.axhline(ref["raw_exact"] / ref["n"], color=c, ls="-", alpha=0.3, label=f"{name}, raw (n={ref['n']})")
                if ref["oracle_ber_mean"] is not None:
                    ax_ber.axhline(ref["oracle_ber_mean"], color=c, ls=":", label=f"{name}, 64 payload bits (oracle)")
            continue
        px = [x for x, _ in have]
        ax.plot(px, [p["oracle_exact"] / p["n"] for _, p in have], "^:", color=c, label=f"{name}, oracle geometry (n={m})")
        ax.plot(px, [p["raw_exact"] / p["n"] for _, p in have], "v-", color=c, alpha=0.35, label=f"{name}, raw (n={m})")
        ax_ber.plot(px, [np.nan if p["oracle_ber_mean"] is None else p["oracle_ber_mean"] for _, p in have], "^:",
                    color=c, label=f"{name}, 64 payload bits (oracle)")
    ax.set_xlabel(label)
    ax.set_ylabel("exact payload recovery rate")
    ax.set_ylim(-0.05, 1.05)
    ax.grid(alpha=0.3)
    _legend(ax)
    ax_ber.set_xlabel(label)
    ax_ber.set_ylabel("mean bit error rate")
    ax_ber.set_ylim(-0.02, 0.6)
    ax_ber.axhline(0.5, color="gray", lw=0.8, ls="--")
    ax_ber.grid(alpha=0.3)
    _legend(ax_ber)
    if sweep == "strength":
        ax_tr = axes[2]
        psnr = [statistics.median(v["psnr_db"] for v in imp[f"leaktrace s={x:g}"]) if f"leaktrace s={x:g}" in imp
                else np.nan for x in xs]
        ax_tr.plot(psnr, rate, "o-", color="tab:blue", label="leaktrace, traced")
        ax_tr.plot(psnr, oracle, "s--", color="tab:blue", alpha=0.6, label="leaktrace, oracle geometry")
        for x, p_db, r in zip(xs, psnr, rate):
            ax_tr.annotate(f"s={x:g}", (p_db, r), textcoords="offset points", xytext=(4, 4), fontsize=7)
        ref_pts = dict(pts).get(1.0, {}).get("peers", {})
        for name in peer_names:
            if name in ref_pts and name in imp:
                p_db = statistics.median(v["psnr_db"] for v in imp[name])
                ref = ref_pts[name]
                ax_tr.plot([p_db], [ref["oracle_exact"] / ref["n"]], "^", color=_PEER_COLORS.get(name, "gray"),
                           label=f"{name}, oracle geometry (n={ref['n']})")
        ax_tr.set_xlabel("luma PSNR of the marked images (dB, median)")
        ax_tr.set_ylabel("exact payload recovery rate")
        ax_tr.set_ylim(-0.05, 1.05)
        ax_tr.grid(alpha=0.3)
        _legend(ax_tr)
        ax_tr.set_title("robustness vs imperceptibility", fontsize=9)
    fig.suptitle(f"Recovery vs {sweep}: same EMR screens and leak seeds at every point (n={n} per point)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (datetime,)):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _versions() -> dict[str, str]:
    from importlib import metadata

    out = {"python": platform.python_version(), "numpy": np.__version__, "opencv": cv2.__version__, "leaktrace": watermark.__version__}
    for dist in ("invisible-watermark", "blind-watermark", "scikit-image", "matplotlib"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def make_plan(args: argparse.Namespace) -> Plan:
    """Sample counts for --quick / full, with --samples / --peer-samples overrides."""
    if args.quick:
        plan = Plan(screenshot_samples=3, natural_samples=1, photo_samples=2, sweep_samples=1, peer_samples=1,
                    fp_samples=1, peers=args.peers, workers=args.workers, mode="quick", peers_on_sweeps=False,
                    imperceptibility_screens=3, imperceptibility_natural=1)
    else:
        plan = Plan(screenshot_samples=9, natural_samples=4, photo_samples=12, sweep_samples=6, peer_samples=4,
                    fp_samples=3, peers=args.peers, workers=args.workers)
    if args.samples is not None:
        plan.screenshot_samples = plan.photo_samples = plan.sweep_samples = args.samples
    if args.photo_samples is not None:
        plan.photo_samples = args.photo_samples
    if args.peer_samples is not None:
        plan.peer_samples = args.peer_samples
    plan.conditions = select_conditions(args.conditions)
    return plan


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns 0 (1 when any false attribution was seen)."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.robustness",
        description="Robustness of leaktrace through simulated screenshot and phone-photo leaks, against peers.",
        epilog="examples:\n  python -m benchmarks.robustness --quick\n"
               "  python -m benchmarks.robustness --conditions screenshots phone-standard --no-peers\n"
               "  python -m benchmarks.robustness --workers 2 --out /tmp/bench\n"
               "condition groups: all, screenshots, photos, sweeps, angle, coverage, jpeg, strength; or names "
               "(png, jpeg75, ..., phone-standard, phone-hard, angle30, coverage0.5, strength1.5).\n"
               "exit status: 0 done, 1 done but a false attribution was seen, 2 bad arguments.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="few samples per condition (a few minutes)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out"), help="output folder (default benchmarks/out)")
    parser.add_argument("--conditions", nargs="+", metavar="NAME", help="conditions or groups to run (default all)")
    parser.add_argument("--peers", action=argparse.BooleanOptionalAction, default=True, help="measure peers (default on when installed)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--samples", type=int, help="samples per condition (EMR screens), overriding the mode")
    parser.add_argument("--photo-samples", type=int, help="samples per photo level (phone-standard, phone-hard), overriding the mode and --samples")
    parser.add_argument("--peer-samples", type=int, help="peers run on the first N EMR samples of each condition (and every natural image)")
    parser.add_argument("--no-color", action="store_true", help="no ANSI red for false attributions")
    args = parser.parse_args(argv)
    try:
        plan = make_plan(args)
    except ValueError as exc:
        parser.error(str(exc))
    if args.workers < 1:
        parser.error(f"--workers must be >= 1, got {args.workers}")
    color = not args.no_color and "NO_COLOR" not in os.environ
    t_start = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)

    peer_notes: list[str] = []
    peer_names: list[str] = []
    if plan.peers:
        peers, peer_notes = load_peers()
        peer_names = [p.name for p in peers]
        for note in peer_notes:
            _log(f"note: {note}")
    _init_state(peer_names, None)

    tasks = build_tasks(plan)
    _log(f"{len(tasks)} samples over {len(plan.conditions)} conditions; peers: {peer_names or 'none'}; workers: {plan.workers}")
    records = run_all(tasks, run_task, plan, "main", _describe)
    leaks = [r.pop("_leak") for r in records if "_leak" in r]
    for r in records:
        if r["trace"].get("false_attribution") or r["oracle"].get("false_attribution"):
            _log(_red(f"FALSE ATTRIBUTION: {r['condition']} #{r['sample']} {r['content']}: "
                      f"traced {r['trace'].get('payload')}, true {r['payload']}", color))

    fp_tasks = build_false_positive_tasks(plan)
    _log(f"false-positive pass: {len(fp_tasks)} traces")

    def describe_fp(rec: dict[str, Any]) -> str:
        if rec["found"]:
            return _red(f"FALSE ATTRIBUTION ({rec['kind']}): {rec['payload']}", color)
        return f"{rec['kind']}: none (score {rec.get('detection_score', float('nan')):.1f}, {rec['seconds']:.1f} s)"

    fp = run_all(fp_tasks, run_false_positive, plan, "fp", describe_fp)

    contents = [emr_content(i) for i in range(plan.imperceptibility_screens)]
    contents += [f"natural:{n}" for n in natural_names()[: plan.imperceptibility_natural]]
    strengths = sorted({c.strength for c in plan.conditions} | {1.0})
    _log(f"imperceptibility: {len(contents)} images x {len(strengths)} strengths")
    imp = imperceptibility(contents, strengths, _STATE["peers"])

    threshold = detection_threshold(fp)
    summary = summarize([r for r in records if r["content"].startswith("emr:")], plan.conditions, peer_names, threshold)
    summary_natural = summarize([r for r in records if r["content"].startswith("natural:")], plan.conditions,
                                peer_names, threshold)
    wall = time.perf_counter() - t_start
    false_attr = (sum(s["false_attributions"] for s in [*summary.values(), *summary_natural.values()])
                  + sum(r["found"] for r in fp))

    # ---- outputs
    plots = []
    for sweep in SWEEPS:
        path = args.out / f"recovery_vs_{sweep}.png"
        pts = sweep_summaries(records, sweep, peer_names, threshold)
        if pts:
            try:
                plot_sweep(sweep, pts, imp, peer_names, path)
            except Exception as exc:  # a plot must not lose a run's results: say so and go on
                _log(_red(f"plot {path.name} failed: {_error(exc)}", color))
                continue
            plots.append(path.name)
    if leaks:
        contact_sheet(leaks, args.out / "contact_sheet.png", thumb=480)

    report = functools.partial(build_markdown, plan, summary, summary_natural, fp, imp, records, peer_names,
                               peer_notes, wall, plots, bool(leaks), threshold)
    sections, md_plain = report(color), report(False)
    print(sections, flush=True)
    (args.out / "results.md").write_text(md_plain)
    result = {
        "seed": SEED,
        "mode": plan.mode,
        "argv": sys.argv[1:] if argv is None else list(argv),
        "machine": {"platform": platform.platform(), "machine": platform.machine(), "cpus": os.cpu_count()},
        "versions": _versions(),
        "plan": {k: v for k, v in dataclasses.asdict(plan).items() if k != "conditions"},
        "conditions": [dataclasses.asdict(c) for c in plan.conditions],
        "sweeps": {k: {"axis": v[0], "points": v[1]} for k, v in SWEEPS.items()},
        "detection_score_threshold": threshold,
        "peers": peer_names,
        "peer_notes": peer_notes,
        "wall_seconds": wall,
        "false_attributions_total": false_attr,
        "summary": summary,
        "summary_natural_images": summary_natural,
        "records": records,
        "false_positive_pass": fp,
        "imperceptibility": imp,
    }
    (args.out / "results.json").write_text(json.dumps(result, indent=1, default=_json_default))
    _log(f"wrote {args.out}/results.md, results.json, {', '.join(plots)}{', contact_sheet.png' if leaks else ''} "
         f"({wall:.0f} s)")
    return 1 if false_attr else 0


def build_markdown(plan: Plan, summary: dict[str, Any], summary_natural: dict[str, Any],
                   fp: Sequence[dict[str, Any]], imp: dict[str, Any],
                   records: Sequence[dict[str, Any]], peer_names: Sequence[str], peer_notes: Sequence[str],
                   wall: float, plots: Sequence[str], sheet: bool, threshold: float, color: bool) -> str:
    """The report: setup, per-condition tables, false positives, imperceptibility, timing, definitions."""
    v = _versions()
    lines = [
        "# leaktrace robustness benchmark",
        "",
        f"{plan.mode.capitalize()} run, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"{wall / 60:.1f} min wall on {platform.machine()} ({os.cpu_count()} cores, {plan.workers} worker(s)); "
        f"SEED={SEED}; Python {v['python']}, numpy {v['numpy']}, OpenCV {v['opencv']}; "
        f"invisible-watermark {v['invisible-watermark']}, blind-watermark {v['blind-watermark']}.",
        "",
        f"Samples per condition: screenshots {plan.screenshot_samples} EMR screens + {plan.natural_samples} natural "
        f"image(s); phone-standard / phone-hard {plan.photo_samples}; other sweep points {plan.sweep_samples}; "
        f"peers on the first {plan.peer_samples} EMR sample(s) and every natural image of each strength-1 condition"
        f"{'' if plan.peers_on_sweeps else ' except the angle and coverage points (full mode only)'}. EMR screens cycle "
        f"{len(SCREEN_KINDS)} kinds at 1920x1080, 1366x768 and 2560x1440; each carries its own random payload.",
        "",
    ]
    for note in peer_notes:
        lines += [f"Note: {note}", ""]
    names_ss = [c.name for c in all_conditions() if c.family == "screenshot"]
    sweep_only = [c.name for c in all_conditions() if c.family == "photo" and c.name not in ("phone-standard", "phone-hard")]
    tables = (
        ("Screenshots of EMR screens", summary, names_ss),
        ("Phone photos of EMR screens", summary, ["phone-standard", "phone-hard"]),
        ("Photo sweeps (phone-standard seeds with one parameter fixed; strength: ours only)", summary, sweep_only),
        ("Screenshots of natural images (scikit-image data, 300-640 px)", summary_natural, names_ss),
    )
    for title, summ, names in tables:
        if any(n in summ for n in names):
            lines += [f"## {title}", "", *condition_table(summ, names, peer_names, color), ""]
    lines += ["## False-positive pass", "", *false_positive_table(fp, color), ""]
    lines += ["## Imperceptibility (marked vs original, luma)", "", *imperceptibility_table(imp), ""]
    lines += ["## Decode time", "", *timing_table(records, peer_names), ""]
    if plots or sheet:
        lines += ["## Plots", ""] + [f"- [{p}]({p})" for p in plots] + (["- [contact_sheet.png](contact_sheet.png): examples of the leaks measured"] if sheet else []) + [""]
    lines += [
        "## Definitions",
        "",
        "- **traced exact**: `tracer.trace(leak, key)` returned exactly the stamped payload (viewer ID and minute).",
        "- **oracle exact**: the leak mapped back to screen pixels with the simulator's true geometry "
        "(`synthetic.project_points`: pose, lens distortion, resizes; area-averaged first when the leak has more than "
        "1.25 pixels per screen pixel), cropped to the covered box, then `watermark.extract`. Exact here but not when "
        "traced = a synchronisation failure; failing here too = a signal failure. `extract` refuses a covered box "
        "under 256x256 (one tile): counted as a failure, noted as \"refused\" in the condition column.",
        "- **channel BER (oracle)**: mean over samples of the fraction of the 284 channel bits whose sign in "
        "`ExtractResult.bit_snr` disagrees with `encode_payload(payload, key)` (0.5 = no information).",
        f"- **detected**: traced payload found, or the tracer's detection score (phase-peak z) above {threshold:.1f}: the "
        f"larger of {DETECTION_SCORE:g} and the highest score in this run's false-positive pass, so no content without "
        "our mark was detected at this threshold in this run.",
        "- **false attrib.**: a payload reported that is not the stamped one (traced or oracle). In the false-positive "
        "pass every payload reported is one. Counted, and printed in red.",
        "- **peers raw / oracle**: samples whose 64 payload bits all came back, decoding the leak as found / the leak "
        "warped to the original screen geometry (uncropped, black outside). On channels that keep the geometry "
        "(png, jpeg, webp, tone) the two are the same decode. Peers have no integrity check, so they cannot report "
        "\"not found\" and have no false-positive row.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())

"""A second phone-photo simulator, written apart from :func:`synthetic.phone_photo_leak`.

The screen finder must work on scenes and cameras it was not developed on.
This module is that held-out test set: an independent model of a phone
photo of a monitor, with its own rooms, furniture, displays, optics, sensor
and image pipeline. Use it only to *evaluate* a finder, never to tune one.

:func:`photo_leak_b` renders one photo of a screen image and returns a
:class:`~synthetic.Leak`; :func:`project_points_b` maps screen pixels to
photo pixels exactly (perspective, lens distortion and the messenger's
resize included), so a benchmark can warp a photo back with the true
geometry. Levels are in :data:`LEVELS_B`.

The model, stage by stage (all light in linear units, luminances in nits):

* **Room**: a wall that is plain (any colour or brightness), textured
  (plaster, brick, tiles, wood planks, periodic wallpaper) or a natural
  photograph (a mural on the wall plane, or a flat backdrop); it may be
  turned against the monitor. Room illuminance is dim (a few lux), normal or
  bright, of 2700-6500 K, with a gradient and a lamp spot across the wall.
  Wall-mounted distractors: windows (far brighter than the screen, some
  with blinds), posters, whiteboards, picture frames; a second monitor,
  switched off, beside the first.
* **Furniture** (sometimes none): a desk in perspective below the screen,
  lit by the room and by the screen itself, with a stand, keyboard, mouse,
  papers with text lines, a mug, a phone or a notebook; or a laptop with
  its base. Objects that would hide the displayed image are left out.
* **Display**: the screen image through a power-law gamma, black level,
  white luminance and white point, a viewing-angle falloff and the diffuse
  reflection of the room; a bezel of any colour and width (black, grey,
  silver, white, or none: a borderless edge), sometimes with a black inner
  border; a monitor body behind it; optional glare (a blob, a band, or a
  wash from one side) that crosses an edge.
* **Camera**: main or tele module with a diagonal field of view of a phone;
  pose by yaw, pitch and roll about the line of sight; a principal point off
  centre; a pinhole projection of the supersampled (or, when minified,
  prefiltered) screen with one ``cv2.warpPerspective``; depth of field from
  the phone's focal length and aperture (wall and foreground defocus), lens
  blur, focus error and hand shake over the exposure time; mild barrel
  distortion; residual vignetting.
* **Sensor and ISP**: auto exposure (centre-weighted with highlight
  priority, an EV bias), exposure time and ISO from the light, shot and read
  noise, 12-bit quantisation, grey-world white balance with partial
  correction, a tone curve, chroma and edge-aware luma denoise, unsharp
  masking, the camera's JPEG; at "hard" and "chat" a messenger then shrinks
  the photo and recompresses it (for speed the photo is then rendered at
  twice the messenger's size instead of the sensor's, with the noise of
  binned pixels).

Geometry: pixel centres are at integer coordinates; the displayed image of a
``W x H`` screen spans ``[-0.5, W - 0.5] x [-0.5, H - 0.5]``.
``leak.homography`` maps screen pixels to photo pixels as if the lens had no
distortion; ``leak.params["screen_corners"]`` are the four corners of the
displayed image (TL, TR, BR, BL) in the delivered photo, distortion and
resize included, which is what :func:`project_points_b` gives for them.

Examples
--------
>>> import numpy as np
>>> from synthetic.scenes_b import photo_leak_b, project_points_b
>>> screen = np.full((360, 640, 3), 230, np.uint8)
>>> leak = photo_leak_b(screen, level="chat", seed=3)
>>> max(leak.image.shape[:2]), leak.image.dtype.name, leak.channel
(1280, 'uint8', 'phone-b-chat')
>>> corners = [[-0.5, -0.5], [639.5, -0.5], [639.5, 359.5], [-0.5, 359.5]]
>>> bool(np.allclose(project_points_b(leak, corners), leak.params["screen_corners"]))
True
>>> import watermark
>>> try:
...     photo_leak_b(screen, level="extreme", seed=3)
... except watermark.OptionError as exc:
...     print(exc.name, "-", exc)
level - level must be one of 'easy', 'standard', 'hard', 'chat', got 'extreme'
"""

from __future__ import annotations

import functools
import math
import statistics
from dataclasses import dataclass
from typing import Any, Sequence

import cv2
import numpy as np
from numpy.typing import ArrayLike, NDArray

from watermark import OptionError, OptionTypeError

from ._leak import MIN_IMAGE_SIDE, Leak, as_generator, plain
from ._screens import natural_images

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]

LEVELS_B: tuple[str, ...] = ("easy", "standard", "hard", "chat")
"""Photo levels of :func:`photo_leak_b`, from a careful frontal shot to a chat-group copy."""

GENERATOR = "scenes_b"
"""``leak.params["generator"]`` of every leak made here."""


@dataclass(frozen=True)
class _Level:
    max_angle: float                      # degrees between screen normal and line of sight
    max_roll: float                       # degrees about the line of sight
    width: tuple[float, float]            # screen bbox width / photo width
    light: tuple[float, float, float]     # P(dim), P(normal), P(bright)
    white_nits: tuple[float, float]
    focus_error: tuple[float, float]      # extra blur sigma on the screen, sensor px
    denoise: tuple[float, float]          # luma denoise strength
    sharpen: tuple[float, float]
    camera_jpeg: tuple[int, int]
    messenger: tuple[int, int, int] | None  # long side, JPEG quality range
    tele: float                           # probability of the tele module
    glare: float                          # probability of glare
    distractors: float                    # mean number of wall distractors
    shake: tuple[float, float]            # hand-shake rate, sensor px per second


_LEVELS: dict[str, _Level] = {
    "easy": _Level(12.0, 4.0, (0.50, 0.80), (0.0, 0.7, 0.3), (120.0, 320.0), (0.0, 0.4), (0.15, 0.45),
                   (0.3, 0.7), (90, 97), None, 0.0, 0.15, 0.6, (5.0, 25.0)),
    "standard": _Level(30.0, 15.0, (0.35, 0.70), (0.2, 0.55, 0.25), (90.0, 350.0), (0.0, 0.8), (0.25, 0.65),
                       (0.3, 1.0), (85, 95), None, 0.1, 0.35, 1.0, (8.0, 50.0)),
    "hard": _Level(45.0, 30.0, (0.20, 0.45), (0.8, 0.2, 0.0), (70.0, 300.0), (0.2, 1.2), (0.75, 1.0),
                   (0.4, 1.2), (85, 93), (1600, 70, 80), 0.15, 0.45, 1.4, (15.0, 80.0)),
    "chat": _Level(30.0, 15.0, (0.17, 0.23), (0.3, 0.5, 0.2), (80.0, 350.0), (0.0, 1.0), (0.4, 0.9),
                   (0.3, 1.0), (85, 95), (1280, 60, 60), 0.2, 0.35, 1.2, (8.0, 60.0)),
}

# Phone sensors (width, height) of the main photo mode, and how often each is drawn.
_SENSORS: tuple[tuple[int, int], ...] = ((4000, 3000), (4032, 3024), (4080, 3060), (3264, 2448), (4000, 2252))
_SENSOR_P = (0.45, 0.25, 0.1, 0.1, 0.1)
_PORTRAIT_P = 0.2

# Blackbody white points as 8-bit sRGB (after common published tables); linearised below.
_BLACKBODY: tuple[tuple[float, tuple[int, int, int]], ...] = (
    (2700.0, (255, 169, 87)), (3000.0, (255, 180, 107)), (3500.0, (255, 196, 137)), (4000.0, (255, 209, 163)),
    (5000.0, (255, 228, 206)), (5500.0, (255, 236, 224)), (6500.0, (255, 249, 253)), (9000.0, (214, 225, 255)),
)

# Wall paints as linear reflectance.
_PAINTS: dict[str, tuple[float, float, float]] = {
    "white": (0.80, 0.80, 0.78), "warm white": (0.78, 0.73, 0.62), "light grey": (0.50, 0.50, 0.50),
    "grey": (0.22, 0.22, 0.23), "dark grey": (0.07, 0.07, 0.075), "charcoal": (0.03, 0.03, 0.033),
    "beige": (0.60, 0.50, 0.34), "pale blue": (0.45, 0.55, 0.68), "sage": (0.35, 0.45, 0.32),
    "pale yellow": (0.78, 0.70, 0.40), "terracotta": (0.45, 0.18, 0.10), "navy": (0.03, 0.04, 0.10),
    "forest": (0.04, 0.10, 0.05), "hospital green": (0.45, 0.62, 0.50), "lilac": (0.50, 0.42, 0.60),
}
_BEZELS: dict[str, tuple[float, float, float]] = {
    "black": (0.035, 0.035, 0.037), "dark grey": (0.10, 0.10, 0.105), "silver": (0.42, 0.43, 0.45),
    "white": (0.72, 0.72, 0.70),
}
_WOODS: dict[str, tuple[float, float, float]] = {
    "oak": (0.45, 0.30, 0.16), "walnut": (0.12, 0.06, 0.03), "pine": (0.55, 0.40, 0.22),
    "grey wash": (0.35, 0.33, 0.30), "cherry": (0.30, 0.12, 0.06),
}
_BRICKS: dict[str, tuple[float, float, float]] = {
    "red": (0.30, 0.10, 0.06), "brown": (0.20, 0.10, 0.06), "yellow": (0.45, 0.35, 0.18),
    "grey": (0.25, 0.25, 0.24), "painted white": (0.75, 0.74, 0.72),
}
_WALL_KINDS = ("plain", "plaster", "brick", "tiles", "wood", "wallpaper", "photo_mural", "photo_backdrop")
_WALL_KIND_P = (0.25, 0.15, 0.12, 0.06, 0.10, 0.12, 0.10, 0.10)
_SETUPS = ("desk", "laptop", "wall_mounted", "floating")
_SETUP_P = (0.45, 0.2, 0.15, 0.2)

_Z_NEAR = 0.03  # metres: polygons are clipped this far in front of the camera


# ----------------------------------------------------------------------------- small helpers

def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _logu(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def _pick(rng: np.random.Generator, options: Sequence[str], p: Sequence[float] | None = None) -> str:
    if p is None:
        return str(options[int(rng.integers(len(options)))])
    w = np.asarray(p, dtype=np.float64)
    return str(options[int(rng.choice(len(options), p=w / w.sum()))])


def _rot_x(a: float) -> F64:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _rot_y(a: float) -> F64:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _rot_z(a: float) -> F64:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _rot_between(a: F64, b: F64) -> F64:
    """The smallest rotation taking unit vector ``a`` onto unit vector ``b`` (Rodrigues)."""
    v = np.cross(a, b)
    c = float(np.dot(a, b))
    s = float(np.linalg.norm(v))
    if s < 1e-12:
        return np.eye(3)
    k = v / s
    kx = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + s * kx + (1.0 - c) * (kx @ kx)


def _translate(tx: float, ty: float) -> F64:
    return np.array([[1.0, 0.0, tx], [0.0, 1.0, ty], [0.0, 0.0, 1.0]])


def _resize_map(sx: float, sy: float) -> F64:
    """Pixel-centre resize map ``x' = (x + 0.5) * s - 0.5`` (what cv2.resize does)."""
    return np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]])


def _apply_h(h: F64, pts: F64) -> F64:
    q = pts @ h[:, :2].T + h[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        return q[:, :2] / q[:, 2:3]


def _srgb_decode(v: F64) -> F64:
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def _luma(rgb: F64) -> float:
    return float(0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2])


@functools.lru_cache(maxsize=None)
def _light_rgb(kelvin: float) -> tuple[float, float, float]:
    """Linear RGB of a blackbody white at ``kelvin``, with luminance 1."""
    ks = np.array([k for k, _ in _BLACKBODY])
    lin = np.array([_srgb_decode(np.array(c, np.float64) / 255.0) for _, c in _BLACKBODY])
    mired = 1e6 / np.clip(kelvin, ks[0], ks[-1])
    m = 1e6 / ks  # decreasing
    rgb = np.array([np.interp(mired, m[::-1], lin[::-1, i]) for i in range(3)])
    rgb = rgb / _luma(rgb)
    return float(rgb[0]), float(rgb[1]), float(rgb[2])


@functools.lru_cache(maxsize=1)
def _gauss_table() -> F32:
    """256 Gaussian quantiles scaled to unit variance: a fast normal deviate from one random byte."""
    inv = statistics.NormalDist().inv_cdf
    tab = np.array([inv((i + 0.5) / 256.0) for i in range(256)])
    return np.asarray(tab / tab.std(), dtype=np.float32)


def _randn(rng: np.random.Generator, shape: tuple[int, ...]) -> F32:
    """Unit-variance noise with a 256-level Gaussian distribution (sensor noise; fast)."""
    idx = rng.integers(0, 256, size=shape, dtype=np.uint8)
    return np.asarray(cv2.LUT(idx, _gauss_table()), np.float32).reshape(shape)


@functools.lru_cache(maxsize=1)
def _naturals() -> tuple[tuple[str, F32], ...] | None:
    """The bundled natural photographs in linear light (None without scikit-image)."""
    try:
        imgs = natural_images()
    except ImportError:
        return None
    out = []
    for name, im in imgs:
        lut = _srgb_decode(np.arange(256) / 255.0).astype(np.float32)
        out.append((name, lut[im]))
    return tuple(out)


def _fractal(rng: np.random.Generator, h: int, w: int, cells: Sequence[float],
             amps: Sequence[float]) -> F32:
    """Smooth multi-scale noise of unit std: random grids of the given cell sizes (px), upsampled."""
    out = np.zeros((h, w), np.float32)
    for cell, amp in zip(cells, amps):
        cell = max(float(cell), 1.5)
        gh, gw = max(2, int(math.ceil(h / cell)) + 1), max(2, int(math.ceil(w / cell)) + 1)
        grid = rng.standard_normal((gh, gw)).astype(np.float32)
        out += np.float32(amp) * cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
    sd = float(out.std())
    return out / np.float32(sd) if sd > 0 else out


def _gauss_blur(img: F32, sigma: float) -> F32:
    if sigma < 0.3:
        return img
    return np.asarray(cv2.GaussianBlur(img, (0, 0), sigma, borderType=cv2.BORDER_REFLECT), dtype=np.float32)


# ----------------------------------------------------------------------------- camera and scene geometry

@dataclass
class _Camera:
    """Pinhole camera on the (undistorted) canvas: room point P -> K (R P + t) + offset."""

    K: F64
    R: F64
    t: F64
    ox: float
    oy: float

    @property
    def centre(self) -> F64:
        return np.asarray(-self.R.T @ self.t, dtype=np.float64)

    @property
    def k_canvas(self) -> F64:
        return _translate(self.ox, self.oy) @ self.K

    def to_cam(self, pts: F64) -> F64:
        return np.asarray(pts @ self.R.T + self.t, dtype=np.float64)

    def project(self, pts: F64) -> F64:
        pc = self.to_cam(np.atleast_2d(pts))
        q = pc @ self.k_canvas.T
        return np.asarray(q[:, :2] / q[:, 2:3], dtype=np.float64)

    def plane_h(self, origin: F64, e1: F64, e2: F64) -> F64:
        """Homography from plane coordinates (a, b) in metres (P = origin + a e1 + b e2) to canvas px."""
        m = np.column_stack([self.R @ e1, self.R @ e2, self.R @ origin + self.t])
        return np.asarray(self.k_canvas @ m, dtype=np.float64)

    def rays(self, q: F64) -> F64:
        """Room directions of canvas pixels ``q`` (N x 2)."""
        kinv = np.linalg.inv(self.k_canvas)
        d = np.c_[q, np.ones(len(q))] @ kinv.T @ self.R  # (R^T d^T)^T
        return np.asarray(d / np.linalg.norm(d, axis=1, keepdims=True), dtype=np.float64)

    def project_poly(self, pts: F64) -> F64 | None:
        """Canvas polygon of a planar 3-D polygon, clipped to the near plane (None when nothing is left)."""
        pc = self.to_cam(pts)
        out: list[F64] = []
        n = len(pc)
        for i in range(n):
            a, b = pc[i], pc[(i + 1) % n]
            ina, inb = a[2] > _Z_NEAR, b[2] > _Z_NEAR
            if ina:
                out.append(a)
            if ina != inb:
                s = (_Z_NEAR - a[2]) / (b[2] - a[2])
                out.append(a + s * (b - a))
        if len(out) < 3:
            return None
        q = np.array(out) @ self.k_canvas.T
        return np.asarray(q[:, :2] / q[:, 2:3], dtype=np.float64)


def _plane_hits(cam: _Camera, q: F64, origin: F64, normal: F64, e1: F64, e2: F64) -> tuple[F64, F64]:
    """Plane coordinates where the rays of canvas points ``q`` meet a plane, and the ray lengths."""
    d = cam.rays(q)
    c = cam.centre
    den = d @ normal
    with np.errstate(divide="ignore", invalid="ignore"):
        lam = ((origin - c) @ normal) / den
    p = c + lam[:, None] * d
    ab = np.c_[(p - origin) @ e1, (p - origin) @ e2]
    return np.asarray(ab, dtype=np.float64), np.asarray(lam, dtype=np.float64)


# ----------------------------------------------------------------------------- drawing helpers

def _bbox(poly: F64, w: int, h: int, pad: int = 2) -> tuple[int, int, int, int] | None:
    x0 = max(int(math.floor(poly[:, 0].min())) - pad, 0)
    y0 = max(int(math.floor(poly[:, 1].min())) - pad, 0)
    x1 = min(int(math.ceil(poly[:, 0].max())) + pad + 1, w)
    y1 = min(int(math.ceil(poly[:, 1].max())) + pad + 1, h)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def _poly_mask(poly: F64, x0: int, y0: int, w: int, h: int) -> F32:
    """Antialiased coverage (0..1) of ``poly`` on a ``w x h`` window at ``(x0, y0)``."""
    mask = np.zeros((h, w), np.uint8)
    pts = np.round((poly - [x0, y0]) * 16.0).astype(np.int32)
    cv2.fillPoly(mask, [pts], 255, lineType=cv2.LINE_AA, shift=4)
    return mask.astype(np.float32) * np.float32(1.0 / 255.0)


class _Layer:
    """A canvas (premultiplied RGB) with optional coverage, painted back to front."""

    def __init__(self, rgb: F32, alpha: F32 | None = None) -> None:
        self.rgb = rgb
        self.alpha = alpha
        self.h, self.w = rgb.shape[:2]

    def fill(self, poly: F64 | None, colour: Sequence[float] | F64, opacity: float = 1.0) -> None:
        if poly is None:
            return
        box = _bbox(poly, self.w, self.h)
        if box is None:
            return
        x0, y0, x1, y1 = box
        a = _poly_mask(poly, x0, y0, x1 - x0, y1 - y0)
        if opacity < 1.0:
            a *= np.float32(opacity)
        a3 = a[..., None]
        col = np.asarray(colour, np.float32).reshape(1, 1, 3)
        reg = self.rgb[y0:y1, x0:x1]
        reg *= 1.0 - a3
        reg += col * a3
        if self.alpha is not None:
            al = self.alpha[y0:y1, x0:x1]
            al *= 1.0 - a
            al += a

    def texture(self, poly: F64 | None, tex: F32, h_tex: F64, border: int = cv2.BORDER_REFLECT101,
                scale: Sequence[float] | F64 | None = None) -> None:
        """Paint ``tex`` (mapped by ``h_tex``: texel -> canvas px) inside ``poly`` (None: everywhere)."""
        if poly is None:
            warped = cv2.warpPerspective(tex, h_tex, (self.w, self.h), dst=self.rgb, flags=cv2.INTER_LINEAR,
                                         borderMode=border)
            if scale is not None:
                self.rgb *= np.asarray(scale, np.float32).reshape(1, 1, -1)
            if self.alpha is not None:
                self.alpha[:] = 1.0
            return
        box = _bbox(poly, self.w, self.h)
        if box is None:
            return
        x0, y0, x1, y1 = box
        m = _translate(-x0, -y0) @ h_tex
        warped = cv2.warpPerspective(tex, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=border)
        warped = np.asarray(warped, np.float32).reshape(y1 - y0, x1 - x0, -1)
        if scale is not None:
            warped *= np.asarray(scale, np.float32).reshape(1, 1, -1)
        a = _poly_mask(poly, x0, y0, x1 - x0, y1 - y0)
        a3 = a[..., None]
        reg = self.rgb[y0:y1, x0:x1]
        reg *= 1.0 - a3
        reg += warped * a3
        if self.alpha is not None:
            al = self.alpha[y0:y1, x0:x1]
            al *= 1.0 - a
            al += a


# ----------------------------------------------------------------------------- textures

def _wall_texture(rng: np.random.Generator, kind: str, tw: int, th: int, s: float, a0: float, b0: float,
                  info: dict[str, Any]) -> F32:
    """Reflectance (th x tw x 3) of a wall texture on texels of ``s`` metres starting at (a0, b0)."""
    a = (a0 + s * np.arange(tw, dtype=np.float64)).astype(np.float32)[None, :]
    b = (b0 + s * np.arange(th, dtype=np.float64)).astype(np.float32)[:, None]
    px = 1.0 / s  # texels per metre
    if kind in ("plain", "plaster"):
        name = _pick(rng, list(_PAINTS))
        base = np.array(_PAINTS[name]) * _u(rng, 0.8, 1.15)
        amp = 0.015 if kind == "plain" else _u(rng, 0.04, 0.12)
        cells = (0.4 * px, 0.06 * px, 0.008 * px) if kind == "plaster" else (0.5 * px, 0.1 * px)
        amps = (1.0, 0.6, 0.5) if kind == "plaster" else (1.0, 0.4)
        n = _fractal(rng, th, tw, cells, amps)
        info.update(paint=name, reflectance=base.tolist(), relief=amp)
        tex = np.clip(base.astype(np.float32)[None, None, :] * (1.0 + amp * n)[..., None], 0.0, 0.95)
        return np.asarray(tex, np.float32)
    if kind in ("brick", "tiles"):
        if kind == "brick":
            name = _pick(rng, list(_BRICKS))
            base = np.array(_BRICKS[name])
            bw, bh = _u(rng, 0.19, 0.25), _u(rng, 0.055, 0.075)
            joint = _u(rng, 0.008, 0.014)
            mortar = np.array((0.45, 0.43, 0.40)) * _u(rng, 0.4, 1.4)
            vary, bond = 0.18, 0.5
        else:
            name = _pick(rng, ["white", "light grey", "pale blue", "sage", "beige", "charcoal"])
            base = np.array(_PAINTS[name])
            bw = bh = _u(rng, 0.1, 0.3)
            joint = _u(rng, 0.002, 0.006)
            mortar = np.array((0.5, 0.5, 0.48)) * _u(rng, 0.3, 1.3)
            vary, bond = 0.04, 0.0
        pw, ph = bw + joint, bh + joint
        row = np.floor(b / ph).astype(np.int64)
        ash = a + (row % 2).astype(np.float32) * np.float32(bond * pw)
        col = np.floor(ash / pw).astype(np.int64)
        fa = ash - col * pw
        fb = b - row * ph
        in_joint = (fa < joint) | (fb < joint)
        table = base[None, None, :] * (1.0 + vary * rng.standard_normal((37, 41, 1)))
        table *= 1.0 + 0.12 * vary * rng.standard_normal((37, 41, 3))
        cell_col = table[row % 37, col % 41].astype(np.float32)
        tex = np.where(in_joint[..., None], mortar.astype(np.float32), cell_col)
        grain = _fractal(rng, th, tw, (0.05 * px, 0.006 * px), (1.0, 0.7))
        tex = tex * (1.0 + np.float32(0.06 if kind == "brick" else 0.01) * grain)[..., None]
        info.update(colour=name, unit_m=[bw, bh], joint_m=joint, reflectance=base.tolist())
        return np.asarray(np.clip(tex, 0.0, 0.95), np.float32)
    if kind == "wood":
        name = _pick(rng, list(_WOODS))
        base = np.array(_WOODS[name])
        vertical = bool(rng.random() < 0.5)
        plank = _u(rng, 0.08, 0.22)
        along, across = (b, a) if vertical else (a, b)
        idx = np.floor(across / plank).astype(np.int64)
        tone = (1.0 + 0.15 * rng.standard_normal(53))[idx % 53].astype(np.float32)
        wavel = _u(rng, 0.003, 0.009)
        if vertical:
            warp = _fractal(rng, th, tw, (0.5 * px, 0.05 * px), (1.0, 0.3))
        else:
            warp = _fractal(rng, th, tw, (0.05 * px, 0.5 * px), (0.3, 1.0))
        grain = np.sin((across / wavel + 1.5 * warp + idx * 7.3).astype(np.float32))
        seam = (across - idx * plank) < 0.003
        shade = tone * (1.0 + 0.12 * grain)
        shade = np.where(seam, np.float32(0.45), shade)
        info.update(wood=name, plank_m=plank, vertical=vertical, reflectance=base.tolist())
        return np.asarray(np.clip(base.astype(np.float32)[None, None, :] * shade[..., None], 0, 0.95), np.float32)
    # wallpaper: a periodic motif in two colours
    names = list(_PAINTS)
    c1 = np.array(_PAINTS[_pick(rng, names)]) * _u(rng, 0.8, 1.1)
    c2 = np.array(_PAINTS[_pick(rng, names)]) * _u(rng, 0.8, 1.1)
    mix = _u(rng, 0.2, 0.7)
    c2 = c1 + mix * (c2 - c1)
    motif = _pick(rng, ["stripes", "dots", "diamonds", "damask", "checks"])
    period = _u(rng, 0.04, 0.2)
    fa = (a / period) % 1.0
    fb = (b / period) % 1.0
    soft = np.float32(max(0.5 * s / period, 0.01))
    if motif == "stripes":
        duty = _u(rng, 0.2, 0.6)
        v = np.clip((duty - fa) / soft, 0, 1) * np.ones_like(fb)
    elif motif == "dots":
        r = _u(rng, 0.12, 0.3)
        v = np.clip((r - np.hypot(fa - 0.5, fb - 0.5)) / soft + 0.5, 0, 1)
    elif motif == "diamonds":
        v = np.clip((0.3 - (np.abs(fa - 0.5) + np.abs(fb - 0.5))) / soft + 0.5, 0, 1)
    elif motif == "checks":
        v = (((np.floor(a / period) + np.floor(b / period)) % 2) * np.ones_like(fa)).astype(np.float32)
    else:
        v = 0.5 + 0.5 * np.cos(2 * np.pi * a / period) * np.cos(2 * np.pi * b / period) \
            * np.cos(np.pi * (a + b) / period)
    v = np.asarray(v, np.float32)
    tex = c1.astype(np.float32)[None, None, :] + v[..., None] * (c2 - c1).astype(np.float32)[None, None, :]
    info.update(motif=motif, period_m=period, colours=[c1.tolist(), c2.tolist()])
    return np.asarray(np.clip(tex, 0.0, 0.95), np.float32)


def _natural(rng: np.random.Generator, info: dict[str, Any]) -> F32 | None:
    nat = _naturals()
    if nat is None:
        info["natural"] = "unavailable"
        return None
    name, img = nat[int(rng.integers(len(nat)))]
    if rng.random() < 0.5:
        img = img[:, ::-1]
    info["natural"] = name
    return np.ascontiguousarray(img, dtype=np.float32)


# ----------------------------------------------------------------------------- drawing the parameters

def _draw_camera(rng: np.random.Generator, spec: _Level) -> dict[str, Any]:
    sw, sh = _SENSORS[int(rng.choice(len(_SENSORS), p=_SENSOR_P))]
    portrait = bool(rng.random() < _PORTRAIT_P)
    if portrait:
        sw, sh = sh, sw
    module = "tele" if rng.random() < spec.tele else "main"
    dfov = _u(rng, 74.0, 84.0) if module == "main" else _u(rng, 30.0, 46.0)
    f_sensor = 0.5 * math.hypot(sw, sh) / math.tan(math.radians(dfov) / 2)
    f_mm = _u(rng, 5.0, 7.0) if module == "main" else _u(rng, 9.0, 16.0)
    f_number = _u(rng, 1.5, 2.0) if module == "main" else _u(rng, 2.2, 3.0)
    k1 = _u(rng, 0.0, 0.045) if module == "main" else _u(rng, 0.0, 0.012)
    k2 = _u(rng, 0.0, 0.4) * k1
    pp = (float(np.clip(rng.normal(0, 0.004), -0.01, 0.01)), float(np.clip(rng.normal(0, 0.004), -0.01, 0.01)))
    long_side = max(sw, sh)
    if spec.messenger is not None:
        render_long = min(long_side, 2 * spec.messenger[0])
    else:
        render_long = long_side
    r = render_long / long_side
    rw, rh = int(round(sw * r)), int(round(sh * r))
    return {
        "sensor_size": [sw, sh], "orientation": "portrait" if portrait else "landscape", "module": module,
        "diag_fov_deg": dfov, "focal_px_sensor": f_sensor, "focal_mm": f_mm, "f_number": f_number,
        "pixel_pitch_um": 1000.0 * f_mm / f_sensor, "principal_offset": list(pp), "k1": k1, "k2": k2,
        "vignetting": _u(rng, 0.05, 0.3), "psf_sigma_px": _u(rng, 0.5, 1.0),
        "focus_error_px": _u(rng, *spec.focus_error), "render_scale": r, "render_size": [rw, rh],
        "focal_px": f_sensor * rw / sw,
    }


def _draw_display(rng: np.random.Generator, spec: _Level, w: int, h: int) -> dict[str, Any]:
    setup = _pick(rng, _SETUPS, _SETUP_P)
    diag = {"desk": (21.0, 32.0), "laptop": (13.0, 16.5), "wall_mounted": (24.0, 50.0),
            "floating": (19.0, 34.0)}[setup]
    diag_in = _u(rng, *diag)
    pitch_m = diag_in * 0.0254 / math.hypot(w, h)
    if setup == "laptop":
        colour = _pick(rng, ["black", "silver", "white", "none"], [0.6, 0.2, 0.05, 0.15])
        side_mm = _u(rng, 3.0, 12.0)
        bottom_mm = side_mm + _u(rng, 3.0, 15.0)
        depth = _u(rng, 0.004, 0.008)
    elif setup == "wall_mounted":
        colour = _pick(rng, ["black", "dark grey", "silver", "none"], [0.6, 0.15, 0.1, 0.15])
        side_mm = _u(rng, 3.0, 15.0)
        bottom_mm = side_mm * _u(rng, 1.0, 1.6)
        depth = _u(rng, 0.025, 0.07)
    else:
        colour = _pick(rng, ["black", "dark grey", "silver", "white", "none"], [0.5, 0.15, 0.15, 0.15, 0.05])
        style = _pick(rng, ["thin", "normal", "thick"], [0.35, 0.45, 0.2])
        side_mm = {"thin": _u(rng, 2.0, 6.0), "normal": _u(rng, 8.0, 20.0), "thick": _u(rng, 20.0, 35.0)}[style]
        bottom_mm = side_mm * (_u(rng, 1.0, 2.5) if style != "thin" else _u(rng, 1.0, 4.0))
        depth = _u(rng, 0.02, 0.06)
    if colour == "none":
        side_mm = bottom_mm = 0.0
        inner_mm = 0.0
        refl = np.array(_BEZELS["black"])
    else:
        refl = np.array(_BEZELS[colour]) * _u(rng, 0.85, 1.15)
        inner_mm = _u(rng, 2.0, 7.0) if (colour != "black" and rng.random() < 0.6) or side_mm < 6 else 0.0
    widths_px = [int(round(side_mm / 1000.0 / pitch_m))] * 3 + [int(round(bottom_mm / 1000.0 / pitch_m))]
    inner_px = int(round(inner_mm / 1000.0 / pitch_m))
    r = rng.random()
    white_k = 6500.0 if r < 0.75 else (_u(rng, 4800.0, 5800.0) if r < 0.9 else _u(rng, 7500.0, 9000.0))
    tilt = {"desk": (0.0, 15.0), "laptop": (8.0, 30.0), "wall_mounted": (0.0, 5.0),
            "floating": (0.0, 12.0)}[setup]
    return {
        "setup": setup, "diagonal_in": diag_in, "pixel_pitch_mm": 1000.0 * pitch_m,
        "white_nits": _u(rng, *spec.white_nits), "gamma": _u(rng, 2.0, 2.5),
        "black_level": _logu(rng, 0.0008, 0.004), "white_point_K": white_k,
        "angle_falloff": _u(rng, 0.2, 1.2), "surface_reflectance": _u(rng, 0.005, 0.03),
        "tilt_deg": _u(rng, *tilt), "body_depth_m": depth,
        "bezel": {"colour": colour, "reflectance": refl.tolist(), "side_mm": side_mm, "bottom_mm": bottom_mm,
                  "widths_px": widths_px, "inner_border_mm": inner_mm, "inner_border_px": inner_px},
    }


def _draw_angles(rng: np.random.Generator, spec: _Level) -> dict[str, float]:
    theta = math.radians(spec.max_angle) * math.sqrt(rng.random())
    phi = _u(rng, 0.0, 2.0 * math.pi)
    yaw = math.atan(math.tan(theta) * math.cos(phi))
    pitch = math.copysign(math.acos(min(1.0, math.cos(theta) / math.cos(yaw))), math.sin(phi))
    if rng.random() < 0.65:
        lim = min(4.0, spec.max_roll)
        roll = _u(rng, -lim, lim)
    else:
        roll = _u(rng, -spec.max_roll, spec.max_roll)
    return {"off_axis_deg": math.degrees(theta), "azimuth_deg": math.degrees(phi), "yaw_deg": math.degrees(yaw),
            "pitch_deg": math.degrees(pitch), "roll_deg": roll}


def _pose_rotation(ang: dict[str, float], u: float, v: float) -> F64:
    """Screen frame -> camera frame: yaw/pitch/roll about the line of sight through (u, v, 1)."""
    inner = _rot_z(math.radians(ang["roll_deg"])) @ _rot_x(math.radians(ang["pitch_deg"])) \
        @ _rot_y(math.radians(ang["yaw_deg"]))
    los = np.array([u, v, 1.0]) / math.sqrt(u * u + v * v + 1.0)
    return np.asarray(_rot_between(np.array([0.0, 0.0, 1.0]), los) @ inner, dtype=np.float64)


def _fit_pose(rng: np.random.Generator, spec: _Level, cam: dict[str, Any], k: F64, ang: dict[str, float],
              half: tuple[float, float]) -> dict[str, Any]:
    """Distance and placement so the screen is as wide as drawn and fully inside the frame."""
    rw, rh = cam["render_size"]
    f = cam["focal_px"]
    hw, hh = half
    corners = np.array([[-hw, -hh, 0.0], [hw, -hh, 0.0], [hw, hh, 0.0], [-hw, hh, 0.0]])
    target0 = _u(rng, *spec.width)
    # placement of the screen's bounding box in the frame (0..1 of the free room); centred more often
    place = ((rng.random() + rng.random()) / 2.0, (rng.random() + rng.random()) / 2.0)
    margin = 0.02 * min(rw, rh)

    def project(d: float, u: float, v: float) -> F64:
        rot = _pose_rotation(ang, u, v)
        pc = corners @ rot.T + d * np.array([u, v, 1.0])
        q = pc @ k.T
        return np.asarray(q[:, :2] / q[:, 2:3], dtype=np.float64)

    def fit_distance(target: float, u: float, v: float) -> float:
        d = f * 2 * hw / (target * rw)
        for _ in range(12):
            x = project(d, u, v)
            d *= float(np.ptp(x[:, 0])) / (target * rw)
        return d

    target = target0
    for _ in range(40):
        d = fit_distance(target, 0.0, 0.0)
        x = project(d, 0.0, 0.0)
        lo, hi = x.min(axis=0), x.max(axis=0)
        free = np.array([rw - 1, rh - 1]) - 2 * margin - (hi - lo)
        if np.all(free > 0):
            shift = margin + free * np.array(place) - lo
            u, v = float(shift[0] / f), float(shift[1] / f)
            for _ in range(8):
                d = fit_distance(target, u, v)
                x = project(d, u, v)
                if x[:, 0].min() >= margin and x[:, 1].min() >= margin \
                        and x[:, 0].max() <= rw - 1 - margin and x[:, 1].max() <= rh - 1 - margin:
                    return {"distance_m": d, "los": [u, v], "width_target": target0,
                            "width_fraction": float(np.ptp(x[:, 0])) / rw, "placement": list(place)}
                u, v = 0.5 * u, 0.5 * v
        target *= 0.95
    raise RuntimeError("scenes_b: no pose fits the frame")  # pragma: no cover - margins make this unreachable


# ----------------------------------------------------------------------------- the scene

@dataclass
class _Scene:
    cam: _Camera
    canvas_size: tuple[int, int]
    screen_h: F64            # screen px -> canvas px (pre-distortion)
    face_h: F64              # face-source px -> canvas px
    room_from_screen: F64    # rotation screen frame -> room frame
    half: tuple[float, float]
    face_half: tuple[float, float, float, float]  # left, top, right, bottom extents (m) of the face
    display_quad: F64        # canvas polygon of the displayed image


def _display_radiance(img: NDArray[np.uint8], disp: dict[str, Any], e_room: F64, white_rgb: F64,
                      falloff: F32) -> F32:
    """Linear radiance (nits) of the displayed image, including the room's diffuse reflection."""
    v = np.arange(256) / 255.0
    bl = disp["black_level"]
    curve = bl + (1.0 - bl) * v ** disp["gamma"]
    out = np.empty(img.shape, np.float32)
    amb = disp["surface_reflectance"] * e_room / math.pi
    for c in range(3):
        lut = (disp["white_nits"] * white_rgb[c] * curve).astype(np.float32)
        out[..., c] = lut[img[..., c]] * falloff + np.float32(amb[c])
    return out


def _glare(rng: np.random.Generator, spec: _Level, gw: int, gh: int, disp_box: tuple[float, float, float, float],
           info: dict[str, Any]) -> F32 | None:
    """Additive glare (unit amplitude) on a coarse ``gw x gh`` grid of the face, crossing a display edge."""
    if rng.random() >= spec.glare:
        return None
    x0, y0, x1, y1 = disp_box
    kind = _pick(rng, ["blob", "band", "wash"], [0.45, 0.35, 0.2])
    edge = _pick(rng, ["top", "bottom", "left", "right"])
    t = _u(rng, 0.1, 0.9)
    ex, ey = {"top": (x0 + t * (x1 - x0), y0), "bottom": (x0 + t * (x1 - x0), y1),
              "left": (x0, y0 + t * (y1 - y0)), "right": (x1, y0 + t * (y1 - y0))}[edge]
    xs = np.arange(gw, dtype=np.float32)[None, :]
    ys = np.arange(gh, dtype=np.float32)[:, None]
    size = max(x1 - x0, y1 - y0)
    if kind == "blob":
        sigma = _u(rng, 0.05, 0.2) * size
        cx, cy = ex + rng.normal(0, 0.3) * sigma, ey + rng.normal(0, 0.3) * sigma
        g = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / np.float32(2 * sigma * sigma))
        info.update(sigma_frac=sigma / size, centre=[cx, cy])
    elif kind == "band":
        ang = math.radians(_u(rng, 20.0, 160.0))
        width = _u(rng, 0.03, 0.12) * size
        dist = (xs - ex) * np.float32(-math.sin(ang)) + (ys - ey) * np.float32(math.cos(ang))
        g = np.exp(-dist ** 2 / np.float32(2 * width * width))
        info.update(angle_deg=math.degrees(ang), width_frac=width / size, through=[ex, ey])
    else:
        extent = _u(rng, 0.2, 0.6) * size
        inward = {"top": (ys - y0) + 0 * xs, "bottom": (y1 - ys) + 0 * xs,
                  "left": (xs - x0) + 0 * ys, "right": (x1 - xs) + 0 * ys}[edge]
        g = np.clip(1.0 - (inward + 0.15 * extent) / np.float32(extent), 0.0, 1.0) ** 2
        info.update(extent_frac=extent / size)
    info.update(kind=kind, edge=edge, amplitude_frac=_u(rng, 0.15, 1.0) * (0.6 if kind != "blob" else 1.0))
    return np.asarray(g, np.float32)


def _render(rng: np.random.Generator, spec: _Level, img: NDArray[np.uint8], cam_p: dict[str, Any],
            disp: dict[str, Any], params: dict[str, Any]) -> tuple[F32, _Scene, dict[str, float]]:
    H, W = img.shape[:2]
    rw, rh = cam_p["render_size"]
    f = cam_p["focal_px"]
    cx = (rw - 1) / 2.0 + cam_p["principal_offset"][0] * rw
    cy = (rh - 1) / 2.0 + cam_p["principal_offset"][1] * rh
    k = np.array([[f, 0.0, cx], [0.0, f, cy], [0.0, 0.0, 1.0]])
    p_m = disp["pixel_pitch_mm"] / 1000.0
    half = (W * p_m / 2.0, H * p_m / 2.0)

    ang = _draw_angles(rng, spec)
    pose = _fit_pose(rng, spec, cam_p, k, ang, half)
    u, v = pose["los"]
    r_cs = _pose_rotation(ang, u, v)
    t_cs = pose["distance_m"] * np.array([u, v, 1.0])
    n_cam = r_cs @ np.array([0.0, 0.0, 1.0])
    pose.update(ang)
    pose["view_angle_deg"] = math.degrees(math.acos(float(np.clip(n_cam @ t_cs / np.linalg.norm(t_cs), -1, 1))))
    params["pose"] = pose

    # screen px -> render px (pre-distortion)
    e1s, e2s = r_cs[:, 0] * p_m, r_cs[:, 1] * p_m
    origin = t_cs - r_cs[:, 0] * half[0] + r_cs[:, 0] * (p_m / 2) - r_cs[:, 1] * half[1] + r_cs[:, 1] * (p_m / 2)
    h_render = k @ np.column_stack([e1s, e2s, origin])
    h_render /= h_render[2, 2]

    # distortion and the canvas that covers it
    rn = 0.5 * math.hypot(rw, rh)
    k1, k2 = cam_p["k1"], cam_p["k2"]
    bx = np.r_[np.linspace(0, rw - 1, 65), np.full(65, rw - 1.0), np.linspace(0, rw - 1, 65), np.zeros(65)]
    by = np.r_[np.zeros(65), np.linspace(0, rh - 1, 65), np.full(65, rh - 1.0), np.linspace(0, rh - 1, 65)]
    rho2 = ((bx - cx) ** 2 + (by - cy) ** 2) / rn ** 2
    fac = 1 + k1 * rho2 + k2 * rho2 ** 2
    ux, uy = cx + (bx - cx) * fac, cy + (by - cy) * fac
    ox, oy = float(math.ceil(-ux.min()) + 3), float(math.ceil(-uy.min()) + 3)
    cw, ch = int(math.ceil(ux.max() + ox)) + 4, int(math.ceil(uy.max() + oy)) + 4
    params["geometry"] = {"render_homography": h_render.tolist(), "distortion_centre": [cx, cy],
                          "distortion_radius": rn, "k1": k1, "k2": k2, "render_size": [rw, rh],
                          "canvas_offset": [ox, oy], "canvas_size": [cw, ch]}

    # room frame: screen centre at the origin, Y down, Z away from the camera; the screen leans back by tilt
    tilt = math.radians(disp["tilt_deg"])
    r_tilt = _rot_x(-tilt)
    cam = _Camera(K=k, R=r_cs @ r_tilt.T, t=t_cs, ox=ox, oy=oy)
    screen_h = _translate(ox, oy) @ h_render
    disp_corners = np.array([[-0.5, -0.5], [W - 0.5, -0.5], [W - 0.5, H - 0.5], [-0.5, H - 0.5]])
    display_quad = _apply_h(screen_h, disp_corners)

    # ---------------- light
    room: dict[str, Any] = {}
    kind = _pick(rng, ["dim", "normal", "bright"], spec.light)
    lux = {"dim": _logu(rng, 4.0, 60.0), "normal": _logu(rng, 100.0, 500.0), "bright": _logu(rng, 500.0, 2000.0)}[kind]
    light_k = {"dim": _u(rng, 2700.0, 4000.0), "normal": _u(rng, 3000.0, 6500.0),
               "bright": _u(rng, 4500.0, 6500.0)}[kind]
    c_room = np.array(_light_rgb(light_k))
    e_v, e_h = lux * _u(rng, 0.35, 0.8), lux * _u(rng, 0.8, 1.3)
    room.update(kind=kind, illuminance_lux=lux, light_K=light_k, wall_lux=e_v, desk_lux=e_h)
    params["room"] = room
    c_screen = np.array(_light_rgb(disp["white_point_K"]))
    e_room_v = e_v * c_room  # RGB illuminance on vertical surfaces

    # ---------------- the monitor face (source in screen px, with bezel)
    bez = disp["bezel"]
    bl_, bt_, br_, bb_ = bez["widths_px"]
    pad = 2
    fw, fh = W + bl_ + br_ + 2 * pad, H + bt_ + bb_ + 2 * pad
    face_h = screen_h @ _translate(-(bl_ + pad), -(bt_ + pad))
    face_half = (half[0] + bl_ * p_m, half[1] + bt_ * p_m, half[0] + br_ * p_m, half[1] + bb_ * p_m)
    fl, ft, fr, fb = face_half
    face3 = np.array([[-fl, -ft, 0.0], [fr, -ft, 0.0], [fr, fb, 0.0], [-fl, fb, 0.0]]) @ r_tilt.T  # room coords

    # viewing-angle falloff of the panel, on a coarse grid
    gx, gy = np.meshgrid(np.linspace(-half[0], half[0], 33), np.linspace(-half[1], half[1], 19))
    pts_s = np.stack([gx.ravel(), gy.ravel(), np.zeros(gx.size)], axis=1)
    c_s = -r_cs.T @ t_cs  # camera centre, screen frame
    dirs = c_s - pts_s
    cosv = np.clip(-dirs[:, 2] / np.linalg.norm(dirs, axis=1), 0.05, 1.0)
    fall = (cosv ** disp["angle_falloff"]).reshape(19, 33).astype(np.float32)
    fall = cv2.resize(fall, (W, H), interpolation=cv2.INTER_LINEAR)

    radiance = _display_radiance(img, disp, e_room_v, c_screen, fall)
    face = np.zeros((fh, fw, 4), np.float32)
    bez_rgb = np.array(bez["reflectance"]) * e_room_v / math.pi
    face[pad:fh - pad, pad:fw - pad, :3] = bez_rgb.astype(np.float32)
    face[pad:fh - pad, pad:fw - pad, 3] = 1.0
    ib = bez["inner_border_px"]
    if ib > 0:
        inner_rgb = 0.025 * e_room_v / math.pi + 0.002 * disp["white_nits"] * c_screen
        y0i, x0i = max(pad, pad + bt_ - ib), max(pad, pad + bl_ - ib)
        face[y0i:pad + bt_ + H + ib, x0i:pad + bl_ + W + ib, :3] = inner_rgb.astype(np.float32)
    face[pad + bt_:pad + bt_ + H, pad + bl_:pad + bl_ + W, :3] = radiance
    disp["bezel_nits"] = _luma(bez_rgb)
    disp["screen_white_radiance_nits"] = disp["white_nits"] * float(np.mean(fall))

    glare_info: dict[str, Any] = {}
    gs = 8
    gwc, ghc = max(2, fw // gs), max(2, fh // gs)
    disp_box = ((pad + bl_) / gs, (pad + bt_) / gs, (pad + bl_ + W) / gs, (pad + bt_ + H) / gs)
    g = _glare(rng, spec, gwc, ghc, disp_box, glare_info)
    if g is not None:
        glare_col = np.array(_light_rgb(light_k if rng.random() < 0.6 else 6500.0))
        amp = glare_info["amplitude_frac"] * disp["white_nits"]
        g_full = cv2.resize(g, (fw, fh), interpolation=cv2.INTER_LINEAR)
        face[..., :3] += (g_full[..., None] * (amp * glare_col).astype(np.float32)[None, None, :]) \
            * face[..., 3:4]
        glare_info["amplitude_nits"] = amp
    params["glare"] = glare_info or None
    face[..., :3] *= face[..., 3:4]  # premultiplied

    # prefilter the face to its largest scale in the photo (no point sampling of fine text when minified)
    fcorn = np.array([[0, 0], [fw - 1, 0], [fw - 1, fh - 1], [0, fh - 1]], np.float64)
    scales = []
    for x, y in fcorn:
        eps = 1.0
        q0 = _apply_h(face_h, np.array([[x, y], [x + eps, y], [x, y + eps]]))
        jac = np.array([q0[1] - q0[0], q0[2] - q0[0]])
        scales.append(math.sqrt(abs(float(np.linalg.det(jac)))))
    q = min(1.0, max(scales))
    face_src, face_hq = face, face_h
    if q < 0.9:
        qw, qh = max(2, int(round(fw * q))), max(2, int(round(fh * q)))
        face_src = np.asarray(cv2.resize(face, (qw, qh), interpolation=cv2.INTER_AREA), np.float32)
        face_hq = face_h @ np.linalg.inv(_resize_map(qw / fw, qh / fh))
    params["display_render"] = {"prefilter_scale": q, "scale_range": [min(scales), max(scales)]}

    # ---------------- optics of depth
    f_mm, n_f = cam_p["focal_mm"], cam_p["f_number"]
    pitch_mm = cam_p["pixel_pitch_um"] / 1000.0
    d_focus = float(np.linalg.norm(t_cs)) * 1000.0
    rscale = cam_p["render_scale"]

    def defocus_sigma(dist_m: float) -> float:
        d_obj = max(dist_m * 1000.0, 2 * f_mm)
        c = (f_mm / n_f) * f_mm / max(d_focus - f_mm, 1.0) * abs(d_obj - d_focus) / d_obj / pitch_mm
        return c / 4.0 * rscale

    # ---------------- background: the wall
    scene = params["scene"] = {"setup": disp["setup"]}
    setup = disp["setup"]
    z_wall = {"desk": _u(rng, 0.2, 1.5), "laptop": _u(rng, 0.3, 2.5), "wall_mounted": _u(rng, 0.03, 0.08),
              "floating": _u(rng, 0.3, 3.0)}[setup]
    wall_yaw = 0.0 if rng.random() < 0.5 else _u(rng, -25.0, 25.0)
    n_w = _rot_y(math.radians(wall_yaw)) @ np.array([0.0, 0.0, -1.0])
    cam_axis = cam.R.T @ np.array([0.0, 0.0, 1.0])
    canvas_corners = np.array([[0.0, 0.0], [cw - 1.0, 0.0], [cw - 1.0, ch - 1.0], [0.0, ch - 1.0]])
    crays = cam.rays(canvas_corners)
    turned = 0.0
    for beta in np.linspace(0.0, 1.0, 21):
        n_try = (1 - beta) * n_w + beta * (-cam_axis)
        n_try /= np.linalg.norm(n_try)
        if np.all(-(crays @ n_try) >= math.cos(math.radians(75.0))):
            n_w, turned = n_try, float(beta)
            break
    # the wall plane through (0, 0, z_wall), pushed back so the monitor and its stand stay in front of it
    w_origin = np.array([0.0, 0.0, z_wall])
    body = face3 + np.array([0.0, 0.0, disp["body_depth_m"] + 0.02])
    front = (body - w_origin) @ n_w
    if front.min() < 0.02:
        w_origin = w_origin - n_w * (0.02 - front.min())
    e1w = np.cross(np.array([0.0, 1.0, 0.0]), n_w)
    e1w /= np.linalg.norm(e1w)
    if e1w[0] < 0:
        e1w = -e1w
    e2w = np.cross(n_w, e1w)
    if e2w[1] < 0:
        e2w = -e2w
    los_room = cam.R.T @ (t_cs / np.linalg.norm(t_cs))
    wall_dist = float(((w_origin - cam.centre) @ n_w) / (los_room @ n_w))  # along the line of sight
    sig_wall = defocus_sigma(wall_dist)
    s_bg = 1.0 if sig_wall < 2.5 else (0.5 if sig_wall < 6.0 else 0.25)
    if max(cw, ch) > 3000:  # a 12 MP canvas: the wall at half resolution (its finest grain is below the psf)
        s_bg = min(s_bg, 0.5)
    bw_, bh_ = max(8, int(round(cw * s_bg))), max(8, int(round(ch * s_bg)))
    s_map = _resize_map(bw_ / cw, bh_ / ch)
    wall_kind = _pick(rng, _WALL_KINDS, _WALL_KIND_P)
    wall_info: dict[str, Any] = {"kind": wall_kind, "distance_m": z_wall, "yaw_deg": wall_yaw,
                                 "turned_to_camera": turned, "defocus_sigma_px": sig_wall, "render_scale": s_bg}
    scene["wall"] = wall_info
    bg = np.zeros((bh_, bw_, 3), np.float32)
    bg_layer = _Layer(bg)
    h_wall = s_map @ cam.plane_h(w_origin, e1w, e2w)  # wall metres -> bg px
    # the wall extent in view, on the plane
    qb = np.array([[x, y] for x in np.linspace(0, cw - 1, 9) for y in np.linspace(0, ch - 1, 9)])
    ab, _ = _plane_hits(cam, qb, w_origin, n_w, e1w, e2w)
    a_lo, b_lo = ab.min(axis=0) - 0.05
    a_hi, b_hi = ab.max(axis=0) + 0.05
    a_hi, b_hi = min(a_hi, a_lo + 15.0), min(b_hi, b_lo + 15.0)
    natural = None
    if wall_kind in ("photo_mural", "photo_backdrop"):
        natural = _natural(rng, wall_info)
        if natural is None:
            wall_kind = wall_info["kind"] = "plaster"
    if wall_kind == "photo_backdrop" and natural is not None:
        zoom = _u(rng, 1.0, 2.5)
        nh, nw = natural.shape[:2]
        cover = max(bw_ / nw, bh_ / nh) * zoom
        sw_, sh_ = bw_ / cover, bh_ / cover
        x0n, y0n = _u(rng, 0, nw - sw_), _u(rng, 0, nh - sh_)
        m = np.array([[cover, 0, -x0n * cover], [0, cover, -y0n * cover], [0, 0, 1.0]])
        refl = _u(rng, 0.5, 1.0)
        e_bg = e_v * _logu(rng, 0.5, 3.0)
        bg_layer.texture(None, natural, m, scale=refl * e_bg * c_room / math.pi)
        wall_info.update(zoom=zoom, reflectance_scale=refl, lux=e_bg)
    else:
        if wall_kind == "photo_mural" and natural is not None:
            tex = natural * np.float32(_u(rng, 0.55, 0.95))
            mural_w = _u(rng, 0.8, 3.0)
            s_tex = mural_w / tex.shape[1]
            ta0, tb0 = _u(rng, -mural_w, 0.0), _u(rng, -0.8 * mural_w, 0.0)
            wall_info.update(mural_width_m=mural_w)
        else:
            s_tex = max((a_hi - a_lo) / 1600.0, (b_hi - b_lo) / 1600.0,
                        wall_dist / (cam_p["focal_px"] * s_bg) * 0.7, 0.0005)
            tw = int(math.ceil((a_hi - a_lo) / s_tex)) + 2
            th = int(math.ceil((b_hi - b_lo) / s_tex)) + 2
            ta0, tb0 = a_lo, b_lo
            tex = _wall_texture(rng, wall_kind, tw, th, s_tex, ta0, tb0, wall_info)
        h_tex = h_wall @ np.array([[s_tex, 0, ta0], [0, s_tex, tb0], [0, 0, 1.0]])
        # illumination over the wall: gradient and a lamp spot, in wall coordinates
        grid = np.array([[x, y] for y in np.linspace(0, ch - 1, 24) for x in np.linspace(0, cw - 1, 32)])
        abg, _ = _plane_hits(cam, grid, w_origin, n_w, e1w, e2w)
        ga, gb = _u(rng, -0.25, 0.25), _u(rng, -0.3, 0.2)
        spot_amp = _u(rng, 0.0, 1.5) if rng.random() < 0.5 else 0.0
        spot_c = (_u(rng, -1.5, 1.5), _u(rng, -1.2, 0.3))
        spot_s = _u(rng, 0.3, 1.2)
        illum = (1 + ga * abg[:, 0] + gb * abg[:, 1]) * (
            1 + spot_amp * np.exp(-((abg[:, 0] - spot_c[0]) ** 2 + (abg[:, 1] - spot_c[1]) ** 2) / (2 * spot_s ** 2)))
        illum = np.clip(illum, 0.2, None).reshape(24, 32).astype(np.float32)
        wall_info.update(gradient=[ga, gb], spot={"amplitude": spot_amp, "centre_m": list(spot_c), "sigma_m": spot_s})
        bg_layer.texture(None, np.asarray(tex, np.float32), h_tex, scale=e_v * c_room / math.pi)
        bg *= cv2.resize(illum, (bw_, bh_), interpolation=cv2.INTER_LINEAR)[..., None]
        def wall_poly(a0: float, b0: float, a1: float, b1: float) -> F64 | None:
            corners = np.array([[a0, b0], [a1, b0], [a1, b1], [a0, b1]])
            poly = cam.project_poly(w_origin + corners[:, :1] * e1w + corners[:, 1:] * e2w)
            return None if poly is None else _apply_h(s_map, poly)

        _wall_distractors(rng, spec, bg_layer, h_wall, wall_poly, (a_lo, a_hi, b_lo, b_hi), e_v, c_room, scene)
    bg = _gauss_blur(bg, sig_wall * s_bg)
    canvas = np.asarray(cv2.resize(bg, (cw, ch), interpolation=cv2.INTER_LINEAR), np.float32) \
        if (bw_, bh_) != (cw, ch) else bg
    del bg
    layer = _Layer(canvas)

    # ---------------- furniture (room coordinates)
    y_face_bottom = float(face3[2:, 1].max())
    cam_c = cam.centre
    front_objs: list[tuple[F64, F64]] = []  # (3-D polygon, RGB luminance), back to front
    mid_after: list[tuple[F64, F64]] = []
    screen_lum = disp["white_nits"] * 0.75
    screen_area = 4 * half[0] * half[1]
    n_screen = r_tilt @ np.array([0.0, 0.0, -1.0])

    def spill(p: F64, normal: F64) -> float:
        d = -p  # from the point to the screen centre
        dist = float(np.linalg.norm(d)) + 1e-6
        cos_s = max(0.0, float(-d @ n_screen) / dist)
        cos_p = max(0.0, float(d @ normal) / dist)
        return screen_lum * screen_area * cos_s * cos_p / max(dist * dist, 0.01)

    up = np.array([0.0, -1.0, 0.0])

    def lum_h(refl: Sequence[float] | F64, p: F64) -> F64:
        return np.asarray(refl) * (e_h * c_room + spill(p, up) * c_screen) / math.pi

    def lum_v(refl: Sequence[float] | F64, p: F64) -> F64:
        toward = cam_c - p
        toward[1] = 0
        nrm = toward / (np.linalg.norm(toward) + 1e-9)
        return np.asarray(refl) * (e_v * c_room + spill(p, nrm) * c_screen) / math.pi

    desk_info: dict[str, Any] | None = None
    objects: list[dict[str, Any]] = []
    if setup in ("desk", "laptop"):
        stand_gap = _u(rng, 0.05, 0.2) if setup == "desk" else 0.0
        y_desk = y_face_bottom + stand_gap + (0.015 if setup == "laptop" else 0.0)
        if cam_c[1] > y_desk - 0.03:
            scene["desk_skipped"] = "camera below the desk top"
        else:
            desk_info = _desk(rng, layer, cam, y_desk, z_wall, w_origin, n_w, e_h, c_room, c_screen, spill,
                              lum_v, half)
            if setup == "desk":
                neck_w = _u(rng, 0.04, 0.1)
                stand_refl = bez["reflectance"] if rng.random() < 0.5 else _BEZELS["silver"]
                zn = float(face3[:, 2].max()) + disp["body_depth_m"] * 0.6
                neck = np.array([[-neck_w / 2, -0.05, zn], [neck_w / 2, -0.05, zn],
                                 [neck_w / 2, y_desk, zn + 0.02], [-neck_w / 2, y_desk, zn + 0.02]])
                base_w, base_d = _u(rng, 0.18, 0.28), _u(rng, 0.12, 0.22)
                yb = y_desk - 0.01
                base = np.array([[-base_w / 2, yb, zn - base_d / 2], [base_w / 2, yb, zn - base_d / 2],
                                 [base_w / 2, yb, zn + base_d / 2], [-base_w / 2, yb, zn + base_d / 2]])
                layer.fill(cam.project_poly(base), lum_h(stand_refl, base.mean(axis=0)))
                layer.fill(cam.project_poly(neck), lum_v(np.asarray(stand_refl) * 0.8, neck.mean(axis=0)))
                desk_info["stand"] = {"neck_m": neck_w, "base_m": [base_w, base_d], "gap_m": stand_gap}
                front_objs += _desk_objects(rng, y_desk, lum_h, lum_v, objects, laptop=False)
            else:
                front_objs += _laptop_base(rng, face3, y_face_bottom, bez["reflectance"], lum_h, lum_v, objects)
                front_objs += _desk_objects(rng, y_desk, lum_h, lum_v, objects, laptop=True)
    scene["desk"] = desk_info

    # ---------------- a second monitor, switched off
    second = None
    if setup in ("desk", "floating") and rng.random() < 0.25:
        side = 1.0 if rng.random() < 0.5 else -1.0
        w2 = (fl + fr) * _u(rng, 0.8, 1.1)
        h2 = (ft + fb) * w2 / (fl + fr)
        ang2 = math.radians(_u(rng, 10.0, 35.0))
        gap = _u(rng, 0.01, 0.05)
        xh = (fr + gap) if side > 0 else -(fl + gap)
        e1 = np.array([side * math.cos(ang2), 0.0, -math.sin(ang2)])
        e2 = r_tilt @ np.array([0.0, 1.0, 0.0])
        top = np.array([xh, -ft, 0.0])
        outer = np.array([top, top + w2 * e1, top + w2 * e1 + h2 * e2, top + h2 * e2])
        b2 = _u(rng, 0.005, 0.02)
        inner = np.array([top + b2 * e1 + b2 * e2, top + (w2 - b2) * e1 + b2 * e2,
                          top + (w2 - b2) * e1 + (h2 - 2 * b2) * e2, top + b2 * e1 + (h2 - 2 * b2) * e2])
        refl_b = np.asarray(bez["reflectance"]) if rng.random() < 0.7 else np.asarray(_BEZELS["black"])
        glass = _u(rng, 0.015, 0.04)
        items: list[tuple[F64, F64]] = [(outer, lum_v(refl_b, outer.mean(axis=0))),
                                        (inner, lum_v([glass] * 3, inner.mean(axis=0)))]
        depth2 = float(cam.to_cam(outer.mean(axis=0, keepdims=True))[0, 2])
        second = {"side": "right" if side > 0 else "left", "turn_deg": math.degrees(ang2), "width_m": w2,
                  "bezel_m": b2, "glass_reflectance": glass}
        if depth2 > float(t_cs[2]):
            for poly3, col in items:
                layer.fill(cam.project_poly(poly3), col)
            second["drawn"] = "behind"
        else:
            mid_after += _obj(items)
            second["drawn"] = "in front"
    scene["second_monitor"] = second

    # ---------------- the monitor: body, then the face in one warp
    back = (face3 * np.array([0.92, 0.92, 1.0])) + r_tilt @ np.array([0.0, 0.0, disp["body_depth_m"]])
    hull_pts = cam.project(np.r_[face3, back])
    hull = cv2.convexHull(hull_pts.astype(np.float32)).reshape(-1, 2).astype(np.float64)
    body_refl = np.asarray(bez["reflectance"]) * 0.7 if bez["colour"] != "none" else np.array([0.03, 0.03, 0.03])
    layer.fill(hull, body_refl * e_room_v / math.pi)
    fq = _apply_h(face_hq, np.array([[0, 0], [face_src.shape[1] - 1, 0],
                                     [face_src.shape[1] - 1, face_src.shape[0] - 1], [0, face_src.shape[0] - 1]],
                                    np.float64))
    box = _bbox(fq, cw, ch, pad=3)
    if box is not None:
        x0, y0, x1, y1 = box
        warped = cv2.warpPerspective(face_src, _translate(-x0, -y0) @ face_hq, (x1 - x0, y1 - y0),
                                     flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        warped = np.asarray(warped, np.float32)
        reg = canvas[y0:y1, x0:x1]
        reg *= 1.0 - warped[..., 3:4]
        reg += warped[..., :3]
    del face, face_src

    # ---------------- things in front (nearer than the screen), kept off the displayed image
    dq = display_quad.astype(np.float32)
    kept: list[tuple[F64, F64]] = []
    dropped = 0
    for group in _groups(mid_after + front_objs):
        polys = [(cam.project_poly(p3), col) for p3, col in group]
        hit = False
        for p2, _c in polys:
            if p2 is None or len(p2) < 3:
                continue
            inter, _ = cv2.intersectConvexConvex(dq, cv2.convexHull(p2.astype(np.float32)))
            if inter > 0.5:
                hit = True
                break
        if hit:
            dropped += 1
            continue
        kept += [(p2, c) for p2, c in polys if p2 is not None]
    scene["objects"] = objects
    scene["objects_dropped_for_occlusion"] = dropped
    front_info: dict[str, float] = {"sigma_px": 0.0}
    if kept:
        allp = np.concatenate([p for p, _ in kept])
        fbox = _bbox(allp, cw, ch, pad=8)
        if fbox is not None:
            x0, y0, x1, y1 = fbox
            buf = np.zeros((y1 - y0, x1 - x0, 3), np.float32)
            alpha = np.zeros((y1 - y0, x1 - x0), np.float32)
            fl_ = _Layer(buf, alpha)
            for p2, col in kept:
                fl_.fill(p2 - [x0, y0], col)
            if front_objs:
                centre = np.mean([p.mean(axis=0) for p, _ in front_objs if len(p)], axis=0)
                sig_front = defocus_sigma(float(np.linalg.norm(cam.to_cam(centre[None])[0])))
            else:
                sig_front = 0.0
            buf = _gauss_blur(buf, sig_front)
            alpha = _gauss_blur(alpha, sig_front)
            reg = canvas[y0:y1, x0:x1]
            reg *= 1.0 - alpha[..., None]
            reg += buf
            front_info["sigma_px"] = sig_front
    params["optics_depth"] = {"focus_distance_m": d_focus / 1000.0, "wall_defocus_px": sig_wall,
                              "front_defocus_px": front_info["sigma_px"]}

    sc = _Scene(cam=cam, canvas_size=(cw, ch), screen_h=screen_h, face_h=face_h, room_from_screen=r_tilt,
                half=half, face_half=face_half, display_quad=display_quad)
    return canvas, sc, {"lux": lux}


def _groups(items: list[tuple[F64, F64]]) -> list[list[tuple[F64, F64]]]:
    """Split a flat list of (polygon, colour) into objects, which ``_obj`` ends with a sentinel."""
    groups: list[list[tuple[F64, F64]]] = []
    cur: list[tuple[F64, F64]] = []
    for p, c in items:
        if p is _SENTINEL:
            if cur:
                groups.append(cur)
            cur = []
            continue
        cur.append((p, c))
    if cur:
        groups.append(cur)
    return groups


_SENTINEL: F64 = np.zeros((0, 3))


def _obj(polys: list[tuple[F64, F64]]) -> list[tuple[F64, F64]]:
    """One object (a group of polygons dropped together) followed by the group separator."""
    return polys + [(_SENTINEL, _SENTINEL)]


def _desk(rng: np.random.Generator, layer: _Layer, cam: _Camera, y_desk: float, z_wall: float, w_origin: F64,
          n_w: F64, e_h: float, c_room: F64, c_screen: F64, spill: Any, lum_v: Any,
          half: tuple[float, float]) -> dict[str, Any]:
    width = _u(rng, 1.2, 2.0)
    xc = _u(rng, -0.3, 0.3)
    z_front = -_u(rng, 0.35, 0.8)
    z_back = min(_u(rng, 0.15, 0.5), z_wall - 0.01)
    x0, x1 = xc - width / 2, xc + width / 2
    # keep the desk in front of the wall (the wall may be turned)
    top = np.array([[x0, y_desk, z_front], [x1, y_desk, z_front], [x1, y_desk, z_back], [x0, y_desk, z_back]])
    for i in (2, 3):
        dist = float((top[i] - w_origin) @ n_w)
        if dist < 0.005:
            top[i] = top[i] - n_w * (dist - 0.005) * 1.0
    kind = _pick(rng, ["wood", "white", "grey", "black", "light wood"], [0.4, 0.2, 0.15, 0.1, 0.15])
    s = 0.004
    tw, th = int(math.ceil(width / s)) + 2, int(math.ceil((z_back - z_front) / s)) + 2
    tw, th = min(tw, 700), min(th, 400)
    sx, sz = width / (tw - 2), (z_back - z_front) / (th - 2)
    if kind == "wood":
        info_w: dict[str, Any] = {}
        refl = _wall_texture(rng, "wood", tw, th, (sx + sz) / 2, 0.0, 0.0, info_w)
    else:
        base = {"white": (0.7, 0.7, 0.68), "grey": (0.3, 0.3, 0.3), "black": (0.05, 0.05, 0.05),
                "light wood": (0.55, 0.42, 0.28)}[kind]
        n = _fractal(rng, th, tw, (60.0, 8.0), (1.0, 0.5))
        refl = np.asarray(np.array(base, np.float32)[None, None, :] * (1 + 0.03 * n)[..., None], np.float32)
    # illumination: room light plus the screen's spill, on a coarse grid of the desk
    zs = np.linspace(z_front, z_back, 12)
    xs = np.linspace(x0, x1, 16)
    sp = np.array([[spill(np.array([x, y_desk, z]), np.array([0.0, -1.0, 0.0])) for x in xs] for z in zs])
    sp_full = cv2.resize(sp.astype(np.float32), (tw, th), interpolation=cv2.INTER_LINEAR)
    lumin = refl * ((e_h * c_room).astype(np.float32)[None, None, :]
                    + sp_full[..., None] * c_screen.astype(np.float32)[None, None, :]) / np.float32(math.pi)
    h_plane = cam.plane_h(np.array([x0, y_desk, z_front]), np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.0, 1.0]))
    h_tex = h_plane @ np.array([[sx, 0, 0], [0, sz, 0], [0, 0, 1.0]])
    layer.texture(cam.project_poly(top), np.asarray(lumin, np.float32), h_tex, border=cv2.BORDER_REPLICATE)
    thick = _u(rng, 0.02, 0.04)
    fface = np.array([[x0, y_desk, z_front], [x1, y_desk, z_front], [x1, y_desk + thick, z_front],
                      [x0, y_desk + thick, z_front]])
    mean_refl = refl.reshape(-1, 3).mean(axis=0)
    layer.fill(cam.project_poly(fface), lum_v(mean_refl * 0.8, fface.mean(axis=0)))
    return {"kind": kind, "width_m": width, "front_m": z_front, "back_m": z_back, "height_m": y_desk,
            "thickness_m": thick}


def _box_top(x: float, z: float, w: float, d: float, y: float, rot: float = 0.0) -> F64:
    c, s = math.cos(rot), math.sin(rot)
    pts = np.array([[-w / 2, -d / 2], [w / 2, -d / 2], [w / 2, d / 2], [-w / 2, d / 2]])
    pts = pts @ np.array([[c, -s], [s, c]]).T
    return np.array([[x + px, y, z + pz] for px, pz in pts])


def _desk_objects(rng: np.random.Generator, y_desk: float, lum_h: Any, lum_v: Any, names: list[dict[str, Any]],
                  laptop: bool) -> list[tuple[F64, F64]]:
    out: list[tuple[F64, F64]] = []
    if not laptop and rng.random() < 0.7:
        kw, kd, kh = _u(rng, 0.36, 0.45), _u(rng, 0.12, 0.16), _u(rng, 0.02, 0.03)
        kx, kz = _u(rng, -0.1, 0.1), -_u(rng, 0.18, 0.35)
        refl = _BEZELS[_pick(rng, ["black", "white", "silver"], [0.6, 0.25, 0.15])]
        yt = y_desk - kh
        top = _box_top(kx, kz, kw, kd, yt)
        frontf = np.array([top[0], top[1], top[1] + [0, kh, 0], top[0] + [0, kh, 0]])
        polys = [(frontf, lum_v(np.asarray(refl) * 0.7, frontf.mean(axis=0))), (top, lum_h(refl, top.mean(axis=0)))]
        key_refl = np.asarray(refl) * (1.6 if refl[0] < 0.2 else 0.85)
        nx, nz = 15, 5
        pw, pd = kw * 0.94 / nx, kd * 0.9 / nz
        for j in range(nz):
            for i in range(nx):
                px = kx - kw * 0.47 + (i + 0.5) * pw
                pz = kz - kd * 0.45 + (j + 0.5) * pd
                kq = _box_top(px, pz, pw * 0.8, pd * 0.8, yt - 0.004)
                polys.append((kq, lum_h(key_refl, kq.mean(axis=0))))
        out += _obj(polys)
        names.append({"kind": "keyboard", "at_m": [kx, kz], "size_m": [kw, kd, kh], "reflectance": refl[0]})
    if rng.random() < 0.6:
        mx, mz = _u(rng, 0.25, 0.45) * (1 if rng.random() < 0.8 else -1), -_u(rng, 0.15, 0.35)
        t = np.linspace(0, 2 * np.pi, 16, endpoint=False)
        ell = np.c_[mx + 0.03 * np.cos(t), np.full(16, y_desk - 0.03), mz + 0.055 * np.sin(t)]
        refl = _BEZELS[_pick(rng, ["black", "white", "silver"])]
        out += _obj([(ell, lum_h(refl, ell.mean(axis=0)))])
        names.append({"kind": "mouse", "at_m": [mx, mz], "reflectance": refl[0]})
    if rng.random() < 0.4:
        for _ in range(int(rng.integers(1, 4))):
            px, pz = _u(rng, -0.6, 0.6), -_u(rng, 0.1, 0.4)
            rot = _u(rng, -0.6, 0.6)
            sheet = _box_top(px, pz, 0.21, 0.297, y_desk - 0.001, rot)
            polys = [(sheet, lum_h([0.82, 0.82, 0.8], sheet.mean(axis=0)))]
            c, s = math.cos(rot), math.sin(rot)
            for li in range(int(rng.integers(6, 18))):
                lz = -0.12 + li * 0.013
                lw = _u(rng, 0.08, 0.16)
                line = np.array([[-0.08, lz], [-0.08 + lw, lz], [-0.08 + lw, lz + 0.004], [-0.08, lz + 0.004]])
                line = line @ np.array([[c, -s], [s, c]]).T
                l3 = np.array([[px + a, y_desk - 0.0015, pz + b] for a, b in line])
                polys.append((l3, lum_h([0.08, 0.08, 0.1], l3.mean(axis=0))))
            out += _obj(polys)
            names.append({"kind": "paper", "at_m": [px, pz], "turn_rad": rot, "lines": len(polys) - 1})
    if rng.random() < 0.3:
        gx, gz = _u(rng, -0.6, 0.6), -_u(rng, 0.05, 0.3)
        r_, hgt = 0.04, _u(rng, 0.08, 0.11)
        col = np.array(_PAINTS[_pick(rng, list(_PAINTS))])
        bodyq = np.array([[gx - r_, y_desk - hgt, gz], [gx + r_, y_desk - hgt, gz], [gx + r_, y_desk, gz],
                          [gx - r_, y_desk, gz]])
        t = np.linspace(0, 2 * np.pi, 16, endpoint=False)
        rim = np.c_[gx + r_ * np.cos(t), np.full(16, y_desk - hgt), gz + r_ * np.sin(t)]
        out += _obj([(bodyq, lum_v(col, bodyq.mean(axis=0))), (rim, lum_h(col * 0.3, rim.mean(axis=0)))])
        names.append({"kind": "mug", "at_m": [gx, gz], "height_m": hgt, "reflectance": col.tolist()})
    if rng.random() < 0.2:
        ph = _box_top(_u(rng, -0.5, 0.5), -_u(rng, 0.1, 0.35), 0.075, 0.15, y_desk - 0.008, _u(rng, -1, 1))
        out += _obj([(ph, lum_h([0.03, 0.03, 0.035], ph.mean(axis=0)))])
        names.append({"kind": "phone", "at_m": ph.mean(axis=0)[[0, 2]].tolist()})
    if rng.random() < 0.2:
        nb = _box_top(_u(rng, -0.6, 0.6), -_u(rng, 0.1, 0.4), 0.15, 0.21, y_desk - 0.01, _u(rng, -0.5, 0.5))
        cover = _pick(rng, ["navy", "terracotta", "forest", "charcoal"])
        out += _obj([(nb, lum_h(_PAINTS[cover], nb.mean(axis=0)))])
        names.append({"kind": "notebook", "at_m": nb.mean(axis=0)[[0, 2]].tolist(), "cover": cover})
    return out


def _laptop_base(rng: np.random.Generator, face3: F64, y_hinge: float, refl: Sequence[float], lum_h: Any,
                 lum_v: Any, names: list[dict[str, Any]]) -> list[tuple[F64, F64]]:
    x0, x1 = float(face3[:, 0].min()), float(face3[:, 0].max())
    z_h = float(face3[2:, 2].min())
    depth = (x1 - x0) * _u(rng, 0.62, 0.72)
    thick = 0.015
    top = np.array([[x0, y_hinge, z_h - depth], [x1, y_hinge, z_h - depth], [x1, y_hinge, z_h], [x0, y_hinge, z_h]])
    frontf = np.array([top[0], top[1], top[1] + [0, thick, 0], top[0] + [0, thick, 0]])
    w = x1 - x0
    kb = np.array([[x0 + 0.08 * w, y_hinge - 0.0005, z_h - 0.05], [x1 - 0.08 * w, y_hinge - 0.0005, z_h - 0.05],
                   [x1 - 0.08 * w, y_hinge - 0.0005, z_h - 0.05 - 0.4 * depth],
                   [x0 + 0.08 * w, y_hinge - 0.0005, z_h - 0.05 - 0.4 * depth]])
    xm = (x0 + x1) / 2
    tp = np.array([[xm - 0.12 * w, y_hinge - 0.0005, z_h - 0.6 * depth], [xm + 0.12 * w, y_hinge - 0.0005,
                                                                          z_h - 0.6 * depth],
                   [xm + 0.12 * w, y_hinge - 0.0005, z_h - 0.9 * depth], [xm - 0.12 * w, y_hinge - 0.0005,
                                                                         z_h - 0.9 * depth]])
    r = np.asarray(refl)
    polys = [(frontf, lum_v(r * 0.7, frontf.mean(axis=0))), (top, lum_h(r, top.mean(axis=0))),
             (kb, lum_h(np.array([0.03, 0.03, 0.035]), kb.mean(axis=0))), (tp, lum_h(r * 0.9, tp.mean(axis=0)))]
    names.append({"kind": "laptop base", "depth_m": depth, "reflectance": list(refl)})
    return _obj(polys)


def _wall_distractors(rng: np.random.Generator, spec: _Level, layer: _Layer, h_wall: F64, wall_poly: Any,
                      extent: tuple[float, float, float, float], e_v: float, c_room: F64,
                      scene: dict[str, Any]) -> None:
    """Windows, posters, whiteboards and frames on the wall plane (drawn on the background)."""
    a_lo, a_hi, b_lo, b_hi = extent
    n = int(rng.poisson(spec.distractors))
    out = []
    sky = np.array(_light_rgb(_u(rng, 6000.0, 9000.0)))
    for _ in range(min(n, 4)):
        kind = _pick(rng, ["window", "poster", "whiteboard", "frame"], [0.3, 0.3, 0.2, 0.2])
        w, h = {"window": (_u(rng, 0.6, 1.4), _u(rng, 0.8, 1.5)), "poster": (_u(rng, 0.4, 0.9), _u(rng, 0.5, 1.1)),
                "whiteboard": (_u(rng, 0.9, 1.8), _u(rng, 0.6, 1.2)),
                "frame": (_u(rng, 0.3, 0.6), _u(rng, 0.25, 0.5))}[kind]
        ac = _u(rng, a_lo, a_hi)
        lo_b, hi_b = max(b_lo, -1.2), min(b_hi, 0.4)  # the band of wall heights a distractor is hung in
        bc = _u(rng, lo_b, hi_b) if hi_b > lo_b else float(np.clip(0.0, b_lo, b_hi))
        a0, b0 = ac - w / 2, bc - h / 2
        info: dict[str, Any] = {"kind": kind, "centre_m": [ac, bc], "size_m": [w, h]}

        rect = wall_poly

        lum = e_v * c_room / math.pi
        if kind == "window":
            frame_r = _pick(rng, ["white", "wood", "dark"])
            fr_refl = {"white": (0.75, 0.75, 0.73), "wood": (0.3, 0.18, 0.1), "dark": (0.05, 0.05, 0.05)}[frame_r]
            layer.fill(rect(a0, b0, a0 + w, b0 + h), np.asarray(fr_refl) * lum)
            fw = _u(rng, 0.04, 0.08)
            nits = _logu(rng, 300.0, 8000.0)
            tex_h, tex_w = 96, 96
            yy = np.linspace(0, 1, tex_h, dtype=np.float32)[:, None] * np.ones((1, tex_w), np.float32)
            view = (1.0 - 0.4 * yy)[..., None] * sky.astype(np.float32)[None, None, :]
            if rng.random() < 0.35:  # blinds
                period = _u(rng, 0.03, 0.06) / h * tex_h
                slat = ((np.arange(tex_h) % period) < period * _u(rng, 0.5, 0.85)).astype(np.float32)
                view = view * (0.35 + 0.65 * slat)[:, None, None]
                info["blinds"] = True
            view = np.asarray(view * np.float32(nits), np.float32)
            gw_, gh_ = w - 2 * fw, h - 2 * fw
            hv = h_wall @ np.array([[gw_ / tex_w, 0, a0 + fw], [0, gh_ / tex_h, b0 + fw], [0, 0, 1.0]])
            layer.texture(rect(a0 + fw, b0 + fw, a0 + w - fw, b0 + h - fw), view, hv, border=cv2.BORDER_REPLICATE)
            bars = int(rng.integers(0, 3))
            for i in range(bars):
                xm = a0 + w * (i + 1) / (bars + 1)
                layer.fill(rect(xm - fw / 3, b0, xm + fw / 3, b0 + h), np.asarray(fr_refl) * lum)
            info.update(nits=nits, frame=frame_r, mullions=bars)
        elif kind == "whiteboard":
            layer.fill(rect(a0, b0, a0 + w, b0 + h), np.asarray(_BEZELS["silver"]) * lum)
            layer.fill(rect(a0 + 0.02, b0 + 0.02, a0 + w - 0.02, b0 + h - 0.02), np.array([0.8, 0.8, 0.8]) * lum)
        else:
            margin = _u(rng, 0.02, 0.06) if kind == "poster" else _u(rng, 0.02, 0.05)
            edge_col = (0.8, 0.8, 0.78) if kind == "poster" else (0.05, 0.04, 0.03)
            layer.fill(rect(a0, b0, a0 + w, b0 + h), np.asarray(edge_col) * lum)
            nat = _naturals()
            if nat is not None and rng.random() < 0.7:
                pic = nat[int(rng.integers(len(nat)))][1]
                info["image"] = "natural"
            else:
                pic = np.zeros((64, 48, 3), np.float32)
                for _b in range(int(rng.integers(3, 8))):
                    y0, x0 = int(rng.integers(0, 56)), int(rng.integers(0, 40))
                    pic[y0:y0 + int(rng.integers(8, 40)), x0:x0 + int(rng.integers(8, 30))] = \
                        np.array(_PAINTS[_pick(rng, list(_PAINTS))], np.float32)
                pic = np.where(pic.sum(axis=2, keepdims=True) == 0, np.float32(0.7), pic).astype(np.float32)
                info["image"] = "blocks"
            iw, ih = w - 2 * margin, h - 2 * margin
            hp = h_wall @ np.array([[iw / pic.shape[1], 0, a0 + margin], [0, ih / pic.shape[0], b0 + margin],
                                    [0, 0, 1.0]])
            layer.texture(rect(a0 + margin, b0 + margin, a0 + w - margin, b0 + h - margin),
                          np.ascontiguousarray(pic), hp, border=cv2.BORDER_REPLICATE, scale=lum)
        out.append(info)
    scene["distractors"] = out


# ----------------------------------------------------------------------------- camera pipeline

def _tone_lut(gamma: float, s_curve: float, black: float) -> F32:
    x = np.linspace(0.0, 1.0, 4096)
    y = x ** (1.0 / gamma)
    y = (1 - s_curve) * y + s_curve * (3 * y * y - 2 * y ** 3)
    y = np.clip((y - black) / (1 - black), 0.0, 1.0)
    return y.astype(np.float32)


def _jpeg(rgb8: NDArray[np.uint8], quality: int) -> NDArray[np.uint8]:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb8, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover - OpenCV always encodes uint8 RGB
        raise RuntimeError("JPEG encoding failed")
    return np.asarray(cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB), np.uint8)


def _camera(rng: np.random.Generator, spec: _Level, canvas: F32, sc: _Scene, cam_p: dict[str, Any],
            params: dict[str, Any]) -> NDArray[np.uint8]:
    rw, rh = cam_p["render_size"]
    r = cam_p["render_scale"]
    geo = params["geometry"]
    cx, cy = geo["distortion_centre"]
    rn = geo["distortion_radius"]
    ox, oy = geo["canvas_offset"]
    cw, ch = geo["canvas_size"]

    # ---- auto exposure on the scene (metering before blur; blur does not change the means)
    small = cv2.resize(canvas, (max(8, canvas.shape[1] // 8), max(8, canvas.shape[0] // 8)),
                       interpolation=cv2.INTER_AREA)
    y_small = np.asarray(small @ np.array([0.2126, 0.7152, 0.0722], np.float32), np.float64)
    hh, ww = y_small.shape
    # local tone mapping (phone HDR): regions whose large-scale luminance is below the brightest are lifted
    ltm_alpha = _u(rng, 0.2, 0.6) if rng.random() < 0.8 else 0.0
    base_l = cv2.GaussianBlur(np.log2(y_small + 0.01).astype(np.float32), (0, 0), max(1.0, 0.08 * max(hh, ww)))
    lift = np.clip(ltm_alpha * (float(np.percentile(base_l, 99.5)) - base_l), 0.0, 3.0)
    ltm = np.asarray(np.exp2(lift), np.float32)
    y_tm = y_small * ltm
    yy, xx = np.mgrid[0:hh, 0:ww]
    wgt = np.exp(-(((xx / ww - 0.5) ** 2 + (yy / hh - 0.5) ** 2) / (2 * 0.3 ** 2)))
    gm = math.exp(float(np.sum(wgt * np.log(y_tm + 0.01)) / np.sum(wgt)))
    hi = float(np.percentile(y_tm, 99.5))
    ev = _u(rng, -0.5, 0.5)
    prio = _u(rng, 0.4, 0.8)
    g_mean = 0.16 * 2 ** ev / gm
    g_hi = 0.92 * 2 ** ev / max(hi, 1e-6)
    # highlight protection (phone HDR): the brightest 0.5% may clip only now and then, and only a little
    headroom = _u(rng, 0.0, 0.4) if rng.random() < 0.15 else 0.0
    gain = min(math.exp((1 - prio) * math.log(g_mean) + prio * math.log(g_hi)), 1.5 * g_mean,
               g_hi * 2 ** headroom)
    t_max = _u(rng, 1 / 30, 1 / 10)
    l_sat = 1.56 * 4 * cam_p["f_number"] ** 2 / (math.pi * 0.9 * t_max)
    need = gain * l_sat
    if need <= 1.0:
        t_exp, iso = t_max * need, 50.0
    else:
        t_exp, iso = t_max, 50.0 * need
        if iso > 6400.0:
            iso = 6400.0
            gain = 128.0 / l_sat
    exposure = {"ev_bias": ev, "highlight_priority": prio, "highlight_headroom_ev": headroom,
                "local_tone_alpha": ltm_alpha, "local_lift_ev_max": float(lift.max()),
                "metered_nits": gm, "highlight_nits": hi,
                "gain": gain, "exposure_s": t_exp, "iso": iso, "t_max_s": t_max}
    params["exposure"] = exposure

    # ---- lens blur, focus error, hand shake (on the undistorted canvas)
    sig = math.hypot(cam_p["psf_sigma_px"], cam_p["focus_error_px"]) * r
    img = canvas
    if sig >= 0.3:
        cv2.GaussianBlur(canvas, (0, 0), sig, dst=img, borderType=cv2.BORDER_REFLECT)
    shake_rate = _u(rng, *spec.shake)
    length = shake_rate * t_exp * r
    shake_ang = _u(rng, 0.0, math.pi)
    if length >= 1.0:
        ks = int(math.ceil(length)) | 1
        ks += 2
        kern = np.zeros((ks, ks), np.float32)
        c = ks // 2
        dx, dy = 0.5 * length * math.cos(shake_ang), 0.5 * length * math.sin(shake_ang)
        for tt in np.linspace(-1, 1, 4 * ks):
            x, y = c + tt * dx, c + tt * dy
            x0, y0 = int(math.floor(x)), int(math.floor(y))
            fx, fy = x - x0, y - y0
            kern[y0, x0] += (1 - fx) * (1 - fy)
            kern[y0, x0 + 1] += fx * (1 - fy)
            kern[y0 + 1, x0] += (1 - fx) * fy
            kern[y0 + 1, x0 + 1] += fx * fy
        kern /= kern.sum()
        img = np.asarray(cv2.filter2D(img, -1, kern, borderType=cv2.BORDER_REFLECT), np.float32)
    params["optics"] = {"blur_sigma_px": sig, "shake_px": length, "shake_deg": math.degrees(shake_ang),
                        "shake_rate_px_s": shake_rate}

    # ---- white balance (grey world on the metering image, partly corrected) and the tone curve
    clean = (small * ltm[..., None]).reshape(-1, 3).astype(np.float64) * gain
    ok = clean.max(axis=1) < 0.95
    means = clean[ok].mean(axis=0) if ok.sum() > 10 else clean.mean(axis=0)
    est = means[1] / np.maximum(means, 1e-9)
    strength = _u(rng, 0.6, 1.0)
    wb = est ** strength * (1 + rng.normal(0, 0.03, 3))
    wb = wb / wb[1]
    gamma_c, s_curve, black = _u(rng, 2.0, 2.4), _u(rng, 0.1, 0.35), _u(rng, 0.0, 0.03)
    lut = _tone_lut(gamma_c, s_curve, black)
    fw_e = _u(rng, 1200.0, 1800.0) * cam_p["pixel_pitch_um"] ** 2
    read_e = _u(rng, 1.5, 3.5)
    n_fs = fw_e / (iso / 50.0) / (r * r)  # electrons at full scale in one rendered (binned) pixel
    read = read_e / r / n_fs
    params["sensor"] = {"full_well_e": fw_e, "read_noise_e": read_e, "electrons_full_scale": n_fs}

    # ---- per strip of rows: lens distortion, vignetting, exposure, shot + read noise, 12-bit ADC,
    #      white balance, tone curve, to YCrCb
    xs = np.arange(rw, dtype=np.float32) - np.float32(cx)
    xs2 = xs * xs * np.float32(1.0 / rn ** 2)
    ycc = np.empty((rh, rw, 3), np.float32)
    k1f, k2f, vigf = np.float32(geo["k1"]), np.float32(geo["k2"]), np.float32(cam_p["vignetting"])
    wb_scale = (wb * 4095.0).astype(np.float32)[None, None, :]
    inv_fs, read2 = np.float32(1.0 / n_fs), np.float32(read * read)
    step = 96
    for y0 in range(0, rh, step):
        y1 = min(rh, y0 + step)
        ys = np.arange(y0, y1, dtype=np.float32) - np.float32(cy)
        rho2 = xs2[None, :] + (ys * ys * np.float32(1.0 / rn ** 2))[:, None]
        fac = 1 + k1f * rho2 + k2f * rho2 * rho2
        map_x = np.float32(cx + ox) + xs[None, :] * fac
        map_y = np.float32(cy + oy) + ys[:, None] * fac
        strip = np.asarray(cv2.remap(img, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE),
                           np.float32)
        lmap = cv2.remap(ltm, (map_x + 0.5) * np.float32(ww / cw) - 0.5, (map_y + 0.5) * np.float32(hh / ch) - 0.5,
                         cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        strip *= ((1 - vigf * rho2) * np.float32(gain) * lmap)[..., None]
        np.maximum(strip, 0.0, out=strip)
        noise = _randn(rng, strip.shape)
        std = strip * inv_fs
        std += read2
        np.sqrt(std, out=std)
        noise *= std
        strip += noise
        strip *= wb_scale
        np.clip(strip, 0.0, 4095.0, out=strip)
        strip += 0.5
        tone = lut[strip.astype(np.uint16)]
        ycc[y0:y1] = cv2.cvtColor(tone, cv2.COLOR_RGB2YCrCb)
    del img

    # ---- ISP: chroma and edge-aware luma denoise, sharpening, saturation
    luma = np.ascontiguousarray(ycc[..., 0])
    iso_boost = min(1.0, math.log2(iso / 50.0) / 7.0)
    strength_d = float(np.clip(_u(rng, *spec.denoise) + 0.3 * iso_boost, 0.0, 1.0))
    sig_d = _u(rng, 1.0, 2.5) * (1.4 if spec.denoise[0] >= 0.7 else 1.0) * max(r, 0.5)
    thr = _u(rng, 0.02, 0.06)
    blurred = _gauss_blur(luma, sig_d)
    # the edge gate from the gradient of the blurred luma, at half resolution (it is smooth there)
    half_l = cv2.resize(blurred, (max(2, rw // 2), max(2, rh // 2)), interpolation=cv2.INTER_AREA)
    gx = cv2.Sobel(half_l, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(half_l, cv2.CV_32F, 0, 1, ksize=3)
    mag2 = (gx * gx + gy * gy) * np.float32(1.0 / (4 * 64.0 * thr * thr))
    gate = np.exp(-mag2) * np.float32(strength_d)
    wgt_d = np.asarray(cv2.resize(gate, (rw, rh), interpolation=cv2.INTER_LINEAR), np.float32)
    del gx, gy, mag2, gate, half_l
    blurred -= luma
    blurred *= wgt_d
    luma += blurred
    del wgt_d, blurred
    amount, sig_s = _u(rng, *spec.sharpen), _u(rng, 0.8, 1.8) * max(r, 0.5)
    luma += np.float32(amount) * (luma - _gauss_blur(luma, sig_s))
    sig_c = _u(rng, 1.5, 4.0) * r
    sat = _u(rng, 1.0, 1.25)
    hw_, hh_ = max(2, rw // 2), max(2, rh // 2)
    for ch_ in (1, 2):  # chroma denoise at half resolution, as phone pipelines do
        chroma = cv2.resize(np.ascontiguousarray(ycc[..., ch_]), (hw_, hh_), interpolation=cv2.INTER_AREA)
        chroma = _gauss_blur(np.asarray(chroma, np.float32), sig_c / 2) - np.float32(0.5)
        chroma *= np.float32(sat)
        chroma += np.float32(0.5)
        ycc[..., ch_] = cv2.resize(chroma, (rw, rh), interpolation=cv2.INTER_LINEAR)
    ycc[..., 0] = luma
    del luma
    out8 = np.empty((rh, rw, 3), np.uint8)
    for y0 in range(0, rh, 256):
        rgb = np.asarray(cv2.cvtColor(ycc[y0:y0 + 256], cv2.COLOR_YCrCb2RGB), np.float32)
        rgb *= 255.0
        rgb += 0.5
        np.clip(rgb, 0.0, 255.0, out=rgb)
        out8[y0:y0 + 256] = rgb.astype(np.uint8)
    del ycc
    q_cam = int(rng.integers(spec.camera_jpeg[0], spec.camera_jpeg[1] + 1))
    photo = _jpeg(out8, q_cam)
    params["isp"] = {"white_balance": wb.tolist(), "awb_strength": strength, "tone_gamma": gamma_c,
                     "s_curve": s_curve, "black_point": black, "denoise": strength_d, "denoise_sigma_px": sig_d,
                     "denoise_edge": thr, "sharpen": amount, "sharpen_sigma_px": sig_s, "chroma_sigma_px": sig_c,
                     "saturation": sat, "jpeg_quality": q_cam}

    # ---- messenger
    params["messenger"] = None
    fw_, fh_ = rw, rh
    if spec.messenger is not None:
        long_out, qlo, qhi = spec.messenger
        if max(rw, rh) > long_out:
            sc_ = long_out / max(rw, rh)
            fw_, fh_ = int(round(rw * sc_)), int(round(rh * sc_))
            photo = np.asarray(cv2.resize(photo, (fw_, fh_), interpolation=cv2.INTER_AREA), np.uint8)
        q_m = int(rng.integers(qlo, qhi + 1))
        photo = _jpeg(photo, q_m)
        params["messenger"] = {"long_side": long_out, "jpeg_quality": q_m}
    geo["photo_size"] = [fw_, fh_]
    return photo


# ----------------------------------------------------------------------------- public API

def _check_image(image: object) -> NDArray[np.uint8]:
    if not isinstance(image, np.ndarray):
        raise OptionTypeError(f"image must be a numpy array (HxWx3 uint8 RGB), got {type(image).__name__}",
                              name="image", value=type(image).__name__)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise OptionError(f"image must be HxWx3 uint8 RGB, got shape {image.shape} and dtype {image.dtype}",
                          name="image", value=[list(image.shape), str(image.dtype)])
    if min(image.shape[:2]) < MIN_IMAGE_SIDE:
        raise OptionError(f"image must be at least {MIN_IMAGE_SIDE}x{MIN_IMAGE_SIDE} pixels, got "
                          f"{image.shape[1]}x{image.shape[0]}", name="image", value=list(image.shape[:2]))
    return np.ascontiguousarray(image)


def photo_leak_b(image: NDArray[np.uint8], *, level: str = "standard", seed: int | np.random.Generator) -> Leak:
    """Simulate a phone photo of ``image`` shown on a monitor, in a scene of this second generator.

    Parameters
    ----------
    image : ndarray
        The screen as displayed: ``HxWx3`` ``uint8`` RGB, at least 16x16 (a
        1920x1080 EMR screen in practice).
    level : str, optional
        One of :data:`LEVELS_B`:

        * ``"easy"``: near frontal (up to 12 degrees), the screen 50-80% of
          the photo wide, good light, camera JPEG only;
        * ``"standard"``: up to 30 degrees off axis, 35-70% wide, any light;
        * ``"hard"``: up to 45 degrees, 20-45% wide, mostly dim rooms, strong
          denoise, then a messenger (long side 1600 px, JPEG 70-80);
        * ``"chat"``: about 20% wide, up to 30 degrees, then a messenger
          (long side 1280 px, JPEG 60).
    seed : int or numpy.random.Generator
        Everything random is drawn from it: the same int gives the same photo.

    Returns
    -------
    Leak
        ``image``: the photo (e.g. 4000x3000, 3024x4032 portrait now and then,
        or the messenger's size); ``homography``: screen px -> photo px without
        lens distortion; ``channel``: ``"phone-b-<level>"``; ``params``: every
        drawn parameter (JSON-friendly) with ``"screen_corners"`` (the displayed
        image's corners TL, TR, BR, BL in photo px, distortion included) and
        ``"geometry"`` (what :func:`project_points_b` needs).

    Raises
    ------
    watermark.OptionError
        ``level`` unknown, ``seed`` neither an int nor a Generator, or
        ``image`` not an ``HxWx3`` uint8 array of at least 16x16 pixels.
    """
    if not isinstance(level, str) or level not in _LEVELS:
        raise OptionError(f"level must be one of {', '.join(repr(x) for x in LEVELS_B)}, got {level!r}",
                          name="level", value=level)
    img = _check_image(image)
    seed_value = int(seed) if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) else None
    rng = as_generator(seed)
    spec = _LEVELS[level]
    h, w = img.shape[:2]
    params: dict[str, Any] = {"generator": GENERATOR, "level": level, "seed": seed_value, "screen_size": [w, h]}
    cam_p = _draw_camera(rng, spec)
    params["camera"] = cam_p
    disp = _draw_display(rng, spec, w, h)
    params["display"] = disp
    canvas, sc, _ = _render(rng, spec, img, cam_p, disp, params)
    photo = _camera(rng, spec, canvas, sc, cam_p, params)
    geo = params["geometry"]
    rw, rh = geo["render_size"]
    fw, fh = geo["photo_size"]
    homography = _resize_map(fw / rw, fh / rh) @ np.asarray(geo["render_homography"])
    homography /= homography[2, 2]
    corners = [[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]]
    params = plain(params)
    leak = Leak(image=photo, homography=homography, channel=f"phone-b-{level}", params=params)
    params["screen_corners"] = _project(params["geometry"], np.array(corners, np.float64)).tolist()
    params["photo_size"] = [fw, fh]
    return leak


def _project(geo: dict[str, Any], pts: F64) -> F64:
    h_r = np.asarray(geo["render_homography"], np.float64)
    cx, cy = geo["distortion_centre"]
    rn = float(geo["distortion_radius"])
    k1, k2 = float(geo["k1"]), float(geo["k2"])
    rw, rh = geo["render_size"]
    fw, fh = geo["photo_size"]
    q = _apply_h(h_r, pts)
    dx, dy = q[:, 0] - cx, q[:, 1] - cy
    rho_u = np.hypot(dx, dy) / rn
    rho = rho_u.copy()
    for _ in range(50):  # Newton on rho (1 + k1 rho^2 + k2 rho^4) = rho_u; monotone for k1, k2 >= 0
        r2 = rho * rho
        step = (rho * (1 + k1 * r2 + k2 * r2 * r2) - rho_u) / (1 + 3 * k1 * r2 + 5 * k2 * r2 * r2)
        rho = rho - step
        if not np.any(np.abs(step) > 1e-15):
            break
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(rho_u > 0, rho / np.where(rho_u > 0, rho_u, 1.0), 1.0)
    xd, yd = cx + dx * ratio, cy + dy * ratio
    sx, sy = fw / rw, fh / rh
    return np.stack([(xd + 0.5) * sx - 0.5, (yd + 0.5) * sy - 0.5], axis=-1)


def project_points_b(leak: Leak, points: ArrayLike) -> F64:
    """Map screen pixel coordinates to photo pixel coordinates of a :func:`photo_leak_b` leak, exactly.

    Parameters
    ----------
    leak : Leak
        A leak made by :func:`photo_leak_b`.
    points : array_like
        ``(..., 2)`` screen coordinates ``(x, y)`` (pixel centres at integers).

    Returns
    -------
    ndarray
        ``(..., 2)`` ``float64`` photo coordinates: perspective, lens
        distortion and the messenger's resize applied (NaN for a point that
        would lie behind the camera).

    Raises
    ------
    watermark.OptionError
        ``leak`` was not made by :func:`photo_leak_b`, or ``points`` is not
        an array of pairs.
    """
    params = getattr(leak, "params", None)
    if not isinstance(params, dict) or params.get("generator") != GENERATOR or "geometry" not in params:
        raise OptionError("leak must be a Leak made by synthetic.scenes_b.photo_leak_b", name="leak",
                          value=type(leak).__name__)
    try:
        pts = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise OptionError(f"points must be an array of (x, y) pairs: {exc}", name="points",
                          value=repr(points)[:80]) from exc
    if pts.ndim < 1 or pts.shape[-1] != 2:
        raise OptionError(f"points must have shape (..., 2), got {pts.shape}", name="points", value=pts.shape)
    out = _project(params["geometry"], pts.reshape(-1, 2))
    return np.asarray(out.reshape(pts.shape), dtype=np.float64)


__all__ = ["GENERATOR", "LEVELS_B", "photo_leak_b", "project_points_b"]

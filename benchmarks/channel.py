"""Leak-channel simulator: screenshots and phone photos of a stamped screen.

The simulator stands in for the ways a watermarked EMR screen leaks: a
screenshot that is recompressed, resized, cropped or rotated on its way
through browsers and chat apps, or a phone photograph of the monitor.
Every leak comes back as a :class:`Leak` holding the image the security
officer would find, the exact geometric map from the original screen image
to that leaked image, the channel name and every parameter drawn.

Conventions
-----------
Images are ``HxWx3`` ``uint8`` RGB arrays. Pixel coordinates are ``(x, y)``
= (column, row) with the *centre* of pixel ``(i, j)`` at the integer point
``(i, j)``; an image of width ``W`` spans ``[-0.5, W - 0.5]``. A
homography ``H`` maps homogeneous screen coordinates ``(x, y, 1)`` of the
original (stamped) image to coordinates in the leaked image. With this
convention a resize by ``s`` is ``x' = (x + 0.5) * s - 0.5``, which is what
``cv2.resize`` implements.

Randomness comes only from a :class:`numpy.random.Generator` (passed in, or
created from an ``int`` seed), so a seed reproduces a leak bit for bit on
the same machine and library versions.

Two families:

* **Screenshots** (:func:`screenshot_leak`, names in
  :data:`SCREENSHOT_CHANNELS`): real codecs (OpenCV's libjpeg / libwebp /
  libpng) and resamplers; the homography is exact.
* **Phone photos** (:func:`phone_photo_leak`): a physically based chain
  display -> scene -> camera pose -> lens -> sensor -> ISP -> JPEG (and a
  messenger recompression at the ``"hard"`` level). The homography is the
  exact pinhole (pre-lens-distortion) map; :func:`project_points` applies
  the recorded lens distortion as well.

Each phone-photo stage is a documented function or class here
(:func:`camera_pose_homography`, :func:`undistort_photo_points`,
:class:`LensPSF`, :func:`display_model`, :func:`scene_fields`,
:func:`render_photo_radiance`, :func:`sensor_capture`, :func:`demosaic`,
:func:`isp_process`); they are building blocks of :func:`phone_photo_leak`,
not part of the stable API (``__all__``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

__all__ = [
    "Leak",
    "SCREENSHOT_CHANNELS",
    "PHONE_LEVELS",
    "screenshot_leak",
    "phone_photo_leak",
    "project_points",
    "contact_sheet",
]

SCREENSHOT_CHANNELS: tuple[str, ...] = (
    "png",
    "jpeg90",
    "jpeg75",
    "jpeg50",
    "webp",
    "down0.5",
    "down0.75",
    "up1.5",
    "messenger",
    "crop50",
    "crop25",
    "crop_rescale_jpeg",
    "rot90",
    "rot180",
    "tone",
    "double",
)
"""Names accepted by :func:`screenshot_leak`, in a stable report order."""

PHONE_LEVELS: tuple[str, ...] = ("standard", "hard")
"""Difficulty levels accepted by :func:`phone_photo_leak`."""


# --------------------------------------------------------------------------
# Result type and small helpers
# --------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Leak:
    """One simulated leak.

    Attributes
    ----------
    image : ndarray
        ``HxWx3`` ``uint8`` RGB: what the security officer finds.
    homography : ndarray or None
        ``3x3`` ``float64`` map from pixel coordinates ``(x, y)`` of the
        original stamped image to pixel coordinates of :attr:`image`
        (pixel centres at integers). Exact for screenshot channels. For
        phone photos it is the pinhole map before lens distortion (see
        :func:`project_points` for the full map). ``None`` only where no
        geometric map is meaningful.
    channel : str
        Name of the leak condition, e.g. ``"jpeg75"`` or ``"phone-hard"``.
    params : dict
        Every parameter drawn or fixed for this leak, as plain Python
        values (JSON-serialisable), for reports and reproduction.
    """

    image: NDArray[np.uint8]
    homography: NDArray[np.float64] | None
    channel: str
    params: dict


def _as_generator(seed: int | np.random.Generator) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return np.random.default_rng(int(seed))
    raise TypeError(
        f"seed must be an int or numpy.random.Generator, got {type(seed).__name__}"
    )


def _check_image(image: Any) -> NDArray[np.uint8]:
    if not isinstance(image, np.ndarray):
        raise TypeError(
            f"image must be a numpy array (HxWx3 uint8 RGB), got {type(image).__name__}"
        )
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(
            "image must be HxWx3 uint8 RGB, got shape "
            f"{image.shape} and dtype {image.dtype}"
        )
    if image.shape[0] < 16 or image.shape[1] < 16:
        raise ValueError(f"image must be at least 16x16 pixels, got {image.shape[:2]}")
    return np.ascontiguousarray(image)


def _plain(value: Any) -> Any:
    """Convert numpy scalars/arrays (possibly nested) to plain Python values."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _scale_matrix(sx: float, sy: float) -> NDArray[np.float64]:
    """Resize map with the pixel-centre convention x' = (x + 0.5) s - 0.5."""
    return np.array(
        [[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]]
    )


def _translation(tx: float, ty: float) -> NDArray[np.float64]:
    return np.array([[1.0, 0.0, tx], [0.0, 1.0, ty], [0.0, 0.0, 1.0]])


def _apply_h(h: NDArray[np.float64], pts: NDArray[np.float64]) -> NDArray[np.float64]:
    pts = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
    q = np.c_[pts, np.ones(len(pts))] @ h.T
    return q[:, :2] / q[:, 2:3]


def _resize(
    image: NDArray[np.uint8], size: tuple[int, int], interpolation: int
) -> tuple[NDArray[np.uint8], NDArray[np.float64]]:
    """Resize to ``size = (width, height)``; return image and exact homography."""
    h, w = image.shape[:2]
    nw, nh = int(size[0]), int(size[1])
    out = cv2.resize(image, (nw, nh), interpolation=interpolation)
    return out, _scale_matrix(nw / w, nh / h)


def _encode_jpeg(
    image: NDArray[np.uint8], quality: int, subsampling: str = "420"
) -> tuple[NDArray[np.uint8], int]:
    """Round-trip through libjpeg (OpenCV); return decoded RGB and byte count."""
    factors = {
        "420": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420,
        "422": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_422,
        "444": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444,
    }
    flags = [
        cv2.IMWRITE_JPEG_QUALITY,
        int(quality),
        cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
        factors[subsampling],
    ]
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(image[..., ::-1]), flags)
    if not ok:  # pragma: no cover - codec failure
        raise RuntimeError("JPEG encoding failed")
    dec = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return np.ascontiguousarray(dec[..., ::-1]), int(buf.size)


def _encode_webp(image: NDArray[np.uint8], quality: int) -> tuple[NDArray[np.uint8], int]:
    """Round-trip through libwebp (lossy, OpenCV); return decoded RGB and bytes."""
    ok, buf = cv2.imencode(
        ".webp", np.ascontiguousarray(image[..., ::-1]), [cv2.IMWRITE_WEBP_QUALITY, int(quality)]
    )
    if not ok:  # pragma: no cover - codec failure
        raise RuntimeError("WebP encoding failed")
    dec = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return np.ascontiguousarray(dec[..., ::-1]), int(buf.size)


def _encode_png(image: NDArray[np.uint8]) -> tuple[NDArray[np.uint8], int]:
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(image[..., ::-1]))
    if not ok:  # pragma: no cover - codec failure
        raise RuntimeError("PNG encoding failed")
    dec = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return np.ascontiguousarray(dec[..., ::-1]), int(buf.size)


# --------------------------------------------------------------------------
# Screenshot family
# --------------------------------------------------------------------------

def _messenger(
    image: NDArray[np.uint8], params: dict, prefix: str = "", longest: int = 1280, quality: int = 75
) -> tuple[NDArray[np.uint8], NDArray[np.float64]]:
    """Chat-app recompression: area-downscale to ``longest`` px, JPEG 4:2:0."""
    h, w = image.shape[:2]
    hom = np.eye(3)
    if max(h, w) > longest:
        s = longest / max(h, w)
        size = (max(1, round(w * s)), max(1, round(h * s)))
        image, hom = _resize(image, size, cv2.INTER_AREA)
    out, nbytes = _encode_jpeg(image, quality, "420")
    params.update(
        {
            f"{prefix}messenger_longest_side": longest,
            f"{prefix}messenger_size": [out.shape[1], out.shape[0]],
            f"{prefix}messenger_interpolation": "area",
            f"{prefix}messenger_jpeg_quality": quality,
            f"{prefix}messenger_chroma_subsampling": "4:2:0",
            f"{prefix}messenger_jpeg_bytes": nbytes,
        }
    )
    return out, hom


def _random_crop(
    image: NDArray[np.uint8], area_fraction: float, rng: np.random.Generator, params: dict
) -> tuple[NDArray[np.uint8], NDArray[np.float64]]:
    """Keep ``area_fraction`` of the area, random aspect change and offset.

    The crop aspect ratio is the original one times a factor drawn
    log-uniformly in [1/2, 2] (a user dragging a selection box), clamped so
    the crop fits; the offset is uniform over all valid positions.
    """
    h, w = image.shape[:2]
    aspect_change = float(np.exp(rng.uniform(np.log(0.5), np.log(2.0))))
    cw = w * math.sqrt(area_fraction * aspect_change)
    ch = h * math.sqrt(area_fraction / aspect_change)
    if cw > w:
        cw, ch = w, h * area_fraction
    if ch > h:
        ch, cw = h, w * area_fraction
    cw, ch = max(16, min(w, round(cw))), max(16, min(h, round(ch)))
    x0 = int(rng.integers(0, w - cw + 1))
    y0 = int(rng.integers(0, h - ch + 1))
    params.update(
        {
            "crop_area_fraction": area_fraction,
            "crop_aspect_change": aspect_change,
            "crop_box_xywh": [x0, y0, cw, ch],
        }
    )
    out = np.ascontiguousarray(image[y0 : y0 + ch, x0 : x0 + cw])
    return out, _translation(-x0, -y0)


def _ss_png(image, rng, params):
    """Lossless PNG screenshot (identity)."""
    out, nbytes = _encode_png(image)
    params["png_bytes"] = nbytes
    return out, np.eye(3)


def _ss_jpeg(quality: int):
    def run(image, rng, params):
        out, nbytes = _encode_jpeg(image, quality, "420")
        params.update(
            {"jpeg_quality": quality, "chroma_subsampling": "4:2:0", "jpeg_bytes": nbytes}
        )
        return out, np.eye(3)

    run.__doc__ = f"Baseline JPEG, libjpeg quality {quality}, chroma 4:2:0."
    return run


def _ss_webp(image, rng, params):
    """Lossy WebP at quality 80 (libwebp defaults otherwise)."""
    out, nbytes = _encode_webp(image, 80)
    params.update({"webp_quality": 80, "webp_bytes": nbytes})
    return out, np.eye(3)


def _ss_scale(scale: float, interpolation: int, name: str):
    def run(image, rng, params):
        h, w = image.shape[:2]
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        out, hom = _resize(image, size, interpolation)
        params.update({"scale": scale, "size": list(size), "interpolation": name})
        return out, hom

    run.__doc__ = f"Resample by {scale} with {name} interpolation (lossless output)."
    return run


def _ss_messenger(image, rng, params):
    """Chat app: longest side 1280 (area), JPEG 75, chroma 4:2:0."""
    return _messenger(image, params)


def _ss_crop(fraction: float):
    def run(image, rng, params):
        return _random_crop(image, fraction, rng, params)

    run.__doc__ = f"Crop keeping {fraction:.0%} of the area at a random offset."
    return run


def _ss_crop_rescale_jpeg(image, rng, params):
    """Crop 25% of the area, rescale by 0.5x-2x (log-uniform), JPEG 50."""
    out, hom = _random_crop(image, 0.25, rng, params)
    scale = float(np.exp(rng.uniform(np.log(0.5), np.log(2.0))))
    h, w = out.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    interp, iname = (cv2.INTER_AREA, "area") if scale < 1 else (cv2.INTER_CUBIC, "bicubic")
    out, hom2 = _resize(out, size, interp)
    out, nbytes = _encode_jpeg(out, 50, "420")
    params.update(
        {
            "scale": scale,
            "size": list(size),
            "interpolation": iname,
            "jpeg_quality": 50,
            "chroma_subsampling": "4:2:0",
            "jpeg_bytes": nbytes,
        }
    )
    return out, hom2 @ hom


def _ss_rot90(image, rng, params):
    """Rotate 90 degrees clockwise: (x, y) -> (H - 1 - y, x)."""
    h = image.shape[0]
    out = cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE)
    params["rotation_deg_clockwise"] = 90
    return out, np.array([[0.0, -1.0, h - 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])


def _ss_rot180(image, rng, params):
    """Rotate 180 degrees: (x, y) -> (W - 1 - x, H - 1 - y)."""
    h, w = image.shape[:2]
    out = cv2.rotate(image, cv2.ROTATE_180)
    params["rotation_deg_clockwise"] = 180
    return out, np.array([[-1.0, 0.0, w - 1.0], [0.0, -1.0, h - 1.0], [0.0, 0.0, 1.0]])


def _ss_tone(image, rng, params):
    """Photo-editor tone change: gamma, then contrast about mid-grey, brightness.

    ``v' = clip(((v/255) ** gamma - 0.5) * contrast + 0.5 + brightness)``
    with gamma log-uniform in [0.75, 1.35], contrast in [0.8, 1.2],
    brightness in [-0.08, 0.08] (fractions of full scale). Lossless output.
    """
    gamma = float(np.exp(rng.uniform(np.log(0.75), np.log(1.35))))
    contrast = float(rng.uniform(0.8, 1.2))
    brightness = float(rng.uniform(-0.08, 0.08))
    v = np.arange(256, dtype=np.float64) / 255.0
    lut = ((v**gamma - 0.5) * contrast + 0.5 + brightness) * 255.0
    lut = np.clip(np.rint(lut), 0, 255).astype(np.uint8)
    params.update({"gamma": gamma, "contrast": contrast, "brightness": brightness})
    return cv2.LUT(image, lut), np.eye(3)


def _ss_double(image, rng, params):
    """Screenshot of a screenshot: 0.8x area + JPEG 80, then the messenger."""
    h, w = image.shape[:2]
    size = (max(1, round(w * 0.8)), max(1, round(h * 0.8)))
    out, hom1 = _resize(image, size, cv2.INTER_AREA)
    out, nbytes = _encode_jpeg(out, 80, "420")
    params.update(
        {
            "first_scale": 0.8,
            "first_interpolation": "area",
            "first_jpeg_quality": 80,
            "first_jpeg_bytes": nbytes,
        }
    )
    out, hom2 = _messenger(out, params)
    return out, hom2 @ hom1


_SCREENSHOT_IMPL: dict[str, Callable[..., Any]] = {
    "png": _ss_png,
    "jpeg90": _ss_jpeg(90),
    "jpeg75": _ss_jpeg(75),
    "jpeg50": _ss_jpeg(50),
    "webp": _ss_webp,
    "down0.5": _ss_scale(0.5, cv2.INTER_AREA, "area"),
    "down0.75": _ss_scale(0.75, cv2.INTER_LINEAR, "bilinear"),
    "up1.5": _ss_scale(1.5, cv2.INTER_CUBIC, "bicubic"),
    "messenger": _ss_messenger,
    "crop50": _ss_crop(0.5),
    "crop25": _ss_crop(0.25),
    "crop_rescale_jpeg": _ss_crop_rescale_jpeg,
    "rot90": _ss_rot90,
    "rot180": _ss_rot180,
    "tone": _ss_tone,
    "double": _ss_double,
}


def screenshot_leak(
    image: NDArray[np.uint8], channel: str, *, seed: int | np.random.Generator
) -> Leak:
    """Simulate a screenshot leak through one named channel.

    Parameters
    ----------
    image : ndarray
        The stamped screen, ``HxWx3`` ``uint8`` RGB.
    channel : str
        One of :data:`SCREENSHOT_CHANNELS`:

        ``"png"``
            lossless (identity).
        ``"jpeg90"``, ``"jpeg75"``, ``"jpeg50"``
            libjpeg at that quality, chroma 4:2:0.
        ``"webp"``
            lossy libwebp, quality 80.
        ``"down0.5"``
            area-average downscale (what image viewers and chat apps do).
        ``"down0.75"``
            bilinear downscale without prefilter (browser zoom 75%).
        ``"up1.5"``
            bicubic upscale (browser zoom 150%).
        ``"messenger"``
            longest side to 1280 px (area), JPEG 75, chroma 4:2:0.
        ``"crop50"``, ``"crop25"``
            keep 50% / 25% of the area; aspect ratio changed by a factor
            log-uniform in [1/2, 2]; uniform random offset.
        ``"crop_rescale_jpeg"``
            crop 25%, rescale by a log-uniform factor in [0.5, 2] (area
            down / bicubic up), JPEG 50.
        ``"rot90"``, ``"rot180"``
            rotation by 90 degrees clockwise / 180 degrees.
        ``"tone"``
            gamma (0.75-1.35), contrast (0.8-1.2), brightness (+-8%).
        ``"double"``
            screenshot of a screenshot: 0.8x area + JPEG 80, then the
            messenger chain.
    seed : int or numpy.random.Generator
        Randomness for the channels that draw parameters (crops, tone).

    Returns
    -------
    Leak
        With the exact homography original -> leaked pixel coordinates
        (pixel centres at integers; resizes follow
        ``x' = (x + 0.5) * s - 0.5`` with ``s`` the exact ratio of integer
        sizes).

    Raises
    ------
    ValueError
        If ``channel`` is unknown or ``image`` is not ``HxWx3`` ``uint8``.
    TypeError
        If ``seed`` is neither an int nor a Generator.

    Examples
    --------
    >>> img = np.full((64, 96, 3), 255, np.uint8)
    >>> leak = screenshot_leak(img, "down0.5", seed=0)
    >>> leak.image.shape, float(leak.homography[0, 0])
    ((32, 48, 3), 0.5)
    """
    image = _check_image(image)
    if channel not in _SCREENSHOT_IMPL:
        raise ValueError(
            f"unknown screenshot channel {channel!r}; expected one of "
            f"{', '.join(SCREENSHOT_CHANNELS)}"
        )
    rng = _as_generator(seed)
    params: dict = {"input_size": [image.shape[1], image.shape[0]]}
    out, hom = _SCREENSHOT_IMPL[channel](image, rng, params)
    params["output_size"] = [out.shape[1], out.shape[0]]
    return Leak(
        image=np.ascontiguousarray(out, dtype=np.uint8),
        homography=np.asarray(hom, dtype=np.float64),
        channel=channel,
        params=_plain(params),
    )


# --------------------------------------------------------------------------
# Phone-photo family: parameters
# --------------------------------------------------------------------------

# Parameter ranges per level. (lo, hi) tuples are drawn uniformly unless a
# stage says otherwise; see phone_photo_leak's docstring for the table.
_PHONE_RANGES: dict[str, dict[str, Any]] = {
    "standard": {
        "off_axis_max_deg": 30.0,
        "roll_deg": (-6.0, 6.0),
        "coverage": (0.50, 0.80),
        "background_level": (0.10, 0.35),
        "glare_strength": (0.0, 0.25),
        "reflection_strength": (0.005, 0.03),
        "lens_k1": (-0.015, 0.015),
        "defocus_radius_px": (0.0, 1.0),
        "motion_length_px": (0.0, 2.0),
        "vignetting": (0.0, 0.2),
        "electrons_at_white": (1500.0, 5000.0),
        "read_noise_e": (1.5, 3.0),
        "wb_error": 0.04,
        "output_white": (0.75, 0.95),
        "luma_denoise_sigma": (3.0, 7.0),
        "chroma_denoise_sigma": (1.0, 2.5),
        "jpeg_quality": (85, 92),
        "messenger": False,
    },
    "hard": {
        "off_axis_max_deg": 45.0,
        "roll_deg": (-12.0, 12.0),
        "coverage": (0.35, 0.50),
        "background_level": (0.05, 0.40),
        "glare_strength": (0.1, 0.5),
        "reflection_strength": (0.01, 0.06),
        "lens_k1": (-0.03, 0.03),
        "defocus_radius_px": (0.5, 2.5),
        "motion_length_px": (0.0, 5.0),
        "vignetting": (0.1, 0.4),
        "electrons_at_white": (300.0, 1500.0),
        "read_noise_e": (2.0, 5.0),
        "wb_error": 0.08,
        "output_white": (0.7, 1.05),
        "luma_denoise_sigma": (6.0, 12.0),
        "chroma_denoise_sigma": (2.0, 4.0),
        "jpeg_quality": (85, 92),
        "messenger": True,
    },
}

_MESSENGER_LONGEST = 1600
_MESSENGER_QUALITY = 70


class _Draw:
    """Draw named parameters from a Generator, honouring caller overrides.

    The sampler is always called, even when overridden, so that fixing one
    parameter leaves every other draw of the same seed unchanged (a sweep
    over ``yaw_deg`` keeps the same glare, noise, etc.).
    """

    def __init__(self, rng: np.random.Generator, overrides: Mapping[str, Any]):
        self.rng = rng
        self.overrides = dict(overrides)
        self.used: set[str] = set()
        self.drawn: list[str] = []
        self.params: dict[str, Any] = {}

    def __call__(self, name: str, sampler: Callable[[np.random.Generator], Any] | Any) -> Any:
        value = sampler(self.rng) if callable(sampler) else sampler
        self.drawn.append(name)
        if name in self.overrides:
            value = self.overrides[name]
            self.used.add(name)
        self.params[name] = _plain(value)
        return value

    def record(self, name: str, value: Any) -> None:
        """Record a derived (not overridable) value in the report."""
        self.params[name] = _plain(value)

    def uniform(self, name: str, lo_hi: tuple[float, float]) -> float:
        lo, hi = lo_hi
        return float(self(name, lambda r: r.uniform(lo, hi)))

    def log_uniform(self, name: str, lo_hi: tuple[float, float]) -> float:
        lo, hi = lo_hi
        return float(self(name, lambda r: math.exp(r.uniform(math.log(lo), math.log(hi)))))

    def check_unused(self) -> None:
        unknown = sorted(set(self.overrides) - self.used)
        if unknown:
            raise ValueError(
                f"unknown phone_photo_leak override(s) {unknown}; valid names: "
                f"{sorted(self.drawn)}"
            )


# --------------------------------------------------------------------------
# Stage 3 (computed first, the renderer needs it): camera pose
# --------------------------------------------------------------------------


def _rot_x(a: float) -> NDArray[np.float64]:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _rot_y(a: float) -> NDArray[np.float64]:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _rot_z(a: float) -> NDArray[np.float64]:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def camera_pose_homography(
    screen_size: tuple[int, int],
    photo_size: tuple[int, int],
    *,
    focal_px: float,
    yaw_deg: float,
    pitch_deg: float,
    roll_deg: float,
    coverage: float,
    position: tuple[float, float] = (0.0, 0.0),
    margin: float = 0.02,
) -> tuple[NDArray[np.float64], dict]:
    """Stage 3 - camera pose: pinhole homography screen pixels -> photo pixels.

    Models a phone held in front of the monitor. World frame: the screen is
    the plane ``Z = 0`` with ``X`` to the right and ``Y`` down, in units of
    one screen pixel pitch, origin at the screen centre; the viewer is at
    ``Z < 0``. The camera looks at the screen centre from direction
    ``R_y(yaw) R_x(pitch) (0, 0, -1)`` at distance ``d``, is rolled about
    its optical axis by ``roll``, and has intrinsics
    ``K = [[f, 0, cx], [0, f, cy], [0, 0, 1]]`` with the principal point at
    the photo centre. ``d`` is solved (fixed-point iteration; projection
    scale goes as ``1/d``) so that the bounding box of the projected screen
    spans ``coverage`` of the photo width. The screen is then placed at
    ``position`` (each in [-1, 1], fraction of the free room left/right and
    up/down), which is a principal-point shift: the image of a wider sensor
    cropped off-centre, so perspective stays exact. If the screen does not
    fit inside the photo with ``margin``, ``d`` is increased until it does
    (the achieved coverage is reported).

    Parameters
    ----------
    screen_size, photo_size : (width, height)
        In pixels.
    focal_px : float
        Focal length in photo pixels (a 26 mm-equivalent phone lens on a
        4000x3000 sensor is about 3000 px).
    yaw_deg, pitch_deg, roll_deg : float
        Camera orientation; off-axis angle is
        ``acos(cos(yaw) cos(pitch))``.
    coverage : float
        Target width of the screen's bounding box / photo width.
    position : (float, float)
        Placement of the screen in the free room, in [-1, 1].
    margin : float
        Minimum gap between the screen and the photo border, as a fraction
        of the photo size.

    Returns
    -------
    homography : ndarray
        ``3x3`` map screen pixel coords -> photo pixel coords (pixel centres
        at integers), before lens distortion.
    info : dict
        ``distance_px`` (camera distance in screen-pixel pitches),
        ``coverage_achieved``, ``screen_quad`` (projected corners).
    """
    sw, sh = screen_size
    pw, ph = photo_size
    # screen pixel (x, y) -> plane coordinates centred on the screen
    to_plane = np.array([[1.0, 0.0, 0.5 - sw / 2], [0.0, 1.0, 0.5 - sh / 2], [0.0, 0.0, 1.0]])
    k = np.array([[focal_px, 0.0, (pw - 1) / 2], [0.0, focal_px, (ph - 1) / 2], [0.0, 0.0, 1.0]])
    r_cam = _rot_y(math.radians(yaw_deg)) @ _rot_x(math.radians(pitch_deg))
    r_wc = _rot_z(math.radians(roll_deg)) @ r_cam.T
    corners = np.array([[-0.5, -0.5], [sw - 0.5, -0.5], [sw - 0.5, sh - 0.5], [-0.5, sh - 0.5]])

    def project(d: float) -> NDArray[np.float64]:
        centre = -d * r_cam[:, 2]
        t = -r_wc @ centre
        return k @ np.column_stack([r_wc[:, 0], r_wc[:, 1], t]) @ to_plane

    d = focal_px * sw / (coverage * pw)
    for _ in range(30):
        quad = _apply_h(project(d), corners)
        width = np.ptp(quad[:, 0])
        d_new = d * width / (coverage * pw)
        if abs(d_new - d) < 1e-9 * d:
            break
        d = d_new
    # make sure the screen fits with a margin (shrinks coverage if needed)
    for _ in range(30):
        quad = _apply_h(project(d), corners)
        ratio = max(
            np.ptp(quad[:, 0]) / (pw * (1 - 2 * margin)),
            np.ptp(quad[:, 1]) / (ph * (1 - 2 * margin)),
        )
        if ratio <= 1.0:
            break
        d *= ratio * 1.0005
    hom = project(d)
    quad = _apply_h(hom, corners)
    lo, hi = quad.min(0), quad.max(0)
    room = np.array([pw, ph]) * (1 - 2 * margin) - (hi - lo)
    centre_now = (lo + hi) / 2
    target = np.array([(pw - 1) / 2, (ph - 1) / 2]) + np.clip(position, -1, 1) * room / 2
    shift = target - centre_now
    hom = _translation(*shift) @ hom
    quad = _apply_h(hom, corners)
    info = {
        "distance_px": float(d),
        "coverage_achieved": float(np.ptp(quad[:, 0]) / pw),
        "screen_quad": quad.tolist(),
    }
    return hom / hom[2, 2], info


# --------------------------------------------------------------------------
# Stage 4a: lens distortion (applied inside the renderer)
# --------------------------------------------------------------------------


def _distortion_norm(photo_size: tuple[int, int]) -> tuple[NDArray[np.float64], float]:
    pw, ph = photo_size
    return np.array([(pw - 1) / 2, (ph - 1) / 2]), 0.5 * math.hypot(pw, ph)


def undistort_photo_points(
    points: NDArray[np.float64], k1: float, photo_size: tuple[int, int]
) -> NDArray[np.float64]:
    """Stage 4a - radial lens distortion, photo -> ideal pinhole coordinates.

    The distortion model (one radial term, defined on the *recorded* image
    so that rendering needs no iteration)::

        p_u = c + (p_d - c) * (1 + k1 * |p_d - c|^2 / R^2)

    with ``c`` the photo centre and ``R`` the half diagonal. ``k1 > 0``
    pushes ideal points inward in the recording (barrel), ``k1 < 0``
    outward (pincushion). Phone ISPs correct most of their lens distortion;
    the residual ``|k1|`` is a few percent.
    """
    c, r = _distortion_norm(photo_size)
    p = np.asarray(points, dtype=np.float64) - c
    rho2 = (p**2).sum(-1, keepdims=True) / r**2
    return c + p * (1 + k1 * rho2)


def distort_photo_points(
    points: NDArray[np.float64], k1: float, photo_size: tuple[int, int]
) -> NDArray[np.float64]:
    """Inverse of :func:`undistort_photo_points` (fixed-point iteration)."""
    c, r = _distortion_norm(photo_size)
    pu = np.asarray(points, dtype=np.float64) - c
    ru = np.sqrt((pu**2).sum(-1, keepdims=True))
    rd = ru.copy()
    for _ in range(50):
        rd = ru / (1 + k1 * (rd / r) ** 2)
    scale = np.divide(rd, ru, out=np.ones_like(ru), where=ru > 0)
    return c + pu * scale


# --------------------------------------------------------------------------
# Stage 4b: lens blur (point-spread function)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class LensPSF:
    """Stage 4b - the camera's point-spread function, in photo pixels.

    The PSF is the convolution of

    * **optics**: a Gaussian of ``optics_sigma_px`` (diffraction and
      aberrations of a phone lens in focus; at 0.2-0.4 px its MTF is
      0.5-0.9 at Nyquist and still 0.1-0.6 at 0.8 cycles/px - phone lenses
      are designed for the 48-50 MP native grid that is binned to 12 MP -
      which is why phones alias screens into moire);
    * **defocus**: a uniform disk of radius ``defocus_radius_px`` (the
      circle of confusion), MTF ``2 J1(2 pi r f) / (2 pi r f)``;
    * **hand shake**: a uniform line of length ``motion_length_px`` at
      ``motion_angle_deg`` (exposures of 1/60-1/30 s make it straight),
      MTF ``sinc(L f . m)``.

    The pixel's own area integration (a unit box) is not part of the PSF;
    :meth:`transfer` can include it.

    The blur is applied *before* sampling, where physics puts it: through
    :meth:`transfer` in the sub-pixel tables (so defocus really suppresses
    moire), through :meth:`screen_kernel` on the screen content, and as a
    Gaussian of :attr:`sigma_equiv` on the sharp outlines of the screen
    and bezel.
    """

    optics_sigma_px: float
    defocus_radius_px: float
    motion_length_px: float
    motion_angle_deg: float

    @property
    def sigma_equiv(self) -> float:
        """Standard deviation of the PSF (disk r^2/4, line L^2/12 per axis)."""
        return math.sqrt(
            self.optics_sigma_px**2 + self.defocus_radius_px**2 / 4 + self.motion_length_px**2 / 12
        )

    def transfer(
        self, fu: NDArray[np.float64], fv: NDArray[np.float64], *, pixel: bool = True
    ) -> NDArray[np.float64]:
        """Optical transfer function at frequencies ``(fu, fv)`` (cycles/px).

        With ``pixel=True`` the unit-box pixel aperture ``sinc(fu) sinc(fv)``
        is included (the sensor's area integration).
        """
        from scipy.special import j1

        rho = np.hypot(fu, fv)
        h = np.exp(-2 * math.pi**2 * self.optics_sigma_px**2 * rho**2)
        if self.defocus_radius_px > 0:
            z = 2 * math.pi * self.defocus_radius_px * rho
            h = h * np.where(z > 1e-8, 2 * j1(z) / np.maximum(z, 1e-8), 1.0)
        if self.motion_length_px > 0:
            a = math.radians(self.motion_angle_deg)
            h = h * np.sinc(self.motion_length_px * (fu * math.cos(a) + fv * math.sin(a)))
        if pixel:
            h = h * np.sinc(fu) * np.sinc(fv)
        return h

    def samples(self, oversample: int = 8) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The PSF as weighted points: ``(offsets N x 2 in px, weights N)``.

        Rendered on a grid ``oversample`` times finer than a pixel: the
        disk by area, then the Gaussian and the line by convolution.
        """
        ss = oversample
        r = max(self.defocus_radius_px, 0.0)
        half = int(math.ceil(r + 3.5 * self.optics_sigma_px + self.motion_length_px / 2)) + 1
        n = (2 * half + 1) * ss
        ax = (np.arange(n) + 0.5) / ss - half - 0.5
        xx, yy = np.meshgrid(ax, ax)
        # r below a fine cell: the four central cells (a point at the centre)
        k = (xx**2 + yy**2 <= max(r, 0.75 / ss) ** 2).astype(np.float64)
        if self.optics_sigma_px > 0:
            k = cv2.GaussianBlur(
                k, (0, 0), self.optics_sigma_px * ss, borderType=cv2.BORDER_CONSTANT
            )
        if self.motion_length_px > 0:
            length = self.motion_length_px * ss
            mh = int(math.ceil(length / 2)) + 1
            line = np.zeros((2 * mh + 1, 2 * mh + 1))
            a = math.radians(self.motion_angle_deg)
            t = np.linspace(-length / 2, length / 2, max(2, int(length * 4) + 1))
            rows = np.rint(mh + t * math.sin(a)).astype(int)
            cols = np.rint(mh + t * math.cos(a)).astype(int)
            np.add.at(line, (rows, cols), 1.0)
            k = cv2.filter2D(k, -1, line / line.sum(), borderType=cv2.BORDER_CONSTANT)
        keep = k > k.max() * 1e-4
        w = k[keep]
        return np.c_[xx[keep], yy[keep]], w / w.sum()

    def screen_kernel(self, jacobian: NDArray[np.float64]) -> NDArray[np.float32]:
        """The PSF mapped into screen pixels through a local affine map.

        ``jacobian`` is ``d(screen x, y) / d(photo u, v)`` (2x2). The PSF's
        weighted points are mapped to screen offsets and splatted
        bilinearly onto the integer screen-pixel grid.
        """
        pts, w = self.samples()
        q = pts @ np.asarray(jacobian, dtype=np.float64).T
        half = int(math.ceil(np.abs(q).max())) + 1
        size = 2 * half + 1
        k = np.zeros((size, size))
        fx, fy = np.floor(q[:, 0]), np.floor(q[:, 1])
        ax, ay = q[:, 0] - fx, q[:, 1] - fy
        ix, iy = fx.astype(int) + half, fy.astype(int) + half
        taps = (
            (0, 0, (1 - ax) * (1 - ay)),
            (1, 0, ax * (1 - ay)),
            (0, 1, (1 - ax) * ay),
            (1, 1, ax * ay),
        )
        for dx, dy, wt in taps:
            np.add.at(k, (iy + dy, ix + dx), w * wt)
        return (k / k.sum()).astype(np.float32)


# --------------------------------------------------------------------------
# Stage 1: display (monitor pixels with an RGB stripe and black matrix)
# --------------------------------------------------------------------------

_LUT_NX = 1024  # sub-pixel phase samples over one pixel pitch
_LUT_NW = 256  # footprint samples over [0, _LUT_WMAX] screen px per photo px
_LUT_WMAX = 4.0  # beyond 4 pitches the structure is averaged out anyway
_LUT_HARMONICS = 64  # Fourier terms of the aperture pulse train


def _aperture_tables(
    offsets: Sequence[float],
    duty: float,
    direction: NDArray[np.float64],
    psf: LensPSF,
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Tabulate the captured response of one axis of the sub-pixel structure.

    Along one screen axis each colour's emitters form a pulse train of
    period one screen pixel, aperture width ``duty``, centred at
    ``i + offset``. A camera pixel whose footprint on the screen spreads
    ``w`` screen pixels per photo pixel along this axis (in photo
    direction ``direction``, a unit 2-vector: the row of the inverse
    Jacobian for this axis, normalised) sees the pulse train filtered by
    the pixel box and the lens PSF. A sinusoid of ``n`` cycles per screen
    pixel is ``n w direction`` cycles per photo pixel, so the captured
    response is the Fourier series::

        S(x, w) = 1 + 2 sum_n sinc(n duty) H(n w direction) cos(2 pi n (x - offset))

    (normalised to mean 1), with ``H`` :meth:`LensPSF.transfer` including
    the pixel box: exact for the whole PSF, defocus sidelobes included,
    truncated at :data:`_LUT_HARMONICS` terms and clipped at 0.

    The second table ``T(x, w)`` is geometric: the coordinate, relative to
    ``floor(x)``'s pixel, at which bilinear sampling of the pixel values
    reproduces the overlap-weighted mix of the two nearest apertures seen
    by a box footprint of width ``min(w, 1)`` (exact for magnified
    screens; for wider footprints the content is prefiltered instead).

    Returns
    -------
    S, T : ndarray
        ``(NW + 1) x (NX + 1) x len(offsets)`` ``float32``, indexed by
        (``w * NW / WMAX``, ``x * NX``) with ``x`` the phase in [0, 1].
    """
    xs = np.linspace(0.0, 1.0, _LUT_NX + 1)
    ws = np.maximum(np.linspace(0.0, _LUT_WMAX, _LUT_NW + 1), 1e-4)
    n = np.arange(1, _LUT_HARMONICS + 1)
    f = n[None, :] * ws[:, None]  # cycles per photo pixel, NW x N
    h = psf.transfer(f * direction[0], f * direction[1], pixel=True)
    coef = 2 * np.sinc(n * duty)[None, :] * h  # NW x N
    s_tab, t_tab = [], []
    for off in offsets:
        phase = 2 * math.pi * n[:, None] * (xs[None, :] - off)  # N x NX
        s = 1.0 + coef @ np.cos(phase)
        s_tab.append(np.maximum(s, 0.0))
        q = xs[None, :] - off
        i0 = np.floor(q)
        xr = q - i0
        half = np.minimum(ws[:, None], 1.0) / 2
        a, b = xr - half, xr + half
        ov0 = np.clip(np.minimum(b, duty / 2) - np.maximum(a, -duty / 2), 0.0, None)
        ov1 = np.clip(np.minimum(b, 1 + duty / 2) - np.maximum(a, 1 - duty / 2), 0.0, None)
        tot = ov0 + ov1
        t = np.where(tot > 1e-9, ov1 / np.maximum(tot, 1e-12), (xr > 0.5).astype(np.float64))
        t_tab.append(i0 + t)
    return (
        np.ascontiguousarray(np.stack(s_tab, -1), dtype=np.float32),
        np.ascontiguousarray(np.stack(t_tab, -1), dtype=np.float32),
    )


@dataclass(frozen=True)
class _Display:
    """Monitor state prepared by :func:`display_model`."""

    linear: NDArray[np.float32]  # HxWx3 linear light, prefiltered (area + PSF)
    stripe_s: NDArray[np.float32]  # (NW+1)x(NX+1)x3 horizontal response
    stripe_t: NDArray[np.float32]
    row_st: NDArray[np.float32]  # (NW+1)x(NX+1)x2 vertical (black matrix) S, T


def display_model(
    image: NDArray[np.uint8],
    *,
    gamma: float,
    black_level: float,
    fill_x: float,
    fill_y: float,
    subpixel_order: str,
    jacobian: NDArray[np.float64],
    psf: LensPSF,
) -> _Display:
    """Stage 1 - display: the stamped screen as light leaving an LCD panel.

    * **Electro-optical transfer**: 8-bit code values to relative linear
      luminance with a power-law display gamma (sRGB monitors measure
      2.1-2.4) and a black level (LCD backlight leakage, contrast
      300:1-2000:1): ``L = black + (1 - black) * (v / 255) ** gamma``.
    * **Sub-pixel structure**: an RGB (or BGR) vertical stripe; pixel ``i``
      spans ``[i - 1/2, i + 1/2)`` and sub-pixel ``c`` emits only through
      an aperture of width ``fill_x / 3`` centred at ``i + (c - 1) / 3``;
      the black matrix leaves an aperture of height ``fill_y`` per row.
      Each aperture is a uniform emitter at its pixel's value. The
      structure is tabulated as its captured response - Fourier series of
      the pulse trains times the camera's OTF including the pixel box (see
      :func:`_aperture_tables`) - so aliasing of the stripe against the
      sensor grid, i.e. moire, comes out of sampling, not from a texture.
    * **Content prefilter** (what the camera does to the screen's picture,
      applied in screen coordinates): when a camera pixel covers ``w > 1``
      screen pixels the content gets a Gaussian of ``sigma^2 = (w^2 - 1) /
      12`` (area integration beyond what the renderer's two-tap sampling
      covers), then the lens PSF mapped into screen pixels through the
      pose's Jacobian at the screen centre (:meth:`LensPSF.screen_kernel`).
      Under strong perspective the far side is therefore slightly under-
      and the near side slightly over-blurred (by the ratio of local
      scales, < 2x at 45 degrees).

    Parameters
    ----------
    image : ndarray
        Stamped screen, ``HxWx3`` ``uint8`` sRGB.
    gamma : float
        Display gamma.
    black_level : float
        Relative luminance of code 0.
    fill_x, fill_y : float
        Aperture fractions of the sub-pixel width and of the row height.
    subpixel_order : {"RGB", "BGR"}
        Left-to-right order of the stripe.
    jacobian : ndarray
        ``2x2`` ``d(screen x, y) / d(photo u, v)`` at the screen centre.
    psf : LensPSF
        The camera's blur.

    Returns
    -------
    _Display
        Linear content and response tables for the renderer.
    """
    jac = np.asarray(jacobian, dtype=np.float64)
    lut = black_level + (1.0 - black_level) * (np.arange(256) / 255.0) ** gamma
    linear = lut.astype(np.float32)[image]
    wx, wy = np.hypot(*jac[0]), np.hypot(*jac[1])
    sx, sy = math.sqrt(max(wx**2 - 1, 0) / 12), math.sqrt(max(wy**2 - 1, 0) / 12)
    if sx > 0.05 or sy > 0.05:
        linear = cv2.GaussianBlur(linear, (0, 0), sigmaX=max(sx, 1e-3), sigmaY=max(sy, 1e-3))
    kernel = psf.screen_kernel(jac)
    if kernel.shape[0] > 1:
        linear = cv2.filter2D(linear, -1, kernel, borderType=cv2.BORDER_REPLICATE)
    orders = {"RGB": (-1 / 3, 0.0, 1 / 3), "BGR": (1 / 3, 0.0, -1 / 3)}
    if subpixel_order not in orders:
        raise ValueError(f"subpixel_order must be 'RGB' or 'BGR', got {subpixel_order!r}")
    order = orders[subpixel_order]
    stripe_s, stripe_t = _aperture_tables(order, fill_x / 3, jac[0] / max(wx, 1e-12), psf)
    row_s, row_t = _aperture_tables((0.0,), fill_y, jac[1] / max(wy, 1e-12), psf)
    row_st = np.ascontiguousarray(np.concatenate([row_s, row_t], -1))
    return _Display(np.ascontiguousarray(linear), stripe_s, stripe_t, row_st)


# --------------------------------------------------------------------------
# Stage 2: scene around and on the screen
# --------------------------------------------------------------------------


def _smooth_noise(
    rng: np.random.Generator, shape: tuple[int, int], sigma: float
) -> NDArray[np.float32]:
    """Unit-variance Gaussian noise with correlation length ``sigma`` px.

    Large ``sigma`` is generated on a grid ``sigma / 2`` times coarser and
    upsampled (bicubic), which keeps the cost independent of ``sigma``.
    """
    h, w = shape
    f = max(1.0, sigma / 2)
    small = (max(2, int(math.ceil(h / f)) + 2), max(2, int(math.ceil(w / f)) + 2))
    n = rng.standard_normal(small).astype(np.float32)
    n = cv2.GaussianBlur(n, (0, 0), sigma / f)
    if f > 1:
        n = cv2.resize(n, (int(small[1] * f), int(small[0] * f)), interpolation=cv2.INTER_CUBIC)
    n = np.ascontiguousarray(n[:h, :w])
    return (n - float(n.mean())) / max(float(n.std()), 1e-6)


def scene_fields(
    rng: np.random.Generator,
    draw: _Draw,
    ranges: Mapping[str, Any],
    photo_size: tuple[int, int],
    screen_quad: NDArray[np.float64],
    screen_size: tuple[int, int],
    bezel: tuple[float, float, float, float],
    to_photo: Callable[[NDArray[np.float64]], NDArray[np.float64]],
    step: int,
) -> tuple[NDArray[np.float32], NDArray[np.float32], float, float]:
    """Stage 2 - scene: background, bezel, glare and ambient reflection.

    All in relative linear radiance (screen white = 1), rendered on a grid
    ``step`` times coarser than the photo (everything here is smooth) and
    upsampled by the renderer.

    * **Background** (wall/desk behind the monitor): a base colour at
      ``background_level`` (an office wall is 0.1-0.4 of a 250 cd/m^2
      monitor white), a lighting gradient in a random direction, smooth
      blotches, fine texture, and with probability 0.6 a desk top below
      the monitor (a darker, warmer region with a stretched wood-like
      grain), and 0-4 pieces of wall clutter (pictures, windows, shelves:
      soft-edged, slightly rotated rectangles of random brightness and
      colour) that a screen locator must not mistake for the monitor. The
      background is not on the screen plane; it is painted in photo
      coordinates directly (no parallax is needed for a tracer benchmark).
    * **Stand**: with probability 0.8 a dark neck below the bezel (drawn in
      the screen plane, mapped by ``to_photo``).
    * **Bezel**: dark plastic at ``bezel_level`` (0.01-0.04); it reflects
      glare and room at ``bezel_gloss`` (0.15-0.6) of the panel's strength
      (panels are glossier than bezels); its extent is set by the caller.
    * **Glare**: the reflection of a lamp or window on the panel - an
      elliptical Gaussian blob of peak ``glare_strength`` and size 5-20% of
      the photo diagonal, added in linear light on the monitor (screen and
      bezel) only.
    * **Ambient reflection**: the room mirrored faintly by the anti-glare
      coating - a blurred random scene (soft blobs, one or two dark
      silhouettes / bright rectangles) scaled to ``reflection_strength``,
      added on the monitor only.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of textures and object placement.
    draw : _Draw
        Records (and lets callers override) the named parameters.
    ranges : mapping
        The level's ranges (``background_level``, ``glare_strength``,
        ``reflection_strength``).
    photo_size, screen_size : (width, height)
        Sizes in pixels.
    screen_quad : ndarray
        Projected screen corners (photo pixels), to place glare and desk.
    bezel : (x0, y0, x1, y1)
        Outer monitor rectangle in screen coordinates (for the stand).
    to_photo : callable
        Screen-plane coordinates -> photo coordinates (pose + distortion).
    step : int
        Coarse grid step in photo pixels.

    Returns
    -------
    background : ndarray
        Coarse ``h x w x 3`` radiance of everything outside the monitor.
    monitor_add : ndarray
        Coarse ``h x w x 3`` radiance added on the whole monitor (glare +
        reflection).
    bezel_level : float
        Radiance of the bezel plastic.
    bezel_gloss : float
        Fraction of ``monitor_add`` the bezel reflects.
    """
    pw, ph = photo_size
    gw, gh = pw // step + 3, ph // step + 3
    # coarse grid coordinates in photo pixels (cell centres, with 1 cell pad)
    gx = (np.arange(gw, dtype=np.float32) - 1 + 0.5) * step - 0.5
    gy = (np.arange(gh, dtype=np.float32) - 1 + 0.5) * step - 0.5
    xx, yy = np.meshgrid(gx / pw, gy / ph)

    # --- background
    level = draw.uniform("background_level", ranges["background_level"])
    tint = np.asarray(
        draw("background_tint", lambda r: r.normal([0.04, 0.0, -0.05], 0.05, 3)), dtype=np.float32
    )
    grad_angle = draw.uniform("background_gradient_angle_deg", (0.0, 360.0))
    grad_amp = draw.uniform("background_gradient", (0.2, 0.7))
    blotch = draw.uniform("background_blotch", (0.05, 0.2))
    ga = math.radians(grad_angle)
    ramp = ((xx - 0.5) * math.cos(ga) + (yy - 0.5) * math.sin(ga)).astype(np.float32)
    blotches = _smooth_noise(rng, (gh, gw), max(gw, gh) / 12)
    base = level * (1 + grad_amp * ramp) * (1 + blotch * blotches)
    texture = 1 + 0.04 * _smooth_noise(rng, (gh, gw), 0.8)
    bg = base[..., None] * (1 + tint)[None, None, :] * texture[..., None]
    def to_grid(pts: NDArray[np.float64]) -> NDArray[np.int32]:
        # photo coords -> coarse grid coords (k = (p + 0.5) / step + 0.5), 1/16 px
        return np.rint(((np.asarray(pts) + 0.5) / step + 0.5) * 16).astype(np.int32)

    def paint(
        img: NDArray[np.float32], poly: NDArray[np.float64], color: NDArray[np.float32], soft: float
    ) -> None:
        m = np.zeros((gh, gw), np.uint8)
        cv2.fillPoly(m, [to_grid(poly)], 255, lineType=cv2.LINE_AA, shift=4)
        a = m.astype(np.float32) / 255
        if soft > 0:
            a = cv2.GaussianBlur(a, (0, 0), soft)
        img *= 1 - a[..., None]
        img += a[..., None] * color

    # clutter on the wall: pictures, windows, shelves, a second monitor
    n_obj = int(draw("background_objects", lambda r: int(r.integers(0, 5))))
    objects = []
    for _ in range(n_obj):
        cx, cy = rng.uniform(0, 1, 2) * (pw, ph)
        size = rng.uniform(0.04, 0.2) * math.hypot(pw, ph)
        aspect = math.exp(rng.uniform(-0.7, 0.7))
        hw, hh = size * math.sqrt(aspect) / 2, size / math.sqrt(aspect) / 2
        ang = rng.uniform(-0.1, 0.1)
        ca, sa = math.cos(ang), math.sin(ang)
        rot = np.array([[ca, sa], [-sa, ca]])
        corners = np.array([[-hw, -hh], [hw, -hh], [hw, hh], [-hw, hh]]) @ rot
        colour = (level * rng.uniform(0.2, 2.5) * np.exp(rng.normal(0, 0.12, 3))).astype(np.float32)
        soft = float(rng.uniform(0.3, 2.0))
        paint(bg, corners + (cx, cy), colour, soft)
        objects.append(
            {"quad": corners + (cx, cy), "radiance": colour, "edge_blur_px": soft * step}
        )
    draw.record("background_object_list", objects)
    has_desk = bool(draw("desk", lambda r: r.random() < 0.6))
    screen_bottom = float(np.max(screen_quad[:, 1]))
    desk_y = draw.uniform("desk_edge_y_frac", (min(0.99, screen_bottom / ph + 0.04), 1.05))
    desk_tilt = draw.uniform("desk_edge_tilt", (-0.05, 0.05))
    desk_level = draw.uniform("desk_level", (0.3, 0.9))
    if has_desk:
        edge = yy - (desk_y + desk_tilt * (xx - 0.5))
        soft = np.clip(edge * ph / (2 * step) + 0.5, 0, 1).astype(np.float32)
        grain = _smooth_noise(rng, (gh, gw), 1.0)
        grain = cv2.GaussianBlur(grain, (0, 0), sigmaX=12.0, sigmaY=0.7)
        grain = grain / max(float(grain.std()), 1e-6)
        wood = np.array([1.15, 0.95, 0.75], np.float32)
        desk = level * desk_level * (1 + 0.12 * grain)[..., None] * wood
        bg = bg * (1 - soft[..., None]) + desk * soft[..., None]
    # --- bezel, and the monitor's stand (a dark neck below it)
    bezel_level = draw.uniform("bezel_level", (0.01, 0.04))
    bezel_gloss = draw.uniform("bezel_gloss", (0.15, 0.6))
    sw, sh = screen_size
    neck = draw.uniform("stand_width_frac", (0.06, 0.15)) * sw
    if bool(draw("stand", lambda r: r.random() < 0.8)):
        top = bezel[3] - 2.0
        left, right, bottom = sw / 2 - neck / 2, sw / 2 + neck / 2, top + 0.4 * sh
        poly = np.array([[left, top], [right, top], [right, bottom], [left, bottom]])
        t = np.linspace(0, 1, 32)[:, None]
        edge = np.concatenate([poly[i] + t * (poly[(i + 1) % 4] - poly[i]) for i in range(4)])
        paint(bg, to_photo(edge), np.full(3, bezel_level * 1.5, np.float32), 0.5)
    bg = np.maximum(bg, 0).astype(np.float32)

    # --- glare (photo coordinates, linear light)
    qmin, qmax = screen_quad.min(0), screen_quad.max(0)
    g_strength = draw.uniform("glare_strength", ranges["glare_strength"])
    g_cx = draw.uniform("glare_x", (qmin[0], qmax[0]))
    g_cy = draw.uniform("glare_y", (qmin[1], qmax[1]))
    diag = math.hypot(pw, ph)
    g_sx = draw.uniform("glare_sigma_x", (0.05 * diag, 0.2 * diag))
    g_sy = draw.uniform("glare_sigma_y", (0.05 * diag, 0.2 * diag))
    g_tint = np.asarray(
        draw("glare_tint", lambda r: r.normal([0.03, 0.0, -0.03], 0.03, 3)), dtype=np.float32
    )
    px, py = xx * pw, yy * ph
    glare = g_strength * np.exp(-0.5 * (((px - g_cx) / g_sx) ** 2 + ((py - g_cy) / g_sy) ** 2))
    add = glare[..., None].astype(np.float32) * (1 + g_tint)

    # --- ambient reflection: a faint blurred scene
    r_strength = draw.uniform("reflection_strength", ranges["reflection_strength"])
    refl = 0.5 + 0.5 * _smooth_noise(rng, (gh, gw), max(gw, gh) / 10)
    n_rect = int(draw("reflection_shapes", lambda r: int(r.integers(1, 4))))
    shapes = []
    for _ in range(n_rect):  # a few soft shapes: windows (bright), people (dark)
        cx, cy = rng.uniform(0, 1, 2)
        hw, hh = rng.uniform(0.05, 0.25, 2)
        sign = 1.0 if rng.random() < 0.5 else -0.8
        shapes.append({"centre_frac": [cx, cy], "half_size_frac": [hw, hh], "sign": sign})
        inside = ((np.abs(xx - cx) < hw) & (np.abs(yy - cy) < hh)).astype(np.float32)
        refl = refl + sign * inside
    small = cv2.resize(refl.astype(np.float32), (gw // 8, gh // 8), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), max(gw, gh) / 320)
    refl = cv2.resize(small, (gw, gh), interpolation=cv2.INTER_CUBIC)
    refl = np.clip(refl, 0, None)
    refl = refl / max(float(refl.mean()), 1e-6)
    draw.record("reflection_shape_list", shapes)
    add = add + (r_strength * refl)[..., None] * np.array([1.0, 1.0, 1.05], np.float32)
    return bg, add.astype(np.float32), bezel_level, bezel_gloss


# --------------------------------------------------------------------------
# Stages 1-4a combined: render the scene by inverse mapping photo pixels
# --------------------------------------------------------------------------


def _coarse_rows(
    field: NDArray[np.float32], step: int, r0: int, r1: int, width: int
) -> NDArray[np.float32]:
    """Rows ``r0:r1`` of a padded coarse field bilinearly upsampled by ``step``.

    The coarse grid holds samples at photo coordinates ``(k - 1 + 0.5) *
    step - 0.5`` (one cell of padding on every side). Resizing a band of
    it by exactly ``step`` with the pixel-centre convention interpolates
    linearly between those samples; the band carries enough extra rows that
    OpenCV's edge clamping never reaches the rows returned. ``r0`` must be
    a multiple of ``step``.
    """
    ks = r0 // step
    n = (r1 - r0 + step - 1) // step + 3
    band = field[ks : ks + n]
    size = (field.shape[1] * step, band.shape[0] * step)
    big = cv2.resize(band, size, interpolation=cv2.INTER_LINEAR)
    return big[step : step + (r1 - r0), step : step + width]


def _polygon_mask(
    rect: tuple[float, float, float, float],
    hom: NDArray[np.float64],
    k1: float,
    photo_size: tuple[int, int],
) -> NDArray[np.float32]:
    """Anti-aliased coverage of a screen-plane rectangle in the photo."""
    x0, y0, x1, y1 = rect
    n = 256
    t = np.linspace(0, 1, n, endpoint=False)
    edges = np.concatenate(
        [
            np.c_[x0 + (x1 - x0) * t, np.full(n, y0)],
            np.c_[np.full(n, x1), y0 + (y1 - y0) * t],
            np.c_[x1 - (x1 - x0) * t, np.full(n, y1)],
            np.c_[np.full(n, x0), y1 - (y1 - y0) * t],
        ]
    )
    pts = distort_photo_points(_apply_h(hom, edges), k1, photo_size)
    shift = 4
    # polygon vertices are continuous coordinates; OpenCV puts pixel centres
    # at integers as we do
    poly = np.rint(pts * (1 << shift)).astype(np.int32)
    poly = np.clip(poly, -(1 << 28), 1 << 28)
    pw, ph = photo_size
    mask = np.zeros((ph, pw), np.uint8)
    cv2.fillPoly(mask, [poly], 255, lineType=cv2.LINE_AA, shift=shift)
    return mask


def render_photo_radiance(
    display: _Display,
    hom: NDArray[np.float64],
    k1: float,
    photo_size: tuple[int, int],
    screen_size: tuple[int, int],
    bezel: tuple[float, float, float, float],
    background: NDArray[np.float32],
    monitor_add: NDArray[np.float32],
    bezel_level: float,
    bezel_gloss: float,
    psf: LensPSF,
    step: int,
) -> NDArray[np.float32]:
    """Render the scene radiance reaching the sensor, by inverse mapping.

    For every photo pixel ``p_d`` (distorted coordinates) the renderer
    undoes the lens distortion (stage 4a), maps the ideal point through the
    inverse pose homography into screen coordinates ``(sx, sy)`` and
    evaluates the display there:

    * the camera pixel's footprint along screen x is ``w_x = |J_x|``, the
      norm of the row of the local Jacobian ``J = d(sx, sy)/d(u, v)`` (the
      screen pixels spanned per photo pixel), likewise ``w_y``;
    * the stripe and black-matrix responses are looked up in the tables of
      :func:`_aperture_tables` at (phase, ``w``) with bilinear
      interpolation (``cv2.remap``), giving per-channel factors
      ``S_c(sx, w_x) * S_row(sy, w_y)``; these already hold the pixel's
      area integration and the lens PSF, so the moire that results is the
      aliasing a real sensor produces;
    * the content is sampled per colour channel at the aperture-weighted
      coordinate of the tables (bilinear ``cv2.remap`` of the linear,
      prefiltered screen), which reproduces the overlap-weighted mix of
      neighbouring sub-pixels (colour fringes on text included) when a
      camera pixel is smaller than a screen pixel;
    * the bezel, background, glare and reflection (stage 2) are composited
      with anti-aliased screen/monitor outlines (``cv2.fillPoly`` at 1/16
      px, then blurred by a Gaussian of the PSF's standard deviation).

    Parameters
    ----------
    display : _Display
        From :func:`display_model`.
    hom : ndarray
        Pose homography, screen -> ideal photo coordinates.
    k1 : float
        Radial distortion (:func:`undistort_photo_points`).
    photo_size, screen_size : (width, height)
        Sizes in pixels.
    bezel : (x0, y0, x1, y1)
        Outer monitor rectangle in screen coordinates.
    background, monitor_add : ndarray
        Coarse fields from :func:`scene_fields`.
    bezel_level, bezel_gloss : float
        From :func:`scene_fields`.
    psf : LensPSF
        Used for the outlines (the rest is in ``display``).
    step : int
        Coarse grid step in photo pixels.

    Approximations (the price of one sample per photo pixel instead of
    supersampling): the product of content and sub-pixel response is
    filtered factor by factor; the OTF direction of each axis is the one
    at the screen centre while its scale ``w`` is per pixel; screen
    coordinates and footprints are computed exactly every ``step`` photo
    pixels and interpolated bilinearly (the projective map's curvature
    makes that error < 1e-3 px).

    Returns
    -------
    ndarray
        ``H x W x 3`` ``float32`` relative linear radiance (screen white ~ 1).
    """
    pw, ph = photo_size
    sw, sh = screen_size
    gw, gh = pw // step + 3, ph // step + 3
    gx = (np.arange(gw, dtype=np.float64) - 1 + 0.5) * step - 0.5
    gy = (np.arange(gh, dtype=np.float64) - 1 + 0.5) * step - 0.5
    xx, yy = np.meshgrid(gx, gy)
    pu = undistort_photo_points(np.stack([xx, yy], -1), k1, photo_size)
    g = np.linalg.inv(hom)
    den = g[2, 0] * pu[..., 0] + g[2, 1] * pu[..., 1] + g[2, 2]
    sx = (g[0, 0] * pu[..., 0] + g[0, 1] * pu[..., 1] + g[0, 2]) / den
    sy = (g[1, 0] * pu[..., 0] + g[1, 1] * pu[..., 1] + g[1, 2]) / den
    # Jacobian d(sx, sy)/d(u, v) by central differences on the coarse grid
    # (includes the distortion); borders use one-sided differences.
    jxu, jxv = np.gradient(sx, step, axis=1), np.gradient(sx, step, axis=0)
    jyu, jyv = np.gradient(sy, step, axis=1), np.gradient(sy, step, axis=0)
    wx = np.sqrt(jxu**2 + jxv**2)
    wy = np.sqrt(jyu**2 + jyv**2)
    coarse = np.ascontiguousarray(np.stack([sx, sy, wx, wy], -1), dtype=np.float32)
    out = np.empty((ph, pw, 3), np.float32)
    screen_mask = _polygon_mask((-0.5, -0.5, sw - 0.5, sh - 0.5), hom, k1, photo_size)
    monitor_mask = _polygon_mask(bezel, hom, k1, photo_size)
    blur = psf.sigma_equiv
    if blur > 0.2:  # outlines are blurred by the lens like everything else
        screen_mask = cv2.GaussianBlur(screen_mask, (0, 0), blur)
        monitor_mask = cv2.GaussianBlur(monitor_mask, (0, 0), blur)
    # on the monitor: glare + reflection + bezel replace the background
    monitor_delta = np.ascontiguousarray(bezel_gloss * monitor_add + bezel_level - background)
    screen_delta = np.ascontiguousarray((1 - bezel_gloss) * monitor_add - bezel_level)
    lin = display.linear
    row_tab = display.row_st
    wscale = _LUT_NW / _LUT_WMAX
    chunk = 128  # a multiple of step; keeps temporaries in cache
    for r0 in range(0, ph, chunk):
        r1 = min(ph, r0 + chunk)
        f = _coarse_rows(coarse, step, r0, r1, pw)
        fsx = np.floor(f[..., 0])
        fsy = np.floor(f[..., 1])
        lx = f[..., 0] - fsx
        lx *= _LUT_NX
        ly = f[..., 1] - fsy
        ly *= _LUT_NX
        lwx = np.minimum(f[..., 2] * wscale, _LUT_NW)
        lwy = np.minimum(f[..., 3] * wscale, _LUT_NW)
        rep = cv2.BORDER_REPLICATE
        s_x = cv2.remap(display.stripe_s, lx, lwx, cv2.INTER_LINEAR, borderMode=rep)
        t_x = cv2.remap(display.stripe_t, lx, lwx, cv2.INTER_LINEAR, borderMode=rep)
        st_y = cv2.remap(row_tab, ly, lwy, cv2.INTER_LINEAR, borderMode=rep)
        my = fsy + st_y[..., 1]
        sm = screen_mask[r0:r1].astype(np.float32)
        sm *= 1 / 255
        mm = monitor_mask[r0:r1].astype(np.float32)
        mm *= 1 / 255
        s_y = st_y[..., 0] * sm  # screen coverage folded into the row factor
        bg = _coarse_rows(background, step, r0, r1, pw)
        mon = _coarse_rows(monitor_delta, step, r0, r1, pw)
        scr = _coarse_rows(screen_delta, step, r0, r1, pw)
        for c in range(3):
            mx = fsx + t_x[..., c]
            v = cv2.remap(lin[..., c], mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            # screen pixels emit on top of the (black) bezel plane
            v *= s_x[..., c]
            v *= s_y
            v += bg[..., c]
            v += mm * mon[..., c]
            v += sm * scr[..., c]
            out[r0:r1, :, c] = v
    return out


# --------------------------------------------------------------------------
# Stage 5: sensor
# --------------------------------------------------------------------------

# Bayer code for an R G / G B sensor (R at row 0, col 0). OpenCV's legacy
# two-letter names describe the second row/column (RGGB == "BayerBG");
# the four-letter aliases are unambiguous when present.
_BAYER_RGGB_EA = getattr(cv2, "COLOR_BayerRGGB2RGB_EA", cv2.COLOR_BayerBG2RGB_EA)
_BAYER_RGGB = getattr(cv2, "COLOR_BayerRGGB2RGB", cv2.COLOR_BayerBG2RGB)
_BAYER_RGGB_VNG = getattr(cv2, "COLOR_BayerRGGB2RGB_VNG", cv2.COLOR_BayerBG2RGB_VNG)


def sensor_capture(
    radiance: NDArray[np.float32],
    rng: np.random.Generator,
    *,
    color_matrix: NDArray[np.float64],
    vignetting: float,
    electrons_at_white: float,
    read_noise_e: float,
    raw_white: float,
    bits: int = 12,
) -> NDArray[np.uint16]:
    """Stage 5a - sensor: vignetting, colour filters, Bayer RGGB, noise, ADC.

    * **Vignetting** (optical, before the sensor): residual corner falloff
      after the ISP's lens-shading correction,
      ``1 - vignetting * (r / R)^2`` (``R`` the half diagonal).
    * **Colour filter array**: each photosite sees one filter of an RGGB
      Bayer mosaic (R at even row/even column). The filters' spectral
      overlap with the display primaries is a 3x3 ``color_matrix`` (raw =
      M @ display RGB), with crosstalk and per-channel sensitivity.
    * **Photon shot noise and read noise**: ``electrons_at_white``
      photo-electrons collected by a green photosite for the screen's white
      (a phone pixel's full well is 4-6 ke-; dim rooms and short exposures
      give fewer, hence more noise); Poisson noise approximated by a
      Gaussian of variance equal to the mean (exact enough above ~10 e-),
      plus Gaussian read noise ``read_noise_e``.
    * **ADC**: screen white at ``raw_white`` of full scale (highlight
      headroom), quantised to ``bits`` bits and clipped (glare can
      saturate). No black-level pedestal: negative read noise clips at 0
      (a slight bias in the deepest shadows).

    Parameters
    ----------
    radiance : ndarray
        ``H x W x 3`` ``float32`` relative radiance (screen white ~ 1).
    rng : numpy.random.Generator
        Source of the noise.
    color_matrix : ndarray
        ``3x3`` display RGB -> raw filter response.
    vignetting : float
        Corner falloff fraction.
    electrons_at_white : float
        Photo-electrons of a green photosite at screen white.
    read_noise_e : float
        Read noise, electrons RMS.
    raw_white : float
        Fraction of the ADC range at screen white.
    bits : int
        ADC depth.

    Returns
    -------
    ndarray
        ``H x W`` ``uint16`` Bayer mosaic in [0, 2^bits - 1].
    """
    ph, pw = radiance.shape[:2]
    full = (1 << bits) - 1
    # photo-electrons for every filter at every pixel, then the RGGB pick
    m = (np.asarray(color_matrix, dtype=np.float64) * electrons_at_white).astype(np.float32)
    raw = cv2.transform(radiance, m)
    e = np.empty((ph, pw), np.float32)
    for r0, c0, ch in ((0, 0, 0), (0, 1, 1), (1, 0, 1), (1, 1, 2)):  # (row, col, filter)
        e[r0::2, c0::2] = raw[r0::2, c0::2, ch]
    del raw
    rr = 0.5 * math.hypot(pw, ph)
    yy = vignetting * ((np.arange(ph, dtype=np.float32) - (ph - 1) / 2) / rr) ** 2
    xx = vignetting * ((np.arange(pw, dtype=np.float32) - (pw - 1) / 2) / rr) ** 2
    e *= (1 - yy)[:, None] - xx[None, :]
    np.maximum(e, 0, out=e)
    sd = cv2.sqrt(e + np.float32(read_noise_e**2))
    noise = rng.standard_normal((ph, pw), dtype=np.float32)
    noise *= sd
    e += noise
    e *= np.float32(raw_white * full / electrons_at_white)
    np.clip(e, 0, full, out=e)
    np.rint(e, out=e)
    return e.astype(np.uint16)


def demosaic(mosaic: NDArray[np.uint16], method: str = "EA") -> NDArray[np.uint16]:
    """Stage 5b - demosaic the RGGB mosaic with OpenCV.

    ``method`` is ``"EA"`` (edge-aware, default), ``"bilinear"`` or
    ``"VNG"`` (8-bit only in OpenCV, so the mosaic is reduced to 8 bits
    first). The RGGB layout is OpenCV's ``COLOR_BayerRGGB2RGB*`` (legacy
    name ``COLOR_BayerBG2RGB*``: the two-letter names describe the second
    row); verified on pure red/green/blue mosaics.
    """
    if method == "EA":
        return cv2.cvtColor(mosaic, _BAYER_RGGB_EA)
    if method == "bilinear":
        return cv2.cvtColor(mosaic, _BAYER_RGGB)
    if method == "VNG":
        top = max(int(mosaic.max()), 1)
        m8 = np.clip(mosaic.astype(np.float32) * (255.0 / top) + 0.5, 0, 255).astype(np.uint8)
        rgb = cv2.cvtColor(m8, _BAYER_RGGB_VNG).astype(np.float32) * (top / 255.0)
        return np.rint(rgb).astype(np.uint16)
    raise ValueError(f"demosaic method must be 'EA', 'bilinear' or 'VNG', got {method!r}")


# --------------------------------------------------------------------------
# Stages 6-7: exposure, white balance, ISP
# --------------------------------------------------------------------------


def _srgb_oetf(x: NDArray[np.float64]) -> NDArray[np.float64]:
    x = np.clip(x, 0, 1)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)


def isp_process(
    camera_rgb: NDArray[np.uint16],
    *,
    bits: int,
    raw_white: float,
    color_matrix: NDArray[np.float64],
    wb_error: tuple[float, float],
    output_white: float,
    tone_strength: float,
    luma_denoise_sigma: float,
    chroma_denoise_sigma: float,
    sharpen_amount: float,
    sharpen_sigma: float,
) -> NDArray[np.uint8]:
    """Stages 6-7 - exposure, white balance, colour correction and ISP.

    * **White balance and colour correction** (stage 6): the ISP inverts
      its calibrated colour matrix (``color_matrix``) and applies auto
      white-balance gains that miss neutral by ``wb_error`` (R and B gain
      factors; a white screen next to warm room light fools AWB a little).
    * **Exposure** (stage 6): a digital gain maps the screen white to
      ``output_white`` (slightly above 1 clips the white page).
    * **Tone curve** (stage 7): sRGB OETF then an S-curve blend
      ``y + tone_strength * (smoothstep(y) - y)`` (phones add contrast),
      applied through a table indexed by 14-bit linear light, straight to
      8 bits.
    * **Denoise** (stage 7): chroma noise reduction (Gaussian blur of Cr/Cb
      with ``chroma_denoise_sigma`` px, as ISPs do strongly) and light luma
      denoising (bilateral, ``d = 5``, range sigma
      ``luma_denoise_sigma`` levels).
    * **Sharpening** (stage 7): unsharp mask on luma,
      ``Y + amount * (Y - G_sigma * Y)``.

    Parameters
    ----------
    camera_rgb : ndarray
        Demosaiced ``H x W x 3`` ``uint16`` camera RGB.
    bits, raw_white : int, float
        ADC depth and the raw level of the screen white (as in
        :func:`sensor_capture`).
    color_matrix : ndarray
        The sensor's ``3x3`` matrix, inverted by the ISP.
    wb_error : (float, float)
        R and B white-balance gain errors (1 = perfect).
    output_white : float
        Linear level the screen white is mapped to before the tone curve.
    tone_strength : float
        S-curve blend in [0, 1].
    luma_denoise_sigma, chroma_denoise_sigma : float
        Bilateral range sigma (8-bit levels), chroma Gaussian sigma (px).
    sharpen_amount, sharpen_sigma : float
        Unsharp-mask gain and radius (px).

    Returns
    -------
    ndarray
        ``H x W x 3`` ``uint8`` RGB ready for JPEG.
    """
    full = (1 << bits) - 1
    wb = np.diag([wb_error[0], 1.0, wb_error[1]])
    mat = wb @ np.linalg.inv(color_matrix)
    # raw white (1,1,1) display -> raw = M @ 1 ; after inv(M) it is 1 again
    gain = output_white / (raw_white * full)
    # Colour matrix, WB and exposure in one affine transform straight to a
    # 16-bit index of linear light (1.0 -> 16383; OpenCV saturates below 0),
    # then the tone curve as a 65536-entry table to 8 bits.
    one = 16383.0
    affine = np.zeros((3, 4), np.float32)
    affine[:, :3] = mat * gain * one
    affine[:, 3] = 0.5  # round to nearest
    idx = cv2.transform(camera_rgb, affine)
    x = np.minimum(np.arange(65536) / one, 1.0)
    y = _srgb_oetf(x)
    y = y + tone_strength * (y * y * (3 - 2 * y) - y)
    lut = np.clip(np.rint(y * 255), 0, 255).astype(np.uint8)
    rgb8 = lut[idx]
    ycc = cv2.cvtColor(rgb8, cv2.COLOR_RGB2YCrCb)
    yl, cr, cb = cv2.split(ycc)
    if chroma_denoise_sigma > 0:
        cr = cv2.GaussianBlur(cr, (0, 0), chroma_denoise_sigma)
        cb = cv2.GaussianBlur(cb, (0, 0), chroma_denoise_sigma)
    if luma_denoise_sigma > 0:
        yl = cv2.bilateralFilter(yl, 5, luma_denoise_sigma, 1.5)
    if sharpen_amount > 0:
        blur = cv2.GaussianBlur(yl, (0, 0), sharpen_sigma)
        yl = cv2.addWeighted(yl, 1 + sharpen_amount, blur, -sharpen_amount, 0)  # saturating
    return cv2.cvtColor(cv2.merge([yl, cr, cb]), cv2.COLOR_YCrCb2RGB)


# --------------------------------------------------------------------------
# Phone-photo family: the chain
# --------------------------------------------------------------------------


def phone_photo_leak(
    image: NDArray[np.uint8],
    *,
    level: str = "standard",
    seed: int | np.random.Generator,
    **overrides: Any,
) -> Leak:
    """Simulate a phone photograph of the monitor showing ``image``.

    The chain, each stage a documented function of this module:

    1. **display** (:func:`display_model`): gamma to linear light, black
       level, RGB-stripe sub-pixels and black matrix as exact area
       integrals.
    2. **scene** (:func:`scene_fields`): bezel, background (wall, desk),
       glare, ambient reflection, in linear light.
    3. **camera pose** (:func:`camera_pose_homography`): pinhole projection
       from yaw/pitch/roll and a distance that gives the drawn coverage.
    4. **lens**: radial distortion (:func:`undistort_photo_points`, applied
       in the renderer :func:`render_photo_radiance`), defocus disk +
       optics Gaussian and hand-shake line (:class:`LensPSF`), applied
       before sampling.
    5. **sensor** (:func:`sensor_capture`, :func:`demosaic`): vignetting,
       colour filters, RGGB mosaic, shot and read noise, 12-bit ADC, EA
       demosaicing.
    6. **exposure and white balance** and 7. **ISP**
       (:func:`isp_process`): WB gains with error, colour correction,
       exposure gain, tone curve, chroma/luma denoise, unsharp mask; then
       JPEG (4:2:0). At ``"hard"`` the photo then goes through a messenger:
       longest side 1600 px (area), JPEG 70.

    Parameter ranges (uniform unless noted; "same" = as standard):

    ============================  =============================  ==================
    parameter                     standard                       hard
    ============================  =============================  ==================
    orientation                   landscape / portrait (50/50)   same
    photo_size                    4000x3000 (3000x4000 portrait) same
    focal_mm_equiv                [24, 28], f = mm/43.27 * diag  same
    off_axis_deg                  [0, 30]                        [0, 45]
    off_axis_azimuth_deg          [0, 360); yaw = a cos(az),     same
                                  pitch = a sin(az)
    roll_deg                      [-6, 6]                        [-12, 12]
    coverage (screen bbox/width)  [0.50, 0.80]                   [0.35, 0.50]
    position_x, position_y        [-0.6, 0.6] of the free room   same
    bezel_frac (of screen width)  [0.012, 0.03]                  same
    bezel_bottom_factor           [1, 2.5]                       same
    bezel_level                   [0.01, 0.04]                   same
    bezel_gloss                   [0.15, 0.6]                    same
    stand (p), stand_width_frac   0.8, [0.06, 0.15]              same
    display_gamma                 [2.1, 2.4]                     same
    display_black                 [0.0005, 0.003]                same
    fill_x, fill_y                [0.65, 0.85], [0.75, 0.92]     same
    subpixel_order                RGB 85% / BGR 15%              same
    background_level              [0.10, 0.35]                   [0.05, 0.40]
    background_gradient           [0.2, 0.7], any direction      same
    background_blotch             [0.05, 0.2]                    same
    background_objects            0-4 rectangles                 same
    desk (p), desk_level          0.6, [0.3, 0.9]                same
    glare_strength                [0, 0.25]                      [0.1, 0.5]
    glare_sigma_x, glare_sigma_y  [0.05, 0.2] x photo diagonal   same
    reflection_strength           [0.005, 0.03]                  [0.01, 0.06]
    lens_k1                       [-0.015, 0.015]                [-0.03, 0.03]
    optics_sigma_px               [0.2, 0.4]                     same
    defocus_radius_px             [0, 1]                         [0.5, 2.5]
    motion_length_px              [0, 2]                         [0, 5]
    motion_angle_deg              [0, 180)                       same
    vignetting                    [0, 0.2]                       [0.1, 0.4]
    crosstalk                     [0.05, 0.2]                    same
    channel_sensitivity R, B      [0.5, 0.7], [0.45, 0.65]       same
    electrons_at_white (log-u.)   [1500, 5000]                   [300, 1500]
    read_noise_e                  [1.5, 3]                       [2, 5]
    raw_white                     [0.55, 0.8]                    same
    demosaic                      "EA"                           same
    wb_error_r, wb_error_b        [0.96, 1.04]                   [0.92, 1.08]
    output_white                  [0.75, 0.95]                   [0.7, 1.05]
    tone_strength                 [0.1, 0.4]                     same
    luma_denoise_sigma            [3, 7]                         [6, 12]
    chroma_denoise_sigma          [1, 2.5]                       [2, 4]
    sharpen_amount                [0.3, 0.9]                     same
    sharpen_sigma                 [0.8, 1.5]                     same
    jpeg_quality (integer)        [85, 92]                       same
    messenger                     False                          True: 1600 px
                                                                 area, JPEG 70
    ============================  =============================  ==================

    Derived values are recorded too (``focal_px``, ``distance_px``,
    ``coverage_achieved``, ``screen_quad`` (pinhole, before resizing),
    ``screen_quad_leaked`` (the screen's outer corners in the leaked image,
    distortion and resize included), ``screen_px_per_photo_px``,
    ``psf_sigma_equiv_px``, ``color_matrix``, ``camera_homography``,
    ``resize_homography``, byte counts, the object lists) but cannot be
    overridden.

    Parameters
    ----------
    image : ndarray
        The stamped screen, ``HxWx3`` ``uint8`` RGB (any size; 1920x1080 is
        typical).
    level : {"standard", "hard"}
        Parameter ranges, see the table.
    seed : int or numpy.random.Generator
        All randomness (parameters and noise) comes from it.
    **overrides
        Fix any drawn parameter by its name in the table / in
        ``Leak.params`` (e.g. ``yaw_deg=20, pitch_deg=0, coverage=0.6,
        jpeg_quality=90, photo_size=(4000, 3000), orientation="landscape",
        messenger=False``). Every other parameter is drawn exactly as it
        would have been without the override.

    Returns
    -------
    Leak
        ``channel`` is ``"phone-standard"`` or ``"phone-hard"``.
        ``homography`` maps original screen pixel coordinates to leaked
        image coordinates *before lens distortion* (pinhole pose, then the
        messenger resize if any). The full map including distortion is
        :func:`project_points`; ``params`` records ``lens_k1``, the
        ``camera_homography`` (photo before resizing), ``photo_size`` and
        the ``resize_homography``.

    Raises
    ------
    ValueError
        For a bad image, unknown level or unknown override names.

    Notes
    -----
    Cost: about 2-2.5 s and 0.6 GB peak for a 12 MP photo of a 1920x1080
    screen on two cores (the rendering is one sample per photo pixel with
    analytic area integration instead of supersampling; see
    :func:`render_photo_radiance`).
    Not modelled: rolling-shutter banding from PWM backlights, LCD
    viewing-angle colour shift, lateral chromatic aberration, HDR
    multi-frame merging, EXIF orientation.

    Examples
    --------
    >>> img = np.full((120, 200, 3), 255, np.uint8)
    >>> leak = phone_photo_leak(img, seed=1, photo_size=(400, 300))
    >>> leak.image.shape
    (300, 400, 3)
    """
    image = _check_image(image)
    if level not in _PHONE_RANGES:
        raise ValueError(f"level must be one of {PHONE_LEVELS}, got {level!r}")
    rng = _as_generator(seed)
    rg = _PHONE_RANGES[level]
    draw = _Draw(rng, overrides)
    sh, sw = image.shape[:2]
    draw.record("level", level)
    draw.record("screen_size", [sw, sh])

    # ---- stage 3 parameters: pose
    orientation = draw("orientation", lambda r: "portrait" if r.random() < 0.5 else "landscape")
    if orientation not in ("landscape", "portrait"):
        raise ValueError(f"orientation must be 'landscape' or 'portrait', got {orientation!r}")
    default_size = (4000, 3000) if orientation == "landscape" else (3000, 4000)
    pw, ph = (int(v) for v in draw("photo_size", list(default_size)))
    if pw < 64 or ph < 64:
        raise ValueError(f"photo_size must be at least 64x64, got {(pw, ph)}")
    photo_size = (pw, ph)
    draw.record("orientation", "portrait" if ph > pw else "landscape")
    focal_mm = draw.uniform("focal_mm_equiv", (24.0, 28.0))
    focal_px = focal_mm / 43.27 * math.hypot(pw, ph)
    draw.record("focal_px", focal_px)
    off_axis = draw.uniform("off_axis_deg", (0.0, rg["off_axis_max_deg"]))
    azimuth = draw.uniform("off_axis_azimuth_deg", (0.0, 360.0))
    yaw = float(draw("yaw_deg", off_axis * math.cos(math.radians(azimuth))))
    pitch = float(draw("pitch_deg", off_axis * math.sin(math.radians(azimuth))))
    roll = draw.uniform("roll_deg", rg["roll_deg"])
    coverage = draw.uniform("coverage", rg["coverage"])
    pos = (draw.uniform("position_x", (-0.6, 0.6)), draw.uniform("position_y", (-0.6, 0.6)))
    hom, pose_info = camera_pose_homography(
        (sw, sh), photo_size, focal_px=focal_px, yaw_deg=yaw, pitch_deg=pitch,
        roll_deg=roll, coverage=coverage, position=pos,
    )
    draw.params.update(_plain(pose_info))
    bezel_frac = draw.uniform("bezel_frac", (0.012, 0.03))
    bezel_bottom = draw.uniform("bezel_bottom_factor", (1.0, 2.5))
    b = bezel_frac * sw
    bezel_rect = (-0.5 - b, -0.5 - b, sw - 0.5 + b, sh - 0.5 + b * bezel_bottom)

    # ---- stage 4 parameters: lens
    k1 = draw.uniform("lens_k1", rg["lens_k1"])
    psf = LensPSF(
        optics_sigma_px=draw.uniform("optics_sigma_px", (0.2, 0.4)),
        defocus_radius_px=draw.uniform("defocus_radius_px", rg["defocus_radius_px"]),
        motion_length_px=draw.uniform("motion_length_px", rg["motion_length_px"]),
        motion_angle_deg=draw.uniform("motion_angle_deg", (0.0, 180.0)),
    )
    draw.record("psf_sigma_equiv_px", psf.sigma_equiv)

    # ---- stage 1: display
    step = 4
    quad = np.asarray(pose_info["screen_quad"])
    centre = _apply_h(hom, np.array([[(sw - 1) / 2, (sh - 1) / 2]]))[0]
    eps = 0.5  # Jacobian d(screen)/d(photo) at the screen centre
    jp = _apply_h(np.linalg.inv(hom), centre + np.array([[0, 0], [eps, 0], [0, eps]]))
    jacobian = np.column_stack([(jp[1] - jp[0]) / eps, (jp[2] - jp[0]) / eps])
    draw.record("screen_px_per_photo_px", [np.hypot(*jacobian[0]), np.hypot(*jacobian[1])])
    display = display_model(
        image,
        gamma=draw.uniform("display_gamma", (2.1, 2.4)),
        black_level=draw.uniform("display_black", (0.0005, 0.003)),
        fill_x=draw.uniform("fill_x", (0.65, 0.85)),
        fill_y=draw.uniform("fill_y", (0.75, 0.92)),
        subpixel_order=draw("subpixel_order", lambda r: "BGR" if r.random() < 0.15 else "RGB"),
        jacobian=jacobian,
        psf=psf,
    )

    # ---- stage 2: scene
    background, monitor_add, bezel_level, bezel_gloss = scene_fields(
        rng, draw, rg, photo_size, quad, (sw, sh), bezel_rect,
        lambda pts: distort_photo_points(_apply_h(hom, pts), k1, photo_size), step,
    )

    # ---- render (stages 1-4: display, scene, pose, distortion, blur)
    radiance = render_photo_radiance(
        display, hom, k1, photo_size, (sw, sh), bezel_rect, background, monitor_add,
        bezel_level, bezel_gloss, psf, step,
    )
    del background, monitor_add, display

    # ---- stage 5: sensor
    crosstalk = draw.uniform("crosstalk", (0.05, 0.2))
    sens = np.array(
        draw("channel_sensitivity", lambda r: [r.uniform(0.5, 0.7), 1.0, r.uniform(0.45, 0.65)])
    )
    mix = np.full((3, 3), crosstalk / 2) + np.eye(3) * (1 - 1.5 * crosstalk)
    color_matrix = sens[:, None] * mix
    draw.record("color_matrix", color_matrix)
    raw_white = draw.uniform("raw_white", (0.55, 0.8))
    bits = 12
    mosaic = sensor_capture(
        radiance, rng,
        color_matrix=color_matrix,
        vignetting=draw.uniform("vignetting", rg["vignetting"]),
        electrons_at_white=draw.log_uniform("electrons_at_white", rg["electrons_at_white"]),
        read_noise_e=draw.uniform("read_noise_e", rg["read_noise_e"]),
        raw_white=raw_white,
        bits=bits,
    )
    del radiance
    camera_rgb = demosaic(mosaic, str(draw("demosaic", "EA")))
    del mosaic

    # ---- stages 6-7: exposure, WB, ISP
    e = rg["wb_error"]
    photo = isp_process(
        camera_rgb,
        bits=bits,
        raw_white=raw_white,
        color_matrix=color_matrix,
        wb_error=(
            draw.uniform("wb_error_r", (1 - e, 1 + e)),
            draw.uniform("wb_error_b", (1 - e, 1 + e)),
        ),
        output_white=draw.uniform("output_white", rg["output_white"]),
        tone_strength=draw.uniform("tone_strength", (0.1, 0.4)),
        luma_denoise_sigma=draw.uniform("luma_denoise_sigma", rg["luma_denoise_sigma"]),
        chroma_denoise_sigma=draw.uniform("chroma_denoise_sigma", rg["chroma_denoise_sigma"]),
        sharpen_amount=draw.uniform("sharpen_amount", (0.3, 0.9)),
        sharpen_sigma=draw.uniform("sharpen_sigma", (0.8, 1.5)),
    )
    del camera_rgb
    lo_q, hi_q = rg["jpeg_quality"]
    quality = int(draw("jpeg_quality", lambda r: int(r.integers(lo_q, hi_q + 1))))
    photo, nbytes = _encode_jpeg(photo, quality, "420")
    draw.record("jpeg_bytes", nbytes)

    resize_h = np.eye(3)
    if bool(draw("messenger", rg["messenger"])):
        mp: dict = {}
        photo, resize_h = _messenger(
            photo, mp, longest=_MESSENGER_LONGEST, quality=_MESSENGER_QUALITY
        )
        draw.params.update(_plain(mp))
    draw.check_unused()
    final_h = resize_h @ hom
    draw.record("camera_homography", hom)
    draw.record("resize_homography", resize_h)
    draw.record("output_size", [photo.shape[1], photo.shape[0]])
    corners = np.array([[-0.5, -0.5], [sw - 0.5, -0.5], [sw - 0.5, sh - 0.5], [-0.5, sh - 0.5]])
    leaked_quad = _apply_h(resize_h, distort_photo_points(_apply_h(hom, corners), k1, photo_size))
    draw.record("screen_quad_leaked", leaked_quad)  # outer corners in the leaked image
    return Leak(
        image=np.ascontiguousarray(photo),
        homography=final_h / final_h[2, 2],
        channel=f"phone-{level}",
        params=_plain(draw.params),
    )


def project_points(leak: Leak, points: NDArray[np.float64]) -> NDArray[np.float64]:
    """Map original screen pixel coordinates to leaked-image coordinates.

    For screenshot leaks this is the homography. For phone photos it is the
    pose homography, then the recorded radial lens distortion
    (:func:`distort_photo_points`), then the messenger resize if any.

    Parameters
    ----------
    leak : Leak
        A leak from this module.
    points : array_like
        ``N x 2`` ``(x, y)`` screen coordinates.

    Returns
    -------
    ndarray
        ``N x 2`` coordinates in ``leak.image``.

    Raises
    ------
    ValueError
        If the leak has no homography.
    """
    if leak.homography is None:
        raise ValueError(f"leak {leak.channel!r} has no geometric map")
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    p = leak.params
    if "camera_homography" not in p:
        return _apply_h(leak.homography, pts)
    q = _apply_h(np.asarray(p["camera_homography"]), pts)
    q = distort_photo_points(q, float(p["lens_k1"]), tuple(p["photo_size"]))
    return _apply_h(np.asarray(p["resize_homography"]), q)


# --------------------------------------------------------------------------
# Contact sheet
# --------------------------------------------------------------------------


def contact_sheet(leaks: Sequence[Leak], path: str | Path, *, thumb: int = 480) -> Path:
    """Write a PNG grid of leaked images labelled with their channel names.

    Parameters
    ----------
    leaks : sequence of Leak
        Leaks to show, in order (row-major).
    path : str or Path
        Output PNG path; parent directories must exist.
    thumb : int
        Size of the square cell each image is fitted into (aspect kept).

    Returns
    -------
    Path
        The path written.

    Raises
    ------
    ValueError
        If ``leaks`` is empty or ``thumb`` < 32.
    """
    from PIL import Image, ImageDraw, ImageFont

    leaks = list(leaks)
    if not leaks:
        raise ValueError("contact_sheet needs at least one leak, got none")
    if thumb < 32:
        raise ValueError(f"thumb must be >= 32 pixels, got {thumb}")
    cols = math.ceil(math.sqrt(len(leaks)))
    rows = math.ceil(len(leaks) / cols)
    label_h = max(16, thumb // 20)
    pad = 6
    font = ImageFont.load_default(size=max(10, label_h - 4))
    size = (cols * (thumb + pad) + pad, rows * (thumb + label_h + pad) + pad)
    sheet = Image.new("RGB", size, (40, 40, 40))
    drawer = ImageDraw.Draw(sheet)
    for i, leak in enumerate(leaks):
        r, c = divmod(i, cols)
        x0 = pad + c * (thumb + pad)
        y0 = pad + r * (thumb + label_h + pad)
        img = Image.fromarray(leak.image)
        img.thumbnail((thumb, thumb), Image.Resampling.LANCZOS)
        sheet.paste(img, (x0 + (thumb - img.width) // 2, y0 + label_h + (thumb - img.height) // 2))
        h, w = leak.image.shape[:2]
        drawer.text((x0 + 2, y0 + 1), f"{leak.channel}  {w}x{h}", fill=(255, 255, 255), font=font)
    path = Path(path)
    sheet.save(path, format="PNG")
    return path

"""Screenshot leaks: a stamped screen through real codecs, resamplers, crops and edits.

Every channel returns the leaked image and the exact homography from the
original pixel coordinates to the leaked ones.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import cv2
import numpy as np
from numpy.typing import NDArray

from watermark import OptionError

from ._codecs import encode_jpeg, encode_png, encode_webp, resize
from ._geometry import translation
from ._leak import Leak, as_generator, check_image, plain
from ._messenger import messenger

Image = NDArray[np.uint8]
Homography = NDArray[np.float64]
Params = dict[str, Any]
Channel = Callable[[Image, np.random.Generator, Params], tuple[Image, Homography]]
"""One screenshot channel: (image, rng, params to fill) -> (leaked image, homography)."""

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


def random_crop(
    image: NDArray[np.uint8], area_fraction: float, rng: np.random.Generator, params: Params
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
    return out, translation(-x0, -y0)


def _ss_png(image: Image, rng: np.random.Generator, params: Params) -> tuple[Image, Homography]:
    """Lossless PNG screenshot (identity)."""
    out, nbytes = encode_png(image)
    params["png_bytes"] = nbytes
    return out, np.eye(3)


def _ss_jpeg(quality: int) -> Channel:
    def run(image: Image, rng: np.random.Generator, params: Params) -> tuple[Image, Homography]:
        out, nbytes = encode_jpeg(image, quality, "420")
        params.update(
            {"jpeg_quality": quality, "chroma_subsampling": "4:2:0", "jpeg_bytes": nbytes}
        )
        return out, np.eye(3)

    run.__doc__ = f"Baseline JPEG, libjpeg quality {quality}, chroma 4:2:0."
    return run


def _ss_webp(image: Image, rng: np.random.Generator, params: Params) -> tuple[Image, Homography]:
    """Lossy WebP at quality 80 (libwebp defaults otherwise)."""
    out, nbytes = encode_webp(image, 80)
    params.update({"webp_quality": 80, "webp_bytes": nbytes})
    return out, np.eye(3)


def _ss_scale(scale: float, interpolation: int, name: str) -> Channel:
    def run(image: Image, rng: np.random.Generator, params: Params) -> tuple[Image, Homography]:
        h, w = image.shape[:2]
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        out, hom = resize(image, size, interpolation)
        params.update({"scale": scale, "size": list(size), "interpolation": name})
        return out, hom

    run.__doc__ = f"Resample by {scale} with {name} interpolation (lossless output)."
    return run


def _ss_messenger(image: Image, rng: np.random.Generator, params: Params) -> tuple[Image, Homography]:
    """Chat app: longest side 1280 (area), JPEG 75, chroma 4:2:0."""
    return messenger(image, params)


def _ss_crop(fraction: float) -> Channel:
    def run(image: Image, rng: np.random.Generator, params: Params) -> tuple[Image, Homography]:
        return random_crop(image, fraction, rng, params)

    run.__doc__ = f"Crop keeping {fraction:.0%} of the area at a random offset."
    return run


def _ss_crop_rescale_jpeg(image: Image, rng: np.random.Generator, params: Params) -> tuple[Image, Homography]:
    """Crop 25% of the area, rescale by 0.5x-2x (log-uniform), JPEG 50."""
    out, hom = random_crop(image, 0.25, rng, params)
    scale = float(np.exp(rng.uniform(np.log(0.5), np.log(2.0))))
    h, w = out.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    interp, iname = (cv2.INTER_AREA, "area") if scale < 1 else (cv2.INTER_CUBIC, "bicubic")
    out, hom2 = resize(out, size, interp)
    out, nbytes = encode_jpeg(out, 50, "420")
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


def _ss_rot90(image: Image, rng: np.random.Generator, params: Params) -> tuple[Image, Homography]:
    """Rotate 90 degrees clockwise: (x, y) -> (H - 1 - y, x)."""
    h = image.shape[0]
    out = cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE)
    params["rotation_deg_clockwise"] = 90
    return out, np.array([[0.0, -1.0, h - 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])


def _ss_rot180(image: Image, rng: np.random.Generator, params: Params) -> tuple[Image, Homography]:
    """Rotate 180 degrees: (x, y) -> (W - 1 - x, H - 1 - y)."""
    h, w = image.shape[:2]
    out = cv2.rotate(image, cv2.ROTATE_180)
    params["rotation_deg_clockwise"] = 180
    return out, np.array([[-1.0, 0.0, w - 1.0], [0.0, -1.0, h - 1.0], [0.0, 0.0, 1.0]])


def _ss_tone(image: Image, rng: np.random.Generator, params: Params) -> tuple[Image, Homography]:
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


def _ss_double(image: Image, rng: np.random.Generator, params: Params) -> tuple[Image, Homography]:
    """Screenshot of a screenshot: 0.8x area + JPEG 80, then the messenger."""
    h, w = image.shape[:2]
    size = (max(1, round(w * 0.8)), max(1, round(h * 0.8)))
    out, hom1 = resize(image, size, cv2.INTER_AREA)
    out, nbytes = encode_jpeg(out, 80, "420")
    params.update(
        {
            "first_scale": 0.8,
            "first_interpolation": "area",
            "first_jpeg_quality": 80,
            "first_jpeg_bytes": nbytes,
        }
    )
    out, hom2 = messenger(out, params)
    return out, hom2 @ hom1


_SCREENSHOT_IMPL: dict[str, Channel] = {
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
    watermark.OptionError
        (a ``ValueError``) If ``channel`` is unknown.
    watermark.ImageError
        (a ``ValueError``) If ``image`` is not ``HxWx3`` ``uint8`` of at least 16x16.
    watermark.OptionTypeError
        (a ``TypeError``) If ``image`` is not an array or ``seed`` is neither an int nor a Generator.

    Examples
    --------
    >>> img = np.full((64, 96, 3), 255, np.uint8)
    >>> leak = screenshot_leak(img, "down0.5", seed=0)
    >>> leak.image.shape, float(leak.homography[0, 0])
    ((32, 48, 3), 0.5)
    """
    image = check_image(image)
    if channel not in _SCREENSHOT_IMPL:
        raise OptionError(
            f"unknown screenshot channel {channel!r}; expected one of "
            f"{', '.join(SCREENSHOT_CHANNELS)}", name="channel", value=channel,
        )
    rng = as_generator(seed)
    params: Params = {"input_size": [image.shape[1], image.shape[0]]}
    out, hom = _SCREENSHOT_IMPL[channel](image, rng, params)
    params["output_size"] = [out.shape[1], out.shape[0]]
    return Leak(
        image=np.ascontiguousarray(out, dtype=np.uint8),
        homography=np.asarray(hom, dtype=np.float64),
        channel=channel,
        params=plain(params),
    )


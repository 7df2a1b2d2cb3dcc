"""Loading whatever a security officer finds: formats, EXIF orientation, modes, limits."""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from watermark import ImageError, WatermarkError

__all__ = ["LoadedImage", "load_image", "DEFAULT_MAX_PIXELS", "ImageLoadError"]

DEFAULT_MAX_PIXELS = 100_000_000
"""Refuse images above this many pixels (decompression-bomb guard); a 108 MP phone photo fits."""


class ImageLoadError(WatermarkError):
    """A file could not be read as an image (missing, corrupt, truncated, too large)."""


@dataclass(frozen=True)
class LoadedImage:
    """An input image as RGB uint8, with where it came from."""

    rgb: NDArray[np.uint8]
    source: str
    sha256: str | None
    format: str | None
    exif_orientation: int | None


def _register_heif() -> bool:
    try:
        from pillow_heif import register_heif_opener  # optional extra 'heic'
    except ImportError:
        return False
    register_heif_opener()
    return True


def _to_rgb8(image: Any) -> NDArray[np.uint8]:
    """Any PIL mode -> RGB uint8 (16-bit and float scaled, alpha composited on white)."""
    from PIL import Image

    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(image, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or arr.max() > 255 else 255.0
        if mode == "F" and arr.max() <= 1.0:
            top = 1.0
        gray = np.clip(np.rint(arr / top * 255.0), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"))
    return np.asarray(image.convert("RGB"))


def load_image(source: Any, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Load a path, bytes, PIL image or array as RGB uint8.

    Parameters
    ----------
    source : str, os.PathLike, bytes, PIL.Image.Image or ndarray
        JPEG, PNG, WebP, TIFF, BMP, GIF; HEIC/HEIF when the ``heic`` extra
        (pillow-heif) is installed. Arrays must be HxW, HxWx3 or HxWx4.
    max_pixels : int, keyword-only
        Larger images are refused before they are decoded.

    Raises
    ------
    ImageLoadError
        Missing, unreadable, corrupt or truncated files, unknown formats and
        images over ``max_pixels``; the message names the file.

    Notes
    -----
    EXIF orientation is applied (phones store portrait photos sideways);
    grayscale, palette, 16-bit and RGBA inputs are converted (alpha over white).
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    if isinstance(source, np.ndarray):
        arr = source
        if arr.ndim == 2:
            arr = np.repeat(arr[:, :, None], 3, axis=2)
        if arr.ndim != 3 or arr.shape[2] not in (3, 4):
            raise ImageError(f"image array must be HxW, HxWx3 or HxWx4, got shape {source.shape}")
        if arr.dtype != np.uint8:
            if np.issubdtype(arr.dtype, np.floating) and np.isfinite(arr).all() and arr.min() >= 0 and arr.max() <= 1:
                arr = np.rint(arr * 255).astype(np.uint8)
            elif arr.dtype == np.uint16:
                arr = (arr.astype(np.float64) / 257.0).round().astype(np.uint8)
            else:
                raise ImageError(f"image array must be uint8, uint16 or float in [0, 1], got {arr.dtype}")
        if arr.shape[0] * arr.shape[1] > max_pixels:
            raise ImageLoadError(f"image array has {arr.shape[0] * arr.shape[1]} pixels, over the limit of {max_pixels}")
        return LoadedImage(np.ascontiguousarray(arr[:, :, :3]), "<array>", None, None, None)
    if isinstance(source, Image.Image):
        return LoadedImage(_to_rgb8(ImageOps.exif_transpose(source)), "<PIL image>", None, None, None)

    if isinstance(source, (bytes, bytearray)):
        data, name = bytes(source), "<bytes>"
    elif isinstance(source, (str, os.PathLike)):
        name = str(source)
        try:
            data = Path(source).read_bytes()
        except FileNotFoundError:
            raise ImageLoadError(f"{name}: no such file") from None
        except IsADirectoryError:
            raise ImageLoadError(f"{name}: is a directory, not an image") from None
        except OSError as exc:
            raise ImageLoadError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    else:
        raise ImageLoadError(f"cannot load an image from {type(source).__name__}")
    if not data:
        raise ImageLoadError(f"{name}: the file is empty")
    _register_heif()
    import io

    old_limit = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = None  # our own check below, with a clear message
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as opened:
                w, h = opened.size
                if w * h > max_pixels:
                    raise ImageLoadError(
                        f"{name}: {w}x{h} = {w * h} pixels is over the limit of {max_pixels} "
                        "(raise max_pixels / --max-pixels if the file is trusted)"
                    )
                fmt = opened.format
                orientation = opened.getexif().get(0x0112)
                opened.load()
                upright = ImageOps.exif_transpose(opened)
                rgb = _to_rgb8(upright)
    except ImageLoadError:
        raise
    except UnidentifiedImageError:
        hint = " (HEIC needs the 'heic' extra: pip install 'leaktrace[heic]')" if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc") else ""
        raise ImageLoadError(f"{name}: not a recognised image file{hint}") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageLoadError(f"{name}: corrupt or truncated image ({exc})") from None
    finally:
        Image.MAX_IMAGE_PIXELS = old_limit
    return LoadedImage(np.ascontiguousarray(rgb), name, hashlib.sha256(data).hexdigest(), fmt, orientation)

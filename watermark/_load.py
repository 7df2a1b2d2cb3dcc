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

from ._errors import ImageError, ImageLoadError, OptionError

__all__ = ["LoadedImage", "load_image", "DEFAULT_MAX_PIXELS"]

DEFAULT_MAX_PIXELS = 100_000_000
"""Refuse images above this many pixels (decompression-bomb guard); a 108 MP phone photo fits."""


@dataclass(frozen=True)
class LoadedImage:
    """An input image as RGB uint8, with where it came from.

    Attributes
    ----------
    rgb : ndarray of uint8, (H, W, 3)
        Upright (EXIF orientation applied). With ``alpha="composite"`` (the
        default) any transparency is composited over white, as a viewer
        would show it; with ``alpha="keep"`` these are the raw colours.
    source : str
        The path, or ``<bytes>``, ``<array>``, ``<PIL image>``.
    sha256 : str or None
        Digest of the file's bytes (evidence that the report is about this file).
    format : str or None
        The decoder's format name (``JPEG``, ``PNG``, ...).
    exif_orientation : int or None
        The EXIF orientation tag that was applied.
    alpha : ndarray of uint8, (H, W), or None
        The alpha channel, only with ``alpha="keep"`` and an input that has one.
    """

    rgb: NDArray[np.uint8]
    source: str
    sha256: str | None
    format: str | None
    exif_orientation: int | None
    alpha: NDArray[np.uint8] | None = None


def _register_heif() -> bool:
    try:
        from pillow_heif import register_heif_opener  # optional extra 'heic'
    except ImportError:
        return False
    register_heif_opener()
    return True


def _to_rgb8(image: Any, keep_alpha: bool = False) -> tuple[NDArray[np.uint8], NDArray[np.uint8] | None]:
    """Any PIL mode -> RGB uint8 (16-bit and float scaled) and alpha.

    Transparency is composited over white unless ``keep_alpha``, when the
    raw colours and the alpha channel are returned.
    """
    from PIL import Image

    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(image, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or arr.max() > 255 else 255.0
        if mode == "F" and arr.max() <= 1.0:
            top = 1.0
        gray = np.clip(np.rint(arr / top * 255.0), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2)), None
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        if keep_alpha:
            arr = np.asarray(rgba)
            return np.ascontiguousarray(arr[:, :, :3]), np.ascontiguousarray(arr[:, :, 3])
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB")), None
    return np.asarray(image.convert("RGB")), None


def _array_to_rgb8(source: NDArray[Any], max_pixels: int, keep_alpha: bool) -> LoadedImage:
    arr = source
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise ImageError(f"image array must be HxW, HxWx3 or HxWx4, got shape {source.shape}", shape=source.shape, dtype=str(source.dtype))
    if arr.dtype != np.uint8:
        if np.issubdtype(arr.dtype, np.floating) and np.isfinite(arr).all() and arr.min() >= 0 and arr.max() <= 1:
            arr = np.rint(arr * 255).astype(np.uint8)
        elif arr.dtype == np.uint16:
            arr = (arr.astype(np.float64) / 257.0).round().astype(np.uint8)
        else:
            raise ImageError(f"image array must be uint8, uint16 or float in [0, 1], got {arr.dtype}", shape=source.shape, dtype=str(arr.dtype))
    if arr.shape[0] * arr.shape[1] > max_pixels:
        raise ImageLoadError(
            f"image array has {arr.shape[0] * arr.shape[1]} pixels, over the limit of {max_pixels}", path="<array>", reason="too large"
        )
    alpha = None
    if arr.shape[2] == 4:
        if keep_alpha:
            alpha = np.ascontiguousarray(arr[:, :, 3])
        else:
            a = arr[:, :, 3:].astype(np.float32) / 255.0
            arr = np.rint(arr[:, :, :3] * a + 255.0 * (1.0 - a)).astype(np.uint8)
    return LoadedImage(np.ascontiguousarray(arr[:, :, :3]), "<array>", None, None, None, alpha)


def _read_source(source: Any) -> tuple[bytes, str]:
    """The bytes of a path or byte string, and a name for messages."""
    if isinstance(source, (bytes, bytearray)):
        data, name = bytes(source), "<bytes>"
    elif isinstance(source, (str, os.PathLike)):
        name = str(source)
        try:
            data = Path(source).read_bytes()
        except FileNotFoundError:
            raise ImageLoadError(f"{name}: no such file", path=name, reason="no such file") from None
        except IsADirectoryError:
            raise ImageLoadError(f"{name}: is a directory, not an image", path=name, reason="is a directory") from None
        except OSError as exc:
            reason = f"cannot be read ({exc.strerror or exc})"
            raise ImageLoadError(f"{name}: {reason}", path=name, reason=reason) from None
    else:
        raise ImageLoadError(f"cannot load an image from {type(source).__name__}", path=None, reason="unsupported source type")
    if not data:
        raise ImageLoadError(f"{name}: the file is empty", path=name, reason="empty")
    return data, name


def load_image(source: Any, *, max_pixels: int = DEFAULT_MAX_PIXELS, alpha: str = "composite") -> LoadedImage:
    """Load a path, bytes, PIL image or array as RGB uint8.

    The one image loader of both command-line tools (``leaktrace-embed``
    and ``trace-leak``).

    Parameters
    ----------
    source : str, os.PathLike, bytes, PIL.Image.Image or ndarray
        JPEG, PNG, WebP, TIFF, BMP, GIF; HEIC/HEIF when the ``heic`` extra
        (pillow-heif) is installed. Arrays must be HxW, HxWx3 or HxWx4.
    max_pixels : int, keyword-only
        Larger images are refused before they are decoded.
    alpha : {"composite", "keep"}, keyword-only
        ``"composite"`` (default): transparency over white, as it would be
        displayed (what a tracer sees). ``"keep"``: the raw colours, with the
        alpha channel in :attr:`LoadedImage.alpha` (what a stamping tool
        must write back).

    Returns
    -------
    LoadedImage

    Raises
    ------
    ImageLoadError
        Missing, unreadable, corrupt or truncated files, unknown formats and
        images over ``max_pixels``; ``.path`` names the file.
    ImageError
        An array of the wrong shape or dtype.
    OptionError
        ``alpha`` is neither ``"composite"`` nor ``"keep"``.

    Notes
    -----
    EXIF orientation is applied (phones store portrait photos sideways);
    grayscale, palette and 16-bit inputs are converted to RGB.

    Examples
    --------
    >>> import io
    >>> from PIL import Image
    >>> buf = io.BytesIO()
    >>> Image.new("RGBA", (4, 3), (0, 0, 0, 0)).save(buf, format="PNG")
    >>> load_image(buf.getvalue()).rgb[0, 0].tolist()
    [255, 255, 255]
    >>> load_image(buf.getvalue(), alpha="keep").alpha.shape
    (3, 4)
    """
    from PIL import Image, ImageOps

    if alpha not in ("composite", "keep"):
        raise OptionError(f"alpha must be 'composite' or 'keep', got {alpha!r}", name="alpha", value=alpha)
    keep = alpha == "keep"
    if isinstance(source, np.ndarray):
        return _array_to_rgb8(source, max_pixels, keep)
    if isinstance(source, Image.Image):
        rgb, alpha_channel = _to_rgb8(ImageOps.exif_transpose(source), keep)
        return LoadedImage(rgb, "<PIL image>", None, None, None, alpha_channel)
    data, name = _read_source(source)
    rgb, alpha_channel, fmt, orientation = _decode(data, name, max_pixels, keep)
    return LoadedImage(np.ascontiguousarray(rgb), name, hashlib.sha256(data).hexdigest(), fmt, orientation, alpha_channel)


_HEIF_BRANDS = (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc")


def _decode(data: bytes, name: str, max_pixels: int, keep_alpha: bool) -> tuple[NDArray[np.uint8], NDArray[np.uint8] | None, str | None, int | None]:
    """Decode image bytes (size checked before pixels are decoded): rgb, alpha, format, EXIF orientation."""
    import io

    from PIL import Image, ImageOps, UnidentifiedImageError

    _register_heif()
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
                        "(raise max_pixels / --max-pixels if the file is trusted)",
                        path=name,
                        reason="too large",
                    )
                fmt = opened.format
                orientation = opened.getexif().get(0x0112)
                opened.load()
                rgb, alpha_channel = _to_rgb8(ImageOps.exif_transpose(opened), keep_alpha)
    except ImageLoadError:
        raise
    except UnidentifiedImageError:
        hint = " (HEIC needs the 'heic' extra: pip install 'leaktrace[heic]')" if data[4:12] in _HEIF_BRANDS else ""
        raise ImageLoadError(f"{name}: not a recognised image file{hint}", path=name, reason="not a recognised image file") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageLoadError(f"{name}: corrupt or truncated image ({exc})", path=name, reason="corrupt or truncated") from None
    finally:
        Image.MAX_IMAGE_PIXELS = old_limit
    return rgb, alpha_channel, fmt, orientation

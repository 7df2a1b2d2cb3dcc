"""Loading whatever a security officer finds: formats, EXIF orientation, modes, limits."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import warnings
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np
from numpy.typing import NDArray

from ._errors import ImageError, ImageLoadError, OptionError, OptionTypeError
from ._files import FileRefused, read_regular_file

__all__ = ["LoadedImage", "load_image", "DEFAULT_MAX_BYTES", "DEFAULT_MAX_PIXELS", "MIN_IMAGE_SIDE"]

_log = logging.getLogger(__name__)

DEFAULT_MAX_PIXELS = 100_000_000
"""Refuse images above this many pixels (decompression-bomb guard); a 108 MP phone photo fits."""

DEFAULT_MAX_BYTES = 256 * 2**20
"""Refuse files larger than this (256 MiB) before reading them.

The largest phone photos (108 MP) are 20-60 MB as JPEG or HEIC and an 8K
screenshot is well under 100 MB as PNG; an uncompressed 16-bit TIFF of a
large photo may need more (``max_bytes=`` / ``--max-bytes``).
"""

MIN_IMAGE_SIDE = 16
"""Refuse images narrower or shorter than this many pixels.

The carrier's finest features are 16-32 px (8x8 DCT blocks of the DWT
level-2 band), so a thinner image holds none of the mark; and the screen
finder's morphology and blur need a few pixels on each side.
"""


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
    bit_depth : int
        Bits per sample of the source before conversion: 8 for most files,
        16 for a 16-bit PNG or TIFF (or a uint16 array), 32 for 32-bit
        integer or float images, 1 for bilevel ones. ``rgb`` is always 8
        bits: deeper samples are scaled (not clipped) to 0..255.
    """

    rgb: NDArray[np.uint8]
    source: str
    sha256: str | None
    format: str | None
    exif_orientation: int | None
    alpha: NDArray[np.uint8] | None = None
    bit_depth: int = 8


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
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.nan_to_num(np.asarray(image, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        peak = float(arr.max())
        top = 65535.0 if mode.startswith("I;16") or peak > 255 else 255.0
        if mode == "F" and peak <= 1.0:
            top = 1.0
        gray = np.clip(np.rint(arr * np.float32(255.0 / top)), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2)), None
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        if keep_alpha:
            arr = np.asarray(rgba)
            return np.ascontiguousarray(arr[:, :, :3]), np.ascontiguousarray(arr[:, :, 3])
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB")), None
    return np.asarray(image.convert("RGB")), None


def _check_size(name: str, width: int, height: int, max_pixels: int) -> None:
    """Refuse an image over ``max_pixels``, or under ``MIN_IMAGE_SIDE`` a side (from its header: before decoding)."""
    if width * height > max_pixels:
        raise ImageLoadError(
            f"{name}: {width}x{height} = {width * height} pixels is over the limit of {max_pixels} "
            "(raise max_pixels / --max-pixels if the file is trusted)",
            path=name,
            reason="too large",
        )
    if min(width, height) < MIN_IMAGE_SIDE:
        raise ImageLoadError(
            f"{name}: {width}x{height} pixels is too small (an image needs at least {MIN_IMAGE_SIDE} pixels a side "
            "to hold any of the mark)",
            path=name,
            reason="too small",
        )


def _array_to_rgb8(source: NDArray[Any], max_pixels: int, keep_alpha: bool) -> LoadedImage:
    if source.ndim not in (2, 3) or (source.ndim == 3 and source.shape[2] not in (3, 4)):
        raise ImageError(f"image array must be HxW, HxWx3 or HxWx4, got shape {source.shape}", shape=source.shape, dtype=str(source.dtype))
    _check_size("<array>", source.shape[1], source.shape[0], max_pixels)
    arr = source if source.ndim == 3 else np.repeat(source[:, :, None], 3, axis=2)
    if arr.dtype != np.uint8:
        if np.issubdtype(arr.dtype, np.floating) and np.isfinite(arr).all() and arr.min() >= 0 and arr.max() <= 1:
            arr = np.rint(arr * 255).astype(np.uint8)
        elif arr.dtype == np.uint16:
            arr = (arr.astype(np.float64) / 257.0).round().astype(np.uint8)
        else:
            raise ImageError(f"image array must be uint8, uint16 or float in [0, 1], got {arr.dtype}", shape=source.shape, dtype=str(arr.dtype))
    alpha = None
    if arr.shape[2] == 4:
        if keep_alpha:
            alpha = np.ascontiguousarray(arr[:, :, 3])
        else:
            a = arr[:, :, 3:].astype(np.float32) / 255.0
            arr = np.rint(arr[:, :, :3] * a + 255.0 * (1.0 - a)).astype(np.uint8)
    return LoadedImage(np.ascontiguousarray(arr[:, :, :3]), "<array>", None, None, None, alpha, 8 * source.dtype.itemsize)


def _read_file(path: str | os.PathLike[str], name: str, max_bytes: int) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``: its kind and size checked before a byte is read."""
    try:
        return read_regular_file(path, max_bytes)[0]
    except FileRefused as exc:
        hint = " (raise max_bytes / --max-bytes if the file is trusted)" if exc.reason == "too large" else ""
        raise ImageLoadError(f"{name}: {exc.detail}{hint}", path=name, reason=exc.reason) from None


def _read_source(source: Any, max_bytes: int) -> tuple[bytes, str]:
    """The bytes of a path or byte string (at most ``max_bytes``), and a name for messages."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        name = "<bytes>"
        if len(source) > max_bytes:
            raise ImageLoadError(
                f"{name}: {len(source)} bytes is over the limit of {max_bytes} bytes (raise max_bytes / --max-bytes if the data is trusted)",
                path=name,
                reason="too large",
            )
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        name = os.fsdecode(source)
        data = _read_file(source, name, max_bytes)
    else:
        raise ImageLoadError(f"cannot load an image from {type(source).__name__}", path=None, reason="unsupported source type")
    if not data:
        raise ImageLoadError(f"{name}: the file is empty", path=name, reason="empty")
    return data, name


def _check_limit(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise OptionTypeError(f"{name} must be an integer, got {type(value).__name__}", name=name, value=value)
    if value < 1:
        raise OptionError(f"{name} must be at least 1, got {value}", name=name, value=value)


def load_image(
    source: Any, *, max_pixels: int = DEFAULT_MAX_PIXELS, max_bytes: int = DEFAULT_MAX_BYTES, alpha: str = "composite"
) -> LoadedImage:
    """Load a path, bytes, PIL image or array as RGB uint8, within limits checked before decoding.

    The one image loader of both command-line tools (``leaktrace-embed``
    and ``trace-leak``).

    Parameters
    ----------
    source : str, os.PathLike, bytes, PIL.Image.Image or ndarray
        JPEG, PNG, WebP, TIFF, BMP, GIF; HEIC/HEIF when the ``heic`` extra
        (pillow-heif) is installed. A path must name a regular file (not a
        directory, pipe or device). Arrays must be HxW, HxWx3 or HxWx4.
    max_pixels : int, keyword-only
        Larger images are refused from their header, before they are decoded.
    max_bytes : int, keyword-only
        Larger files (and byte strings) are refused before they are read;
        at most ``max_bytes + 1`` bytes are ever read.
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
        Missing or unreadable files, directories, pipes and devices, files
        over ``max_bytes``, corrupt or truncated files, unknown formats,
        images over ``max_pixels`` or under ``MIN_IMAGE_SIDE`` pixels a
        side; ``.path`` names the file and ``.reason`` says why in a few
        words. No other exception escapes for any file content.
    ImageError
        An array of the wrong shape or dtype.
    OptionError
        ``alpha`` is neither ``"composite"`` nor ``"keep"``, or a limit is
        not a positive integer.

    Notes
    -----
    The order is that of the cost: the file's kind and size (``os.stat``),
    then at most ``max_bytes + 1`` bytes read, then the image header's
    width and height checked against ``max_pixels`` and ``MIN_IMAGE_SIDE``,
    and only then the pixels decoded. EXIF orientation is applied (phones
    store portrait photos sideways); grayscale, palette and 16-bit inputs
    are converted to 8-bit RGB, deeper samples scaled to 0..255
    (:attr:`LoadedImage.bit_depth` says what the source had). Decoder
    warnings about damaged metadata are logged (``logging``), not raised.

    Examples
    --------
    >>> import io
    >>> from PIL import Image
    >>> buf = io.BytesIO()
    >>> Image.new("RGBA", (32, 24), (0, 0, 0, 0)).save(buf, format="PNG")
    >>> load_image(buf.getvalue()).rgb[0, 0].tolist()
    [255, 255, 255]
    >>> load_image(buf.getvalue(), alpha="keep").alpha.shape
    (24, 32)
    >>> try:
    ...     load_image(buf.getvalue(), max_bytes=10)
    ... except ImageLoadError as exc:
    ...     print(exc.reason)
    too large
    """
    from PIL import Image

    if alpha not in ("composite", "keep"):
        raise OptionError(f"alpha must be 'composite' or 'keep', got {alpha!r}", name="alpha", value=alpha)
    _check_limit("max_pixels", max_pixels)
    _check_limit("max_bytes", max_bytes)
    keep = alpha == "keep"
    if isinstance(source, np.ndarray):
        return _array_to_rgb8(source, max_pixels, keep)
    if isinstance(source, Image.Image):
        _check_size("<PIL image>", source.size[0], source.size[1], max_pixels)
        with _decoding("<PIL image>", b""):
            depth = _bit_depth(source)
            rgb, alpha_channel = _to_rgb8(_upright(source), keep)
        return LoadedImage(rgb, "<PIL image>", None, None, None, alpha_channel, depth)
    data, name = _read_source(source, max_bytes)
    rgb, alpha_channel, fmt, orientation, depth = _decode(data, name, max_pixels, keep)
    return LoadedImage(np.ascontiguousarray(rgb), name, hashlib.sha256(data).hexdigest(), fmt, orientation, alpha_channel, depth)


_HEIF_BRANDS = (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc")


@contextlib.contextmanager
def _decoding(name: str, data: bytes) -> Iterator[None]:
    """Turn whatever a decoder raises on a damaged file into one ImageLoadError naming the file."""
    from PIL import UnidentifiedImageError

    try:
        yield
    except ImageLoadError:
        raise
    except UnidentifiedImageError:
        hint = " (HEIC needs the 'heic' extra: pip install 'leaktrace[heic]')" if data[4:12] in _HEIF_BRANDS else ""
        raise ImageLoadError(f"{name}: not a recognised image file{hint}", path=name, reason="not a recognised image file") from None
    except MemoryError:
        raise ImageLoadError(f"{name}: not enough memory to decode it", path=name, reason="out of memory") from None
    except Exception as exc:  # a damaged file can fail a decoder anywhere (struct.error, IndexError, EOFError, ...)
        detail = (str(exc).splitlines() or [""])[0] or type(exc).__name__
        raise ImageLoadError(f"{name}: corrupt or truncated image ({detail})", path=name, reason="corrupt or truncated") from None


def _bit_depth(image: Any) -> int:
    """Bits per sample as stored (PIL reads 16-bit RGB PNG and TIFF as 8-bit ``RGB``: the tile's raw mode tells)."""
    tile = getattr(image, "tile", None) or []
    rawmode = tile[0][3] if tile and len(tile[0]) > 3 else None
    if isinstance(rawmode, tuple):
        rawmode = rawmode[0] if rawmode else None
    if image.mode == "1":
        return 1
    if image.mode.startswith("I;16") or (isinstance(rawmode, str) and ";16" in rawmode):
        return 16
    return 32 if image.mode in ("I", "F") else 8


def _upright(image: Any) -> Any:
    from PIL import ImageOps

    return ImageOps.exif_transpose(image)


def _orientation(image: Any) -> int | None:
    value = image.getexif().get(0x0112)
    return value if isinstance(value, int) and 1 <= value <= 8 else None


def _decode(data: bytes, name: str, max_pixels: int, keep_alpha: bool) -> tuple[NDArray[np.uint8], NDArray[np.uint8] | None, str | None, int | None, int]:
    """Decode image bytes (size checked from the header before pixels are decoded): rgb, alpha, format, EXIF orientation, bit depth."""
    import io

    from PIL import Image

    _register_heif()
    old_limit = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = None  # our own check below, with a clear message
        with warnings.catch_warnings(record=True) as caught, _decoding(name, data):
            warnings.simplefilter("always")
            with Image.open(io.BytesIO(data)) as opened:
                _check_size(name, opened.size[0], opened.size[1], max_pixels)
                fmt = opened.format
                depth = _bit_depth(opened)
                orientation = _orientation(opened)
                opened.load()
                rgb, alpha_channel = _to_rgb8(_upright(opened), keep_alpha)
    finally:
        Image.MAX_IMAGE_PIXELS = old_limit
    for warning in caught:
        _log.info("%s: %s", name, warning.message)
    return rgb, alpha_channel, fmt, orientation, depth

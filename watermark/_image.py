"""Image validation and the one dtype policy of the package."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
from numpy.typing import NDArray

from ._errors import ImageError

__all__ = ["as_rgb_uint8", "luma", "MIN_SIDE"]

MIN_SIDE = 256  # one tile: a smaller image cannot carry the whole codeword
MAX_PIXELS = 80_000_000


def as_rgb_uint8(image: Any, *, name: str = "image") -> tuple[NDArray[np.uint8], NDArray[np.uint8] | None, Callable[[NDArray[np.uint8]], Any]]:
    """Validate ``image`` and return (rgb uint8, alpha or None, restore).

    Accepted: a PIL image (RGB, RGBA, L, P, ...), or an ndarray of shape
    HxWx3 (RGB) or HxWx4 (RGBA), dtype uint8, or float in [0, 1]. ``restore``
    turns a processed RGB uint8 array back into the caller's type (PIL image
    or array of the input dtype, alpha re-attached).
    """
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - pillow is a core dependency
        Image = None  # type: ignore[assignment]
    if Image is not None and isinstance(image, Image.Image):
        mode = image.mode
        has_alpha = mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info)
        converted = np.asarray(image.convert("RGBA" if has_alpha else "RGB"))
        rgb, alpha = _split(converted, name)
        out_mode = "RGBA" if has_alpha else "RGB"

        def restore_pil(out: NDArray[np.uint8]) -> Any:
            data = out if alpha is None else np.dstack([out, alpha])
            return Image.fromarray(np.ascontiguousarray(data), out_mode)

        return rgb, alpha, restore_pil
    if not isinstance(image, np.ndarray):
        raise ImageError(f"{name} must be a numpy array or a PIL image, got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ImageError(f"{name} must be HxWx3 (RGB) or HxWx4 (RGBA), got shape {image.shape} and dtype {image.dtype}", shape=image.shape, dtype=str(image.dtype))
    dtype = image.dtype
    if dtype == np.uint8:
        arr = image
    elif np.issubdtype(dtype, np.floating):
        if not np.all(np.isfinite(image)):
            raise ImageError(f"{name} has NaN or infinite values")
        lo, hi = float(image.min()), float(image.max())
        if lo < 0.0 or hi > 1.0:
            raise ImageError(f"float {name} must hold values in [0, 1], got range [{lo:.4g}, {hi:.4g}]")
        arr = np.rint(image * 255.0).astype(np.uint8)
    else:
        raise ImageError(f"{name} must be uint8 or float in [0, 1], got dtype {dtype}", dtype=str(dtype))
    rgb, alpha = _split(arr, name)

    def restore_array(out: NDArray[np.uint8]) -> Any:
        data = out if alpha is None else np.dstack([out, alpha])
        if dtype == np.uint8:
            return data
        return (data.astype(np.float32) / 255.0).astype(dtype)

    return rgb, alpha, restore_array


def _split(arr: NDArray[np.uint8], name: str) -> tuple[NDArray[np.uint8], NDArray[np.uint8] | None]:
    h, w = arr.shape[:2]
    if h < MIN_SIDE or w < MIN_SIDE:
        raise ImageError(f"{name} must be at least {MIN_SIDE}x{MIN_SIDE} pixels (one watermark tile), got {w}x{h}", shape=arr.shape)
    if h * w > MAX_PIXELS:
        raise ImageError(f"{name} has {h * w} pixels, more than the supported {MAX_PIXELS}", shape=arr.shape)
    if arr.shape[2] == 4:
        return np.ascontiguousarray(arr[:, :, :3]), np.ascontiguousarray(arr[:, :, 3])
    return np.ascontiguousarray(arr), None


_LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def luma(rgb: NDArray[np.uint8]) -> NDArray[np.float32]:
    """BT.601 luma as float32 (not rounded), the channel the mark lives in."""
    import cv2

    return cv2.transform(rgb.astype(np.float32), _LUMA_WEIGHTS[None, :]).reshape(rgb.shape[:2])

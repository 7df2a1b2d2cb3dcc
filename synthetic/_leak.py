"""The result of a simulated leak, and the argument checks every leak channel shares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from watermark import ImageError, OptionTypeError

MIN_IMAGE_SIDE = 16
"""Smallest height and width of an image a leak channel accepts."""


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
        :func:`~synthetic.project_points` for the full map). ``None`` only
        where no geometric map is meaningful.
    channel : str
        Name of the leak condition, e.g. ``"jpeg75"`` or ``"phone-hard"``.
    params : dict
        Every parameter drawn or fixed for this leak, as plain Python
        values (JSON-serialisable), for reports and reproduction.
    """

    image: NDArray[np.uint8]
    homography: NDArray[np.float64] | None
    channel: str
    params: dict[str, Any]


def as_generator(seed: int | np.random.Generator) -> np.random.Generator:
    """``seed`` itself if it is a Generator, else a new Generator seeded with the int."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return np.random.default_rng(int(seed))
    raise OptionTypeError(
        f"seed must be an int or numpy.random.Generator, got {type(seed).__name__}", name="seed", value=seed
    )


def check_image(image: object) -> NDArray[np.uint8]:
    """``image`` as a contiguous ``HxWx3`` uint8 array of at least 16x16, or a clear error."""
    if not isinstance(image, np.ndarray):
        raise OptionTypeError(
            f"image must be a numpy array (HxWx3 uint8 RGB), got {type(image).__name__}",
            name="image", value=type(image).__name__,
        )
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ImageError(
            "image must be HxWx3 uint8 RGB, got shape "
            f"{image.shape} and dtype {image.dtype}", shape=image.shape, dtype=str(image.dtype)
        )
    if image.shape[0] < MIN_IMAGE_SIDE or image.shape[1] < MIN_IMAGE_SIDE:
        raise ImageError(f"image must be at least 16x16 pixels, got {image.shape[:2]}",
                         shape=image.shape, dtype=str(image.dtype))
    return np.ascontiguousarray(image)


def plain(value: Any) -> Any:
    """Convert numpy scalars/arrays (possibly nested) to plain Python values."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value

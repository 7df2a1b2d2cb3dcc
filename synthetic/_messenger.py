"""Messenger recompression: what a chat app does to an image it forwards."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from ._codecs import encode_jpeg, resize

SCREENSHOT_MESSENGER_LONGEST = 1280
"""Longest side a chat app leaves a forwarded screenshot (the ``"messenger"`` screenshot channel)."""
SCREENSHOT_MESSENGER_QUALITY = 75
"""JPEG quality of that recompression."""
PHOTO_MESSENGER_LONGEST = 1600
"""Longest side of a phone photo after the messenger, at the ``"hard"`` level."""
PHOTO_MESSENGER_QUALITY = 70
"""JPEG quality of that recompression."""


def messenger(
    image: NDArray[np.uint8], params: dict[str, Any], prefix: str = "",
    longest: int = SCREENSHOT_MESSENGER_LONGEST, quality: int = SCREENSHOT_MESSENGER_QUALITY,
) -> tuple[NDArray[np.uint8], NDArray[np.float64]]:
    """Chat-app recompression: area-downscale to ``longest`` px, JPEG 4:2:0.

    Records what it did in ``params`` (keys ``{prefix}messenger_*``); returns
    the image and the exact homography of the resize.
    """
    h, w = image.shape[:2]
    hom = np.eye(3)
    if max(h, w) > longest:
        s = longest / max(h, w)
        size = (max(1, round(w * s)), max(1, round(h * s)))
        image, hom = resize(image, size, cv2.INTER_AREA)
    out, nbytes = encode_jpeg(image, quality, "420")
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

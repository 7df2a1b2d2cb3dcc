"""Real codecs and resamplers (OpenCV's libjpeg, libwebp, libpng), with the exact resize map."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from ._geometry import scale_matrix


def resize(
    image: NDArray[np.uint8], size: tuple[int, int], interpolation: int
) -> tuple[NDArray[np.uint8], NDArray[np.float64]]:
    """Resize to ``size = (width, height)``; return image and exact homography."""
    h, w = image.shape[:2]
    nw, nh = int(size[0]), int(size[1])
    out = cv2.resize(image, (nw, nh), interpolation=interpolation)
    return out, scale_matrix(nw / w, nh / h)


def encode_jpeg(
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


def encode_webp(image: NDArray[np.uint8], quality: int) -> tuple[NDArray[np.uint8], int]:
    """Round-trip through libwebp (lossy, OpenCV); return decoded RGB and bytes."""
    ok, buf = cv2.imencode(
        ".webp", np.ascontiguousarray(image[..., ::-1]), [cv2.IMWRITE_WEBP_QUALITY, int(quality)]
    )
    if not ok:  # pragma: no cover - codec failure
        raise RuntimeError("WebP encoding failed")
    dec = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return np.ascontiguousarray(dec[..., ::-1]), int(buf.size)


def encode_png(image: NDArray[np.uint8]) -> tuple[NDArray[np.uint8], int]:
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(image[..., ::-1]))
    if not ok:  # pragma: no cover - codec failure
        raise RuntimeError("PNG encoding failed")
    dec = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return np.ascontiguousarray(dec[..., ::-1]), int(buf.size)


"""The image loader, shared with ``leaktrace-embed``: it lives in :mod:`watermark` (see ``watermark.load_image``)."""

from __future__ import annotations

from watermark import DEFAULT_MAX_PIXELS, ImageLoadError, LoadedImage, load_image

__all__ = ["DEFAULT_MAX_PIXELS", "ImageLoadError", "LoadedImage", "load_image"]

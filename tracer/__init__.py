"""leaktrace.tracer: find who displayed a leaked screen, from a photo or screenshot of it."""

from __future__ import annotations

from ._load import DEFAULT_MAX_PIXELS, ImageLoadError, LoadedImage, load_image
from ._trace import Hypothesis, TraceResult, trace

__all__ = ["DEFAULT_MAX_PIXELS", "Hypothesis", "ImageLoadError", "LoadedImage", "TraceResult", "load_image", "trace"]

"""leaktrace.watermark: invisible, keyed marks of viewer ID and time on rendered screens.

>>> import watermark
>>> 'embed' in watermark.__all__ and 'extract' in watermark.__all__
True
"""

from __future__ import annotations

from . import decoding
from ._embed import DEFAULT_RMS, clear_caches, embed, overlay, overlay_levels, pattern_tile
from ._errors import (
    ImageError,
    ImageLoadError,
    InsecureKeyFileWarning,
    KeyFileError,
    KeyMaterialError,
    LeaktraceError,
    LeaktraceWarning,
    OptionError,
    OptionTypeError,
    PayloadError,
    WatermarkError,
)
from ._extract import ExtractResult, extract
from ._key import Key
from ._load import DEFAULT_MAX_BYTES, DEFAULT_MAX_PIXELS, MIN_IMAGE_SIDE, LoadedImage, load_image
from ._payload import EARLIEST_TIMESTAMP, FALSE_PAYLOAD_PROBABILITY_PER_DECODE, LATEST_TIMESTAMP, Payload
from ._visible import (
    DEFAULT_VISIBLE_LABEL,
    visible_mark,
    visible_mark_css,
    visible_mark_html,
    visible_mark_svg,
    visible_mark_text,
)

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_RMS",
    "DEFAULT_VISIBLE_LABEL",
    "EARLIEST_TIMESTAMP",
    "ExtractResult",
    "FALSE_PAYLOAD_PROBABILITY_PER_DECODE",
    "ImageError",
    "ImageLoadError",
    "InsecureKeyFileWarning",
    "Key",
    "LoadedImage",
    "KeyFileError",
    "KeyMaterialError",
    "LATEST_TIMESTAMP",
    "LeaktraceError",
    "LeaktraceWarning",
    "MIN_IMAGE_SIDE",
    "OptionError",
    "OptionTypeError",
    "Payload",
    "PayloadError",
    "WatermarkError",
    "clear_caches",
    "decoding",
    "embed",
    "extract",
    "load_image",
    "overlay",
    "overlay_levels",
    "pattern_tile",
    "visible_mark",
    "visible_mark_css",
    "visible_mark_html",
    "visible_mark_svg",
    "visible_mark_text",
]

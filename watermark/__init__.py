"""leaktrace.watermark: invisible, keyed marks of viewer ID and time on rendered screens.

>>> import watermark
>>> 'embed' in watermark.__all__ and 'extract' in watermark.__all__
True
"""

from __future__ import annotations

from ._embed import DEFAULT_RMS, embed, overlay, pattern_tile
from ._errors import ImageError, KeyFileError, PayloadError, WatermarkError
from ._extract import ExtractResult, extract
from ._key import Key
from ._payload import FALSE_PAYLOAD_PROBABILITY_PER_DECODE, Payload
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
    "DEFAULT_RMS",
    "DEFAULT_VISIBLE_LABEL",
    "ExtractResult",
    "FALSE_PAYLOAD_PROBABILITY_PER_DECODE",
    "ImageError",
    "Key",
    "KeyFileError",
    "Payload",
    "PayloadError",
    "WatermarkError",
    "embed",
    "extract",
    "overlay",
    "pattern_tile",
    "visible_mark",
    "visible_mark_css",
    "visible_mark_html",
    "visible_mark_svg",
    "visible_mark_text",
]

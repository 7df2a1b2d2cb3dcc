"""leaktrace.tracer: find who displayed a leaked screen, from a photo or screenshot of it.

>>> import tracer
>>> 'trace' in tracer.__all__
True
"""

from __future__ import annotations

from watermark import DEFAULT_MAX_PIXELS, ImageLoadError, LeaktraceError, LoadedImage, load_image

from ._attribute import DEFAULT_THRESHOLD, Attribution, CandidateScore, attribute, attribute_sets
from ._batch import ScanItem, iter_items, read_done, scan, scan_dask, scan_item, summary_table
from ._gate import Screening, screen_image
from ._locate import ScreenCandidate, screen_candidates
from ._result import Hypothesis, Mark, TraceResult
from ._trace import trace

__all__ = [
    "Attribution",
    "ScanItem",
    "Screening",
    "CandidateScore",
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_THRESHOLD",
    "Hypothesis",
    "ImageLoadError",
    "LeaktraceError",
    "LoadedImage",
    "Mark",
    "ScreenCandidate",
    "TraceResult",
    "attribute",
    "attribute_sets",
    "iter_items",
    "load_image",
    "read_done",
    "scan",
    "scan_dask",
    "scan_item",
    "screen_candidates",
    "screen_image",
    "summary_table",
    "trace",
]

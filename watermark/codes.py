"""Channel codes of the payload formats, public for measurement (``benchmarks.code_curve``).

The payload codec (:mod:`watermark.decoding`'s ``encode_payload`` and
``decode_soft_bits``) uses payload format 2; this module gives a benchmark
or a researcher the pieces to compare codes on the same soft values without
reaching into private modules:

* format 2: the polar code's construction (:func:`construct`,
  :data:`INFO_BITS` message bits: 64 whitened payload bits + the 40-bit MAC);
* format 1 (kept for comparison only): RS(17, 13) + convolutional K=7 r=1/2,
  :func:`format1_encode` and :func:`format1_candidates`.

>>> from watermark import codes
>>> codes.INFO_BITS, codes.FORMAT1_CHANNEL_BITS
(104, 284)
"""

from __future__ import annotations

from ._code2 import INFO_BITS, PolarCode, construct, polar_code
from ._ecc import FORMAT1_CHANNEL_BITS, FORMAT1_MAX_CANDIDATES, format1_candidates, format1_encode

__all__ = [
    "FORMAT1_CHANNEL_BITS",
    "FORMAT1_MAX_CANDIDATES",
    "INFO_BITS",
    "PolarCode",
    "construct",
    "format1_candidates",
    "format1_encode",
    "polar_code",
]

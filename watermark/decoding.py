"""The low-level decoding face of :mod:`watermark`, for tools that do their own geometry.

:func:`watermark.extract` reads a screenshot at its original geometry. A
tool that must first find the screen (``tracer``, which rectifies phone
photos) or that measures the channel (the benchmarks) needs the pieces in
between; they are public here, documented and stable within a major
version, so that no other package reaches into ``watermark``'s private
modules.

Pipeline, in the order a decoder uses it::

    luma(rgb) -> suppress_content(y) -> fold_tiles(residual, weight)
      -> phase_candidates(folded, key) -> decode_at(folded, key, candidate)

Examples
--------
>>> import numpy as np
>>> from datetime import datetime, timezone
>>> import watermark
>>> from watermark import decoding
>>> key = watermark.Key(bytes(range(32)))
>>> p = watermark.Payload(viewer_id=7, timestamp=datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc))
>>> marked = watermark.embed(np.full((512, 512, 3), 255, np.uint8), p, key)
>>> residual, weight = decoding.suppress_content(decoding.luma(marked))
>>> folded, _ = decoding.fold_tiles(residual, weight)
>>> best = decoding.phase_candidates(folded, key, 1)[0]
>>> result, mac_checks = decoding.decode_at(folded, key, best)
>>> result.payload == p, mac_checks <= decoding.MAX_MAC_CHECKS_PER_DECODE
(True, True)
>>> decoding.encode_payload(p, key).shape == (decoding.CHANNEL_BITS,)
True

Payload format 2: the 104-bit message (64 whitened payload bits + 40-bit
MAC) is a polar (256, 104) codeword, each of the ``CHANNEL_BITS`` = 256
coded bits on 2-3 keyed slots (``slot_layout``); :func:`decode_soft_bits`
list-decodes and checks the 5 best candidates against the MAC, so one
decode reports a false payload with probability at most
``MAX_MAC_CHECKS_PER_DECODE * 2**-MAC_BITS = 5 * 2**-40 ~= 4.5e-12``.
``coefficients_to_tile`` and ``tile_to_band`` are the linear maps between
slot values and a tile, for tools that simulate the channel.
"""

from __future__ import annotations

from ._extract import (
    PhaseCandidate,
    bit_correlations,
    decode_at,
    decode_folded,
    fold_tiles,
    oriented_phase_candidates,
    phase_candidates,
    soft_bits_at,
    spectrum_correlations,
    suppress_content,
    tile_soft_bits,
)
from ._image import luma
from ._payload import CHANNEL_BITS, MAC_BITS, MAX_MAC_CHECKS_PER_DECODE, DecodeOutcome, decode_soft_bits, decode_soft_bits_batch, encode_payload, list_codewords
from ._pattern import BAND, N_SLOTS, TILE, coefficients_to_tile, orient_tile, oriented_band_spectra, slot_layout, tile_to_band

__all__ = [
    "BAND",
    "CHANNEL_BITS",
    "MAC_BITS",
    "MAX_MAC_CHECKS_PER_DECODE",
    "N_SLOTS",
    "TILE",
    "DecodeOutcome",
    "PhaseCandidate",
    "bit_correlations",
    "coefficients_to_tile",
    "decode_at",
    "decode_folded",
    "decode_soft_bits",
    "decode_soft_bits_batch",
    "encode_payload",
    "fold_tiles",
    "list_codewords",
    "luma",
    "orient_tile",
    "oriented_band_spectra",
    "oriented_phase_candidates",
    "phase_candidates",
    "slot_layout",
    "soft_bits_at",
    "spectrum_correlations",
    "suppress_content",
    "tile_soft_bits",
    "tile_to_band",
]

"""The browser overlay as PNG bytes, fast, and a per-(viewer, minute, size) cache.

``watermark.overlay`` returns grey RGBA of one small alpha whose grey takes
a few values (9 levels at strength 1, ``watermark.overlay_levels``). Written
as a generic RGBA PNG at 1920x1080 that takes about 60 ms to compress;
written as an *indexed* PNG whose palette holds those greys and whose
``tRNS`` chunk gives every entry the layer's alpha, it is half a byte (or
one byte) per pixel, and because every row repeats with the
256-pixel tile period, deflate finds the repeats at level 1: about 6-10 ms
and 60-120 kB for a 1080p screen. The overlay also repeats every 256 rows,
so only one band of 256 rows is synthesised and packed. The file has no ``gAMA``, ``cHRM``,
``sRGB`` or ``iCCP`` chunk, so browsers apply no colour management to it, and
it decodes to exactly the array ``watermark.overlay`` returned.
"""

from __future__ import annotations

import struct
import threading
import zlib
from collections import OrderedDict
from typing import Callable, Hashable

import numpy as np
from numpy.typing import NDArray

import watermark
from watermark.decoding import TILE

__all__ = ["OverlayCache", "encode_overlay_png", "overlay_png"]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _indexed_png(index_rows: NDArray[np.uint8], height: int, palette: NDArray[np.uint8], alpha: int, level: int) -> bytes:
    """An indexed PNG (grey ``palette``, every entry at ``alpha``) whose row ``y`` is ``index_rows[y % len(index_rows)]``."""
    period, width = index_rows.shape
    levels = len(palette)
    if levels <= 16:
        depth = 4
        padded = index_rows if width % 2 == 0 else np.pad(index_rows, ((0, 0), (0, 1)))
        packed: NDArray[np.uint8] = ((padded[:, 0::2] << 4) | padded[:, 1::2]).astype(np.uint8)
    else:
        depth, packed = 8, index_rows
    band = np.zeros((period, packed.shape[1] + 1), np.uint8)  # filter byte 0 (None) per row
    band[:, 1:] = packed
    raw = np.tile(band, (-(-height // period), 1))[:height]
    header = struct.pack(">IIBBBBB", width, height, depth, 3, 0, 0, 0)  # colour type 3: indexed
    return b"".join((
        _PNG_SIGNATURE,
        _chunk(b"IHDR", header),
        _chunk(b"PLTE", np.repeat(palette, 3).tobytes()),
        _chunk(b"tRNS", bytes([alpha]) * levels),
        _chunk(b"IDAT", zlib.compress(raw.tobytes(), level)),
        _chunk(b"IEND", b""),
    ))


def _palette_indices(layer: NDArray[np.uint8]) -> tuple[NDArray[np.uint8], NDArray[np.uint8], int]:
    """(palette indices, grey palette, alpha) of an overlay layer; ValueError if it is not one."""
    alpha = int(layer[0, 0, 3])
    if alpha == 0 or alpha % 2 or (layer[:, :, 3] != alpha).any():
        raise ValueError("layer must have one even, non-zero alpha everywhere (as watermark.overlay makes it)")
    grey = layer[:, :, 0]
    if (layer[:, :, 1] != grey).any() or (layer[:, :, 2] != grey).any():
        raise ValueError("layer must be grey (R = G = B)")
    palette = np.rint(np.arange(alpha + 1) * (255.0 / alpha)).astype(np.uint8)
    index = np.rint(grey.astype(np.float32) * (alpha / 255.0)).astype(np.uint8)
    if (palette[index] != grey).any():
        raise ValueError(f"layer greys must be the overlay's {alpha + 1} levels for alpha {alpha}")
    return index, palette, alpha


def encode_overlay_png(layer: NDArray[np.uint8], *, level: int = 1) -> bytes:
    """Encode an overlay layer (as from ``watermark.overlay``) as an indexed PNG.

    Parameters
    ----------
    layer : ndarray of uint8, shape (H, W, 4)
        Grey (R = G = B) on the overlay's levels, one even alpha everywhere.
    level : int, keyword-only
        zlib level, 0..9.

    Returns
    -------
    bytes
        A PNG that decodes to exactly ``layer``.

    Raises
    ------
    ValueError
        If ``layer`` is not such a layer.
    """
    if not (isinstance(layer, np.ndarray) and layer.dtype == np.uint8 and layer.ndim == 3 and layer.shape[2] == 4):
        raise ValueError(f"layer must be HxWx4 uint8 RGBA, got {getattr(layer, 'shape', type(layer).__name__)}")
    index, palette, alpha = _palette_indices(layer)
    return _indexed_png(index, layer.shape[0], palette, alpha, level)


def overlay_png(payload: watermark.Payload, key: watermark.Key, *, size: tuple[int, int], level: int = 1) -> bytes:
    """``watermark.overlay(payload, key, size=size)`` as PNG bytes (see the module notes).

    The overlay repeats every ``TILE`` (256) rows from the top edge, so only
    one band of rows is synthesised and packed; the encoded rows are repeated
    down to ``size[1]``. The result decodes to exactly the full overlay.
    """
    width, height = size
    band = watermark.overlay(payload, key, size=(width, min(height, TILE)))
    index, palette, alpha = _palette_indices(band)
    return _indexed_png(index, height, palette, alpha, level)


class OverlayCache:
    """A thread-safe LRU of encoded overlays, bounded in bytes.

    Parameters
    ----------
    max_bytes : int
        Evict least recently used entries beyond this total size.
    """

    def __init__(self, max_bytes: int = 64 << 20) -> None:
        self.max_bytes = int(max_bytes)
        self._entries: OrderedDict[Hashable, bytes] = OrderedDict()
        self._lock = threading.Lock()
        self._bytes = 0
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, render: Callable[[], bytes]) -> tuple[bytes, bool]:
        """The cached value for ``key``, rendering and storing it on a miss.

        Returns
        -------
        (bytes, bool)
            The value and whether it was a cache hit.
        """
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return found, True
        value = render()  # outside the lock: other sizes and viewers need not wait
        with self._lock:
            self.misses += 1
            if key not in self._entries:
                self._entries[key] = value
                self._bytes += len(value)
            while self._bytes > self.max_bytes and len(self._entries) > 1:
                _, old = self._entries.popitem(last=False)
                self._bytes -= len(old)
        return value, False

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

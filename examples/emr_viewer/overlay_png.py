"""The browser overlay as PNG bytes, fast, and a per-(viewer, minute, size) cache.

``watermark.overlay`` returns black RGBA with a small per-pixel alpha
(0..7 at strength 1). Written as a generic RGBA PNG at 1920x1080 that takes
about 60 ms to compress; written as an *indexed* PNG whose palette is black
and whose ``tRNS`` chunk gives palette index ``i`` the alpha ``i``, it is one
byte (or half a byte) per pixel, and because every row repeats with the
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


def _indexed_png(alpha_rows: NDArray[np.uint8], height: int, level: int) -> bytes:
    """An indexed PNG (black palette, alpha = index) whose row ``y`` is ``alpha_rows[y % len(alpha_rows)]``."""
    period, width = alpha_rows.shape
    levels = int(alpha_rows.max()) + 1
    if levels <= 16:
        depth = 4
        padded = alpha_rows if width % 2 == 0 else np.pad(alpha_rows, ((0, 0), (0, 1)))
        packed: NDArray[np.uint8] = ((padded[:, 0::2] << 4) | padded[:, 1::2]).astype(np.uint8)
    else:
        depth, packed = 8, alpha_rows
    band = np.zeros((period, packed.shape[1] + 1), np.uint8)  # filter byte 0 (None) per row
    band[:, 1:] = packed
    raw = np.tile(band, (-(-height // period), 1))[:height]
    header = struct.pack(">IIBBBBB", width, height, depth, 3, 0, 0, 0)  # colour type 3: indexed
    return b"".join((
        _PNG_SIGNATURE,
        _chunk(b"IHDR", header),
        _chunk(b"PLTE", bytes(3 * levels)),
        _chunk(b"tRNS", bytes(range(levels))),
        _chunk(b"IDAT", zlib.compress(raw.tobytes(), level)),
        _chunk(b"IEND", b""),
    ))


def encode_overlay_png(layer: NDArray[np.uint8], *, level: int = 1) -> bytes:
    """Encode a black RGBA overlay (as from ``watermark.overlay``) as an indexed PNG.

    Parameters
    ----------
    layer : ndarray of uint8, shape (H, W, 4)
        RGB must be all zero (black); only alpha varies.
    level : int, keyword-only
        zlib level, 0..9.

    Returns
    -------
    bytes
        A PNG that decodes to exactly ``layer``.

    Raises
    ------
    ValueError
        If ``layer`` is not black RGBA uint8.
    """
    if not (isinstance(layer, np.ndarray) and layer.dtype == np.uint8 and layer.ndim == 3 and layer.shape[2] == 4):
        raise ValueError(f"layer must be HxWx4 uint8 RGBA, got {getattr(layer, 'shape', type(layer).__name__)}")
    if layer[:, :, :3].any():
        raise ValueError("layer must be black (RGB all zero); only alpha may vary")
    return _indexed_png(layer[:, :, 3], layer.shape[0], level)


def overlay_png(payload: watermark.Payload, key: watermark.Key, *, size: tuple[int, int], level: int = 1) -> bytes:
    """``watermark.overlay(payload, key, size=size)`` as PNG bytes (see the module notes).

    The overlay repeats every ``TILE`` (256) rows from the top edge, so only
    one band of rows is synthesised and packed; the encoded rows are repeated
    down to ``size[1]``. The result decodes to exactly the full overlay.
    """
    width, height = size
    band = watermark.overlay(payload, key, size=(width, min(height, TILE)))
    return _indexed_png(band[:, :, 3], height, level)


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

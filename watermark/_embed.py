"""Embedding: the cached pattern added to luminance, and the browser overlay."""

from __future__ import annotations

import functools
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from ._errors import ImageError, OptionError, OptionTypeError
from ._image import as_rgb_uint8
from ._key import Key
from ._pattern import N_SLOTS, TILE, bit_band_patterns, conj_bit_band_patterns, coefficients_to_tile, slot_layout
from ._payload import Payload, encode_payload

__all__ = ["embed", "overlay", "overlay_levels", "pattern_tile", "DEFAULT_RMS", "WHITE_HEADROOM"]

DEFAULT_RMS = 1.44
"""Luma RMS of the pattern at ``strength=1`` (8-bit levels), before rounding and clipping.

Set for equal visibility with payload format 1 at 1.5: format 2's off-axis
slots measured 1-2 % more mean FLIP (38 ppd) on white and X-ray screens at
the same RMS, and FLIP grows about as the square root of the amplitude
(``python -m benchmarks.visibility``).
"""

WHITE_HEADROOM = 1
"""Levels by which the brightest values are lowered so that + excursions on white survive."""

DARK_LEVEL = 24
"""Luma below which the pattern is attenuated."""

DARK_GAIN = 1.0 / 3.0
"""Pattern gain on near-black pixels."""

PEAK_FACTOR = 2.5
"""Pattern values are limited to this many RMS."""

_MAX_STRENGTH = 8.0


def _check_strength(strength: float) -> float:
    if not isinstance(strength, (int, float)) or isinstance(strength, bool) or not 0.0 < float(strength) <= _MAX_STRENGTH:
        raise OptionError(f"strength must be a number in (0, {_MAX_STRENGTH}], got {strength!r}", name="strength", value=strength)
    return float(strength)


@functools.lru_cache(maxsize=128)
def pattern_tile(payload: Payload, key: Key, strength: float = 1.0) -> NDArray[np.float64]:
    """The spatial luma pattern of one tile (TILE x TILE, float, zero mean), cached.

    It depends only on (payload, key, strength): the viewer computes it once
    per payload and reuses it for every screen.
    """
    bits = encode_payload(payload, key)
    layout = slot_layout(key)
    amplitude = DEFAULT_RMS * strength * np.sqrt(TILE * TILE / N_SLOTS)
    values = amplitude * layout.sign * (1.0 - 2.0 * bits[layout.slot_bit])
    tile = coefficients_to_tile(values)
    # The sum of 576 cosines is near-Gaussian with rare peaks of 4-5 RMS that
    # would be the most visible spots; clipping at PEAK_FACTOR RMS keeps
    # 99% of the correlation (Stein's lemma: the gain is P(|z| < 2.5)).
    limit = PEAK_FACTOR * DEFAULT_RMS * strength
    return np.clip(tile, -limit, limit)


@functools.lru_cache(maxsize=128)
def _integer_tile(payload: Payload, key: Key, strength: float) -> NDArray[np.int16]:
    return np.rint(pattern_tile(payload, key, strength)).astype(np.int16)


@functools.lru_cache(maxsize=4)
def _frame_parts(payload: Payload, key: Key, strength: float, height: int, width: int) -> tuple[NDArray[np.uint8], ...]:
    """The pattern tiled over a frame, split into + and - parts, 3 channels each (cached).

    Returns (plus, minus, plus_dark, minus_dark): the full pattern and the
    attenuated one used on near-black pixels.
    """
    tile = pattern_tile(payload, key, strength)
    reps = (-(-height // TILE), -(-width // TILE))
    parts = []
    for gain in (1.0, DARK_GAIN):
        frame = np.tile(np.rint(tile * gain).astype(np.int16), reps)[:height, :width]
        parts.append(cv2.merge([np.clip(frame, 0, 255).astype(np.uint8)] * 3))
        parts.append(cv2.merge([np.clip(-frame, 0, 255).astype(np.uint8)] * 3))
    return tuple(parts)


def clear_caches(*, key_layouts: bool = True) -> None:
    """Forget cached patterns: tiles and tiled frames, and the keyed slot layouts.

    Patterns are cached per (payload, key, strength) so a viewer stamps each
    screen with one add; a benchmark that times the uncached path, or a
    long-running process that rotated its key (and should not keep the old
    key's derived material), calls this.

    Parameters
    ----------
    key_layouts : bool, keyword-only
        Also forget what depends on the key alone (slot layouts, bit
        patterns). False keeps them: the cost of a *new payload* under a
        known key, which is what a viewer pays per minute.

    >>> clear_caches()
    """
    for cached in (pattern_tile, _integer_tile, _frame_parts):
        cached.cache_clear()
    if key_layouts:
        slot_layout.cache_clear()
        bit_band_patterns.cache_clear()
        conj_bit_band_patterns.cache_clear()


_HEADROOM_LUT = np.minimum(np.arange(256), 255 - WHITE_HEADROOM).astype(np.uint8)


def embed(image: Any, payload: Payload, key: Key, *, strength: float = 1.0) -> Any:
    """Stamp ``payload`` invisibly into ``image`` under ``key``.

    Parameters
    ----------
    image : ndarray or PIL.Image.Image
        HxWx3 RGB (or HxWx4 RGBA, alpha kept), uint8 or float in [0, 1], at
        least 256x256 pixels (one tile).
    payload : Payload
        Viewer ID and time to carry.
    key : Key
        The hospital's secret key.
    strength : float, keyword-only
        Multiplier on the default pattern amplitude (luma RMS 1.5 levels);
        in (0, 8].

    Returns
    -------
    ndarray or PIL.Image.Image
        The marked image, of the same type, shape and dtype as ``image``.

    Raises
    ------
    ImageError
        For an unsupported shape or dtype, float values outside [0, 1], or an
        image smaller than one tile.

    Notes
    -----
    The same luma delta is added to R, G and B, so hue and saturation do not
    change. On near-black pixels (luma below ``DARK_LEVEL``) the pattern is
    attenuated to ``DARK_GAIN``: there it would clip at 0, it is the most
    visible (flat dark areas of photos and X-rays), and a camera loses it in
    noise and flare anyway. White is the usual EMR background and a + excursion at 255 would
    clip away: values above ``255 - WHITE_HEADROOM`` are first lowered to it,
    a uniform darkening of one level that no one sees, and the remaining
    clipping of the largest + excursions costs little of the correlation.
    The pattern is cached per (payload, key, strength) and, for the last few
    frame sizes, pre-tiled, so a cached embed is a LUT and two saturating
    adds.

    Examples
    --------
    >>> import numpy as np
    >>> from datetime import datetime, timezone
    >>> key = Key(bytes(range(32)))
    >>> screen = np.full((512, 512, 3), 255, np.uint8)
    >>> p = Payload(viewer_id=7, timestamp=datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc))
    >>> marked = embed(screen, p, key)
    >>> marked.shape, marked.dtype
    ((512, 512, 3), dtype('uint8'))
    """
    if not isinstance(payload, Payload):
        raise OptionTypeError(f"payload must be a watermark.Payload, got {type(payload).__name__}", name="payload", value=payload)
    if not isinstance(key, Key):
        raise OptionTypeError(f"key must be a watermark.Key, got {type(key).__name__}", name="key", value=key)
    strength = _check_strength(strength)
    rgb, _, restore = as_rgb_uint8(image)
    plus, minus, plus_dark, minus_dark = _frame_parts(payload, key, strength, rgb.shape[0], rgb.shape[1])
    dark = cv2.compare(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), DARK_LEVEL, cv2.CMP_LT)
    bright = cv2.bitwise_not(dark)
    out = cv2.LUT(rgb, _HEADROOM_LUT)
    cv2.add(out, plus, dst=out, mask=bright)
    cv2.subtract(out, minus, dst=out, mask=bright)
    if cv2.countNonZero(dark):
        cv2.add(out, plus_dark, dst=out, mask=dark)
        cv2.subtract(out, minus_dark, dst=out, mask=dark)
    return restore(out)


def overlay(payload: Payload, key: Key, *, size: tuple[int, int], strength: float = 1.0) -> NDArray[np.uint8]:
    """An RGBA layer that puts the mark on whatever it is composited over.

    Parameters
    ----------
    payload, key
        As for :func:`embed`.
    size : (width, height), keyword-only
        Size in *device* pixels of the area the layer covers (for a browser:
        CSS size times devicePixelRatio). Tile origin is the top-left corner.
    strength : float, keyword-only
        As for :func:`embed`.

    Returns
    -------
    ndarray of uint8, shape (height, width, 4)
        Grey (R = G = B = ``c``) with one alpha ``a`` everywhere, ``a = 2h``
        and ``a * c / 255 = h + d`` for the pattern ``d`` (integer levels,
        ``|d| <= h``, ``h`` = ``PEAK_FACTOR`` pattern RMS rounded up: 4
        levels at strength 1). Composited (``out = (1 - a) * bg + a * c``) over
        a background of any level ``bg`` it gives
        ``bg * (1 - 2h / 255) + h + d``: the whole pattern, both signs, on
        white, black and everything between.

    Raises
    ------
    ImageError
        If ``size`` is not two ints of at least 256.

    Notes
    -----
    A layer composited with source-over can only pull each pixel towards
    its own colour, so no layer adds ``d`` to every background: white with
    alpha ``a_w`` adds ``a_w (255 - bg)`` and black with alpha ``a_b``
    subtracts ``a_b bg``. Their sum is ``255 a_w - (a_w + a_b) bg``; with
    ``255 a_w = h + d`` and ``a_w + a_b = 2h / 255`` the pattern term no
    longer depends on ``bg`` and what is left is a uniform contrast of
    ``1 - 2h / 255`` (97 % at strength 1) lifted by ``h`` levels, which
    nobody sees as a mark. One grey pixel of alpha ``a_w + a_b`` and colour
    ``255 a_w / (a_w + a_b)`` is that pair. A darken-only layer (black with
    alpha, the first design) scales the pattern by ``bg / 255``: full on
    white, an eighth on a dark theme's background, where phone photos then
    lost it. Unlike :func:`embed`, the layer does not know the content, so
    near-black pixels carry the full pattern (around ``h`` levels) rather
    than ``DARK_GAIN`` of it.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> key = Key(bytes(range(32)))
    >>> p = Payload(viewer_id=7, timestamp=datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc))
    >>> layer = overlay(p, key, size=(640, 480))
    >>> layer.shape, np.unique(layer[:, :, 3]).tolist()
    ((480, 640, 4), [8])
    """
    strength = _check_strength(strength)
    try:
        width, height = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ImageError(f"size must be (width, height), got {size!r}") from None
    if width < TILE or height < TILE:
        raise ImageError(f"overlay size must be at least {TILE}x{TILE}, got {width}x{height}")
    half, greys = overlay_levels(strength)
    tile = greys[np.clip(_integer_tile(payload, key, strength), -half, half) + half]
    grey = np.tile(tile, (-(-height // TILE), -(-width // TILE)))[:height, :width]
    out = np.empty((height, width, 4), np.uint8)
    out[:, :, :3] = grey[:, :, None]
    out[:, :, 3] = 2 * half
    return out


def overlay_levels(strength: float = 1.0) -> tuple[int, NDArray[np.uint8]]:
    """The overlay's half range ``h`` and its grey for each level: (h, greys of shape (2h + 1,)).

    A pixel carrying pattern level ``d`` (``-h..h``) is ``greys[h + d]`` at
    alpha ``2h``; ``round(greys[i] * 2h / 255) == i``, so a compositor that
    premultiplies in 8 bits adds exactly ``i`` levels (see :func:`overlay`).

    >>> h, greys = overlay_levels()
    >>> h, greys.tolist()
    (4, [0, 32, 64, 96, 128, 159, 191, 223, 255])
    """
    half = int(np.ceil(PEAK_FACTOR * DEFAULT_RMS * _check_strength(strength) - 1e-9))
    greys = np.rint(np.arange(2 * half + 1) * (255.0 / (2 * half))).astype(np.uint8)
    return half, greys


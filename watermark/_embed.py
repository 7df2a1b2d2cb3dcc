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

__all__ = ["embed", "overlay", "pattern_tile", "DEFAULT_RMS", "WHITE_HEADROOM"]

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

OVERLAY_HEADROOM = 1.5
"""The overlay can only darken; it lowers white by this many pattern RMS to make room."""

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
        Black with a per-pixel alpha. Composited (``out = (1 - a) * bg``) over
        white, it gives ``255 - h + min(d, h)`` with ``h`` about 1.5 pattern
        RMS (2 levels at strength 1): the pattern ``d``, darken only, its
        largest + excursions clipped. Over a background of level ``bg`` the pattern
        is scaled by ``bg / 255``; over black text it vanishes, which costs
        nothing because the decoder ignores text strokes.

    Raises
    ------
    ImageError
        If ``size`` is not two ints of at least 256.

    Examples
    --------
    >>> from datetime import datetime, timezone
    >>> key = Key(bytes(range(32)))
    >>> p = Payload(viewer_id=7, timestamp=datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc))
    >>> overlay(p, key, size=(640, 480)).shape
    (480, 640, 4)
    """
    strength = _check_strength(strength)
    try:
        width, height = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ImageError(f"size must be (width, height), got {size!r}") from None
    if width < TILE or height < TILE:
        raise ImageError(f"overlay size must be at least {TILE}x{TILE}, got {width}x{height}")
    tile = _integer_tile(payload, key, strength)
    # Darken-only: lower everything by ``headroom`` and let the rare larger +
    # excursions clip (the trade embed() makes on white, see its Notes).
    headroom = int(np.ceil(OVERLAY_HEADROOM * DEFAULT_RMS * strength))
    alpha_tile = np.clip(headroom - tile, 0, 255).astype(np.uint8)
    alpha = np.tile(alpha_tile, (-(-height // TILE), -(-width // TILE)))[:height, :width]
    out = np.zeros((height, width, 4), np.uint8)
    out[:, :, 3] = alpha
    return out


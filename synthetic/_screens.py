"""Synthetic EMR viewer screens, drawn in code, as watermark test content.

The watermark has to survive on mostly-white, text-heavy record screens, so
tests and benchmarks need realistic ones without shipping binary files or real
records. Every screen here is drawn with Pillow from invented data (no real
patients or staff) and is a pure function of ``(kind, size, seed)``.
"""

from __future__ import annotations

import zlib
from typing import Sequence

import numpy as np
from numpy.typing import NDArray

from watermark import OptionError, OptionTypeError

from ._canvas import DARK, LIGHT, Screen
from ._layouts import LAYOUTS
from ._patients import patient

__all__ = ["MIN_SCREEN_SIZE", "SCREEN_KINDS", "natural_images", "render_screen", "screen_set"]

SCREEN_KINDS: tuple[str, ...] = (
    "banner_vitals", "medications", "labs_chart", "notes", "sidebar_list",
    "dark_theme", "xray_viewer", "summary_dashboard", "flowsheet",
)
"""The screen layouts :func:`render_screen` draws, in a stable report order."""

MIN_SCREEN_SIZE = (320, 240)
"""Smallest ``(width, height)`` :func:`render_screen` accepts: below it the layouts stop fitting."""


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    try:
        width, height = (int(s) for s in size)
        valid = (width, height) == tuple(size)
    except (TypeError, ValueError):
        valid = False
    if not valid or width < MIN_SCREEN_SIZE[0] or height < MIN_SCREEN_SIZE[1]:
        raise OptionError(f"size must be (width, height) integers of at least {MIN_SCREEN_SIZE}; "
                          f"got {size!r}", name="size", value=size)
    return width, height


def render_screen(kind: str, *, size: tuple[int, int] = (1920, 1080),
                  seed: int = 0) -> NDArray[np.uint8]:
    """Render one synthetic EMR viewer screen.

    Parameters
    ----------
    kind : str
        One of :data:`SCREEN_KINDS`.
    size : tuple of int, optional
        ``(width, height)`` in pixels, at least ``(320, 240)``. Layout and font
        sizes scale with it.
    seed : int, optional
        Non-negative. Varies the invented patient, the values and small layout
        details; the patient is the same for every kind with the same seed
        (:func:`~synthetic.patient`).

    Returns
    -------
    numpy.ndarray
        ``(height, width, 3)`` uint8 RGB image, identical for identical arguments.

    Raises
    ------
    watermark.OptionError
        (a ``ValueError``) If ``kind`` is unknown, ``size`` is not two integers
        of at least ``(320, 240)``, or ``seed`` is not a non-negative integer.

    Notes
    -----
    Text uses Pillow's bundled scalable font (``ImageFont.load_default(size=...)``,
    Pillow >= 10.1) with antialiasing, so no system font is needed. All patients,
    staff and values are invented.

    Examples
    --------
    >>> img = render_screen("labs_chart", size=(1366, 768), seed=1)
    >>> img.shape, img.dtype.name
    ((768, 1366, 3), 'uint8')
    >>> bool((img == render_screen("labs_chart", size=(1366, 768), seed=1)).all())
    True
    """
    if kind not in LAYOUTS:
        raise OptionError(f"kind must be one of {', '.join(SCREEN_KINDS)}; got {kind!r}", name="kind", value=kind)
    width, height = _check_size(size)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise OptionTypeError(f"seed must be a non-negative integer; got {seed!r}", name="seed", value=seed)
    if seed < 0:
        raise OptionError(f"seed must be a non-negative integer; got {seed!r}", name="seed", value=seed)
    rng = np.random.default_rng([int(seed), zlib.crc32(kind.encode())])
    scr = Screen((width, height), DARK if kind == "dark_theme" else LIGHT, rng)
    LAYOUTS[kind](scr, patient(int(seed)))
    return np.asarray(scr.img, dtype=np.uint8).copy()


def natural_images() -> list[tuple[str, NDArray[np.uint8]]]:
    """Return a few natural photographs bundled with scikit-image.

    Returns
    -------
    list of (str, numpy.ndarray)
        ``(name, image)`` pairs; each image is ``(H, W, 3)`` uint8 RGB. The
        images ship inside scikit-image, so nothing is downloaded.

    Raises
    ------
    ImportError
        If scikit-image is not installed (it is in the ``bench`` extra).

    Examples
    --------
    >>> [name for name, _ in natural_images()]
    ['astronaut', 'coffee', 'chelsea', 'rocket']
    """
    try:
        from skimage import data
    except ImportError as exc:
        raise ImportError("natural_images() needs scikit-image, which is in the 'bench' extra: "
                          "pip install 'leaktrace[bench]'") from exc
    return [(name, np.ascontiguousarray(getattr(data, name)()[..., :3], dtype=np.uint8))
            for name in ("astronaut", "coffee", "chelsea", "rocket")]


def screen_set(*, sizes: Sequence[tuple[int, int]] = ((1920, 1080),),
               kinds: Sequence[str] | None = None,
               seed: int = 0) -> list[tuple[str, NDArray[np.uint8]]]:
    """Render every kind at every size.

    Parameters
    ----------
    sizes : sequence of (int, int), optional
        ``(width, height)`` pairs.
    kinds : sequence of str, optional
        Kinds to render; all of :data:`SCREEN_KINDS` when None.
    seed : int, optional
        Passed to :func:`render_screen`.

    Returns
    -------
    list of (str, numpy.ndarray)
        ``("{kind}_{width}x{height}", image)`` for each kind, then each size.

    Raises
    ------
    watermark.OptionError
        As :func:`render_screen`, for an unknown kind or a bad size.

    Examples
    --------
    >>> [name for name, _ in screen_set(sizes=[(640, 480)], kinds=["notes"])]
    ['notes_640x480']
    """
    kinds = SCREEN_KINDS if kinds is None else tuple(kinds)
    return [(f"{kind}_{w}x{h}", render_screen(kind, size=(w, h), seed=seed))
            for kind in kinds for w, h in sizes]

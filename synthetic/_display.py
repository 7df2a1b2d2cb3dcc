"""Stage 1 - the display: the stamped screen as light leaving an LCD panel, sub-pixels and all."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np
from numpy.typing import NDArray

from watermark import OptionError

from ._optics import LensPSF

LUT_NX = 1024  # sub-pixel phase samples over one pixel pitch
LUT_NW = 256  # footprint samples over [0, LUT_WMAX] screen px per photo px
LUT_WMAX = 4.0  # beyond 4 pitches the structure is averaged out anyway
LUT_HARMONICS = 64  # Fourier terms of the aperture pulse train


def aperture_tables(
    offsets: Sequence[float],
    duty: float,
    direction: NDArray[np.float64],
    psf: LensPSF,
) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Tabulate the captured response of one axis of the sub-pixel structure.

    Along one screen axis each colour's emitters form a pulse train of
    period one screen pixel, aperture width ``duty``, centred at
    ``i + offset``. A camera pixel whose footprint on the screen spreads
    ``w`` screen pixels per photo pixel along this axis (in photo
    direction ``direction``, a unit 2-vector: the row of the inverse
    Jacobian for this axis, normalised) sees the pulse train filtered by
    the pixel box and the lens PSF. A sinusoid of ``n`` cycles per screen
    pixel is ``n w direction`` cycles per photo pixel, so the captured
    response is the Fourier series::

        S(x, w) = 1 + 2 sum_n sinc(n duty) H(n w direction) cos(2 pi n (x - offset))

    (normalised to mean 1), with ``H`` :meth:`LensPSF.transfer` including
    the pixel box: exact for the whole PSF, defocus sidelobes included,
    truncated at :data:`LUT_HARMONICS` terms and clipped at 0.

    The second table ``T(x, w)`` is geometric: the coordinate, relative to
    ``floor(x)``'s pixel, at which bilinear sampling of the pixel values
    reproduces the overlap-weighted mix of the two nearest apertures seen
    by a box footprint of width ``min(w, 1)`` (exact for magnified
    screens; for wider footprints the content is prefiltered instead).

    Returns
    -------
    S, T : ndarray
        ``(NW + 1) x (NX + 1) x len(offsets)`` ``float32``, indexed by
        (``w * NW / WMAX``, ``x * NX``) with ``x`` the phase in [0, 1].
    """
    xs = np.linspace(0.0, 1.0, LUT_NX + 1)
    ws = np.maximum(np.linspace(0.0, LUT_WMAX, LUT_NW + 1), 1e-4)
    n = np.arange(1, LUT_HARMONICS + 1)
    f = n[None, :] * ws[:, None]  # cycles per photo pixel, NW x N
    h = psf.transfer(f * direction[0], f * direction[1], pixel=True)
    coef = 2 * np.sinc(n * duty)[None, :] * h  # NW x N
    s_tab, t_tab = [], []
    for off in offsets:
        phase = 2 * math.pi * n[:, None] * (xs[None, :] - off)  # N x NX
        s = 1.0 + coef @ np.cos(phase)
        s_tab.append(np.maximum(s, 0.0))
        q = xs[None, :] - off
        i0 = np.floor(q)
        xr = q - i0
        half = np.minimum(ws[:, None], 1.0) / 2
        a, b = xr - half, xr + half
        ov0 = np.clip(np.minimum(b, duty / 2) - np.maximum(a, -duty / 2), 0.0, None)
        ov1 = np.clip(np.minimum(b, 1 + duty / 2) - np.maximum(a, 1 - duty / 2), 0.0, None)
        tot = ov0 + ov1
        t = np.where(tot > 1e-9, ov1 / np.maximum(tot, 1e-12), (xr > 0.5).astype(np.float64))
        t_tab.append(i0 + t)
    return (
        np.ascontiguousarray(np.stack(s_tab, -1), dtype=np.float32),
        np.ascontiguousarray(np.stack(t_tab, -1), dtype=np.float32),
    )


@dataclass(frozen=True)
class Display:
    """Monitor state prepared by :func:`display_model`."""

    linear: NDArray[np.float32]  # HxWx3 linear light, prefiltered (area + PSF)
    stripe_s: NDArray[np.float32]  # (NW+1)x(NX+1)x3 horizontal response
    stripe_t: NDArray[np.float32]
    row_st: NDArray[np.float32]  # (NW+1)x(NX+1)x2 vertical (black matrix) S, T


def display_model(
    image: NDArray[np.uint8],
    *,
    gamma: float,
    black_level: float,
    fill_x: float,
    fill_y: float,
    subpixel_order: str,
    jacobian: NDArray[np.float64],
    psf: LensPSF,
) -> Display:
    """Stage 1 - display: the stamped screen as light leaving an LCD panel.

    * **Electro-optical transfer**: 8-bit code values to relative linear
      luminance with a power-law display gamma (sRGB monitors measure
      2.1-2.4) and a black level (LCD backlight leakage, contrast
      300:1-2000:1): ``L = black + (1 - black) * (v / 255) ** gamma``.
    * **Sub-pixel structure**: an RGB (or BGR) vertical stripe; pixel ``i``
      spans ``[i - 1/2, i + 1/2)`` and sub-pixel ``c`` emits only through
      an aperture of width ``fill_x / 3`` centred at ``i + (c - 1) / 3``;
      the black matrix leaves an aperture of height ``fill_y`` per row.
      Each aperture is a uniform emitter at its pixel's value. The
      structure is tabulated as its captured response - Fourier series of
      the pulse trains times the camera's OTF including the pixel box (see
      :func:`aperture_tables`) - so aliasing of the stripe against the
      sensor grid, i.e. moire, comes out of sampling, not from a texture.
    * **Content prefilter** (what the camera does to the screen's picture,
      applied in screen coordinates): when a camera pixel covers ``w > 1``
      screen pixels the content gets a Gaussian of ``sigma^2 = (w^2 - 1) /
      12`` (area integration beyond what the renderer's two-tap sampling
      covers), then the lens PSF mapped into screen pixels through the
      pose's Jacobian at the screen centre (:meth:`LensPSF.screen_kernel`).
      Under strong perspective the far side is therefore slightly under-
      and the near side slightly over-blurred (by the ratio of local
      scales, < 2x at 45 degrees).

    Parameters
    ----------
    image : ndarray
        Stamped screen, ``HxWx3`` ``uint8`` sRGB.
    gamma : float
        Display gamma.
    black_level : float
        Relative luminance of code 0.
    fill_x, fill_y : float
        Aperture fractions of the sub-pixel width and of the row height.
    subpixel_order : {"RGB", "BGR"}
        Left-to-right order of the stripe.
    jacobian : ndarray
        ``2x2`` ``d(screen x, y) / d(photo u, v)`` at the screen centre.
    psf : LensPSF
        The camera's blur.

    Returns
    -------
    Display
        Linear content and response tables for the renderer.
    """
    jac = np.asarray(jacobian, dtype=np.float64)
    lut = black_level + (1.0 - black_level) * (np.arange(256) / 255.0) ** gamma
    linear = lut.astype(np.float32)[image]
    wx, wy = np.hypot(*jac[0]), np.hypot(*jac[1])
    sx, sy = math.sqrt(max(wx**2 - 1, 0) / 12), math.sqrt(max(wy**2 - 1, 0) / 12)
    if sx > 0.05 or sy > 0.05:
        linear = cv2.GaussianBlur(linear, (0, 0), sigmaX=max(sx, 1e-3), sigmaY=max(sy, 1e-3))
    kernel = psf.screen_kernel(jac)
    if kernel.shape[0] > 1:
        linear = cv2.filter2D(linear, -1, kernel, borderType=cv2.BORDER_REPLICATE)
    orders = {"RGB": (-1 / 3, 0.0, 1 / 3), "BGR": (1 / 3, 0.0, -1 / 3)}
    if subpixel_order not in orders:
        raise OptionError(f"subpixel_order must be 'RGB' or 'BGR', got {subpixel_order!r}",
                          name="subpixel_order", value=subpixel_order)
    order = orders[subpixel_order]
    stripe_s, stripe_t = aperture_tables(order, fill_x / 3, jac[0] / max(wx, 1e-12), psf)
    row_s, row_t = aperture_tables((0.0,), fill_y, jac[1] / max(wy, 1e-12), psf)
    row_st = np.ascontiguousarray(np.concatenate([row_s, row_t], -1))
    return Display(np.ascontiguousarray(linear), stripe_s, stripe_t, row_st)

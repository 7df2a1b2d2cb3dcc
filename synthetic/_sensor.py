"""Stage 5 - the sensor: vignetting, colour filters, Bayer mosaic, noise, ADC, and demosaicing."""

from __future__ import annotations

import math

import cv2
import numpy as np
from numpy.typing import NDArray

from watermark import OptionError

# Bayer code for an R G / G B sensor (R at row 0, col 0). OpenCV's legacy
# two-letter names describe the second row/column (RGGB == "BayerBG");
# the four-letter aliases are unambiguous when present.
_BAYER_RGGB_EA = getattr(cv2, "COLOR_BayerRGGB2RGB_EA", cv2.COLOR_BayerBG2RGB_EA)
_BAYER_RGGB = getattr(cv2, "COLOR_BayerRGGB2RGB", cv2.COLOR_BayerBG2RGB)
_BAYER_RGGB_VNG = getattr(cv2, "COLOR_BayerRGGB2RGB_VNG", cv2.COLOR_BayerBG2RGB_VNG)


def sensor_capture(
    radiance: NDArray[np.float32],
    rng: np.random.Generator,
    *,
    color_matrix: NDArray[np.float64],
    vignetting: float,
    electrons_at_white: float,
    read_noise_e: float,
    raw_white: float,
    bits: int = 12,
) -> NDArray[np.uint16]:
    """Stage 5a - sensor: vignetting, colour filters, Bayer RGGB, noise, ADC.

    * **Vignetting** (optical, before the sensor): residual corner falloff
      after the ISP's lens-shading correction,
      ``1 - vignetting * (r / R)^2`` (``R`` the half diagonal).
    * **Colour filter array**: each photosite sees one filter of an RGGB
      Bayer mosaic (R at even row/even column). The filters' spectral
      overlap with the display primaries is a 3x3 ``color_matrix`` (raw =
      M @ display RGB), with crosstalk and per-channel sensitivity.
    * **Photon shot noise and read noise**: ``electrons_at_white``
      photo-electrons collected by a green photosite for the screen's white
      (a phone pixel's full well is 4-6 ke-; dim rooms and short exposures
      give fewer, hence more noise); Poisson noise approximated by a
      Gaussian of variance equal to the mean (exact enough above ~10 e-),
      plus Gaussian read noise ``read_noise_e``.
    * **ADC**: screen white at ``raw_white`` of full scale (highlight
      headroom), quantised to ``bits`` bits and clipped (glare can
      saturate). No black-level pedestal: negative read noise clips at 0
      (a slight bias in the deepest shadows).

    Parameters
    ----------
    radiance : ndarray
        ``H x W x 3`` ``float32`` relative radiance (screen white ~ 1).
    rng : numpy.random.Generator
        Source of the noise.
    color_matrix : ndarray
        ``3x3`` display RGB -> raw filter response.
    vignetting : float
        Corner falloff fraction.
    electrons_at_white : float
        Photo-electrons of a green photosite at screen white.
    read_noise_e : float
        Read noise, electrons RMS.
    raw_white : float
        Fraction of the ADC range at screen white.
    bits : int
        ADC depth.

    Returns
    -------
    ndarray
        ``H x W`` ``uint16`` Bayer mosaic in [0, 2^bits - 1].
    """
    ph, pw = radiance.shape[:2]
    full = (1 << bits) - 1
    # photo-electrons for every filter at every pixel, then the RGGB pick
    m = (np.asarray(color_matrix, dtype=np.float64) * electrons_at_white).astype(np.float32)
    raw = cv2.transform(radiance, m)
    e = np.empty((ph, pw), np.float32)
    for r0, c0, ch in ((0, 0, 0), (0, 1, 1), (1, 0, 1), (1, 1, 2)):  # (row, col, filter)
        e[r0::2, c0::2] = raw[r0::2, c0::2, ch]
    del raw
    rr = 0.5 * math.hypot(pw, ph)
    yy = vignetting * ((np.arange(ph, dtype=np.float32) - (ph - 1) / 2) / rr) ** 2
    xx = vignetting * ((np.arange(pw, dtype=np.float32) - (pw - 1) / 2) / rr) ** 2
    e *= (1 - yy)[:, None] - xx[None, :]
    np.maximum(e, 0, out=e)
    sd = cv2.sqrt(e + np.float32(read_noise_e**2))
    noise = rng.standard_normal((ph, pw), dtype=np.float32)
    noise *= sd
    e += noise
    e *= np.float32(raw_white * full / electrons_at_white)
    np.clip(e, 0, full, out=e)
    np.rint(e, out=e)
    return e.astype(np.uint16)


def demosaic(mosaic: NDArray[np.uint16], method: str = "EA") -> NDArray[np.uint16]:
    """Stage 5b - demosaic the RGGB mosaic with OpenCV.

    ``method`` is ``"EA"`` (edge-aware, default), ``"bilinear"`` or
    ``"VNG"`` (8-bit only in OpenCV, so the mosaic is reduced to 8 bits
    first). The RGGB layout is OpenCV's ``COLOR_BayerRGGB2RGB*`` (legacy
    name ``COLOR_BayerBG2RGB*``: the two-letter names describe the second
    row); verified on pure red/green/blue mosaics.
    """
    if method == "EA":
        return cv2.cvtColor(mosaic, _BAYER_RGGB_EA)
    if method == "bilinear":
        return cv2.cvtColor(mosaic, _BAYER_RGGB)
    if method == "VNG":
        top = max(int(mosaic.max()), 1)
        m8 = np.clip(mosaic.astype(np.float32) * (255.0 / top) + 0.5, 0, 255).astype(np.uint8)
        rgb = cv2.cvtColor(m8, _BAYER_RGGB_VNG).astype(np.float32) * (top / 255.0)
        return np.rint(rgb).astype(np.uint16)
    raise OptionError(f"demosaic method must be 'EA', 'bilinear' or 'VNG', got {method!r}",
                      name="demosaic", value=method)

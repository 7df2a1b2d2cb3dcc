"""Stages 6-7 - exposure, white balance and the phone's image signal processor (ISP)."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

def srgb_oetf(x: NDArray[np.float64]) -> NDArray[np.float64]:
    x = np.clip(x, 0, 1)
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)


def isp_process(
    camera_rgb: NDArray[np.uint16],
    *,
    bits: int,
    raw_white: float,
    color_matrix: NDArray[np.float64],
    wb_error: tuple[float, float],
    output_white: float,
    tone_strength: float,
    luma_denoise_sigma: float,
    chroma_denoise_sigma: float,
    sharpen_amount: float,
    sharpen_sigma: float,
) -> NDArray[np.uint8]:
    """Stages 6-7 - exposure, white balance, colour correction and ISP.

    * **White balance and colour correction** (stage 6): the ISP inverts
      its calibrated colour matrix (``color_matrix``) and applies auto
      white-balance gains that miss neutral by ``wb_error`` (R and B gain
      factors; a white screen next to warm room light fools AWB a little).
    * **Exposure** (stage 6): a digital gain maps the screen white to
      ``output_white`` (slightly above 1 clips the white page).
    * **Tone curve** (stage 7): sRGB OETF then an S-curve blend
      ``y + tone_strength * (smoothstep(y) - y)`` (phones add contrast),
      applied through a table indexed by 14-bit linear light, straight to
      8 bits.
    * **Denoise** (stage 7): chroma noise reduction (Gaussian blur of Cr/Cb
      with ``chroma_denoise_sigma`` px, as ISPs do strongly) and light luma
      denoising (bilateral, ``d = 5``, range sigma
      ``luma_denoise_sigma`` levels).
    * **Sharpening** (stage 7): unsharp mask on luma,
      ``Y + amount * (Y - G_sigma * Y)``.

    Parameters
    ----------
    camera_rgb : ndarray
        Demosaiced ``H x W x 3`` ``uint16`` camera RGB.
    bits, raw_white : int, float
        ADC depth and the raw level of the screen white (as in
        :func:`sensor_capture`).
    color_matrix : ndarray
        The sensor's ``3x3`` matrix, inverted by the ISP.
    wb_error : (float, float)
        R and B white-balance gain errors (1 = perfect).
    output_white : float
        Linear level the screen white is mapped to before the tone curve.
    tone_strength : float
        S-curve blend in [0, 1].
    luma_denoise_sigma, chroma_denoise_sigma : float
        Bilateral range sigma (8-bit levels), chroma Gaussian sigma (px).
    sharpen_amount, sharpen_sigma : float
        Unsharp-mask gain and radius (px).

    Returns
    -------
    ndarray
        ``H x W x 3`` ``uint8`` RGB ready for JPEG.
    """
    full = (1 << bits) - 1
    wb = np.diag([wb_error[0], 1.0, wb_error[1]])
    mat = wb @ np.linalg.inv(color_matrix)
    # raw white (1,1,1) display -> raw = M @ 1 ; after inv(M) it is 1 again
    gain = output_white / (raw_white * full)
    # Colour matrix, WB and exposure in one affine transform straight to a
    # 16-bit index of linear light (1.0 -> 16383; OpenCV saturates below 0),
    # then the tone curve as a 65536-entry table to 8 bits.
    one = 16383.0
    affine = np.zeros((3, 4), np.float32)
    affine[:, :3] = mat * gain * one
    affine[:, 3] = 0.5  # round to nearest
    idx = cv2.transform(camera_rgb, affine)
    x = np.minimum(np.arange(65536) / one, 1.0)
    y = srgb_oetf(x)
    y = y + tone_strength * (y * y * (3 - 2 * y) - y)
    lut = np.clip(np.rint(y * 255), 0, 255).astype(np.uint8)
    rgb8 = lut[idx]
    ycc = cv2.cvtColor(rgb8, cv2.COLOR_RGB2YCrCb)
    yl, cr, cb = cv2.split(ycc)
    if chroma_denoise_sigma > 0:
        cr = cv2.GaussianBlur(cr, (0, 0), chroma_denoise_sigma)
        cb = cv2.GaussianBlur(cb, (0, 0), chroma_denoise_sigma)
    if luma_denoise_sigma > 0:
        yl = cv2.bilateralFilter(yl, 5, luma_denoise_sigma, 1.5)
    if sharpen_amount > 0:
        blur = cv2.GaussianBlur(yl, (0, 0), sharpen_sigma)
        yl = cv2.addWeighted(yl, 1 + sharpen_amount, blur, -sharpen_amount, 0)  # saturating
    return cv2.cvtColor(cv2.merge([yl, cr, cb]), cv2.COLOR_YCrCb2RGB)

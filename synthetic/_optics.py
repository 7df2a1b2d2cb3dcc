"""Stage 4 - the phone's lens: radial distortion and the point-spread function (blur)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray


def _distortion_norm(photo_size: tuple[int, int]) -> tuple[NDArray[np.float64], float]:
    pw, ph = photo_size
    return np.array([(pw - 1) / 2, (ph - 1) / 2]), 0.5 * math.hypot(pw, ph)


def undistort_photo_points(
    points: NDArray[np.float64], k1: float, photo_size: tuple[int, int]
) -> NDArray[np.float64]:
    """Stage 4a - radial lens distortion, photo -> ideal pinhole coordinates.

    The distortion model (one radial term, defined on the *recorded* image
    so that rendering needs no iteration)::

        p_u = c + (p_d - c) * (1 + k1 * |p_d - c|^2 / R^2)

    with ``c`` the photo centre and ``R`` the half diagonal. ``k1 > 0``
    pushes ideal points inward in the recording (barrel), ``k1 < 0``
    outward (pincushion). Phone ISPs correct most of their lens distortion;
    the residual ``|k1|`` is a few percent.
    """
    c, r = _distortion_norm(photo_size)
    p = np.asarray(points, dtype=np.float64) - c
    rho2 = (p**2).sum(-1, keepdims=True) / r**2
    return c + p * (1 + k1 * rho2)


def distort_photo_points(
    points: NDArray[np.float64], k1: float, photo_size: tuple[int, int]
) -> NDArray[np.float64]:
    """Inverse of :func:`undistort_photo_points` (fixed-point iteration)."""
    c, r = _distortion_norm(photo_size)
    pu = np.asarray(points, dtype=np.float64) - c
    ru = np.sqrt((pu**2).sum(-1, keepdims=True))
    rd = ru.copy()
    for _ in range(50):
        rd = ru / (1 + k1 * (rd / r) ** 2)
    scale = np.divide(rd, ru, out=np.ones_like(ru), where=ru > 0)
    return c + pu * scale


# --------------------------------------------------------------------------
# Stage 4b: lens blur (point-spread function)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class LensPSF:
    """Stage 4b - the camera's point-spread function, in photo pixels.

    The PSF is the convolution of

    * **optics**: a Gaussian of ``optics_sigma_px`` (diffraction and
      aberrations of a phone lens in focus; at 0.2-0.4 px its MTF is
      0.5-0.9 at Nyquist and still 0.1-0.6 at 0.8 cycles/px - phone lenses
      are designed for the 48-50 MP native grid that is binned to 12 MP -
      which is why phones alias screens into moire);
    * **defocus**: a uniform disk of radius ``defocus_radius_px`` (the
      circle of confusion), MTF ``2 J1(2 pi r f) / (2 pi r f)``;
    * **hand shake**: a uniform line of length ``motion_length_px`` at
      ``motion_angle_deg`` (exposures of 1/60-1/30 s make it straight),
      MTF ``sinc(L f . m)``.

    The pixel's own area integration (a unit box) is not part of the PSF;
    :meth:`transfer` can include it.

    The blur is applied *before* sampling, where physics puts it: through
    :meth:`transfer` in the sub-pixel tables (so defocus really suppresses
    moire), through :meth:`screen_kernel` on the screen content, and as a
    Gaussian of :attr:`sigma_equiv` on the sharp outlines of the screen
    and bezel.
    """

    optics_sigma_px: float
    defocus_radius_px: float
    motion_length_px: float
    motion_angle_deg: float

    @property
    def sigma_equiv(self) -> float:
        """Standard deviation of the PSF (disk r^2/4, line L^2/12 per axis)."""
        return math.sqrt(
            self.optics_sigma_px**2 + self.defocus_radius_px**2 / 4 + self.motion_length_px**2 / 12
        )

    def transfer(
        self, fu: NDArray[np.float64], fv: NDArray[np.float64], *, pixel: bool = True
    ) -> NDArray[np.float64]:
        """Optical transfer function at frequencies ``(fu, fv)`` (cycles/px).

        With ``pixel=True`` the unit-box pixel aperture ``sinc(fu) sinc(fv)``
        is included (the sensor's area integration).
        """
        from scipy.special import j1

        rho = np.hypot(fu, fv)
        h = np.exp(-2 * math.pi**2 * self.optics_sigma_px**2 * rho**2)
        if self.defocus_radius_px > 0:
            z = 2 * math.pi * self.defocus_radius_px * rho
            h = h * np.where(z > 1e-8, 2 * j1(z) / np.maximum(z, 1e-8), 1.0)
        if self.motion_length_px > 0:
            a = math.radians(self.motion_angle_deg)
            h = h * np.sinc(self.motion_length_px * (fu * math.cos(a) + fv * math.sin(a)))
        if pixel:
            h = h * np.sinc(fu) * np.sinc(fv)
        return h

    def samples(self, oversample: int = 8) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """The PSF as weighted points: ``(offsets N x 2 in px, weights N)``.

        Rendered on a grid ``oversample`` times finer than a pixel: the
        disk by area, then the Gaussian and the line by convolution.
        """
        ss = oversample
        r = max(self.defocus_radius_px, 0.0)
        half = int(math.ceil(r + 3.5 * self.optics_sigma_px + self.motion_length_px / 2)) + 1
        n = (2 * half + 1) * ss
        ax = (np.arange(n) + 0.5) / ss - half - 0.5
        xx, yy = np.meshgrid(ax, ax)
        # r below a fine cell: the four central cells (a point at the centre)
        k = (xx**2 + yy**2 <= max(r, 0.75 / ss) ** 2).astype(np.float64)
        if self.optics_sigma_px > 0:
            k = cv2.GaussianBlur(
                k, (0, 0), self.optics_sigma_px * ss, borderType=cv2.BORDER_CONSTANT
            )
        if self.motion_length_px > 0:
            length = self.motion_length_px * ss
            mh = int(math.ceil(length / 2)) + 1
            line = np.zeros((2 * mh + 1, 2 * mh + 1))
            a = math.radians(self.motion_angle_deg)
            t = np.linspace(-length / 2, length / 2, max(2, int(length * 4) + 1))
            rows = np.rint(mh + t * math.sin(a)).astype(int)
            cols = np.rint(mh + t * math.cos(a)).astype(int)
            np.add.at(line, (rows, cols), 1.0)
            k = cv2.filter2D(k, -1, line / line.sum(), borderType=cv2.BORDER_CONSTANT)
        keep = k > k.max() * 1e-4
        w = k[keep]
        return np.c_[xx[keep], yy[keep]], w / w.sum()

    def screen_kernel(self, jacobian: NDArray[np.float64]) -> NDArray[np.float32]:
        """The PSF mapped into screen pixels through a local affine map.

        ``jacobian`` is ``d(screen x, y) / d(photo u, v)`` (2x2). The PSF's
        weighted points are mapped to screen offsets and splatted
        bilinearly onto the integer screen-pixel grid.
        """
        pts, w = self.samples()
        q = pts @ np.asarray(jacobian, dtype=np.float64).T
        half = int(math.ceil(np.abs(q).max())) + 1
        size = 2 * half + 1
        k = np.zeros((size, size))
        fx, fy = np.floor(q[:, 0]), np.floor(q[:, 1])
        ax, ay = q[:, 0] - fx, q[:, 1] - fy
        ix, iy = fx.astype(int) + half, fy.astype(int) + half
        taps = (
            (0, 0, (1 - ax) * (1 - ay)),
            (1, 0, ax * (1 - ay)),
            (0, 1, (1 - ax) * ay),
            (1, 1, ax * ay),
        )
        for dx, dy, wt in taps:
            np.add.at(k, (iy + dy, ix + dx), w * wt)
        return (k / k.sum()).astype(np.float32)


"""Stages 1-4a combined: the scene radiance reaching the sensor, rendered by inverse mapping."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from ._display import LUT_NW, LUT_NX, LUT_WMAX, Display
from ._geometry import apply_h
from ._optics import LensPSF, distort_photo_points, undistort_photo_points


def _coarse_rows(
    field: NDArray[np.float32], step: int, r0: int, r1: int, width: int
) -> NDArray[np.float32]:
    """Rows ``r0:r1`` of a padded coarse field bilinearly upsampled by ``step``.

    The coarse grid holds samples at photo coordinates ``(k - 1 + 0.5) *
    step - 0.5`` (one cell of padding on every side). Resizing a band of
    it by exactly ``step`` with the pixel-centre convention interpolates
    linearly between those samples; the band carries enough extra rows that
    OpenCV's edge clamping never reaches the rows returned. ``r0`` must be
    a multiple of ``step``.
    """
    ks = r0 // step
    n = (r1 - r0 + step - 1) // step + 3
    band = field[ks : ks + n]
    size = (field.shape[1] * step, band.shape[0] * step)
    big = cv2.resize(band, size, interpolation=cv2.INTER_LINEAR)
    return big[step : step + (r1 - r0), step : step + width]


def _polygon_mask(
    rect: tuple[float, float, float, float],
    hom: NDArray[np.float64],
    k1: float,
    photo_size: tuple[int, int],
) -> NDArray[np.uint8]:
    """Anti-aliased coverage of a screen-plane rectangle in the photo."""
    x0, y0, x1, y1 = rect
    n = 256
    t = np.linspace(0, 1, n, endpoint=False)
    edges = np.concatenate(
        [
            np.c_[x0 + (x1 - x0) * t, np.full(n, y0)],
            np.c_[np.full(n, x1), y0 + (y1 - y0) * t],
            np.c_[x1 - (x1 - x0) * t, np.full(n, y1)],
            np.c_[np.full(n, x0), y1 - (y1 - y0) * t],
        ]
    )
    pts = distort_photo_points(apply_h(hom, edges), k1, photo_size)
    shift = 4
    # polygon vertices are continuous coordinates; OpenCV puts pixel centres
    # at integers as we do
    poly = np.rint(pts * (1 << shift)).astype(np.int32)
    poly = np.clip(poly, -(1 << 28), 1 << 28)
    pw, ph = photo_size
    mask = np.zeros((ph, pw), np.uint8)
    cv2.fillPoly(mask, [poly], 255, lineType=cv2.LINE_AA, shift=shift)
    return mask


def render_photo_radiance(
    display: Display,
    hom: NDArray[np.float64],
    k1: float,
    photo_size: tuple[int, int],
    screen_size: tuple[int, int],
    bezel: tuple[float, float, float, float],
    background: NDArray[np.float32],
    monitor_add: NDArray[np.float32],
    bezel_level: float,
    bezel_gloss: float,
    psf: LensPSF,
    step: int,
) -> NDArray[np.float32]:
    """Render the scene radiance reaching the sensor, by inverse mapping.

    For every photo pixel ``p_d`` (distorted coordinates) the renderer
    undoes the lens distortion (stage 4a), maps the ideal point through the
    inverse pose homography into screen coordinates ``(sx, sy)`` and
    evaluates the display there:

    * the camera pixel's footprint along screen x is ``w_x = |J_x|``, the
      norm of the row of the local Jacobian ``J = d(sx, sy)/d(u, v)`` (the
      screen pixels spanned per photo pixel), likewise ``w_y``;
    * the stripe and black-matrix responses are looked up in the tables of
      :func:`~synthetic._display.aperture_tables` at (phase, ``w``) with bilinear
      interpolation (``cv2.remap``), giving per-channel factors
      ``S_c(sx, w_x) * S_row(sy, w_y)``; these already hold the pixel's
      area integration and the lens PSF, so the moire that results is the
      aliasing a real sensor produces;
    * the content is sampled per colour channel at the aperture-weighted
      coordinate of the tables (bilinear ``cv2.remap`` of the linear,
      prefiltered screen), which reproduces the overlap-weighted mix of
      neighbouring sub-pixels (colour fringes on text included) when a
      camera pixel is smaller than a screen pixel;
    * the bezel, background, glare and reflection (stage 2) are composited
      with anti-aliased screen/monitor outlines (``cv2.fillPoly`` at 1/16
      px, then blurred by a Gaussian of the PSF's standard deviation).

    Parameters
    ----------
    display : Display
        From :func:`display_model`.
    hom : ndarray
        Pose homography, screen -> ideal photo coordinates.
    k1 : float
        Radial distortion (:func:`undistort_photo_points`).
    photo_size, screen_size : (width, height)
        Sizes in pixels.
    bezel : (x0, y0, x1, y1)
        Outer monitor rectangle in screen coordinates.
    background, monitor_add : ndarray
        Coarse fields from :func:`scene_fields`.
    bezel_level, bezel_gloss : float
        From :func:`scene_fields`.
    psf : LensPSF
        Used for the outlines (the rest is in ``display``).
    step : int
        Coarse grid step in photo pixels.

    Approximations (the price of one sample per photo pixel instead of
    supersampling): the product of content and sub-pixel response is
    filtered factor by factor; the OTF direction of each axis is the one
    at the screen centre while its scale ``w`` is per pixel; screen
    coordinates and footprints are computed exactly every ``step`` photo
    pixels and interpolated bilinearly (the projective map's curvature
    makes that error < 1e-3 px).

    Returns
    -------
    ndarray
        ``H x W x 3`` ``float32`` relative linear radiance (screen white ~ 1).
    """
    pw, ph = photo_size
    sw, sh = screen_size
    coarse = _screen_coordinates(hom, k1, photo_size, step)
    out = np.empty((ph, pw, 3), np.float32)
    screen_mask = _polygon_mask((-0.5, -0.5, sw - 0.5, sh - 0.5), hom, k1, photo_size)
    monitor_mask = _polygon_mask(bezel, hom, k1, photo_size)
    blur = psf.sigma_equiv
    if blur > 0.2:  # outlines are blurred by the lens like everything else
        screen_mask = cv2.GaussianBlur(screen_mask, (0, 0), blur)
        monitor_mask = cv2.GaussianBlur(monitor_mask, (0, 0), blur)
    # on the monitor: glare + reflection + bezel replace the background
    monitor_delta = np.ascontiguousarray(bezel_gloss * monitor_add + bezel_level - background)
    screen_delta = np.ascontiguousarray((1 - bezel_gloss) * monitor_add - bezel_level)
    chunk = 128  # a multiple of step; keeps temporaries in cache
    for r0 in range(0, ph, chunk):
        r1 = min(ph, r0 + chunk)
        band = _Band(r0, r1, pw, step)
        _render_band(out[r0:r1], display, band, band.rows(coarse), screen_mask[r0:r1], monitor_mask[r0:r1],
                     (band.rows(background), band.rows(monitor_delta), band.rows(screen_delta)))
    return out


def _screen_coordinates(
    hom: NDArray[np.float64], k1: float, photo_size: tuple[int, int], step: int
) -> NDArray[np.float32]:
    """Screen coordinates and footprints ``(sx, sy, wx, wy)`` of every coarse grid point.

    For each photo point of the padded coarse grid (``step`` px apart): the
    lens distortion undone, the inverse pose applied, and the Jacobian
    ``d(sx, sy)/d(u, v)`` by central differences (borders one-sided), whose
    row norms are the footprints ``wx``, ``wy`` in screen px per photo px.
    """
    pw, ph = photo_size
    gw, gh = pw // step + 3, ph // step + 3
    gx = (np.arange(gw, dtype=np.float64) - 1 + 0.5) * step - 0.5
    gy = (np.arange(gh, dtype=np.float64) - 1 + 0.5) * step - 0.5
    xx, yy = np.meshgrid(gx, gy)
    pu = undistort_photo_points(np.stack([xx, yy], -1), k1, photo_size)
    g = np.linalg.inv(hom)
    den = g[2, 0] * pu[..., 0] + g[2, 1] * pu[..., 1] + g[2, 2]
    sx = (g[0, 0] * pu[..., 0] + g[0, 1] * pu[..., 1] + g[0, 2]) / den
    sy = (g[1, 0] * pu[..., 0] + g[1, 1] * pu[..., 1] + g[1, 2]) / den
    # Jacobian d(sx, sy)/d(u, v) by central differences on the coarse grid
    # (includes the distortion); borders use one-sided differences.
    jxu, jxv = np.gradient(sx, step, axis=1), np.gradient(sx, step, axis=0)
    jyu, jyv = np.gradient(sy, step, axis=1), np.gradient(sy, step, axis=0)
    wx = np.sqrt(jxu**2 + jxv**2)
    wy = np.sqrt(jyu**2 + jyv**2)
    return np.ascontiguousarray(np.stack([sx, sy, wx, wy], -1), dtype=np.float32)


@dataclass(frozen=True)
class _Band:
    """Photo rows ``r0:r1`` (``r0`` a multiple of ``step``), ``width`` px wide."""

    r0: int
    r1: int
    width: int
    step: int

    def rows(self, field: NDArray[np.float32]) -> NDArray[np.float32]:
        """The band of a padded coarse field, upsampled to photo pixels."""
        return _coarse_rows(field, self.step, self.r0, self.r1, self.width)


def _render_band(
    out: NDArray[np.float32],
    display: Display,
    band: _Band,
    f: NDArray[np.float32],
    screen_mask: NDArray[np.uint8],
    monitor_mask: NDArray[np.uint8],
    fields: tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]],
) -> None:
    """Render one band of photo rows into ``out``.

    ``f`` holds the band's screen coordinates and footprints (from
    :func:`_screen_coordinates`); ``fields`` the band's background, monitor
    and screen radiance deltas, already upsampled.
    """
    lin = display.linear
    row_tab = display.row_st
    wscale = LUT_NW / LUT_WMAX
    fsx = np.floor(f[..., 0])
    fsy = np.floor(f[..., 1])
    lx = f[..., 0] - fsx
    lx *= LUT_NX
    ly = f[..., 1] - fsy
    ly *= LUT_NX
    lwx = np.minimum(f[..., 2] * wscale, LUT_NW)
    lwy = np.minimum(f[..., 3] * wscale, LUT_NW)
    rep = cv2.BORDER_REPLICATE
    s_x = cv2.remap(display.stripe_s, lx, lwx, cv2.INTER_LINEAR, borderMode=rep)
    t_x = cv2.remap(display.stripe_t, lx, lwx, cv2.INTER_LINEAR, borderMode=rep)
    st_y = cv2.remap(row_tab, ly, lwy, cv2.INTER_LINEAR, borderMode=rep)
    my = fsy + st_y[..., 1]
    sm = screen_mask.astype(np.float32)
    sm *= 1 / 255
    mm = monitor_mask.astype(np.float32)
    mm *= 1 / 255
    s_y = st_y[..., 0] * sm  # screen coverage folded into the row factor
    bg, mon, scr = fields
    for c in range(3):
        mx = fsx + t_x[..., c]
        v = cv2.remap(lin[..., c], mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        # screen pixels emit on top of the (black) bezel plane
        v *= s_x[..., c]
        v *= s_y
        v += bg[..., c]
        v += mm * mon[..., c]
        v += sm * scr[..., c]
        out[:, :, c] = v

"""Plane geometry of the leaks: homographies, the camera pose (stage 3) and the full point map.

Pixel coordinates are ``(x, y)`` = (column, row) with the *centre* of pixel
``(i, j)`` at the integer point ``(i, j)``; an image of width ``W`` spans
``[-0.5, W - 0.5]``. With this convention a resize by ``s`` is
``x' = (x + 0.5) * s - 0.5``, which is what ``cv2.resize`` implements.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from watermark import OptionError

from ._leak import Leak
from ._optics import distort_photo_points


def scale_matrix(sx: float, sy: float) -> NDArray[np.float64]:
    """Resize map with the pixel-centre convention x' = (x + 0.5) s - 0.5."""
    return np.array(
        [[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, 0.5 * sy - 0.5], [0.0, 0.0, 1.0]]
    )


def translation(tx: float, ty: float) -> NDArray[np.float64]:
    return np.array([[1.0, 0.0, tx], [0.0, 1.0, ty], [0.0, 0.0, 1.0]])


def apply_h(h: NDArray[np.floating[Any]], pts: ArrayLike) -> NDArray[np.float64]:
    """Map ``N x 2`` points through the homography ``h``."""
    pts = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
    q = np.c_[pts, np.ones(len(pts))] @ h.T
    return q[:, :2] / q[:, 2:3]


def screen_corners(width: int, height: int) -> NDArray[np.float64]:
    """The outer corners of a ``width x height`` image, clockwise from top-left."""
    return np.array([[-0.5, -0.5], [width - 0.5, -0.5], [width - 0.5, height - 0.5], [-0.5, height - 0.5]])


def _rot_x(a: float) -> NDArray[np.float64]:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _rot_y(a: float) -> NDArray[np.float64]:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _rot_z(a: float) -> NDArray[np.float64]:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def camera_pose_homography(
    screen_size: tuple[int, int],
    photo_size: tuple[int, int],
    *,
    focal_px: float,
    yaw_deg: float,
    pitch_deg: float,
    roll_deg: float,
    coverage: float,
    position: tuple[float, float] = (0.0, 0.0),
    margin: float = 0.02,
) -> tuple[NDArray[np.float64], dict[str, Any]]:
    """Stage 3 - camera pose: pinhole homography screen pixels -> photo pixels.

    Models a phone held in front of the monitor. World frame: the screen is
    the plane ``Z = 0`` with ``X`` to the right and ``Y`` down, in units of
    one screen pixel pitch, origin at the screen centre; the viewer is at
    ``Z < 0``. The camera looks at the screen centre from direction
    ``R_y(yaw) R_x(pitch) (0, 0, -1)`` at distance ``d``, is rolled about
    its optical axis by ``roll``, and has intrinsics
    ``K = [[f, 0, cx], [0, f, cy], [0, 0, 1]]`` with the principal point at
    the photo centre. ``d`` is solved (fixed-point iteration; projection
    scale goes as ``1/d``) so that the bounding box of the projected screen
    spans ``coverage`` of the photo width. The screen is then placed at
    ``position`` (each in [-1, 1], fraction of the free room left/right and
    up/down), which is a principal-point shift: the image of a wider sensor
    cropped off-centre, so perspective stays exact. If the screen does not
    fit inside the photo with ``margin``, ``d`` is increased until it does
    (the achieved coverage is reported).

    Parameters
    ----------
    screen_size, photo_size : (width, height)
        In pixels.
    focal_px : float
        Focal length in photo pixels (a 26 mm-equivalent phone lens on a
        4000x3000 sensor is about 3000 px).
    yaw_deg, pitch_deg, roll_deg : float
        Camera orientation; off-axis angle is
        ``acos(cos(yaw) cos(pitch))``.
    coverage : float
        Target width of the screen's bounding box / photo width.
    position : (float, float)
        Placement of the screen in the free room, in [-1, 1].
    margin : float
        Minimum gap between the screen and the photo border, as a fraction
        of the photo size.

    Returns
    -------
    homography : ndarray
        ``3x3`` map screen pixel coords -> photo pixel coords (pixel centres
        at integers), before lens distortion.
    info : dict
        ``distance_px`` (camera distance in screen-pixel pitches),
        ``coverage_achieved``, ``screen_quad`` (projected corners).
    """
    sw, sh = screen_size
    pw, ph = photo_size
    # screen pixel (x, y) -> plane coordinates centred on the screen
    to_plane = np.array([[1.0, 0.0, 0.5 - sw / 2], [0.0, 1.0, 0.5 - sh / 2], [0.0, 0.0, 1.0]])
    k = np.array([[focal_px, 0.0, (pw - 1) / 2], [0.0, focal_px, (ph - 1) / 2], [0.0, 0.0, 1.0]])
    r_cam = _rot_y(math.radians(yaw_deg)) @ _rot_x(math.radians(pitch_deg))
    r_wc = _rot_z(math.radians(roll_deg)) @ r_cam.T
    corners = screen_corners(sw, sh)

    def project(d: float) -> NDArray[np.float64]:
        centre = -d * r_cam[:, 2]
        t = -r_wc @ centre
        result: NDArray[np.float64] = k @ np.column_stack([r_wc[:, 0], r_wc[:, 1], t]) @ to_plane
        return result

    d = _distance_for_coverage(project, corners, focal_px * sw / (coverage * pw), coverage * pw)
    d = _distance_to_fit(project, corners, d, (pw * (1 - 2 * margin), ph * (1 - 2 * margin)))
    hom = project(d)
    quad = apply_h(hom, corners)
    lo, hi = quad.min(0), quad.max(0)
    room = np.array([pw, ph]) * (1 - 2 * margin) - (hi - lo)
    centre_now = (lo + hi) / 2
    target = np.array([(pw - 1) / 2, (ph - 1) / 2]) + np.clip(position, -1, 1) * room / 2
    shift = target - centre_now
    hom = translation(*shift) @ hom
    quad = apply_h(hom, corners)
    info = {
        "distance_px": float(d),
        "coverage_achieved": float(np.ptp(quad[:, 0]) / pw),
        "screen_quad": quad.tolist(),
    }
    return hom / hom[2, 2], info


def _distance_for_coverage(
    project: Callable[[float], NDArray[np.float64]], corners: NDArray[np.float64], d: float, width_px: float
) -> float:
    """Fixed-point iteration from ``d`` for the distance at which the screen spans ``width_px``."""
    for _ in range(30):
        quad = apply_h(project(d), corners)
        width = np.ptp(quad[:, 0])
        d_new = d * width / width_px
        if abs(d_new - d) < 1e-9 * d:
            break
        d = d_new
    return d


def _distance_to_fit(
    project: Callable[[float], NDArray[np.float64]], corners: NDArray[np.float64], d: float,
    room: tuple[float, float],
) -> float:
    """Increase ``d`` until the screen's bounding box fits in ``room`` (shrinks coverage if needed)."""
    for _ in range(30):
        quad = apply_h(project(d), corners)
        ratio = max(np.ptp(quad[:, 0]) / room[0], np.ptp(quad[:, 1]) / room[1])
        if ratio <= 1.0:
            break
        d *= ratio * 1.0005
    return d


def project_points(leak: Leak, points: ArrayLike) -> NDArray[np.float64]:
    """Map original screen pixel coordinates to leaked-image coordinates.

    For screenshot leaks this is the homography. For phone photos it is the
    pose homography, then the recorded radial lens distortion
    (:func:`~synthetic._optics.distort_photo_points`), then the messenger
    resize if any.

    Parameters
    ----------
    leak : Leak
        A leak from :func:`~synthetic.screenshot_leak` or
        :func:`~synthetic.phone_photo_leak`.
    points : array_like
        ``N x 2`` ``(x, y)`` screen coordinates.

    Returns
    -------
    ndarray
        ``N x 2`` coordinates in ``leak.image``.

    Raises
    ------
    watermark.OptionError
        If the leak has no homography.

    Examples
    --------
    >>> from synthetic import screenshot_leak
    >>> leak = screenshot_leak(np.zeros((64, 96, 3), np.uint8), "rot90", seed=0)
    >>> project_points(leak, [[0, 0], [95, 63]]).tolist()
    [[63.0, 0.0], [0.0, 95.0]]
    """
    if leak.homography is None:
        raise OptionError(f"leak {leak.channel!r} has no geometric map", name="leak", value=leak.channel)
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    p = leak.params
    if "camera_homography" not in p:
        return apply_h(leak.homography, pts)
    q = apply_h(np.asarray(p["camera_homography"]), pts)
    q = distort_photo_points(q, float(p["lens_k1"]), tuple(p["photo_size"]))
    return apply_h(np.asarray(p["resize_homography"]), q)

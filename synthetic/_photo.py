"""Phone-photo leaks: the stages of the simulator composed into one photograph of the monitor."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from watermark import OptionError

from ._codecs import encode_jpeg
from ._display import display_model
from ._geometry import apply_h, camera_pose_homography, screen_corners
from ._isp import isp_process
from ._leak import Leak, as_generator, check_image, plain
from ._messenger import PHOTO_MESSENGER_LONGEST, PHOTO_MESSENGER_QUALITY, messenger
from ._optics import LensPSF, distort_photo_points
from ._params import PHONE_LEVELS, PHONE_RANGES, ParameterDraw, PhoneRanges
from ._render import render_photo_radiance
from ._scene import scene_fields
from ._sensor import demosaic, sensor_capture


def phone_photo_leak(
    image: NDArray[np.uint8],
    *,
    level: str = "standard",
    seed: int | np.random.Generator,
    **overrides: Any,
) -> Leak:
    """Simulate a phone photograph of the monitor showing ``image``.

    The chain, each stage a documented function of a private module of
    :mod:`synthetic` (building blocks, not part of the stable API):

    1. **display** (:func:`display_model`): gamma to linear light, black
       level, RGB-stripe sub-pixels and black matrix as exact area
       integrals.
    2. **scene** (:func:`scene_fields`): bezel, background (wall, desk),
       glare, ambient reflection, in linear light.
    3. **camera pose** (:func:`camera_pose_homography`): pinhole projection
       from yaw/pitch/roll and a distance that gives the drawn coverage.
    4. **lens**: radial distortion (:func:`undistort_photo_points`, applied
       in the renderer :func:`render_photo_radiance`), defocus disk +
       optics Gaussian and hand-shake line (:class:`LensPSF`), applied
       before sampling.
    5. **sensor** (:func:`sensor_capture`, :func:`demosaic`): vignetting,
       colour filters, RGGB mosaic, shot and read noise, 12-bit ADC, EA
       demosaicing.
    6. **exposure and white balance** and 7. **ISP**
       (:func:`isp_process`): WB gains with error, colour correction,
       exposure gain, tone curve, chroma/luma denoise, unsharp mask; then
       JPEG (4:2:0). At ``"hard"`` the photo then goes through a messenger:
       longest side 1600 px (area), JPEG 70.

    Parameter ranges (uniform unless noted; "same" = as standard):

    ============================  ============================== ==================
    parameter                     standard                       hard
    ============================  ============================== ==================
    orientation                   landscape / portrait (50/50)   same
    photo_size                    4000x3000 (3000x4000 portrait) same
    focal_mm_equiv                [24, 28], f = mm/43.27 * diag  same
    off_axis_deg                  [0, 30]                        [0, 45]
    off_axis_azimuth_deg          [0, 360); yaw = a cos(az),     same
                                  pitch = a sin(az)
    roll_deg                      [-6, 6]                        [-12, 12]
    coverage (screen bbox/width)  [0.50, 0.80]                   [0.35, 0.50]
    position_x, position_y        [-0.6, 0.6] of the free room   same
    bezel_frac (of screen width)  [0.012, 0.03]                  same
    bezel_bottom_factor           [1, 2.5]                       same
    bezel_level                   [0.01, 0.04]                   same
    bezel_gloss                   [0.15, 0.6]                    same
    stand (p), stand_width_frac   0.8, [0.06, 0.15]              same
    display_gamma                 [2.1, 2.4]                     same
    display_black                 [0.0005, 0.003]                same
    fill_x, fill_y                [0.65, 0.85], [0.75, 0.92]     same
    subpixel_order                RGB 85% / BGR 15%              same
    background_level              [0.10, 0.35]                   [0.05, 0.40]
    background_gradient           [0.2, 0.7], any direction      same
    background_blotch             [0.05, 0.2]                    same
    background_objects            0-4 rectangles                 same
    desk (p), desk_level          0.6, [0.3, 0.9]                same
    glare_strength                [0, 0.25]                      [0.1, 0.5]
    glare_sigma_x, glare_sigma_y  [0.05, 0.2] x photo diagonal   same
    reflection_strength           [0.005, 0.03]                  [0.01, 0.06]
    lens_k1                       [-0.015, 0.015]                [-0.03, 0.03]
    optics_sigma_px               [0.2, 0.4]                     same
    defocus_radius_px             [0, 1]                         [0.5, 2.5]
    motion_length_px              [0, 2]                         [0, 5]
    motion_angle_deg              [0, 180)                       same
    vignetting                    [0, 0.2]                       [0.1, 0.4]
    crosstalk                     [0.05, 0.2]                    same
    channel_sensitivity R, B      [0.5, 0.7], [0.45, 0.65]       same
    electrons_at_white (log-u.)   [1500, 5000]                   [300, 1500]
    read_noise_e                  [1.5, 3]                       [2, 5]
    raw_white                     [0.55, 0.8]                    same
    demosaic                      "EA"                           same
    wb_error_r, wb_error_b        [0.96, 1.04]                   [0.92, 1.08]
    output_white                  [0.75, 0.95]                   [0.7, 1.05]
    tone_strength                 [0.1, 0.4]                     same
    luma_denoise_sigma            [3, 7]                         [6, 12]
    chroma_denoise_sigma          [1, 2.5]                       [2, 4]
    sharpen_amount                [0.3, 0.9]                     same
    sharpen_sigma                 [0.8, 1.5]                     same
    jpeg_quality (integer)        [85, 92]                       same
    messenger                     False                          True: 1600 px
                                                                 area, JPEG 70
    ============================  ============================== ==================

    Derived values are recorded too (``focal_px``, ``distance_px``,
    ``coverage_achieved``, ``screen_quad`` (pinhole, before resizing),
    ``screen_quad_leaked`` (the screen's outer corners in the leaked image,
    distortion and resize included), ``screen_px_per_photo_px``,
    ``psf_sigma_equiv_px``, ``color_matrix``, ``camera_homography``,
    ``resize_homography``, byte counts, the object lists) but cannot be
    overridden.

    Parameters
    ----------
    image : ndarray
        The stamped screen, ``HxWx3`` ``uint8`` RGB (any size; 1920x1080 is
        typical).
    level : {"standard", "hard"}
        Parameter ranges, see the table.
    seed : int or numpy.random.Generator
        All randomness (parameters and noise) comes from it.
    **overrides
        Fix any drawn parameter by its name in the table / in
        ``Leak.params`` (e.g. ``yaw_deg=20, pitch_deg=0, coverage=0.6,
        jpeg_quality=90, photo_size=(4000, 3000), orientation="landscape",
        messenger=False``). Every other parameter is drawn exactly as it
        would have been without the override.

    Returns
    -------
    Leak
        ``channel`` is ``"phone-standard"`` or ``"phone-hard"``.
        ``homography`` maps original screen pixel coordinates to leaked
        image coordinates *before lens distortion* (pinhole pose, then the
        messenger resize if any). The full map including distortion is
        :func:`project_points`; ``params`` records ``lens_k1``, the
        ``camera_homography`` (photo before resizing), ``photo_size`` and
        the ``resize_homography``.

    Raises
    ------
    watermark.OptionError
        (a ``ValueError``) For an unknown level or unknown override names,
        or an overridden ``orientation``, ``photo_size``,
        ``subpixel_order`` or ``demosaic`` that is not valid.
    watermark.ImageError
        (a ``ValueError``) If ``image`` is not ``HxWx3`` ``uint8`` of at
        least 16x16.
    watermark.OptionTypeError
        (a ``TypeError``) If ``image`` is not an array or ``seed`` is
        neither an int nor a Generator.

    Notes
    -----
    Cost: about 2-2.5 s and 0.6 GB peak for a 12 MP photo of a 1920x1080
    screen on two cores (the rendering is one sample per photo pixel with
    analytic area integration instead of supersampling; see
    :func:`render_photo_radiance`).
    Not modelled: rolling-shutter banding from PWM backlights, LCD
    viewing-angle colour shift, lateral chromatic aberration, HDR
    multi-frame merging, EXIF orientation.

    Examples
    --------
    >>> img = np.full((120, 200, 3), 255, np.uint8)
    >>> leak = phone_photo_leak(img, seed=1, photo_size=(400, 300))
    >>> leak.image.shape
    (300, 400, 3)
    """
    image = check_image(image)
    if level not in PHONE_RANGES:
        raise OptionError(f"level must be one of {PHONE_LEVELS}, got {level!r}", name="level", value=level)
    rng = as_generator(seed)
    rg = PHONE_RANGES[level]
    draw = ParameterDraw(rng, overrides)
    sh, sw = image.shape[:2]
    draw.record("level", level)
    draw.record("screen_size", [sw, sh])
    # The stages draw their parameters in this order; changing it changes every leak of a seed.
    pose = _draw_pose(draw, rg, (sw, sh))
    k1, psf = _draw_lens(draw, rg)
    radiance = _render(image, rng, draw, rg, pose, k1, psf)
    mosaic, sensor = _capture(radiance, rng, draw, rg)
    del radiance  # (12 MP photos: free each stage's buffers as soon as the next one has them)
    camera_rgb = demosaic(mosaic, str(draw("demosaic", "EA")))
    del mosaic
    photo = _develop(camera_rgb, draw, rg, sensor)
    del camera_rgb
    return _save_and_send(photo, draw, rg, level, pose, k1)


@dataclass(frozen=True)
class _Pose:
    """Where the camera put the screen (stage 3)."""

    screen_size: tuple[int, int]
    photo_size: tuple[int, int]
    homography: NDArray[np.float64]
    """Pinhole map screen pixels -> photo pixels, before lens distortion."""
    quad: NDArray[np.float64]
    """The projected screen corners, in photo pixels."""
    bezel: tuple[float, float, float, float]
    """The outer monitor rectangle, in screen coordinates."""


@dataclass(frozen=True)
class _Sensor:
    """What the ISP needs to know of the sensor (stage 5)."""

    color_matrix: NDArray[np.float64]
    raw_white: float
    bits: int


def _draw_pose(draw: ParameterDraw, rg: PhoneRanges, screen_size: tuple[int, int]) -> _Pose:
    """Stage 3 parameters: photo size and orientation, lens focal length, camera angles, framing, bezel."""
    sw, sh = screen_size
    orientation = draw("orientation", lambda r: "portrait" if r.random() < 0.5 else "landscape")
    if orientation not in ("landscape", "portrait"):
        raise OptionError(f"orientation must be 'landscape' or 'portrait', got {orientation!r}",
                          name="orientation", value=orientation)
    default_size = (4000, 3000) if orientation == "landscape" else (3000, 4000)
    pw, ph = (int(v) for v in draw("photo_size", list(default_size)))
    if pw < 64 or ph < 64:
        raise OptionError(f"photo_size must be at least 64x64, got {(pw, ph)}", name="photo_size", value=(pw, ph))
    photo_size = (pw, ph)
    draw.record("orientation", "portrait" if ph > pw else "landscape")
    focal_mm = draw.uniform("focal_mm_equiv", (24.0, 28.0))
    focal_px = focal_mm / 43.27 * math.hypot(pw, ph)
    draw.record("focal_px", focal_px)
    off_axis = draw.uniform("off_axis_deg", (0.0, rg["off_axis_max_deg"]))
    azimuth = draw.uniform("off_axis_azimuth_deg", (0.0, 360.0))
    yaw = float(draw("yaw_deg", off_axis * math.cos(math.radians(azimuth))))
    pitch = float(draw("pitch_deg", off_axis * math.sin(math.radians(azimuth))))
    roll = draw.uniform("roll_deg", rg["roll_deg"])
    coverage = draw.uniform("coverage", rg["coverage"])
    pos = (draw.uniform("position_x", (-0.6, 0.6)), draw.uniform("position_y", (-0.6, 0.6)))
    hom, pose_info = camera_pose_homography(
        (sw, sh), photo_size, focal_px=focal_px, yaw_deg=yaw, pitch_deg=pitch,
        roll_deg=roll, coverage=coverage, position=pos,
    )
    draw.params.update(plain(pose_info))
    bezel_frac = draw.uniform("bezel_frac", (0.012, 0.03))
    bezel_bottom = draw.uniform("bezel_bottom_factor", (1.0, 2.5))
    b = bezel_frac * sw
    bezel_rect = (-0.5 - b, -0.5 - b, sw - 0.5 + b, sh - 0.5 + b * bezel_bottom)
    return _Pose((sw, sh), photo_size, hom, np.asarray(pose_info["screen_quad"]), bezel_rect)


def _draw_lens(draw: ParameterDraw, rg: PhoneRanges) -> tuple[float, LensPSF]:
    """Stage 4 parameters: radial distortion ``k1`` and the point-spread function."""
    k1 = draw.uniform("lens_k1", rg["lens_k1"])
    psf = LensPSF(
        optics_sigma_px=draw.uniform("optics_sigma_px", (0.2, 0.4)),
        defocus_radius_px=draw.uniform("defocus_radius_px", rg["defocus_radius_px"]),
        motion_length_px=draw.uniform("motion_length_px", rg["motion_length_px"]),
        motion_angle_deg=draw.uniform("motion_angle_deg", (0.0, 180.0)),
    )
    draw.record("psf_sigma_equiv_px", psf.sigma_equiv)
    return k1, psf


def _render(
    image: NDArray[np.uint8], rng: np.random.Generator, draw: ParameterDraw, rg: PhoneRanges,
    pose: _Pose, k1: float, psf: LensPSF,
) -> NDArray[np.float32]:
    """Stages 1-4: the display, the scene around it, and the radiance the lens brings to the sensor."""
    step = 4
    (sw, sh), hom, photo_size = pose.screen_size, pose.homography, pose.photo_size
    centre = apply_h(hom, np.array([[(sw - 1) / 2, (sh - 1) / 2]]))[0]
    eps = 0.5  # Jacobian d(screen)/d(photo) at the screen centre
    jp = apply_h(np.linalg.inv(hom), centre + np.array([[0, 0], [eps, 0], [0, eps]]))
    jacobian = np.column_stack([(jp[1] - jp[0]) / eps, (jp[2] - jp[0]) / eps])
    draw.record("screen_px_per_photo_px", [np.hypot(*jacobian[0]), np.hypot(*jacobian[1])])
    display = display_model(
        image,
        gamma=draw.uniform("display_gamma", (2.1, 2.4)),
        black_level=draw.uniform("display_black", (0.0005, 0.003)),
        fill_x=draw.uniform("fill_x", (0.65, 0.85)),
        fill_y=draw.uniform("fill_y", (0.75, 0.92)),
        subpixel_order=draw("subpixel_order", lambda r: "BGR" if r.random() < 0.15 else "RGB"),
        jacobian=jacobian,
        psf=psf,
    )
    background, monitor_add, bezel_level, bezel_gloss = scene_fields(
        rng, draw, rg, photo_size, pose.quad, (sw, sh), pose.bezel,
        lambda pts: distort_photo_points(apply_h(hom, pts), k1, photo_size), step,
    )
    return render_photo_radiance(
        display, hom, k1, photo_size, (sw, sh), pose.bezel, background, monitor_add,
        bezel_level, bezel_gloss, psf, step,
    )


def _capture(
    radiance: NDArray[np.float32], rng: np.random.Generator, draw: ParameterDraw, rg: PhoneRanges
) -> tuple[NDArray[np.uint16], _Sensor]:
    """Stage 5a: colour filters with crosstalk, then the sensor's mosaic with noise."""
    crosstalk = draw.uniform("crosstalk", (0.05, 0.2))
    sens = np.array(
        draw("channel_sensitivity", lambda r: [r.uniform(0.5, 0.7), 1.0, r.uniform(0.45, 0.65)])
    )
    mix = np.full((3, 3), crosstalk / 2) + np.eye(3) * (1 - 1.5 * crosstalk)
    color_matrix = sens[:, None] * mix
    draw.record("color_matrix", color_matrix)
    raw_white = draw.uniform("raw_white", (0.55, 0.8))
    bits = 12
    mosaic = sensor_capture(
        radiance, rng,
        color_matrix=color_matrix,
        vignetting=draw.uniform("vignetting", rg["vignetting"]),
        electrons_at_white=draw.log_uniform("electrons_at_white", rg["electrons_at_white"]),
        read_noise_e=draw.uniform("read_noise_e", rg["read_noise_e"]),
        raw_white=raw_white,
        bits=bits,
    )
    return mosaic, _Sensor(color_matrix, raw_white, bits)


def _develop(
    camera_rgb: NDArray[np.uint16], draw: ParameterDraw, rg: PhoneRanges, sensor: _Sensor
) -> NDArray[np.uint8]:
    """Stages 6-7: white balance, exposure, colour, tone, denoise and sharpening."""
    e = rg["wb_error"]
    return isp_process(
        camera_rgb,
        bits=sensor.bits,
        raw_white=sensor.raw_white,
        color_matrix=sensor.color_matrix,
        wb_error=(
            draw.uniform("wb_error_r", (1 - e, 1 + e)),
            draw.uniform("wb_error_b", (1 - e, 1 + e)),
        ),
        output_white=draw.uniform("output_white", rg["output_white"]),
        tone_strength=draw.uniform("tone_strength", (0.1, 0.4)),
        luma_denoise_sigma=draw.uniform("luma_denoise_sigma", rg["luma_denoise_sigma"]),
        chroma_denoise_sigma=draw.uniform("chroma_denoise_sigma", rg["chroma_denoise_sigma"]),
        sharpen_amount=draw.uniform("sharpen_amount", (0.3, 0.9)),
        sharpen_sigma=draw.uniform("sharpen_sigma", (0.8, 1.5)),
    )


def _save_and_send(
    photo: NDArray[np.uint8], draw: ParameterDraw, rg: PhoneRanges, level: str, pose: _Pose, k1: float
) -> Leak:
    """The phone's JPEG, the messenger if any, and the leak with its full geometry recorded."""
    lo_q, hi_q = rg["jpeg_quality"]
    quality = int(draw("jpeg_quality", lambda r: int(r.integers(lo_q, hi_q + 1))))
    photo, nbytes = encode_jpeg(photo, quality, "420")
    draw.record("jpeg_bytes", nbytes)
    resize_h = np.eye(3)
    if bool(draw("messenger", rg["messenger"])):
        mp: dict[str, Any] = {}
        photo, resize_h = messenger(photo, mp, longest=PHOTO_MESSENGER_LONGEST, quality=PHOTO_MESSENGER_QUALITY)
        draw.params.update(plain(mp))
    draw.check_unused()
    hom = pose.homography
    final_h = resize_h @ hom
    draw.record("camera_homography", hom)
    draw.record("resize_homography", resize_h)
    draw.record("output_size", [photo.shape[1], photo.shape[0]])
    corners = screen_corners(*pose.screen_size)
    leaked_quad = apply_h(resize_h, distort_photo_points(apply_h(hom, corners), k1, pose.photo_size))
    draw.record("screen_quad_leaked", leaked_quad)  # outer corners in the leaked image
    return Leak(
        image=np.ascontiguousarray(photo),
        homography=final_h / final_h[2, 2],
        channel=f"phone-{level}",
        params=plain(draw.params),
    )

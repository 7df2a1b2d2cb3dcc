"""Stage 2 - the scene around and on the screen: wall, desk, bezel, stand, glare, reflection."""

from __future__ import annotations

import math
from typing import Callable

import cv2
import numpy as np
from numpy.typing import NDArray

from ._params import ParameterDraw, PhoneRanges


def smooth_noise(
    rng: np.random.Generator, shape: tuple[int, int], sigma: float
) -> NDArray[np.float32]:
    """Unit-variance Gaussian noise with correlation length ``sigma`` px.

    Large ``sigma`` is generated on a grid ``sigma / 2`` times coarser and
    upsampled (bicubic), which keeps the cost independent of ``sigma``.
    """
    h, w = shape
    f = max(1.0, sigma / 2)
    small = (max(2, int(math.ceil(h / f)) + 2), max(2, int(math.ceil(w / f)) + 2))
    n = rng.standard_normal(small).astype(np.float32)
    n = cv2.GaussianBlur(n, (0, 0), sigma / f)
    if f > 1:
        n = cv2.resize(n, (int(small[1] * f), int(small[0] * f)), interpolation=cv2.INTER_CUBIC)
    n = np.ascontiguousarray(n[:h, :w])
    return (n - float(n.mean())) / max(float(n.std()), 1e-6)


def scene_fields(
    rng: np.random.Generator,
    draw: ParameterDraw,
    ranges: PhoneRanges,
    photo_size: tuple[int, int],
    screen_quad: NDArray[np.float64],
    screen_size: tuple[int, int],
    bezel: tuple[float, float, float, float],
    to_photo: Callable[[NDArray[np.float64]], NDArray[np.float64]],
    step: int,
) -> tuple[NDArray[np.float32], NDArray[np.float32], float, float]:
    """Stage 2 - scene: background, bezel, glare and ambient reflection.

    All in relative linear radiance (screen white = 1), rendered on a grid
    ``step`` times coarser than the photo (everything here is smooth) and
    upsampled by the renderer.

    * **Background** (wall/desk behind the monitor): a base colour at
      ``background_level`` (an office wall is 0.1-0.4 of a 250 cd/m^2
      monitor white), a lighting gradient in a random direction, smooth
      blotches, fine texture, and with probability 0.6 a desk top below
      the monitor (a darker, warmer region with a stretched wood-like
      grain), and 0-4 pieces of wall clutter (pictures, windows, shelves:
      soft-edged, slightly rotated rectangles of random brightness and
      colour) that a screen locator must not mistake for the monitor. The
      background is not on the screen plane; it is painted in photo
      coordinates directly (no parallax is needed for a tracer benchmark).
    * **Stand**: with probability 0.8 a dark neck below the bezel (drawn in
      the screen plane, mapped by ``to_photo``).
    * **Bezel**: dark plastic at ``bezel_level`` (0.01-0.04); it reflects
      glare and room at ``bezel_gloss`` (0.15-0.6) of the panel's strength
      (panels are glossier than bezels); its extent is set by the caller.
    * **Glare**: the reflection of a lamp or window on the panel - an
      elliptical Gaussian blob of peak ``glare_strength`` and size 5-20% of
      the photo diagonal, added in linear light on the monitor (screen and
      bezel) only.
    * **Ambient reflection**: the room mirrored faintly by the anti-glare
      coating - a blurred random scene (soft blobs, one or two dark
      silhouettes / bright rectangles) scaled to ``reflection_strength``,
      added on the monitor only.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of textures and object placement.
    draw : ParameterDraw
        Records (and lets callers override) the named parameters.
    ranges : PhoneRanges
        The level's ranges (``background_level``, ``glare_strength``,
        ``reflection_strength``).
    photo_size, screen_size : (width, height)
        Sizes in pixels.
    screen_quad : ndarray
        Projected screen corners (photo pixels), to place glare and desk.
    bezel : (x0, y0, x1, y1)
        Outer monitor rectangle in screen coordinates (for the stand).
    to_photo : callable
        Screen-plane coordinates -> photo coordinates (pose + distortion).
    step : int
        Coarse grid step in photo pixels.

    Returns
    -------
    background : ndarray
        Coarse ``h x w x 3`` radiance of everything outside the monitor.
    monitor_add : ndarray
        Coarse ``h x w x 3`` radiance added on the whole monitor (glare +
        reflection).
    bezel_level : float
        Radiance of the bezel plastic.
    bezel_gloss : float
        Fraction of ``monitor_add`` the bezel reflects.
    """
    grid = _CoarseGrid(photo_size, step)
    bg, level = _background(rng, draw, ranges, grid)
    _wall_clutter(rng, draw, grid, bg, level)
    bg = _desk(rng, draw, grid, bg, level, screen_quad)
    bezel_level, bezel_gloss = _bezel_and_stand(draw, grid, bg, screen_size, bezel, to_photo)
    bg = np.maximum(bg, 0).astype(np.float32)
    add = _glare(draw, ranges, grid, screen_quad)
    add = add + _reflection(rng, draw, ranges, grid)
    return bg, add.astype(np.float32), bezel_level, bezel_gloss


class _CoarseGrid:
    """The photo sampled every ``step`` pixels at cell centres, with one cell of padding on every side.

    ``xx`` and ``yy`` are the cell centres as fractions of the photo width and height.
    """

    def __init__(self, photo_size: tuple[int, int], step: int) -> None:
        pw, ph = photo_size
        self.pw, self.ph, self.step = pw, ph, step
        self.gw, self.gh = pw // step + 3, ph // step + 3
        gx = (np.arange(self.gw, dtype=np.float32) - 1 + 0.5) * step - 0.5
        gy = (np.arange(self.gh, dtype=np.float32) - 1 + 0.5) * step - 0.5
        self.xx, self.yy = np.meshgrid(gx / pw, gy / ph)

    @property
    def shape(self) -> tuple[int, int]:
        return self.gh, self.gw

    def to_grid(self, pts: NDArray[np.float64]) -> NDArray[np.int32]:
        """Photo coords -> coarse grid coords (k = (p + 0.5) / step + 0.5), in 1/16 px."""
        return np.rint(((np.asarray(pts) + 0.5) / self.step + 0.5) * 16).astype(np.int32)

    def paint(
        self, img: NDArray[np.float32], poly: NDArray[np.float64], color: NDArray[np.float32], soft: float
    ) -> None:
        """Paint the polygon ``poly`` (photo coords) over ``img`` in ``color``, edges blurred by ``soft`` cells."""
        m = np.zeros(self.shape, np.uint8)
        cv2.fillPoly(m, [self.to_grid(poly)], 255, lineType=cv2.LINE_AA, shift=4)
        a = m.astype(np.float32) / 255
        if soft > 0:
            a = cv2.GaussianBlur(a, (0, 0), soft)
        img *= 1 - a[..., None]
        img += a[..., None] * color


def _background(
    rng: np.random.Generator, draw: ParameterDraw, ranges: PhoneRanges, grid: _CoarseGrid
) -> tuple[NDArray[np.float32], float]:
    """The wall: base level, tint, lighting gradient, blotches and texture; also return the level."""
    xx, yy, shape = grid.xx, grid.yy, grid.shape
    level = draw.uniform("background_level", ranges["background_level"])
    tint = np.asarray(
        draw("background_tint", lambda r: r.normal([0.04, 0.0, -0.05], 0.05, 3)), dtype=np.float32
    )
    grad_angle = draw.uniform("background_gradient_angle_deg", (0.0, 360.0))
    grad_amp = draw.uniform("background_gradient", (0.2, 0.7))
    blotch = draw.uniform("background_blotch", (0.05, 0.2))
    ga = math.radians(grad_angle)
    ramp = ((xx - 0.5) * math.cos(ga) + (yy - 0.5) * math.sin(ga)).astype(np.float32)
    blotches = smooth_noise(rng, shape, max(grid.gw, grid.gh) / 12)
    base = level * (1 + grad_amp * ramp) * (1 + blotch * blotches)
    texture = 1 + 0.04 * smooth_noise(rng, shape, 0.8)
    bg = base[..., None] * (1 + tint)[None, None, :] * texture[..., None]
    return bg, level


def _wall_clutter(
    rng: np.random.Generator, draw: ParameterDraw, grid: _CoarseGrid, bg: NDArray[np.float32], level: float
) -> None:
    """Paint 0-4 pictures, windows, shelves or a second monitor on the wall ``bg``."""
    pw, ph, step = grid.pw, grid.ph, grid.step
    n_obj = int(draw("background_objects", lambda r: int(r.integers(0, 5))))
    objects = []
    for _ in range(n_obj):
        cx, cy = rng.uniform(0, 1, 2) * (pw, ph)
        size = rng.uniform(0.04, 0.2) * math.hypot(pw, ph)
        aspect = math.exp(rng.uniform(-0.7, 0.7))
        hw, hh = size * math.sqrt(aspect) / 2, size / math.sqrt(aspect) / 2
        ang = rng.uniform(-0.1, 0.1)
        ca, sa = math.cos(ang), math.sin(ang)
        rot = np.array([[ca, sa], [-sa, ca]])
        corners = np.array([[-hw, -hh], [hw, -hh], [hw, hh], [-hw, hh]]) @ rot
        colour = (level * rng.uniform(0.2, 2.5) * np.exp(rng.normal(0, 0.12, 3))).astype(np.float32)
        soft = float(rng.uniform(0.3, 2.0))
        grid.paint(bg, corners + (cx, cy), colour, soft)
        objects.append(
            {"quad": corners + (cx, cy), "radiance": colour, "edge_blur_px": soft * step}
        )
    draw.record("background_object_list", objects)


def _desk(
    rng: np.random.Generator, draw: ParameterDraw, grid: _CoarseGrid, bg: NDArray[np.float32],
    level: float, screen_quad: NDArray[np.float64],
) -> NDArray[np.float32]:
    """With probability 0.6, a desk top with a wood-like grain below the monitor."""
    xx, yy, ph, step = grid.xx, grid.yy, grid.ph, grid.step
    has_desk = bool(draw("desk", lambda r: r.random() < 0.6))
    screen_bottom = float(np.max(screen_quad[:, 1]))
    desk_y = draw.uniform("desk_edge_y_frac", (min(0.99, screen_bottom / ph + 0.04), 1.05))
    desk_tilt = draw.uniform("desk_edge_tilt", (-0.05, 0.05))
    desk_level = draw.uniform("desk_level", (0.3, 0.9))
    if not has_desk:
        return bg
    edge = yy - (desk_y + desk_tilt * (xx - 0.5))
    soft = np.clip(edge * ph / (2 * step) + 0.5, 0, 1).astype(np.float32)
    grain = smooth_noise(rng, grid.shape, 1.0)
    grain = cv2.GaussianBlur(grain, (0, 0), sigmaX=12.0, sigmaY=0.7)
    grain = grain / max(float(grain.std()), 1e-6)
    wood = np.array([1.15, 0.95, 0.75], np.float32)
    desk = level * desk_level * (1 + 0.12 * grain)[..., None] * wood
    result: NDArray[np.float32] = bg * (1 - soft[..., None]) + desk * soft[..., None]
    return result


def _bezel_and_stand(
    draw: ParameterDraw, grid: _CoarseGrid, bg: NDArray[np.float32], screen_size: tuple[int, int],
    bezel: tuple[float, float, float, float], to_photo: Callable[[NDArray[np.float64]], NDArray[np.float64]],
) -> tuple[float, float]:
    """Draw the bezel's level and gloss; with probability 0.8 paint the monitor's stand on ``bg``."""
    bezel_level = draw.uniform("bezel_level", (0.01, 0.04))
    bezel_gloss = draw.uniform("bezel_gloss", (0.15, 0.6))
    sw, sh = screen_size
    neck = draw.uniform("stand_width_frac", (0.06, 0.15)) * sw
    if bool(draw("stand", lambda r: r.random() < 0.8)):
        top = bezel[3] - 2.0
        left, right, bottom = sw / 2 - neck / 2, sw / 2 + neck / 2, top + 0.4 * sh
        poly = np.array([[left, top], [right, top], [right, bottom], [left, bottom]])
        t = np.linspace(0, 1, 32)[:, None]
        edge = np.concatenate([poly[i] + t * (poly[(i + 1) % 4] - poly[i]) for i in range(4)])
        grid.paint(bg, to_photo(edge), np.full(3, bezel_level * 1.5, np.float32), 0.5)
    return bezel_level, bezel_gloss


def _glare(
    draw: ParameterDraw, ranges: PhoneRanges, grid: _CoarseGrid, screen_quad: NDArray[np.float64]
) -> NDArray[np.float32]:
    """A lamp's or window's reflection on the panel: an elliptical Gaussian blob in linear light."""
    pw, ph = grid.pw, grid.ph
    qmin, qmax = screen_quad.min(0), screen_quad.max(0)
    g_strength = draw.uniform("glare_strength", ranges["glare_strength"])
    g_cx = draw.uniform("glare_x", (qmin[0], qmax[0]))
    g_cy = draw.uniform("glare_y", (qmin[1], qmax[1]))
    diag = math.hypot(pw, ph)
    g_sx = draw.uniform("glare_sigma_x", (0.05 * diag, 0.2 * diag))
    g_sy = draw.uniform("glare_sigma_y", (0.05 * diag, 0.2 * diag))
    g_tint = np.asarray(
        draw("glare_tint", lambda r: r.normal([0.03, 0.0, -0.03], 0.03, 3)), dtype=np.float32
    )
    px, py = grid.xx * pw, grid.yy * ph
    glare = g_strength * np.exp(-0.5 * (((px - g_cx) / g_sx) ** 2 + ((py - g_cy) / g_sy) ** 2))
    add: NDArray[np.float32] = glare[..., None].astype(np.float32) * (1 + g_tint)
    return add


def _reflection(
    rng: np.random.Generator, draw: ParameterDraw, ranges: PhoneRanges, grid: _CoarseGrid
) -> NDArray[np.float32]:
    """The room mirrored faintly by the anti-glare coating: a blurred scene of soft shapes."""
    xx, yy, gw, gh = grid.xx, grid.yy, grid.gw, grid.gh
    r_strength = draw.uniform("reflection_strength", ranges["reflection_strength"])
    refl = 0.5 + 0.5 * smooth_noise(rng, (gh, gw), max(gw, gh) / 10)
    n_rect = int(draw("reflection_shapes", lambda r: int(r.integers(1, 4))))
    shapes = []
    for _ in range(n_rect):  # a few soft shapes: windows (bright), people (dark)
        cx, cy = rng.uniform(0, 1, 2)
        hw, hh = rng.uniform(0.05, 0.25, 2)
        sign = 1.0 if rng.random() < 0.5 else -0.8
        shapes.append({"centre_frac": [cx, cy], "half_size_frac": [hw, hh], "sign": sign})
        inside = ((np.abs(xx - cx) < hw) & (np.abs(yy - cy) < hh)).astype(np.float32)
        refl = refl + sign * inside
    small = cv2.resize(refl.astype(np.float32), (gw // 8, gh // 8), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), max(gw, gh) / 320)
    refl = cv2.resize(small, (gw, gh), interpolation=cv2.INTER_CUBIC)
    refl = np.clip(refl, 0, None)
    refl = refl / max(float(refl.mean()), 1e-6)
    draw.record("reflection_shape_list", shapes)
    term: NDArray[np.float32] = (r_strength * refl)[..., None] * np.array([1.0, 1.0, 1.05], np.float32)
    return term

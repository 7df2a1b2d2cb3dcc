"""Display-resolution hypotheses: a located outline mapped onto the native resolutions it can be."""

from __future__ import annotations

import cv2
import numpy as np

from tracer._geometry import DISPLAY_RESOLUTIONS, MIN_PHOTO_PX_PER_SCREEN_PX, Geometry, display_geometries


def _quad(width: float, height: float, tilt: float = 0.0) -> np.ndarray:
    """A screen outline seen a little from the side: the right edge shorter by ``tilt``."""
    return np.array([[100, 200], [100 + width, 200 + tilt], [100 + width, 200 + height - tilt], [100, 200 + height]], np.float64)


def test_sixteen_by_nine_outline_maps_onto_sixteen_by_nine_panels_first():
    geoms = display_geometries(Geometry("screen-quad", None, 1.0, None, True), _quad(900, 506, tilt=20))
    names = [g.name for g in geoms]
    assert names and all(n.startswith("screen-quad@") for n in names)
    assert "screen-quad@1366x768" in names and "screen-quad@1920x1080" in names
    first = names[0].split("@")[1]
    w, h = (int(v) for v in first.split("x"))
    assert abs(w / h - 16 / 9) < 0.05
    # The outline's corners land on the panel's pixel edges.
    g = next(g for g in geoms if g.name.endswith("1366x768"))
    mapped = cv2.perspectiveTransform(g.quad.reshape(-1, 1, 2), g.to_screen).reshape(-1, 2)
    assert np.allclose(mapped, [[-0.5, -0.5], [1365.5, -0.5], [1365.5, 767.5], [-0.5, 767.5]], atol=1e-6)


def test_resolutions_too_fine_for_the_capture_are_not_tried():
    small = display_geometries(Geometry("q", None, 1.0, None, True), _quad(400, 225))
    widths = {int(g.name.split("@")[1].split("x")[0]) for g in small}
    assert widths and max(widths) <= 400 / MIN_PHOTO_PX_PER_SCREEN_PX
    assert len(small) < len(DISPLAY_RESOLUTIONS)

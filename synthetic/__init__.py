"""Invented EMR screens and the leak-channel simulator: the project's data module.

The watermark has to survive on mostly-white, text-heavy record screens that
leak as screenshots or as phone photos of the monitor. This package makes
both, in code, from invented data (no real patients or staff, no binary
files): tests, examples and benchmarks draw their images from it.

* **Screens**: :func:`render_screen` (alias :func:`emr_screen`) draws one of
  :data:`SCREEN_KINDS` at any size, a pure function of ``(kind, size,
  seed)``; :func:`patient` is the invented patient of a seed, and
  :mod:`synthetic.records` holds the pieces records are made of.
  :func:`natural_images` returns a few photographs for comparison.
* **Leaks**: :func:`screenshot_leak` sends an image through one of
  :data:`SCREENSHOT_CHANNELS` (real codecs, resamplers, crops, edits);
  :func:`phone_photo_leak` simulates a phone photo of the monitor through a
  physically based chain (display, scene, camera pose, lens, sensor, ISP,
  JPEG, messenger). Each returns a :class:`Leak` holding the leaked image,
  every parameter drawn and the exact geometry, which
  :func:`project_points` applies to screen coordinates.
  :func:`contact_sheet` draws leaks side by side.
* **Hostile files**: :mod:`synthetic.hostile` makes damaged and adversarial
  image files (mutated JPEG, PNG, WebP, TIFF, GIF, HEIC; claimed sizes,
  decompression bombs) for the loader's and the tracer's fuzz tests.

Randomness comes only from a :class:`numpy.random.Generator` (passed in, or
created from an ``int`` seed), so a seed reproduces a screen or a leak bit
for bit on the same machine and library versions. Bad arguments raise
:class:`watermark.OptionError` (a ``ValueError``) naming the option.

Conventions: images are ``HxWx3`` ``uint8`` RGB. Pixel coordinates are
``(x, y)`` = (column, row) with the centre of pixel ``(i, j)`` at the
integer point ``(i, j)``; a homography maps homogeneous coordinates of the
original (stamped) image to the leaked image.

Examples
--------
>>> import numpy as np
>>> import synthetic
>>> screen = synthetic.emr_screen("notes", size=(640, 400), seed=2)
>>> screen.shape, screen.dtype.name
((400, 640, 3), 'uint8')
>>> synthetic.patient(2)["name"] == synthetic.patient(2)["name"]
True
>>> leak = synthetic.screenshot_leak(screen, "down0.5", seed=0)
>>> leak.image.shape
(200, 320, 3)
>>> synthetic.project_points(leak, [[-0.5, -0.5], [639.5, 399.5]]).tolist()
[[-0.5, -0.5], [319.5, 199.5]]
"""

from __future__ import annotations

from . import hostile
from . import records
from . import scenes_b
from ._contact_sheet import contact_sheet
from ._geometry import project_points
from ._leak import Leak
from ._params import PHONE_LEVELS
from ._patients import PatientRecord, patient
from ._photo import phone_photo_leak
from ._screens import MIN_SCREEN_SIZE, SCREEN_KINDS, natural_images, render_screen, screen_set
from ._screenshot import SCREENSHOT_CHANNELS, screenshot_leak

emr_screen = render_screen
"""Alias of :func:`render_screen`: one invented EMR viewer screen."""

__all__ = [
    "Leak",
    "MIN_SCREEN_SIZE",
    "PHONE_LEVELS",
    "PatientRecord",
    "SCREENSHOT_CHANNELS",
    "SCREEN_KINDS",
    "contact_sheet",
    "emr_screen",
    "hostile",
    "natural_images",
    "patient",
    "phone_photo_leak",
    "project_points",
    "records",
    "render_screen",
    "scenes_b",
    "screen_set",
    "screenshot_leak",
]

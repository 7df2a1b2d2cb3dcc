"""
Stamp a screen and look at the difference
=========================================

A viewer stamps every record screen it renders with the viewer's ID and the
minute, under the hospital's key. Here an invented EMR screen from
:mod:`synthetic` is stamped with :func:`watermark.embed`, and the
difference between the two images is shown, amplified: a keyed pattern of a
level or two, tiled every 256 pixels, darken-only on pure white (a ``+``
excursion there would clip).

The same mark can come from a browser layer instead:
:func:`watermark.overlay` returns an RGBA image composited over the page.
"""

from datetime import datetime, timezone

import matplotlib.pyplot as plt
import numpy as np

import synthetic
import watermark

# A fixed key and screen, so the figures are the same at every build. A real
# deployment draws its key once with ``watermark.Key.generate()``.
key = watermark.Key(bytes(range(32)))
screen = synthetic.emr_screen("labs_chart", size=(960, 540), seed=7)
payload = watermark.Payload(viewer_id=4821, timestamp=datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc))

marked = watermark.embed(screen, payload, key)

# %%
# The screen before and after
# ---------------------------
# Side by side the two are the same to the eye; the difference is a few
# levels at most.

difference = marked.astype(np.int16) - screen.astype(np.int16)
luma_difference = watermark.decoding.luma(marked) - watermark.decoding.luma(screen)
print(f"difference: RMS {np.sqrt(np.mean(luma_difference**2)):.2f} levels of luma, "
      f"largest {np.abs(difference).max()} levels in one channel")
mse = np.mean(difference.astype(np.float64) ** 2)
print(f"PSNR {10 * np.log10(255**2 / mse):.1f} dB")

fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), layout="constrained")
axes[0].imshow(screen)
axes[0].set_title("rendered screen")
axes[1].imshow(marked)
axes[1].set_title(f"stamped: viewer {payload.viewer_id}, {payload.timestamp:%Y-%m-%d %H:%M} UTC")
for ax in axes:
    ax.set_axis_off()
plt.show()

# %%
# The difference image
# --------------------
# Amplified to +-4 levels (grey is zero). The pattern is periodic: one
# 256-pixel tile carries the whole codeword, and the tracer averages every
# tile it sees. Text strokes carry less of it (the embedder scales the
# pattern down on dark pixels) and pure white only its negative half.

fig, ax = plt.subplots(figsize=(10, 5.6), layout="constrained")
image = ax.imshow(luma_difference, cmap="RdBu_r", vmin=-4, vmax=4)
for x in range(0, screen.shape[1], watermark.decoding.TILE):
    ax.axvline(x - 0.5, color="k", lw=0.5, alpha=0.4)
for y in range(0, screen.shape[0], watermark.decoding.TILE):
    ax.axhline(y - 0.5, color="k", lw=0.5, alpha=0.4)
ax.set_title("stamped minus rendered (luma), tile grid in black")
ax.set_axis_off()
fig.colorbar(image, ax=ax, shrink=0.7, label="levels")
plt.show()

# %%
# The browser layer
# -----------------
# :func:`watermark.overlay` gives the same pattern as one grey RGBA layer of
# constant alpha: composited over white, grey or black it adds the whole
# pattern, both signs, so a dark theme carries the mark as well as a light
# one.

layer = watermark.overlay(payload, key, size=(512, 256))
alpha = layer[:, :, 3:4] / 255.0
backgrounds = {"white page": 255, "grey panel": 128, "dark theme": 24}
fig, axes = plt.subplots(1, 3, figsize=(10, 2.2), layout="constrained")
for ax, (name, level) in zip(axes, backgrounds.items()):
    composited = (1 - alpha) * level + alpha * layer[:, :, :3]
    ax.imshow(composited[:, :, 0] - composited[:, :, 0].mean(), cmap="RdBu_r", vmin=-4, vmax=4)
    ax.set_title(f"over a {name} ({level}), mean removed", fontsize=9)
    ax.set_axis_off()
plt.show()

"""
Trace a phone photo, step by step
=================================

:func:`tracer.trace` takes any leaked image and returns a
:class:`tracer.TraceResult`. This example stamps a screen, simulates a phone
photo of the monitor showing it (:func:`synthetic.phone_photo_leak` at its
``"hard"`` level: a steep pose, glare, strong denoising, a messenger's
recompression), traces the photo, and
then shows the stages the tracer went through, from what the result carries
and from the public low-level face :mod:`watermark.decoding`:

1. the screen outline located in the photo (``TraceResult.quad``),
2. the screen rectified back to screen pixels (``TraceResult.rectified``),
3. the content suppressed and all tiles folded into one
   (:func:`watermark.decoding.suppress_content`,
   :func:`watermark.decoding.fold_tiles`),
4. the tile-phase peak in the folded tile, in the eight orientations tried,
5. each channel bit's soft value (``TraceResult.bit_snr``), against the
   codeword that was stamped.

The photo is smaller than a real one (1600x1200, a 960x540 screen) so that
the example runs in a second or two when the documentation is built.
"""

from datetime import datetime, timezone

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Polygon

import synthetic
import tracer
import watermark
from watermark import decoding

key = watermark.Key(bytes(range(32)))
payload = watermark.Payload(viewer_id=4821, timestamp=datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc))
screen = synthetic.emr_screen("notes", size=(960, 540), seed=3)
marked = watermark.embed(screen, payload, key)

# The simulator's parameters are drawn from the seed; the results below
# depend on it.
leak = synthetic.phone_photo_leak(marked, level="hard", seed=3, photo_size=(1600, 1200))

result = tracer.trace(leak.image, key)
print("found:", result.found)
print("payload:", result.payload)
print(f"false-attribution probability at most {result.false_attribution_probability:.1e} "
      f"({result.parameters['mac_checks']} keyed checks)")
print(f"traced in {result.timings['total_s']:.2f} s")

# %%
# 1. The located screen
# ---------------------
# The tracer's geometry search starts from screen outlines (here the
# monitor's bezel against the wall). In blue, the outline it decoded in; in
# dashed orange, where the simulator actually put the screen's corners.

h, w = screen.shape[:2]
corners = np.array([[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]])
true_quad = synthetic.project_points(leak, corners)

fig, ax = plt.subplots(figsize=(8, 6), layout="constrained")
ax.imshow(leak.image)
ax.add_patch(Polygon(result.quad, closed=True, fill=False, ec="tab:blue", lw=2, label="located"))
ax.add_patch(Polygon(true_quad, closed=True, fill=False, ec="tab:orange", lw=1.5, ls="--", label="true"))
ax.legend(loc="lower right")
ax.set_title(f"the leaked photo ({leak.image.shape[1]}x{leak.image.shape[0]}), {leak.params['off_axis_deg']:.0f} deg off axis")
ax.set_axis_off()
plt.show()

# %%
# 2. The rectified screen
# -----------------------
# The outline's perspective is undone and the scale per axis is measured
# from the carrier's own spectral comb (the tiled pattern puts power on a
# lattice of frequencies), so the mark's tiles come back to 256 pixels.

fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), layout="constrained")
axes[0].imshow(result.rectified)
axes[0].set_title(f"rectified from the photo, {result.rectified.shape[1]}x{result.rectified.shape[0]}")
axes[1].imshow(marked)
axes[1].set_title("the stamped screen, for comparison")
for ax in axes:
    ax.set_axis_off()
plt.show()

# %%
# 3. Content suppressed, tiles folded
# -----------------------------------
# Text strokes and edges would swamp a pattern of one or two levels, so they
# get weight zero, the smooth background is estimated from the rest and the
# residual is taken against it. Every 256-pixel tile is then averaged into
# one, weighted: the mark adds up, the rest averages away.

residual, weight = decoding.suppress_content(decoding.luma(result.rectified))
folded, folded_weight = decoding.fold_tiles(residual, weight)

fig, axes = plt.subplots(1, 3, figsize=(11, 3.4), layout="constrained")
axes[0].imshow(residual, cmap="gray", vmin=-4, vmax=4)
axes[0].set_title("residual (content suppressed)")
axes[1].imshow(weight, cmap="gray", vmin=0)
axes[1].set_title("weight (text and edges are 0)")
axes[2].imshow(folded, cmap="RdBu_r", vmin=-3, vmax=3)
axes[2].set_title("folded tile, 256x256")
for ax in axes:
    ax.set_axis_off()
plt.show()

# %%
# 4. The tile phase
# -----------------
# Where the tile starts in the photo is unknown. For every cyclic shift (on
# the 4-pixel grid of the wavelet band) the statistic is the summed energy
# of all channel bits' keyed correlations: large at the true phase whatever
# the payload, noise elsewhere. It is shown here as a robust z-score, in the
# eight quarter-turn and mirror orientations the tracer tries (a photo may
# be rotated or mirrored).

orientations = [(turns, mirrored) for mirrored in (False, True) for turns in range(4)]
spectra = decoding.oriented_band_spectra(folded, orientations)
maps = []
for spectrum in spectra:
    corr = decoding.spectrum_correlations(spectrum, key).reshape(decoding.CHANNEL_BITS, -1)
    energy = np.einsum("jt,jt->t", corr, corr).reshape(decoding.BAND, decoding.BAND)
    median = np.median(energy)
    maps.append((energy - median) / (1.4826 * np.median(np.abs(energy - median))))
best = int(np.argmax([m.max() for m in maps]))

fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained", width_ratios=[1, 1.3])
image = axes[0].imshow(maps[best], cmap="magma")
ty, tx = np.unravel_index(np.argmax(maps[best]), maps[best].shape)
axes[0].set_title(f"best orientation: peak z = {maps[best].max():.1f} at ({4 * ty}, {4 * tx}) px")
axes[0].set_xlabel("tile shift x / 4 px")
axes[0].set_ylabel("tile shift y / 4 px")
fig.colorbar(image, ax=axes[0], shrink=0.8, label="robust z")
labels = [f"{90 * t}{' m' if m else ''}" for t, m in orientations]
axes[1].bar(labels, [m.max() for m in maps], color=["tab:blue" if i == best else "0.6" for i in range(8)])
axes[1].set_xlabel("orientation (quarter turns in degrees; m: mirrored)")
axes[1].set_ylabel("largest phase z-score")
axes[1].set_title("the eight orientations")
plt.show()

# %%
# 5. Per-bit confidence
# ---------------------
# At the peak each of the 256 channel bits has a soft value (in noise
# standard deviations). Multiplied by the sign of the bit that was stamped,
# a positive value is a bit read right. The polar list decoder corrects the
# wrong ones, and the payload counts only when its 40-bit keyed tag checks
# out.

bits = decoding.encode_payload(payload, key)
signed = result.bit_snr * (1.0 - 2.0 * bits)  # positive soft value means bit 0
order = np.argsort(signed)
wrong = int(np.sum(signed < 0))
print(f"{wrong} of {decoding.CHANNEL_BITS} channel bits read wrong before decoding "
      f"(the decoder reports {result.bit_error_rate:.1%})")

fig, ax = plt.subplots(figsize=(10, 3.2), layout="constrained")
ax.bar(np.arange(signed.size), signed[order], width=1.0, color=np.where(signed[order] < 0, "tab:red", "tab:blue"))
ax.axhline(0, color="k", lw=0.8)
ax.set_xlabel("channel bit (sorted by confidence)")
ax.set_ylabel("soft value x stamped sign (noise SDs)")
ax.set_title(f"per-bit soft values: {wrong} wrong (red), corrected by the code")
plt.show()

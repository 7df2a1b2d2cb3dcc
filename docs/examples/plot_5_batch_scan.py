"""
Scan a folder
=============

A chat export or a seized phone's camera roll holds thousands of images, a
few of them pictures of record screens. ``trace-leak FOLDER --out
scan.jsonl`` scans them all; in Python the same is :func:`tracer.iter_items`
(folders searched recursively, zip archives opened, list files read) and
:func:`tracer.scan` (local processes; :func:`tracer.scan_dask` on a Dask
cluster). Every image becomes one JSON row appended to the results file as
it comes, so an interrupted scan loses nothing and a rerun skips what is
done. A bad file is an error row, never the end of the scan.

Most images cost a fraction of a second: the fast rejection
(:func:`tracer.screen_image`) dismisses an image with no sign of the
carrier (no screen outline as a camera draws one, no tile-phase peak of
this key standing clear of decoy keys) before any geometry is searched.
"""

import io
import json
import os
import shutil
import tempfile
import time
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

import synthetic
import tracer
import watermark

key = watermark.Key(bytes(range(32)))
other_hospital = watermark.Key(bytes(range(1, 33)))
minute = datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc)


def stamped(kind: str, viewer: int, seed: int, with_key: watermark.Key = key) -> np.ndarray:
    screen = synthetic.emr_screen(kind, size=(960, 540), seed=seed)
    return watermark.embed(screen, watermark.Payload(viewer_id=viewer, timestamp=minute + timedelta(minutes=seed)), with_key)


def jpeg(image: np.ndarray, quality: int = 85) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


# %%
# The folder
# ----------
# An invented export: screenshots and a phone photo of stamped screens, an
# unmarked screen, a screen stamped under another hospital's key, camera-roll
# pictures with no screen at all, a damaged file, and a zip archive (a chat
# export) holding two more images. The leaks' seeds fix what is found.

# Work in a scratch folder, with paths relative to it as an investigator's
# would be (the rows name the images by the paths given).
previous_folder = os.getcwd()
scratch = tempfile.mkdtemp()
os.chdir(scratch)
export = Path("export")
export.mkdir()
(export / "camera").mkdir()
(export / "screenshot-ward4.jpg").write_bytes(jpeg(stamped("medications", 4821, 1)))
(export / "forwarded.jpg").write_bytes(
    jpeg(synthetic.screenshot_leak(stamped("labs_chart", 5310, 2), "down0.75", seed=0).image, 70))
photo = synthetic.phone_photo_leak(stamped("notes", 7702, 3), seed=1, photo_size=(1600, 1200)).image
(export / "camera" / "IMG_0412.jpg").write_bytes(jpeg(photo, 90))
(export / "unmarked.jpg").write_bytes(jpeg(synthetic.emr_screen("flowsheet", size=(960, 540), seed=4)))
(export / "other-hospital.jpg").write_bytes(jpeg(stamped("banner_vitals", 4821, 5, with_key=other_hospital)))
rng = np.random.default_rng(0)  # the camera-roll pictures below depend on this seed
for i in range(4):
    y, x = np.mgrid[0:900, 0:1200] / 900.0
    colour = rng.uniform(40, 200, 3)
    picture = colour * (0.6 + 0.4 * np.sin(3 * x + i)[..., None] * np.cos(2 * y)[..., None]) + rng.normal(0, 6, (900, 1200, 3))
    (export / "camera" / f"IMG_04{20 + i}.jpg").write_bytes(jpeg(np.clip(picture, 0, 255).astype(np.uint8)))
(export / "camera" / "IMG_0430.jpg").write_bytes(jpeg(photo, 90)[:20_000])  # cut off mid-transfer
with zipfile.ZipFile(export / "chat-export.zip", "w") as archive:
    archive.writestr("media/img-001.jpg", jpeg(stamped("summary_dashboard", 9120, 6), 75))
    archive.writestr("media/img-002.jpg", jpeg(np.clip(picture[::-1], 0, 255).astype(np.uint8)))

items = list(tracer.iter_items([export]))
print(f"{len(items)} images to scan")

# %%
# The scan
# --------
# One process here (``jobs=2`` or more on a real machine); a per-image time
# limit keeps a first pass quick, and ``retry=("timeout",)`` with a longer
# limit takes a second pass over what it left open.

results = Path(scratch) / "scan.jsonl"  # a fresh file: an old one would make the scan resume
t0 = time.perf_counter()
rows = tracer.scan(items, [key], jobs=1, out=results, time_limit=30)
print(tracer.summary_table(rows, time.perf_counter() - t0))

# %%
# Each row as it was written to the results file (the fields the CLI's
# ``--out`` writes):

for line in results.read_text().splitlines():
    row = json.loads(line)
    detail = (f"viewer {row['viewer_id']} at {row['timestamp']}" if row["status"] == "traced"
              else row["error"] or row["screening"] or "")
    print(f"{row['id']:>40}  {row['status']:<9} {row['seconds']:6.2f} s  {detail}")

# %%
# A rerun resumes
# ---------------
# The results file already holds every image, so nothing is traced again.

t0 = time.perf_counter()
again = tracer.scan(tracer.iter_items([export]), [key], jobs=1, out=results)
print(f"rerun: {len(again)} rows, {len(results.read_text().splitlines())} lines in the file, "
      f"{time.perf_counter() - t0:.2f} s")

# %%
# Where the time goes
# -------------------
# Images that show a screen get the full geometry search; the rest are
# dismissed by the fast rejection or fail at the loader.

colours = {"traced": "tab:blue", "clean": "tab:orange", "dismissed": "0.6", "timeout": "tab:purple", "error": "tab:red"}
names = [Path(r["id"].split("!")[-1]).name for r in rows]
fig, ax = plt.subplots(figsize=(9, 4.2), layout="constrained")
ax.barh(names, [r["seconds"] for r in rows], color=[colours[r["status"]] for r in rows])
ax.invert_yaxis()
ax.set_xlabel("seconds")
for status, colour in colours.items():
    if any(r["status"] == status for r in rows):
        ax.barh([], [], color=colour, label=status)
ax.legend(loc="lower right")
ax.set_title("per-image time in the scan, by outcome")
plt.show()

os.chdir(previous_folder)
shutil.rmtree(scratch)

"""
Ledger-assisted attribution and its null
========================================

A blind decode must find one payload among 2**64 and check it against a
40-bit keyed tag. An investigator knows more: whose record the photo shows,
and from the access ledger every stamped view of it. :func:`tracer.attribute`
runs the same geometry search as :func:`tracer.trace` and, on every geometry
it tries, correlates each candidate view's whole codeword with the folded
tile at every phase and orientation (a matched filter). A candidate the
image does not carry scores like a Rademacher sum, whatever the image, so
the probability of naming the wrong viewer has a bound that needs no noise
model; a viewer is named only when that bound is at most ``1e-9``.

This example records 120 views of one record in a ledger (:class:`ledger.Ledger`),
photographs one of those screens and tests the photo against the record's
views, then against the same views with the true one left out. Each run
also scores 200 random payloads that were never displayed (the image's own
null distribution, ``null_samples``), which take no part in the decision.
"""

import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import ledger
import synthetic
import tracer
import watermark

key = watermark.Key(bytes(range(32)))
record = "MRN 28110431"
start = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)

# %%
# The ledger: who opened the record, and when
# -------------------------------------------
# Twelve viewers open the record over a morning, ten times each; the viewer
# servers sign every row with the ledger's own key (separate from the
# watermark key). Viewer 4821's view at 09:30 is the one that leaks.

folder = tempfile.TemporaryDirectory()
url = f"sqlite:///{Path(folder.name) / 'ledger.sqlite'}"
rng = np.random.default_rng(5)  # the views drawn below depend on this seed
viewers = [4821, *rng.choice(np.arange(1000, 9000), size=11, replace=False).tolist()]
with ledger.Ledger.open(url, ledger_key=ledger.LedgerKey.generate()) as book:
    for viewer in viewers:
        minutes = rng.choice(np.arange(0, 240), size=10, replace=False)
        if viewer == 4821:
            minutes[0] = 30
        for minute in sorted(minutes):
            book.record_view(viewer_id=int(viewer), display_name=f"Staff {viewer}", record_id=record,
                             workstation="WS-4B-112", client_address="10.20.4.112",
                             key_fingerprint=key.fingerprint, viewed_at=start + timedelta(minutes=int(minute)))
    views = book.views(record_id=record)
leaked_view = next(v for v in views if v.viewer_id == 4821 and v.payload.timestamp == start + timedelta(minutes=30))
print(f"{len(views)} views of {record}; the leaked one: viewer {leaked_view.viewer_id} at {leaked_view.payload.timestamp:%H:%M}")

# %%
# The leak
# --------
# The screen is stamped with that view's payload at a low strength (0.3 of
# the default) and photographed, so the mark is faint.

screen = synthetic.emr_screen("notes", size=(960, 540), seed=3)
marked = watermark.embed(screen, leaked_view.payload, key, strength=0.3)
photo = synthetic.phone_photo_leak(marked, level="standard", seed=0, photo_size=(1280, 960)).image

# %%
# Attribution among the record's views
# ------------------------------------

named = tracer.attribute(photo, key, views, null_samples=200, seed=1)
print(named.reason)
print(f"named: {named.named}, viewer {named.viewer_id}, "
      f"false-attribution probability {named.false_attribution_probability:.1e} (threshold {named.threshold:g})")
print(f"{named.candidates} candidates x {named.tests} tests each; "
      f"score needed for the detection part alone: {named.score_threshold():.2f}")
for candidate in named.ranked[:5]:
    print(f"  viewer {candidate.payload.viewer_id:>5} at {candidate.payload.timestamp:%H:%M}: score {candidate.score:5.2f}")

# %%
# The true view left out
# ----------------------
# The same photo against the record's other views: every score is now a
# score of a view the image does not carry, and nobody must be named.

others = [v for v in views if v.payload != leaked_view.payload]
absent = tracer.attribute(photo, key, others, null_samples=200, seed=1)
print(absent.reason)
print(f"named: {absent.named}; best score {absent.best.score:.2f}")

# %%
# Scores against the null
# -----------------------
# Each candidate's score (the largest matched-filter z over every test), the
# null payloads' scores, and the score a candidate needs. The true view
# stands far above the rest; every other view scores like the null.

fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained", sharey=True)
for ax, result, title in ((axes[0], named, "the record's views"), (axes[1], absent, "the true view left out")):
    bins = np.linspace(0, max(15, max(c.score for c in result.ranked) + 1), 60)
    ax.hist(result.null_scores, bins=bins, color="0.7", label=f"null ({result.null_scores.size} payloads never shown)")
    ax.hist([c.score for c in result.ranked], bins=bins, color="tab:blue", alpha=0.8, label=f"candidates ({result.candidates})")
    true = [c.score for c in result.ranked if c.payload == leaked_view.payload]
    if true:
        ax.axvline(true[0], color="tab:green", lw=2, label=f"the leaked view ({true[0]:.1f})")
    ax.axvline(result.score_threshold(), color="tab:red", ls="--", label=f"score needed ({result.score_threshold():.1f})")
    ax.set_xlabel("matched-filter score z")
    ax.set_title(f"{title}: {'viewer %d named' % result.viewer_id if result.named else 'nobody named'}")
    ax.legend(fontsize=8)
axes[0].set_ylabel("count")
plt.show()

folder.cleanup()

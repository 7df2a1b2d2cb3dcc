"""
Robustness against the peers
============================

The robustness benchmark (``python -m benchmarks.robustness --workers 2
--photo-samples 24``) stamps invented EMR screens, sends them through the
leak-channel simulator and traces them, with three peers measured on the
same leaks: invisible-watermark's ``dwtDct`` and ``dwtDctSvd`` and
blind_watermark. It takes about an hour on two cores, so this example does
not run it: it plots the committed results, ``benchmarks/results/results.json``
(tables in ``benchmarks/results/results.md``).

"Traced exact" means :func:`tracer.trace` returned exactly the stamped
payload with no help; "oracle" is :func:`watermark.extract` after the
simulator's true geometry has been undone (exact there but not traced: the
geometry search failed; failing there too: the signal did). The peers are
decoded on the leaked image ("raw") and on the leak warped back to the
screen's geometry ("oracle"). They have no integrity check, so a decode
that happens to be right is counted although nothing would tell it from a
wrong one.
"""

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from scipy.stats import binomtest

# Run as a script, the example knows its own path; sphinx-gallery runs it in
# its own folder, docs/examples. The results live at the repository's root.
EXAMPLES = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
RESULTS = EXAMPLES.parents[1] / "benchmarks" / "results" / "results.json"
results = json.loads(RESULTS.read_text())
summary = results["summary"]
print(f"{results['mode']} run, {results['wall_seconds'] / 60:.0f} min on {results['machine']['cpus']} cores, "
      f"seed {results['seed']}; leaktrace {results['versions']['leaktrace']}, "
      f"invisible-watermark {results['versions']['invisible-watermark']}, "
      f"blind-watermark {results['versions']['blind-watermark']}")
print(f"false attributions in the whole run: {results['false_attributions_total']}")

PEERS = {"dwtDct": "tab:orange", "dwtDctSvd": "tab:green", "blind": "tab:red"}


def rate_and_interval(k: int, n: int) -> tuple[float, float, float]:
    """The proportion and its 95 % Wilson interval."""
    ci = binomtest(k, n).proportion_ci(method="wilson")
    return k / n, ci.low, ci.high


# %%
# The sweeps
# ----------
# Each sweep fixes one parameter of the leak (the off-axis angle and the
# screen's share of the photo for phone photos, the JPEG quality for
# screenshots, the embedding strength) and draws everything else as the
# standard level does. Error bars: 95 % Wilson intervals (few samples per
# point).

fig, axes = plt.subplots(2, 2, figsize=(10, 7), layout="constrained")
for ax, (name, sweep) in zip(axes.flat, results["sweeps"].items()):
    xs = np.array([x for x, _ in sweep["points"]], dtype=float)
    rows = [summary[condition] for _, condition in sweep["points"]]
    ours = np.array([rate_and_interval(r["trace_exact"], r["n"]) for r in rows])
    ax.errorbar(xs, ours[:, 0], yerr=[ours[:, 0] - ours[:, 1], ours[:, 2] - ours[:, 0]],
                marker="o", capsize=3, color="tab:blue", label="leaktrace, traced exact")
    ax.plot(xs, [r["oracle_exact"] / r["n"] for r in rows], marker="v", ls=":", color="tab:blue", alpha=0.6,
            label="leaktrace, oracle")
    for peer, colour in PEERS.items():
        if all(peer in r.get("peers", {}) for r in rows):
            raw = [r["peers"][peer]["raw_exact"] / r["peers"][peer]["n"] for r in rows]
            oracle = [r["peers"][peer]["oracle_exact"] / r["peers"][peer]["n"] for r in rows]
            ax.plot(xs, raw, marker="s", ls="--", color=colour, label=f"{peer}, raw")
            ax.plot(xs, oracle, marker="^", ls=":", color=colour, alpha=0.6, label=f"{peer}, oracle")
    ax.set_xlabel(sweep["axis"])
    ax.set_ylabel("exact payloads")
    ax.set_ylim(-0.05, 1.05)
    ax.set_title(name)
handles, labels = axes.flat[0].get_legend_handles_labels()
fig.legend(handles, labels, loc="outside lower center", ncols=4, fontsize=8)
plt.show()

# %%
# Screenshots and phone photos
# ----------------------------
# Every condition at strength 1: screenshot channels (codecs, resampling,
# crops, turns, edits, a messenger), then phone photos at the simulator's
# two levels. The peers were measured on the first four screens of each.

conditions = [c["name"] for c in results["conditions"] if c["family"] == "screenshot" and c["strength"] == 1.0]
conditions += ["phone-standard", "phone-hard"]
y = np.arange(len(conditions))
fig, ax = plt.subplots(figsize=(10, 0.32 * len(conditions) + 1.5), layout="constrained")
height = 0.2
ax.barh(y - 1.5 * height, [summary[c]["trace_exact"] / summary[c]["n"] for c in conditions], height,
        color="tab:blue", label="leaktrace, traced exact")
for i, (peer, colour) in enumerate(PEERS.items()):
    ax.barh(y + (i - 0.5) * height, [summary[c]["peers"][peer]["raw_exact"] / summary[c]["peers"][peer]["n"] for c in conditions],
            height, color=colour, label=f"{peer}, raw")
ax.set_yticks(y, [f"{c} (n={summary[c]['n']})" for c in conditions])
ax.invert_yaxis()
ax.set_xlabel("exact payloads")
ax.legend(loc="lower right", fontsize=8)
plt.show()

# %%
# The same figures as a table (leaktrace's traced exact, and each peer's raw
# exact, of its own sample count):

for c in conditions:
    row = summary[c]
    peers = ", ".join(f"{p} {row['peers'][p]['raw_exact']}/{row['peers'][p]['n']}" for p in PEERS)
    print(f"{c:>18}: {row['trace_exact']:>2}/{row['n']:<2}  ({peers})")

"""Record content for the screens: table columns and rows, trend charts, note text, a radiograph."""

from __future__ import annotations

from datetime import datetime, timedelta

import cv2
import numpy as np
from numpy.typing import NDArray

from ._canvas import Box, Cell, Column, Row, Screen
from ._patients import (
    BASE_TIME,
    DRUGS,
    LABS,
    NOTE_TEMPLATES,
    REVIEW_OF_SYSTEMS,
    Lab,
    PatientRecord,
    Vitals,
    _pick,
    lab_value,
    vitals,
)

VITAL_COLS: tuple[Column, ...] = (
    ("Date/Time", 1.3), ("Temp °C", 0.8, "r"), ("HR", 0.6, "r"), ("BP", 0.9, "r"),
    ("RR", 0.6, "r"), ("SpO2 %", 0.8, "r"), ("O2 Device", 1.2), ("Pain", 0.6, "r"),
    ("Entered By", 1.4))
MED_COLS: tuple[Column, ...] = (
    ("Medication", 2.2), ("Dose", 1.0), ("Route", 0.6), ("Frequency", 1.0),
    ("Start", 0.9), ("Next Due", 0.9), ("Prescriber", 1.5), ("Status", 0.8))
LAB_COLS: tuple[Column, ...] = (
    ("Test", 1.4), ("Result", 0.8, "r"), ("Flag", 0.5), ("Units", 0.8),
    ("Reference", 1.0), ("Collected", 1.0), ("Status", 0.7))


def times(hours: NDArray[np.int64], fmt: str = "%m/%d %H:%M") -> list[str]:
    """Timestamps ``hours`` before :data:`BASE_TIME`, formatted."""
    return [(BASE_TIME - timedelta(hours=int(h))).strftime(fmt) for h in hours]


def vital_rows(scr: Screen, v: Vitals, pat: PatientRecord) -> list[list[Cell]]:
    t, rows = scr.t, []
    for i, when in enumerate(times(v["time"])):
        temp = f"{v['temp'][i]:.1f}"
        rows.append([when, (temp, t.danger) if v["temp"][i] >= 38 else temp, f"{v['hr'][i]:.0f}",
                     f"{v['sbp'][i]:.0f}/{v['dbp'][i]:.0f}", f"{v['rr'][i]:.0f}",
                     f"{v['spo2'][i]:.0f}", _pick(scr.rng, ("Room air", "Nasal cannula 2 L")),
                     str(v["pain"][i]), pat["user"] if i % 3 else "Auto (monitor)"])
    return rows


def med_rows(scr: Screen, pat: PatientRecord, n: int) -> list[list[Cell]]:
    t, rows = scr.t, []
    statuses: tuple[Cell, ...] = (("Active", t.ok),) * 5 + (("On hold", t.warn),)
    for name, dose, route, freq in _pick(scr.rng, DRUGS, n):
        start = pat["admit"] + timedelta(hours=int(scr.rng.integers(0, 30)))
        due = BASE_TIME + timedelta(minutes=int(scr.rng.integers(10, 600)))
        status = _pick(scr.rng, statuses)
        rows.append([name, dose, route, freq, f"{start:%m/%d %H:%M}",
                     "PRN" if "PRN" in freq else f"{due:%H:%M}", pat["attending"], status])
    return rows


def lab_row(scr: Screen, lab: Lab, when: datetime) -> list[Cell]:
    value, flag = lab_value(scr.rng, lab)
    return [lab[0], (value, scr.t.danger) if flag else value, (flag, scr.t.danger) if flag else "",
            lab[1], f"{lab[2]:g} - {lab[3]:g}", f"{when:%m/%d %H:%M}", "Final"]


def lab_rows(scr: Screen, n: int) -> list[list[Cell]]:
    return [lab_row(scr, lab, BASE_TIME - timedelta(hours=4 + 3 * i // 5))
            for i, lab in enumerate(_pick(scr.rng, LABS, n))]


def lab_panels(scr: Screen) -> list[Row]:
    """Results grouped under panel rows (BMP, CBC, ...), newest collection first."""
    rows: list[Row] = []
    for name, idx, hours in (("Basic Metabolic Panel", range(0, 9), 4), ("CBC", range(9, 13), 4),
                             ("Hepatic & Other", range(13, 20), 6),
                             ("Basic Metabolic Panel", range(0, 9), 28)):
        when = BASE_TIME - timedelta(hours=hours, minutes=int(scr.rng.integers(0, 50)))
        rows.append(f"{name}  -  collected {when:%m/%d/%Y %H:%M}  -  Final")
        rows += [lab_row(scr, LABS[i], when) for i in idx]
    return rows


def trend_chart(scr: Screen, box: Box, lab: Lab, days: int = 8) -> None:
    """A drifting daily series of ``lab`` against its reference band."""
    name, units, lo, hi, dec = lab
    vals = np.clip((lo + hi) / 2 + (hi - lo) * (0.9 - np.cumsum(scr.rng.normal(0.12, 0.18, days))),
                   0, None).round(dec + 1)
    labels = [(BASE_TIME - timedelta(days=days - 1 - i)).strftime("%m/%d") for i in range(days)]
    scr.chart(box, f"{name} trend", labels, [(name, vals)], ref=(lo, hi), units=units)


def note_blocks(scr: Screen, pat: PatientRecord) -> list[tuple[str, str]]:
    """The sections of a progress note, sentences shuffled, values filled in."""
    v = vitals(scr.rng, 1)
    fields = dict(name=pat["name"].title(), age=pat["age"], sexw=pat["sexw"],
                  admit=f"{pat['admit']:%m/%d/%Y}", cc=pat["cc"], Cc=pat["Cc"],
                  temp=v["temp"][0], hr=int(v["hr"][0]), bp=f"{v['sbp'][0]:.0f}/{v['dbp'][0]:.0f}",
                  rr=int(v["rr"][0]), spo2=int(v["spo2"][0]), cr=lab_value(scr.rng, LABS[5])[0],
                  k=lab_value(scr.rng, LABS[1])[0], day=int(scr.rng.integers(2, 5)),
                  code=pat["code"])
    blocks = [(head, " ".join(s.format(**fields) for s in sents[:1] + tuple(
        _pick(scr.rng, sents[1:], len(sents) - 1)))) for head, sents in NOTE_TEMPLATES.items()]
    meds = "; ".join(" ".join(d) for d in _pick(scr.rng, DRUGS, 9)) + "."
    labs = ", ".join(f"{lab[0]} {lab_value(scr.rng, lab)[0]}" for lab in LABS[:13]) + "."
    return blocks[:2] + [("Review of Systems", REVIEW_OF_SYSTEMS), ("Current Medications", meds),
                         ("Laboratory Data", labs)] + blocks[2:]


def xray(width: int, height: int, rng: np.random.Generator) -> NDArray[np.uint8]:
    """Procedural PA chest radiograph: soft tissue, lungs, heart, spine, ribs, noise."""
    ws = min(320, width)
    hs = max(8, round(ws * height / max(width, 1)))
    y, x = np.meshgrid(np.linspace(0, 1, hs, dtype=np.float32),
                       np.linspace(-1, 1, ws, dtype=np.float32), indexing="ij")
    ax = np.abs(x)

    def blob(cx: float, cy: float, rx: float, ry: float, sharp: float = 9.0) -> NDArray[np.float32]:
        return 1 / (1 + np.exp((np.hypot((x - cx) / rx, (y - cy) / ry) - 1) * sharp))

    body = blob(0, 0.62, 0.9, 0.8, 6)
    img = 0.05 + 0.5 * body + 0.15 * blob(0, 0.06, 1.05, 0.16, 5)
    lungs = blob(-0.42, 0.45, 0.29, 0.37) + blob(0.4, 0.43, 0.27, 0.34)
    texture = cv2.GaussianBlur(rng.standard_normal((hs, ws), dtype=np.float32), (0, 0), 1.3)
    hila = np.exp(-((ax - 0.2) / 0.14) ** 2 - ((y - 0.5) / 0.17) ** 2)
    img = img - lungs * (0.4 - 0.12 * hila - 0.1 * texture)
    img += 0.28 * np.exp(-(x / 0.13) ** 2) * (y > 0.1) + 0.26 * blob(0.15, 0.65, 0.29, 0.2, 7)
    img += 0.12 * blob(-0.45, 0.66, 0.16, 0.1, 4)  # right lower lobe opacity, as reported
    img += 0.1 * np.exp(-(x / 0.05) ** 2) * (0.7 + 0.3 * np.cos(2 * np.pi * y * 15))
    dome = 0.8 + 0.3 * (ax - 0.42) ** 2 - 0.03 * (x < 0)
    img += 0.3 * body / (1 + np.exp(-(y - dome) * 70))
    for i in range(10):
        y0 = 0.15 + 0.066 * i
        post = np.exp(-((y - (y0 - 0.05 * ax + 0.42 * ax**2)) / 0.012) ** 2) * (ax > 0.06)
        ant = np.exp(-((y - (y0 + 0.1 + 0.16 * (0.8 - ax))) / 0.01) ** 2) * (ax > 0.25)
        img += (0.09 * post + 0.04 * ant) * (ax < 0.82) * body
    for s in (-1, 1):  # clavicles: distance to a segment
        px, py, qx, qy = 0.07 * s, 0.14, 0.6 * s, 0.085
        dx, dy = qx - px, qy - py
        tt = np.clip(((x - px) * dx + (y - py) * dy) / (dx**2 + dy**2), 0, 1)
        img += 0.16 * np.exp(-(np.hypot(x - px - tt * dx, y - py - tt * dy) / 0.016) ** 2)
    img = cv2.resize(cv2.GaussianBlur(img.astype(np.float32), (0, 0), 1.0), (width, height),
                     interpolation=cv2.INTER_CUBIC)
    img += 0.015 * rng.standard_normal((height, width), dtype=np.float32)
    return (np.clip(img, 0, 1) ** 0.9 * 255).round().astype(np.uint8)

"""The nine EMR screen layouts, each drawing one record view on a :class:`~._canvas.Screen`."""

from __future__ import annotations

from datetime import timedelta
from typing import Callable

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from ._canvas import Box, Cell, Row, Screen
from ._chrome import banner, body, buttons, frame
from ._panels import (
    LAB_COLS,
    MED_COLS,
    VITAL_COLS,
    lab_panels,
    lab_rows,
    med_rows,
    note_blocks,
    times,
    trend_chart,
    vital_rows,
    xray,
)
from ._patients import (
    BASE_TIME,
    FIRST_NAMES,
    LABS,
    LAST_NAMES,
    PROBLEMS,
    RADIOLOGY_REPORT,
    PatientRecord,
    _pick,
    vitals,
)

Layout = Callable[[Screen, PatientRecord], None]


def banner_vitals(scr: Screen, pat: PatientRecord) -> None:
    x0, y0, x1, y1 = body(scr, pat, "Vitals")
    u, v = scr.u, vitals(scr.rng, 24)
    y = scr.section(x0, y0, x1, "Vital Signs - last 72 hours",
                    f"Last filed {times(v['time'][:1])[0]} by monitor")
    split = y + int(0.52 * (y1 - y))
    scr.table((x0, y, x1, split), VITAL_COLS, vital_rows(scr, v, pat))
    labels = times(v["time"][:12][::-1], "%H:%M")
    mid = (x0 + x1) // 2
    scr.chart((x0, split + u, mid - u // 2, y1), "Heart Rate", labels,
              [("HR", v["hr"][:12][::-1])], ref=(60, 100), units="bpm")
    scr.chart((mid + u // 2, split + u, x1, y1), "Blood Pressure", labels,
              [("Systolic", v["sbp"][:12][::-1]), ("Diastolic", v["dbp"][:12][::-1])], units="mmHg")


def medications(scr: Screen, pat: PatientRecord) -> None:
    x0, y0, x1, y1 = body(scr, pat, "Medications", nav_column=True)
    u = scr.u
    y = scr.section(x0, y0, x1, "Active Medications", "Reconciled today 07:15")
    x = x0
    for label in ("All", "Scheduled", "PRN", "Continuous", "IV only"):
        x += scr.button(x, y, label, primary=label == "All") + 0.4 * u
    y += round(2.6 * u)
    bottom = y1 - round(2.6 * u)
    yb = scr.table((x0, y, x1, y + int(0.62 * (bottom - y))), MED_COLS, med_rows(scr, pat, 14))
    y = scr.section(x0, yb + u, x1, "Discontinued (last 7 days)")
    old: list[Row] = [r[:7] + [("Discontinued", scr.t.muted)] for r in med_rows(scr, pat, 6)]
    scr.table((x0, y, x1, bottom - u), MED_COLS, old)
    buttons(scr, x1, y1 - round(1.9 * u), ("Print MAR", "Discontinue", "Modify", "Reconcile",
                                           "New Order"), x0)


def labs_chart(scr: Screen, pat: PatientRecord) -> None:
    x0, y0, x1, y1 = body(scr, pat, "Results")
    u = scr.u
    split = x0 + int(0.56 * (x1 - x0))
    y = scr.section(x0, y0, split, "Chemistry & Hematology", "Last 24 h")
    scr.table((x0, y, split, y1), LAB_COLS, lab_panels(scr))
    mid = (y0 + y1) // 2
    labs = _pick(scr.rng, [lab for lab in LABS if lab[0] in ("Creatinine", "Hemoglobin",
                                                             "Potassium", "WBC", "Glucose")], 2)
    trend_chart(scr, (split + u, y0, x1, mid - u // 2), labs[0])
    trend_chart(scr, (split + u, mid + u // 2, x1, y1), labs[1])


def notes(scr: Screen, pat: PatientRecord) -> None:
    x0, y0, x1, y1 = body(scr, pat, "Notes")
    u = scr.u
    split = x0 + int(0.32 * (x1 - x0))
    y = scr.section(x0, y0, split, "Notes", "Filter: All authors")
    kinds = ("Progress Note", "Nursing Note", "H&P", "Consult", "Case Mgmt", "PT Eval", "Pharmacy")
    rows = [[f"{BASE_TIME - timedelta(hours=5 + 7 * i):%m/%d %H:%M}", _pick(scr.rng, kinds),
             f"{_pick(scr.rng, FIRST_NAMES)[0]}. {_pick(scr.rng, LAST_NAMES)}"] for i in range(40)]
    rows[0][1] = "Progress Note"
    scr.table((x0, y, split, y1), (("Date", 1.0), ("Type", 1.2), ("Author", 1.3)), rows,
              selected=0)
    dx = split + 2 * u
    y = scr.section(dx, y0, x1, "Hospital Medicine Progress Note", "Signed")
    scr.text((dx, y + 0.5 * u), f"Author: {pat['attending']}, MD    Service: Hospital Medicine    "
             f"Date of service: {BASE_TIME:%m/%d/%Y %H:%M}", rel=0.9, fill=scr.t.muted,
             width=x1 - dx)
    bottom = y1 - round(2.6 * u)
    yb = scr.paragraphs((dx, y + 2 * u, x1 - u, bottom), note_blocks(scr, pat))
    scr.paragraphs((dx, yb, x1 - u, bottom), [("Attestation", "I personally saw and examined the "
                   "patient, reviewed the data above and agree with the plan as documented. "
                   "Greater than 35 minutes spent in care coordination.")])
    buttons(scr, x1, y1 - round(1.9 * u), ("Print", "Addendum", "Copy Forward", "New Note"), dx)


def sidebar_list(scr: Screen, pat: PatientRecord) -> None:
    x0, y0, x1, y1 = frame(scr, pat)
    sx = _patient_list(scr, pat, (x0, y0, x1, y1))
    y = banner(scr, (sx + 1, y0, x1, y1), pat)
    _problems_and_orders(scr, pat, (sx + 1 + scr.u, y + scr.u, x1 - scr.u, y1))


def _patient_list(scr: Screen, pat: PatientRecord, box: tuple[int, int, int, int]) -> int:
    """The unit's patient list down the left, ``pat`` selected; return its right edge."""
    t, u, d = scr.t, scr.u, scr.d
    x0, y0, x1, y1 = box
    sx = x0 + max(14 * u, round(0.22 * scr.w))
    d.rectangle((x0, y0, sx, y1), fill=t.panel)
    d.line((sx, y0, sx, y1), fill=t.border)
    scr.text((x0 + u, y0 + 1.4 * u), f"My Patients - {pat['unit']}", rel=1.05, bold=True,
             width=sx - x0 - 2 * u)
    d.rounded_rectangle((x0 + u, y0 + 2.6 * u, sx - u, y0 + 4.5 * u), radius=u // 3, fill=t.bg,
                        outline=t.border)
    scr.text((x0 + 1.6 * u, y0 + 3.55 * u), "Filter list…", rel=0.9, fill=t.muted)
    y, ih = y0 + 5.2 * u, round(3.4 * u)
    sel = int(scr.rng.integers(1, 4))
    for i in range(40):
        if y + ih > y1:
            break
        if i == sel:
            d.rectangle((x0, y, sx - 1, y + ih), fill=t.accent_soft)
            d.rectangle((x0, y, x0 + 3, y + ih), fill=t.accent)
        name = pat["name"] if i == sel else (f"{_pick(scr.rng, LAST_NAMES).upper()}, "
                                             f"{_pick(scr.rng, FIRST_NAMES)}")
        age, sex = (pat["age"], pat["sex"]) if i == sel else (int(scr.rng.integers(20, 95)),
                                                              _pick(scr.rng, "FM"))
        room = pat["room"] if i == sel else f"{pat['room'][:6]}{i + 1:02d}"
        scr.text((x0 + u, y + 1.1 * u), name, rel=0.95, bold=True, width=sx - x0 - 6 * u)
        scr.text((x0 + u, y + 2.4 * u), f"{room} · {age} y {sex} · LOS "
                 f"{int(scr.rng.integers(1, 12))}d", rel=0.85, fill=t.muted, width=sx - x0 - 2 * u)
        for j, color in enumerate((t.danger, t.warn, t.accent)):
            if scr.rng.random() < 0.35:
                cx = sx - u - j * 1.2 * u
                d.ellipse((cx - 0.35 * u, y + 0.75 * u, cx + 0.35 * u, y + 1.45 * u), fill=color)
        d.line((x0, y + ih, sx, y + ih), fill=t.border)
        y += ih
    return sx


_ORDERS = (("CBC with differential", "AM draw", "Pending"),
           ("Basic metabolic panel", "AM draw", "Pending"),
           ("Chest X-ray PA/lateral", "Once", "Resulted"),
           ("Diet: Cardiac, 2 g sodium", "Continuous", "Active"),
           ("Fall precautions", "Continuous", "Active"),
           ("Telemetry monitoring", "48 h", "Active"),
           ("PT evaluation and treatment", "Once", "Ordered"),
           ("Blood cultures x2", "Once", "Resulted"),
           ("Ceftriaxone 1 g IV", "q24h", "Active"),
           ("Heparin 5,000 units SubQ", "q8h", "Active"),
           ("Incentive spirometry", "q1h while awake", "Active"),
           ("Consult: Case management", "Once", "Ordered"))


def _problems_and_orders(scr: Screen, pat: PatientRecord, box: tuple[int, int, int, int]) -> None:
    """Problem list and active orders side by side, a temperature chart below."""
    t, u = scr.t, scr.u
    mx0, y, mx1, y1 = box
    mid = (mx0 + mx1) // 2
    ys = scr.section(mx0, y, mid - u, "Problem List", f"{len(PROBLEMS) + 1} active")
    probs: list[Row] = [[pat["Cc"], pat["icd"], f"{pat['admit']:%m/%d/%Y}", ("Active", t.ok)]]
    probs += [[p, c, f"{int(scr.rng.integers(2008, 2023))}", ("Chronic", t.muted)] for p, c in PROBLEMS]
    bottom = y + int(0.55 * (y1 - u - y))
    yb = scr.table((mx0, ys, mid - u, bottom), (("Problem", 2.4), ("ICD-10", 0.8),
                                                ("Onset", 0.9), ("Status", 0.8)), probs)
    ys = scr.section(mid + u, y, mx1, "Active Orders", "3 pending signature")
    colour = {"Pending": t.warn, "Resulted": t.ok, "Active": t.ok, "Ordered": t.accent}
    orders: list[Row] = [[order, freq, (status, colour[status])] for order, freq, status in _ORDERS]
    yb = max(yb, scr.table((mid + u, ys, mx1, bottom), (("Order", 2.2), ("Frequency", 1.0),
                                                        ("Status", 0.8)), orders))
    v = vitals(scr.rng, 12)
    scr.chart((mx0, yb + 1.5 * u, mx1, y1 - u), "Temperature", times(v["time"][::-1], "%H:%M"),
              [("Temp", v["temp"][::-1])], ref=(36.1, 37.9), units="°C")


def dark_theme(scr: Screen, pat: PatientRecord) -> None:
    x0, y0, x1, y1 = body(scr, pat, "Flowsheets", nav_column=True)
    u, v = scr.u, vitals(scr.rng, 16)
    mid_y = y0 + int(0.45 * (y1 - y0))
    scr.chart((x0, y0, x1, mid_y), "Vital signs - last 48 hours", times(v["time"][::-1], "%H:%M"),
              [("HR", v["hr"][::-1]), ("Systolic", v["sbp"][::-1]), ("Diastolic", v["dbp"][::-1])],
              units="bpm / mmHg")
    mid_x = x0 + int(0.5 * (x1 - x0))
    y = scr.section(x0, mid_y + u, mid_x - u, "Recent Results")
    scr.table((x0, y, mid_x - u, y1), LAB_COLS[:6], lab_rows(scr, 14))
    y = scr.section(mid_x + u, mid_y + u, x1, "Scheduled Medications")
    scr.table((mid_x + u, y, x1, y1), MED_COLS[:6], med_rows(scr, pat, 12))


def xray_viewer(scr: Screen, pat: PatientRecord) -> None:
    x0, y0, x1, y1 = body(scr, pat, "Imaging")
    u = scr.u
    rep = x1 - max(16 * u, int(0.27 * (x1 - x0)))
    tw = max(6 * u, int(0.08 * (x1 - x0)))
    x = x0
    for label in ("Zoom", "Pan", "W/L", "Measure", "Rotate", "Invert", "Reset"):
        if x + scr.font(0.92).getlength(label) + 2 * u > rep - 2 * u:
            break
        x += scr.button(x, y0, label, primary=label == "W/L") + 0.4 * u
    vy0 = y0 + round(2.5 * u)
    _thumbnails(scr, (x0, vy0, x0 + tw, y1))
    _image_viewport(scr, pat, (x0 + tw + u, vy0, rep - 2 * u, y1))
    _radiology_report(scr, pat, (rep, y0, x1, y1))


def _thumbnails(scr: Screen, box: tuple[int, int, int, int]) -> None:
    """The series thumbnails down the left of the viewer, the first selected."""
    t, u, d = scr.t, scr.u, scr.d
    x0, vy0, x1, y1 = box
    tw = x1 - x0
    th = max(8, int(1.25 * tw))
    for i, (desc, n) in enumerate((("CHEST PA", 1), ("CHEST LAT", 1), ("CHEST AP", 1),
                                   ("CHEST PA", 2))):
        ty = vy0 + i * (th + 2 * u)
        if ty + th + 1.5 * u > y1:
            break
        thumb = xray(tw, th, np.random.default_rng([i, 99]))
        scr.img.paste(Image.fromarray(thumb).convert("RGB"), (x0, ty))
        d.rectangle((x0, ty, x0 + tw, ty + th), outline=t.accent if i == 0 else t.border,
                    width=3 if i == 0 else 1)
        scr.text((x0, ty + th + 0.8 * u), f"{desc} ({n})", rel=0.8, fill=t.muted, width=tw)


def _image_viewport(scr: Screen, pat: PatientRecord, box: tuple[int, int, int, int]) -> None:
    """The black viewport with the radiograph and its DICOM-style overlay text."""
    u, d = scr.u, scr.d
    vx0, vy0, vx1, y1 = box
    d.rectangle((vx0, vy0, vx1, y1), fill=(0, 0, 0))
    vw, vh = vx1 - vx0, y1 - vy0
    iw, ih = min(vw - 2 * u, int(0.86 * (vh - 2 * u))), vh - 2 * u
    ih = min(ih, int(iw / 0.86))
    if iw > 8 and ih > 8:
        ix, iy = vx0 + (vw - iw) // 2, vy0 + (vh - ih) // 2
        scr.img.paste(Image.fromarray(xray(iw, ih, scr.rng)).convert("RGB"), (ix, iy))
        scr.text((ix + 1.5 * u, iy + max(2 * u, ih // 4)), "R", rel=1.6, fill=(250, 250, 250),
                 bold=True)
    ov, grey = 0.85, (215, 215, 215)
    lines_tl = (pat["name"], f"MRN {pat['mrn']}  DOB {pat['dob']}", "CHEST PA  Series 1  Img 1/1")
    lines_br = ("W: 2048  L: 1024", f"Zoom {100 * ih / 2500:.0f}%", "MediView PACS")
    for k, line in enumerate(lines_tl):
        scr.text((vx0 + 0.6 * u, vy0 + (1 + 1.3 * k) * u), line, rel=ov, fill=grey, width=vw / 2)
    for k, line in enumerate(lines_br):
        scr.text((vx1 - 0.6 * u, y1 - (1 + 1.3 * k) * u), line, rel=ov, fill=grey, anchor="rm")
    scr.text((vx1 - 0.6 * u, vy0 + u), f"{BASE_TIME:%m/%d/%Y %H:%M}", rel=ov, fill=grey,
             anchor="rm")


def _radiology_report(scr: Screen, pat: PatientRecord, box: tuple[int, int, int, int]) -> None:
    """The report column right of the viewer: report text, signature, prior imaging."""
    t, u = scr.t, scr.u
    rep, y0, x1, y1 = box
    y = scr.section(rep, y0, x1, "Radiology Report", "Final")
    prior = f"{BASE_TIME - timedelta(days=int(scr.rng.integers(30, 400))):%m/%d/%Y}"
    blocks = [(h, b.format(when=f"{BASE_TIME:%m/%d/%Y %H:%M}", prior=prior, age=pat["age"]))
              for h, b in RADIOLOGY_REPORT]
    meta = f"Exam: XR CHEST 2 VIEWS    Accession: A{int(scr.rng.integers(10**6, 10**7))}"
    scr.text((rep, y + 0.5 * u), meta, rel=0.88, fill=t.muted, width=x1 - rep)
    yb = scr.paragraphs((rep, y + 2 * u, x1, y1 - 3 * u), blocks)
    buttons(scr, x1, y1 - round(1.9 * u), ("Compare", "Share", "Acknowledge"), rep)
    if yb + 2 * u > y1 - 3 * u:
        return
    scr.text((rep, yb + u), f"Electronically signed by Dr. {_pick(scr.rng, FIRST_NAMES)} "
             f"{_pick(scr.rng, LAST_NAMES)}, Radiology", rel=0.88, fill=t.muted, width=x1 - rep)
    if yb + 8 * u > y1 - 3 * u:
        return
    y = scr.section(rep, yb + 2.5 * u, x1, "Prior Imaging")
    exams = ("XR Chest 2 views", "CT Chest w/o contrast", "XR Chest 1 view", "US Abdomen complete",
             "XR Knee 3 views", "CT Head w/o contrast", "XR Chest 2 views", "MR Lumbar spine")
    priors: list[Row] = [[f"{BASE_TIME - timedelta(days=int(d)):%m/%d/%Y}", e, ("Final", t.ok)]
                         for d, e in zip(np.sort(scr.rng.integers(20, 2000, len(exams))), exams)]
    scr.table((rep, y, x1, y1 - 3 * u), (("Date", 1.0), ("Exam", 2.0), ("Status", 0.7)), priors)


def summary_dashboard(scr: Screen, pat: PatientRecord) -> None:
    x0, y0, x1, y1 = body(scr, pat, "Summary")
    u = scr.u
    gx = np.linspace(x0, x1 + u, 4).astype(int)
    gy = np.array([y0, y0 + int(0.42 * (y1 + u - y0)), y1 + u])
    cells = [(gx[c], gy[r], gx[c + 1] - u, gy[r + 1] - u) for r in range(2) for c in range(3)]
    _latest_vitals_card(scr, cells[0])
    _problems_card(scr, pat, cells[1])
    _alerts_card(scr, pat, cells[2])
    bx0, by0, bx1, by1 = scr.card(cells[3], "Medications")
    scr.table((bx0, by0, bx1, by1), (MED_COLS[0], MED_COLS[1], MED_COLS[3]),
              [[r[0], r[1], r[3]] for r in med_rows(scr, pat, 18)], rel=0.9)
    bx0, by0, bx1, by1 = scr.card(cells[4], "Recent Labs")
    scr.table((bx0, by0, bx1, by1), LAB_COLS[:4], [r[:4] for r in lab_rows(scr, 18)], rel=0.9)
    trend_chart(scr, cells[5], LABS[6], days=10)


def _latest_vitals_card(scr: Screen, cell: Box) -> None:
    """A card of the latest readings, two columns of label and large value."""
    t, u = scr.t, scr.u
    v = vitals(scr.rng, 10)
    bx0, by0, bx1, by1 = scr.card(cell, "Latest Vitals")
    items = (("Temp", f"{v['temp'][0]:.1f} °C"), ("Heart rate", f"{v['hr'][0]:.0f} bpm"),
             ("BP", f"{v['sbp'][0]:.0f}/{v['dbp'][0]:.0f}"),
             ("Resp rate", f"{v['rr'][0]:.0f} /min"),
             ("SpO2", f"{v['spo2'][0]:.0f} %"), ("Pain", f"{v['pain'][0]} / 10"),
             ("Weight", f"{scr.rng.uniform(52, 110):.1f} kg"), ("O2 device", "Nasal cannula 2 L"),
             ("Intake 24 h", f"{int(scr.rng.integers(9, 25)) * 100} mL"),
             ("Output 24 h", f"{int(scr.rng.integers(6, 20)) * 100} mL"))
    for k, (label, value) in enumerate(items):
        cx = bx0 + (k % 2) * (bx1 - bx0) // 2
        cy = by0 + (k // 2) * 3.3 * u
        if cy + 3 * u > by1:
            break
        scr.text((cx, cy + 0.6 * u), label, rel=0.85, fill=t.muted)
        scr.text((cx, cy + 2.1 * u), value, rel=1.5, bold=True, width=(bx1 - bx0) / 2 - u)


def _problems_card(scr: Screen, pat: PatientRecord, cell: Box) -> None:
    """Active problems, the admission reason first."""
    t, u = scr.t, scr.u
    bx0, by0, bx1, by1 = scr.card(cell, "Active Problems")
    for k, (p, code) in enumerate(((pat["Cc"], pat["icd"]),) + PROBLEMS):
        cy = by0 + (k + 0.5) * 1.75 * u
        if cy + 0.9 * u > by1:
            break
        scr.d.ellipse((bx0, cy - 3, bx0 + 6, cy + 3), fill=t.danger if k == 0 else t.accent)
        cw = scr.text((bx1, cy), code, rel=0.85, fill=t.muted, anchor="rm")
        scr.text((bx0 + u, cy), p, width=bx1 - bx0 - 2 * u - cw, bold=k == 0)


def _alerts_card(scr: Screen, pat: PatientRecord, cell: Box) -> None:
    """Allergy and safety badges, then the care team where room is left."""
    t, u = scr.t, scr.u
    bx0, by0, bx1, by1 = scr.card(cell, "Allergies & Alerts")
    yy: float = by0
    for label, fg, bg in ([(a + " - hives", t.danger, t.danger_soft) for a in pat["allergies"]]
                          + [("Fall risk: High (Morse 55)", t.warn, t.warn_soft),
                             ("Isolation: Contact (MRSA)", t.warn, t.warn_soft),
                             (f"Code status: {pat['code']}", t.accent, t.accent_soft)]):
        if yy + 1.6 * u > by1:
            break
        scr.badge(bx0, yy, label, fg, bg, bx1 - bx0)
        yy += 2.1 * u
    team = (("Attending", pat["attending"]), ("Primary RN", pat["user"]),
            ("Case manager", f"{_pick(scr.rng, FIRST_NAMES)} {_pick(scr.rng, LAST_NAMES)}, MSW"),
            ("PCP", f"Dr. {_pick(scr.rng, FIRST_NAMES)} {_pick(scr.rng, LAST_NAMES)}"),
            ("Consultant", f"Dr. {_pick(scr.rng, FIRST_NAMES)} {_pick(scr.rng, LAST_NAMES)} (ID)"))
    if yy + 5 * u < by1:
        yy = scr.section(bx0, yy, bx1, "Care Team")
        for role, name in team:
            if yy + 1.7 * u > by1:
                break
            scr.text((bx0, yy + 0.8 * u), role, rel=0.9, fill=t.muted)
            scr.text((bx0 + 0.35 * (bx1 - bx0), yy + 0.8 * u), name, rel=0.9,
                     width=0.65 * (bx1 - bx0))
            yy += 1.7 * u


def flowsheet(scr: Screen, pat: PatientRecord) -> None:
    t, u = scr.t, scr.u
    x0, y0, x1, y1 = body(scr, pat, "Flowsheets")
    ncol = int(np.clip((x1 - x0) / (5.5 * u) - 3, 4, 16))
    y = scr.section(x0, y0, x1, "Adult Inpatient Flowsheet", f"Showing {ncol} h · 1 h interval")
    hours = times(np.arange(ncol)[::-1], "%H:00")
    v = vitals(scr.rng, ncol)

    def row(name: str, vals: NDArray[np.float64] | NDArray[np.int64], lo: float, hi: float,
            fmt: str = "{:.0f}") -> list[Cell]:
        return [name] + [(fmt.format(a), t.danger) if not lo <= a <= hi else fmt.format(a)
                         for a in vals]

    def rand(a: int, b: int) -> NDArray[np.int64]:
        return scr.rng.integers(a, b, ncol)

    def picks(options: tuple[str, ...]) -> list[Cell]:
        return [_pick(scr.rng, options) for _ in range(ncol)]

    rows: list[Row] = ["Vital Signs", row("Temperature (°C)", v["temp"], 36, 37.9, "{:.1f}"),
                       row("Heart rate (bpm)", v["hr"], 60, 100), row("Systolic BP", v["sbp"], 90, 140),
                       row("Diastolic BP", v["dbp"], 60, 90), row("Resp rate", v["rr"], 12, 20),
                       row("SpO2 (%)", v["spo2"], 92, 100),
                       ["O2 device", *picks(("RA", "NC", "NC"))],
                       "Intake / Output", row("PO intake (mL)", rand(0, 4) * 60, 0, 1e9),
                       row("IV fluids (mL)", np.full(ncol, 75), 0, 1e9),
                       row("Urine output (mL)", rand(0, 6) * 40, 1, 1e9),
                       "Neuro / Comfort", ["Level of consciousness"] + ["Alert"] * ncol,
                       row("GCS", np.full(ncol, 15), 15, 15), row("Pain score (0-10)", v["pain"], 0, 6),
                       ["Sedation (RASS)"] + ["0"] * ncol, "Skin / Safety",
                       ["Braden score"] + [str(b) for b in rand(14, 19)],
                       ["Repositioned", *picks(("L side", "R side", "Supine"))],
                       ["Bed alarm"] + ["On"] * ncol,
                       ["Fall risk precautions"] + ["Yes"] * ncol, "Respiratory / Cardiac",
                       ["Breath sounds", *picks(("Clear", "Crackles", "Diminished"))],
                       ["Cough", *picks(("Productive", "Dry", "None"))],
                       row("Incentive spirometry (mL)", rand(6, 13) * 100, 1000, 9999),
                       ["Cardiac rhythm", *picks(("NSR", "NSR", "ST"))],
                       ["Capillary refill"] + ["< 3 s"] * ncol, "Lines / Drains",
                       ["PIV L forearm 20 g"] + ["Patent"] * ncol,
                       ["Dressing", *picks(("C/D/I", "Changed"))]]
    cols = (("Parameter", 3.0),) + tuple((h, 1.0, "r") for h in hours)
    scr.table((x0, y, x1, y1 - round(2.6 * u)), cols, rows)
    buttons(scr, x1, y1 - round(1.9 * u), ("Graph", "Refresh", "Add Column", "File"), x0)


LAYOUTS: dict[str, Layout] = {
    "banner_vitals": banner_vitals, "medications": medications, "labs_chart": labs_chart,
    "notes": notes, "sidebar_list": sidebar_list, "dark_theme": dark_theme,
    "xray_viewer": xray_viewer, "summary_dashboard": summary_dashboard, "flowsheet": flowsheet,
}
"""Screen kind -> the function that draws it."""

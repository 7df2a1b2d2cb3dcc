"""The window chrome every EMR screen shares: title, menu, toolbar, status bar, banner, tabs."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ._canvas import Screen
from ._patients import BASE_TIME, PatientRecord

TABS = ("Summary", "Chart Review", "Vitals", "Results", "Medications", "MAR", "Notes",
        "Orders", "Imaging", "Flowsheets", "Problem List", "Care Plan", "Discharge")


def frame(scr: Screen, pat: PatientRecord) -> tuple[int, int, int, int]:
    """Title bar, menu bar, toolbar and status bar; return the content box."""
    y = _title_and_menu(scr, pat)
    bh = _toolbar(scr, y)
    sh = _status_bar(scr, pat)
    return 0, y + bh + 1, scr.w, scr.h - sh


def _title_and_menu(scr: Screen, pat: PatientRecord) -> int:
    """The title bar with window buttons and the menu bar; return their bottom edge."""
    t, u, d, W = scr.t, scr.u, scr.d, scr.w
    th = round(2.1 * u)
    d.rectangle((0, 0, W, th), fill=t.title_bar)
    scr.text((u, th / 2), f"MediView EHR - {pat['unit']} - PRD", fill=t.title_text, bold=True,
             width=W - 9 * u)
    c = 0.45 * u
    for i, cx in enumerate(W - u * np.array([1.4, 3.6, 5.8])):
        if i == 0:
            d.line((cx - c, th / 2 - c, cx + c, th / 2 + c), fill=t.title_text, width=2)
            d.line((cx - c, th / 2 + c, cx + c, th / 2 - c), fill=t.title_text, width=2)
        elif i == 1:
            d.rectangle((cx - c, th / 2 - c, cx + c, th / 2 + c), outline=t.title_text, width=2)
        else:
            d.line((cx - c, th / 2 + c, cx + c, th / 2 + c), fill=t.title_text, width=2)
    mh = round(1.8 * u)
    d.rectangle((0, th, W, th + mh), fill=t.panel)
    x = u
    for item in ("File", "Edit", "View", "Patient", "Chart", "Orders", "Reports", "Tools",
                 "Window", "Help"):
        if x + scr.font(0.95).getlength(item) > W - u:
            break
        x += scr.text((x, th + mh / 2), item, rel=0.95) + 1.6 * u
    y = th + mh
    d.line((0, y, W, y), fill=t.border)
    return y


def _toolbar(scr: Screen, y: int) -> int:
    """The toolbar below ``y`` with buttons and a patient search box; return its height."""
    t, u, d, W = scr.t, scr.u, scr.d, scr.w
    bh = round(2.7 * u)
    x, by = u, y + (bh - round(1.9 * u)) / 2
    tools = (("Patient Lookup", t.accent), ("Chart Review", t.ok), ("Results", t.series[2]),
             ("Orders", t.warn), ("Notes", t.series[1]), ("In Basket (12)", t.danger),
             ("Print", t.muted), ("Secure Chat", t.accent))
    search_w = 16 * u if W > 60 * u else 0
    for label, icon in tools:
        if x + scr.font(0.92).getlength(label) + 3.1 * u > W - search_w - 2 * u:
            break
        x += scr.button(x, by, label, icon=icon) + 0.5 * u
    if search_w:
        box = (W - u - search_w, by, W - u, by + round(1.9 * u))
        d.rounded_rectangle(box, radius=u // 3, fill=t.bg, outline=t.border)
        scr.text((box[0] + 0.7 * u, by + 0.95 * u), "Search patient, MRN, room…", rel=0.9,
                 fill=t.muted, width=search_w - 1.4 * u)
    d.line((0, y + bh, W, y + bh), fill=t.border)
    return bh


def _status_bar(scr: Screen, pat: PatientRecord) -> int:
    """The status bar naming the user and workstation; return its height."""
    t, u, d, W, H = scr.t, scr.u, scr.d, scr.w, scr.h
    sh = round(1.7 * u)
    d.rectangle((0, H - sh, W, H), fill=t.panel)
    d.line((0, H - sh, W, H - sh), fill=t.border)
    status = f"Ready    User: {pat['user']}    Workstation: {pat['ws']}    Env: PRD"
    now = BASE_TIME.strftime("%a %d %b %Y %H:%M")
    nw = scr.text((W - u, H - sh / 2), now, rel=0.85, fill=t.muted, anchor="rm")
    scr.text((u, H - sh / 2), status, rel=0.85, fill=t.muted, width=W - nw - 3 * u)
    return sh


def banner(scr: Screen, box: Sequence[int], pat: PatientRecord) -> int:
    """The patient banner (name, demographics, attending, allergies); return its bottom edge."""
    t, u, d = scr.t, scr.u, scr.d
    x0, y0, x1, _ = box
    bh = round(4.4 * u)
    d.rectangle((x0, y0, x1, y0 + bh), fill=t.banner)
    d.line((x0, y0 + bh, x1, y0 + bh), fill=t.border)
    r, cy = round(1.5 * u), y0 + bh / 2
    d.ellipse((x0 + u, cy - r, x0 + u + 2 * r, cy + r), fill=t.accent)
    initials = pat["last"][0] + pat["name"].split(", ")[1][0]
    scr.text((x0 + u + r, cy), initials, rel=1.2, fill=(255, 255, 255), bold=True, anchor="mm")
    span = x1 - x0
    tx, cw = x0 + 2 * u + 2 * r, 0.42 * span - 2 * u - 2 * r
    scr.text((tx, y0 + 1.45 * u), pat["name"], rel=1.35, bold=True, width=cw)
    scr.text((tx, y0 + 3.1 * u), f"{pat['sex']}  ·  {pat['age']} y  ·  DOB {pat['dob']}  ·  MRN "
             f"{pat['mrn']}  ·  {pat['room']}", rel=0.9, fill=t.muted, width=cw)
    mx, mw = x0 + 0.43 * span, 0.26 * span
    day = (BASE_TIME - pat["admit"]).days + 1
    scr.text((mx, y0 + 1.45 * u), f"Attending: {pat['attending']}", rel=0.9, width=mw)
    scr.text((mx, y0 + 3.1 * u), f"Admitted {pat['admit']:%m/%d/%Y} (Day {day}) · {pat['cc']}",
             rel=0.9, fill=t.muted, width=mw)
    rx, rw = x0 + 0.7 * span, 0.3 * span - u
    scr.badge(rx, y0 + 0.55 * u, "ALLERGIES: " + ", ".join(pat["allergies"]), t.danger,
              t.danger_soft, rw)
    w = scr.badge(rx, y0 + 2.35 * u, pat["code"], t.accent, t.accent_soft, rw)
    scr.badge(rx + w + 0.5 * u, y0 + 2.35 * u, "Isolation: Contact", t.warn, t.warn_soft,
              rw - w - 0.5 * u)
    return y0 + bh + 1


def tabs(scr: Screen, box: Sequence[int], active: str) -> int:
    """The record's tab strip with ``active`` selected; return its bottom edge."""
    t, u, d = scr.t, scr.u, scr.d
    x0, y0, x1, _ = box
    th = round(2.3 * u)
    d.rectangle((x0, y0, x1, y0 + th), fill=t.panel)
    d.line((x0, y0 + th, x1, y0 + th), fill=t.border)
    x = x0 + u
    for label in TABS:
        w = scr.font(0.95).getlength(label) + 2 * u
        if x + w > x1 - u:
            break
        if label == active:
            d.rectangle((x, y0 + 0.35 * u, x + w, y0 + th), fill=t.bg, outline=t.border)
            d.line((x, y0 + 0.35 * u, x + w, y0 + 0.35 * u), fill=t.accent, width=3)
            d.line((x + 1, y0 + th, x + w - 1, y0 + th), fill=t.bg)
        scr.text((x + u, y0 + 0.2 * u + th / 2), label, rel=0.95, bold=label == active,
                 fill=t.accent if label == active else t.text)
        x += w + 0.25 * u
    return y0 + th + 1


def nav(scr: Screen, box: Sequence[int], active: str) -> int:
    """Narrow left navigation column; return its right edge."""
    t, u = scr.t, scr.u
    x0, y0, _, y1 = box
    x1 = x0 + max(9 * u, round(0.11 * scr.w))
    scr.d.rectangle((x0, y0, x1, y1), fill=t.panel)
    scr.d.line((x1, y0, x1, y1), fill=t.border)
    y = y0 + 0.8 * u
    for label in TABS:
        if y + 2.2 * u > y1:
            break
        if label == active:
            scr.d.rectangle((x0, y, x1 - 1, y + 2.2 * u), fill=t.accent_soft)
            scr.d.rectangle((x0, y, x0 + 3, y + 2.2 * u), fill=t.accent)
        scr.text((x0 + u, y + 1.1 * u), label, rel=0.95, bold=label == active,
                 width=x1 - x0 - 2 * u)
        y += 2.2 * u
    return x1 + 1


def buttons(scr: Screen, x1: float, y: float, labels: Sequence[str], x0: float = 0) -> None:
    """Right-aligned button row ending at ``x1`` (last label is the primary action)."""
    font, u = scr.font(0.92), scr.u
    x = x1 - sum(font.getlength(lb) + 2.3 * u for lb in labels)
    for i, label in enumerate(labels):
        if x >= x0:
            scr.button(x, y, label, primary=i == len(labels) - 1)
        x += font.getlength(label) + 2.3 * u


def body(scr: Screen, pat: PatientRecord, tab: str, nav_column: bool = False) -> tuple[int, int, int, int]:
    """Chrome, optional navigation column, banner and tabs; return the content box inside them."""
    x0, y0, x1, y1 = frame(scr, pat)
    if nav_column:
        x0 = nav(scr, (x0, y0, x1, y1), tab)
    y0 = banner(scr, (x0, y0, x1, y1), pat)
    y0 = tabs(scr, (x0, y0, x1, y1), tab)
    u = scr.u
    return x0 + u, y0 + u, x1 - u, y1 - u

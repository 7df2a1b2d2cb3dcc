"""Synthetic EMR viewer screens, drawn in code, as watermark test content.

The watermark has to survive on mostly-white, text-heavy record screens, so the
benchmarks need realistic ones without shipping binary files or real records.
Every screen here is drawn with Pillow from invented data (no real patients or
staff) and is a pure function of ``(kind, size, seed)``.

Examples
--------
>>> from benchmarks.screens import SCREEN_KINDS, render_screen
>>> render_screen("medications", size=(1366, 768), seed=3).shape
(768, 1366, 3)
>>> len(SCREEN_KINDS) >= 8
True
"""

from __future__ import annotations

import functools
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Sequence, Union

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

__all__ = ["SCREEN_KINDS", "natural_images", "render_screen", "screen_set"]

SCREEN_KINDS: tuple[str, ...] = (
    "banner_vitals", "medications", "labs_chart", "notes", "sidebar_list",
    "dark_theme", "xray_viewer", "summary_dashboard", "flowsheet",
)
_MIN_SIZE = (320, 240)
_BASE_TIME = datetime(2024, 3, 4, 9, 40)
RGB = tuple[int, int, int]
Cell = Union[str, tuple[str, RGB]]

# Invented data. Name parts are combined at random; no real person is meant.
_FIRST = ("Aurelio", "Brenna", "Caspian", "Delphine", "Emrys", "Fenna", "Galen", "Hollis",
          "Isolde", "Jovan", "Kestrel", "Linnea", "Marek", "Nerys", "Orrin", "Perpetua",
          "Quillon", "Rosalind", "Soren", "Tamsin", "Ulric", "Vesna", "Wendeline", "Yannick")
_LAST = ("Abernathy-Kroll", "Brightwater", "Calloway", "Dunmore", "Esterhuys", "Fairbanks",
         "Gallowglass", "Harrowgate", "Iverssen", "Jessamine", "Kettleborough", "Lindqvist",
         "Mortensby", "Nightwell", "Oakhurst", "Pembridge", "Quarrington", "Rosenthorpe",
         "Silverdale", "Thistlewood", "Underhill", "Vantongeren", "Whitlock", "Yarborough")
_ALLERGIES = ("Penicillin", "Sulfonamides", "Latex", "Codeine", "Iodinated contrast",
              "Peanuts", "Aspirin", "Cephalexin", "Morphine")
_COMPLAINTS = (("community-acquired pneumonia", "J18.9"), ("acute decompensated heart failure",
               "I50.23"), ("cellulitis of the left lower extremity", "L03.116"),
               ("COPD exacerbation", "J44.1"), ("urinary tract infection with sepsis", "A41.9"),
               ("diabetic ketoacidosis", "E11.10"))
_PROBLEMS = (("Essential hypertension", "I10"), ("Type 2 diabetes mellitus", "E11.9"),
             ("Hyperlipidemia", "E78.5"), ("Chronic kidney disease, stage 3a", "N18.31"),
             ("Obstructive sleep apnea", "G47.33"), ("Osteoarthritis of knee", "M17.9"),
             ("Gastroesophageal reflux disease", "K21.9"), ("Vitamin D deficiency", "E55.9"),
             ("Obesity, BMI 32", "E66.9"), ("Major depressive disorder", "F33.1"),
             ("Iron deficiency anemia", "D50.9"))
_UNITS = ("4B Medicine", "5 West Cardiology", "3A Surgical", "6C Oncology", "2 North ICU")
# (name, dose, route, frequency)
_DRUGS = (("Metoprolol tartrate", "25 mg", "PO", "BID"), ("Lisinopril", "10 mg", "PO", "Daily"),
          ("Atorvastatin", "40 mg", "PO", "Nightly"), ("Heparin", "5,000 units", "SubQ", "q8h"),
          ("Pantoprazole", "40 mg", "IV", "Daily"), ("Ceftriaxone", "1 g", "IV", "q24h"),
          ("Acetaminophen", "650 mg", "PO", "q6h PRN"), ("Ondansetron", "4 mg", "IV", "q8h PRN"),
          ("Insulin lispro", "Sliding scale", "SubQ", "AC & HS"),
          ("Furosemide", "40 mg", "IV", "BID"), ("Potassium chloride", "20 mEq", "PO", "Daily"),
          ("Amlodipine", "5 mg", "PO", "Daily"), ("Levothyroxine", "75 mcg", "PO", "Daily"),
          ("Oxycodone", "5 mg", "PO", "q4h PRN"), ("Sodium chloride 0.9%", "75 mL/h", "IV",
          "Continuous"), ("Metformin", "500 mg", "PO", "BID"), ("Senna", "8.6 mg", "PO",
          "Nightly PRN"), ("Azithromycin", "500 mg", "IV", "q24h"))
# (name, units, reference low, reference high, decimals)
_LABS = (("Sodium", "mmol/L", 135, 145, 0), ("Potassium", "mmol/L", 3.5, 5.1, 1),
         ("Chloride", "mmol/L", 98, 107, 0), ("CO2", "mmol/L", 22, 29, 0),
         ("BUN", "mg/dL", 7, 20, 0), ("Creatinine", "mg/dL", 0.6, 1.2, 2),
         ("Glucose", "mg/dL", 70, 99, 0), ("Calcium", "mg/dL", 8.6, 10.2, 1),
         ("Magnesium", "mg/dL", 1.7, 2.2, 1), ("WBC", "K/uL", 4.0, 11.0, 1),
         ("Hemoglobin", "g/dL", 12.0, 16.0, 1), ("Hematocrit", "%", 36, 46, 1),
         ("Platelets", "K/uL", 150, 400, 0), ("INR", "", 0.8, 1.2, 2), ("ALT", "U/L", 7, 56, 0),
         ("AST", "U/L", 10, 40, 0), ("Albumin", "g/dL", 3.5, 5.0, 1),
         ("Lactate", "mmol/L", 0.5, 2.2, 1), ("Troponin I", "ng/mL", 0.0, 0.04, 2),
         ("TSH", "mIU/L", 0.4, 4.0, 2))
_NOTE = {
    "Subjective": ("{name} is a {age}-year-old {sexw} admitted on {admit} with {cc}.",
                   "Overnight reports improved breathing and a mild dry cough; denies chest pain, "
                   "palpitations or dyspnea at rest.",
                   "Tolerating a regular diet with fair appetite and ambulated in the hallway "
                   "twice with physical therapy.",
                   "Slept poorly because of frequent vital sign checks; pain controlled with "
                   "scheduled acetaminophen.",
                   "Family at bedside this morning and updated on the plan of care."),
    "Objective": ("Vitals: T {temp} °C, HR {hr}, BP {bp}, RR {rr}, SpO2 {spo2}% on 2 L nasal "
                  "cannula.", "General: alert and oriented, in no acute distress. Lungs with "
                  "scattered bibasilar crackles, no wheeze.", "Cardiac: regular rate and rhythm, "
                  "no murmur. Abdomen soft, non-tender, bowel sounds present.",
                  "Extremities: trace bilateral ankle edema, improved from yesterday. Peripheral "
                  "IV site clean and dry.", "Labs notable for creatinine {cr} (baseline 0.9) and "
                  "potassium {k}; chest film reviewed, see radiology report."),
    "Assessment": ("{Cc}, clinically improving on current therapy.",
                   "Acute kidney injury, likely prerenal in the setting of poor oral intake, "
                   "trending toward baseline.", "Type 2 diabetes mellitus with hyperglycemia, "
                   "glucose 140-210 on sliding scale insulin.",
                   "Hypertension, controlled. Hyperlipidemia, stable on statin therapy."),
    "Plan": ("Continue IV ceftriaxone, day {day} of 5; transition to oral antibiotics once "
             "afebrile for 24 hours.", "Repeat basic metabolic panel in the morning, encourage "
             "oral fluids and hold lisinopril today.", "Continue subcutaneous heparin for VTE "
             "prophylaxis; incentive spirometry ten times an hour while awake.",
             "Physical therapy and case management consulted for discharge planning; "
             "anticipate discharge in 1-2 days.", "Code status reviewed with the patient: "
             "{code}. Health care proxy updated by phone."),
}
_ROS = ("Constitutional: positive for fatigue, negative for chills. Respiratory: positive for "
        "cough, negative for hemoptysis. Cardiovascular: negative for orthopnea. GI: negative for "
        "nausea, vomiting or melena. GU: negative for dysuria. Neuro: negative for focal weakness. "
        "All other systems reviewed and negative.")
_REPORT = (("Clinical History", "{age}-year-old with fever, productive cough and hypoxia. "
            "Evaluate for pneumonia."),
           ("Technique", "PA and lateral views of the chest, {when}. Comparison: {prior}."),
           ("Findings", "The cardiomediastinal silhouette is within normal limits for size. There "
            "is patchy airspace opacity in the right lower lobe. No pleural effusion or "
            "pneumothorax. The osseous structures are intact with mild degenerative change of "
            "the thoracic spine. Support lines: none."),
           ("Impression", "1. Right lower lobe airspace opacity, consistent with pneumonia in the "
            "appropriate clinical setting. 2. No pleural effusion. Recommend follow-up "
            "radiograph in 6-8 weeks to document resolution."))


@dataclass(frozen=True)
class _Theme:
    bg: RGB = (255, 255, 255)
    panel: RGB = (244, 246, 249)
    text: RGB = (31, 35, 40)
    muted: RGB = (98, 106, 116)
    border: RGB = (206, 212, 220)
    header: RGB = (232, 237, 243)
    row_alt: RGB = (247, 249, 252)
    banner: RGB = (235, 242, 250)
    title_bar: RGB = (22, 58, 99)
    title_text: RGB = (238, 243, 248)
    accent: RGB = (0, 100, 178)
    accent_soft: RGB = (221, 235, 250)
    danger: RGB = (196, 28, 28)
    danger_soft: RGB = (253, 230, 230)
    warn: RGB = (190, 100, 0)
    warn_soft: RGB = (255, 240, 212)
    ok: RGB = (28, 128, 60)
    ref_band: RGB = (226, 243, 231)
    series: tuple[RGB, ...] = ((0, 100, 178), (214, 88, 30), (118, 78, 170))


_LIGHT = _Theme()
_DARK = _Theme(bg=(30, 31, 34), panel=(40, 42, 46), text=(224, 227, 231), muted=(150, 156, 163),
               border=(66, 69, 75), header=(49, 52, 57), row_alt=(35, 37, 40),
               banner=(38, 45, 56), title_bar=(19, 20, 23), title_text=(214, 219, 224),
               accent=(80, 160, 250), accent_soft=(36, 56, 84), danger=(255, 110, 110),
               danger_soft=(78, 36, 38), warn=(255, 178, 70), warn_soft=(76, 57, 28),
               ok=(100, 200, 122), ref_band=(36, 58, 44),
               series=((80, 160, 250), (255, 150, 90), (190, 150, 255)))


@functools.lru_cache(maxsize=64)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _fit(text: str, font: ImageFont.FreeTypeFont, width: float) -> str:
    """Shorten ``text`` with an ellipsis so that it fits in ``width`` pixels."""
    if font.getlength(text) <= width:
        return text
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if font.getlength(text[:mid] + "…") <= width else (lo, mid - 1)
    return text[:lo].rstrip() + "…" if lo else ""


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: float) -> list[str]:
    lines: list[str] = []
    cur = ""
    for word in text.split():
        trial = f"{cur} {word}" if cur else word
        if cur and font.getlength(trial) > width:
            lines.append(cur)
            cur = word
        else:
            cur = trial
    return lines + [cur] if cur else lines


def _nice_ticks(lo: float, hi: float, n: int = 5) -> NDArray[np.float64]:
    hi = max(hi, lo + 1e-6)
    raw = (hi - lo) / n
    mag = 10.0 ** np.floor(np.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    return np.arange(np.floor(lo / step) * step, np.ceil(hi / step) * step + step / 2, step)


def _pick(rng: np.random.Generator, seq: Sequence, k: int | None = None):
    if k is None:
        return seq[int(rng.integers(len(seq)))]
    return [seq[i] for i in rng.choice(len(seq), size=min(k, len(seq)), replace=False)]


class _Screen:
    """A canvas with a theme, a base font size ``u`` (the layout unit) and widgets."""

    def __init__(self, size: tuple[int, int], theme: _Theme, rng: np.random.Generator) -> None:
        self.w, self.h = size
        self.t, self.rng = theme, rng
        self.u = max(8, round(14 * min(self.w / 1920, self.h / 1080) ** 0.6))
        self.img = Image.new("RGB", size, theme.bg)
        self.d = ImageDraw.Draw(self.img)

    def font(self, rel: float = 1.0) -> ImageFont.FreeTypeFont:
        return _font(max(7, round(self.u * rel)))

    def text(self, xy: tuple[float, float], text: str, *, rel: float = 1.0,
             fill: RGB | None = None, bold: bool = False, width: float | None = None,
             anchor: str = "lm") -> float:
        """Draw one line of text (fitted to ``width``); return its advance width."""
        font = self.font(rel)
        if width is not None:
            text = _fit(text, font, width)
        fill = fill or self.t.text
        self.d.text(xy, text, font=font, fill=fill, anchor=anchor,
                    stroke_width=0.028 * font.size if bold else 0, stroke_fill=fill)
        return font.getlength(text)

    def button(self, x: float, y: float, label: str, *, primary: bool = False,
               icon: RGB | None = None) -> float:
        u, t = self.u, self.t
        w = self.font(0.92).getlength(label) + 1.8 * u + (1.3 * u if icon else 0)
        h = round(1.9 * u)
        self.d.rounded_rectangle((x, y, x + w, y + h), radius=u // 3,
                                 fill=t.accent if primary else t.panel, outline=t.border)
        tx = x + 0.9 * u
        if icon:
            s = 0.45 * u
            self.d.rounded_rectangle((tx, y + h / 2 - s, tx + 2 * s, y + h / 2 + s), radius=2,
                                     fill=icon)
            tx += 1.3 * u
        self.text((tx, y + h / 2), label, rel=0.92, fill=(255, 255, 255) if primary else t.text)
        return w

    def badge(self, x: float, y: float, label: str, fg: RGB, bg: RGB, maxw: float) -> float:
        font, u = self.font(0.88), self.u
        label = _fit(label, font, maxw - 1.4 * u)
        w = font.getlength(label) + 1.4 * u
        if label:
            self.d.rounded_rectangle((x, y, x + w, y + 1.6 * u), radius=u // 2, fill=bg, outline=fg)
            self.text((x + 0.7 * u, y + 0.8 * u), label, rel=0.88, fill=fg, bold=True)
        return w

    def section(self, x0: float, y: float, x1: float, title: str, right: str = "") -> int:
        u = self.u
        self.text((x0, y + 0.9 * u), title, rel=1.12, bold=True, width=x1 - x0)
        if right:
            self.text((x1, y + 0.9 * u), right, rel=0.88, fill=self.t.muted, anchor="rm")
        self.d.line((x0, y + 1.9 * u, x1, y + 1.9 * u), fill=self.t.border)
        return round(y + 2.4 * u)

    def table(self, box: Sequence[float], cols: Sequence[tuple], rows: Sequence,
              *, selected: int = -1, rel: float = 0.95) -> int:
        """Grid table. ``cols``: (header, weight[, "r"]); a ``str`` row is a section row."""
        x0, y0, x1, y1 = (int(v) for v in box)
        t, u = self.t, self.u
        rh = round(1.75 * u * rel)
        wts = np.array([c[1] for c in cols], float)
        xs = np.round(x0 + np.concatenate([[0], np.cumsum(wts)]) / wts.sum() * (x1 - x0))
        xs = xs.astype(int)
        n = int(max(0, min(len(rows), (y1 - y0) // rh - 1)))
        self.d.rectangle((x0, y0, x1, y0 + rh), fill=t.header)
        for r, row in enumerate([None, *rows[:n]]):
            y = y0 + r * rh
            if isinstance(row, str):
                self.d.rectangle((x0, y, x1, y + rh), fill=t.accent_soft)
                self.text((x0 + 0.5 * u, y + rh / 2), row, rel=rel, bold=True, width=x1 - x0 - u)
                continue
            if r - 1 == selected:
                self.d.rectangle((x0, y, x1, y + rh), fill=t.accent_soft)
            elif r and r % 2 == 0:
                self.d.rectangle((x0, y, x1, y + rh), fill=t.row_alt)
            for x in xs[1:-1]:
                self.d.line((x, y, x, y + rh), fill=t.border)
            cells = [c[0] for c in cols] if row is None else row
            for i, cell in enumerate(cells[:len(cols)]):
                text, fill = (cell, None) if isinstance(cell, str) else cell
                right = len(cols[i]) > 2 and cols[i][2] == "r"
                pad, cw = 0.45 * u, xs[i + 1] - xs[i] - 0.9 * u
                xy = (xs[i + 1] - pad, y + rh / 2) if right else (xs[i] + pad, y + rh / 2)
                self.text(xy, text, rel=rel, fill=fill or (t.muted if row is None else None),
                          bold=row is None or fill is not None, width=cw,
                          anchor="rm" if right else "lm")
        yb = y0 + (n + 1) * rh
        for r in range(1, n + 1):
            self.d.line((x0, y0 + r * rh, x1, y0 + r * rh), fill=t.border)
        self.d.rectangle((x0, y0, x1, yb), outline=t.border)
        return yb

    def chart(self, box: Sequence[float], title: str, xlabels: Sequence[str],
              series: Sequence[tuple[str, NDArray]], *, ref: tuple[float, float] | None = None,
              units: str = "") -> None:
        """Line chart with a reference band, gridlines, ticks and a legend."""
        x0, y0, x1, y1 = (int(v) for v in box)
        t, u, d = self.t, self.u, self.d
        d.rectangle((x0, y0, x1, y1), fill=t.bg, outline=t.border)
        title = f"{title} ({units})" if units else title
        self.text((x0 + 0.8 * u, y0 + 1.1 * u), title, bold=True, width=(x1 - x0) / 2)
        lx = x1 - 0.8 * u
        for (name, _), color in reversed(list(zip(series, t.series))):
            lx -= self.text((lx, y0 + 1.1 * u), name, rel=0.85, fill=t.muted, anchor="rm") + 2.6 * u
            d.line((lx + 0.5 * u, y0 + 1.1 * u, lx + 2 * u, y0 + 1.1 * u), fill=color, width=3)
        px0, px1, py0, py1 = x0 + 4 * u, x1 - 1.2 * u, y0 + 3 * u, y1 - 2.2 * u
        if px1 - px0 < 4 * u or py1 - py0 < 3 * u:
            return
        values = np.concatenate([np.asarray(v, float) for _, v in series] + [np.array(ref or [])])
        nticks = max(2, min(6, int((py1 - py0) / (2 * u))))
        ticks = _nice_ticks(values.min(), values.max(), n=nticks)
        lo, hi = ticks[0], ticks[-1]

        def ymap(v: NDArray | float) -> NDArray:
            return py1 - (np.asarray(v, float) - lo) / (hi - lo) * (py1 - py0)

        if ref is not None:
            d.rectangle((px0, ymap(ref[1]), px1, ymap(ref[0])), fill=t.ref_band)
        for tk in ticks:
            y = float(ymap(tk))
            d.line((px0, y, px1, y), fill=t.border)
            self.text((px0 - 0.5 * u, y), f"{tk:g}", rel=0.8, fill=t.muted, anchor="rm")
        n = len(xlabels)
        xs = np.linspace(px0 + u, px1 - u, n)
        step = int(np.ceil(n * (self.font(0.8).getlength(max(xlabels, key=len)) + u) / (px1 - px0)))
        for i in range(n):
            d.line((xs[i], py1, xs[i], py1 + 0.35 * u), fill=t.muted)
            if i % max(1, step) == 0:
                self.text((xs[i], py1 + 1.1 * u), xlabels[i], rel=0.8, fill=t.muted, anchor="mm")
        d.line((px0, py0, px0, py1, px1, py1), fill=t.muted)
        r = max(2, u // 5)
        for (_, vals), color in zip(series, t.series):
            pts = list(zip(xs.tolist(), ymap(vals).tolist()))
            d.line(pts, fill=color, width=max(2, u // 7), joint="curve")
            for x, y in pts:
                d.ellipse((x - r, y - r, x + r, y + r), fill=t.bg, outline=color, width=2)

    def paragraphs(self, box: Sequence[float], blocks: Sequence[tuple[str, str]]) -> int:
        """Headed, word-wrapped paragraphs; stops at the box bottom."""
        x0, y, x1, y1 = box
        u, font = self.u, self.font()
        lh = round(1.45 * u)
        for head, body in blocks:
            if y + 2 * lh > y1:
                break
            self.text((x0, y + lh / 2), head, bold=True, fill=self.t.accent)
            y += lh
            for line in _wrap(body, font, x1 - x0):
                if y + lh > y1:
                    return int(y)
                self.text((x0, y + lh / 2), line)
                y += lh
            y += 0.5 * lh
        return int(y)

    def card(self, box: Sequence[float], title: str) -> tuple[int, int, int, int]:
        x0, y0, x1, y1 = (int(v) for v in box)
        u = self.u
        self.d.rounded_rectangle((x0, y0, x1, y1), radius=u // 2, fill=self.t.bg,
                                 outline=self.t.border)
        self.text((x0 + u, y0 + 1.2 * u), title, rel=1.05, bold=True, width=x1 - x0 - 2 * u)
        self.d.line((x0, y0 + round(2.4 * u), x1, y0 + round(2.4 * u)), fill=self.t.border)
        return x0 + u, y0 + round(3 * u), x1 - u, y1 - u


# ----------------------------------------------------------------- invented data
def _patient(seed: int) -> dict:
    rng = np.random.default_rng([seed, 7])
    age = int(rng.integers(24, 92))
    admit = _BASE_TIME - timedelta(days=int(rng.integers(1, 6)), hours=int(rng.integers(0, 20)))
    sex = _pick(rng, ("F", "M"))
    last = _pick(rng, _LAST)
    pat = dict(
        name=f"{last.upper()}, {_pick(rng, _FIRST)} {chr(65 + int(rng.integers(26)))}.",
        last=last, age=age, sex=sex, sexw="woman" if sex == "F" else "man",
        dob=f"{_BASE_TIME.year - age}-{int(rng.integers(1, 13)):02d}-"
            f"{int(rng.integers(1, 29)):02d}",
        mrn=f"{int(rng.integers(10**7, 10**8))}", unit=_pick(rng, _UNITS),
        room=f"Rm {int(rng.integers(2, 7))}{_pick(rng, 'ABC')}-{int(rng.integers(1, 40)):02d}",
        attending=f"Dr. {_pick(rng, _FIRST)} {_pick(rng, _LAST)}",
        user=f"{_pick(rng, _FIRST)} {_pick(rng, _LAST)}, RN",
        allergies=_pick(rng, _ALLERGIES, int(rng.integers(1, 4))), admit=admit,
        **dict(zip(("cc", "icd"), _pick(rng, _COMPLAINTS))),
        code=_pick(rng, ("Full Code", "DNR/DNI", "Full Code")),
        ws=f"WS-{int(rng.integers(1, 9))}{_pick(rng, 'ABCD')}-{int(rng.integers(100, 999))}",
    )
    pat["Cc"] = pat["cc"][0].upper() + pat["cc"][1:]
    return pat


def _vitals(rng: np.random.Generator, n: int) -> dict[str, NDArray]:
    """``n`` readings, newest first; ``time`` is hours before now."""

    def series(mean: float, sd: float, lo: float, hi: float, dec: int = 0) -> NDArray:
        shocks = rng.normal(0, sd, n)
        x = np.empty(n)
        x[0] = mean + shocks[0]
        for i in range(1, n):  # AR(1): values wander but return to the mean
            x[i] = mean + 0.75 * (x[i - 1] - mean) + 0.66 * shocks[i]
        return np.clip(x, lo, hi).round(dec)

    sbp = series(128, 11, 88, 185)
    return dict(time=np.cumsum(rng.choice([2, 4, 4], n)) - 2, temp=series(37.3, 0.4, 36.1, 39.2, 1),
                hr=series(90, 9, 52, 135), sbp=sbp,
                dbp=np.minimum(series(76, 7, 45, 105), sbp - 28),
                rr=series(18, 2, 12, 28), spo2=series(95, 1.6, 88, 100), pain=rng.integers(0, 7, n))


def _lab_value(rng: np.random.Generator, lab: tuple) -> tuple[str, str]:
    name, _, lo, hi, dec = lab
    span, r = hi - lo, rng.random()
    if r < 0.18:  # about 30% of results flagged, most of them high
        v = hi + span * rng.uniform(0.05, 0.6)
    elif r < 0.3:
        v = max(0.0, lo - span * rng.uniform(0.05, 0.3))
    else:
        v = lo + span * rng.uniform(0.1, 0.9)
    flag = "H" if v > hi else "L" if v < lo else ""
    return f"{v:.{dec}f}", flag


def _lab_row(scr: _Screen, lab: tuple, when: datetime) -> list[Cell]:
    value, flag = _lab_value(scr.rng, lab)
    return [lab[0], (value, scr.t.danger) if flag else value, (flag, scr.t.danger) if flag else "",
            lab[1], f"{lab[2]:g} - {lab[3]:g}", f"{when:%m/%d %H:%M}", "Final"]


def _lab_rows(scr: _Screen, n: int) -> list[list[Cell]]:
    return [_lab_row(scr, lab, _BASE_TIME - timedelta(hours=4 + 3 * i // 5))
            for i, lab in enumerate(_pick(scr.rng, _LABS, n))]


def _lab_panels(scr: _Screen) -> list:
    """Results grouped under panel rows (BMP, CBC, ...), newest collection first."""
    rows: list = []
    for name, idx, hours in (("Basic Metabolic Panel", range(0, 9), 4), ("CBC", range(9, 13), 4),
                             ("Hepatic & Other", range(13, 20), 6),
                             ("Basic Metabolic Panel", range(0, 9), 28)):
        when = _BASE_TIME - timedelta(hours=hours, minutes=int(scr.rng.integers(0, 50)))
        rows.append(f"{name}  -  collected {when:%m/%d/%Y %H:%M}  -  Final")
        rows += [_lab_row(scr, _LABS[i], when) for i in idx]
    return rows


def _times(hours: NDArray, fmt: str = "%m/%d %H:%M") -> list[str]:
    return [(_BASE_TIME - timedelta(hours=int(h))).strftime(fmt) for h in hours]


# ----------------------------------------------------------------- shared chrome
def _frame(scr: _Screen, pat: dict) -> tuple[int, int, int, int]:
    """Title bar, menu bar, toolbar and status bar; return the content box."""
    t, u, d, W, H = scr.t, scr.u, scr.d, scr.w, scr.h
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
    sh = round(1.7 * u)
    d.rectangle((0, H - sh, W, H), fill=t.panel)
    d.line((0, H - sh, W, H - sh), fill=t.border)
    status = f"Ready    User: {pat['user']}    Workstation: {pat['ws']}    Env: PRD"
    now = _BASE_TIME.strftime("%a %d %b %Y %H:%M")
    nw = scr.text((W - u, H - sh / 2), now, rel=0.85, fill=t.muted, anchor="rm")
    scr.text((u, H - sh / 2), status, rel=0.85, fill=t.muted, width=W - nw - 3 * u)
    return 0, y + bh + 1, W, H - sh


def _banner(scr: _Screen, box: Sequence[int], pat: dict) -> int:
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
    day = (_BASE_TIME - pat["admit"]).days + 1
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


_TABS = ("Summary", "Chart Review", "Vitals", "Results", "Medications", "MAR", "Notes",
         "Orders", "Imaging", "Flowsheets", "Problem List", "Care Plan", "Discharge")


def _tabs(scr: _Screen, box: Sequence[int], active: str) -> int:
    t, u, d = scr.t, scr.u, scr.d
    x0, y0, x1, _ = box
    th = round(2.3 * u)
    d.rectangle((x0, y0, x1, y0 + th), fill=t.panel)
    d.line((x0, y0 + th, x1, y0 + th), fill=t.border)
    x = x0 + u
    for label in _TABS:
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


def _nav(scr: _Screen, box: Sequence[int], active: str) -> int:
    """Narrow left navigation column; return its right edge."""
    t, u = scr.t, scr.u
    x0, y0, _, y1 = box
    x1 = x0 + max(9 * u, round(0.11 * scr.w))
    scr.d.rectangle((x0, y0, x1, y1), fill=t.panel)
    scr.d.line((x1, y0, x1, y1), fill=t.border)
    y = y0 + 0.8 * u
    for label in _TABS:
        if y + 2.2 * u > y1:
            break
        if label == active:
            scr.d.rectangle((x0, y, x1 - 1, y + 2.2 * u), fill=t.accent_soft)
            scr.d.rectangle((x0, y, x0 + 3, y + 2.2 * u), fill=t.accent)
        scr.text((x0 + u, y + 1.1 * u), label, rel=0.95, bold=label == active,
                 width=x1 - x0 - 2 * u)
        y += 2.2 * u
    return x1 + 1


def _buttons(scr: _Screen, x1: float, y: float, labels: Sequence[str], x0: float = 0) -> None:
    """Right-aligned button row ending at ``x1`` (last label is the primary action)."""
    font, u = scr.font(0.92), scr.u
    x = x1 - sum(font.getlength(lb) + 2.3 * u for lb in labels)
    for i, label in enumerate(labels):
        if x >= x0:
            scr.button(x, y, label, primary=i == len(labels) - 1)
        x += font.getlength(label) + 2.3 * u


# ----------------------------------------------------------------- panels
_VITAL_COLS = (("Date/Time", 1.3), ("Temp °C", 0.8, "r"), ("HR", 0.6, "r"), ("BP", 0.9, "r"),
               ("RR", 0.6, "r"), ("SpO2 %", 0.8, "r"), ("O2 Device", 1.2), ("Pain", 0.6, "r"),
               ("Entered By", 1.4))
_MED_COLS = (("Medication", 2.2), ("Dose", 1.0), ("Route", 0.6), ("Frequency", 1.0),
             ("Start", 0.9), ("Next Due", 0.9), ("Prescriber", 1.5), ("Status", 0.8))
_LAB_COLS = (("Test", 1.4), ("Result", 0.8, "r"), ("Flag", 0.5), ("Units", 0.8),
             ("Reference", 1.0), ("Collected", 1.0), ("Status", 0.7))


def _vital_rows(scr: _Screen, v: dict, pat: dict) -> list[list[Cell]]:
    t, rows = scr.t, []
    for i, when in enumerate(_times(v["time"])):
        temp = f"{v['temp'][i]:.1f}"
        rows.append([when, (temp, t.danger) if v["temp"][i] >= 38 else temp, f"{v['hr'][i]:.0f}",
                     f"{v['sbp'][i]:.0f}/{v['dbp'][i]:.0f}", f"{v['rr'][i]:.0f}",
                     f"{v['spo2'][i]:.0f}", _pick(scr.rng, ("Room air", "Nasal cannula 2 L")),
                     str(v["pain"][i]), pat["user"] if i % 3 else "Auto (monitor)"])
    return rows


def _med_rows(scr: _Screen, pat: dict, n: int) -> list[list[Cell]]:
    t, rows = scr.t, []
    for name, dose, route, freq in _pick(scr.rng, _DRUGS, n):
        start = pat["admit"] + timedelta(hours=int(scr.rng.integers(0, 30)))
        due = _BASE_TIME + timedelta(minutes=int(scr.rng.integers(10, 600)))
        status = _pick(scr.rng, (("Active", t.ok),) * 5 + (("On hold", t.warn),))
        rows.append([name, dose, route, freq, f"{start:%m/%d %H:%M}",
                     "PRN" if "PRN" in freq else f"{due:%H:%M}", pat["attending"], status])
    return rows


def _trend_chart(scr: _Screen, box: Sequence[float], lab: tuple, days: int = 8) -> None:
    name, units, lo, hi, dec = lab
    vals = np.clip((lo + hi) / 2 + (hi - lo) * (0.9 - np.cumsum(scr.rng.normal(0.12, 0.18, days))),
                   0, None).round(dec + 1)
    labels = [(_BASE_TIME - timedelta(days=days - 1 - i)).strftime("%m/%d") for i in range(days)]
    scr.chart(box, f"{name} trend", labels, [(name, vals)], ref=(lo, hi), units=units)


def _xray(width: int, height: int, rng: np.random.Generator) -> NDArray[np.uint8]:
    """Procedural PA chest radiograph: soft tissue, lungs, heart, spine, ribs, noise."""
    ws = min(320, width)
    hs = max(8, round(ws * height / max(width, 1)))
    y, x = np.meshgrid(np.linspace(0, 1, hs, dtype=np.float32),
                       np.linspace(-1, 1, ws, dtype=np.float32), indexing="ij")
    ax = np.abs(x)

    def blob(cx: float, cy: float, rx: float, ry: float, sharp: float = 9.0) -> NDArray:
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


# ----------------------------------------------------------------- screens
def _body(scr: _Screen, pat: dict, tab: str, nav: bool = False) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = _frame(scr, pat)
    if nav:
        x0 = _nav(scr, (x0, y0, x1, y1), tab)
    y0 = _banner(scr, (x0, y0, x1, y1), pat)
    y0 = _tabs(scr, (x0, y0, x1, y1), tab)
    u = scr.u
    return x0 + u, y0 + u, x1 - u, y1 - u


def _banner_vitals(scr: _Screen, pat: dict) -> None:
    x0, y0, x1, y1 = _body(scr, pat, "Vitals")
    u, v = scr.u, _vitals(scr.rng, 24)
    y = scr.section(x0, y0, x1, "Vital Signs - last 72 hours",
                    f"Last filed {_times(v['time'][:1])[0]} by monitor")
    split = y + int(0.52 * (y1 - y))
    scr.table((x0, y, x1, split), _VITAL_COLS, _vital_rows(scr, v, pat))
    labels = _times(v["time"][:12][::-1], "%H:%M")
    mid = (x0 + x1) // 2
    scr.chart((x0, split + u, mid - u // 2, y1), "Heart Rate", labels,
              [("HR", v["hr"][:12][::-1])], ref=(60, 100), units="bpm")
    scr.chart((mid + u // 2, split + u, x1, y1), "Blood Pressure", labels,
              [("Systolic", v["sbp"][:12][::-1]), ("Diastolic", v["dbp"][:12][::-1])], units="mmHg")


def _medications(scr: _Screen, pat: dict) -> None:
    x0, y0, x1, y1 = _body(scr, pat, "Medications", nav=True)
    u = scr.u
    y = scr.section(x0, y0, x1, "Active Medications", "Reconciled today 07:15")
    x = x0
    for label in ("All", "Scheduled", "PRN", "Continuous", "IV only"):
        x += scr.button(x, y, label, primary=label == "All") + 0.4 * u
    y += round(2.6 * u)
    bottom = y1 - round(2.6 * u)
    yb = scr.table((x0, y, x1, y + int(0.62 * (bottom - y))), _MED_COLS, _med_rows(scr, pat, 14))
    y = scr.section(x0, yb + u, x1, "Discontinued (last 7 days)")
    old = [r[:7] + [("Discontinued", scr.t.muted)] for r in _med_rows(scr, pat, 6)]
    scr.table((x0, y, x1, bottom - u), _MED_COLS, old)
    _buttons(scr, x1, y1 - round(1.9 * u), ("Print MAR", "Discontinue", "Modify", "Reconcile",
                                            "New Order"), x0)


def _labs_chart(scr: _Screen, pat: dict) -> None:
    x0, y0, x1, y1 = _body(scr, pat, "Results")
    u = scr.u
    split = x0 + int(0.56 * (x1 - x0))
    y = scr.section(x0, y0, split, "Chemistry & Hematology", "Last 24 h")
    scr.table((x0, y, split, y1), _LAB_COLS, _lab_panels(scr))
    mid = (y0 + y1) // 2
    labs = _pick(scr.rng, [lab for lab in _LABS if lab[0] in ("Creatinine", "Hemoglobin",
                                                               "Potassium", "WBC", "Glucose")], 2)
    _trend_chart(scr, (split + u, y0, x1, mid - u // 2), labs[0])
    _trend_chart(scr, (split + u, mid + u // 2, x1, y1), labs[1])


def _note_blocks(scr: _Screen, pat: dict) -> list[tuple[str, str]]:
    v = _vitals(scr.rng, 1)
    fields = dict(name=pat["name"].title(), age=pat["age"], sexw=pat["sexw"],
                  admit=f"{pat['admit']:%m/%d/%Y}", cc=pat["cc"], Cc=pat["Cc"],
                  temp=v["temp"][0], hr=int(v["hr"][0]), bp=f"{v['sbp'][0]:.0f}/{v['dbp'][0]:.0f}",
                  rr=int(v["rr"][0]), spo2=int(v["spo2"][0]), cr=_lab_value(scr.rng, _LABS[5])[0],
                  k=_lab_value(scr.rng, _LABS[1])[0], day=int(scr.rng.integers(2, 5)),
                  code=pat["code"])
    blocks = [(head, " ".join(s.format(**fields) for s in sents[:1] + tuple(
        _pick(scr.rng, sents[1:], len(sents) - 1)))) for head, sents in _NOTE.items()]
    meds = "; ".join(" ".join(d) for d in _pick(scr.rng, _DRUGS, 9)) + "."
    labs = ", ".join(f"{lab[0]} {_lab_value(scr.rng, lab)[0]}" for lab in _LABS[:13]) + "."
    return blocks[:2] + [("Review of Systems", _ROS), ("Current Medications", meds),
                         ("Laboratory Data", labs)] + blocks[2:]


def _notes(scr: _Screen, pat: dict) -> None:
    x0, y0, x1, y1 = _body(scr, pat, "Notes")
    u = scr.u
    split = x0 + int(0.32 * (x1 - x0))
    y = scr.section(x0, y0, split, "Notes", "Filter: All authors")
    kinds = ("Progress Note", "Nursing Note", "H&P", "Consult", "Case Mgmt", "PT Eval", "Pharmacy")
    rows = [[f"{_BASE_TIME - timedelta(hours=5 + 7 * i):%m/%d %H:%M}", _pick(scr.rng, kinds),
             f"{_pick(scr.rng, _FIRST)[0]}. {_pick(scr.rng, _LAST)}"] for i in range(40)]
    rows[0][1] = "Progress Note"
    scr.table((x0, y, split, y1), (("Date", 1.0), ("Type", 1.2), ("Author", 1.3)), rows,
              selected=0)
    dx = split + 2 * u
    y = scr.section(dx, y0, x1, "Hospital Medicine Progress Note", "Signed")
    scr.text((dx, y + 0.5 * u), f"Author: {pat['attending']}, MD    Service: Hospital Medicine    "
             f"Date of service: {_BASE_TIME:%m/%d/%Y %H:%M}", rel=0.9, fill=scr.t.muted,
             width=x1 - dx)
    bottom = y1 - round(2.6 * u)
    yb = scr.paragraphs((dx, y + 2 * u, x1 - u, bottom), _note_blocks(scr, pat))
    scr.paragraphs((dx, yb, x1 - u, bottom), [("Attestation", "I personally saw and examined the "
                   "patient, reviewed the data above and agree with the plan as documented. "
                   "Greater than 35 minutes spent in care coordination.")])
    _buttons(scr, x1, y1 - round(1.9 * u), ("Print", "Addendum", "Copy Forward", "New Note"), dx)


def _sidebar_list(scr: _Screen, pat: dict) -> None:
    t, u, d = scr.t, scr.u, scr.d
    x0, y0, x1, y1 = _frame(scr, pat)
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
        name = pat["name"] if i == sel else (f"{_pick(scr.rng, _LAST).upper()}, "
                                             f"{_pick(scr.rng, _FIRST)}")
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
    y = _banner(scr, (sx + 1, y0, x1, y1), pat)
    mx0, mx1, y = sx + 1 + u, x1 - u, y + u
    mid = (mx0 + mx1) // 2
    ys = scr.section(mx0, y, mid - u, "Problem List", f"{len(_PROBLEMS) + 1} active")
    probs = [[pat["Cc"], pat["icd"], f"{pat['admit']:%m/%d/%Y}",
              ("Active", t.ok)]] + [[p, c, f"{int(scr.rng.integers(2008, 2023))}",
                                     ("Chronic", t.muted)] for p, c in _PROBLEMS]
    bottom = y + int(0.55 * (y1 - u - y))
    yb = scr.table((mx0, ys, mid - u, bottom), (("Problem", 2.4), ("ICD-10", 0.8),
                                                ("Onset", 0.9), ("Status", 0.8)), probs)
    ys = scr.section(mid + u, y, mx1, "Active Orders", "3 pending signature")
    orders = [["CBC with differential", "AM draw", ("Pending", t.warn)],
              ["Basic metabolic panel", "AM draw", ("Pending", t.warn)],
              ["Chest X-ray PA/lateral", "Once", ("Resulted", t.ok)],
              ["Diet: Cardiac, 2 g sodium", "Continuous", ("Active", t.ok)],
              ["Fall precautions", "Continuous", ("Active", t.ok)],
              ["Telemetry monitoring", "48 h", ("Active", t.ok)],
              ["PT evaluation and treatment", "Once", ("Ordered", t.accent)],
              ["Blood cultures x2", "Once", ("Resulted", t.ok)],
              ["Ceftriaxone 1 g IV", "q24h", ("Active", t.ok)],
              ["Heparin 5,000 units SubQ", "q8h", ("Active", t.ok)],
              ["Incentive spirometry", "q1h while awake", ("Active", t.ok)],
              ["Consult: Case management", "Once", ("Ordered", t.accent)]]
    yb = max(yb, scr.table((mid + u, ys, mx1, bottom), (("Order", 2.2), ("Frequency", 1.0),
                                                        ("Status", 0.8)), orders))
    v = _vitals(scr.rng, 12)
    scr.chart((mx0, yb + 1.5 * u, mx1, y1 - u), "Temperature", _times(v["time"][::-1], "%H:%M"),
              [("Temp", v["temp"][::-1])], ref=(36.1, 37.9), units="°C")


def _dark_theme(scr: _Screen, pat: dict) -> None:
    x0, y0, x1, y1 = _body(scr, pat, "Flowsheets", nav=True)
    u, v = scr.u, _vitals(scr.rng, 16)
    mid_y = y0 + int(0.45 * (y1 - y0))
    scr.chart((x0, y0, x1, mid_y), "Vital signs - last 48 hours", _times(v["time"][::-1], "%H:%M"),
              [("HR", v["hr"][::-1]), ("Systolic", v["sbp"][::-1]), ("Diastolic", v["dbp"][::-1])],
              units="bpm / mmHg")
    mid_x = x0 + int(0.5 * (x1 - x0))
    y = scr.section(x0, mid_y + u, mid_x - u, "Recent Results")
    scr.table((x0, y, mid_x - u, y1), _LAB_COLS[:6], _lab_rows(scr, 14))
    y = scr.section(mid_x + u, mid_y + u, x1, "Scheduled Medications")
    scr.table((mid_x + u, y, x1, y1), _MED_COLS[:6], _med_rows(scr, pat, 12))


def _xray_viewer(scr: _Screen, pat: dict) -> None:
    t, u, d = scr.t, scr.u, scr.d
    x0, y0, x1, y1 = _body(scr, pat, "Imaging")
    rep = x1 - max(16 * u, int(0.27 * (x1 - x0)))
    tw = max(6 * u, int(0.08 * (x1 - x0)))
    x = x0
    for label in ("Zoom", "Pan", "W/L", "Measure", "Rotate", "Invert", "Reset"):
        if x + scr.font(0.92).getlength(label) + 2 * u > rep - 2 * u:
            break
        x += scr.button(x, y0, label, primary=label == "W/L") + 0.4 * u
    vy0, vx0, vx1 = y0 + round(2.5 * u), x0 + tw + u, rep - 2 * u
    th = max(8, int(1.25 * tw))
    for i, (desc, n) in enumerate((("CHEST PA", 1), ("CHEST LAT", 1), ("CHEST AP", 1),
                                   ("CHEST PA", 2))):
        ty = vy0 + i * (th + 2 * u)
        if ty + th + 1.5 * u > y1:
            break
        thumb = _xray(tw, th, np.random.default_rng([i, 99]))
        scr.img.paste(Image.fromarray(thumb).convert("RGB"), (x0, ty))
        d.rectangle((x0, ty, x0 + tw, ty + th), outline=t.accent if i == 0 else t.border,
                    width=3 if i == 0 else 1)
        scr.text((x0, ty + th + 0.8 * u), f"{desc} ({n})", rel=0.8, fill=t.muted, width=tw)
    d.rectangle((vx0, vy0, vx1, y1), fill=(0, 0, 0))
    vw, vh = vx1 - vx0, y1 - vy0
    iw, ih = min(vw - 2 * u, int(0.86 * (vh - 2 * u))), vh - 2 * u
    ih = min(ih, int(iw / 0.86))
    if iw > 8 and ih > 8:
        ix, iy = vx0 + (vw - iw) // 2, vy0 + (vh - ih) // 2
        scr.img.paste(Image.fromarray(_xray(iw, ih, scr.rng)).convert("RGB"), (ix, iy))
        scr.text((ix + 1.5 * u, iy + max(2 * u, ih // 4)), "R", rel=1.6, fill=(250, 250, 250),
                 bold=True)
    ov, grey = 0.85, (215, 215, 215)
    lines_tl = (pat["name"], f"MRN {pat['mrn']}  DOB {pat['dob']}", "CHEST PA  Series 1  Img 1/1")
    lines_br = ("W: 2048  L: 1024", f"Zoom {100 * ih / 2500:.0f}%", "MediView PACS")
    for k, line in enumerate(lines_tl):
        scr.text((vx0 + 0.6 * u, vy0 + (1 + 1.3 * k) * u), line, rel=ov, fill=grey, width=vw / 2)
    for k, line in enumerate(lines_br):
        scr.text((vx1 - 0.6 * u, y1 - (1 + 1.3 * k) * u), line, rel=ov, fill=grey, anchor="rm")
    scr.text((vx1 - 0.6 * u, vy0 + u), f"{_BASE_TIME:%m/%d/%Y %H:%M}", rel=ov, fill=grey,
             anchor="rm")
    y = scr.section(rep, y0, x1, "Radiology Report", "Final")
    prior = f"{_BASE_TIME - timedelta(days=int(scr.rng.integers(30, 400))):%m/%d/%Y}"
    blocks = [(h, b.format(when=f"{_BASE_TIME:%m/%d/%Y %H:%M}", prior=prior, age=pat["age"]))
              for h, b in _REPORT]
    meta = f"Exam: XR CHEST 2 VIEWS    Accession: A{int(scr.rng.integers(10**6, 10**7))}"
    scr.text((rep, y + 0.5 * u), meta, rel=0.88, fill=t.muted, width=x1 - rep)
    yb = scr.paragraphs((rep, y + 2 * u, x1, y1 - 3 * u), blocks)
    _buttons(scr, x1, y1 - round(1.9 * u), ("Compare", "Share", "Acknowledge"), rep)
    if yb + 2 * u > y1 - 3 * u:
        return
    scr.text((rep, yb + u), f"Electronically signed by Dr. {_pick(scr.rng, _FIRST)} "
             f"{_pick(scr.rng, _LAST)}, Radiology", rel=0.88, fill=t.muted, width=x1 - rep)
    if yb + 8 * u > y1 - 3 * u:
        return
    y = scr.section(rep, yb + 2.5 * u, x1, "Prior Imaging")
    exams = ("XR Chest 2 views", "CT Chest w/o contrast", "XR Chest 1 view", "US Abdomen complete",
             "XR Knee 3 views", "CT Head w/o contrast", "XR Chest 2 views", "MR Lumbar spine")
    priors = [[f"{_BASE_TIME - timedelta(days=int(d)):%m/%d/%Y}", e, ("Final", t.ok)] for d, e in
              zip(np.sort(scr.rng.integers(20, 2000, len(exams))), exams)]
    scr.table((rep, y, x1, y1 - 3 * u), (("Date", 1.0), ("Exam", 2.0), ("Status", 0.7)), priors)


def _summary_dashboard(scr: _Screen, pat: dict) -> None:
    t, u = scr.t, scr.u
    x0, y0, x1, y1 = _body(scr, pat, "Summary")
    gx = np.linspace(x0, x1 + u, 4).astype(int)
    gy = np.array([y0, y0 + int(0.42 * (y1 + u - y0)), y1 + u])
    cells = [(gx[c], gy[r], gx[c + 1] - u, gy[r + 1] - u) for r in range(2) for c in range(3)]
    v = _vitals(scr.rng, 10)
    bx0, by0, bx1, by1 = scr.card(cells[0], "Latest Vitals")
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
    bx0, by0, bx1, by1 = scr.card(cells[1], "Active Problems")
    for k, (p, code) in enumerate(((pat["Cc"], pat["icd"]),) + _PROBLEMS):
        cy = by0 + (k + 0.5) * 1.75 * u
        if cy + 0.9 * u > by1:
            break
        scr.d.ellipse((bx0, cy - 3, bx0 + 6, cy + 3), fill=t.danger if k == 0 else t.accent)
        cw = scr.text((bx1, cy), code, rel=0.85, fill=t.muted, anchor="rm")
        scr.text((bx0 + u, cy), p, width=bx1 - bx0 - 2 * u - cw, bold=k == 0)
    bx0, by0, bx1, by1 = scr.card(cells[2], "Allergies & Alerts")
    yy = by0
    for label, fg, bg in ([(a + " - hives", t.danger, t.danger_soft) for a in pat["allergies"]]
                          + [("Fall risk: High (Morse 55)", t.warn, t.warn_soft),
                             ("Isolation: Contact (MRSA)", t.warn, t.warn_soft),
                             (f"Code status: {pat['code']}", t.accent, t.accent_soft)]):
        if yy + 1.6 * u > by1:
            break
        scr.badge(bx0, yy, label, fg, bg, bx1 - bx0)
        yy += 2.1 * u
    team = (("Attending", pat["attending"]), ("Primary RN", pat["user"]),
            ("Case manager", f"{_pick(scr.rng, _FIRST)} {_pick(scr.rng, _LAST)}, MSW"),
            ("PCP", f"Dr. {_pick(scr.rng, _FIRST)} {_pick(scr.rng, _LAST)}"),
            ("Consultant", f"Dr. {_pick(scr.rng, _FIRST)} {_pick(scr.rng, _LAST)} (ID)"))
    if yy + 5 * u < by1:
        yy = scr.section(bx0, yy, bx1, "Care Team")
        for role, name in team:
            if yy + 1.7 * u > by1:
                break
            scr.text((bx0, yy + 0.8 * u), role, rel=0.9, fill=t.muted)
            scr.text((bx0 + 0.35 * (bx1 - bx0), yy + 0.8 * u), name, rel=0.9,
                     width=0.65 * (bx1 - bx0))
            yy += 1.7 * u
    bx0, by0, bx1, by1 = scr.card(cells[3], "Medications")
    scr.table((bx0, by0, bx1, by1), (_MED_COLS[0], _MED_COLS[1], _MED_COLS[3]),
              [[r[0], r[1], r[3]] for r in _med_rows(scr, pat, 18)], rel=0.9)
    bx0, by0, bx1, by1 = scr.card(cells[4], "Recent Labs")
    scr.table((bx0, by0, bx1, by1), _LAB_COLS[:4], [r[:4] for r in _lab_rows(scr, 18)], rel=0.9)
    _trend_chart(scr, cells[5], _LABS[6], days=10)


def _flowsheet(scr: _Screen, pat: dict) -> None:
    t, u = scr.t, scr.u
    x0, y0, x1, y1 = _body(scr, pat, "Flowsheets")
    ncol = int(np.clip((x1 - x0) / (5.5 * u) - 3, 4, 16))
    y = scr.section(x0, y0, x1, "Adult Inpatient Flowsheet", f"Showing {ncol} h · 1 h interval")
    hours = _times(np.arange(ncol)[::-1], "%H:00")
    v = _vitals(scr.rng, ncol)

    def row(name: str, vals: NDArray, lo: float, hi: float, fmt: str = "{:.0f}") -> list[Cell]:
        return [name] + [(fmt.format(a), t.danger) if not lo <= a <= hi else fmt.format(a)
                         for a in vals]

    rand = lambda a, b: scr.rng.integers(a, b, ncol)  # noqa: E731
    rows: list = ["Vital Signs", row("Temperature (°C)", v["temp"], 36, 37.9, "{:.1f}"),
                  row("Heart rate (bpm)", v["hr"], 60, 100), row("Systolic BP", v["sbp"], 90, 140),
                  row("Diastolic BP", v["dbp"], 60, 90), row("Resp rate", v["rr"], 12, 20),
                  row("SpO2 (%)", v["spo2"], 92, 100),
                  ["O2 device"] + [_pick(scr.rng, ("RA", "NC", "NC")) for _ in range(ncol)],
                  "Intake / Output", row("PO intake (mL)", rand(0, 4) * 60, 0, 1e9),
                  row("IV fluids (mL)", np.full(ncol, 75), 0, 1e9),
                  row("Urine output (mL)", rand(0, 6) * 40, 1, 1e9),
                  "Neuro / Comfort", ["Level of consciousness"] + ["Alert"] * ncol,
                  row("GCS", np.full(ncol, 15), 15, 15), row("Pain score (0-10)", v["pain"], 0, 6),
                  ["Sedation (RASS)"] + ["0"] * ncol, "Skin / Safety",
                  ["Braden score"] + [str(b) for b in rand(14, 19)],
                  ["Repositioned"] + [_pick(scr.rng, ("L side", "R side", "Supine")) for _ in
                                      range(ncol)], ["Bed alarm"] + ["On"] * ncol,
                  ["Fall risk precautions"] + ["Yes"] * ncol, "Respiratory / Cardiac",
                  ["Breath sounds"] + [_pick(scr.rng, ("Clear", "Crackles", "Diminished"))
                                       for _ in range(ncol)],
                  ["Cough"] + [_pick(scr.rng, ("Productive", "Dry", "None")) for _ in range(ncol)],
                  row("Incentive spirometry (mL)", rand(6, 13) * 100, 1000, 9999),
                  ["Cardiac rhythm"] + [_pick(scr.rng, ("NSR", "NSR", "ST")) for _ in range(ncol)],
                  ["Capillary refill"] + ["< 3 s"] * ncol, "Lines / Drains",
                  ["PIV L forearm 20 g"] + ["Patent"] * ncol,
                  ["Dressing"] + [_pick(scr.rng, ("C/D/I", "Changed")) for _ in range(ncol)]]
    cols = (("Parameter", 3.0),) + tuple((h, 1.0, "r") for h in hours)
    scr.table((x0, y, x1, y1 - round(2.6 * u)), cols, rows)
    _buttons(scr, x1, y1 - round(1.9 * u), ("Graph", "Refresh", "Add Column", "File"), x0)


_RENDERERS: dict[str, Callable[[_Screen, dict], None]] = {
    "banner_vitals": _banner_vitals, "medications": _medications, "labs_chart": _labs_chart,
    "notes": _notes, "sidebar_list": _sidebar_list, "dark_theme": _dark_theme,
    "xray_viewer": _xray_viewer, "summary_dashboard": _summary_dashboard, "flowsheet": _flowsheet,
}


# ----------------------------------------------------------------- public API
def render_screen(kind: str, *, size: tuple[int, int] = (1920, 1080),
                  seed: int = 0) -> NDArray[np.uint8]:
    """Render one synthetic EMR viewer screen.

    Parameters
    ----------
    kind : str
        One of :data:`SCREEN_KINDS`.
    size : tuple of int, optional
        ``(width, height)`` in pixels, at least ``(320, 240)``. Layout and font
        sizes scale with it.
    seed : int, optional
        Non-negative. Varies the invented patient, the values and small layout
        details; the patient is the same for every kind with the same seed.

    Returns
    -------
    numpy.ndarray
        ``(height, width, 3)`` uint8 RGB image, identical for identical arguments.

    Raises
    ------
    ValueError
        If ``kind`` is unknown, ``size`` is not two integers of at least
        ``(320, 240)``, or ``seed`` is not a non-negative integer.

    Notes
    -----
    Text uses Pillow's bundled scalable font (``ImageFont.load_default(size=...)``,
    Pillow >= 10.1) with antialiasing, so no system font is needed. All patients,
    staff and values are invented.

    Examples
    --------
    >>> img = render_screen("labs_chart", size=(1366, 768), seed=1)
    >>> img.shape, img.dtype.name
    ((768, 1366, 3), 'uint8')
    >>> bool((img == render_screen("labs_chart", size=(1366, 768), seed=1)).all())
    True
    """
    if kind not in _RENDERERS:
        raise ValueError(f"kind must be one of {', '.join(SCREEN_KINDS)}; got {kind!r}")
    try:
        width, height = (int(s) for s in size)
        valid = (width, height) == tuple(size)
    except (TypeError, ValueError):
        valid = False
    if not valid or width < _MIN_SIZE[0] or height < _MIN_SIZE[1]:
        raise ValueError(f"size must be (width, height) integers of at least {_MIN_SIZE}; "
                         f"got {size!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer; got {seed!r}")
    rng = np.random.default_rng([int(seed), zlib.crc32(kind.encode())])
    scr = _Screen((width, height), _DARK if kind == "dark_theme" else _LIGHT, rng)
    _RENDERERS[kind](scr, _patient(int(seed)))
    return np.asarray(scr.img, dtype=np.uint8).copy()


def natural_images() -> list[tuple[str, NDArray[np.uint8]]]:
    """Return a few natural photographs bundled with scikit-image.

    Returns
    -------
    list of (str, numpy.ndarray)
        ``(name, image)`` pairs; each image is ``(H, W, 3)`` uint8 RGB. The
        images ship inside scikit-image, so nothing is downloaded.

    Raises
    ------
    ImportError
        If scikit-image is not installed (it is in the ``bench`` extra).

    Examples
    --------
    >>> [name for name, _ in natural_images()]
    ['astronaut', 'coffee', 'chelsea', 'rocket']
    """
    try:
        from skimage import data
    except ImportError as exc:
        raise ImportError("natural_images() needs scikit-image, which is in the 'bench' extra: "
                          "pip install 'leaktrace[bench]'") from exc
    return [(name, np.ascontiguousarray(getattr(data, name)()[..., :3], dtype=np.uint8))
            for name in ("astronaut", "coffee", "chelsea", "rocket")]


def screen_set(*, sizes: Sequence[tuple[int, int]] = ((1920, 1080),),
               kinds: Sequence[str] | None = None,
               seed: int = 0) -> list[tuple[str, NDArray[np.uint8]]]:
    """Render every kind at every size.

    Parameters
    ----------
    sizes : sequence of (int, int), optional
        ``(width, height)`` pairs.
    kinds : sequence of str, optional
        Kinds to render; all of :data:`SCREEN_KINDS` when None.
    seed : int, optional
        Passed to :func:`render_screen`.

    Returns
    -------
    list of (str, numpy.ndarray)
        ``("{kind}_{width}x{height}", image)`` for each kind, then each size.

    Raises
    ------
    ValueError
        As :func:`render_screen`, for an unknown kind or a bad size.

    Examples
    --------
    >>> [name for name, _ in screen_set(sizes=[(640, 480)], kinds=["notes"])]
    ['notes_640x480']
    """
    kinds = SCREEN_KINDS if kinds is None else tuple(kinds)
    return [(f"{kind}_{w}x{h}", render_screen(kind, size=(w, h), seed=seed))
            for kind in kinds for w, h in sizes]

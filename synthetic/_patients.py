"""Invented patients and the pieces of their records: drugs, labs, problems, notes, vitals.

Nothing here is real. Name parts are combined at random, so no real person is
meant; values are drawn to look clinically plausible. Every function is a pure
function of its seed or generator, so a seed always gives the same patient.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Sequence, TypedDict, TypeVar, overload

import numpy as np
from numpy.typing import NDArray

from watermark import OptionError, OptionTypeError

__all__ = [
    "BASE_TIME",
    "DRUGS",
    "LABS",
    "PROBLEMS",
    "REVIEW_OF_SYSTEMS",
    "Drug",
    "Lab",
    "PatientRecord",
    "Vitals",
    "lab_value",
    "patient",
    "vitals",
]

T = TypeVar("T")

BASE_TIME = datetime(2024, 3, 4, 9, 40)
"""The invented "now" of every record: admissions, results and notes are dated before it."""

Drug = tuple[str, str, str, str]
"""``(name, dose, route, frequency)``."""

Lab = tuple[str, str, float, float, int]
"""``(name, units, reference low, reference high, decimals)``."""

FIRST_NAMES = ("Aurelio", "Brenna", "Caspian", "Delphine", "Emrys", "Fenna", "Galen", "Hollis",
               "Isolde", "Jovan", "Kestrel", "Linnea", "Marek", "Nerys", "Orrin", "Perpetua",
               "Quillon", "Rosalind", "Soren", "Tamsin", "Ulric", "Vesna", "Wendeline", "Yannick")
LAST_NAMES = ("Abernathy-Kroll", "Brightwater", "Calloway", "Dunmore", "Esterhuys", "Fairbanks",
              "Gallowglass", "Harrowgate", "Iverssen", "Jessamine", "Kettleborough", "Lindqvist",
              "Mortensby", "Nightwell", "Oakhurst", "Pembridge", "Quarrington", "Rosenthorpe",
              "Silverdale", "Thistlewood", "Underhill", "Vantongeren", "Whitlock", "Yarborough")
ALLERGIES = ("Penicillin", "Sulfonamides", "Latex", "Codeine", "Iodinated contrast",
             "Peanuts", "Aspirin", "Cephalexin", "Morphine")
COMPLAINTS: tuple[tuple[str, str], ...] = (
    ("community-acquired pneumonia", "J18.9"), ("acute decompensated heart failure", "I50.23"),
    ("cellulitis of the left lower extremity", "L03.116"), ("COPD exacerbation", "J44.1"),
    ("urinary tract infection with sepsis", "A41.9"), ("diabetic ketoacidosis", "E11.10"))
"""Admission reasons with their ICD-10 codes."""

PROBLEMS: tuple[tuple[str, str], ...] = (
    ("Essential hypertension", "I10"), ("Type 2 diabetes mellitus", "E11.9"),
    ("Hyperlipidemia", "E78.5"), ("Chronic kidney disease, stage 3a", "N18.31"),
    ("Obstructive sleep apnea", "G47.33"), ("Osteoarthritis of knee", "M17.9"),
    ("Gastroesophageal reflux disease", "K21.9"), ("Vitamin D deficiency", "E55.9"),
    ("Obesity, BMI 32", "E66.9"), ("Major depressive disorder", "F33.1"),
    ("Iron deficiency anemia", "D50.9"))
"""Chronic problems ``(description, ICD-10 code)`` for problem lists."""

UNITS = ("4B Medicine", "5 West Cardiology", "3A Surgical", "6C Oncology", "2 North ICU")
CODE_STATUSES = ("Full Code", "DNR/DNI", "Full Code")

DRUGS: tuple[Drug, ...] = (
    ("Metoprolol tartrate", "25 mg", "PO", "BID"), ("Lisinopril", "10 mg", "PO", "Daily"),
    ("Atorvastatin", "40 mg", "PO", "Nightly"), ("Heparin", "5,000 units", "SubQ", "q8h"),
    ("Pantoprazole", "40 mg", "IV", "Daily"), ("Ceftriaxone", "1 g", "IV", "q24h"),
    ("Acetaminophen", "650 mg", "PO", "q6h PRN"), ("Ondansetron", "4 mg", "IV", "q8h PRN"),
    ("Insulin lispro", "Sliding scale", "SubQ", "AC & HS"),
    ("Furosemide", "40 mg", "IV", "BID"), ("Potassium chloride", "20 mEq", "PO", "Daily"),
    ("Amlodipine", "5 mg", "PO", "Daily"), ("Levothyroxine", "75 mcg", "PO", "Daily"),
    ("Oxycodone", "5 mg", "PO", "q4h PRN"), ("Sodium chloride 0.9%", "75 mL/h", "IV", "Continuous"),
    ("Metformin", "500 mg", "PO", "BID"), ("Senna", "8.6 mg", "PO", "Nightly PRN"),
    ("Azithromycin", "500 mg", "IV", "q24h"))
"""Inpatient medications, each a :data:`Drug`."""

LABS: tuple[Lab, ...] = (
    ("Sodium", "mmol/L", 135, 145, 0), ("Potassium", "mmol/L", 3.5, 5.1, 1),
    ("Chloride", "mmol/L", 98, 107, 0), ("CO2", "mmol/L", 22, 29, 0),
    ("BUN", "mg/dL", 7, 20, 0), ("Creatinine", "mg/dL", 0.6, 1.2, 2),
    ("Glucose", "mg/dL", 70, 99, 0), ("Calcium", "mg/dL", 8.6, 10.2, 1),
    ("Magnesium", "mg/dL", 1.7, 2.2, 1), ("WBC", "K/uL", 4.0, 11.0, 1),
    ("Hemoglobin", "g/dL", 12.0, 16.0, 1), ("Hematocrit", "%", 36, 46, 1),
    ("Platelets", "K/uL", 150, 400, 0), ("INR", "", 0.8, 1.2, 2), ("ALT", "U/L", 7, 56, 0),
    ("AST", "U/L", 10, 40, 0), ("Albumin", "g/dL", 3.5, 5.0, 1),
    ("Lactate", "mmol/L", 0.5, 2.2, 1), ("Troponin I", "ng/mL", 0.0, 0.04, 2),
    ("TSH", "mIU/L", 0.4, 4.0, 2))
"""Laboratory tests, each a :data:`Lab`: the basic metabolic panel (0-8), CBC (9-12), others."""

NOTE_TEMPLATES: dict[str, tuple[str, ...]] = {
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
"""Progress-note sections: the first sentence of each is always used, the rest shuffled."""

REVIEW_OF_SYSTEMS = (
    "Constitutional: positive for fatigue, negative for chills. Respiratory: positive for "
    "cough, negative for hemoptysis. Cardiovascular: negative for orthopnea. GI: negative for "
    "nausea, vomiting or melena. GU: negative for dysuria. Neuro: negative for focal weakness. "
    "All other systems reviewed and negative.")
"""The review-of-systems paragraph of a progress note."""

RADIOLOGY_REPORT: tuple[tuple[str, str], ...] = (
    ("Clinical History", "{age}-year-old with fever, productive cough and hypoxia. "
     "Evaluate for pneumonia."),
    ("Technique", "PA and lateral views of the chest, {when}. Comparison: {prior}."),
    ("Findings", "The cardiomediastinal silhouette is within normal limits for size. There "
     "is patchy airspace opacity in the right lower lobe. No pleural effusion or "
     "pneumothorax. The osseous structures are intact with mild degenerative change of "
     "the thoracic spine. Support lines: none."),
    ("Impression", "1. Right lower lobe airspace opacity, consistent with pneumonia in the "
     "appropriate clinical setting. 2. No pleural effusion. Recommend follow-up "
     "radiograph in 6-8 weeks to document resolution."))


class PatientRecord(TypedDict):
    """The invented patient behind a record screen (what :func:`patient` returns).

    ``name`` is ``"LAST, First M."``; ``sexw`` is ``"woman"`` or ``"man"``;
    ``cc``/``Cc`` the admission reason (lower/capitalised) with its ``icd``
    code; ``code`` the code status; ``user`` the nurse signed in and ``ws``
    the workstation shown in the status bar.
    """

    name: str
    last: str
    age: int
    sex: str
    sexw: str
    dob: str
    mrn: str
    unit: str
    room: str
    attending: str
    user: str
    allergies: list[str]
    admit: datetime
    cc: str
    icd: str
    code: str
    ws: str
    Cc: str


class Vitals(TypedDict):
    """``n`` vital-sign readings, newest first (what :func:`vitals` returns).

    ``time`` is hours before :data:`BASE_TIME`; ``temp`` in °C, ``hr`` in
    bpm, ``sbp``/``dbp`` in mmHg, ``rr`` per minute, ``spo2`` in %, ``pain``
    on the 0-10 scale.
    """

    time: NDArray[np.int64]
    temp: NDArray[np.float64]
    hr: NDArray[np.float64]
    sbp: NDArray[np.float64]
    dbp: NDArray[np.float64]
    rr: NDArray[np.float64]
    spo2: NDArray[np.float64]
    pain: NDArray[np.int64]


@overload
def _pick(rng: np.random.Generator, seq: Sequence[T]) -> T: ...
@overload
def _pick(rng: np.random.Generator, seq: Sequence[T], k: int) -> list[T]: ...
def _pick(rng: np.random.Generator, seq: Sequence[T], k: int | None = None) -> T | list[T]:
    """One element of ``seq`` (``k`` None), or ``k`` distinct ones."""
    if k is None:
        return seq[int(rng.integers(len(seq)))]
    return [seq[i] for i in rng.choice(len(seq), size=min(k, len(seq)), replace=False)]


def patient(seed: int) -> PatientRecord:
    """The invented patient of ``seed``: the same one on every screen kind.

    Parameters
    ----------
    seed : int
        Non-negative.

    Returns
    -------
    PatientRecord
        Name, demographics, MRN, room, attending, allergies, admission and
        its reason, code status, the nurse and workstation on duty.

    Raises
    ------
    watermark.OptionError
        If ``seed`` is not a non-negative integer.

    Examples
    --------
    >>> pat = patient(3)
    >>> pat == patient(3), pat["sex"] in ("F", "M"), len(pat["mrn"])
    (True, True, 8)
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise OptionTypeError(f"seed must be a non-negative integer; got {seed!r}", name="seed", value=seed)
    if seed < 0:
        raise OptionError(f"seed must be a non-negative integer; got {seed!r}", name="seed", value=seed)
    rng = np.random.default_rng([seed, 7])
    age = int(rng.integers(24, 92))
    admit = BASE_TIME - timedelta(days=int(rng.integers(1, 6)), hours=int(rng.integers(0, 20)))
    sex = _pick(rng, ("F", "M"))
    last = _pick(rng, LAST_NAMES)
    # The draws below run in a fixed order: changing it changes every patient.
    name = f"{last.upper()}, {_pick(rng, FIRST_NAMES)} {chr(65 + int(rng.integers(26)))}."
    dob = f"{BASE_TIME.year - age}-{int(rng.integers(1, 13)):02d}-{int(rng.integers(1, 29)):02d}"
    mrn = f"{int(rng.integers(10**7, 10**8))}"
    unit = _pick(rng, UNITS)
    room = f"Rm {int(rng.integers(2, 7))}{_pick(rng, 'ABC')}-{int(rng.integers(1, 40)):02d}"
    attending = f"Dr. {_pick(rng, FIRST_NAMES)} {_pick(rng, LAST_NAMES)}"
    user = f"{_pick(rng, FIRST_NAMES)} {_pick(rng, LAST_NAMES)}, RN"
    allergies = _pick(rng, ALLERGIES, int(rng.integers(1, 4)))
    cc, icd = _pick(rng, COMPLAINTS)
    code = _pick(rng, CODE_STATUSES)
    ws = f"WS-{int(rng.integers(1, 9))}{_pick(rng, 'ABCD')}-{int(rng.integers(100, 999))}"
    return PatientRecord(
        name=name, last=last, age=age, sex=sex, sexw="woman" if sex == "F" else "man", dob=dob,
        mrn=mrn, unit=unit, room=room, attending=attending, user=user, allergies=allergies,
        admit=admit, cc=cc, icd=icd, code=code, ws=ws, Cc=cc[0].upper() + cc[1:],
    )


def vitals(rng: np.random.Generator, n: int) -> Vitals:
    """``n`` vital-sign readings, newest first, drawn from ``rng``.

    Each series is an AR(1) process around a typical inpatient value, so
    readings wander but return to the mean; ``time`` steps back 2-4 hours
    per reading.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the values (advanced by the call).
    n : int
        Number of readings.

    Returns
    -------
    Vitals

    Examples
    --------
    >>> v = vitals(np.random.default_rng(0), 4)
    >>> v["hr"].shape, bool((v["dbp"] <= v["sbp"] - 28).all())
    ((4,), True)
    """

    def series(mean: float, sd: float, lo: float, hi: float, dec: int = 0) -> NDArray[np.float64]:
        shocks = rng.normal(0, sd, n)
        x = np.empty(n)
        x[0] = mean + shocks[0]
        for i in range(1, n):  # AR(1): values wander but return to the mean
            x[i] = mean + 0.75 * (x[i - 1] - mean) + 0.66 * shocks[i]
        return np.clip(x, lo, hi).round(dec)

    sbp = series(128, 11, 88, 185)
    return Vitals(time=np.cumsum(rng.choice([2, 4, 4], n)) - 2, temp=series(37.3, 0.4, 36.1, 39.2, 1),
                  hr=series(90, 9, 52, 135), sbp=sbp,
                  dbp=np.minimum(series(76, 7, 45, 105), sbp - 28),
                  rr=series(18, 2, 12, 28), spo2=series(95, 1.6, 88, 100), pain=rng.integers(0, 7, n))


def lab_value(rng: np.random.Generator, lab: Lab) -> tuple[str, str]:
    """One result of ``lab``: the formatted value and its flag (``"H"``, ``"L"`` or ``""``).

    About 30% of results fall outside the reference range, most of them high.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the value (advanced by the call).
    lab : Lab
        One of :data:`LABS`.

    Returns
    -------
    (str, str)

    Examples
    --------
    >>> value, flag = lab_value(np.random.default_rng(1), LABS[0])
    >>> flag in ("H", "L", ""), value.isdigit()
    (True, True)
    """
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

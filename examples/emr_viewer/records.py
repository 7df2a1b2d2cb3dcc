"""Invented staff and patients for the example EMR viewer.

Nothing here is real: names are combined at random from invented parts
(the same generator as :mod:`synthetic.records`, so an exported record image
shows the same patient as its HTML page), and values are drawn to look
clinically plausible. The staff here are who the demo setup creates accounts
for (``examples.emr_viewer.accounts.create_demo_accounts``, each with its own
random password); the viewer itself only knows the accounts file.

Records flagged ``sensitive`` are never sent to a browser as HTML with a
client-side overlay: the viewer renders them on the server as a stamped image
(see the viewer README's security model).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np

from synthetic.records import BASE_TIME, DRUGS, LABS, PROBLEMS, REVIEW_OF_SYSTEMS, lab_value, patient, vitals

__all__ = ["EMPLOYEES", "SENSITIVE_SEEDS", "Employee", "Patient", "patients", "patient_by_mrn"]


@dataclass(frozen=True)
class Employee:
    """One of the invented staff: what the demo setup puts in the accounts file."""

    username: str
    viewer_id: int
    display_name: str
    role: str


EMPLOYEES: dict[str, Employee] = {
    e.username: e
    for e in (
        Employee("aquist", 4821, "Dr. Anselm Quist", "Attending physician, Cardiology"),
        Employee("mokafor", 5170, "Maren Okafor, RN", "Registered nurse, 4B Medicine"),
        Employee("tbrandvold", 6032, "Teodor Brandvold", "Patient registration"),
        Employee("lhaverkamp", 7315, "Dr. Liesl Haverkamp", "Resident, Internal Medicine"),
    )
}


@dataclass(frozen=True)
class Patient:
    """One invented patient and the content of their record page."""

    seed: int
    mrn: str
    name: str
    age: int
    sex: str
    dob: str
    unit: str
    room: str
    attending: str
    admitted: datetime
    complaint: str
    icd: str
    code_status: str
    allergies: tuple[str, ...]
    restricted: bool = False
    sensitive: bool = False
    problems: tuple[tuple[str, str], ...] = ()
    medications: tuple[tuple[str, ...], ...] = ()
    vitals: tuple[tuple[str, ...], ...] = ()
    labs: tuple[tuple[str, ...], ...] = ()
    note: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    @property
    def record_id(self) -> str:
        """The ledger's record ID for this patient's chart."""
        return f"MRN {self.mrn}"


def _shift() -> timedelta:
    """Whole days that move the invented admission dates next to today."""
    return timedelta(days=(date.today() - BASE_TIME.date()).days)


def _build(seed: int, *, restricted: bool = False, sensitive: bool = False) -> Patient:
    pat = patient(seed)
    rng = np.random.default_rng([seed, 2026])
    shift = _shift()
    now = BASE_TIME + shift
    admitted = pat["admit"] + shift
    problems = tuple(PROBLEMS[i] for i in rng.choice(len(PROBLEMS), size=5, replace=False))
    meds = []
    for i in rng.choice(len(DRUGS), size=9, replace=False):
        name, dose, route, freq = DRUGS[i]
        start = admitted + timedelta(hours=int(rng.integers(0, 30)))
        status = "On hold" if rng.random() < 0.15 else "Active"
        meds.append((name, dose, route, freq, f"{start:%m/%d %H:%M}", status))
    v = vitals(rng, 8)
    vital_rows = tuple(
        (
            f"{now - timedelta(hours=int(v['time'][i])):%m/%d %H:%M}",
            f"{v['temp'][i]:.1f}", f"{v['hr'][i]:.0f}", f"{v['sbp'][i]:.0f}/{v['dbp'][i]:.0f}",
            f"{v['rr'][i]:.0f}", f"{v['spo2'][i]:.0f}", str(v["pain"][i]),
        )
        for i in range(len(v["time"]))
    )
    labs = []
    for lab in LABS[:14]:
        value, flag = lab_value(rng, lab)
        labs.append((lab[0], value, flag, lab[1], f"{lab[2]:g} - {lab[3]:g}"))
    name = pat["name"].title()
    note = (
        ("Subjective", f"{name} is a {pat['age']}-year-old {pat['sexw']} admitted on {admitted:%m/%d/%Y} with "
         f"{pat['cc']}. Overnight reports improved breathing and a mild dry cough; denies chest pain, "
         "palpitations or dyspnea at rest. Tolerating a regular diet with fair appetite and ambulated in "
         "the hallway twice with physical therapy."),
        ("Objective", f"Vitals: T {v['temp'][0]:.1f} °C, HR {v['hr'][0]:.0f}, BP {v['sbp'][0]:.0f}/"
         f"{v['dbp'][0]:.0f}, RR {v['rr'][0]:.0f}, SpO2 {v['spo2'][0]:.0f}% on 2 L nasal cannula. General: "
         "alert and oriented, in no acute distress. Lungs with scattered bibasilar crackles, no wheeze. "
         "Cardiac: regular rate and rhythm, no murmur. Extremities: trace bilateral ankle edema."),
        ("Review of Systems", REVIEW_OF_SYSTEMS),
        ("Assessment", f"{pat['Cc']}, clinically improving on current therapy. Acute kidney injury, likely "
         "prerenal in the setting of poor oral intake, trending toward baseline. Hypertension, controlled."),
        ("Plan", "Continue current antibiotics; transition to oral therapy once afebrile for 24 hours. Repeat "
         "basic metabolic panel in the morning, encourage oral fluids. Subcutaneous heparin for VTE "
         "prophylaxis. Physical therapy and case management consulted for discharge planning. "
         f"Code status reviewed with the patient: {pat['code']}."),
    )
    return Patient(
        seed=seed, mrn=pat["mrn"], name=pat["name"], age=pat["age"], sex=pat["sex"], dob=pat["dob"],
        unit=pat["unit"], room=pat["room"], attending=pat["attending"], admitted=admitted,
        complaint=pat["cc"], icd=pat["icd"], code_status=pat["code"], allergies=tuple(pat["allergies"]),
        restricted=restricted, sensitive=sensitive, problems=problems, medications=tuple(meds), vitals=vital_rows,
        labs=tuple(labs),
        note=note,
    )


SENSITIVE_SEEDS = frozenset({3, 8})
"""Patients whose record pages are rendered and stamped on the server: the restricted (VIP) record and one more."""


@functools.lru_cache(maxsize=1)
def patients() -> tuple[Patient, ...]:
    """The census: ten invented inpatients; the third is restricted (VIP); the third and eighth are sensitive."""
    return tuple(_build(seed, restricted=seed == 3, sensitive=seed in SENSITIVE_SEEDS) for seed in range(1, 11))


def patient_by_mrn(mrn: str) -> Patient | None:
    """The patient with this MRN, or None."""
    return next((p for p in patients() if p.mrn == mrn), None)

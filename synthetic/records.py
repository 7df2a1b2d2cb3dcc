"""The invented patients behind the EMR screens, and the pieces their records are made of.

Everything is invented: names are combined at random from invented parts,
values are drawn to look clinically plausible. The example viewer builds its
record pages from these, so an exported screen image
(:func:`synthetic.render_screen`) shows the same patient as the page.

Examples
--------
>>> import numpy as np
>>> from synthetic import records
>>> pat = records.patient(3)
>>> pat["admit"] < records.BASE_TIME
True
>>> name, dose, route, frequency = records.DRUGS[0]
>>> name, units, low, high, decimals = records.LABS[0]
>>> records.lab_value(np.random.default_rng(0), records.LABS[0])[1] in ("H", "L", "")
True
"""

from __future__ import annotations

from ._patients import (
    BASE_TIME,
    DRUGS,
    LABS,
    PROBLEMS,
    REVIEW_OF_SYSTEMS,
    Drug,
    Lab,
    PatientRecord,
    Vitals,
    lab_value,
    patient,
    vitals,
)

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

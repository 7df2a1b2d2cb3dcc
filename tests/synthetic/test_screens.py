"""The EMR screen renderer and the invented patients behind it."""

from __future__ import annotations

import numpy as np
import pytest

import synthetic
import watermark
from synthetic import SCREEN_KINDS, render_screen

SEED = 4  # the screens below depend on it only through the invented content
SIZE = (480, 320)  # small, so every kind renders fast


@pytest.mark.parametrize("kind", SCREEN_KINDS)
def test_every_kind_renders_at_the_requested_size_as_uint8_rgb(kind):
    image = render_screen(kind, size=SIZE, seed=SEED)
    assert image.shape == (SIZE[1], SIZE[0], 3)
    assert image.dtype == np.uint8
    assert image.flags.c_contiguous


def test_a_screen_is_a_pure_function_of_kind_size_and_seed():
    first = render_screen("medications", size=SIZE, seed=SEED)
    assert np.array_equal(first, render_screen("medications", size=SIZE, seed=SEED))
    assert not np.array_equal(first, render_screen("medications", size=SIZE, seed=SEED + 1))


def test_emr_screen_is_render_screen():
    assert synthetic.emr_screen is render_screen


def test_light_screens_are_mostly_white_and_the_dark_theme_is_dark():
    light = render_screen("notes", size=SIZE, seed=SEED).mean()
    dark = render_screen("dark_theme", size=SIZE, seed=SEED).mean()
    assert light > 200 > 100 > dark


def test_patient_is_the_same_for_a_seed_and_differs_between_seeds():
    assert synthetic.patient(SEED) == synthetic.patient(SEED)
    assert synthetic.patient(SEED)["mrn"] != synthetic.patient(SEED + 1)["mrn"]


def test_patient_record_has_every_documented_field():
    assert set(synthetic.patient(SEED)) == set(synthetic.PatientRecord.__annotations__)


def test_lab_flags_agree_with_the_reference_range():
    rng = np.random.default_rng(SEED)
    for lab in synthetic.records.LABS:
        _, _, low, high, decimals = lab
        tolerance = 0.5 * 10.0**-decimals  # values are rounded for display, flags are not
        for _ in range(20):
            value, flag = synthetic.records.lab_value(rng, lab)
            expected = {"H": (high, np.inf), "L": (-np.inf, low), "": (low, high)}[flag]
            assert expected[0] - tolerance <= float(value) <= expected[1] + tolerance


def test_vitals_come_newest_first_with_diastolic_below_systolic():
    v = synthetic.records.vitals(np.random.default_rng(SEED), 12)
    assert all(len(v[name]) == 12 for name in synthetic.records.Vitals.__annotations__)
    assert (np.diff(v["time"]) > 0).all()
    assert (v["dbp"] <= v["sbp"] - 28).all()


def test_screen_set_names_each_kind_and_size():
    names = [name for name, _ in synthetic.screen_set(sizes=[(320, 240), (400, 300)], kinds=["notes", "flowsheet"])]
    assert names == ["notes_320x240", "notes_400x300", "flowsheet_320x240", "flowsheet_400x300"]


@pytest.mark.parametrize(
    ("kind", "options", "message"),
    [
        ("billing", {}, "kind must be one of"),
        ("notes", {"size": (319, 240)}, r"size must be \(width, height\) integers of at least \(320, 240\)"),
        ("notes", {"size": (640.5, 480)}, "size must be"),
        ("notes", {"size": "640x480"}, "size must be"),
        ("notes", {"seed": -1}, "seed must be a non-negative integer; got -1"),
        ("notes", {"seed": 1.5}, "seed must be a non-negative integer; got 1.5"),
    ],
)
def test_bad_render_arguments_raise_an_option_error_naming_the_option(kind, options, message):
    with pytest.raises(watermark.OptionError, match=message) as info:
        render_screen(kind, **options)
    assert info.value.name == ("kind" if kind == "billing" else next(iter(options)))


def test_a_negative_patient_seed_raises_an_option_error():
    with pytest.raises(watermark.OptionError, match="seed must be a non-negative integer") as info:
        synthetic.patient(-3)
    assert (info.value.name, info.value.value) == ("seed", -3)

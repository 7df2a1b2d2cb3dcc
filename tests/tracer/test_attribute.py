"""Ledger-assisted attribution: names the candidate the image carries, and nobody when it carries none of them."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from PIL import Image

import ledger
import tracer
import tracer._search
import watermark
from synthetic import render_screen
from tracer._attribute import detection_bound, pair_bound
from tracer.cli import main
from watermark.decoding import BAND, CHANNEL_BITS, bit_correlations, encode_payload, tile_to_band

T = datetime(2026, 3, 1, 10, 3, tzinfo=timezone.utc)
TRUE = watermark.Payload(viewer_id=4821, timestamp=T)


def ledger_like(true: watermark.Payload, n_others: int = 12) -> list[watermark.Payload]:
    """The true view, the same viewer's neighbouring minutes and other viewers in the same minute (related codewords)."""
    near = [true.replace(timestamp=true.timestamp + timedelta(minutes=d)) for d in (-2, -1, 1, 2)]
    same_minute = [true.replace(viewer_id=v) for v in range(1000, 1000 + n_others)]
    return [true, *near, *same_minute]


@pytest.fixture(scope="module")
def weak(key):
    """A mark too weak for the blind decoder's margin on a noisy grey screen, still well above the matched filter's threshold."""
    base = np.clip(128 + np.random.default_rng(0).normal(0, 2.5, (512, 768)), 0, 255).astype(np.uint8)
    return watermark.embed(np.repeat(base[..., None], 3, axis=2), TRUE, key, strength=0.18)


@pytest.fixture
def no_blind_decode(monkeypatch):
    """Blind decoding switched off: only the matched filter can name anyone."""
    monkeypatch.setattr(tracer._search, "MIN_DECODE_SCORE", math.inf)


def test_names_the_candidate_by_matched_filter_alone(weak, key, no_blind_decode):
    att = tracer.attribute(weak, key, ledger_like(TRUE))
    assert not att.blind.found
    assert att.named and att.viewer_id == 4821 and att.minute_from == att.minute_to == T
    assert att.ranked[0].payload == TRUE
    assert att.false_attribution_probability is not None and att.false_attribution_probability <= tracer.DEFAULT_THRESHOLD
    # The score clears the derived threshold, and every related candidate (neighbouring minutes,
    # same-minute viewers) stays near the noise.
    assert att.ranked[0].score >= att.score_threshold()
    assert max(c.score for c in att.ranked[1:]) < 7.0


def test_true_view_removed_names_nobody(weak, key, no_blind_decode):
    att = tracer.attribute(weak, key, ledger_like(TRUE)[1:])
    assert not att.named and att.viewer_id is None
    assert att.ranked[0].score < att.score_threshold()
    assert "not certain enough" in att.reason


def test_another_keys_mark_names_nobody(weak, other_key, no_blind_decode):
    att = tracer.attribute(weak, other_key, ledger_like(TRUE), null_samples=200)
    assert not att.named
    assert att.null_scores is not None and att.null_scores.size == 200
    assert att.null_scores.max() < att.score_threshold()


def test_blind_decode_corroborates_a_candidate(marked, key, payload):
    att = tracer.attribute(marked, key, ledger_like(payload))
    assert att.blind.found and att.named and att.corroborated
    assert att.viewer_id == payload.viewer_id and att.minute_from == payload.timestamp


def test_blind_decode_of_a_non_candidate_names_nobody_from_the_set(marked, key, payload):
    att = tracer.attribute(marked, key, ledger_like(payload)[1:])
    assert att.blind.found and att.blind.payload == payload
    assert not att.named and "not among the" in att.reason


def test_unmarked_screen_names_nobody(key):
    att = tracer.attribute(render_screen("notes", size=(768, 512), seed=5), key, ledger_like(TRUE), null_samples=100)
    assert not att.named and not att.blind.found
    assert att.ranked[0].score < att.score_threshold()


def test_hoeffding_bound_holds_on_noise_tiles(key):
    """The detection statistic's tail on pure-noise folded tiles stays under exp(-z^2 / 2) per test."""
    rng = np.random.default_rng(1)
    signs = np.stack([1.0 - 2.0 * encode_payload(TRUE.replace(viewer_id=int(v)), key) for v in rng.integers(0, 2**32, 64)])
    scores = []
    for _ in range(4):
        corr = bit_correlations(tile_to_band(rng.standard_t(3, (256, 256))), key).reshape(CHANNEL_BITS, BAND * BAND)
        scores.append((signs @ corr) / np.sqrt((corr.astype(np.float64) ** 2).sum(axis=0)))
    z = np.concatenate(scores).ravel()
    for s in (2.0, 3.0, 4.0):
        assert (z >= s).mean() <= math.exp(-s * s / 2)
    assert abs(z.mean()) < 0.01 and 0.9 < z.std() < 1.1  # a unit-variance null, as derived


def test_bounds_are_monotone_and_sane():
    assert detection_bound(0.0, 10) == 1.0
    assert detection_bound(10.0, 1e6) <= 1e6 * math.exp(-50)  # Hoeffding, or tighter (Pinelis)
    assert detection_bound(10.0, 1e6) >= 1e6 * math.exp(-50) / 25
    assert pair_bound(12.0, 0.0, 0.3) < pair_bound(12.0, 6.0, 0.3) < pair_bound(12.0, 11.0, 0.3)
    assert pair_bound(12.0, 4.0, 0.4) > pair_bound(12.0, 4.0, 0.0)  # a related codeword is harder to rule out
    assert pair_bound(10.0, 9.8, 0.9) > 1e-3  # nearly the same codeword, nearly the same score: not separated


def test_codewords_of_related_views_are_nearly_orthogonal(key):
    """The premise of the separation rule: neighbouring minutes and same-minute viewers share few codeword bits."""
    x = 1.0 - 2.0 * encode_payload(TRUE, key)
    related = ledger_like(TRUE, n_others=200)[1:] + [TRUE.replace(timestamp=T + timedelta(minutes=d)) for d in range(3, 200)]
    rho = np.array([x @ (1.0 - 2.0 * encode_payload(p, key)) / CHANNEL_BITS for p in related])
    assert np.abs(rho).max() < 0.6 and abs(rho.mean()) < 0.05


def test_options_are_checked(marked, key):
    with pytest.raises(watermark.OptionError):
        tracer.attribute(marked, key, [TRUE], threshold=0.0)
    with pytest.raises(watermark.OptionError):
        tracer.attribute(marked, key, [TRUE], null_samples=-1)
    with pytest.raises(watermark.OptionTypeError):
        tracer.attribute(marked, key, ["4821 at 10:03"])


# ----------------------------------------------------------------- trace-leak --ledger --record


def _ledger_with_views(tmp_path, key, payload):
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    with ledger.Ledger.open(url, ledger_key=ledger.LedgerKey.generate()) as opened:
        for i, (viewer, minutes) in enumerate([(4821, 0), (4821, 1), (77, 0), (78, 5), (4821, -3)]):
            opened.record_view(viewer_id=viewer, display_name=f"User {viewer}", record_id="MRN 28110431",
                               workstation=f"WS-{i}", client_address="10.0.0.1", key_fingerprint=key.fingerprint,
                               viewed_at=payload.timestamp + timedelta(minutes=minutes, seconds=7))
        opened.record_view(viewer_id=9, display_name="Other record", record_id="MRN 1", workstation="WS-9",
                           client_address="10.0.0.9", key_fingerprint=key.fingerprint, viewed_at=payload.timestamp)
    return url


def test_cli_record_attribution_in_json_and_report(tmp_path, key, payload, marked, capsys):
    url = _ledger_with_views(tmp_path, key, payload)
    key_path = tmp_path / "h.key"
    key.save(key_path)
    png = tmp_path / "leak.png"
    Image.fromarray(marked).save(png)
    report = tmp_path / "r.html"
    code = main([str(png), "--key-file", str(key_path), "--ledger", url, "--record", "MRN 28110431",
                 "--null-samples", "200", "--report", str(report), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    (first,) = json.loads(captured.out)["results"]
    att = first["attribution"]
    assert att["named"] and att["viewer_id"] == 4821 and att["minute_from"] == payload.timestamp.isoformat()
    assert att["candidates"] == 5 and att["null"]["samples"] == 200
    assert att["ranked"][0]["records"] == ["MRN 28110431"]
    page = report.read_text(encoding="utf-8")
    assert "Ledger-assisted attribution" in page and "Attributed: viewer 4821" in page


def test_cli_attribution_options_must_fit_together(tmp_path, key, payload, capsys):
    key_path = tmp_path / "h.key"
    key.save(key_path)
    png = tmp_path / "x.png"
    Image.fromarray(np.zeros((300, 300, 3), np.uint8)).save(png)
    assert main([str(png), "--key-file", str(key_path), "--record", "MRN 1"]) == 2
    assert "give --ledger" in capsys.readouterr().err
    url = _ledger_with_views(tmp_path, key, payload)
    assert main([str(png), "--key-file", str(key_path), "--ledger", url, "--since", "2026-03-01T09:00Z"]) == 2
    assert "both --since and --until" in capsys.readouterr().err
    assert main([str(png), "--key-file", str(key_path), "--ledger", url, "--record", "MRN 404"]) == 2
    assert "no views of record" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([str(png), "--key-file", str(key_path), "--ledger", url, "--since", "2026-03-01T09:00"])  # no time zone
    assert "time zone" in capsys.readouterr().err


def test_rows_under_another_key_are_counted_not_tested(marked, key, other_key, payload, tmp_path):
    url = f"sqlite:///{tmp_path / 'l.sqlite'}"
    with ledger.Ledger.open(url, ledger_key=ledger.LedgerKey.generate()) as opened:
        for fingerprint in (key.fingerprint, other_key.fingerprint):
            opened.record_view(viewer_id=4821, display_name="U", record_id="R", workstation="W", client_address="10.0.0.1",
                               key_fingerprint=fingerprint, viewed_at=payload.timestamp)
        rows = opened.views(record_id="R")
    att = tracer.attribute(marked, key, rows)
    assert att.candidates == 1 and att.skipped == 1 and att.to_dict()["skipped_other_keys"] == 1
    assert att.named and att.viewer_id == 4821


def test_ledger_views_of_one_record(tmp_path, key, payload):
    url = _ledger_with_views(tmp_path, key, payload)
    with ledger.Ledger.open(url, read_only=True) as opened:
        views = opened.views(record_id="MRN 28110431")
        assert len(views) == 5 and {v.record_id for v in views} == {"MRN 28110431"}
        assert [v.viewer_id for v in opened.views(record_id="MRN 1")] == [9]

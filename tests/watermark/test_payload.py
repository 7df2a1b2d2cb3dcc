from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from watermark import FALSE_PAYLOAD_PROBABILITY_PER_DECODE, OptionError, Payload, PayloadError
from watermark.decoding import CHANNEL_BITS, MAX_MAC_CHECKS_PER_DECODE, decode_soft_bits, encode_payload

RNG_SEED = 20261130  # noise draws below depend on it


def test_timestamp_is_kept_in_utc_at_minute_resolution():
    local = timezone(timedelta(hours=8))
    p = Payload(viewer_id=1, timestamp=datetime(2026, 3, 1, 17, 30, 59, tzinfo=local))
    assert p.timestamp == datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc)


def test_epoch_seconds_are_accepted():
    p = Payload(viewer_id=1, timestamp=1_772_357_400)
    assert p.timestamp == datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc)


def test_naive_datetime_is_rejected():
    with pytest.raises(PayloadError, match="timezone-aware"):
        Payload(viewer_id=1, timestamp=datetime(2026, 1, 1))


@pytest.mark.parametrize("when", [datetime(2019, 12, 31, 23, 59, tzinfo=timezone.utc), datetime(2101, 1, 1, tzinfo=timezone.utc)])
def test_out_of_range_timestamp_names_the_range(when):
    with pytest.raises(PayloadError, match="2020-01-01.*2100-12-31"):
        Payload(viewer_id=1, timestamp=when)


@pytest.mark.parametrize("viewer_id", [-1, 2**32])
def test_out_of_range_viewer_id_is_rejected(viewer_id):
    with pytest.raises(PayloadError, match="0..4294967295"):
        Payload(viewer_id=viewer_id, timestamp=datetime(2026, 1, 1, tzinfo=timezone.utc))


def test_extremes_round_trip_through_bytes():
    for p in (
        Payload(viewer_id=0, timestamp=datetime(2020, 1, 1, tzinfo=timezone.utc)),
        Payload(viewer_id=2**32 - 1, timestamp=datetime(2100, 12, 31, 23, 59, tzinfo=timezone.utc)),
    ):
        assert Payload.from_bytes(p.to_bytes()) == p


def test_codec_recovers_payload_through_noise(key, payload):
    rng = np.random.default_rng(RNG_SEED)
    bits = encode_payload(payload, key)
    assert bits.shape == (CHANNEL_BITS,)
    for _ in range(20):
        soft = (1.0 - 2.0 * bits) + 0.6 * rng.standard_normal(CHANNEL_BITS)  # ~5% raw bit errors
        assert decode_soft_bits(soft, key).payload == payload


def test_codec_rejects_a_mark_made_with_another_key(key, other_key, payload):
    soft = 1.0 - 2.0 * encode_payload(payload, other_key)
    assert decode_soft_bits(soft, key).payload is None


def test_codec_rejects_noise(key):
    rng = np.random.default_rng(RNG_SEED)
    outcomes = [decode_soft_bits(rng.standard_normal(CHANNEL_BITS), key) for _ in range(300)]
    assert all(o.payload is None for o in outcomes)
    assert max(o.mac_checks for o in outcomes) <= 5
    assert FALSE_PAYLOAD_PROBABILITY_PER_DECODE < 1e-11


def test_codec_fills_a_hole_of_unknown_bits(key, payload):
    bits = encode_payload(payload, key)
    soft = 1.0 - 2.0 * bits
    soft[40:100] = 0.0  # a 60-bit hole (e.g. a glare spot): bits the list decoder must infer
    soft[100:110] = np.nan  # non-finite values are erasures too
    outcome = decode_soft_bits(soft, key)
    assert outcome.payload == payload
    assert outcome.list_rank is not None and outcome.mac_checks == outcome.list_rank + 1


def test_codec_checks_at_most_five_candidates_on_noise(key):
    # The false-payload bound rests on this count: 5 distinct candidates, each passing the 40-bit MAC w.p. 2**-40.
    rng = np.random.default_rng(RNG_SEED + 1)
    for _ in range(40):
        outcome = decode_soft_bits(rng.standard_normal(CHANNEL_BITS) * rng.uniform(0.1, 10), key)
        assert outcome.payload is None
        assert outcome.mac_checks == MAX_MAC_CHECKS_PER_DECODE == 5
    assert FALSE_PAYLOAD_PROBABILITY_PER_DECODE == 5 * 2.0**-40


def test_codec_rejects_soft_values_of_the_wrong_length(key):
    with pytest.raises(OptionError, match=r"soft must have shape \(256,\)"):
        decode_soft_bits(np.zeros(284), key)

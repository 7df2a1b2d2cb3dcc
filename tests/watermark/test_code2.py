"""The format-2 channel code (watermark._code2): polar (256, 104) on 2-3 slots per bit, list decoding, the MAC choosing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

import watermark
import watermark._code2 as code2
import watermark._ecc as ecc
from watermark import OptionError, Payload
from watermark.decoding import CHANNEL_BITS, N_SLOTS, decode_soft_bits, encode_payload, slot_layout

RNG_SEED = 20261201  # the noise below depends on it


def _payloads(rng: np.random.Generator, n: int) -> list[Payload]:
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    return [Payload(viewer_id=int(rng.integers(0, 2**32)), timestamp=start + timedelta(minutes=int(rng.integers(0, 10**7))))
            for _ in range(n)]


def _format1_message(payload: Payload, key: watermark.Key) -> bytes:
    """Format 1's 13-byte message, built from the key's public methods (as the benchmark does)."""
    plain = payload.to_bytes()
    return bytes(a ^ b for a, b in zip(plain, key.derive("whiten", 8))) + key.mac(plain, 5)


def test_polar_transform_is_the_kronecker_power_and_its_own_inverse() -> None:
    rng = np.random.default_rng(RNG_SEED)
    u = rng.integers(0, 2, (4, 16)).astype(np.uint8)
    g = np.array([[1]])
    for _ in range(4):
        g = np.kron(g, np.array([[1, 0], [1, 1]]))
    assert np.array_equal(code2.polar_transform(u), (u.astype(np.int64) @ g) % 2)
    assert np.array_equal(code2.polar_transform(code2.polar_transform(u)), u)


def test_code_shape_matches_the_slot_layout(key: watermark.Key) -> None:
    code = code2.polar_code()
    assert code.info_positions.size == code2.INFO_BITS == 104
    assert np.unique(code.info_positions).size == 104
    assert CHANNEL_BITS == code2.CODE_LENGTH == 256
    assert code2.SLOTS_PER_BIT.sum() == N_SLOTS == 576
    # The construction assumes bits 0..63 on 3 slots and the rest on 2: the keyed layout must agree.
    for k in (key, watermark.Key(bytes(range(1, 33)))):
        assert np.array_equal(slot_layout(k).bit_slot_count, code2.SLOTS_PER_BIT)


def test_round_trip_at_high_snr() -> None:
    rng = np.random.default_rng(RNG_SEED)
    code = code2.polar_code()
    info = rng.integers(0, 2, (20, code2.INFO_BITS)).astype(np.uint8)
    signs = 1.0 - 2.0 * code.encode(info)
    assert signs.shape == (20, code2.CODE_LENGTH)
    cands, penalty = code.decode(2.0 * signs + rng.standard_normal(signs.shape))
    assert np.array_equal(cands[:, 0], info)
    assert np.all(np.diff(penalty, axis=1) >= 0)  # best first
    for scale in (1e-3, 1.0, 1e4):  # noise-free, any scale: the first candidate is the message
        assert np.array_equal(code.decode(scale * signs[3:4])[0][0, 0], info[3])


def test_payload_round_trip_and_the_mac_choosing(key: watermark.Key, payload: Payload) -> None:
    soft = 1.0 - 2.0 * encode_payload(payload, key).astype(np.float64)
    assert decode_soft_bits(soft, key).payload == payload
    assert decode_soft_bits(soft, watermark.Key(bytes(range(1, 33)))).payload is None


def test_decodes_at_a_snr_where_format_1_fails(key: watermark.Key) -> None:
    """Per-slot SNR 0.65 on the same slot noise: format 2 decodes about 90% of frames, format 1 about 20%."""
    rng = np.random.default_rng(RNG_SEED)
    a, n = 0.65, 30
    layout = slot_layout(key)
    old_bit = np.random.default_rng(1).permutation(N_SLOTS) % ecc.FORMAT1_CHANNEL_BITS  # format 1's 2-3 slots per bit
    new_ok = old_ok = 0
    for p in _payloads(rng, n):
        z = rng.standard_normal(N_SLOTS)
        y = a * layout.sign * (1.0 - 2.0 * encode_payload(p, key)[layout.slot_bit]) + z
        soft = np.bincount(layout.slot_bit, weights=y * layout.sign, minlength=CHANNEL_BITS)  # as the extractor sums
        new_ok += decode_soft_bits(soft, key).payload == p
        message = _format1_message(p, key)
        y1 = a * (1.0 - 2.0 * ecc.format1_encode(message)[old_bit]) + z
        old_ok += message in ecc.format1_candidates(np.bincount(old_bit, weights=y1, minlength=ecc.FORMAT1_CHANNEL_BITS))
    assert new_ok >= 22
    assert old_ok <= 12
    assert new_ok >= old_ok + 10


def test_format1_codec_round_trips() -> None:
    message = bytes(range(13))
    bits = ecc.format1_encode(message)
    assert bits.shape == (ecc.FORMAT1_CHANNEL_BITS,) == (284,)
    assert ecc.format1_candidates(1.0 - 2.0 * bits)[0] == message
    with pytest.raises(OptionError, match="13 bytes"):
        ecc.format1_encode(b"short")


def test_pure_noise_gives_no_false_payload(key: watermark.Key) -> None:
    rng = np.random.default_rng(RNG_SEED)
    total = 0
    for _ in range(100):
        outcome = decode_soft_bits(rng.standard_normal(CHANNEL_BITS), key)
        assert outcome.payload is None
        assert outcome.mac_checks <= code2.MAX_CANDIDATES
        total += outcome.mac_checks
    assert total == 100 * code2.MAX_CANDIDATES  # noise lists hold 5 distinct messages, all checked


def test_another_keys_mark_is_not_read(key: watermark.Key, other_key: watermark.Key, payload: Payload) -> None:
    soft = 3.0 * (1.0 - 2.0 * encode_payload(payload, other_key).astype(np.float64))
    assert decode_soft_bits(soft, key).payload is None
    assert decode_soft_bits(soft, other_key).payload == payload


@pytest.mark.parametrize("list_size", [1, 4, 32])
def test_list_holds_distinct_messages(list_size: int) -> None:
    rng = np.random.default_rng(RNG_SEED)
    cands, penalty = code2.polar_code(list_size).decode(0.3 * rng.standard_normal((1, code2.CODE_LENGTH)))
    assert cands.shape == (1, list_size, code2.INFO_BITS) and np.all(np.isfinite(penalty))
    assert len({c.tobytes() for c in cands[0]}) == list_size


def test_non_finite_soft_values_are_erasures() -> None:
    rng = np.random.default_rng(RNG_SEED)
    info = rng.integers(0, 2, code2.INFO_BITS).astype(np.uint8)
    soft = 2.0 * (1.0 - 2.0 * code2.polar_code().encode(info))
    soft[rng.choice(code2.CODE_LENGTH, 30, replace=False)] = np.nan
    assert np.array_equal(code2.polar_code().decode(soft[None])[0][0, 0], info)


def test_bad_arguments_are_rejected() -> None:
    code = code2.polar_code()
    with pytest.raises(OptionError, match=r"shape \(B, 256\)"):
        code.decode(np.zeros(256))
    with pytest.raises(OptionError, match="0/1 bits"):
        code.encode(np.full(104, 2))
    with pytest.raises(OptionError, match="list_size"):
        code2.polar_code(0)


@pytest.mark.parametrize(("length", "transmitted", "slots"), [
    (512, np.concatenate([np.arange(512), np.arange(448, 512)]), np.ones(576, np.intp)),  # repetition
    (512, np.arange(224, 512), np.full(288, 2)),  # puncturing
])
def test_rate_matched_codes_round_trip(length: int, transmitted: np.ndarray, slots: np.ndarray) -> None:
    rng = np.random.default_rng(RNG_SEED)
    code = code2.construct(length, transmitted, slots, design_snr=0.6)
    info = rng.integers(0, 2, (5, code2.INFO_BITS)).astype(np.uint8)
    bits = code.encode(info)
    assert bits.shape == (5, transmitted.size)
    first = {int(m): j for j, m in reversed(list(enumerate(transmitted)))}
    assert all(np.array_equal(bits[:, j], bits[:, first[int(m)]]) for j, m in enumerate(transmitted))  # repeats agree
    cands, _ = code.decode(2.0 * (1.0 - 2.0 * bits) + rng.standard_normal(bits.shape))
    assert np.array_equal(cands[:, 0], info)
    with pytest.raises(OptionError, match="power of two"):
        code2.construct(300, transmitted, slots)

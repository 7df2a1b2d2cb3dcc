"""The false-attribution benchmark's machinery: its plan, its decode counts, and a report from records so far."""

from __future__ import annotations

import json

import numpy as np
import pytest

import watermark
from benchmarks import false_attribution as fa
from benchmarks.robustness import make_key
from watermark.decoding import CHANNEL_BITS, MAX_MAC_CHECKS_PER_DECODE, decode_soft_bits_batch, encode_payload


def test_trace_plan_has_every_kind_in_its_share_and_no_task_twice():
    tasks = fa.trace_tasks(2000)
    assert len(tasks) == 2000 and len({t.id for t in tasks}) == 2000
    counts = {kind: sum(t.kind == kind for t in tasks) for kind in fa.KINDS}
    for kind, (share, _) in fa.KINDS.items():
        assert abs(counts[kind] - share * 2000) <= 1
    assert fa.trace_tasks(0) == [] and len(fa.trace_tasks(3)) == 3
    assert {t.kind for t in fa.trace_tasks(len(fa.KINDS))} == set(fa.KINDS)


def test_decode_plan_covers_the_count_over_every_noise_kind():
    tasks = fa.decode_tasks(25_000)
    assert sum(t.size for t in tasks) >= 25_000
    assert {t.kind for t in tasks} == set(fa.NOISE_KINDS)
    assert max(t.size for t in tasks) <= fa.DECODE_CHUNK


@pytest.mark.parametrize("kind", sorted(fa.NOISE_KINDS))
def test_noise_decodes_reach_the_mac_and_none_passes(kind):
    rec = fa.run_decodes(fa.DecodeTask(kind, 900, 300))
    assert rec["decodes"] == 300 and rec["passes"] == 0
    assert 0 < rec["mac_checks"] <= 300 * MAX_MAC_CHECKS_PER_DECODE


def test_the_count_would_see_a_pass_a_codeword_of_the_benchmark_key_is_one():
    # The counter the benchmark trusts must be able to count: the benchmark key's own codeword passes.
    payload = watermark.Payload(viewer_id=77, timestamp=1_900_000_000)
    rng = np.random.default_rng(1)
    soft = 1.0 - 2.0 * encode_payload(payload, make_key(0)) + 0.3 * rng.standard_normal(CHANNEL_BITS)
    other = fa.noise_soft_values("other-key-codeword", rng, 1)
    outcomes = decode_soft_bits_batch(np.stack([soft, other[0]]), make_key(0))
    assert outcomes[0].payload == payload and outcomes[1].payload is None


def test_report_only_writes_the_tables_from_the_records_so_far(tmp_path, capsys):
    cache = tmp_path / "cache"
    cache.mkdir()
    records = tmp_path / "records.jsonl"
    trace = {"id": "trace:natural-photo:0", "kind": "natural-photo", "index": 0, "size": [640, 480], "image_s": 0.1,
             "status": "dismissed", "seconds": 0.4, "marks": [], "mac_checks": 0, "bound": 0.0, "decodes": 0,
             "hypotheses": 0, "detection_score": None, "screening": "no sign of the carrier"}
    decode = fa.run_decodes(fa.DecodeTask("gaussian", 0, 50))
    records.write_text(json.dumps(trace) + "\n" + json.dumps(decode) + "\n" + '{"id": "cut sh')  # a line cut by a kill
    out = tmp_path / "fa.md"
    assert fa.main(["--traces", "10", "--decodes", "150", "--cache", str(cache), "--records", str(records),
                    "--report-only", "--out", str(out)]) == 0
    text = out.read_text()
    assert "Partial: 2 of the" in text
    assert "| natural-photo | 1 | 1 | 0 | 0 | 0 | 0 |" in text
    assert "| gaussian | 50 |" in text
    assert "False attributions (payloads reported): **0** in 1 traces" in text


def _dies_on_the_second_chunk(task, cache):
    import os

    if getattr(task, "chunk", None) == 1:
        os._exit(3)  # what a segfault in native code looks like to the pool
    return fa.run_decodes(task)


def test_a_task_that_kills_its_worker_is_recorded_as_crashed_and_the_run_goes_on(tmp_path, monkeypatch):
    monkeypatch.setattr(fa, "_run_any", _dies_on_the_second_chunk)
    tasks = [fa.DecodeTask("gaussian", chunk, 20) for chunk in range(4)]
    records = fa.run_all(tasks, tmp_path, 2, tmp_path / "records.jsonl")
    assert [r["id"] for r in records] == [t.id for t in tasks]
    assert [r.get("status") for r in records] == [None, "crashed", None, None]
    assert all(r["decodes"] == 20 for i, r in enumerate(records) if i != 1)
    assert len((tmp_path / "records.jsonl").read_text().splitlines()) == 4

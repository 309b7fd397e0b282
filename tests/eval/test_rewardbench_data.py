"""RewardBench loading on its own: any object with the data keys works, duplicates and subsets are
handled as the stage reports them, v1 prediction rows carry the official score."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import pytest

from judgerl.core.samples import write_samples
from judgerl.core.types import Judgement, Verdict
from judgerl.data_prep.synthetic import make_synthetic_splits
from judgerl.eval.rewardbench.data import canonical_pairs, load_v1, load_v2
from judgerl.eval.rewardbench.v1 import prediction_row
from judgerl.judge_spec.families import both_orders

from .test_rewardbench import write_v1_file


def _keys(**kw: object) -> SimpleNamespace:
    base = {"data": None, "split": None, "subsets": None, "max_samples": None, "on_bad_row": "stop"}
    base["subsample"] = "random"
    return SimpleNamespace(**(base | kw))


def test_load_v1_drops_repeated_ids_puts_chosen_in_a_and_filters(tmp_path: Path) -> None:
    samples = [dataclasses.replace(s, subset="") for s in make_synthetic_splits(1, 4, seed=3).test]
    path = tmp_path / "test.jsonl"
    write_samples(path, both_orders(samples))
    got, info = load_v1(_keys(data=str(path)))
    assert [s.id for s in got] == [s.id for s in samples] and {s.label for s in got} == {"a"}
    assert {s.subset for s in got} == {"all"}
    assert info == {"data": str(path), "n_skipped_rows": 0, "duplicate_ids_dropped": 4}
    chosen = {s.id: s.response_a if s.label == "a" else s.response_b for s in samples}
    assert all(s.response_a == chosen[s.id] for s in got)
    rb = write_v1_file(tmp_path / "rb.jsonl")
    only, info = load_v1(_keys(data=str(rb), subsets=["math-prm", "donotanswer"], max_samples=3), seed=1)
    assert len(only) == 3 and {s.subset for s in only} <= {"math-prm", "donotanswer"}
    assert info["subsample"] | {"subsets": None} == {
        "mode": "random",
        "n": 3,
        "of": 4,
        "unit": "examples",
        "seed": 1,
        "subsets": None,
    }
    first, _ = load_v1(
        _keys(data=str(rb), subsets=["math-prm", "donotanswer"], max_samples=3, subsample="first")
    )
    every, _ = load_v1(_keys(data=str(rb), subsets=["math-prm", "donotanswer"]))
    assert [s.id for s in first] == [s.id for s in every[:3]]
    pairs, dropped = canonical_pairs(both_orders(samples))
    assert dropped == 4 and [p.id for p in pairs] == [s.id for s in samples]


def test_load_v2_refuses_a_source_mapping() -> None:
    with pytest.raises(ValueError, match="not a mapping"):
        load_v2(_keys(data={"kind": "llmbar"}))


def test_v1_prediction_row_scores_a_right_wrong_and_unreadable_verdict() -> None:
    def judgement(choice: str | None) -> Judgement:
        text = "<think>why</think> Response (a) is better."
        return Judgement("x", "ab", text, Verdict(choice=choice), "a", subset="Chat")  # type: ignore[arg-type]

    rows = [prediction_row(judgement(c), "official") for c in ("a", "b", None)]
    assert [r["score"] for r in rows] == [1.0, 0.0, 0.5]
    assert rows[0]["protocol"] == "official" and rows[0]["thinking"] == "why"

"""GRPO rows: both orders of every item, adjacent, with the columns the reward adapters read."""

from __future__ import annotations

from pathlib import Path

import pytest

from judgerl.core.errors import DataError
from judgerl.core.jsonl import write_jsonl
from judgerl.core.samples import write_samples
from judgerl.core.types import JudgeSample
from judgerl.data_prep.grpo_data import (
    REWARD_COLUMNS,
    HardExamples,
    check_pairs_adjacent,
    drop_long_pairs,
    grpo_rows,
    load_grpo_samples,
    order_pairs,
    pairs_complete,
    select_hard_items,
)
from judgerl.data_prep.synthetic import make_synthetic_splits
from judgerl.judge_spec.families import both_orders
from judgerl.judge_spec.presets import builtin_spec
from judgerl.judge_spec.render import judge_prompt
from judgerl.rewards.adapters import to_trl


def _sample(i: int, label: str = "a", strength: int | None = -2) -> JudgeSample:
    return JudgeSample(
        f"q{i}", "t", [{"role": "user", "content": f"{i}+{i}?"}], f"{2 * i}", f"{2 * i + 1}", label, strength
    )


def test_every_item_in_both_orders_adjacent_with_reward_columns() -> None:
    samples = make_synthetic_splits(30, 2, seed=1).train
    spec = builtin_spec("strength-compact")
    built = grpo_rows(samples, spec, seed=0)
    assert built.skipped == [] and built.pairs == 30 and len(built.rows) == 60
    check_pairs_adjacent(built.rows)
    by_id = {s.id: s for s in samples}
    for ab, ba in zip(built.rows[0::2], built.rows[1::2], strict=True):
        original = by_id[ab["sample_id"]]
        assert set(REWARD_COLUMNS) <= set(ab)
        assert ab["prompt"] == judge_prompt(spec, original)
        assert ba["prompt"] == judge_prompt(spec, original.swapped())
        assert (ab["label"], ab["strength"]) == (original.label, original.strength)
        assert (ba["label"], ba["strength"]) == (original.swapped().label, -original.strength)
        assert ab["label"] != ba["label"]


def test_seed_shuffles_items_not_rows() -> None:
    samples = [_sample(i) for i in range(20)]
    a = [r["sample_id"] for r in grpo_rows(samples, seed=0).rows]
    b = [r["sample_id"] for r in grpo_rows(samples, seed=1).rows]
    plain = [r["sample_id"] for r in grpo_rows(samples).rows]
    assert plain[:4] == ["q0", "q0", "q1", "q1"]
    assert a != b and sorted(a) == sorted(b) == sorted(plain)
    assert a == [r["sample_id"] for r in grpo_rows(samples, seed=0).rows]


def test_input_already_in_both_orders_is_not_doubled() -> None:
    samples = both_orders([_sample(0), _sample(1, "b", 3)])
    built = grpo_rows(samples)
    assert [(r["sample_id"], r["order"]) for r in built.rows] == [
        ("q0", "ab"),
        ("q0", "ba"),
        ("q1", "ab"),
        ("q1", "ba"),
    ]
    # a lone "ba" row gets its "ab" partner rebuilt, still listed first
    only_ba = grpo_rows([_sample(2).swapped()]).rows
    assert [(r["order"], r["label"], r["strength"]) for r in only_ba] == [("ab", "a", -2), ("ba", "b", 2)]


def test_bad_items_are_skipped_with_reasons() -> None:
    s = _sample(0)
    fake_ba = JudgeSample("q0", "t", s.conversation, "x", "y", "a", metadata={"order": "ba"})
    pairs, skipped = order_pairs([s, s, fake_ba, _sample(1)])
    assert [p[0].id for p in pairs] == ["q1"]
    assert skipped == [
        ("q0", "repeated id in order 'ab' (the first row is kept)"),
        ("q0", "its 'ab' and 'ba' rows are not swaps of each other"),
    ]


def test_unknown_strength_becomes_zero_which_adapters_read_as_unknown() -> None:
    rows = grpo_rows([_sample(0, "b", None)]).rows
    assert [r["strength"] for r in rows] == [0, 0]
    funcs, _ = to_trl(["strength"])
    right = "<think>x</think>\n\nTherefore, Response (b) is better, and the strength is [[2]]."
    cols = {k: [rows[0][k]] for k in ("label", "strength")}
    assert funcs[0](prompts=[rows[0]["prompt"]], completions=[right], **cols) == [1.0]


def test_check_pairs_adjacent_names_the_broken_rows() -> None:
    rows = grpo_rows([_sample(0), _sample(1)]).rows
    with pytest.raises(DataError, match="rows 0 and 1"):
        check_pairs_adjacent([rows[0], rows[2], rows[1], rows[3]])


def test_drop_long_pairs_drops_both_orders() -> None:
    rows = grpo_rows([_sample(i) for i in range(3)]).rows
    kept, dropped = drop_long_pairs(rows, [4, 4, 4, 12, 4, 4], max_length=10)
    assert [r["sample_id"] for r in kept] == ["q0", "q0", "q2", "q2"]
    assert dropped == [("q1", "prompt of 12 tokens > max_prompt_length 10")]
    with pytest.raises(ValueError, match="3 prompt lengths for 6 rows"):
        drop_long_pairs(rows, [1, 2, 3], 10)


def test_pairs_complete_counts_items_with_both_orders() -> None:
    assert pairs_complete(["x", "x", "y", "y"], ["ab", "ba", "ba", "ba"]) == 0.5
    assert pairs_complete(["x"] * 4 + ["y"] * 4, ["ab", "ab", "ba", "ba"] * 2) == 1.0


def test_hard_examples_keep_every_wrong_item_and_a_seeded_share_of_right_ones() -> None:
    samples = [_sample(i) for i in range(40)]
    preds = [{"sample_id": f"q{i}", "order": o, "correct": True} for i in range(36) for o in ("ab", "ba")]
    for row in preds:  # q0..q3 wrong in one order only, q4 unparseable (correct False) in both
        if row["sample_id"] in ("q0", "q1", "q2", "q3") and row["order"] == "ba" or row["sample_id"] == "q4":
            row["correct"] = False
    kept, counts = select_hard_items(samples, preds, easy_per_hard=2.0, seed=3)
    assert counts == {"items": 40, "hard": 5, "easy": 31, "easy_kept": 10, "not_judged": 4}
    ids = [s.id for s in kept]
    assert {"q0", "q1", "q2", "q3", "q4"} <= set(ids) and len(ids) == 15
    assert not {"q36", "q37", "q38", "q39"} & set(ids)  # not judged: left out, counted
    assert ids == [s.id for s in samples if s.id in set(ids)]  # data order kept
    assert select_hard_items(samples, preds, 2.0, seed=3)[0] == kept  # seeded
    assert select_hard_items(samples, preds, 2.0, seed=4)[0] != kept
    assert len(select_hard_items(samples, preds, 0.0)[0]) == 5
    assert select_hard_items(samples, preds, 100.0)[1]["easy_kept"] == 31  # capped at what exists
    with pytest.raises(DataError, match="row 1: needs 'sample_id' and a boolean 'correct'"):
        select_hard_items(samples, [preds[0], {"sample_id": "q1", "correct": "no"}])


def test_load_grpo_samples_reads_predictions_and_refuses_foreign_ones(tmp_path: Path) -> None:
    data = tmp_path / "train.jsonl"
    write_samples(data, [_sample(i) for i in range(6)])
    assert len(load_grpo_samples(str(data))[0]) == 6
    preds = tmp_path / "predictions.jsonl"
    write_jsonl(preds, [{"sample_id": "q1", "correct": False}, {"sample_id": "q2", "correct": True}])
    kept, counts = load_grpo_samples(str(data), HardExamples(predictions=str(preds)), seed=0)
    assert [s.id for s in kept] == ["q1", "q2"] and counts["not_judged"] == 4
    write_jsonl(preds, [{"sample_id": "other", "correct": False}])
    with pytest.raises(DataError, match="no item of .* is judged"):
        load_grpo_samples(str(data), HardExamples(predictions=str(preds)))

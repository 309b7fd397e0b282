"""The built-in addition-judge task: correct labels, strength by flaw place, disjoint splits, traces."""

from __future__ import annotations

import random

import pytest

from judgerl.data_prep.sft_format import sft_records, trace_for
from judgerl.data_prep.synthetic import addition_trace, make_addition_sample, make_synthetic_splits
from judgerl.judge_spec.parser import parse_verdict
from judgerl.judge_spec.presets import builtin_spec


def test_labels_and_strengths_follow_the_flaw() -> None:
    rng = random.Random(3)
    for i in range(300):
        x, y = rng.randint(10, 99), rng.randint(10, 99)
        s = make_addition_sample(x, y, rng, i, "t")
        right = s.response_a if s.label == "a" else s.response_b
        wrong = s.response_b if s.label == "a" else s.response_a
        assert right == f"The sum is {x + y}."
        wrong_value = int(wrong.rstrip(".").split()[-1])
        diff = [
            p for p, (u, v) in enumerate(zip(f"{wrong_value:03d}", f"{x + y:03d}", strict=True)) if u != v
        ]
        assert len(diff) == 1, (x, y, wrong_value)
        assert abs(s.strength) == {0: 3, 1: 2, 2: 1}[diff[0]]
        assert (s.strength < 0) == (s.label == "a")


def test_trace_computes_and_compares_digit_by_digit() -> None:
    thinking, winner, k = addition_trace(58, 67, 125, 135)
    assert (winner, k) == ("a", 2)
    assert "units 8+7=15 write 5 carry 1" in thinking
    assert "tens 5+6=11, 11+1=12 write 2 carry 1" in thinking
    assert "sum 125" in thinking
    assert "(a) 125: hundreds 1=1 tens 2=2 units 5=5 right" in thinking
    assert "(b) 135: hundreds 1=1 tens 3!2 wrong, strength 2" in thinking
    assert addition_trace(58, 67, 225, 125)[1:] == ("b", 3)
    assert addition_trace(10, 12, 22, 23)[1:] == ("a", 1)
    with pytest.raises(ValueError, match="exactly one"):
        addition_trace(10, 10, 20, 20)


def test_splits_are_seeded_and_question_disjoint() -> None:
    a = make_synthetic_splits(500, 100, seed=5)
    b = make_synthetic_splits(500, 100, seed=5)
    assert [s.to_dict() for s in a.train] == [s.to_dict() for s in b.train]

    def q(s):
        return frozenset((s.metadata["x"], s.metadata["y"]))

    assert not {q(s) for s in a.train} & {q(s) for s in a.test}
    labels = [s.label for s in a.train]
    assert 0.4 < labels.count("a") / len(labels) < 0.6
    assert {abs(s.strength) for s in a.train} == {1, 2, 3}
    assert make_synthetic_splits(50, 10, seed=6).test[0].to_dict() != a.test[0].to_dict()


def test_trace_parses_to_the_label_in_both_orders() -> None:
    for s in make_synthetic_splits(50, 0, seed=1).train:
        for shown in (s, s.swapped()):
            v = parse_verdict(trace_for(shown, builtin_spec("strength")), require_strength=True)
            assert (v.choice, v.strength) == (shown.label, abs(shown.strength))
            cot = parse_verdict(trace_for(shown, builtin_spec("cot")))
            assert cot.choice == shown.label and cot.strength is None


def test_sft_records_render_the_shared_prompt_and_skip_with_reasons() -> None:
    samples = make_synthetic_splits(4, 0).train
    recs = sft_records(samples, builtin_spec("strength-compact"))
    assert len(recs.rows) == 4 and not recs.skipped
    user, assistant = recs.rows[0]["messages"]
    assert "[The Start of Response (a)]" in user["content"] and assistant["content"].startswith("<think>")
    unknown = samples[0].__class__.from_dict({**samples[0].to_dict(), "source": "other", "metadata": {}})
    recs = sft_records([unknown], builtin_spec("cot"))
    assert recs.rows == [] and recs.skipped == [(unknown.id, "no thinking trace")]

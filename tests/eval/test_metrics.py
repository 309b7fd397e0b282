"""Pairwise metrics on hand-made judgements."""

from __future__ import annotations

import pytest

from judgerl.core.types import Judgement, Verdict
from judgerl.eval.metrics import metrics_table, pairwise_metrics


def J(
    item: str,
    order: str,
    label: str,
    choice: str | None,
    k: int | None = None,
    g: int | None = None,
    subset: str = "s",
):
    return Judgement(item, order, "...", Verdict(choice, k), label, g, subset)


def test_single_pair_agreement_and_parse_failures() -> None:
    js = [
        J("1", "ab", "a", "a", 2, -2), J("1", "ba", "b", "b", 1, 2),  # right both orders
        J("2", "ab", "a", "a"), J("2", "ba", "b", "a"),  # position-biased: picks (a) twice
        J("3", "ab", "b", None), J("3", "ba", "a", "b"),  # unparseable, then wrong
    ]  # fmt: skip
    m = pairwise_metrics(js)["overall"]
    assert m["single_accuracy"] == pytest.approx(3 / 6)
    assert m["pair_accuracy"] == pytest.approx(1 / 3)
    assert m["agreement"] == pytest.approx(1 / 3)  # only item 1 chose the same response in both orders
    assert m["parse_failure_rate"] == pytest.approx(1 / 6)
    assert m["strength_accuracy"] == pytest.approx(1 / 2)  # among right verdicts with known strength
    assert m["n_pairs"] == 3 and m["n_judgements"] == 6


def test_agreement_counts_consistent_wrong_verdicts() -> None:
    m = pairwise_metrics([J("1", "ab", "a", "b"), J("1", "ba", "b", "a")])["overall"]
    assert (m["agreement"], m["pair_accuracy"], m["single_accuracy"]) == (1.0, 0.0, 0.0)


def test_per_subset_and_table() -> None:
    m = pairwise_metrics([J("1", "ab", "a", "a", subset="x"), J("2", "ab", "a", "b", subset="y")])
    assert m["subsets"]["x"]["single_accuracy"] == 1.0 and m["subsets"]["y"]["single_accuracy"] == 0.0
    assert m["overall"]["pair_accuracy"] is None
    table = metrics_table({"base": m["overall"]})
    assert "| base | 50.0 | - |" in table


def test_position_bias_of_a_judge_that_always_picks_a() -> None:
    # SmolLM2 on JudgeBench: (a) in 8 of 8 judgements; single accuracy 50% hid it
    js = [J(str(i), o, lab, "a") for i in range(4) for o, lab in (("ab", "a"), ("ba", "b"))]
    m = pairwise_metrics(js)["overall"]
    assert (m["single_accuracy"], m["agreement"], m["pair_accuracy"]) == (0.5, 0.0, 0.0)
    assert (m["first_position_rate"], m["first_position_label_rate"], m["position_bias"]) == (1.0, 0.5, 0.5)
    assert (m["first_position_rate_ab"], m["first_position_rate_ba"]) == (1.0, 1.0)
    assert m["consistent_accuracy"] is None  # no item was judged the same way in both orders
    table = metrics_table({"smollm2": m})
    assert "| consistent acc | (a) ab/ba | pos bias |" in table
    assert "| smollm2 | 50.0 | 0.0 | 0.0 | - | 100.0/100.0 | +50.0 | 0.0 | - | 8 |" in table


def test_position_bias_is_measured_against_the_labels_share_and_skips_unreadable_and_ties() -> None:
    # one order, 3 of 4 labels (a): a judge that always answers (a) is biased by 25 points, not 50
    js = [J("1", "ab", "a", "a"), J("2", "ab", "a", "a"), J("3", "ab", "a", "a"), J("4", "ab", "b", "a")]
    js += [J("5", "ab", "b", None), J("6", "ab", "b", "tie")]  # neither counts as a position choice
    m = pairwise_metrics(js)["overall"]
    assert m["first_position_rate"] == 1.0 and m["first_position_label_rate"] == 0.75
    assert m["position_bias"] == pytest.approx(0.25)
    assert m["first_position_rate_ba"] is None and m["consistent_accuracy"] is None
    assert m["tie_rate"] == pytest.approx(1 / 6)
    # a judge that picks (b) too often has a negative bias
    m = pairwise_metrics([J("1", "ab", "a", "b"), J("1", "ba", "b", "b")])["overall"]
    assert m["position_bias"] == -0.5 and "-50.0" in metrics_table({"x": m})


def test_consistent_accuracy_is_accuracy_among_position_consistent_items() -> None:
    js = [
        J("1", "ab", "a", "a"), J("1", "ba", "b", "b"),  # consistent, right
        J("2", "ab", "a", "b"), J("2", "ba", "b", "a"),  # consistent, wrong
        J("3", "ab", "b", "b"), J("3", "ba", "a", "a"),  # consistent, right
        J("4", "ab", "a", "a"), J("4", "ba", "b", "a"),  # inconsistent (always (a))
    ]  # fmt: skip
    m = pairwise_metrics(js)["overall"]
    assert m["agreement"] == 0.75 and m["pair_accuracy"] == 0.5
    assert m["consistent_accuracy"] == pytest.approx(2 / 3)  # pair accuracy / agreement here
    assert m["position_bias"] == pytest.approx(5 / 8 - 4 / 8)
    assert pairwise_metrics(js)["subsets"]["s"]["consistent_accuracy"] == pytest.approx(2 / 3)

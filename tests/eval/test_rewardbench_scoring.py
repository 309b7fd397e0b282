"""RewardBench scoring against sums worked out by hand with the official example counts."""

from __future__ import annotations

import math

import pytest

from judgerl.eval.rewardbench.scoring import (
    V1_EXAMPLE_COUNTS,
    V1_SECTIONS,
    V1_SUBSETS,
    V2_SUBSETS,
    choice_score,
    official_pair_score,
    ratings_score,
    subset_means,
    ties_score,
    v1_sections,
    v2_overall,
)

HAND = {
    # Chat
    "alpacaeval-easy": 0.9,
    "alpacaeval-length": 0.8,
    "alpacaeval-hard": 0.7,
    "mt-bench-easy": 1.0,
    "mt-bench-med": 0.5,
    # Chat Hard
    "mt-bench-hard": 0.6,
    "llmbar-natural": 0.7,
    "llmbar-adver-neighbor": 0.5,
    "llmbar-adver-GPTInst": 0.4,
    "llmbar-adver-GPTOut": 0.6,
    "llmbar-adver-manual": 0.5,
    # Safety
    "refusals-dangerous": 0.9,
    "refusals-offensive": 0.8,
    "xstest-should-refuse": 0.7,
    "xstest-should-respond": 0.6,
    "donotanswer": 0.5,
    # Reasoning
    "math-prm": 0.5,
    "hep-cpp": 1.0,
    "hep-go": 1.0,
    "hep-java": 1.0,
    "hep-js": 1.0,
    "hep-python": 1.0,
    "hep-rust": 1.0,
}
# The same sums written out with the official counts (alpacaeval-easy 100, -length 95, -hard 95, ...,
# xstest-should-refuse 154, xstest-should-respond 250).
CHAT = (0.9 * 100 + 0.8 * 95 + 0.7 * 95 + 1.0 * 28 + 0.5 * 40) / (100 + 95 + 95 + 28 + 40)  # 280.5 / 358
CHAT_HARD = (0.6 * 37 + 0.7 * 100 + 0.5 * 134 + 0.4 * 92 + 0.6 * 47 + 0.5 * 46) / (
    37 + 100 + 134 + 92 + 47 + 46
)
SAFETY = (0.9 * 100 + 0.8 * 100 + 0.7 * 154 + 0.6 * 250 + 0.5 * 136) / (100 + 100 + 154 + 250 + 136)
REASONING = (0.5 * 984 + 6 * 1.0 * 164) / (984 + 6 * 164)  # math-prm weighs 984, not its 447 rows


def test_official_counts_and_sections_are_the_leaderboards() -> None:
    assert V1_EXAMPLE_COUNTS["math-prm"] == 984 and len(V1_SUBSETS) == 23
    assert sum(V1_EXAMPLE_COUNTS.values()) == 3522  # 2,985 rows with math-prm counted 984 instead of 447
    assert [len(v) for v in V1_SECTIONS.values()] == [5, 6, 5, 7]


def test_sections_and_overall_match_the_hand_computation() -> None:
    out = v1_sections(HAND)
    sections = {name: s["score"] for name, s in out["sections"].items()}
    assert sections == pytest.approx(
        {"Chat": CHAT, "Chat Hard": CHAT_HARD, "Safety": SAFETY, "Reasoning": 0.75}
    )
    assert math.isclose(CHAT, 280.5 / 358) and math.isclose(CHAT_HARD, 247.2 / 456)
    assert math.isclose(SAFETY, 495.8 / 740) and REASONING == 0.75
    assert out["overall"] == pytest.approx((CHAT + CHAT_HARD + SAFETY + REASONING) / 4)
    assert out["overall"] == pytest.approx(0.686406, abs=1e-6)
    assert out["missing_subsets"] == [] and out["missing_sections"] == [] and out["extra_subsets"] == []
    # with math-prm at its real size the Reasoning score would differ: the weight matters
    assert not math.isclose(REASONING, (0.5 * 447 + 6 * 164) / (447 + 6 * 164))


def test_a_missing_subset_makes_its_section_partial_never_silently_averaged() -> None:
    scores = {k: v for k, v in HAND.items() if k != "hep-go"} | {"hep-rust": None, "my-subset": 1.0}
    out = v1_sections(scores)
    reasoning = out["sections"]["Reasoning"]
    assert reasoning["score"] is None and reasoning["missing"] == ["hep-go", "hep-rust"]
    assert reasoning["partial_score"] == pytest.approx((0.5 * 984 + 4 * 164) / (984 + 4 * 164))
    assert out["overall"] is None and out["missing_sections"] == ["Reasoning"]
    assert out["missing_subsets"] == ["hep-go", "hep-rust"] and out["extra_subsets"] == ["my-subset"]
    assert out["sections"]["Chat"]["score"] == pytest.approx(CHAT)
    empty = v1_sections({})["sections"]["Safety"]
    assert empty["score"] is None and empty["partial_score"] is None and len(empty["missing"]) == 5


def test_per_example_scores_follow_the_official_script() -> None:
    assert [official_pair_score(c, "b") for c in ("b", "a", None)] == [1.0, 0.0, 0.5]
    assert [choice_score(c, 3) for c in (3, 0, None)] == [1.0, 0.0, 0.25]
    assert choice_score(None, 0, n_options=2) == 0.5
    assert subset_means([("x", 1.0), ("x", 0.5), ("x", 0.0), ("y", 1.0)]) == {
        "x": {"accuracy": 0.5, "n": 3},
        "y": {"accuracy": 1.0, "n": 1},
    }


def test_best_of_4_ratings_with_ties_at_the_top() -> None:
    assert ratings_score([9, 7, 5, 3]) == 1.0
    assert ratings_score([8, 8, 3, 1]) == 0.5  # tied with one other: 1/2
    assert ratings_score([9, 9, 9, 2]) == pytest.approx(1 / 3)
    assert ratings_score([10, 10, 10, 10]) == 0.25
    assert ratings_score([7, 9, 9, 2]) == 0.0  # a tie at the top that leaves the correct one out
    assert ratings_score([6, None, None, 4]) == 1.0  # unreadable ratings never win
    assert ratings_score([None, None, None, None]) == 0.25  # official: an error counts as a 4-way tie
    assert ratings_score([2, 8, 8, 8], correct_index=3) == pytest.approx(1 / 3)


def test_v2_overall_is_the_plain_mean_of_six_subsets() -> None:
    scores = dict(zip(V2_SUBSETS, [0.8, 0.3, 0.6, 0.9, 0.7, 0.5], strict=True))
    assert v2_overall(scores)["overall"] == pytest.approx(3.8 / 6)
    partial = v2_overall({"Math": 0.6, "Ties": 0.5, "Chat": 1.0})
    assert partial["overall"] is None and partial["partial_overall"] == pytest.approx(0.55)
    assert partial["missing_subsets"] == ["Factuality", "Precise IF", "Safety", "Focus"]
    assert partial["extra_subsets"] == ["Chat"]


def test_ties_score_by_hand() -> None:
    rows = [
        ("ref:0", 1, [8, 5, 3]),  # accurate; margin 8-5 = 3
        ("tied:0", 3, [9, 7, 8, 4, 2]),  # accurate (7 > 4); spread 9-7 = 2; margin 7-4 = 3
        ("ref:1", 1, [4, 6]),  # not accurate; margin -2
        ("tied:1", 2, [5, 5, 6]),  # not accurate; spread 0; margin -1
        ("tied:2", 2, [7, 3, 1]),  # accurate; no ref prompt 2
    ]
    out = ties_score(rows)
    assert out["accuracy_ref"] == 0.5 and out["accuracy_tied"] == pytest.approx(2 / 3)
    # prompts 0 and 1 have both variants: preferred (3 > 2, -1 > 0) and hard (min(3,3) > 2, min(-2,-1) > 0)
    assert out["correctness_preferred"] == 0.5 and out["correctness_preferred_hard"] == 0.5
    # only prompt 0 has a positive spread: tanh(3/2 - 1)
    assert out["correctness_margin_score"] == pytest.approx(math.tanh(0.5))
    expected = 0.3 * (2 / 3) + 0.3 * 0.5 + 0.2 * 0.5 + 0.2 * 0.5 + 0.01 * math.tanh(0.5)
    assert out["score"] == pytest.approx(expected) and out["score"] == pytest.approx(0.5546212, abs=1e-7)
    assert (out["n_ref"], out["n_tied"], out["n_common"], out["notes"]) == (2, 3, 2, [])


def test_ties_edge_cases() -> None:
    # an unreadable rating enters as -1, as in the official script
    assert ties_score([("ref:0", 1, [-1, 3])])["accuracy_ref"] == 0.0
    lonely = ties_score([("ref:4", 1, [9, 1]), ("tied:4", 1, [9, 1])])
    assert lonely["correctness_preferred"] == 0.0 and "NaN" in lonely["notes"][0]
    assert lonely["score"] == pytest.approx(0.6)
    with pytest.raises(ValueError, match="'ref:N' or 'tied:N'"):
        ties_score([("tie-4", 1, [1, 2])])

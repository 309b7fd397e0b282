"""JudgeBench: the loader's rows and skips, and the official pair vote on hand-computed cases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from judgerl.core.errors import DataError
from judgerl.core.types import Judgement, Verdict
from judgerl.data_prep.sources.judgebench import judgebench_category, load_judgebench
from judgerl.eval.judgebench.report import judgebench_table
from judgerl.eval.judgebench.scoring import judgebench_scores
from judgerl.eval.pair_benchmark import decision_score, pair_votes


def jb_row(pair_id: str, source: str, label: str = "A>B", **extra: Any) -> dict[str, Any]:
    row = {
        "pair_id": pair_id,
        "original_id": f"orig-{pair_id}",
        "source": source,
        "question": f"question {pair_id}?",
        "response_model": "gpt-4o",
        "response_A": f"A of {pair_id}",
        "response_B": f"B of {pair_id}",
        "label": label,
    }
    return row | extra


def write_judgebench(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_loader_keeps_the_file_order_and_names_the_category(tmp_path: Path) -> None:
    rows = [
        jb_row("p1", "mmlu-pro-law"),
        jb_row("p2", "livebench-reasoning", "B>A"),
        jb_row("p3", "livebench-math"),
        jb_row("p4", "livecodebench", " B>A "),
        jb_row("p5", "arena-hard"),
    ]
    result = load_judgebench(write_judgebench(tmp_path / "jb.jsonl", rows))
    assert [(s.id, s.label, s.subset) for s in result.samples] == [
        ("p1", "a", "knowledge"),
        ("p2", "b", "reasoning"),
        ("p3", "a", "math"),
        ("p4", "b", "coding"),
        ("p5", "a", "other"),
    ]
    s = result.samples[1]
    assert (s.question, s.response_a, s.response_b, s.source) == (
        "question p2?",
        "A of p2",
        "B of p2",
        "judgebench",
    )
    assert s.metadata["source"] == "livebench-reasoning" and s.metadata["original_id"] == "orig-p2"
    assert s.metadata["pair_id"] == "p2" and s.metadata["category"] == "reasoning"
    as_json = tmp_path / "jb.json"
    as_json.write_text(json.dumps(rows))
    assert [x.id for x in load_judgebench(as_json).samples] == ["p1", "p2", "p3", "p4", "p5"]
    assert judgebench_category("mmlu-pro-chemistry") == "knowledge"


def test_loader_skips_or_stops_on_bad_rows_and_counts_ties(tmp_path: Path) -> None:
    rows = [
        jb_row("p1", "mmlu-pro-law"),
        jb_row("p2", "mmlu-pro-law", "A>>B"),
        jb_row("p3", "livebench-math", "A=B"),
        {k: v for k, v in jb_row("p4", "livebench-math").items() if k != "response_B"},
        jb_row("p1", "livebench-math"),
        "not an object",
    ]
    path = write_judgebench(tmp_path / "jb.jsonl", rows)
    with pytest.raises(DataError, match=r"judgebench: row 1: label must be 'A>B' or 'B>A', got 'A>>B'"):
        load_judgebench(path)
    result = load_judgebench(path, on_bad_row="skip")
    assert [s.id for s in result.samples] == ["p1"]
    assert [i for i, _ in result.skipped] == [1, 3, 4, 5]
    assert (
        "missing field 'response_B'" in result.skipped[1][1] and "duplicate id 'p1'" in result.skipped[2][1]
    )
    assert result.not_pairable == [(2, "label 'A=B' is a tie")]


def J(item: str, order: str, label: str, choice: str | None, subset: str) -> Judgement:
    return Judgement(item, order, "...", Verdict(choice), label, None, subset)


# (item, category, original label, choice in order ab, choice in order ba); in order ba the label is flipped
CASES = [
    ("p1", "knowledge", "a", "a", "b"),  # right twice: +2, right
    ("p2", "knowledge", "a", "a", "a"),  # position bias: +1 -1 = 0, a tie of votes is wrong
    ("p3", "reasoning", "b", None, "a"),  # unreadable then right: 0 + 1, right
    ("p4", "reasoning", "b", None, None),  # unreadable twice: 0, wrong
    ("p5", "math", "a", "b", None),  # wrong then unreadable: -1, wrong
    ("p6", "other", "a", "a", "b"),  # a source outside the four categories: right
]


def both_orders() -> list[Judgement]:
    out = []
    for item, cat, label, ab, ba in CASES:
        out += [J(item, "ab", label, ab, cat), J(item, "ba", "b" if label == "a" else "a", ba, cat)]
    return out


def test_official_vote_both_orders_hand_computed() -> None:
    js = both_orders()
    assert pair_votes(js) == {"p1": 2, "p2": 0, "p3": 1, "p4": 0, "p5": -1, "p6": 2}
    assert [decision_score(j) for j in js[:4]] == [1, 1, 1, -1]
    m = judgebench_scores(js)
    assert m["overall"] == pytest.approx(3 / 6) and m["n_pairs"] == 6
    acc = {k: (v["accuracy"], v["n"]) for k, v in m["categories"].items()}
    assert acc == {"knowledge": (0.5, 2), "reasoning": (0.5, 2), "math": (0.0, 1), "other": (1.0, 1)}
    assert list(m["categories"]) == ["knowledge", "reasoning", "math", "other"]
    assert m["missing_categories"] == ["coding"]
    assert m["categories"]["reasoning"]["parse_failure_rate"] == pytest.approx(3 / 4)
    assert m["categories"]["knowledge"]["pair_accuracy"] == 0.5
    assert m["pairwise_overall"]["parse_failure_rate"] == pytest.approx(4 / 12)


def test_official_vote_one_order_is_the_verdict() -> None:
    m = judgebench_scores([j for j in both_orders() if j.order == "ab"])
    assert m["overall"] == pytest.approx(3 / 6)  # p1, p2, p6 right; p3, p4 unreadable; p5 wrong
    assert m["categories"]["knowledge"]["accuracy"] == 1.0 and m["categories"]["reasoning"]["accuracy"] == 0.0
    assert m["pairwise_overall"]["pair_accuracy"] is None


def test_table_shows_every_category_and_marks_a_missing_one() -> None:
    m = judgebench_scores(both_orders()) | {"protocol": "both-orders", "model": "tiny"}
    table = judgebench_table(m)
    assert table.splitlines()[0] == "JudgeBench (both-orders), tiny"
    assert "| **overall** | 50.0 | 6 |" in table
    assert "|   knowledge | 50.0 | 2 | 75.0 | 50.0 |" in table
    assert "|   coding | missing | 0 | - |" in table and "|   other | 100.0 | 1 |" in table


def test_a_tie_verdict_scores_zero_in_the_vote_and_is_a_verdict_not_a_parse_failure() -> None:
    # JudgeBench's compute_final_metrics: a decision that is neither the label nor its opposite counts 0
    js = [
        J("t1", "ab", "a", "tie", "math"), J("t1", "ba", "b", "b", "math"),  # 0 + 1: right
        J("t2", "ab", "a", "tie", "math"), J("t2", "ba", "b", "tie", "math"),  # 0 + 0: wrong
        J("t3", "ab", "b", "tie", "math"), J("t3", "ba", "a", "b", "math"),  # 0 - 1: wrong
    ]  # fmt: skip
    assert [decision_score(j) for j in js] == [0, 1, 0, 0, 0, -1]
    m = judgebench_scores(js) | {"protocol": "both-orders", "model": "tiny", "n_not_pairable": 2}
    assert m["overall"] == pytest.approx(1 / 3)
    assert m["pairwise_overall"]["parse_failure_rate"] == 0.0
    assert m["pairwise_overall"]["tie_rate"] == pytest.approx(4 / 6)
    assert m["categories"]["math"]["tie_rate"] == pytest.approx(4 / 6)
    assert m["pairwise_overall"]["agreement"] == pytest.approx(1 / 3)  # t2: a tie in both orders agrees
    table = judgebench_table(m)
    assert table.splitlines()[2].endswith("| parse fail | ties |")
    assert "|   math | 33.3 | 3 | 16.7 | 0.0 | 33.3 | 0.0 | -/0.0 | -50.0 | 0.0 | 66.7 |" in table
    assert "rows not scored (a tie label, not pairable): 2" in table


def test_table_shows_position_bias_and_consistent_accuracy() -> None:
    m = judgebench_scores(both_orders()) | {"protocol": "both-orders", "model": "tiny"}
    over = m["pairwise_overall"]
    # readable verdicts: 8 of 12, 5 of them (a), and 5 of their labels (a): p2's lean to (a) and p5's
    # to (b) cancel overall; knowledge (p1, p2) chose (a) 3 times of 4 where 2 labels were (a)
    assert (over["first_position_rate"], over["first_position_label_rate"]) == (5 / 8, 5 / 8)
    assert over["position_bias"] == 0.0
    assert over["consistent_accuracy"] == 1.0  # p1 and p6, the consistent pairs, are right
    assert m["categories"]["knowledge"]["position_bias"] == pytest.approx(3 / 4 - 2 / 4)
    table = judgebench_table(m)
    assert "| consistent acc | (a) ab/ba | pos bias | parse fail |" in table and "ties" not in table
    assert "| **overall** | 50.0 | 6 | 50.0 | 33.3 | 33.3 | 100.0 | 75.0/50.0 | +0.0 | 33.3 |" in table
    assert "|   knowledge | 50.0 | 2 | 75.0 | 50.0 | 50.0 | 100.0 | 100.0/50.0 | +25.0 | 0.0 |" in table

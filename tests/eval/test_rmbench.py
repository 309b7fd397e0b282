"""RM-Bench: the loader's nine pairs per prompt, and easy / normal / hard from hand-made 3x3 matrices."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from judgerl.core.errors import DataError
from judgerl.core.types import Judgement, JudgeSample, Verdict
from judgerl.data_prep.sources.rmbench import STYLES, load_rmbench
from judgerl.data_prep.subsample import subsample
from judgerl.eval.rmbench.report import rmbench_table
from judgerl.eval.rmbench.scoring import level_scores, rmbench_scores


def rm_row(pid: Any, domain: str | None = "chat", **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": pid,
        "prompt": f"prompt {pid}",
        "chosen": [f"chosen {pid} {s}" for s in STYLES],
        "rejected": [f"rejected {pid} {s}" for s in STYLES],
    }
    if domain is not None:
        row["domain"] = domain
    return row | extra


def write_rmbench(path: Path, rows: list[Any]) -> Path:
    path.write_text(json.dumps(rows))
    return path


def test_loader_makes_the_nine_style_pairs_of_each_prompt(tmp_path: Path) -> None:
    rows = [rm_row("c1"), rm_row("safety-refuse/7", None), rm_row(3, "safety-response")]
    samples = load_rmbench(write_rmbench(tmp_path / "rm.json", rows)).samples
    assert len(samples) == 27
    first = samples[:9]
    assert [(s.metadata["chosen_style"], s.metadata["rejected_style"]) for s in first[:4]] == [
        ("concise", "concise"),
        ("concise", "detailed_plain"),
        ("concise", "detailed_markdown"),
        ("detailed_plain", "concise"),
    ]
    s = first[5]  # chosen detailed plain vs rejected detailed markdown
    assert (s.id, s.label, s.response_a, s.response_b) == (
        "c1|c1r2",
        "a",
        "chosen c1 detailed_plain",
        "rejected c1 detailed_markdown",
    )
    assert s.question == "prompt c1" and s.metadata["prompt_id"] == "c1" and s.subset == "chat"
    assert {x.subset for x in samples[9:]} == {"safety"}  # from the id's prefix, and from "safety-response"
    assert (
        samples[9].metadata["raw_domain"] is None and samples[18].metadata["raw_domain"] == "safety-response"
    )
    by_prompt = {"group": lambda s: s.metadata["prompt_id"], "unit": "prompts"}
    first, record = subsample(samples, 2, "first", **by_prompt)
    assert first == samples[:18] and record == {
        "mode": "first",
        "n": 2,
        "of": 3,
        "unit": "prompts",
        "subsets": {"chat": 1, "safety": 1},
    }
    drawn, record = subsample(samples, 1, "random", seed=0, **by_prompt)
    assert len(drawn) == 9 and len({s.metadata["prompt_id"] for s in drawn}) == 1  # a prompt's 9 pairs
    assert subsample(samples, None, **by_prompt) == (samples, None)


def test_loader_reports_bad_rows(tmp_path: Path) -> None:
    rows = [
        rm_row("a1"),
        rm_row("a2", chosen=["only", "two"]),
        rm_row(17, None),  # no domain and an id that names none
        rm_row("a4", rejected=["x", 5, "z"]),
    ]
    path = tmp_path / "rm.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "{broken\n")
    with pytest.raises(DataError, match=r"rmbench: row 1: chosen must be a list of 3 responses"):
        load_rmbench(path)
    result = load_rmbench(path, on_bad_row="skip")
    assert len(result.samples) == 9 and [i for i, _ in result.skipped] == [1, 2, 3, 4]
    assert "no domain" in result.skipped[1][1] and "rejected[1] must be a string" in result.skipped[2][1]
    assert "line 5 is not valid JSON" in result.skipped[3][1]


def test_level_scores_read_the_triangles() -> None:
    m = [[1, 0, 0], [1, 1, 0], [1, 1, 1]]  # loses every hard cell (chosen plainer than rejected)
    assert level_scores(m) == {"easy": 1.0, "normal": 1.0, "hard": 0.0, "average": pytest.approx(2 / 3)}
    assert level_scores([[0, 1, 1], [0, 0, 1], [0, 0, 0]])["hard"] == 1.0


def judge(
    samples: list[JudgeSample], outcome: dict[tuple[int, int], tuple[str | None, str | None]]
) -> list[Judgement]:
    """Both-order judgements of one prompt's nine pairs; `outcome[(i, j)]` = the choices in ab and ba
    (default: right twice). Chosen is (a), so in ab the label is 'a' and in ba it is 'b'."""
    out = []
    for s in samples:
        cell = (STYLES.index(s.metadata["chosen_style"]), STYLES.index(s.metadata["rejected_style"]))
        ab, ba = outcome.get(cell, ("a", "b"))
        out += [
            Judgement(s.id, "ab", "...", Verdict(ab), "a", None, s.subset),
            Judgement(s.id, "ba", "...", Verdict(ba), "b", None, s.subset),
        ]
    return out


LOSE = ("b", "a")


def test_scores_per_domain_and_overall_hand_computed(tmp_path: Path) -> None:
    rows = [rm_row("A"), rm_row("B"), rm_row("C", "math"), rm_row("D", "math")]
    samples = load_rmbench(write_rmbench(tmp_path / "rm.json", rows)).samples
    by_prompt = {p: [s for s in samples if s.metadata["prompt_id"] == p] for p in "ABCD"}
    upper = {(0, 1), (0, 2), (1, 2)}
    judgements = judge(by_prompt["A"], dict.fromkeys(upper, LOSE))  # easy 1, normal 1, hard 0
    judgements += judge(
        by_prompt["B"], {c: LOSE for c in [(i, j) for i in range(3) for j in range(3)] if c not in upper}
    )
    # C: (0,0) right once, wrong once (vote 0: not a win); (2,2) unreadable twice; (1,0) unreadable then right
    judgements += judge(by_prompt["C"], {(0, 0): ("a", "a"), (2, 2): (None, None), (1, 0): (None, "b")})
    judgements += judge(by_prompt["D"][:8], {})  # one pair never judged: prompt D is left out
    metadata = {s.id: s.metadata for s in samples}
    m = rmbench_scores(judgements, metadata)
    assert m["incomplete_prompts"] == ["D"] and m["n_prompts"] == 3
    chat, math = m["domains"]["chat"], m["domains"]["math"]
    assert (chat["easy"], chat["normal"], chat["hard"], chat["n"]) == (0.5, 0.5, 0.5, 2)
    assert (math["easy"], math["normal"], math["hard"]) == (1.0, pytest.approx(1 / 3), 1.0)
    assert math["matrix"] == [[0.0, 1.0, 1.0], [1.0, 1.0, 1.0], [1.0, 1.0, 0.0]]
    # overall averages over prompts, not over domains
    assert (m["easy"], m["normal"], m["hard"]) == (
        pytest.approx(2 / 3),
        pytest.approx((1 + 0 + 1 / 3) / 3),
        pytest.approx(2 / 3),
    )
    assert m["average"] == pytest.approx((m["easy"] + m["normal"] + m["hard"]) / 3)
    assert m["missing_domains"] == ["code", "safety"]
    assert math["parse_failure_rate"] == pytest.approx(3 / 34)  # C: 3 unreadable of 18, D: 0 of 16
    table = rmbench_table(m | {"protocol": "both-orders", "model": "tiny"})
    assert "|   chat | 50.0 | 50.0 | 50.0 | 50.0 | 2 |" in table
    assert "|   code | missing | - | - | - | 0 |" in table
    assert "prompts left out, a pair not judged (1): D" in table


def test_one_order_win_is_the_verdict(tmp_path: Path) -> None:
    samples = load_rmbench(write_rmbench(tmp_path / "rm.json", [rm_row("A", "code")])).samples
    js = [j for j in judge(samples, {(0, 0): (None, "b"), (1, 1): ("b", "b")}) if j.order == "ab"]
    m = rmbench_scores(js, {s.id: s.metadata for s in samples})
    assert (m["easy"], m["normal"], m["hard"]) == (1.0, pytest.approx(1 / 3), 1.0)
    assert m["domains"]["code"]["parse_failure_rate"] == pytest.approx(1 / 9)

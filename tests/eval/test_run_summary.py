"""The run summary: every finished evaluation stage in one table (and one PNG), from hand-made manifests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from judgerl.core.jsonl import write_json
from judgerl.eval.run_summary import plot_summary, run_summary, summary_entry


def manifest(
    tmp_path: Path, name: str, kind: str, full: dict[str, Any] | None, **extra: Any
) -> dict[str, Any]:
    outputs = {}
    if full is not None:
        outputs["metrics"] = str(write_json(tmp_path / name / "metrics.json", full))
    return {"kind": kind, "status": "complete", "outputs": outputs, "metrics": {}, **extra}


PAIR = {"single_accuracy": 0.75, "pair_accuracy": 0.5, "agreement": 0.625, "parse_failure_rate": 0.125}


def test_every_benchmark_side_by_side(tmp_path: Path) -> None:
    llmbar = {
        "overall": PAIR,
        "subsets": {
            "llmbar-natural": PAIR | {"pair_accuracy": 0.6},
            "llmbar-adver-manual": PAIR | {"pair_accuracy": 0.4},
        },
    }
    rewardbench = {
        "version": 1,
        "protocol": "official",
        "overall": None,
        "partial_overall": 0.55,
        "sections": {
            "Chat": {"score": 0.9, "partial_score": None},
            "Chat Hard": {"score": None, "partial_score": 0.4},
            "Safety": {"score": None, "partial_score": None},
        },
    }
    judgebench = {
        "protocol": "both-orders",
        "overall": 0.5,
        "categories": {"knowledge": {"accuracy": 0.25}, "math": {"accuracy": 1.0}},
        "pairwise_overall": {"parse_failure_rate": 0.1},
    }
    rmbench = {
        "protocol": "both-orders",
        "easy": 0.9,
        "normal": 0.6,
        "hard": 0.3,
        "average": 0.6,
        "domains": {"chat": {"average": 0.7}},
    }
    manifests = {
        "data": {"kind": "prep", "status": "complete"},
        "eval_sft": manifest(
            tmp_path,
            "eval_sft",
            "eval",
            {"overall": PAIR, "subsets": {"all": PAIR}},
            config={"data": "runs/x/data/test.jsonl", "both_orders": True},
        ),
        "eval_llmbar": manifest(tmp_path, "eval_llmbar", "eval", llmbar, config={"data": {"kind": "llmbar"}}),
        "eval_one": manifest(
            tmp_path,
            "eval_one",
            "eval",
            None,
            config={"data": "t.jsonl", "both_orders": False},
            metrics={"single_accuracy": 0.8, "pair_accuracy": None},
        ),
        "rewardbench": manifest(tmp_path, "rewardbench", "rewardbench", rewardbench),
        "judgebench": manifest(tmp_path, "judgebench", "judgebench", judgebench),
        "rmbench": manifest(tmp_path, "rmbench", "rmbench", rmbench),
        "failed": {"kind": "judgebench", "status": "failed"},
        "missing": None,
    }
    png = tmp_path / "summary.png"
    lines = run_summary(manifests, title="run", png=png).splitlines()
    assert lines[:3] == ["run", "", "| stage | benchmark | headline | score | parts |"] and len(lines) == 10
    rows = lines[4:]
    assert rows[0] == (
        "| eval_sft (test) | pairwise | pair acc | 50.0 | "
        "single acc 75.0 · agreement 62.5 · parse fail 12.5 |"
    )
    assert rows[1].startswith("| eval_llmbar | LLMBar (pairwise) | pair acc | 50.0 |")
    assert rows[1].endswith("llmbar-natural 60.0 · llmbar-adver-manual 40.0 |")
    assert rows[2] == "| eval_one (t, one order) | pairwise | single acc | 80.0 | parse fail - |"
    assert rows[3] == (
        "| rewardbench | RewardBench v1 (official) | overall (partial) | 55.0 | "
        "Chat 90.0 · Chat Hard (partial) 40.0 · Safety - |"
    )
    assert rows[4] == (
        "| judgebench | JudgeBench (both-orders) | accuracy | 50.0 | "
        "knowledge 25.0 · reasoning - · math 100.0 · coding - · parse fail 10.0 |"
    )
    assert rows[5] == (
        "| rmbench | RM-Bench (both-orders) | average | 60.0 | "
        "easy 90.0 · normal 60.0 · hard 30.0 · chat 70.0 · math - · code - · safety - |"
    )
    assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size > 5000


def test_manifest_metrics_stand_in_for_a_missing_metrics_file(tmp_path: Path) -> None:
    rb = {
        "kind": "rewardbench",
        "status": "complete",
        "outputs": {"metrics": str(tmp_path / "gone.json")},
        "metrics": {
            "overall": 0.7,
            "version": 1,
            "protocol": "official",
            "Chat": 0.8,
            "Reasoning": None,
            "subsets": {"hep-go": 0.5},
        },
    }
    entry = summary_entry("rb", rb)
    assert (
        entry is not None
        and entry.headline == ("overall", 0.7)
        and entry.parts == [("Chat", 0.8), ("Reasoning", None)]
    )
    jb = {
        "kind": "judgebench",
        "status": "complete",
        "outputs": {},
        "metrics": {
            "overall": 0.4,
            "protocol": "both-orders",
            "categories": {"coding": 0.2},
            "parse_failure_rate": 0.0,
        },
    }
    entry = summary_entry("jb", jb)
    assert entry is not None and entry.parts[3] == ("coding", 0.2) and entry.parts[-1] == ("parse fail", 0.0)
    assert summary_entry("sft", {"kind": "sft", "status": "complete"}) is None
    assert run_summary({"sft": None}) == ""
    with pytest.raises(ValueError, match="no evaluation stages"):
        plot_summary([], tmp_path / "x.png")


def test_every_pairwise_row_shows_the_position_bias(tmp_path: Path) -> None:
    biased = PAIR | {"consistent_accuracy": 0.8, "position_bias": 0.25}
    manifests = {
        "eval": manifest(tmp_path, "eval", "eval", {"overall": biased, "subsets": {"all": biased}}),
        "rb": manifest(
            tmp_path,
            "rb",
            "rewardbench",
            {
                "version": 1,
                "protocol": "official",
                "overall": 0.6,
                "sections": {},
                "position_overall": {"position_bias": -0.1},
            },
        ),
        "jb": manifest(
            tmp_path,
            "jb",
            "judgebench",
            {
                "protocol": "both-orders",
                "overall": 0.5,
                "categories": {},
                "pairwise_overall": {"position_bias": 0.5},
            },
        ),
        "rm": manifest(tmp_path, "rm", "rmbench", None, metrics={"average": 0.6, "position_bias": 0.0}),
        "rb2": manifest(
            tmp_path, "rb2", "rewardbench", {"version": 2, "protocol": "four-way", "overall": 0.4}
        ),
    }
    png = tmp_path / "summary.png"
    rows = run_summary(manifests, png=png).splitlines()[2:]
    assert rows[0].endswith("agreement 62.5 · consistent acc 80.0 · pos bias +25.0 · parse fail 12.5 |")
    assert rows[1].endswith("| pos bias -10.0 |")
    assert rows[2].endswith("coding - · pos bias +50.0 · parse fail - |")
    assert rows[3].endswith("safety - · pos bias +0.0 |")
    assert "pos bias" not in rows[4]  # RewardBench 2 judges no pairs
    assert png.read_bytes()[:4] == b"\x89PNG"  # a negative bar is drawn below 0

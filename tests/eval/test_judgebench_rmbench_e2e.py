"""JudgeBench and RM-Bench with a real (tiny, untrained) judge through their CLI functions and stages,
and the run summary built from the manifests of the stages that ran."""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import pytest

from judgerl.cli.eval_benchmarks import (
    add_judgebench_arguments,
    add_rmbench_arguments,
    run_judgebench,
    run_rmbench,
)
from judgerl.core.errors import JudgeRLError
from judgerl.core.stage import StageContext
from judgerl.data_prep.sources.rmbench import STYLES
from judgerl.eval.rmbench.stage import RMBenchStage
from judgerl.eval.rmbench.stage import run_rmbench as run_rmbench_stage
from judgerl.eval.run_summary import run_summary
from judgerl.models.tiny import TinyModelSpec, make_tiny_judge

from .test_judgebench import jb_row, write_judgebench
from .test_rmbench import rm_row, write_rmbench

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SPEC = TinyModelSpec(
    hidden_size=32, layers=1, heads=2, intermediate_size=64, vocab_size=400, max_position=2048
)
JB_ROWS = [
    jb_row("k1", "mmlu-pro-law"),
    jb_row("k2", "mmlu-pro-physics", "B>A"),
    jb_row("r1", "livebench-reasoning", "B>A"),
    jb_row("m1", "livebench-math"),
]
RM_ROWS = [rm_row("chat/1", None), rm_row("m1", "math")]


@pytest.fixture(scope="module")
def tiny_judge(tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts = ["Therefore, Response (b) is better, and the strength is [[2]]."] * 20
    texts += [" ".join(str(v) for v in r.values()) for r in JB_ROWS + RM_ROWS]
    return make_tiny_judge(tmp_path_factory.mktemp("bench") / "judge", texts, SPEC, seed=0)


def parse(add, argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add(parser)
    return parser.parse_args(argv)


def test_judgebench_cli_scores_the_predictions_it_wrote(
    tiny_judge: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_judgebench(tmp_path / "jb.jsonl", JB_ROWS)
    out = tmp_path / "jb"
    argv = ["--model", str(tiny_judge), "--data", str(data), "--out", str(out), "--max-new-tokens", "3"]
    assert run_judgebench(parse(add_judgebench_arguments, [*argv, "--batch-size", "4"])) == 0
    assert "JudgeBench (both-orders)" in capsys.readouterr().out
    m = json.loads((out / "metrics.json").read_text())
    assert (m["benchmark"], m["n_generated"], m["n_pairs"], m["sampling"]["max_new_tokens"]) == (
        "judgebench",
        8,
        4,
        3,
    )
    assert m["missing_categories"] == ["coding"] and {k: v["n"] for k, v in m["categories"].items()} == {
        "knowledge": 2,
        "reasoning": 1,
        "math": 1,
    }
    rows = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    assert [(r["sample_id"], r["order"]) for r in rows[:2]] == [("k1", "ab"), ("k1", "ba")]
    votes: dict[str, int] = defaultdict(int)
    for r in rows:
        right, readable = r["verdict"]["choice"] == r["label"], r["verdict"]["choice"] is not None
        assert r["decision"] == (0 if not readable else 1 if right else -1)
        votes[r["sample_id"]] += r["decision"]
    assert m["overall"] == pytest.approx(sum(v > 0 for v in votes.values()) / 4)
    assert m["categories"]["knowledge"]["accuracy"] == pytest.approx(
        ((votes["k1"] > 0) + (votes["k2"] > 0)) / 2
    )
    assert rows[0]["metadata"]["source"] == "mmlu-pro-law"
    assert not list(out.glob("predictions.partial.*"))  # partial predictions and the clock are gone
    with pytest.raises(
        JudgeRLError, match="judgebench: max_new_tokens: Input should be greater than or equal to 1"
    ):
        run_judgebench(parse(add_judgebench_arguments, [*argv[:-1], "0"]))


def test_rmbench_one_order_and_cli_both_orders(tiny_judge: Path, tmp_path: Path) -> None:
    data = write_rmbench(tmp_path / "rm.json", RM_ROWS)
    stage = RMBenchStage(
        model=str(tiny_judge), data=str(data), both_orders=False, max_new_tokens=3, batch_size=9
    )
    result = run_rmbench_stage(stage, StageContext("rmbench", tmp_path / "one", seed=3))
    m = json.loads(Path(result.outputs["metrics"]).read_text())
    assert (m["protocol"], m["order_seed"], m["n_generated"], m["n_prompts"]) == ("one-order", 3, 18, 2)
    rows = [json.loads(x) for x in Path(result.outputs["predictions"]).read_text().splitlines()]
    assert {r["label"] for r in rows} == {"a", "b"}  # the seeded coin put chosen in (b) for some pairs
    for domain, prompt in (("chat", "chat/1"), ("math", "m1")):
        won = {
            (STYLES.index(r["metadata"]["chosen_style"]), STYLES.index(r["metadata"]["rejected_style"])): r[
                "correct"
            ]
            for r in rows
            if r["metadata"]["prompt_id"] == prompt
        }
        hard = sum(won[(i, j)] for i in range(3) for j in range(3) if i < j) / 3
        assert m["domains"][domain]["hard"] == pytest.approx(hard)
        assert m["domains"][domain]["normal"] == pytest.approx(sum(won[(i, i)] for i in range(3)) / 3)
    assert m["missing_domains"] == ["code", "safety"] and set(result.metrics) >= {"easy", "normal", "hard"}

    out = tmp_path / "both"
    argv = ["--model", str(tiny_judge), "--data", str(data), "--out", str(out), "--max-new-tokens", "2"]
    assert (
        run_rmbench(parse(add_rmbench_arguments, [*argv, "--max-samples", "1", "--subsample", "first"])) == 0
    )
    both = json.loads((out / "metrics.json").read_text())
    assert both["subsample"] == {"mode": "first", "n": 1, "of": 2, "unit": "prompts", "subsets": {"chat": 1}}
    assert (both["protocol"], both["n_generated"], both["n_prompts"], list(both["domains"])) == (
        "both-orders",
        18,
        1,
        ["chat"],
    )
    assert "|   math | missing |" in (out / "table.md").read_text()

    manifests = {
        "rmbench_one": {
            "kind": "rmbench",
            "status": "complete",
            "outputs": result.outputs,
            "metrics": result.metrics,
        },
        "rmbench_both": {"kind": "rmbench", "status": "complete", "outputs": {}, "metrics": {}},
        "unfinished": {"kind": "judgebench", "status": "running"},
    }
    png = tmp_path / "summary.png"
    table = run_summary(manifests, title="tiny run", png=png)
    lines = table.splitlines()
    assert lines[0] == "tiny run" and len(lines) == 6  # title, blank, header, rule, two finished stages
    assert lines[4].startswith(f"| rmbench_one | RM-Bench (one-order) | average | {100 * m['average']:.1f} |")
    assert f"hard {100 * m['hard']:.1f}" in lines[4] and "code -" in lines[4]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

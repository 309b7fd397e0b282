"""The `scaling` stage and `judgerl scaling`: JSON of every point, PNG plots, the table, inputs left alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from judgerl.cli.main import main
from judgerl.core.stage import StageContext
from judgerl.eval.scaling.candidates import file_sha256, read_candidates
from judgerl.eval.scaling.stage import PERFECT, ScalingStage, run_scaling
from judgerl.eval.scaling.theory import pass_at_k

ROWS = [
    {"id": "a", "prompt": "1+1?", "candidates": ["2", "3", "4"], "correctness": [1, 0, 0]},
    {"id": "b", "prompt": "2+2?", "candidates": ["5", "4", "4.0"], "correctness": [0, 1, 1]},
    {"id": "c", "prompt": "3+3?", "candidates": ["7", "8", "9"], "correctness": [0, 0, 0]},
]
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def candidates_file(tmp_path: Path) -> Path:
    path = tmp_path / "user" / "candidates.jsonl"
    path.parent.mkdir()
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return path


def test_cli_writes_points_plots_and_table_and_never_touches_the_candidates(
    candidates_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = file_sha256(candidates_file)
    out = tmp_path / "out"
    argv = ["scaling", "--candidates", str(candidates_file), "--judge", "oracle:0,oracle:0.5", "--k", "1,2,3"]
    assert main([*argv, "--T", "0,1,inf", "--out", str(out), "--theory"]) == 0
    assert "| oracle:0.5 |" in capsys.readouterr().out
    report = json.loads((out / "points.json").read_text())
    points = report["points"]
    assert len(points) == 2 * 3 * 3 + 3 and report["candidates"]["sha256"] == before
    by = {(p["judge"], p["k"], p["T"]): p for p in points}
    correct = [r["correctness"] for r in ROWS]
    for k in (1, 2, 3):  # the noiseless oracle at T = 0 is the perfect judge: -pass@k, exactly
        assert by[("oracle:0", k, 0.0)]["mean"] == pytest.approx(pass_at_k(correct, k).mean)
        assert by[(PERFECT, k, 0.0)]["mean"] == pytest.approx(pass_at_k(correct, k).mean)
    assert by[("oracle:0.5", 3, "inf")]["mean"] == pytest.approx(-1 / 3)  # uniform: mean accuracy 3/9
    assert set(report["theory_fits"]) == {"oracle:0", "oracle:0.5"}
    for name in ("delta_vs_k.png", "delta_vs_T.png"):
        assert (out / name).read_bytes()[:8] == PNG
    table = (out / "table.md").read_text()
    assert "| judge | k=1 | k=2 | k=3 |" in table and "| judge | T=0 | T=1 | T=inf |" in table
    assert file_sha256(candidates_file) == before and not (out / "candidates.jsonl").exists()
    # A rerun scores nothing again: every prompt comes from the score cache.
    assert main([*argv, "--T", "0,1", "--out", str(out)]) == 0
    again = json.loads((out / "points.json").read_text())
    assert [j["reused_prompts"] for j in again["judges"]] == [3, 3]


def test_cli_reports_bad_input_with_exit_code_2(
    candidates_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = str(tmp_path / "out")
    assert main(["scaling", "--candidates", str(candidates_file), "--judge", "oracel:0.1", "--out", out]) == 2
    assert "expected KIND:ARG" in capsys.readouterr().err
    assert (
        main(
            ["scaling", "--candidates", str(candidates_file), "--judge", "oracle:0", "--k", "4", "--out", out]
        )
        == 2
    )
    assert "exceed the largest pool (3 candidates" in capsys.readouterr().err
    assert (
        main(["scaling", "--candidates", str(tmp_path / "nope.jsonl"), "--judge", "oracle:0", "--out", out])
        == 2
    )
    assert "does not exist" in capsys.readouterr().err


def test_gsm8k_conversion_writes_into_the_output_folder_only(tmp_path: Path) -> None:
    row = {
        "question": "What is 2+5?",
        "ground_truth": "A: 7",
        "6b_finetuning": {"is_correct": False, "solution": "A: 8"},
        "175b_verification": {"is_correct": True, "solution": "A: 7"},
    }
    src = tmp_path / "out" / "candidates.jsonl"  # the converter's output name: it must not be overwritten
    src.parent.mkdir()
    src.write_text(json.dumps(row) + "\n")
    before = file_sha256(src)
    stage = ScalingStage(candidates=f"gsm8k:{src}", judges=["oracle:0"], k=[1, 2], T=[0])
    with pytest.raises(Exception, match="refusing to write candidates over the input"):
        run_scaling(stage, StageContext("scaling", tmp_path / "out", progress=False))
    assert file_sha256(src) == before
    result = run_scaling(stage, StageContext("scaling", tmp_path / "elsewhere", progress=False))
    assert read_candidates(tmp_path / "elsewhere" / "candidates.jsonl").items[0].correctness == [0.0, 1.0]
    assert result.metrics["delta[oracle:0]"] == -1.0 and file_sha256(src) == before


def test_scaling_stage_runs_in_a_recipe(candidates_file: Path, tmp_path: Path) -> None:
    from judgerl.pipeline import run_recipe
    from judgerl.recipe import load_recipe

    recipe_path = tmp_path / "scaling.yaml"
    recipe_path.write_text(
        yaml.safe_dump(
            {
                "name": "scaling-test",
                "description": "delta vs k and T on three prompts",
                "run_dir": str(tmp_path / "run"),
                "stages": {
                    "sweep": {
                        "kind": "scaling",
                        "candidates": str(candidates_file),
                        "judges": ["oracle:0", "oracle:1"],
                        "k": [1, 3],
                        "T": [0, 2],
                        "plot_k": 3,
                    }
                },
            }
        )
    )
    recipe = load_recipe(recipe_path)
    (outcome,) = run_recipe(recipe)
    assert outcome.status == "ran" and outcome.manifest["metrics"]["delta[oracle:0]"] == pytest.approx(
        -2 / 3, abs=1e-4
    )
    assert (tmp_path / "run" / "sweep" / "delta_vs_T.png").read_bytes()[:8] == PNG
    with pytest.raises(Exception, match="every T must be >= 0"):
        load_recipe(recipe_path, ["stages.sweep.T=[-1]"])


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from judgerl.models.tiny import TinyModelSpec, make_tiny_judge

    texts = [
        f"Solve: what is {a}+{b}? #### {a + b} Score the solution. Response (a) is better."
        for a in range(9)
        for b in range(9)
    ]
    spec = TinyModelSpec(hidden_size=32, layers=1, heads=2, intermediate_size=64, vocab_size=300)
    return make_tiny_judge(tmp_path_factory.mktemp("tiny") / "ckpt", texts, spec)


def test_policy_sampling_and_model_judges_through_the_stage(tiny_checkpoint: Path, tmp_path: Path) -> None:
    problems = tmp_path / "problems.jsonl"
    problems.write_text(
        "".join(
            json.dumps({"question": f"What is {i}+1?", "answer": f"#### {i + 1}"}) + "\n" for i in range(3)
        )
    )
    stage = ScalingStage(
        policy=str(tiny_checkpoint),
        problems=str(problems),
        n=2,
        policy_max_new_tokens=6,
        judges=["oracle:0", f"generative:{tiny_checkpoint}", f"pairwise:{tiny_checkpoint}"],
        k=[1, 2],
        T=[0, 1],
        pairwise_max_new_tokens=4,
        device="cpu",
    )
    run_scaling(stage, StageContext("scaling", tmp_path / "out", progress=False))
    items = read_candidates(tmp_path / "out" / "candidates.jsonl").items
    assert [i.pool_size for i in items] == [2, 2, 2] and [i.reference for i in items] == ["1", "2", "3"]
    report = json.loads((tmp_path / "out" / "points.json").read_text())
    judges = {j["spec"].split(":")[0]: j for j in report["judges"]}
    # An untrained tiny model writes no score and no verdict: every output is counted as a failure.
    assert judges["generative"]["calls"] == 6 and judges["pairwise"]["calls"] == 3 * 2
    assert judges["pairwise"]["failures"] == judges["pairwise"]["calls"]
    with pytest.raises(Exception, match="either `candidates`, or `policy`"):
        run_scaling(stage.model_copy(update={"candidates": "x.jsonl"}), StageContext("s", tmp_path / "o2"))


def test_partial_credit_runs_without_the_pass_at_k_line(tmp_path: Path) -> None:
    path = tmp_path / "partial.jsonl"
    path.write_text(json.dumps({"prompt": "q", "candidates": ["a", "b"], "correctness": [0.5, 1.0]}) + "\n")
    stage = ScalingStage(candidates=str(path), judges=["oracle:0"], k=[1, 2], T=[0])
    run_scaling(stage, StageContext("scaling", tmp_path / "out", progress=False))
    points = json.loads((tmp_path / "out" / "points.json").read_text())["points"]
    assert {p["judge"] for p in points} == {"oracle:0"}
    assert [p["mean"] for p in points] == [pytest.approx(-0.75), pytest.approx(-1.0)]

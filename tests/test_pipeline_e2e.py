"""The shrunken quickstart end to end: manifests, outputs, skip on rerun, resume, selective reruns."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from judgerl.cli.main import main
from judgerl.core.errors import StageError
from judgerl.core.jsonl import read_json, read_jsonl, write_json
from judgerl.pipeline import benchmark_summary, run_recipe, summary_table
from judgerl.recipe import load_recipe

pytestmark = pytest.mark.slow
STAGES = ["data", "model", "eval_base", "sft", "eval_sft"]


def _statuses(outcomes) -> dict[str, str]:
    return {o.name: o.status for o in outcomes}


def test_quickstart_runs_writes_manifests_and_skips_on_rerun(tiny_recipe: Path) -> None:
    recipe = load_recipe(tiny_recipe)
    assert _statuses(run_recipe(recipe)) == dict.fromkeys(STAGES, "ran")
    run = recipe.run_dir
    for stage in STAGES:
        m = read_json(run / stage / "manifest.json")
        assert m["status"] == "complete" and len(m["config_hash"]) == 16
        assert {"versions", "seed", "wall_seconds", "outputs", "metrics", "inputs"} <= set(m)
        assert m["versions"]["trl"] and m["seed"] == 0
        for out in m["outputs"].values():
            assert Path(out).exists(), out
    assert len(read_jsonl(run / "data" / "train.jsonl")) == 48
    assert (run / "sft" / "checkpoint" / "config.json").exists()
    preds = read_jsonl(run / "eval_sft" / "predictions.jsonl")
    assert len(preds) == 12 and {p["order"] for p in preds} == {"ab", "ba"}
    assert {"completion", "verdict", "label", "correct"} <= set(preds[0])
    metrics = read_json(run / "eval_sft" / "metrics.json")
    assert metrics["overall"]["n_judgements"] == 12 and 0 <= metrics["overall"]["parse_failure_rate"] <= 1
    assert read_json(run / "sft" / "manifest.json")["inputs"] == {
        "data": str(run / "data"),
        "model": str(run / "model"),
    }
    assert "| eval_base (test) |" in summary_table(recipe) and "| eval_sft (test) |" in summary_table(recipe)
    # every benchmark of the run side by side, and the same numbers as a PNG
    benchmarks = benchmark_summary(recipe)
    assert "| eval_base (test) | pairwise | pair acc |" in benchmarks and "| eval_sft (test) |" in benchmarks
    assert (run / "summary.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # the trained judge carries its spec: `judgerl eval` with no prompt flags judges as eval_sft did (issue 22)
    assert (
        json.loads((run / "sft" / "checkpoint" / "judge_spec.json").read_text())["name"] == "strength-compact"
    )
    out = tiny_recipe.parent / "cli_eval"
    argv = ["eval", "--model", str(run / "sft" / "checkpoint"), "--data", str(run / "data" / "test.jsonl")]
    assert main([*argv, "--max-new-tokens", "24", "--batch-size", "12", "--out", str(out)]) == 0
    assert [p["completion"] for p in read_jsonl(out / "predictions.jsonl")] == [
        p["completion"] for p in preds
    ]
    assert read_json(out / "metrics.json")["overall"] == metrics["overall"]

    # an unchanged rerun skips every stage
    assert _statuses(run_recipe(load_recipe(tiny_recipe))) == dict.fromkeys(STAGES, "skipped")

    # a truncated output of a finished stage is an error, not a skip (issue 16 item 3)
    written = (run / "eval_sft" / "predictions.jsonl").read_bytes()
    (run / "eval_sft" / "predictions.jsonl").write_bytes(written[: len(written) // 2])
    with pytest.raises(StageError, match="predictions.jsonl has .* rows where 12 were written"):
        run_recipe(load_recipe(tiny_recipe))
    (run / "eval_sft" / "predictions.jsonl").write_bytes(written)
    # a torn manifest is an error that says how to redo the stage, and nothing is deleted (item 2)
    manifest = (run / "sft" / "manifest.json").read_text()
    (run / "sft" / "manifest.json").write_text(manifest[: len(manifest) // 2])
    with pytest.raises(
        StageError, match=f"manifest.json cannot be read .*judgerl run {tiny_recipe} --only sft"
    ):
        run_recipe(load_recipe(tiny_recipe))
    assert {"checkpoint", "log_history.json", "trainer"} <= {p.name for p in (run / "sft").iterdir()}
    (run / "sft" / "manifest.json").write_text(manifest)
    assert _statuses(run_recipe(load_recipe(tiny_recipe))) == dict.fromkeys(STAGES, "skipped")

    # a changed SFT config reruns SFT and the stage that reads it, nothing else
    changed = load_recipe(tiny_recipe, ["stages.sft.lr=1e-3"])
    assert _statuses(run_recipe(changed)) == {
        "data": "skipped",
        "model": "skipped",
        "eval_base": "skipped",
        "sft": "ran",
        "eval_sft": "ran",
    }

    # --only and --from force the named stages
    assert _statuses(run_recipe(changed, only="eval_base"))["eval_base"] == "ran"
    from_sft = _statuses(run_recipe(changed, from_stage="sft"))
    assert from_sft == {
        **dict.fromkeys(["data", "model", "eval_base"], "not selected"),
        "sft": "ran",
        "eval_sft": "ran",
    }


def test_killed_sft_resumes_from_its_last_checkpoint(tiny_recipe: Path) -> None:
    recipe = load_recipe(tiny_recipe, ["stages.sft.save_total_limit=5"])
    for stage in ("data", "model", "sft"):
        run_recipe(recipe, only=stage)
    sft_dir = recipe.run_dir / "sft"
    # leave the folder as a run killed after checkpoint-5 would: no final checkpoint, status running
    manifest = read_json(sft_dir / "manifest.json")
    write_json(sft_dir / "manifest.json", {**manifest, "status": "running"})
    shutil.rmtree(sft_dir / "checkpoint")
    for later in ("checkpoint-10", "checkpoint-12"):
        shutil.rmtree(sft_dir / "trainer" / later, ignore_errors=True)
    outcomes = _statuses(run_recipe(recipe))
    assert outcomes["sft"] == "ran" and outcomes["data"] == "skipped"
    m = read_json(sft_dir / "manifest.json")
    assert m["metrics"]["resumed_from"].endswith("checkpoint-5")
    assert m["metrics"]["steps"] == 12 and m["attempts"] == 2
    assert (sft_dir / "checkpoint" / "config.json").exists()


def test_a_failing_stage_is_reported_with_its_manifest(tmp_path: Path, tiny_recipe: Path) -> None:
    bad = tmp_path / "rows.jsonl"
    bad.write_text(json.dumps({"id": "1", "conversation": [], "response_a": "x"}) + "\n")
    recipe = load_recipe(tiny_recipe, [f"stages.data.source={{kind: local, path: {bad}}}"])
    with pytest.raises(StageError, match="stage 'data' \\(prep\\) failed: .*row 0"):
        run_recipe(recipe, only="data")
    m = read_json(recipe.run_dir / "data" / "manifest.json")
    assert m["status"] == "failed" and "row 0" in m["error"]
    assert (recipe.run_dir / "data" / "error.log").read_text().startswith("Traceback")

"""recipes/quickstart_distill.yaml, shrunk: the quickstart judge trained, served by the distill stage,
its right traces the only training data of a fresh judge, both evaluated; the values are checked
across the stages' outputs (the learning itself is measured by the full recipe, see docs/distill.md).

The shrunken chain judges with the `direct` family (verdict only): a teacher trained for seconds
writes a parseable verdict, while the thinking traces of the strength family take minutes to learn.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from judgerl.core.jsonl import read_json, read_jsonl
from judgerl.core.samples import read_samples
from judgerl.data_prep.sft_format import sft_records
from judgerl.judge_spec.families import PromptSpec
from judgerl.judge_spec.parser import parse_verdict
from judgerl.judge_spec.presets import spec_for_prompt
from judgerl.pipeline import run_recipe
from judgerl.recipe import load_recipe

REPO = Path(__file__).resolve().parents[2]
SPEC_KEYS = {"family": "direct", "instruction": "compact"}
pytestmark = pytest.mark.slow


def shrunken_quickstart_distill(run_dir: Path, path: Path) -> Path:
    """The recipe with its parent's stages folded in and every stage made tiny."""
    raw = yaml.safe_load((REPO / "recipes" / "quickstart_distill.yaml").read_text())
    parent = yaml.safe_load((REPO / "recipes" / "quickstart.yaml").read_text())
    raw.pop("extends")
    raw.update(run_dir=str(run_dir), prompt=SPEC_KEYS, seed=0, stages={**parent["stages"], **raw["stages"]})
    stages = raw["stages"]
    stages["data"]["source"].update(n_train=24, n_test=6)
    stages["model"].update(hidden_size=64, layers=2, heads=2, intermediate_size=128, vocab_size=400)
    # the teacher must write a parseable verdict for any trace to be right: the longest stage here
    stages["sft"].update(
        max_steps=60, batch_size=8, lr=5e-3, warmup_ratio=0.1, save_steps=1000, logging_steps=20
    )
    stages["student_sft"].update(max_steps=6, batch_size=4, save_steps=1000, logging_steps=2)
    stages["distill"]["teacher"]["serve"].update(max_batch=24, max_wait_ms=20)
    stages["distill"].update(max_new_tokens=16)
    stages["distill"]["teacher"]["concurrency"] = 24
    for name in ("eval_base", "eval_sft", "eval_student"):
        stages[name].update(batch_size=12, max_new_tokens=16)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def test_the_distill_chain_serves_the_teacher_and_trains_the_student_on_its_right_traces(
    tmp_path: Path,
) -> None:
    recipe = load_recipe(shrunken_quickstart_distill(tmp_path / "run", tmp_path / "qd.yaml"))
    assert recipe.dependencies("distill") == ["data", "sft"] and "distill" in recipe.dependencies(
        "student_sft"
    )
    run_recipe(recipe)
    run = tmp_path / "run"
    stats = read_json(run / "distill" / "stats.json")
    assert stats["items"] == 24 and stats["answers"] == 24 and stats["asked_jobs"] == 24
    assert stats["traces"] == stats["accepted"] >= 1
    failed = sum(stats["parse_failures"].values()) + sum(stats["rejected"].values())
    assert stats["accepted"] + failed == 24
    assert read_json(run / "distill" / "manifest.json")["metrics"]["traces"] == stats["traces"]

    # every kept trace is the teacher's own answer, with the label's verdict
    spec = spec_for_prompt(PromptSpec(**SPEC_KEYS))
    traces = read_samples(run / "distill" / "traces.jsonl")
    raw = {
        (r["id"], r["order"]): r["answers"][0]["content"]
        for r in read_jsonl(run / "distill" / "answers.jsonl")
    }
    for t in traces:
        assert parse_verdict(raw[(t.id, t.order)]).choice == t.label and t.source.endswith(":distilled")
    assert len(sft_records(traces, spec).rows) == len(traces)

    student = read_json(run / "student_sft" / "manifest.json")
    assert student["metrics"]["train_rows"] == stats["traces"] and student["metrics"]["steps"] == 6
    assert student["config"]["data"] == str(run / "distill" / "traces.jsonl")
    for name in ("eval_sft", "eval_student"):
        metrics = read_json(run / name / "metrics.json")
        assert metrics["overall"]["n_judgements"] == 12  # 6 held-out items in both orders
    assert (run / "distill" / "teacher_server.log").stat().st_size > 0

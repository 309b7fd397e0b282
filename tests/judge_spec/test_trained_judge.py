"""A judge trained under a spec file (a Think-J-layout template with Think-J's rules) carries it: the
checkpoint holds it, its card shows it, and `judgerl eval` judges with it unless a flag overrides it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from judgerl.cli.main import main
from judgerl.core.jsonl import read_jsonl
from judgerl.pipeline import run_recipe
from judgerl.recipe import load_recipe
from tests.conftest import shrunken_quickstart
from tests.judge_spec.test_spec import THINKJ_LAYOUT

pytestmark = pytest.mark.slow


def test_a_judge_trained_under_a_spec_file_is_evaluated_in_it_without_flags(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spec = tmp_path / "thinkj_layout.yaml"
    spec.write_text(yaml.safe_dump(THINKJ_LAYOUT))
    recipe = shrunken_quickstart(tmp_path / "run", tmp_path / "r.yaml")
    raw = yaml.safe_load(recipe.read_text())
    raw.pop("prompt")
    raw["judge_spec"] = str(spec)
    raw["stages"] = {k: v for k, v in raw["stages"].items() if k in ("data", "model", "sft")}
    recipe.write_text(yaml.safe_dump(raw, sort_keys=False))
    run_recipe(load_recipe(str(recipe)))
    ckpt = tmp_path / "run" / "sft" / "checkpoint"
    saved = json.loads((ckpt / "judge_spec.json").read_text())
    assert saved["name"] == "thinkj-layout" and saved["reward"]["missing_strength"] == 0.0
    card = (ckpt / "README.md").read_text()
    assert "Judge spec `thinkj-layout`" in card and "You are a careful judge" in card

    # a few SFT steps leave a judge that answers every prompt alike; redrawn weights make its greedy
    # output depend on the prompt, so equal completions mean equal prompts
    from transformers import AutoModelForCausalLM

    from tests.models.conftest import sharpen

    model = AutoModelForCausalLM.from_pretrained(ckpt)
    sharpen(model, seed=1)
    model.save_pretrained(ckpt)
    data = tmp_path / "run" / "data" / "test.jsonl"
    common = [
        "eval",
        "--model",
        str(ckpt),
        "--data",
        str(data),
        "--max-new-tokens",
        "16",
        "--batch-size",
        "12",
    ]
    assert main([*common, "--out", str(tmp_path / "plain")]) == 0
    assert main([*common, "--judge-spec", str(spec), "--out", str(tmp_path / "given")]) == 0
    with caplog.at_level("WARNING", logger="judgerl"):
        assert main([*common, "--prompt", "strength", "--out", str(tmp_path / "other")]) == 0
    assert "carries judge spec 'thinkj-layout'" in caplog.text and "prompt gives 'strength'" in caplog.text

    def completions(name: str) -> list[str]:
        return [p["completion"] for p in read_jsonl(tmp_path / name / "predictions.jsonl")]

    assert completions("plain") == completions("given")  # the checkpoint's spec, used by default
    assert completions("plain") != completions("other")  # another prompt: another judge
    assert json.loads((tmp_path / "plain" / "metrics.json").read_text())["judge_spec"] == "thinkj-layout"

"""`judgerl run --dry-run` of a verl recipe shows verl's main_ppo and model-merger commands, torch-free."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROBE = r"""
import json, sys
from judgerl.cli.dry_run import dry_run
from judgerl.recipe import load_recipe
recipe = load_recipe(sys.argv[1], ["report_to=tensorboard", "run_name=verl-dry"])
text, problems = dry_run(recipe)
heavy = ("torch", "transformers", "trl", "peft", "datasets", "deepspeed", "verl", "ray")
print(json.dumps({"text": text, "problems": problems, "loaded": sorted(m for m in heavy if m in sys.modules)}))
"""


def test_verl_dry_run_prints_main_ppo_and_merger_commands_without_heavy_imports() -> None:
    recipe = REPO / "recipes" / "think_j" / "qwen2.5-7b-grpo-verl.yaml"
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(recipe)], capture_output=True, text=True, timeout=120, cwd=REPO
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["problems"] == [] and report["loaded"] == []
    grpo = report["text"].split("[grpo]")[1].split("\n\n")[0]
    lines = grpo.splitlines()
    main_ppo = next(line for line in lines if "-m verl.trainer.main_ppo" in line)
    assert ".venv-verl/bin/python -m verl.trainer.main_ppo algorithm.adv_estimator=grpo" in main_ppo
    assert "VERL_FILE_LOGGER_PATH=runs/think_j/qwen2.5-7b-grpo-verl/grpo/verl_metrics.jsonl" in main_ppo
    assert "TENSORBOARD_DIR=runs/think_j/qwen2.5-7b-grpo-verl/grpo/tensorboard" in main_ppo
    assert (
        "'trainer.logger=[console,file,tensorboard]'" in main_ppo
        and "trainer.experiment_name=verl-dry" in main_ppo
    )
    merger = next(line for line in lines if "verl.model_merger" in line)
    assert (
        "merge --backend fsdp --local_dir runs/think_j/qwen2.5-7b-grpo-verl/grpo/verl_checkpoints/global_step_N/actor"
        in merger
    )
    assert (
        "in-process (judgerl" not in grpo and "in-process (judgerl" in report["text"]
    )  # other stages still say so

"""Checkpoints under DeepSpeed ZeRO-3 (2 CPU processes): every tensor at full shape, equal to the weights
DeepSpeed itself reconstructs from the ranks' shards (zero_to_fp32), LoRA merged, and the next stage
(eval) runs on them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file
from test_launch import _launched, _write_pairs

from judgerl.core.jsonl import read_json
from judgerl.pipeline import run_recipe
from judgerl.recipe import load_recipe

REPO = Path(__file__).resolve().parents[1]
ZERO3 = REPO / "recipes" / "deepspeed" / "zero3.json"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::FutureWarning"),
]


@pytest.fixture(autouse=True)
def cpu_deepspeed(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("deepspeed", reason="the deepspeed extra is not installed")
    monkeypatch.setenv("DS_ACCELERATOR", "cpu")
    monkeypatch.setenv(
        "TORCH_EXTENSIONS_DIR",
        os.environ.get("TORCH_EXTENSIONS_DIR", str(REPO / ".cache" / "torch_extensions")),
    )


def _reference(trainer_checkpoint: Path) -> dict[str, torch.Tensor]:
    """The full fp32 weights DeepSpeed reconstructs offline from the per-rank ZeRO-3 shard files."""
    from deepspeed.utils.zero_to_fp32 import get_fp32_state_dict_from_zero_checkpoint

    assert (trainer_checkpoint / "latest").exists(), sorted(p.name for p in trainer_checkpoint.iterdir())
    return get_fp32_state_dict_from_zero_checkpoint(str(trainer_checkpoint))


def _assert_full_and_equal(saved: Path, start: Path, reference: dict[str, torch.Tensor]) -> None:
    weights, initial = load_file(saved / "model.safetensors"), load_file(start / "model.safetensors")
    for key, tensor in initial.items():
        assert weights[key].shape == tensor.shape, (key, weights[key].shape, tensor.shape)
    assert weights.keys() == initial.keys()
    assert weights.keys() <= reference.keys(), sorted(weights.keys() - reference.keys())
    for key, tensor in weights.items():
        torch.testing.assert_close(tensor, reference[key].to(tensor.dtype), rtol=0, atol=1e-6, msg=key)
    assert max(float((weights[k] - initial[k]).abs().max()) for k in weights) > 0, "no step was taken"


def _zero3_stage(tiny_recipe: Path, name: str, stage: dict) -> Path:
    raw = yaml.safe_load(tiny_recipe.read_text())
    raw["stages"][name] = stage
    tiny_recipe.write_text(yaml.safe_dump(raw, sort_keys=False))
    return tiny_recipe


def test_sft_under_zero3_saves_full_gathered_weights_and_eval_runs_on_them(
    tiny_recipe: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    launcher = "{kind: torchrun, nproc_per_node: 2, master_port: 29541, cpu: true}"
    recipe = load_recipe(
        tiny_recipe,
        [
            f"stages.sft.launcher={launcher}",
            f"stages.sft.deepspeed={ZERO3}",
            "stages.sft.max_steps=4",
            "stages.sft.save_steps=4",
            "stages.sft.logging_steps=1",
        ],
    )
    m = _launched(recipe, "sft", capfd)
    assert m["metrics"]["steps"] == 4
    sft = recipe.run_dir / "sft"
    _assert_full_and_equal(
        sft / "checkpoint",
        recipe.run_dir / "model" / "checkpoint",
        _reference(sft / "trainer" / "checkpoint-4"),
    )
    assert (sft / "checkpoint" / "tokenizer.json").exists() and (
        sft / "checkpoint" / "generation_config.json"
    ).exists()
    outcome = next(o for o in run_recipe(recipe, only="eval_sft") if o.name == "eval_sft")
    assert (
        outcome.status == "ran"
        and read_json(recipe.run_dir / "eval_sft" / "manifest.json")["status"] == "complete"
    )


def test_lora_dpo_under_zero3_saves_the_merged_gathered_weights(
    tiny_recipe: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    from peft import get_peft_model

    from judgerl.models.loading import load_model_and_tokenizer
    from judgerl.trainers.common import LoraSpec

    pairs = tmp_path / "pairs.jsonl"
    lora = {"r": 4, "alpha": 8, "dropout": 0.0, "target_modules": ["q_proj", "v_proj"]}
    stage = {
        "kind": "dpo",
        "model": "${stages.model.checkpoint}",
        "data": str(pairs),
        "lora": lora,
        "lr": 1e-2,
        "max_steps": 2,
        "batch_size": 2,
        "max_length": 512,
        "save_steps": 2,
        "logging_steps": 1,
        "deepspeed": str(ZERO3),
        "launcher": {"kind": "torchrun", "nproc_per_node": 2, "master_port": 29542, "cpu": True},
    }
    recipe = load_recipe(_zero3_stage(tiny_recipe, "dpo", stage))
    run_recipe(recipe, only="data")
    _write_pairs(recipe.run_dir / "data" / "train.jsonl", pairs, recipe.stages["dpo"].prompt, 8)
    m = _launched(recipe, "dpo", capfd)
    assert m["metrics"]["steps"] == 2
    dpo, start = recipe.run_dir / "dpo", recipe.run_dir / "model" / "checkpoint"
    assert not (dpo / "checkpoint" / "adapter_config.json").exists()
    # the reference: DeepSpeed's own reconstruction of the LoRA model, merged by peft on one process
    shards = _reference(dpo / "trainer" / "checkpoint-2")
    base, _ = load_model_and_tokenizer(start, device="cpu")
    peft_model = get_peft_model(base, LoraSpec(**lora).to_peft())
    missing = peft_model.load_state_dict(shards, strict=False).missing_keys
    assert not [k for k in missing if "lora_" in k], missing
    merged = {k: v.contiguous() for k, v in peft_model.merge_and_unload().state_dict().items()}
    _assert_full_and_equal(dpo / "checkpoint", start, merged)


IN_PROCESS = """
import sys
from judgerl.pipeline import run_recipe
from judgerl.recipe import load_recipe
recipe = load_recipe(sys.argv[1], sys.argv[2:])
for name in ("data", "model", "sft", "eval_sft"):
    run_recipe(recipe, only=name)
"""


def test_sft_under_zero3_in_one_process_then_eval_in_the_same_process(tiny_recipe: Path) -> None:
    """No launcher: the stage gets a one-process world, and the next stage loads models whole again."""
    overrides = [f"stages.sft.deepspeed={ZERO3}", "stages.sft.max_steps=2", "stages.sft.save_steps=2"]
    # its own interpreter: DeepSpeed and accelerate keep process-wide state that would reach other tests
    env = {
        k: v for k, v in os.environ.items() if k not in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_PORT")
    }
    done = subprocess.run(
        [sys.executable, "-c", IN_PROCESS, str(tiny_recipe), *overrides],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    recipe = load_recipe(tiny_recipe, overrides)
    sft = recipe.run_dir / "sft"
    reference = _reference(sft / "trainer" / "checkpoint-2")
    _assert_full_and_equal(sft / "checkpoint", recipe.run_dir / "model" / "checkpoint", reference)
    assert read_json(recipe.run_dir / "eval_sft" / "manifest.json")["status"] == "complete"

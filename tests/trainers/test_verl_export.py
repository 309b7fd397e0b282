"""The verl backend up to the GPU boundary: parquet, reward module, main_ppo command, dry run."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from datasets import load_dataset

from judgerl.core.samples import write_samples
from judgerl.core.stage import StageContext
from judgerl.core.types import JudgeSample
from judgerl.data_prep.grpo_data import grpo_rows
from judgerl.data_prep.synthetic import make_synthetic_splits
from judgerl.judge_spec.families import PromptSpec
from judgerl.judge_spec.presets import spec_for_prompt
from judgerl.rewards.adapters import to_trl
from judgerl.trainers.grpo import run_grpo
from judgerl.trainers.grpo_config import GRPOStage
from judgerl.trainers.verl import VerlPaths, hydra_value, latest_actor_dir, main_ppo_overrides, merge_command
from judgerl.trainers.verl_export import write_reward_module, write_verl_parquet

SPEC = PromptSpec("strength", instruction="compact")
REWARDS = [
    {"name": "strength", "weight": 1.0},
    {"name": "format", "weight": 0.5, "require_strength": True},
    {"name": "correctness", "weight": 0.25, "unparseable_score": 0.5},
]
COMPLETIONS = [
    "<think>\nsum 085\n</think>\n\nTherefore, Response (a) is better, and the strength is [[2]].",
    "<think>\nsum 085\n</think>\n\nTherefore, Response (b) is better, and the strength is [[2]].",
    "<think>\nx\n</think>\n\nTherefore, Response (a) is better, and the strength is [[3]].",
    "<think>\nx\n</think>\n\nTherefore, Response (b) is better, and the strength is [[1]].",
    "Therefore, Response (a) is better.",
    "Therefore, Response (b) is better, and the strength is [[7]].",
    "I cannot tell which is better.",
    "",
    "<think>\nResponse (a) is better\n</think>\n\n",
    "<think>\nunfinished thoughts about (b)",
]


def _samples() -> list[JudgeSample]:
    samples = make_synthetic_splits(6, 2, seed=5).train
    unknown = JudgeSample("u1", "t", [{"role": "user", "content": "1+1?"}], "2", "3", "a")
    return [*samples, unknown]


def _load_module(path: Path):
    spec = importlib.util.spec_from_file_location("judgerl_verl_reward_under_test", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_parquet_reads_back_with_datasets_in_verl_schema(tmp_path: Path) -> None:
    rows = grpo_rows(_samples(), spec_for_prompt(SPEC), seed=0).rows
    assert write_verl_parquet(rows, tmp_path / "train.parquet", "train") == 14
    ds = load_dataset("parquet", data_files=str(tmp_path / "train.parquet"), split="train")
    assert len(ds) == 14
    assert set(ds.column_names) == {"data_source", "prompt", "ability", "reward_model", "extra_info"}
    for i, (row, back) in enumerate(zip(rows, ds, strict=True)):
        assert back["prompt"] == row["prompt"] and back["ability"] == "judge"
        assert back["data_source"].startswith("judgerl/")
        assert back["reward_model"] == {
            "style": "rule",
            "ground_truth": {"label": row["label"], "strength": row["strength"]},
        }
        assert back["extra_info"] == {
            "sample_id": row["sample_id"],
            "order": row["order"],
            "index": i,
            "split": "train",
        }
    with pytest.raises(ValueError, match="no rows"):
        write_verl_parquet([], tmp_path / "empty.parquet", "train")


def test_verl_compute_score_equals_the_trl_adapter_on_the_same_pairs(tmp_path: Path) -> None:
    rows = grpo_rows(_samples(), spec_for_prompt(SPEC), seed=0).rows
    write_verl_parquet(rows, tmp_path / "train.parquet", "train")
    module = _load_module(write_reward_module(REWARDS, tmp_path / "reward_fn.py"))
    verl_rows = load_dataset("parquet", data_files=str(tmp_path / "train.parquet"), split="train")
    funcs, weights = to_trl(REWARDS)
    pairs = [
        (row, verl_row, text) for row, verl_row in zip(rows, verl_rows, strict=True) for text in COMPLETIONS
    ]
    columns = {k: [row[k] for row, _, _ in pairs] for k in ("label", "strength", "sample_id", "order")}
    completions = [[{"role": "assistant", "content": text}] for _, _, text in pairs]
    trl_scores = {
        f.__name__: f(prompts=[r["prompt"] for r, _, _ in pairs], completions=completions, **columns)
        for f in funcs
    }
    seen = set()
    for i, (_, verl_row, text) in enumerate(pairs):
        got = module.compute_score(
            verl_row["data_source"], text, verl_row["reward_model"]["ground_truth"], verl_row["extra_info"]
        )
        for name in trl_scores:
            assert got[name] == trl_scores[name][i], (name, text)
        total = sum(w * trl_scores[f.__name__][i] for f, w in zip(funcs, weights, strict=True))
        assert got["score"] == pytest.approx(total)
        seen.add((got["strength"], got["parsed"]))
    # the fixed completions cover right, wrong, missing-strength and unparseable verdicts
    assert {s for s, _ in seen} >= {1.0, 0.875, 0.5, 0.0} and (0.0, 0.0) in seen
    batch = module.compute_score_batch(
        [r["data_source"] for r in verl_rows],
        [COMPLETIONS[0]] * len(verl_rows),
        [r["reward_model"]["ground_truth"] for r in verl_rows],
        [r["extra_info"] for r in verl_rows],
    )
    assert [b["score"] for b in batch] == [
        module.compute_score(
            r["data_source"], COMPLETIONS[0], r["reward_model"]["ground_truth"], r["extra_info"]
        )["score"]
        for r in verl_rows
    ]


def _verl_stage(tmp_path: Path, **verl) -> GRPOStage:
    data = tmp_path / "train.jsonl"
    write_samples(data, _samples())
    return GRPOStage(
        backend="verl",
        model="Qwen/Qwen2.5-7B-Instruct",
        data=str(data),
        prompt=SPEC,
        rewards=REWARDS,
        num_generations=8,
        temperature=1.0,
        beta=0.001,
        entropy_coef=0.001,
        epsilon=0.2,
        lr=1e-6,
        epochs=10,
        max_prompt_length=1024,
        max_completion_length=3072,
        lora={"r": 8, "alpha": 16, "target_modules": ["q_proj", "v_proj"]},
        verl={
            "train_batch_size": 1024,
            "ppo_mini_batch_size": 256,
            "nnodes": 2,
            "n_gpus_per_node": 8,
            **verl,
        },
    )


def test_main_ppo_overrides_map_the_recipe(tmp_path: Path) -> None:
    stage = _verl_stage(tmp_path, overrides=["trainer.val_before_train=true"])
    paths = VerlPaths.under(tmp_path / "grpo")
    overrides = main_ppo_overrides(stage, paths, seed=3, name="grpo")
    got = dict(o.split("=", 1) for o in overrides[:-1])
    expected = {
        "algorithm.adv_estimator": "grpo",
        "actor_rollout_ref.rollout.n": "8",
        "actor_rollout_ref.rollout.temperature": "1.0",
        "actor_rollout_ref.actor.optim.lr": "1e-06",
        "data.train_batch_size": "1024",
        "actor_rollout_ref.actor.ppo_mini_batch_size": "256",
        "actor_rollout_ref.actor.use_kl_loss": "true",
        "actor_rollout_ref.actor.kl_loss_coef": "0.001",
        "actor_rollout_ref.actor.kl_loss_type": "low_var_kl",
        "actor_rollout_ref.actor.entropy_coeff": "0.001",
        "actor_rollout_ref.actor.clip_ratio": "0.2",
        "data.max_prompt_length": "1024",
        "data.max_response_length": "3072",
        "actor_rollout_ref.model.path": "Qwen/Qwen2.5-7B-Instruct",
        "actor_rollout_ref.model.lora_rank": "8",
        "actor_rollout_ref.model.target_modules": "[q_proj,v_proj]",
        "trainer.nnodes": "2",
        "trainer.n_gpus_per_node": "8",
        "trainer.default_local_dir": str(paths.checkpoints),
        "reward.custom_reward_function.path": str(paths.reward_module),
        "reward.custom_reward_function.name": "compute_score",
        "trainer.total_epochs": "10",
        "data.seed": "3",
    }
    assert {k: got.get(k) for k in expected} == expected
    assert overrides[-1] == "trainer.val_before_train=true"  # user overrides come last and win
    assert "trainer.total_training_steps" not in got
    assert len(got) == len(set(got))
    assert merge_command("py", "a/actor", "b") == [
        "py",
        "-m",
        "verl.model_merger",
        "merge",
        "--backend",
        "fsdp",
        "--local_dir",
        "a/actor",
        "--target_dir",
        "b",
    ]


def test_hydra_values_quote_what_the_grammar_would_misread() -> None:
    assert hydra_value("/data/my run/train.parquet") == "'/data/my run/train.parquet'"
    assert hydra_value("it's") == "'it\\'s'"
    assert hydra_value("true") == "'true'"
    assert hydra_value(["all-linear"]) == "[all-linear]"


def test_dry_run_writes_inputs_and_prints_the_command(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    stage = _verl_stage(
        tmp_path, dry_run=True, python="/opt/verl/bin/python", val_rows=4, env={"RAY_DEDUP_LOGS": "0"}
    )
    result = run_grpo(stage, StageContext("grpo", tmp_path / "grpo", seed=0, progress=False))
    printed = capsys.readouterr().out.strip().splitlines()[-1]
    assert printed.startswith("/opt/verl/bin/python -m verl.trainer.main_ppo algorithm.adv_estimator=grpo")
    assert (
        result.metrics["dry_run"] is True
        and result.metrics["train_rows"] == 14
        and result.metrics["val_rows"] == 4
    )
    script = Path(result.outputs["command"]).read_text()
    assert (
        printed in script
        and "export VERL_FILE_LOGGER_PATH=" in script
        and "export RAY_DEDUP_LOGS=0" in script
    )
    assert len(load_dataset("parquet", data_files=result.outputs["val"], split="train")) == 4
    module = _load_module(Path(result.outputs["reward_module"]))
    assert module.REWARDS == REWARDS
    assert not (tmp_path / "grpo" / "checkpoint").exists()


def test_latest_actor_dir_follows_verls_marker(tmp_path: Path) -> None:
    assert latest_actor_dir(tmp_path) is None
    for step in (5, 10):
        (tmp_path / f"global_step_{step}" / "actor").mkdir(parents=True)
    assert latest_actor_dir(tmp_path) == tmp_path / "global_step_10" / "actor"
    (tmp_path / "latest_checkpointed_iteration.txt").write_text("5")
    assert latest_actor_dir(tmp_path) == tmp_path / "global_step_5" / "actor"

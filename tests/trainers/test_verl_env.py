"""verl's own loaders read what judgerl exports (runs where verl is installed: `make verl-env`).

    .venv-verl/bin/python -m pytest -q tests/trainers/test_verl_env.py

verl pins transformers < 5.11, so it is not in the test environment; there these tests are skipped.
"""

from __future__ import annotations

from pathlib import Path

import pytest

verl = pytest.importorskip(
    "verl",
    reason="verl is not installed in this environment (it pins transformers<5.11): build .venv-verl with "
    "`make verl-env` and run this file there",
)

from omegaconf import OmegaConf  # noqa: E402  (verl brings omegaconf and hydra)

from judgerl.core.samples import write_samples  # noqa: E402
from judgerl.core.stage import StageContext  # noqa: E402
from judgerl.data_prep.synthetic import make_synthetic_splits, synthetic_sft_trace  # noqa: E402
from judgerl.judge_spec.families import PromptSpec  # noqa: E402
from judgerl.models.tokenizer import train_tokenizer  # noqa: E402
from judgerl.trainers.grpo import run_grpo  # noqa: E402
from judgerl.trainers.grpo_config import GRPOStage  # noqa: E402
from judgerl.trainers.verl import VerlPaths, main_ppo_overrides  # noqa: E402
from tests.prompts import user_text  # noqa: E402

SPEC = PromptSpec("strength", instruction="compact")
CONFIG_DIR = Path(verl.__file__).resolve().parent / "trainer" / "config"


def _stage(tmp_path: Path, **over) -> GRPOStage:
    samples = make_synthetic_splits(10, 4, seed=2)
    write_samples(tmp_path / "train.jsonl", samples.train)
    write_samples(tmp_path / "test.jsonl", samples.test)
    base = dict(
        backend="verl",
        model=str(tmp_path / "model"),
        data=str(tmp_path / "train.jsonl"),
        prompt=SPEC,
        rewards=[{"name": "strength", "weight": 1.0}, {"name": "format", "weight": 0.1}],
        num_generations=8,
        beta=0.001,
        entropy_coef=0.001,
        lr=1e-6,
        epochs=10,
        max_prompt_length=1024,
        max_completion_length=3072,
        lora={"r": 8, "alpha": 16},
        verl={
            "dry_run": True,
            "val_data": str(tmp_path / "test.jsonl"),
            "train_batch_size": 8,
            "ppo_mini_batch_size": 4,
        },
    )
    return GRPOStage(**{**base, **over})


def test_rlhf_dataset_reads_the_exported_parquet(tmp_path: Path) -> None:
    from verl.utils.dataset.rl_dataset import RLHFDataset

    stage = _stage(tmp_path)
    result = run_grpo(stage, StageContext("grpo", tmp_path / "grpo", seed=0, progress=False))
    assert result.metrics["train_rows"] == 20 and result.metrics["val_rows"] == 8
    samples = make_synthetic_splits(10, 4, seed=2).train
    tokenizer = train_tokenizer(
        [user_text(s, SPEC) + synthetic_sft_trace(s) for s in samples], vocab_size=300
    )
    config = OmegaConf.create(
        {
            "prompt_key": "prompt",
            "max_prompt_length": 4096,
            "filter_overlong_prompts": True,
            "truncation": "error",
            "return_raw_chat": True,
            "cache_dir": str(tmp_path / "cache"),
        }
    )
    dataset = RLHFDataset(result.outputs["train"], tokenizer, config)
    assert len(dataset) == 20
    item = dataset[0]
    assert (
        item["raw_prompt"][0]["role"] == "user"
        and "[The Start of Response (a)]" in item["raw_prompt"][0]["content"]
    )
    assert item["reward_model"]["style"] == "rule" and item["reward_model"]["ground_truth"]["label"] in (
        "a",
        "b",
    )
    assert {"sample_id", "order", "index"} <= set(item["extra_info"]) and item["index"] == 0
    orders = sorted(dataset[i]["extra_info"]["order"] for i in range(len(dataset)))
    assert orders == ["ab"] * 10 + ["ba"] * 10
    # verl's own length filter runs the tokenizer's chat template over our prompts
    short = OmegaConf.merge(config, {"max_prompt_length": 8})
    assert len(RLHFDataset(result.outputs["val"], tokenizer, short)) == 0
    assert len(RLHFDataset(result.outputs["val"], tokenizer, config)) == 8


def test_every_main_ppo_override_exists_in_verls_config(tmp_path: Path) -> None:
    from hydra import compose, initialize_config_dir

    stage = _stage(tmp_path, max_steps=30)
    overrides = main_ppo_overrides(stage, VerlPaths.under(tmp_path / "grpo"), seed=1)
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
        cfg = compose(config_name="ppo_trainer", overrides=overrides)  # unknown keys fail here
    missing = []
    for text in overrides:
        key, value = text.split("=", 1)
        parent, _, leaf = key.rpartition(".")
        node = OmegaConf.select(cfg, parent) if parent else cfg
        if node is None or leaf not in node:
            missing.append(key)
    assert missing == []
    assert cfg.algorithm.adv_estimator == "grpo" and cfg.actor_rollout_ref.rollout.n == 8
    assert (
        cfg.actor_rollout_ref.actor.kl_loss_type == "low_var_kl"
        and cfg.actor_rollout_ref.actor.use_kl_loss is True
    )
    assert cfg.actor_rollout_ref.actor.optim.lr == pytest.approx(1e-6)
    assert cfg.data.max_response_length == 3072 and cfg.trainer.total_training_steps == 30
    assert cfg.reward.custom_reward_function.name == "compute_score"
    assert cfg.actor_rollout_ref.model.lora_rank == 8 and list(cfg.trainer.logger) == ["console", "file"]
    from hydra.errors import ConfigCompositionException

    with (
        initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None),
        pytest.raises(ConfigCompositionException),
    ):
        compose(config_name="ppo_trainer", overrides=[*overrides, "actor_rollout_ref.actor.no_such_key=1"])


def test_verls_own_loader_scores_like_the_trl_adapter(tmp_path: Path) -> None:
    from datasets import load_dataset
    from hydra import compose, initialize_config_dir
    from verl.trainer.ppo.reward import get_custom_reward_fn

    from judgerl.rewards.adapters import to_trl

    stage = _stage(tmp_path)
    result = run_grpo(stage, StageContext("grpo", tmp_path / "grpo", seed=0, progress=False))
    overrides = main_ppo_overrides(stage, VerlPaths.under(tmp_path / "grpo"), seed=0)
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
        cfg = compose(config_name="ppo_trainer", overrides=overrides)
    compute_score = get_custom_reward_fn(cfg)  # verl imports reward_fn.py from its path
    rows = load_dataset("parquet", data_files=result.outputs["train"], split="train")
    texts = [
        "<think>\nx\n</think>\n\nTherefore, Response (a) is better, and the strength is [[2]].",
        "<think>\nx\n</think>\n\nTherefore, Response (b) is better, and the strength is [[3]].",
        "Therefore, Response (b) is better.",
        "no verdict at all",
    ]
    funcs, weights = to_trl(stage.rewards)
    for row in rows:
        truth, extra = row["reward_model"]["ground_truth"], row["extra_info"]
        columns = {"label": [truth["label"]] * 4, "strength": [truth["strength"]] * 4}
        expected = [
            sum(w * s for w, s in zip(weights, per, strict=True))
            for per in zip(
                *(f(prompts=[row["prompt"]] * 4, completions=texts, **columns) for f in funcs), strict=True
            )
        ]
        got = [
            compute_score(
                data_source=row["data_source"], solution_str=t, ground_truth=truth, extra_info=dict(extra)
            )
            for t in texts
        ]
        assert [g["score"] for g in got] == pytest.approx(expected)
        assert got[3]["score"] == 0.0 and got[3]["parsed"] == 0.0

"""The `grpo` stage config (its recipe keys and their checks), shared by the TRL and the verl paths.

`trainers/grpo.py` trains it on TRL's GRPOTrainer and hands `backend: verl` to `trainers/verl.py`;
both import the config from here, so verl.py needs nothing of grpo.py and the two form no import
cycle (grpo.py imports verl.py lazily, to dispatch).
This module imports no torch, transformers or trl: recipe validation reads it.

Usage: stage = GRPOStage(model="runs/x/sft/checkpoint", data="runs/x/data/train.jsonl", batch_size=16)
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from judgerl.data_prep.grpo_data import PAIR, HardExamples
from judgerl.judge_spec.families import PromptSpec
from judgerl.judge_spec.files import JudgeSpecField
from judgerl.rewards.registry import accepts_partners, parse_reward_specs
from judgerl.trainers.common import LoraSpec, TrainingKeys
from judgerl.trainers.verl_config import LOSS_AGG_MODES, VerlSpec

OUTPUTS = {"checkpoint": "checkpoint", "log": "log_history.json", "curve": "reward_curve.png"}
DEFAULT_REWARDS: list[dict[str, Any]] = [{"name": "strength", "weight": 1.0}]
LossType = Literal["grpo", "dapo", "dr_grpo", "bnpo", "cispo", "sapo"]


class GRPOStage(TrainingKeys):
    """Recipe keys of a `grpo` stage. Batch keys count completions per process (TRL's convention).

    `rewards` is a registry list (`[{name: strength, weight: 1.0}, {name: format, weight: 0.1}]`);
    `beta` is the KL coefficient (0 loads no reference model); `epsilon` the clip range;
    `max_steps: -1` trains for `epochs`. `verl:` holds the verl-only keys (trainers/verl_config.py).
    """

    kind: Literal["grpo"] = "grpo"
    backend: Literal["trl", "verl"] = "trl"
    model: str
    data: str
    hard_examples: HardExamples | None = None
    prompt: PromptSpec | None = None
    judge_spec: JudgeSpecField = None
    rewards: list[dict[str, Any]] = Field(default_factory=lambda: [dict(r) for r in DEFAULT_REWARDS])
    num_generations: int = Field(8, ge=2)
    temperature: float = Field(1.0, gt=0)
    top_p: float = Field(1.0, gt=0, le=1)
    beta: float = Field(0.001, ge=0)
    loss_type: LossType = "dapo"
    epsilon: float = Field(0.2, gt=0)
    epsilon_high: float | None = Field(None, gt=0)
    entropy_coef: float = Field(0.0, ge=0)
    scale_rewards: Literal["group", "batch", "none"] = "group"
    num_iterations: int = Field(1, ge=1)
    max_completion_length: int = Field(512, ge=1)
    max_prompt_length: int | None = Field(None, ge=1)
    steps_per_generation: int | None = Field(None, ge=1, validate_default=True)
    lora: LoraSpec | None = None
    merge_lora: bool = True
    gradient_checkpointing: bool = False
    deepspeed: str | None = None
    use_vllm: bool = False
    vllm_mode: Literal["colocate", "server"] = "colocate"
    vllm_server_base_url: str | None = None
    vllm_gpu_memory_utilization: float = Field(0.3, gt=0, le=1)
    vllm_tensor_parallel_size: int = Field(1, ge=1)
    log_completions: bool = False
    verl: VerlSpec = Field(default_factory=VerlSpec)

    @field_validator("backend", mode="before")
    @classmethod
    def _training_engine(cls, value: Any) -> Any:
        if value in ("hf", "vllm", "speculative", "judge"):
            raise ValueError(
                f"backend picks the training engine (trl or verl), not a generation backend: GRPO "
                f"generates its rollouts inside TRL's GRPOTrainer (or verl's rollout), which samples "
                f"at temperature > 0 in batches, so {value!r} cannot be used here (AutoJudge "
                "speculative/judge decoding is greedy, one prompt at a time); for vLLM rollouts set "
                "use_vllm: true"
            )
        return value

    @field_validator("rewards", mode="before")
    @classmethod
    def _known_rewards(cls, value: Any) -> list[dict[str, Any]]:
        specs = parse_reward_specs(value)  # ValueError names the bad entry and the known rewards
        return [{"name": s.name, "weight": s.weight, **s.kwargs} for s in specs]

    @property
    def generation_rows_per_process(self) -> int:
        """Completions one process generates at a time: batch_size * steps_per_generation."""
        return self.batch_size * (self.steps_per_generation or self.grad_accum)

    @field_validator("steps_per_generation")
    @classmethod
    def _pairs_fit_one_generation(cls, value: int | None, info: ValidationInfo) -> int | None:
        # Checked on this field (the last of the batch keys) so that a recipe error names it.
        data = info.data
        if data.get("backend") != "trl" or not {"batch_size", "grad_accum", "num_generations"} <= set(data):
            return value
        spg = value or data["grad_accum"]
        rows, group_pair = data["batch_size"] * spg, PAIR * data["num_generations"]
        if rows % group_pair:
            raise ValueError(
                f"batch_size * steps_per_generation (default grad_accum) = {data['batch_size']} * {spg} = "
                f"{rows} completions per process per generation must be a multiple of 2 * num_generations = "
                f"{group_pair}, so that both answer orders of each item (num_generations completions each) "
                f"land in one generation batch on one process; e.g. batch_size: {group_pair} or "
                f"steps_per_generation: {group_pair // math.gcd(group_pair, data['batch_size'])}"
            )
        return value

    @model_validator(mode="after")
    def _verl_constraints(self) -> GRPOStage:
        if self.backend == "trl":
            return self
        partner = [r["name"] for r in self.rewards if accepts_partners(parse_reward_specs([r])[0].fn)]
        problems = []
        if partner:
            problems.append(
                f"rewards {partner} need both orders' completions in one call, but verl's reward loop "
                "scores each completion alone; use backend: trl for them"
            )
        if self.loss_type not in LOSS_AGG_MODES:
            problems.append(
                f"loss_type {self.loss_type!r} has no verl counterpart (use {sorted(LOSS_AGG_MODES)})"
            )
        if self.scale_rewards == "batch":
            problems.append("scale_rewards: batch has no verl counterpart (use group or none)")
        if self.max_prompt_length is None:
            problems.append("max_prompt_length is required (verl's data.max_prompt_length)")
        for key in ("use_vllm", "deepspeed"):
            if getattr(self, key):
                problems.append(f"{key} applies to backend trl only (verl has its own rollout and FSDP)")
        if problems:
            raise ValueError("backend verl: " + "; ".join(problems))
        return self

"""Think-J online RL: GRPO of a judge with strength rewards, on TRL's GRPOTrainer (or verl).

judgerl run recipes/quickstart_grpo.yaml --only grpo
torchrun --nproc_per_node 8 -m judgerl stage recipes/think_j/qwen2.5-7b-grpo.yaml grpo
judgerl run recipes/think_j/qwen2.5-7b-grpo-verl.yaml --only grpo    # backend: verl (trainers/verl.py)

Prompts come from the shared renderer; every item is trained in both answer orders, and the two
rows of an item stay together: in the dataset (adjacent rows, `data_prep.grpo_data`), in the
sampler (`PairRepeatSampler` shuffles items, not rows) and on one process, which holds when

    batch_size * steps_per_generation  is a multiple of  2 * num_generations

(`steps_per_generation` defaults to `grad_accum`): TRL generates once per `steps_per_generation`
micro-steps for `batch_size * steps_per_generation` completions per process, i.e. for whole
groups of `num_generations` completions of each prompt; the constraint makes that slice hold both
orders' groups of every item in it. The stage config checks it at load, and the run logs
`pairs_complete` (fraction of items with both orders in the reward call; 1.0 when it holds),
which the consistency reward needs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence, Sized
from typing import Any, Literal

import torch
from pydantic import Field, ValidationInfo, field_validator, model_validator
from torch.utils.data import Sampler

from judgerl.core.errors import StageError
from judgerl.core.jsonl import write_json
from judgerl.core.logging import get_logger
from judgerl.core.stage import StageContext, StageResult
from judgerl.data_prep.grpo_data import (
    PAIR,
    HardExamples,
    drop_long_pairs,
    grpo_rows,
    load_grpo_samples,
    pairs_complete,
)
from judgerl.data_prep.prompts import PromptSpec
from judgerl.rewards.registry import accepts_partners, parse_reward_specs
from judgerl.trainers.common import LoraSpec, TrainingKeys, schedule_args, train_resumable
from judgerl.trainers.curves import curve_summary, plot_reward_curve, reward_keys
from judgerl.trainers.verl_config import LOSS_AGG_MODES, VerlSpec

log = get_logger("judgerl.grpo")
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


class PairRepeatSampler(Sampler[int]):
    """TRL's RepeatSampler order, but shuffling items of `unit` adjacent rows instead of rows.

    Yields chunks of `batch_size` distinct rows (both orders of each item, side by side), each row
    `mini_repeat_count` times in a row, each chunk `repeat_count` times; an incomplete last chunk
    is dropped, as TRL does. The same `seed` gives every process the same order.

    >>> list(PairRepeatSampler(range(6), mini_repeat_count=2, batch_size=4, shuffle=False))
    [0, 0, 1, 1, 2, 2, 3, 3]
    """

    def __init__(
        self,
        data_source: Sized,
        mini_repeat_count: int,
        batch_size: int = PAIR,
        repeat_count: int = 1,
        shuffle: bool = True,
        seed: int | None = None,
        unit: int = PAIR,
    ) -> None:
        self.num_samples = len(data_source)
        if self.num_samples % unit or batch_size % unit:
            raise ValueError(
                f"rows ({self.num_samples}) and batch_size ({batch_size}) must be multiples of {unit} "
                "(both orders of each item)"
            )
        self.mini_repeat_count = mini_repeat_count
        self.batch_size = batch_size
        self.repeat_count = repeat_count
        self.shuffle = shuffle
        self.unit = unit
        self.generator = torch.Generator()
        if seed is not None:
            self.generator.manual_seed(seed)

    def __iter__(self) -> Iterator[int]:
        units = self.num_samples // self.unit
        order = torch.randperm(units, generator=self.generator).tolist() if self.shuffle else range(units)
        rows = [u * self.unit + k for u in order for k in range(self.unit)]
        for start in range(0, len(rows) - self.batch_size + 1, self.batch_size):
            chunk = rows[start : start + self.batch_size]
            for _ in range(self.repeat_count):
                for index in chunk:
                    yield from [index] * self.mini_repeat_count

    def __len__(self) -> int:
        full = (self.num_samples // self.batch_size) * self.batch_size
        return full * self.mini_repeat_count * self.repeat_count


def paired_trainer_class() -> type:
    """TRL's GRPOTrainer with `PairRepeatSampler` as its training sampler (imports trl lazily).

    Usage: trainer = paired_trainer_class()(model=m, reward_funcs=funcs, args=cfg, train_dataset=ds)
    """
    from trl import GRPOTrainer

    class PairedGRPOTrainer(GRPOTrainer):
        """GRPOTrainer that keeps both answer orders of an item in one generation batch."""

        def _get_train_sampler(self, dataset: Any = None) -> PairRepeatSampler:
            dataset = self.train_dataset if dataset is None else dataset
            return PairRepeatSampler(
                dataset,
                mini_repeat_count=self.num_generations,
                batch_size=self.args.generation_batch_size // self.num_generations,
                repeat_count=self.num_iterations * self.args.steps_per_generation,
                shuffle=self.shuffle_dataset,
                seed=self.args.seed,
            )

    return PairedGRPOTrainer


def pair_checked(fn: Callable[..., list[float]], stats: dict[str, float]) -> Callable[..., list[float]]:
    """Wrap a TRL reward function so each call logs `pairs_complete` and records its minimum.

    Usage: funcs[0] = pair_checked(funcs[0], stats)   # stats["pairs_complete_min"] after training
    """

    def reward(
        prompts: Any = None, completions: Sequence[Any] = (), completion_ids: Any = None, **columns: Any
    ) -> list[float]:
        if columns.get("sample_id") is not None and columns.get("order") is not None:
            frac = pairs_complete(columns["sample_id"], columns["order"])
            stats["pairs_complete_min"] = min(stats.get("pairs_complete_min", 1.0), frac)
            stats["reward_calls"] = stats.get("reward_calls", 0) + 1
            if callable(columns.get("log_metric")):
                columns["log_metric"]("pairs_complete", frac)
        return fn(prompts=prompts, completions=completions, completion_ids=completion_ids, **columns)

    reward.__name__ = fn.__name__
    reward.__qualname__ = fn.__qualname__
    reward.__doc__ = fn.__doc__
    return reward


def _prompt_lengths(rows: Sequence[dict[str, Any]], tokenizer: Any) -> list[int]:
    lengths = []
    for row in rows:
        ids = tokenizer.apply_chat_template(row["prompt"], add_generation_prompt=True, tokenize=True)
        ids = ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids
        lengths.append(len(ids))
    return lengths


def _grpo_config(stage: GRPOStage, ctx: StageContext, weights: list[float]) -> Any:
    from trl import GRPOConfig

    vllm: dict[str, Any] = {}
    if stage.use_vllm:
        vllm = {
            "use_vllm": True,
            "vllm_mode": stage.vllm_mode,
            "vllm_gpu_memory_utilization": stage.vllm_gpu_memory_utilization,
            "vllm_tensor_parallel_size": stage.vllm_tensor_parallel_size,
        }
        if stage.vllm_server_base_url:
            vllm["vllm_server_base_url"] = stage.vllm_server_base_url
    return GRPOConfig(
        **schedule_args(stage, ctx),
        steps_per_generation=stage.steps_per_generation,
        num_generations=stage.num_generations,
        max_completion_length=stage.max_completion_length,
        temperature=stage.temperature,
        top_p=stage.top_p,
        beta=stage.beta,
        loss_type=stage.loss_type,
        epsilon=stage.epsilon,
        epsilon_high=stage.epsilon_high,
        entropy_coef=stage.entropy_coef,
        scale_rewards=stage.scale_rewards,
        num_iterations=stage.num_iterations,
        reward_weights=weights,
        activation_checkpointing=stage.gradient_checkpointing,
        log_completions=stage.log_completions,
        **vllm,
    )


def run_grpo(stage: GRPOStage, ctx: StageContext) -> StageResult:
    """GRPO on the stage's judge samples; writes the checkpoint, log_history.json and reward_curve.png.

    `backend: verl` hands the same stage to `trainers.verl.run_verl_grpo`. An interrupted TRL run
    resumes from `trainer/checkpoint-N`.
    """
    if stage.backend == "verl":
        from judgerl.trainers.verl import run_verl_grpo

        return run_verl_grpo(stage, ctx)
    return _run_trl(stage, ctx)


def _run_trl(stage: GRPOStage, ctx: StageContext) -> StageResult:
    from datasets import Dataset

    from judgerl.models.loading import load_model_and_tokenizer, save_checkpoint
    from judgerl.rewards.adapters import to_trl

    spec = stage.prompt or PromptSpec()
    samples, selection = load_grpo_samples(stage.data, stage.hard_examples, ctx.seed)
    if selection:
        log.info(f"grpo: hard examples {selection}")
    built = grpo_rows(samples, spec, seed=ctx.seed)
    skipped = list(built.skipped)
    model, tokenizer = load_model_and_tokenizer(stage.model, dtype="auto")
    rows = built.rows
    if stage.max_prompt_length is not None:
        rows, too_long = drop_long_pairs(rows, _prompt_lengths(rows, tokenizer), stage.max_prompt_length)
        skipped.extend(too_long)
    if skipped:
        log.warning(f"grpo: skipped {len(skipped)} of {len(samples)} items: first {skipped[:3]}")
    funcs, weights = to_trl(stage.rewards)
    config = _grpo_config(stage, ctx, weights)
    prompts_per_generation = config.generation_batch_size // stage.num_generations
    if len(rows) < prompts_per_generation:
        raise StageError(
            f"grpo: {len(rows)} prompts (both orders of {len(rows) // PAIR} items) are fewer than one "
            f"generation batch of {prompts_per_generation} prompts; add data or lower batch_size"
        )
    pair_stats: dict[str, float] = {}
    funcs[0] = pair_checked(funcs[0], pair_stats)
    trainer = paired_trainer_class()(
        model=model,
        reward_funcs=funcs,
        args=config,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=stage.lora.to_peft() if stage.lora else None,
    )
    output, train_seconds, resumed_from = train_resumable(trainer, ctx, log)

    history = trainer.state.log_history
    keys = reward_keys(history)
    if trainer.is_world_process_zero():
        save_checkpoint(
            trainer.model, tokenizer, ctx.path(OUTPUTS["checkpoint"]), merge_lora=stage.merge_lora
        )
        write_json(ctx.path(OUTPUTS["log"]), history)
        plot_reward_curve(history, ctx.path(OUTPUTS["curve"]), keys, title=f"GRPO reward ({ctx.name})")
    metrics = {
        "train_prompts": len(rows),
        "skipped": len(skipped),
        **({"hard_examples": selection} if selection else {}),
        "steps": trainer.state.global_step,
        "world_size": trainer.accelerator.num_processes,
        "reward_curve": curve_summary(history, "reward"),
        **{f"curve/{k}": curve_summary(history, k) for k in keys if k != "reward"},
        "pairs_complete_min": pair_stats.get("pairs_complete_min"),
        "train_loss": output.training_loss,
        "train_seconds": round(train_seconds, 1),
        "resumed_from": resumed_from,
    }
    log.info(f"grpo: reward {metrics['reward_curve']} over {metrics['steps']} steps")
    return StageResult(outputs={k: str(ctx.path(v)) for k, v in OUTPUTS.items()}, metrics=metrics)

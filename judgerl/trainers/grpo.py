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

The stage config (`GRPOStage`, `OUTPUTS`) lives in `trainers/grpo_config.py`, shared with the
verl path; the sampler in `trainers/pair_sampler.py`; the GRPOConfig keys in
`trainers/common.trl_grpo_config`. This module imports no torch at module level.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from judgerl.core.errors import StageError
from judgerl.core.jsonl import write_json
from judgerl.core.logging import get_logger
from judgerl.core.stage import StageContext, StageResult
from judgerl.data_prep.grpo_data import PAIR, drop_long_pairs, grpo_rows, load_grpo_samples, pairs_complete
from judgerl.judge_spec.files import resolve_spec
from judgerl.trainers.common import train_resumable, trl_grpo_config, whole_stage_loss
from judgerl.trainers.curves import curve_summary, plot_reward_curve, reward_keys
from judgerl.trainers.grpo_config import OUTPUTS, GRPOStage

log = get_logger("judgerl.grpo")


def paired_trainer_class() -> type:
    """TRL's GRPOTrainer with `PairRepeatSampler` as its training sampler (imports trl lazily).

    Usage: trainer = paired_trainer_class()(model=m, reward_funcs=funcs, args=cfg, train_dataset=ds)
    """
    from trl import GRPOTrainer

    from judgerl.trainers.pair_sampler import PairRepeatSampler

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
    return trl_grpo_config(
        stage,
        ctx,
        weights,
        epsilon=stage.epsilon,
        epsilon_high=stage.epsilon_high,
        entropy_coef=stage.entropy_coef,
        num_iterations=stage.num_iterations,
        activation_checkpointing=stage.gradient_checkpointing,
        **vllm,
    )


def run_grpo(stage: GRPOStage, ctx: StageContext) -> StageResult:
    """GRPO on the stage's judge samples; writes the checkpoint, log_history.json and reward_curve.png.

    `backend: verl` hands the same stage to `trainers.verl.run_verl_grpo`. An interrupted TRL run
    resumes from `trainer/checkpoint-N`.

    Usage: result = run_grpo(GRPOStage(model=..., data=..., batch_size=16), StageContext("grpo", out_dir))
    """
    if stage.backend == "verl":
        from judgerl.trainers.verl import run_verl_grpo

        return run_verl_grpo(stage, ctx)
    return _run_trl(stage, ctx)


def _run_trl(stage: GRPOStage, ctx: StageContext) -> StageResult:
    from datasets import Dataset

    from judgerl.models.loading import load_model_and_tokenizer
    from judgerl.rewards.adapters import to_trl
    from judgerl.trainers.publish import card_files, push_after_training
    from judgerl.trainers.saving import save_trained
    from judgerl.trainers.tracking import tracking

    spec = resolve_spec(stage.judge_spec, stage.prompt, stage.model, f"stage {ctx.name}", log)
    samples, selection = load_grpo_samples(stage.data, stage.hard_examples, ctx.seed)
    if selection:
        log.info(f"grpo: hard examples {selection}")
    built = grpo_rows(samples, spec, seed=ctx.seed)
    skipped = list(built.skipped)
    funcs, weights = to_trl(stage.rewards, judge_spec=spec)
    # The config comes first: under ZeRO-3 it makes each rank load only its shard of the model.
    config = _grpo_config(stage, ctx, weights)
    model, tokenizer = load_model_and_tokenizer(stage.model, dtype="auto")
    rows = built.rows
    if stage.max_prompt_length is not None:
        rows, too_long = drop_long_pairs(rows, _prompt_lengths(rows, tokenizer), stage.max_prompt_length)
        skipped.extend(too_long)
    if skipped:
        log.warning(f"grpo: skipped {len(skipped)} of {len(samples)} items: first {skipped[:3]}")
    prompts_per_generation = config.generation_batch_size // stage.num_generations
    if len(rows) < prompts_per_generation:
        raise StageError(
            f"grpo: {len(rows)} prompts (both orders of {len(rows) // PAIR} items) are fewer than one "
            f"generation batch of {prompts_per_generation} prompts; add data or lower batch_size"
        )
    pair_stats: dict[str, float] = {}
    funcs[0] = pair_checked(funcs[0], pair_stats)
    with tracking(stage, ctx):
        trainer = paired_trainer_class()(
            model=model,
            reward_funcs=funcs,
            args=config,
            train_dataset=Dataset.from_list(rows),
            processing_class=tokenizer,
            peft_config=stage.lora.to_peft() if stage.lora else None,
        )
        output, train_seconds, resumed_from = train_resumable(trainer, ctx, log, stage.on_nonfinite)

    history = trainer.state.log_history
    keys = reward_keys(history)
    checkpoint = ctx.path(OUTPUTS["checkpoint"])
    files = card_files(stage, ctx, checkpoint, spec)
    save_trained(trainer, tokenizer, checkpoint, stage.merge_lora, files)
    pushed: dict[str, Any] = {}
    if trainer.is_world_process_zero():
        pushed = push_after_training(stage, ctx, checkpoint)
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
        "train_loss": whole_stage_loss(trainer, output, resumed_from),
        "train_seconds": round(train_seconds, 1),
        "resumed_from": resumed_from,
        **pushed,
    }
    log.info(f"grpo: reward {metrics['reward_curve']} over {metrics['steps']} steps")
    return StageResult(outputs={k: str(ctx.path(v)) for k, v in OUTPUTS.items()}, metrics=metrics)

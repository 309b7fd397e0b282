"""GRPO on verl from the same `grpo` stage (`backend: verl`): export, reward module, main_ppo, merge.

judgerl run recipes/think_j/qwen2.5-7b-grpo-verl.yaml --only grpo
judgerl run recipes/think_j/qwen2.5-7b-grpo-verl.yaml --only grpo stages.grpo.verl.dry_run=true

The stage writes `train.parquet` / `val.parquet` (verl's row schema, `verl_export.py`), a reward
module `reward_fn.py` whose `compute_score` is judgerl's registry with the recipe's rewards and
weights, and `verl_command.sh` (the `python -m verl.trainer.main_ppo` command with Hydra overrides
mapped from the recipe). It runs that command with `verl.python` (the interpreter of the
environment verl is installed in, e.g. `.venv-verl/bin/python` from `make verl-env`), then turns
the last actor checkpoint into a Hugging Face folder with verl's own model merger
(`python -m verl.model_merger merge --backend fsdp`), so later stages read `checkpoint` like any
other. `verl.dry_run: true` writes everything and prints the command without running it.

Recipe key -> verl (Hydra) key:
    model -> actor_rollout_ref.model.path;  num_generations -> actor_rollout_ref.rollout.n
    temperature, top_p -> actor_rollout_ref.rollout.temperature, top_p
    lr, warmup_ratio, weight_decay -> actor_rollout_ref.actor.optim.lr, lr_warmup_steps_ratio, weight_decay
    beta -> actor.use_kl_loss (beta > 0), actor.kl_loss_coef; verl.kl_loss_type -> actor.kl_loss_type
    entropy_coef -> actor.entropy_coeff;  epsilon, epsilon_high -> actor.clip_ratio(_low), clip_ratio_high
    loss_type -> actor.loss_agg_mode (dapo|bnpo: token-mean, grpo: seq-mean-token-mean, dr_grpo: ...)
    scale_rewards -> algorithm.norm_adv_by_std_in_grpo;  num_iterations -> actor.ppo_epochs
    max_prompt_length, max_completion_length -> data.max_prompt_length, data.max_response_length
    epochs, max_steps -> trainer.total_epochs, trainer.total_training_steps
    lora -> actor_rollout_ref.model.lora_rank, lora_alpha, target_modules
    verl.train_batch_size, verl.ppo_mini_batch_size (prompts) -> data.train_batch_size, actor.ppo_mini_batch_size
    verl.nnodes, verl.n_gpus_per_node -> trainer.nnodes, trainer.n_gpus_per_node
"""

from __future__ import annotations

import math
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from judgerl.core.errors import StageError
from judgerl.core.jsonl import read_jsonl, write_json, write_text_atomic
from judgerl.core.logging import get_logger
from judgerl.core.samples import read_samples
from judgerl.core.stage import StageContext, StageResult
from judgerl.data_prep.grpo_data import grpo_rows, load_grpo_samples
from judgerl.judge_spec.files import resolve_spec
from judgerl.judge_spec.spec import JudgeSpec
from judgerl.trainers.curves import curve_summary, plot_reward_curve
from judgerl.trainers.grpo_config import OUTPUTS, GRPOStage
from judgerl.trainers.publish import card_files, push_after_training
from judgerl.trainers.tracking import tracking_env, verl_loggers
from judgerl.trainers.verl_config import LOSS_AGG_MODES
from judgerl.trainers.verl_export import REWARD_FUNCTION, write_reward_module, write_verl_parquet

log = get_logger("judgerl.verl")
SCORE_KEY = "critic/score/mean"
MERGE_STAGING = ".checkpoint.merging"  # the merger writes here; the folder is then renamed to `checkpoint`
_PLAIN = re.compile(r"[A-Za-z0-9_./~:@+-]+")


@dataclass(frozen=True)
class VerlPaths:
    """Where a verl run's files live inside the stage folder. Usage: VerlPaths.under(Path("run/grpo"))."""

    train: Path
    val: Path
    reward_module: Path
    checkpoints: Path
    metrics: Path
    command: Path
    log: Path

    @classmethod
    def under(cls, folder: Path) -> VerlPaths:
        """The standard layout under a stage folder. Usage: paths = VerlPaths.under(ctx.out_dir)."""
        return cls(
            train=folder / "train.parquet",
            val=folder / "val.parquet",
            reward_module=folder / "reward_fn.py",
            checkpoints=folder / "verl_checkpoints",
            metrics=folder / "verl_metrics.jsonl",
            command=folder / "verl_command.sh",
            log=folder / "verl.log",
        )


def hydra_value(value: Any) -> str:
    """A Python value written as a Hydra override value (strings quoted when they need it).

    >>> [hydra_value(v) for v in (True, None, 1e-06, 8, "grpo", ["console", "file"], "a b")]
    ['true', 'null', '1e-06', '8', 'grpo', '[console,file]', "'a b'"]
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(hydra_value(v) for v in value) + "]"
    text = str(value)
    if _PLAIN.fullmatch(text) and text.lower() not in ("true", "false", "null"):
        return text
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def main_ppo_overrides(stage: GRPOStage, paths: VerlPaths, seed: int = 0, name: str = "grpo") -> list[str]:
    """The Hydra overrides of verl's `main_ppo` for this stage, in a stable order.

    Usage: overrides = main_ppo_overrides(stage, VerlPaths.under(ctx.out_dir), ctx.seed)
    """
    v = stage.verl
    actor = "actor_rollout_ref.actor"
    rollout = "actor_rollout_ref.rollout"
    model = "actor_rollout_ref.model"
    values: dict[str, Any] = {
        "algorithm.adv_estimator": "grpo",
        "algorithm.use_kl_in_reward": False,
        "algorithm.norm_adv_by_std_in_grpo": stage.scale_rewards == "group",
        "data.train_files": str(paths.train),
        "data.val_files": str(paths.val),
        "data.prompt_key": "prompt",
        "data.train_batch_size": v.train_batch_size,
        "data.max_prompt_length": stage.max_prompt_length,
        "data.max_response_length": stage.max_completion_length,
        "data.filter_overlong_prompts": True,
        "data.truncation": "error",
        "data.seed": seed,
        f"{model}.path": stage.model,
        f"{model}.enable_gradient_checkpointing": stage.gradient_checkpointing,
        f"{actor}.optim.lr": stage.lr,
        f"{actor}.optim.lr_warmup_steps_ratio": stage.warmup_ratio,
        f"{actor}.optim.weight_decay": stage.weight_decay,
        f"{actor}.ppo_mini_batch_size": v.ppo_mini_batch_size,
        f"{actor}.ppo_micro_batch_size_per_gpu": v.micro_batch_size_per_gpu,
        f"{actor}.ppo_epochs": stage.num_iterations,
        f"{actor}.use_kl_loss": stage.beta > 0,
        f"{actor}.kl_loss_coef": stage.beta,
        f"{actor}.kl_loss_type": v.kl_loss_type,
        f"{actor}.entropy_coeff": stage.entropy_coef,
        f"{actor}.clip_ratio": stage.epsilon,
        f"{actor}.clip_ratio_low": stage.epsilon,
        f"{actor}.clip_ratio_high": stage.epsilon_high if stage.epsilon_high is not None else stage.epsilon,
        f"{actor}.loss_agg_mode": LOSS_AGG_MODES[stage.loss_type],
        f"{rollout}.name": v.rollout_engine,
        f"{rollout}.n": stage.num_generations,
        f"{rollout}.temperature": stage.temperature,
        f"{rollout}.top_p": stage.top_p,
        f"{rollout}.tensor_model_parallel_size": v.tensor_parallel_size,
        f"{rollout}.gpu_memory_utilization": v.gpu_memory_utilization,
        f"{rollout}.log_prob_micro_batch_size_per_gpu": v.micro_batch_size_per_gpu,
        "actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu": v.micro_batch_size_per_gpu,
        "reward.custom_reward_function.path": str(paths.reward_module),
        "reward.custom_reward_function.name": REWARD_FUNCTION,
        "reward.reward_manager.name": "naive",
        "trainer.nnodes": v.nnodes,
        "trainer.n_gpus_per_node": v.n_gpus_per_node,
        "trainer.default_local_dir": str(paths.checkpoints),
        "trainer.total_epochs": max(1, math.ceil(stage.epochs)),
        "trainer.save_freq": v.save_freq,
        "trainer.test_freq": v.test_freq,
        "trainer.val_before_train": False,
        "trainer.resume_mode": "auto",
        "trainer.project_name": v.project_name,
        "trainer.experiment_name": v.experiment_name or stage.run_name or name,
        "trainer.logger": verl_loggers(v.logger, stage.report_to),
    }
    if stage.max_steps > 0:
        values["trainer.total_training_steps"] = stage.max_steps
    if stage.lora is not None:
        values[f"{model}.lora_rank"] = stage.lora.r
        values[f"{model}.lora_alpha"] = stage.lora.alpha
        values[f"{model}.target_modules"] = stage.lora.target_modules
    return [f"{key}={hydra_value(value)}" for key, value in values.items()] + list(v.overrides)


def main_ppo_command(stage: GRPOStage, paths: VerlPaths, seed: int = 0, name: str = "grpo") -> list[str]:
    """`<verl.python> -m verl.trainer.main_ppo <overrides>` as an argv list.

    Usage: subprocess.run(main_ppo_command(stage, paths, ctx.seed), check=True)
    """
    return [stage.verl.python, "-m", "verl.trainer.main_ppo", *main_ppo_overrides(stage, paths, seed, name)]


def merge_command(python: str, actor_dir: str | Path, target_dir: str | Path) -> list[str]:
    """verl's model merger: an FSDP actor checkpoint into a Hugging Face folder.

    >>> merge_command("python", "ckpt/global_step_5/actor", "out")[:5]
    ['python', '-m', 'verl.model_merger', 'merge', '--backend']
    """
    return [
        python,
        "-m",
        "verl.model_merger",
        "merge",
        "--backend",
        "fsdp",
        "--local_dir",
        str(actor_dir),
        "--target_dir",
        str(target_dir),
    ]


def latest_actor_dir(checkpoints: Path) -> Path | None:
    """The actor folder of verl's newest `global_step_N` checkpoint, or None.

    Usage: latest_actor_dir(Path("runs/x/grpo/verl_checkpoints"))
    """
    marker = checkpoints / "latest_checkpointed_iteration.txt"
    if marker.exists():
        step = marker.read_text().strip()
        candidate = checkpoints / f"global_step_{step}" / "actor"
        if candidate.is_dir():
            return candidate
    steps = [p for p in checkpoints.glob("global_step_*") if p.name.split("_")[-1].isdigit()]
    steps = [p / "actor" for p in steps if (p / "actor").is_dir()]
    return max(steps, key=lambda p: int(p.parent.name.split("_")[-1]), default=None)


def read_verl_metrics(path: Path) -> list[dict[str, Any]]:
    """verl's file-logger lines ({"step", "data"}) as flat dicts with a `step` key.

    Usage: history = read_verl_metrics(Path("runs/x/grpo/verl_metrics.jsonl"))
    """
    if not path.exists():
        return []
    return [{"step": row.get("step"), **(row.get("data") or {})} for row in read_jsonl(path)]


def verl_env(stage: GRPOStage, ctx: StageContext) -> dict[str, str]:
    """The environment verl runs with: its file logger's path, the trackers' folders, `verl.env`.

    Usage: env = {**os.environ, **verl_env(stage, ctx)}
    """
    paths = VerlPaths.under(ctx.out_dir)
    return {"VERL_FILE_LOGGER_PATH": str(paths.metrics), **tracking_env(stage, ctx), **stage.verl.env}


def dry_run_commands(stage: Any, stage_dir: Path, seed: int, name: str) -> list[str]:
    """What a verl stage will run, as shell lines (env, main_ppo, model merger); [] for other stages.

    Torch-free: `judgerl run --dry-run` prints these instead of "in-process".
    Usage: lines = dry_run_commands(recipe.stages["grpo"], recipe.stage_dir("grpo"), 0, "grpo")
    """
    if not isinstance(stage, GRPOStage) or stage.backend != "verl":
        return []
    ctx = StageContext(name=name, out_dir=stage_dir, seed=seed)
    paths = VerlPaths.under(stage_dir)
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in verl_env(stage, ctx).items())
    lines = [f"{env} {shlex.join(main_ppo_command(stage, paths, seed, name))}"]
    if stage.verl.merge:
        actor = paths.checkpoints / "global_step_N" / "actor"
        lines.append(shlex.join(merge_command(stage.verl.python, actor, stage_dir / MERGE_STAGING)))
    return lines


def export_verl_inputs(stage: GRPOStage, paths: VerlPaths, seed: int, spec: JudgeSpec) -> dict[str, Any]:
    """Write train/val parquet (prompts rendered by `spec`) and the reward module; returns row counts and skips.

    The validation file is `verl.val_data` when set, else the first `verl.val_rows` training rows.
    Usage: export_verl_inputs(stage, VerlPaths.under(ctx.out_dir), ctx.seed, spec)
    """
    samples, selection = load_grpo_samples(stage.data, stage.hard_examples, seed)
    if selection:
        log.info(f"grpo (verl): hard examples {selection}")
    train = grpo_rows(samples, spec, seed=seed)
    if stage.verl.val_data:
        val = grpo_rows(read_samples(stage.verl.val_data), spec)
        val_rows, val_skipped = val.rows, val.skipped
    else:
        val_rows, val_skipped = train.rows[: stage.verl.val_rows], []
    if not train.rows:
        raise StageError(f"grpo (verl): no usable item in {stage.data} (skipped: {train.skipped[:3]})")
    for skipped, where in ((train.skipped, stage.data), (val_skipped, stage.verl.val_data)):
        if skipped:
            log.warning(f"grpo (verl): skipped {len(skipped)} items of {where}: first {skipped[:3]}")
    write_verl_parquet(train.rows, paths.train, "train")
    write_verl_parquet(val_rows, paths.val, "val")
    write_reward_module(stage.rewards, paths.reward_module, spec)
    counts = {"train_rows": len(train.rows), "val_rows": len(val_rows), "skipped": len(train.skipped)}
    return {**counts, **({"hard_examples": selection} if selection else {})}


def _run_logged(cmd: list[str], log_path: Path, env: dict[str, str], what: str) -> None:
    log.info(f"{what}: {shlex.join(cmd)}")
    with open(log_path, "a", encoding="utf-8") as out:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        assert proc.stdout is not None
        tail: list[str] = []
        for line in proc.stdout:
            out.write(line)
            tail = (tail + [line])[-40:]
            print(line, end="", flush=True)
        rc = proc.wait()
    if rc != 0:
        raise StageError(f"{what} exited with {rc} (log: {log_path}); last lines:\n{''.join(tail)}")


def run_verl_grpo(stage: GRPOStage, ctx: StageContext) -> StageResult:
    """Export, write the reward module and command, run verl's main_ppo, merge to a HF folder.

    Usage: run_verl_grpo(stage, ctx)   # via run_grpo when stage.backend == "verl"
    """
    paths = VerlPaths.under(ctx.out_dir)
    spec = resolve_spec(stage.judge_spec, stage.prompt, stage.model, f"stage {ctx.name}", log)
    counts = export_verl_inputs(stage, paths, ctx.seed, spec)
    cmd = main_ppo_command(stage, paths, ctx.seed, ctx.name)
    env_lines = [f"export {k}={shlex.quote(v)}" for k, v in verl_env(stage, ctx).items()]
    write_text_atomic(
        paths.command,
        "#!/usr/bin/env bash\nset -euo pipefail\n" + "\n".join(env_lines) + "\n" + shlex.join(cmd) + "\n",
    )
    files = {
        "train": str(paths.train),
        "val": str(paths.val),
        "reward_module": str(paths.reward_module),
        "command": str(paths.command),
    }
    if stage.verl.dry_run:
        print(shlex.join(cmd))
        log.info(f"grpo (verl): dry run; command written to {paths.command}")
        return StageResult(outputs=files, metrics={"dry_run": True, **counts, "overrides": len(cmd) - 3})

    env = {**os.environ, "PYTHONUNBUFFERED": "1", **verl_env(stage, ctx)}
    _run_logged(cmd, paths.log, env, "verl main_ppo")
    actor = latest_actor_dir(paths.checkpoints)
    if actor is None:
        raise StageError(f"verl finished but left no global_step_N/actor checkpoint in {paths.checkpoints}")
    checkpoint = ctx.path(OUTPUTS["checkpoint"])
    if stage.verl.merge:
        staging = ctx.path(MERGE_STAGING)
        shutil.rmtree(staging, ignore_errors=True)
        _run_logged(merge_command(stage.verl.python, actor, staging), paths.log, env, "verl model merger")
        for name, text in card_files(stage, ctx, checkpoint, spec).items():
            write_text_atomic(staging / name, text)
        shutil.rmtree(checkpoint, ignore_errors=True)
        os.replace(staging, checkpoint)
    history = read_verl_metrics(paths.metrics)
    write_json(ctx.path(OUTPUTS["log"]), history)
    plot_reward_curve(
        history, ctx.path(OUTPUTS["curve"]), [SCORE_KEY], title=f"GRPO reward on verl ({ctx.name})"
    )
    metrics = {
        **counts,
        "actor_checkpoint": str(actor),
        "reward_curve": curve_summary(history, SCORE_KEY),
        "steps": max((h["step"] for h in history if isinstance(h.get("step"), int)), default=0),
    }
    outputs = {k: str(ctx.path(v)) for k, v in OUTPUTS.items()} | files
    if not stage.verl.merge:
        outputs["checkpoint"] = str(actor)
    else:
        metrics.update(push_after_training(stage, ctx, checkpoint))
    return StageResult(outputs=outputs, metrics=metrics)

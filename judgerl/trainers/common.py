"""Pieces every TRL-based trainer shares: the LoRA spec, schedule/saving/device arguments, the one
GRPOConfig builder of the two GRPO stages, checkpoint lookup."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, Protocol, cast

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer

from judgerl.core.config import StrictModel
from judgerl.core.stage_folders import inside_stage_folder
from judgerl.trainers.publish import PushSpec
from judgerl.trainers.saving import check_deepspeed_config, single_process_world
from judgerl.trainers.tracking import ReportTo, training_args

# the learning-rate schedules transformers builds from a name alone (the others need keys judgerl has not)
Scheduler = Literal[
    "linear",
    "cosine",
    "cosine_with_restarts",
    "polynomial",
    "constant",
    "constant_with_warmup",
    "inverse_sqrt",
]


class LoraSpec(StrictModel):
    """LoRA adapter settings (peft). Usage: LoraSpec(r=16, alpha=32)."""

    r: int = Field(16, ge=1)
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    target_modules: list[str] | str = "all-linear"

    def to_peft(self) -> Any:
        """The peft LoraConfig for a causal LM. Usage: LoraSpec().to_peft()."""
        from peft import LoraConfig

        return LoraConfig(
            r=self.r,
            lora_alpha=self.alpha,
            lora_dropout=self.dropout,
            target_modules=self.target_modules,
            task_type="CAUSAL_LM",
        )


def device_args(bf16: bool | None) -> dict[str, Any]:
    """TrainingArguments keys that make a run CPU-safe and use bf16 on GPUs when asked or available.

    Usage: SFTConfig(..., **device_args(None))
    """
    import torch

    on_gpu = torch.cuda.is_available()
    use_bf16 = on_gpu if bf16 is None else bf16
    if use_bf16 and not on_gpu:
        raise ValueError("bf16: true needs a GPU; set bf16: false (or leave it unset) on a CPU")
    return {
        "bf16": use_bf16,
        "use_cpu": not on_gpu,
        "dataloader_pin_memory": on_gpu,
        "ddp_find_unused_parameters": False,
    }


class TrainingKeys(StrictModel):
    """The recipe keys every judgerl trainer stage shares: schedule, optimizer, saving, precision.

    A stage config subclasses it and redeclares a key only to change its default (SFT: lr 2e-5,
    cosine, 3% warmup; DPO: lr 1e-6, cosine, 10% warmup; GRPO: these). `max_steps: -1` trains for
    `epochs`; `warmup_ratio` is a fraction of the total steps; `bf16: null` means "on a GPU".
    `on_nonfinite: stop` (the default) fails the stage at the first NaN or inf loss, gradient or
    weight, saving nothing non-finite (judgerl.trainers.nonfinite); `continue` is TRL's behaviour.

    >>> TrainingKeys().scheduler, TrainingKeys(lr=3e-5).lr
    ('constant', 3e-05)
    """

    max_steps: int = -1
    epochs: float = Field(1.0, gt=0)
    lr: float = Field(1e-6, gt=0)
    batch_size: int = Field(16, ge=1)
    grad_accum: int = Field(1, ge=1)
    warmup_ratio: float = Field(0.0, ge=0, lt=1)
    scheduler: Scheduler = "constant"
    weight_decay: float = Field(0.0, ge=0)
    adam_beta2: float = Field(0.999, gt=0, lt=1)
    max_grad_norm: float = Field(1.0, gt=0)
    bf16: bool | None = None
    save_steps: int = Field(100, ge=1)
    save_total_limit: int = Field(2, ge=1)
    logging_steps: int = Field(5, ge=1)
    # tracking (trainers/tracking.py): the recipe's top-level values unless set here; left out of the
    # config hash and the manifest's config, since they change what is logged, not what is trained
    report_to: ReportTo | None = Field(None, exclude=True)
    run_name: str | None = Field(None, exclude=True)
    # uploads the checkpoint (and its model card) when the stage ends (trainers/publish.py); not hashed either
    push_to_hub: PushSpec | None = Field(None, exclude=True)
    on_nonfinite: Literal["stop", "continue"] = "stop"

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return drop_default_nonfinite(handler(self))


def drop_default_nonfinite(data: Any) -> Any:
    """`data` without `on_nonfinite: stop` (the default), so that training stages keep the config hash
    they had before the key existed. Usage: inside a stage's `model_serializer(mode="wrap")`."""
    if isinstance(data, dict) and data.get("on_nonfinite") == "stop":
        data.pop("on_nonfinite")
    return data


def schedule_args(stage: TrainingKeys, ctx: Any) -> dict[str, Any]:
    """The TrainingArguments keys every judgerl trainer sets the same way, from its stage config.

    `stage` has the shared recipe keys (max_steps, epochs, lr, batch_size, grad_accum,
    warmup_ratio, scheduler, weight_decay, adam_beta2, max_grad_norm, save_steps,
    save_total_limit, logging_steps, bf16, report_to, run_name; deepspeed when it has one); `ctx` is the StageContext
    (output folder, seed, progress). The trainer adds its own keys (loss, lengths, generation).

    Usage: SFTConfig(**schedule_args(stage, ctx), max_length=stage.max_length)
    """
    check_deepspeed_config(getattr(stage, "deepspeed", None))
    single_process_world(getattr(stage, "deepspeed", None))
    return {
        "output_dir": str(ctx.resume_path("trainer")),
        "max_steps": stage.max_steps,
        "num_train_epochs": stage.epochs,
        "learning_rate": stage.lr,
        "per_device_train_batch_size": stage.batch_size,
        "gradient_accumulation_steps": stage.grad_accum,
        "warmup_steps": stage.warmup_ratio,  # a float < 1 is a ratio of the total steps
        "lr_scheduler_type": stage.scheduler,
        "weight_decay": stage.weight_decay,
        "adam_beta2": stage.adam_beta2,
        "max_grad_norm": stage.max_grad_norm,
        "save_strategy": "steps",
        "save_steps": stage.save_steps,
        "save_total_limit": stage.save_total_limit,
        "logging_steps": stage.logging_steps,
        "seed": ctx.seed,
        "data_seed": ctx.seed,
        "deepspeed": getattr(stage, "deepspeed", None),
        "disable_tqdm": not ctx.progress,
        # a NaN step's loss is logged as it is (not as the window's average) where the run stops on it
        "logging_nan_inf_filter": getattr(stage, "on_nonfinite", "stop") == "continue",
        **device_args(stage.bf16),
        **training_args(stage, ctx),
    }


class GRPOKeys(Protocol):
    """The recipe keys of a GRPO stage that `trl_grpo_config` reads beyond the `TrainingKeys`.

    The judge's `grpo` stage (trainers/grpo_config.py) and the policy's `policy_grpo` stage
    (trainers/policy_grpo.py) each declare them, with their own defaults and allowed values (beta,
    loss_type, max_completion_length differ), and a stage's field order decides what its
    validators see (the pair check of `grpo` reads `backend`, declared before
    `steps_per_generation`), so this is a protocol the two configs satisfy, not a base class.
    """

    num_generations: int
    temperature: float
    top_p: float
    beta: float
    loss_type: str
    scale_rewards: str
    max_completion_length: int
    steps_per_generation: int | None
    log_completions: bool


def grpo_args(stage: TrainingKeys, ctx: Any, weights: Sequence[float]) -> dict[str, Any]:
    """The GRPOConfig keys both GRPO stages set the same way: `schedule_args` plus sampling and loss.

    `stage` is a TrainingKeys subclass with the `GRPOKeys` (GRPOStage, PolicyGRPOStage); `weights`
    are the reward weights, in the order of the reward functions.

    Usage: GRPOConfig(**grpo_args(stage, ctx, weights), epsilon=stage.epsilon)
    """
    keys = cast(GRPOKeys, stage)
    return {
        **schedule_args(stage, ctx),
        "steps_per_generation": keys.steps_per_generation,
        "num_generations": keys.num_generations,
        "max_completion_length": keys.max_completion_length,
        "temperature": keys.temperature,
        "top_p": keys.top_p,
        "beta": keys.beta,
        "loss_type": keys.loss_type,
        "scale_rewards": keys.scale_rewards,
        "reward_weights": list(weights),
        "log_completions": keys.log_completions,
    }


def trl_grpo_config(stage: TrainingKeys, ctx: Any, weights: Sequence[float], **engine_keys: Any) -> Any:
    """TRL's GRPOConfig for a GRPO stage: `grpo_args` plus the stage's own keys (imports trl lazily).

    `engine_keys` are the GRPOConfig keys only one stage sets (the judge's clip range, entropy,
    iterations, vLLM); one that `grpo_args` already sets is a TypeError, not a silent override.

    Usage: config = trl_grpo_config(stage, ctx, weights, activation_checkpointing=False)
    """
    from trl import GRPOConfig

    return GRPOConfig(**grpo_args(stage, ctx, weights), **engine_keys)


def train_resumable(
    trainer: Any, ctx: Any, log: Any, on_nonfinite: str = "stop"
) -> tuple[Any, float, str | None]:
    """`trainer.train()`, resumed from the stage's last `trainer/checkpoint-N` when the run resumes.

    The trainer gets the NonFiniteGuard callback (unless `on_nonfinite` is "continue"): a NaN or
    inf loss, gradient or weight stops the stage with a StageError. A symbolic link anywhere in
    the trainer folder is refused before anything in it is read, overwritten or rotated away.
    Returns (train output, training seconds, the checkpoint resumed from or None).
    Usage: output, seconds, resumed_from = train_resumable(trainer, ctx, log, stage.on_nonfinite)
    """
    if on_nonfinite == "stop":
        from judgerl.trainers.nonfinite import NonFiniteGuard

        trainer.add_callback(NonFiniteGuard(ctx.name))
    folder = inside_stage_folder(ctx.out_dir, ctx.path("trainer"), whole_tree=True)
    resume = last_trainer_checkpoint(folder) if ctx.resume else None
    if resume is not None:
        log.info(f"{ctx.name}: resuming from {resume}")
        declare_tied_weights_unsaved(trainer.model)
    start = time.time()
    output = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    return output, time.time() - start, str(resume) if resume else None


def declare_tied_weights_unsaved(model: Any) -> None:
    """Name a model's tied weights (`lm_head.weight` tied to the embeddings) as keys it does not save.

    A checkpoint of a tied model holds the embeddings only, so the Trainer's resume finds
    `lm_head.weight` missing and warns "There were missing keys in the checkpoint model loaded"
    unless the missing keys are exactly the model's `_keys_to_ignore_on_save`, when it ties the
    weights again instead. Saving already leaves the tied copies out; a model without tied weights
    (or a peft model, resumed from its adapter) is left as it is.

    Usage: declare_tied_weights_unsaved(trainer.model)  # before trainer.train(resume_from_checkpoint=...)
    """
    from judgerl.models.loading import is_peft_model

    tied = getattr(model, "all_tied_weights_keys", None)  # {tied key: the key it is tied to}, tied ones only
    if not tied or is_peft_model(model):
        return
    model._keys_to_ignore_on_save = {*(model._keys_to_ignore_on_save or ()), *tied}


def whole_stage_loss(trainer: Any, output: Any, resumed_from: str | None) -> float | None:
    """The stage's mean training loss over all its steps, also after a resume.

    transformers' `training_loss` averages only the steps of the last `train()` call; after a resume
    from `checkpoint-R` the steps up to R come from the restored log history (each logged `loss` is
    the mean of the steps since the previous log), weighted by the steps they cover. Steps between
    the last log before R and R itself were never logged and are left out (none are when
    `logging_steps` divides `save_steps`).

    Usage: metrics["train_loss"] = whole_stage_loss(trainer, output, resumed_from)
    """
    if resumed_from is None:
        return output.training_loss
    start = int(Path(resumed_from).name.rsplit("-", 1)[-1])
    spans: list[tuple[float, int]] = []
    last = 0
    for h in trainer.state.log_history:
        if "loss" in h and isinstance(h.get("step"), int) and last < h["step"] <= start:
            spans.append((float(h["loss"]), h["step"] - last))
            last = h["step"]
    resumed_steps = trainer.state.global_step - start
    if resumed_steps > 0:
        spans.append((float(output.training_loss), resumed_steps))
    steps = sum(n for _, n in spans)
    return sum(loss * n for loss, n in spans) / steps if steps else output.training_loss


def last_trainer_checkpoint(folder: Path) -> Path | None:
    """The newest `checkpoint-N` folder a Trainer left in `folder`, or None.

    Usage: last_trainer_checkpoint(ctx.path("trainer"))
    """
    if not folder.is_dir():
        return None
    found = [p for p in folder.glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()]
    found = [p for p in found if (p / "trainer_state.json").exists()]
    return max(found, key=lambda p: int(p.name.split("-")[-1]), default=None)

"""Pieces every TRL-based trainer shares: the LoRA spec, schedule/saving/device arguments, checkpoint lookup."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from pydantic import Field

from judgerl.core.config import StrictModel


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
        "report_to": "none",
    }


class TrainingKeys(StrictModel):
    """The recipe keys every judgerl trainer stage shares: schedule, optimizer, saving, precision.

    A stage config subclasses it and redeclares a key only to change its default (SFT: lr 2e-5,
    cosine, 3% warmup; DPO: lr 1e-6, cosine, 10% warmup; GRPO: these). `max_steps: -1` trains for
    `epochs`; `warmup_ratio` is a fraction of the total steps; `bf16: null` means "on a GPU".

    >>> TrainingKeys().scheduler, TrainingKeys(lr=3e-5).lr
    ('constant', 3e-05)
    """

    max_steps: int = -1
    epochs: float = Field(1.0, gt=0)
    lr: float = Field(1e-6, gt=0)
    batch_size: int = Field(16, ge=1)
    grad_accum: int = Field(1, ge=1)
    warmup_ratio: float = Field(0.0, ge=0, lt=1)
    scheduler: str = "constant"
    weight_decay: float = Field(0.0, ge=0)
    adam_beta2: float = Field(0.999, gt=0, lt=1)
    max_grad_norm: float = Field(1.0, gt=0)
    bf16: bool | None = None
    save_steps: int = Field(100, ge=1)
    save_total_limit: int = Field(2, ge=1)
    logging_steps: int = Field(5, ge=1)


def schedule_args(stage: TrainingKeys, ctx: Any) -> dict[str, Any]:
    """The TrainingArguments keys every judgerl trainer sets the same way, from its stage config.

    `stage` has the shared recipe keys (max_steps, epochs, lr, batch_size, grad_accum,
    warmup_ratio, scheduler, weight_decay, adam_beta2, max_grad_norm, save_steps,
    save_total_limit, logging_steps, bf16; deepspeed when it has one); `ctx` is the StageContext
    (output folder, seed, progress). The trainer adds its own keys (loss, lengths, generation).

    Usage: SFTConfig(**schedule_args(stage, ctx), max_length=stage.max_length)
    """
    return {
        "output_dir": str(ctx.path("trainer")),
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
        **device_args(stage.bf16),
    }


def train_resumable(trainer: Any, ctx: Any, log: Any) -> tuple[Any, float, str | None]:
    """`trainer.train()`, resumed from the stage's last `trainer/checkpoint-N` when the run resumes.

    Returns (train output, training seconds, the checkpoint resumed from or None).
    Usage: output, seconds, resumed_from = train_resumable(trainer, ctx, log)
    """
    resume = last_trainer_checkpoint(ctx.path("trainer")) if ctx.resume else None
    if resume is not None:
        log.info(f"{ctx.name}: resuming from {resume}")
    start = time.time()
    output = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    return output, time.time() - start, str(resume) if resume else None


def last_trainer_checkpoint(folder: Path) -> Path | None:
    """The newest `checkpoint-N` folder a Trainer left in `folder`, or None.

    Usage: last_trainer_checkpoint(ctx.path("trainer"))
    """
    if not folder.is_dir():
        return None
    found = [p for p in folder.glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()]
    found = [p for p in found if (p / "trainer_state.json").exists()]
    return max(found, key=lambda p: int(p.name.split("-")[-1]), default=None)

"""SFT of a judge (or, with a prompt hint, a critic) on thinking traces, on TRL's SFTTrainer.

judgerl run recipes/quickstart.yaml --only sft
torchrun --nproc_per_node 8 -m judgerl stage recipes/think_j/qwen2.5-7b.yaml sft
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer

from judgerl.core.errors import StageError
from judgerl.core.jsonl import write_json
from judgerl.core.logging import get_logger
from judgerl.core.samples import read_samples
from judgerl.core.stage import StageContext, StageResult
from judgerl.data_prep.policy_data import policy_rows, policy_sft_rows
from judgerl.data_prep.prompts import PromptSpec
from judgerl.data_prep.sft_format import sft_records
from judgerl.trainers.common import LoraSpec, TrainingKeys, schedule_args, train_resumable

log = get_logger("judgerl.sft")
OUTPUTS = {"checkpoint": "checkpoint"}


class SFTStage(TrainingKeys):
    """Recipe keys of an `sft` stage. `max_steps: -1` trains for `epochs` instead.

    `target: policy` trains a policy instead of a judge: question -> preferred response
    (`data_prep.policy_data`), from the same judge samples; `prompt` is then unused.
    `target: policy_mixed` teaches both responses of each question (right and wrong), so the
    sampled policy is right about half the time: a policy with room for RL.
    """

    kind: Literal["sft"] = "sft"
    model: str
    data: str
    target: Literal["judge", "policy", "policy_mixed"] = "judge"
    prompt: PromptSpec | None = None
    lr: float = Field(2e-5, gt=0)
    batch_size: int = Field(8, ge=1)
    warmup_ratio: float = Field(0.03, ge=0, lt=1)
    scheduler: str = "cosine"
    max_length: int = Field(2048, ge=16)
    lora: LoraSpec | None = None
    merge_lora: bool = True
    gradient_checkpointing: bool = False
    save_steps: int = Field(200, ge=1)
    logging_steps: int = Field(25, ge=1)
    deepspeed: str | None = None

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # `target: judge` (the default) is left out so that judge SFT stages keep the config
        # hash they had before `target` existed, and finished runs are not retrained.
        data = handler(self)
        if isinstance(data, dict) and data.get("target") == "judge":
            data.pop("target")
        return data


def run_sft(stage: SFTStage, ctx: StageContext) -> StageResult:
    """Train on the stage's samples rendered by the shared prompt; save a Hugging Face checkpoint.

    Loss covers only the assistant turn (prompt-completion data, TRL's completion-only loss),
    so any chat template works. An interrupted run resumes from `trainer/checkpoint-N`.

    Usage: result = run_sft(SFTStage(model=..., data="runs/x/data/train.jsonl"), StageContext("sft", out_dir))
    """
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from judgerl.models.loading import load_model_and_tokenizer, save_checkpoint

    spec = stage.prompt or PromptSpec()
    samples = read_samples(stage.data)
    policy = stage.target != "judge"
    records = policy_rows(samples) if policy else sft_records(samples, spec)
    if records.skipped:
        log.warning(
            f"sft: skipped {len(records.skipped)} of {len(samples)} samples: first {records.skipped[:3]}"
        )
    if not records.rows:
        what = "question with a reference answer" if policy else f"trace for prompt {spec}"
        raise StageError(f"sft: no sample in {stage.data} has a usable {what}")
    if policy:
        rows = policy_sft_rows(records.rows, with_rejected=stage.target == "policy_mixed")
    else:
        rows = [{"prompt": r["messages"][:-1], "completion": r["messages"][-1:]} for r in records.rows]
    dataset = Dataset.from_list(rows)

    model, tokenizer = load_model_and_tokenizer(stage.model, dtype="auto")
    tokenizer.padding_side = "right"
    config = SFTConfig(
        **schedule_args(stage, ctx),
        max_length=stage.max_length,
        gradient_checkpointing=stage.gradient_checkpointing,
    )
    trainer = SFTTrainer(
        model=model,
        args=config,
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=stage.lora.to_peft() if stage.lora else None,
    )
    output, train_seconds, resumed_from = train_resumable(trainer, ctx, log)

    checkpoint = ctx.path(OUTPUTS["checkpoint"])
    if trainer.is_world_process_zero():
        save_checkpoint(trainer.model, tokenizer, checkpoint, merge_lora=stage.merge_lora)
        write_json(ctx.path("log_history.json"), trainer.state.log_history)
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    metrics = {
        "train_rows": len(rows),
        "skipped": len(records.skipped),
        "steps": trainer.state.global_step,
        "first_loss": losses[0] if losses else None,
        "final_loss": losses[-1] if losses else None,
        "train_loss": output.training_loss,
        "train_seconds": round(train_seconds, 1),
        "resumed_from": resumed_from,
    }
    return StageResult(outputs={"checkpoint": str(checkpoint)}, metrics=metrics)

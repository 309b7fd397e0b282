"""SFT of a judge (or, with a prompt hint, a critic) on thinking traces, on TRL's SFTTrainer.

judgerl run recipes/quickstart.yaml --only sft
torchrun --nproc_per_node 8 -m judgerl stage recipes/think_j/qwen2.5-7b.yaml sft
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SerializerFunctionWrapHandler, field_validator, model_serializer

from judgerl.core.errors import StageError
from judgerl.core.jsonl import write_json
from judgerl.core.logging import get_logger
from judgerl.core.samples import read_samples
from judgerl.core.stage import StageContext, StageResult
from judgerl.data_prep.policy_data import policy_rows, policy_sft_rows
from judgerl.data_prep.sft_format import sft_records
from judgerl.judge_spec.families import PromptSpec
from judgerl.judge_spec.files import JudgeSpecField, resolve_spec
from judgerl.models.chat_templates import check_template_name
from judgerl.trainers.common import (
    LoraSpec,
    Scheduler,
    TrainingKeys,
    drop_default_nonfinite,
    schedule_args,
    train_resumable,
    whole_stage_loss,
)

log = get_logger("judgerl.sft")
OUTPUTS = {"checkpoint": "checkpoint"}


class SFTStage(TrainingKeys):
    """Recipe keys of an `sft` stage. `max_steps: -1` trains for `epochs` instead.

    `target: policy` trains a policy instead of a judge: question -> preferred response
    (`data_prep.policy_data`), from the same judge samples; `prompt` is then unused.
    `target: policy_mixed` teaches both responses of each question (right and wrong), so the
    sampled policy is right about half the time: a policy with room for RL.
    A judge is rendered and written in its judge spec (`judge_spec`, or the `prompt` shorthand, or the
    spec saved with `model`), which is saved into the checkpoint as `judge_spec.json`;
    `prompt_as_written: true` trains on the prompt a file's rows carry (Think-J's alpaca files, TRL
    conversational rows) instead of rendering it.
    """

    kind: Literal["sft"] = "sft"
    model: str
    data: str
    target: Literal["judge", "policy", "policy_mixed"] = "judge"
    prompt: PromptSpec | None = None
    judge_spec: JudgeSpecField = None
    prompt_as_written: bool = False
    lr: float = Field(2e-5, gt=0)
    batch_size: int = Field(8, ge=1)
    warmup_ratio: float = Field(0.03, ge=0, lt=1)
    scheduler: Scheduler = "cosine"
    max_length: int = Field(2048, ge=16)
    lora: LoraSpec | None = None
    merge_lora: bool = True
    gradient_checkpointing: bool = False
    save_steps: int = Field(200, ge=1)
    logging_steps: int = Field(25, ge=1)
    deepspeed: str | None = None
    chat_template: str | None = None  # a built-in name or a Jinja file, for a model without a template

    @field_validator("chat_template")
    @classmethod
    def _known_template(cls, value: str | None) -> str | None:
        return check_template_name(value)

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # `target: judge` and an unset chat_template (the defaults) are left out so that SFT
        # stages keep the config hash they had before these keys existed, and finished runs
        # are not retrained.
        data = drop_default_nonfinite(handler(self))
        if isinstance(data, dict) and data.get("target") == "judge":
            data.pop("target")
        if isinstance(data, dict) and data.get("chat_template") is None:
            data.pop("chat_template", None)
        if isinstance(data, dict) and data.get("prompt_as_written") is False:
            data.pop("prompt_as_written")
        return data


def run_sft(stage: SFTStage, ctx: StageContext) -> StageResult:
    """Train on the stage's samples rendered by the shared prompt; save a Hugging Face checkpoint.

    Loss covers only the assistant turn (prompt-completion data, TRL's completion-only loss),
    so any chat template works. An interrupted run resumes from `trainer/checkpoint-N`.

    Usage: result = run_sft(SFTStage(model=..., data="runs/x/data/train.jsonl"), StageContext("sft", out_dir))
    """
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from judgerl.models.loading import load_model_and_tokenizer
    from judgerl.trainers.publish import card_files, push_after_training
    from judgerl.trainers.saving import save_trained
    from judgerl.trainers.tracking import tracking

    samples = read_samples(stage.data)
    policy = stage.target != "judge"
    spec = (
        None
        if policy
        else resolve_spec(stage.judge_spec, stage.prompt, stage.model, f"stage {ctx.name}", log)
    )
    hint = stage.prompt.hint if stage.prompt else "none"
    records = (
        policy_rows(samples)
        if spec is None
        else sft_records(samples, spec, hint, as_written=stage.prompt_as_written)
    )
    if stage.prompt_as_written and not policy:
        log.info(f"sft: {records.as_written} of {len(samples)} rows train on the prompt their file carries")
        if records.differ_from_spec:
            log.warning(
                f"sft: {records.differ_from_spec} of {records.as_written} prompts as written differ from what judge "
                f"spec {spec.name!r} renders: evaluate this judge with a spec whose template renders them"  # type: ignore[union-attr]
            )
    if records.skipped:
        log.warning(
            f"sft: skipped {len(records.skipped)} of {len(samples)} samples: first {records.skipped[:3]}"
        )
    if not records.rows:
        what = "question with a reference answer" if spec is None else f"trace for judge spec {spec.name!r}"
        raise StageError(f"sft: no sample in {stage.data} has a usable {what}")
    if policy:
        rows = policy_sft_rows(records.rows, with_rejected=stage.target == "policy_mixed")
    else:
        rows = [{"prompt": r["messages"][:-1], "completion": r["messages"][-1:]} for r in records.rows]
    dataset = Dataset.from_list(rows)

    # The config comes first: under ZeRO-3 it makes each rank load only its shard of the model.
    config = SFTConfig(
        **schedule_args(stage, ctx),
        max_length=stage.max_length,
        activation_checkpointing=stage.gradient_checkpointing,  # transformers 5 renamed gradient_checkpointing
    )
    from judgerl.models.chat_templates import require_chat_template

    model, tokenizer = load_model_and_tokenizer(stage.model, dtype="auto", chat_template=stage.chat_template)
    require_chat_template(tokenizer)  # a StageError: a recipe fix, not something a rerun resumes from
    tokenizer.padding_side = "right"
    with tracking(stage, ctx):
        trainer = SFTTrainer(
            model=model,
            args=config,
            train_dataset=dataset,
            processing_class=tokenizer,
            peft_config=stage.lora.to_peft() if stage.lora else None,
        )
        # TRL drops, without a word, rows whose prompt alone fills max_length: count them
        dropped = len(rows) - len(trainer.train_dataset)
        if dropped:
            log.warning(f"sft: {dropped} of {len(rows)} rows are longer than max_length={stage.max_length}")
        output, train_seconds, resumed_from = train_resumable(trainer, ctx, log, stage.on_nonfinite)

    checkpoint = ctx.path(OUTPUTS["checkpoint"])
    files = card_files(stage, ctx, checkpoint, spec)
    save_trained(trainer, tokenizer, checkpoint, stage.merge_lora, files)
    pushed: dict[str, Any] = {}
    if trainer.is_world_process_zero():
        write_json(ctx.path("log_history.json"), trainer.state.log_history)
        pushed = push_after_training(stage, ctx, checkpoint)
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    metrics = {
        "train_rows": len(rows),
        "skipped": len(records.skipped),
        "dropped_rows": dropped,
        "steps": trainer.state.global_step,
        "first_loss": losses[0] if losses else None,
        "final_loss": losses[-1] if losses else None,
        "train_loss": whole_stage_loss(trainer, output, resumed_from),
        "train_seconds": round(train_seconds, 1),
        "resumed_from": resumed_from,
        **pushed,
    }
    return StageResult(outputs={"checkpoint": str(checkpoint)}, metrics=metrics)

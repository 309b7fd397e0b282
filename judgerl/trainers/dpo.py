"""DPO of a judge on constructed judgement pairs, on TRL's DPOTrainer.

judgerl run recipes/quickstart_dpo.yaml --only dpo
accelerate launch --config_file recipes/accelerate/zero2.yaml -m judgerl stage recipes/think_j/qwen2.5-7b-dpo.yaml dpo
torchrun --nproc_per_node 8 -m judgerl stage recipes/think_j/qwen2.5-7b-dpo.yaml dpo

Rows come from a pairs file (judgerl.data_prep.pairs.read_pairs): every row is validated, and by
default its prompt must be the judge prompt of this recipe rendered for its sample, so DPO trains
under the prompt the judge is evaluated with. TRL gets conversational rows: prompt (messages),
chosen and rejected ([{"role": "assistant", "content": ...}]).

Think-J's NLL term on the chosen side (the seed's weight 1.0) is `rpo_alpha`: TRL 1.16 has no
`rpo_alpha` argument any more, so it becomes TRL's "sft" loss (mean token NLL of the chosen
completion, the same quantity) added to `loss_type` with weight `rpo_alpha`.

Reference model: by default a frozen copy of the starting model (TRL loads it from the same
path); `ref_model` names another checkpoint; `precompute_ref_log_probs` computes the reference
log-probs once before training and keeps no reference model in memory; with LoRA the reference
is the base model with the adapter disabled.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from judgerl.core.errors import StageError
from judgerl.core.jsonl import write_json
from judgerl.core.logging import get_logger
from judgerl.core.stage import StageContext, StageResult
from judgerl.data_prep.pairs import read_pairs
from judgerl.judge_spec.families import PromptSpec
from judgerl.judge_spec.files import JudgeSpecField, resolve_spec
from judgerl.models.import_config import LoadDtype
from judgerl.trainers.common import (
    LoraSpec,
    Scheduler,
    TrainingKeys,
    schedule_args,
    train_resumable,
    whole_stage_loss,
)

log = get_logger("judgerl.dpo")
OUTPUTS = {"checkpoint": "checkpoint"}
# TRL 1.16's DPOConfig.loss_type values (checked here so a recipe fails before anything runs).
DPO_LOSS_TYPES: tuple[str, ...] = (
    "sigmoid",
    "hinge",
    "ipo",
    "exo_pair",
    "nca_pair",
    "robust",
    "bco_pair",
    "sppo_hard",
    "aot",
    "aot_unpaired",
    "apo_zero",
    "apo_down",
    "discopop",
    "sft",
    "sigmoid_norm",
)


class DPOStage(TrainingKeys):
    """Recipe keys of a `dpo` stage. `max_steps: -1` trains for `epochs` instead.

    `loss_type` is one TRL loss name or a list (combined with `loss_weights`, default 1 each);
    `rpo_alpha` adds the NLL term on chosen with that weight.
    """

    kind: Literal["dpo"] = "dpo"
    model: str
    data: str
    prompt: PromptSpec | None = None
    judge_spec: JudgeSpecField = None
    check_prompt: bool = True
    on_bad_row: Literal["skip", "stop"] = "stop"
    beta: float = Field(0.1, gt=0)
    loss_type: list[str] = Field(default_factory=lambda: ["sigmoid"])
    loss_weights: list[float] | None = None
    rpo_alpha: float | None = Field(None, ge=0)
    label_smoothing: float = Field(0.0, ge=0, lt=0.5)
    ref_model: str | None = None
    precompute_ref_log_probs: bool = False
    precompute_ref_batch_size: int | None = Field(None, ge=1)
    batch_size: int = Field(8, ge=1)
    warmup_ratio: float = Field(0.1, ge=0, lt=1)
    scheduler: Scheduler = "cosine"
    max_length: int = Field(2048, ge=16)
    lora: LoraSpec | None = None
    merge_lora: bool = True
    dtype: LoadDtype = "auto"
    gradient_checkpointing: bool = False
    save_steps: int = Field(200, ge=1)
    logging_steps: int = Field(10, ge=1)
    deepspeed: str | None = None

    @field_validator("loss_type", mode="before")
    @classmethod
    def _as_list(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("loss_type")
    @classmethod
    def _known_losses(cls, v: list[str]) -> list[str]:
        if not v:
            raise ValueError("loss_type needs at least one loss")
        unknown = [x for x in v if x not in DPO_LOSS_TYPES]
        if unknown:
            raise ValueError(f"unknown DPO loss type(s) {unknown} (TRL knows: {', '.join(DPO_LOSS_TYPES)})")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> DPOStage:
        if self.loss_weights is not None and len(self.loss_weights) != len(self.loss_type):
            raise ValueError(
                f"loss_weights has {len(self.loss_weights)} values for {len(self.loss_type)} loss types"
            )
        if self.rpo_alpha is not None and "sft" in self.loss_type:
            raise ValueError("give the NLL-on-chosen weight once: either rpo_alpha or an 'sft' loss_type")
        if self.precompute_ref_log_probs and self.lora is not None:
            raise ValueError(
                "precompute_ref_log_probs is for full fine-tuning; with LoRA the reference is the base "
                "model with the adapter disabled and needs no extra memory"
            )
        if self.prompt is not None and self.prompt.hint != "none":
            raise ValueError(
                f"prompt.hint is {self.prompt.hint!r}: DPO trains the judge under its own prompt"
            )
        return self

    def trl_losses(self) -> tuple[list[str], list[float]]:
        """TRL's (loss_type, loss_weights), with rpo_alpha as a weighted 'sft' loss.

        >>> DPOStage(model="m", data="d", rpo_alpha=1.0).trl_losses()
        (['sigmoid', 'sft'], [1.0, 1.0])
        """
        types = list(self.loss_type)
        weights = list(self.loss_weights) if self.loss_weights is not None else [1.0] * len(types)
        if self.rpo_alpha:
            types.append("sft")
            weights.append(float(self.rpo_alpha))
        return types, weights


def dpo_rows(pairs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Conversational prompt/chosen/rejected rows for TRL from validated pairs rows.

    >>> dpo_rows([{"prompt": [{"role": "user", "content": "q"}], "chosen": "x", "rejected": "y"}])[0]["chosen"]
    [{'role': 'assistant', 'content': 'x'}]
    """
    return [
        {
            "prompt": p["prompt"],
            "chosen": [{"role": "assistant", "content": p["chosen"]}],
            "rejected": [{"role": "assistant", "content": p["rejected"]}],
        }
        for p in pairs
    ]


def _first_last(history: list[dict[str, Any]], key: str) -> tuple[Any, Any]:
    values = [h[key] for h in history if key in h]
    return (values[0], values[-1]) if values else (None, None)


def run_dpo(stage: DPOStage, ctx: StageContext) -> StageResult:
    """Train the judge with DPO on the pairs file; save a Hugging Face checkpoint.

    An interrupted run resumes from `trainer/checkpoint-N`.

    Usage: result = run_dpo(DPOStage(model=..., data="runs/x/pairs/pairs.jsonl"), StageContext("dpo", out_dir))
    """
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    from judgerl.models.loading import load_model_and_tokenizer
    from judgerl.trainers.publish import card_files, push_after_training
    from judgerl.trainers.saving import save_trained
    from judgerl.trainers.tracking import tracking

    spec = resolve_spec(stage.judge_spec, stage.prompt, stage.model, f"stage {ctx.name}", log)
    pairs = read_pairs(stage.data, stage.on_bad_row, prompt=spec if stage.check_prompt else None)
    if pairs.skipped:
        log.warning(f"dpo: skipped {len(pairs.skipped)} bad pairs rows: first {pairs.skipped[:3]}")
    if not pairs.rows:
        raise StageError(f"dpo: {stage.data} holds no usable pair (see the pairs stage's stats.json)")
    dataset = Dataset.from_list(dpo_rows(pairs.rows))

    loss_types, loss_weights = stage.trl_losses()
    # The config comes first: building it sets up the distributed state, so that each rank loads
    # its model straight onto its own device.
    config = DPOConfig(
        **schedule_args(stage, ctx),
        beta=stage.beta,
        loss_type=loss_types,
        loss_weights=loss_weights,
        label_smoothing=stage.label_smoothing,
        precompute_ref_log_probs=stage.precompute_ref_log_probs,
        precompute_ref_batch_size=stage.precompute_ref_batch_size,
        max_length=stage.max_length,
        activation_checkpointing=stage.gradient_checkpointing,  # transformers 5 renamed gradient_checkpointing
    )
    device = str(config.device)
    model, tokenizer = load_model_and_tokenizer(stage.model, dtype=stage.dtype, device=device)
    tokenizer.padding_side = "right"
    ref_model = None
    if stage.ref_model is not None:
        ref_model, _ = load_model_and_tokenizer(stage.ref_model, dtype=stage.dtype, device=device)
    with tracking(stage, ctx):
        trainer = DPOTrainer(
            model=model,
            ref_model=ref_model,
            args=config,
            train_dataset=dataset,
            processing_class=tokenizer,
            peft_config=stage.lora.to_peft() if stage.lora else None,
        )
        output, train_seconds, resumed_from = train_resumable(trainer, ctx, log, stage.on_nonfinite)

    checkpoint = ctx.path(OUTPUTS["checkpoint"])
    history = trainer.state.log_history
    files = card_files(stage, ctx, checkpoint, spec)
    save_trained(trainer, tokenizer, checkpoint, stage.merge_lora, files)
    pushed: dict[str, Any] = {}
    if trainer.is_world_process_zero():
        write_json(ctx.path("log_history.json"), history)
        pushed = push_after_training(stage, ctx, checkpoint)
    first_loss, final_loss = _first_last(history, "loss")
    first_margin, final_margin = _first_last(history, "rewards/margins")
    first_acc, final_acc = _first_last(history, "rewards/accuracies")
    metrics = {
        "train_pairs": len(pairs.rows),
        "skipped_rows": len(pairs.skipped),
        "loss_type": loss_types,
        "loss_weights": loss_weights,
        "steps": trainer.state.global_step,
        "first_loss": first_loss,
        "final_loss": final_loss,
        "first_reward_margin": first_margin,
        "final_reward_margin": final_margin,
        "first_reward_accuracy": first_acc,
        "final_reward_accuracy": final_acc,
        "train_loss": whole_stage_loss(trainer, output, resumed_from),
        "train_seconds": round(train_seconds, 1),
        "resumed_from": resumed_from,
        **pushed,
    }
    return StageResult(outputs={"checkpoint": str(checkpoint)}, metrics=metrics)

"""The `tiny_model` stage: a small judge built from config, with a tokenizer trained on the task's text.

Nothing is downloaded: the tokenizer (byte-level BPE, one token per digit) is trained on the
rendered training prompts and traces, so the CPU quickstart and the tests run offline.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from judgerl.core.config import StrictModel
from judgerl.core.samples import read_samples
from judgerl.core.stage import StageContext, StageResult
from judgerl.data_prep.sft_format import trace_for
from judgerl.judge_spec.families import FAMILIES, PromptSpec
from judgerl.judge_spec.files import JudgeSpecField, resolve_spec
from judgerl.judge_spec.presets import spec_for_prompt
from judgerl.judge_spec.render import judge_prompt
from judgerl.judge_spec.verdicts import verdict_sentence
from judgerl.judge_spec.writing import verdict_candidates

OUTPUTS = {"checkpoint": "checkpoint"}


class TinyModelStage(StrictModel):
    """Recipe keys of a `tiny_model` stage (a Qwen2- or Llama-shaped model made from config)."""

    kind: Literal["tiny_model"] = "tiny_model"
    data: str
    prompt: PromptSpec | None = None
    judge_spec: JudgeSpecField = None
    arch: Literal["qwen2", "llama"] = "qwen2"
    hidden_size: int = Field(128, ge=8)
    layers: int = Field(4, ge=1)
    heads: int = Field(4, ge=1)
    intermediate_size: int | None = Field(None, ge=8)
    vocab_size: int = Field(1024, ge=300)
    max_position: int = Field(1024, ge=64)
    tokenizer_texts: int = Field(2000, ge=10)

    @field_validator("heads")
    @classmethod
    def _heads_divide_hidden_size(cls, heads: int, info: ValidationInfo) -> int:
        # checked here, not when the stage builds the model: rotary embeddings need an even head size
        hidden_size = info.data.get("hidden_size")
        if hidden_size is None:
            return heads  # hidden_size itself is invalid and reported
        head_dim, rest = divmod(hidden_size, heads)
        if rest or head_dim % 2:
            raise ValueError(
                f"hidden_size {hidden_size} / heads {heads} must be a whole, even head size "
                f"(e.g. heads: {_heads_hint(hidden_size)})"
            )
        return heads


def _heads_hint(hidden_size: int) -> int:
    """The largest head count up to 8 that gives an even head size (1 when none does)."""
    return next((h for h in range(8, 0, -1) if hidden_size % h == 0 and (hidden_size // h) % 2 == 0), 1)


def _messages_text(prompt: list[dict[str, str]] | str) -> str:
    return prompt if isinstance(prompt, str) else "\n\n".join(m["content"] for m in prompt)


def tokenizer_corpus(stage: TinyModelStage) -> list[str]:
    """Texts the tokenizer is trained on: prompts rendered by the stage's judge spec and traces of the
    first training samples, in both orders, every prompt family and the spec's verdicts, so no verdict
    falls back to raw bytes.

    Usage: texts = tokenizer_corpus(TinyModelStage(data="runs/x/data/train.jsonl"))
    """
    spec = resolve_spec(stage.judge_spec, stage.prompt, None, "tiny_model")
    instruction = stage.prompt.instruction if stage.prompt else "full"
    samples = read_samples(stage.data)[: stage.tokenizer_texts]
    texts: list[str] = []
    for s in samples:
        for shown in (s, s.swapped()):
            texts.append(_messages_text(judge_prompt(spec, shown)))
            trace = trace_for(shown, spec)
            if trace:
                texts.append(trace)
    for family in FAMILIES:
        family_spec = spec_for_prompt(PromptSpec(family, instruction=instruction))
        texts.append(_messages_text(judge_prompt(family_spec, samples[0])))
    texts += [verdict_sentence(c, k) for c in "ab" for k in (None, 1, 2, 3)]
    if spec.verdict.format != "judgerl":
        texts += [text for _, _, text in verdict_candidates(spec)]
    texts += ["system\n", "user\n", "assistant\n"] * 10  # chat-template role names
    return texts


def run_tiny_model(stage: TinyModelStage, ctx: StageContext) -> StageResult:
    """Train the tokenizer, build the model from config and save both as a checkpoint folder.

    judgerl run recipes/quickstart.yaml --only model

    Usage: result = run_tiny_model(TinyModelStage(data=...), StageContext("model", out_dir))
    """
    from judgerl.models.tiny import TinyModelSpec, make_tiny_judge

    spec = TinyModelSpec(
        arch=stage.arch,
        hidden_size=stage.hidden_size,
        layers=stage.layers,
        heads=stage.heads,
        intermediate_size=stage.intermediate_size,
        max_position=stage.max_position,
        vocab_size=stage.vocab_size,
    )
    out = ctx.path(OUTPUTS["checkpoint"])
    make_tiny_judge(out, tokenizer_corpus(stage), spec, seed=ctx.seed)
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(out)
    return StageResult(
        outputs={"checkpoint": str(out)},
        metrics={"vocab_size": config.vocab_size, "hidden_size": config.hidden_size, "layers": stage.layers},
    )

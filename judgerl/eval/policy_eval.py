"""The `policy_eval` stage: exact-match accuracy of a policy's answers on held-out questions.

judgerl run recipes/policy_with_judge.yaml --only policy_eval_after

The questions and true answers come from judge samples (`data_prep.policy_data`): the question
is the conversation, the answer the last number of the preferred response (for the addition
task, the true sum). Answers are decoded greedily with the shared generation backend, or sampled
(`temperature > 0`, `samples` answers per question: the accuracy is then the mean over all of
them, the quantity GRPO at that temperature raises).
"""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import Field, model_validator

from judgerl.core.config import StrictModel
from judgerl.core.errors import StageError
from judgerl.core.jsonl import write_json, write_jsonl
from judgerl.core.logging import get_logger
from judgerl.core.samples import read_samples
from judgerl.core.stage import StageContext, StageResult
from judgerl.data_prep.answers import extract_answer
from judgerl.data_prep.policy_data import answer_correct, policy_rows
from judgerl.models.import_config import LoadDtype

log = get_logger("judgerl.policy_eval")
OUTPUTS = {"metrics": "metrics.json", "predictions": "predictions.jsonl"}


class PolicyEvalStage(StrictModel):
    """Recipe keys of a `policy_eval` stage. `data` is a judge-sample JSONL (e.g. the prep stage's test)."""

    kind: Literal["policy_eval"] = "policy_eval"
    model: str
    data: str
    max_samples: int | None = Field(None, ge=1)
    max_new_tokens: int = Field(16, ge=1)
    temperature: float = Field(0.0, ge=0)
    samples: int = Field(1, ge=1)
    batch_size: int = Field(64, ge=1)
    backend: Literal["hf", "vllm"] = "hf"
    dtype: LoadDtype = "auto"

    @model_validator(mode="after")
    def _samples_need_sampling(self) -> PolicyEvalStage:
        if self.samples > 1 and self.temperature == 0:
            raise ValueError(
                f"samples = {self.samples} needs temperature > 0 (greedy answers are all the same)"
            )
        return self


def accuracy_metrics(rows: list[dict[str, Any]], completions: list[str]) -> dict[str, Any]:
    """Exact-match accuracy of `completions` against the rows' answers, and how many gave a number.

    >>> rows = [{"reference": "The sum is 85.", "answer": "85"}, {"reference": "The sum is 3.", "answer": "3"}]
    >>> accuracy_metrics(rows, ["The sum is 85.", "The sum is"])
    {'n': 2, 'correct': 1, 'accuracy': 0.5, 'answered': 0.5}

    Usage: metrics = accuracy_metrics(rows, [c[0] for c in completions])
    """
    if len(rows) != len(completions):
        raise ValueError(f"{len(rows)} rows for {len(completions)} completions")
    correct = sum(answer_correct(c, r) for r, c in zip(rows, completions, strict=True))
    answered = sum(extract_answer(c) is not None for c in completions)
    n = len(rows)
    return {
        "n": n,
        "correct": correct,
        "accuracy": round(correct / n, 4) if n else 0.0,
        "answered": round(answered / n, 4) if n else 0.0,
    }


def policy_answers(
    generator: Any,
    rows: list[dict[str, Any]],
    max_new_tokens: int,
    batch_size: int,
    temperature: float = 0.0,
    samples: int = 1,
    seed: int = 0,
) -> list[list[str]]:
    """The policy's completions for each row's prompt, in order (greedy by default).

    Usage: texts = policy_answers(make_generator("hf", path), rows, max_new_tokens=16, batch_size=64)
    """
    from judgerl.models.generation import SamplingSpec

    spec = SamplingSpec(
        max_new_tokens=max_new_tokens, temperature=temperature, n=samples, seed=seed, batch_size=batch_size
    )
    return generator.generate([r["prompt"] for r in rows], spec, progress=False, desc="policy answers")


def run_policy_eval(stage: PolicyEvalStage, ctx: StageContext) -> StageResult:
    """The policy's answers to the stage's questions; writes predictions.jsonl and metrics.json.

    judgerl run recipes/policy_with_judge.yaml --only policy_eval_before

    Usage: run_policy_eval(PolicyEvalStage(model="runs/x/policy_grpo/checkpoint", data="test.jsonl"), ctx)
    """
    from judgerl.models.generation import make_generator

    built = policy_rows(read_samples(stage.data))
    rows = built.rows[: stage.max_samples] if stage.max_samples else built.rows
    if not rows:
        raise StageError(f"policy_eval: no usable question in {stage.data} (skipped: {built.skipped[:3]})")
    generator = make_generator(stage.backend, stage.model, dtype=stage.dtype)
    start = time.time()
    answers = policy_answers(
        generator, rows, stage.max_new_tokens, stage.batch_size, stage.temperature, stage.samples, ctx.seed
    )
    seconds = time.time() - start
    expanded = [r for r, outs in zip(rows, answers, strict=True) for _ in outs]
    completions = [c for outs in answers for c in outs]
    metrics = accuracy_metrics(expanded, completions)
    metrics.update(
        questions=len(rows),
        temperature=stage.temperature,
        samples=stage.samples,
        model=stage.model,
        skipped=len(built.skipped),
        seconds=round(seconds, 1),
    )
    write_jsonl(
        ctx.path(OUTPUTS["predictions"]),
        (
            {
                "id": r["id"],
                "question": r["prompt"][-1]["content"],
                "answer": r["answer"],
                "completion": c,
                "correct": answer_correct(c, r),
            }
            for r, c in zip(expanded, completions, strict=True)
        ),
    )
    write_json(ctx.path(OUTPUTS["metrics"]), metrics)
    log.info(
        f"{ctx.name}: accuracy {metrics['accuracy']:.3f} ({metrics['correct']}/{metrics['n']}) in {seconds:.1f} s"
    )
    return StageResult(outputs={k: str(ctx.path(v)) for k, v in OUTPUTS.items()}, metrics=metrics)

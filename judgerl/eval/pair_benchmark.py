"""What the JudgeBench and RM-Bench stages share: their config keys, judging in both orders with
resumable predictions and a clock over attempts, the per-pair vote, and the results files.

The vote is JudgeBench's rule: each decision on a pair scores +1 when it picks the better response,
-1 when it picks the other one and 0 when it is a tie (a judge spec that reads ties) or unreadable;
the pair is won when the sum over its judged orders is positive. In one order a pair is won exactly
when its one verdict is right.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from pydantic import (
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from judgerl.core.jsonl import write_json, write_jsonl, write_text_atomic
from judgerl.core.logging import get_logger
from judgerl.core.stage import StageContext
from judgerl.core.types import Judgement, JudgeSample
from judgerl.data_prep.sources.base import LoadResult
from judgerl.data_prep.subsample import drop_unused_subsample
from judgerl.eval.generation_keys import BenchmarkGenerationKeys
from judgerl.eval.logprob import EvalScoring, check_eval_scoring, drop_default_scoring, with_scoring
from judgerl.eval.pairwise import judge_samples, judgement_row
from judgerl.eval.stage_clock import StageClock, TimedGenerator
from judgerl.judge_spec.families import PromptSpec
from judgerl.judge_spec.files import JudgeSpecField, resolve_spec
from judgerl.judge_spec.spec import JudgeSpec
from judgerl.models.decoding_config import check_model, chunk_prompts, drop_unset

OUTPUTS = {"metrics": "metrics.json", "predictions": "predictions.jsonl", "table": "table.md"}
# the endpoint's URL and connection settings do not decide the completions: a server moved to another
# port resumes the same partial file
_NOT_IN_TAG = {"batch_size", "model_name", "on_bad_row", "endpoint"}

log = get_logger("judgerl.eval")


class PairBenchmarkStage(BenchmarkGenerationKeys):
    """Recipe keys shared by the `judgebench` and `rmbench` stages.

    `data`: the benchmark's .jsonl/.json/.parquet file. `both_orders: false` judges each pair once
    (JudgeBench: in the file's order; RM-Bench: chosen in (a) or (b) by a seeded coin per pair).
    `max_samples` keeps N pairs (JudgeBench) or prompts (RM-Bench), drawn as `subsample` says. With
    `backend: openai` `model` is the served model's name (omitted: the endpoint's only model).
    `scoring: classifier` scores each response with a sequence-classification reward model.
    """

    model: str | None = None
    model_name: str | None = None
    data: str
    prompt: PromptSpec | None = None
    judge_spec: JudgeSpecField = None
    both_orders: bool = True
    scoring: EvalScoring = "generate"

    @field_validator("scoring")
    @classmethod
    def _scoring_fits(cls, value: str, info: ValidationInfo) -> str:
        check_eval_scoring(value, info.data.get("backend", "hf"))
        return value

    @model_validator(mode="after")
    def _model_fits_backend(self) -> PairBenchmarkStage:
        check_model(self.model, self.backend)
        check_eval_scoring(self.scoring, self.backend, self.endpoint)
        return self

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        dump = drop_unset(drop_default_scoring(handler(self)), ("endpoint", "chat_template"))
        return drop_unused_subsample(dump, "subsample", ["max_samples"])


@dataclass
class JudgedRun:
    """The judgements of a benchmark stage and how they were made (for metrics.json)."""

    judgements: list[Judgement]
    header: dict[str, Any]
    seconds: float
    attempts: int
    spec: JudgeSpec | None = None  # the judge spec the judgements were made and read with


def pct(x: Any) -> str:
    """A fraction as a percent with one decimal, "-" for None. Usage: pct(0.5) -> '50.0'"""
    return "-" if x is None else f"{100 * float(x):.1f}"


def decision_score(j: Judgement) -> int:
    """+1 for a right verdict, -1 for a wrong one, 0 for a tie or an unreadable one (JudgeBench's
    official vote: a decision that is neither the label nor its opposite counts 0).

    Usage: decision_score(j)
    """
    if not j.verdict.ok or j.verdict.choice == "tie":
        return 0
    return 1 if j.correct else -1


def pair_votes(judgements: list[Judgement]) -> dict[str, int]:
    """The sum of `decision_score` over each pair's judged orders, by sample id (first-seen order).

    Usage: won = {sid for sid, v in pair_votes(judgements).items() if v > 0}
    """
    votes: dict[str, int] = defaultdict(int)
    for j in judgements:
        votes[j.sample_id] += decision_score(j)
    return dict(votes)


def load_info(result: LoadResult, data: str) -> dict[str, Any]:
    """What was read and what was not, for metrics.json.

    Usage: metrics.update(load_info(result, stage.data))
    """
    info: dict[str, Any] = {
        "data": data,
        "n_skipped_rows": len(result.skipped),
        "n_not_pairable": len(result.not_pairable),
    }
    if result.skipped:
        info["skipped_rows"] = [{"index": i, "reason": r} for i, r in result.skipped[:20]]
    if result.not_pairable:
        info["not_pairable_rows"] = [{"index": i, "reason": r} for i, r in result.not_pairable[:20]]
    return info


def run_tag(stage: PairBenchmarkStage, spec: JudgeSpec, order_seed: int | None, sampling_seed: int) -> str:
    """A short hash of everything that decides the prompts and completions (names the partial file).

    Usage: partial = ctx.path(f"predictions.partial.{run_tag(stage, spec, 0, ctx.seed)}.jsonl")
    """
    key = stage.model_dump(exclude={*_NOT_IN_TAG, "prompt", "judge_spec"})
    key.update(judge_spec=spec.model_dump(mode="json"), order_seed=order_seed, sampling_seed=sampling_seed)
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:12]


def judge_pairs(
    stage: PairBenchmarkStage,
    ctx: StageContext,
    samples: list[JudgeSample],
    order_seed: int | None,
    generator: Any = None,
) -> JudgedRun:
    """Judge `samples` (both orders unless `stage.both_orders` is off) with resumable predictions.

    Judging resumes from `predictions.partial.<tag>.jsonl` (the tag hashes the prompts' inputs);
    its seconds are summed over attempts in `predictions.partial.<tag>.seconds.json`. `generator`
    (any object with the Generator protocol) replaces the backend built from `stage.model`.

    `order_seed` (the seed of a one-order layout the caller drew, if any) is recorded and hashed.

    Usage: run = judge_pairs(stage, ctx, samples, order_seed=None)
    """
    from judgerl.models.generation import generator_stats, make_generator

    if stage.scoring == "classifier":
        return _classified(stage, ctx, samples, order_seed)
    if stage.prompt is not None and stage.prompt.hint != "none":
        raise ValueError(
            f"{ctx.name}: prompt hint {stage.prompt.hint!r} tells the judge the answer; use hint: none"
        )
    spec = resolve_spec(stage.judge_spec, stage.prompt, stage.model, f"stage {ctx.name}", log)
    sampling = stage.sampling(ctx.seed)
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    tag = run_tag(stage, spec, order_seed, ctx.seed)
    partial = ctx.resume_path(f"predictions.partial.{tag}.jsonl")
    if not ctx.resume:
        for old in ctx.out_dir.glob("predictions.partial.*"):
            old.unlink()
    clock = StageClock(ctx.resume_path(f"predictions.partial.{tag}.seconds.json"), resume=ctx.resume)
    if generator is None:
        generator = make_generator(stage.backend, stage.model, **stage.generator_kwargs(ctx.seed))
    backend = generator
    judgements = judge_samples(
        TimedGenerator(with_scoring(generator, stage.scoring, spec), clock),
        samples,
        spec,
        sampling,
        partial,
        chunk_size=chunk_prompts(stage.chunk_size, stage.batch_size, stage.backend),
        both_orders=stage.both_orders,
    )
    header = _header(stage, order_seed, spec.name, str(getattr(backend, "model", "")))
    header["sampling"] = {
        "max_new_tokens": stage.max_new_tokens,
        "temperature": stage.temperature,
        "top_p": stage.top_p,
        "seed": ctx.seed,
        "backend": stage.backend,
    }
    decoding = generator_stats(backend, stage.backend)  # openai: requests, tokens, seconds
    if decoding is not None:
        header["decoding"] = decoding
    return JudgedRun(judgements, header, clock.total(), clock.attempt, spec)


def _header(
    stage: PairBenchmarkStage, order_seed: int | None, spec_name: str | None, served: str = ""
) -> dict[str, Any]:
    return {
        "model": stage.model_name or stage.model or served,
        "protocol": "both-orders" if stage.both_orders else "one-order",
        "order_seed": order_seed,
        "judge_spec": spec_name,
        "scoring": stage.scoring,
    }


def _classified(
    stage: PairBenchmarkStage, ctx: StageContext, samples: list[JudgeSample], order_seed: int | None
) -> JudgedRun:
    """The judgements of a classifier reward model (judgerl.eval.classifier): no prompt, no sampling."""
    from judgerl.eval.classifier import CLASSIFIER_NOTE, classifier_judgements, load_classifier

    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()  # one attempt: a classifier run is not resumed part-way
    scorer = load_classifier(str(stage.model), stage.dtype, batch_size=stage.batch_size)
    judgements = classifier_judgements(scorer, samples, stage.both_orders)
    header = _header(stage, order_seed, None) | {"note": CLASSIFIER_NOTE}
    return JudgedRun(judgements, header, time.monotonic() - started, 1, None)


def prediction_rows(judgements: list[Judgement], samples: list[JudgeSample]) -> list[dict[str, Any]]:
    """The predictions.jsonl rows: each judgement, its decision score, its pair's vote, its sample's metadata.

    Usage: write_jsonl(path, prediction_rows(run.judgements, samples))
    """
    votes = pair_votes(judgements)
    meta = {s.id: s.metadata for s in samples}
    rows = []
    for j in judgements:
        row = judgement_row(j)
        row.update(
            decision=decision_score(j), pair_vote=votes[j.sample_id], metadata=meta.get(j.sample_id, {})
        )
        rows.append(row)
    return rows


def write_results(
    ctx: StageContext, predictions: list[dict[str, Any]], metrics: dict[str, Any], table: str
) -> dict[str, str]:
    """Write predictions.jsonl, metrics.json and table.md atomically and drop the partial files.

    Returns the paths of OUTPUTS, by name.

    Usage: outputs = write_results(ctx, rows, metrics, judgebench_table(metrics))
    """
    write_jsonl(ctx.path(OUTPUTS["predictions"]), predictions)
    write_json(ctx.path(OUTPUTS["metrics"]), metrics)
    write_text_atomic(ctx.path(OUTPUTS["table"]), table + "\n")
    for partial in ctx.out_dir.glob("predictions.partial.*"):
        partial.unlink()
    return {k: str(ctx.path(v)) for k, v in OUTPUTS.items()}

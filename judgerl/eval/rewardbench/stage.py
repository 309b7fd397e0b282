"""The `rewardbench` stage and `judgerl eval rewardbench`: a judge on RewardBench v1 or v2.

The pieces: `data` (what is read), `v1` and `v2` (prompts and scores of each version),
`scoring` (the leaderboard's arithmetic), `resumable` (generation that resumes), `report`.

v1 protocols (both score subsets, the four sections and the overall score with the official
weights, see `scoring`):
- "official": the leaderboard's generative protocol. Each example is judged once; whether the
  chosen response is shown as (a) or (b) is a coin drawn per example id from `order_seed`
  (sha256 of seed and id: reproducible, independent of batching and row order; the official
  script draws it unseeded). A right verdict scores 1, a wrong one 0, an unreadable one 0.5.
- "both-orders": Think-J's protocol. Each example is judged with the chosen response as (a) and
  as (b): single accuracy, pair accuracy, agreement and parse failures per subset and section,
  plus `accuracy` = the mean official score over both orders (the official protocol's
  expectation over its coin), which is what the leaderboard JSON then holds.

v2 modes: "four-way" (the correct response and the first three incorrect ones in one prompt,
the correct one moved into a seeded slot as the official script does, verdict [[A]]..[[D]]) or
"ratings" (every response rated 1-10 on its own). The Ties subset is always rated, as officially.

Outputs: predictions.jsonl (one row per judged prompt or item, with the raw completion, its
thinking and parsed verdict), metrics.json, leaderboard.json (the leaderboard's results shape),
table.md and plots/<section>.png. Judging resumes from a partial predictions file whose name
carries a hash of everything that decides the prompts, so a changed seed never reuses them.

judgerl eval rewardbench --model runs/quickstart/sft/checkpoint --data rb_v1.parquet
judgerl eval rewardbench --model Qwen/Qwen2.5-7B-Instruct --backend vllm --version 2
judgerl eval rewardbench --backend openai --base-url http://127.0.0.1:8000/v1 --data rb_v1.parquet
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import (
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from judgerl.core.errors import DataError
from judgerl.core.jsonl import write_json, write_jsonl, write_text_atomic
from judgerl.core.logging import get_logger, print_report
from judgerl.core.stage import StageContext, StageResult
from judgerl.data_prep.sources.specs import PathOrSource
from judgerl.data_prep.subsample import drop_unused_subsample
from judgerl.eval.generation_keys import BenchmarkGenerationKeys
from judgerl.eval.logprob import EvalScoring, check_eval_scoring, drop_default_scoring, with_scoring
from judgerl.eval.pairwise import judge_samples
from judgerl.eval.rewardbench.data import load_v1, load_v2
from judgerl.eval.rewardbench.report import (
    CLASSIFIER_MODEL_TYPE,
    MODEL_TYPE,
    judge_metrics_file,
    leaderboard_results,
    plot_sections,
    rewardbench_table,
    write_leaderboard_json,
)
from judgerl.eval.rewardbench.resumable import generate_resumable
from judgerl.eval.rewardbench.scoring import V1_EXAMPLE_COUNTS
from judgerl.eval.rewardbench.v1 import official_layout, prediction_row, score_both_orders, score_official
from judgerl.eval.rewardbench.v2 import score_v2, score_v2_rewards, v2_requests
from judgerl.eval.stage_clock import StageClock, TimedGenerator
from judgerl.judge_spec.families import PromptSpec
from judgerl.judge_spec.files import JudgeSpecField, resolve_spec
from judgerl.judge_spec.spec import JudgeSpec
from judgerl.models.decoding_config import check_model, chunk_prompts, drop_unset

log = get_logger("judgerl.eval")
OUTPUTS = {
    "metrics": "metrics.json",
    "predictions": "predictions.jsonl",
    "leaderboard": "leaderboard.json",
    "leaderboard_judge": "leaderboard_judge.json",
    "table": "table.md",
    "plots": "plots",
}


class RewardBenchStage(BenchmarkGenerationKeys):
    """Recipe keys of a `rewardbench` stage.

    `data`: None (the hub dataset of `version`), a hub id, a local .jsonl/.json/.parquet file in
    the RewardBench columns (v1 also takes a judgerl sample JSONL), or (v1) a source mapping such
    as {kind: llmbar, dir_path: ...}. `order_seed` defaults to the recipe seed. With `backend: openai`
    `model` is the served model's name (omitted: the endpoint's only model). `scoring: classifier`
    scores each response with a sequence-classification reward model (v1: the higher score wins, a
    tie scores 0 as `scripts/run_rm.py`; v2: the scores are the ratings) and writes `model_type:
    "Seq. Classifier"` to leaderboard.json.
    """

    kind: Literal["rewardbench"] = "rewardbench"
    model: str | None = None
    model_name: str | None = None
    data: PathOrSource | None = None
    split: str | None = None
    version: Literal[1, 2] = 1
    protocol: Literal["official", "both-orders"] = "official"
    v2_mode: Literal["four-way", "ratings"] = "four-way"
    subsets: list[str] | None = None
    prompt: PromptSpec | None = None
    judge_spec: JudgeSpecField = None
    order_seed: int | None = None
    plots: bool = True
    scoring: EvalScoring = "generate"

    @field_validator("scoring")
    @classmethod
    def _scoring_fits(cls, value: str, info: ValidationInfo) -> str:
        check_eval_scoring(value, info.data.get("backend", "hf"))
        if value == "logprob" and info.data.get("version") == 2:
            raise ValueError("scoring: 'logprob' reads the pairwise verdict sentence: RewardBench v1 only")
        return value

    @model_validator(mode="after")
    def _model_fits_backend(self) -> RewardBenchStage:
        check_model(self.model, self.backend)
        check_eval_scoring(self.scoring, self.backend, self.endpoint)
        return self

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        dump = drop_unset(drop_default_scoring(handler(self)), ("endpoint", "chat_template"))
        return drop_unused_subsample(dump, "subsample", ["max_samples"])


def _run_tag(stage: RewardBenchStage, spec: JudgeSpec, order_seed: int, sampling_seed: int) -> str:
    """A short hash of everything that decides the prompts and completions (names the partial file)."""
    # the endpoint's URL and connection settings do not decide the completions: a server moved to
    # another port resumes the same partial file
    key = stage.model_dump(
        exclude={"plots", "batch_size", "model_name", "on_bad_row", "endpoint", "prompt", "judge_spec"}
    )
    key.update(judge_spec=spec.model_dump(mode="json"), order_seed=order_seed, sampling_seed=sampling_seed)
    if stage.version == 2:
        key.update(instruction=stage.prompt.instruction if stage.prompt else "full")
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:12]


@dataclass
class _Judged:
    """What judging produced, for the report: scores, prediction rows and how they were made."""

    scores: dict[str, Any]
    predictions: list[dict[str, Any]]
    n_generated: int
    protocol: str
    prompt: dict[str, Any]
    seconds: float
    attempts: int
    extra: dict[str, Any] = field(default_factory=dict)
    served_model: str = ""  # backend: openai without `model`: the endpoint's only model


def run_rewardbench(stage: RewardBenchStage, ctx: StageContext, generator: Any = None) -> StageResult:
    """Evaluate a judge on RewardBench v1 (official or both-orders protocol) or v2 and write the report.

    `generator` (any object with the Generator protocol) replaces the backend built from `model`.

    judgerl eval rewardbench --model runs/x/sft/checkpoint --data llmbar:../shared/data/llmbar
    judgerl eval rewardbench --model REWARD_MODEL --scoring classifier
    judgerl run recipes/think_j/qwen2.5-7b.yaml --only rewardbench

    Usage: run_rewardbench(RewardBenchStage(model="runs/x/sft/checkpoint", data="rb.jsonl"), ctx)
    """
    if stage.prompt is not None and stage.prompt.hint != "none":
        raise ValueError(
            f"rewardbench: prompt hint {stage.prompt.hint!r} tells the judge the answer; use hint: none"
        )
    order_seed = ctx.seed if stage.order_seed is None else stage.order_seed
    if stage.version == 1:
        data, info = load_v1(stage, ctx.seed)
    else:
        data, info = load_v2(stage, ctx.seed)
    n_examples = len(data)
    if not n_examples:
        raise DataError(f"rewardbench v{stage.version}: no examples in {info['data']}")
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    if not ctx.resume:
        for old in ctx.out_dir.glob("predictions.partial.*"):
            old.unlink()
    classifier = stage.scoring == "classifier"
    if classifier:
        judged = _judge_classified(stage, data, order_seed)
    else:
        judged = _judge_generated(stage, ctx, data, order_seed, generator)
    model_name = stage.model_name or stage.model or judged.served_model
    metrics: dict[str, Any] = {
        "benchmark": "rewardbench",
        "version": stage.version,
        "protocol": judged.protocol,
        "model": model_name,
        "order_seed": order_seed,
        "scoring": stage.scoring,
        "prompt": judged.prompt,
        **judged.extra,
        **info,
        "n_examples": n_examples,
        "n_generated": judged.n_generated,
        **judged.scores,
        "seconds": round(judged.seconds, 1),
        "judging_attempts": judged.attempts,
    }
    if stage.version == 1:
        metrics["example_counts"] = V1_EXAMPLE_COUNTS
    write_jsonl(ctx.path(OUTPUTS["predictions"]), judged.predictions)
    write_json(ctx.path(OUTPUTS["metrics"]), metrics)
    subset_scores = {k: v["accuracy"] for k, v in metrics["subsets"].items()}
    model_type = CLASSIFIER_MODEL_TYPE if classifier else MODEL_TYPE
    write_leaderboard_json(
        ctx.path(OUTPUTS["leaderboard"]), leaderboard_results(model_name, subset_scores, model_type)
    )
    outputs = {k: str(ctx.path(v)) for k, v in OUTPUTS.items()}
    judge_file = judge_metrics_file(metrics, model_type)
    if judge_file is not None:
        write_leaderboard_json(ctx.path(OUTPUTS["leaderboard_judge"]), judge_file)
    else:
        outputs.pop("leaderboard_judge")
    table = rewardbench_table(metrics)
    write_text_atomic(ctx.path(OUTPUTS["table"]), table + "\n")
    if stage.plots:
        plot_sections(metrics, ctx.path(OUTPUTS["plots"]))
    for partial in ctx.out_dir.glob("predictions.partial.*"):
        partial.unlink()
    log.info(
        f"{ctx.name}: {judged.n_generated} judgements of {n_examples} examples in {judged.seconds:.1f} s"
    )
    print_report(table)
    summary = {"overall": metrics["overall"], "version": stage.version, "protocol": judged.protocol}
    if stage.version == 1:
        summary.update({n: s["score"] for n, s in metrics["sections"].items()})
        summary["subsets"] = subset_scores
        position = metrics.get("pairwise_overall") or metrics.get("position_overall") or {}
        summary["position_bias"] = position.get("position_bias")
    else:
        summary.update(subset_scores)
    if "subsample" in info:
        summary["subsample"] = info["subsample"]
    return StageResult(outputs=outputs, metrics=summary)


def _judge_generated(
    stage: RewardBenchStage, ctx: StageContext, data: list[Any], order_seed: int, generator: Any
) -> _Judged:
    """Judge with a generative judge (resumable, timed over attempts) and score the completions."""
    from judgerl.models.generation import generator_stats, make_generator

    spec = resolve_spec(stage.judge_spec, stage.prompt, stage.model, f"stage {ctx.name}", log)
    instruction = stage.prompt.instruction if stage.prompt else "full"  # v2's ranking/rating prompts
    sampling = stage.sampling(ctx.seed)
    tag = _run_tag(stage, spec, order_seed, ctx.seed)
    partial = ctx.resume_path(f"predictions.partial.{tag}.jsonl")
    # judging seconds summed over every attempt of the stage, not only the resumed one
    clock = StageClock(ctx.resume_path(f"predictions.partial.{tag}.seconds.json"), ctx.resume)
    if generator is None:
        generator = make_generator(stage.backend, stage.model, **stage.generator_kwargs(ctx.seed))
    backend = generator
    served = str(getattr(backend, "model", "") or "")
    generator = TimedGenerator(with_scoring(generator, stage.scoring, spec), clock)
    chunk = chunk_prompts(stage.chunk_size, stage.batch_size, stage.backend)
    extra: dict[str, Any] = {
        "sampling": {
            "max_new_tokens": stage.max_new_tokens,
            "temperature": stage.temperature,
            "top_p": stage.top_p,
            "seed": ctx.seed,
            "backend": stage.backend,
        }
    }
    if stage.version == 1:
        both = stage.protocol == "both-orders"
        inputs = data if both else official_layout(data, order_seed)
        judgements = judge_samples(
            generator, inputs, spec, sampling, partial, chunk_size=chunk, both_orders=both
        )
        scores = score_both_orders(judgements, spec.counting) if both else score_official(judgements)
        predictions = [prediction_row(j, stage.protocol) for j in judgements]
        n_generated, protocol, prompt = len(judgements), stage.protocol, {"judge_spec": spec.name}
    else:
        requests = v2_requests(data, stage.v2_mode, order_seed, instruction)
        completions = generate_resumable(generator, requests, sampling, partial, chunk_size=chunk)
        scores, predictions = score_v2(data, completions, stage.v2_mode, order_seed)
        n_generated, protocol = len(requests), stage.v2_mode
        prompt = {
            "family": "ranking; Ties: rating" if stage.v2_mode == "four-way" else "rating",
            "instruction": instruction,
        }
    decoding = generator_stats(backend, stage.backend)  # openai: requests, tokens, seconds
    if decoding is not None:
        extra["decoding"] = decoding
    return _Judged(
        scores, predictions, n_generated, protocol, prompt, clock.total(), clock.attempt, extra, served
    )


def _judge_classified(stage: RewardBenchStage, data: list[Any], order_seed: int) -> _Judged:
    """Score with a classifier reward model: v1 pairs (the higher score wins; a tie scores 0, as the
    official classifier script) or every v2 response (the scores rate them)."""
    from judgerl.eval.classifier import (
        CLASSIFIER_NOTE,
        classifier_judgements,
        item_rewards,
        load_classifier,
    )

    started = time.monotonic()
    scorer = load_classifier(str(stage.model), stage.dtype, batch_size=stage.batch_size)
    prompt = {"scoring": "classifier"}
    if stage.version == 1:
        both = stage.protocol == "both-orders"
        inputs = data if both else official_layout(data, order_seed)
        judgements = classifier_judgements(scorer, inputs, both)
        scores = (
            score_both_orders(judgements, tie_score=0.0)
            if both
            else score_official(judgements, tie_score=0.0)
        )
        predictions = [prediction_row(j, stage.protocol, tie_score=0.0) for j in judgements]
        extra = {"note": CLASSIFIER_NOTE}
        return _Judged(
            scores, predictions, len(judgements), stage.protocol, prompt, time.monotonic() - started, 1, extra
        )
    rewards = item_rewards(scorer, data)
    scores, predictions = score_v2_rewards(data, rewards)
    n_scored = sum(len(r) for r in rewards.values())
    return _Judged(scores, predictions, n_scored, "classifier", prompt, time.monotonic() - started, 1)

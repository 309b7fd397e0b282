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
from typing import Any, Literal

from pydantic import (
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from judgerl.core.jsonl import write_json, write_jsonl, write_text_atomic
from judgerl.core.logging import get_logger, print_report
from judgerl.core.stage import StageContext, StageResult
from judgerl.core.types import Scoring, check_scoring
from judgerl.eval.generation_keys import BenchmarkGenerationKeys
from judgerl.eval.logprob import drop_default_scoring, with_scoring
from judgerl.eval.pairwise import judge_samples
from judgerl.eval.rewardbench.data import load_v1, load_v2
from judgerl.eval.rewardbench.report import (
    leaderboard_results,
    plot_sections,
    rewardbench_table,
    write_leaderboard_json,
)
from judgerl.eval.rewardbench.resumable import generate_resumable
from judgerl.eval.rewardbench.scoring import V1_EXAMPLE_COUNTS
from judgerl.eval.rewardbench.v1 import official_layout, prediction_row, score_both_orders, score_official
from judgerl.eval.rewardbench.v2 import score_v2, v2_requests
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
    "table": "table.md",
    "plots": "plots",
}


class RewardBenchStage(BenchmarkGenerationKeys):
    """Recipe keys of a `rewardbench` stage.

    `data`: None (the hub dataset of `version`), a hub id, a local .jsonl/.json/.parquet file in
    the RewardBench columns (v1 also takes a judgerl sample JSONL), or (v1) a source mapping such
    as {kind: llmbar, dir_path: ...}. `order_seed` defaults to the recipe seed. With `backend: openai`
    `model` is the served model's name (omitted: the endpoint's only model).
    """

    kind: Literal["rewardbench"] = "rewardbench"
    model: str | None = None
    model_name: str | None = None
    data: str | dict[str, Any] | None = None
    split: str | None = None
    version: Literal[1, 2] = 1
    protocol: Literal["official", "both-orders"] = "official"
    v2_mode: Literal["four-way", "ratings"] = "four-way"
    subsets: list[str] | None = None
    prompt: PromptSpec | None = None
    judge_spec: JudgeSpecField = None
    order_seed: int | None = None
    plots: bool = True
    scoring: Scoring = "generate"

    @field_validator("scoring")
    @classmethod
    def _scoring_fits(cls, value: str, info: ValidationInfo) -> str:
        check_scoring(value, info.data.get("backend", "hf"))
        if value == "logprob" and info.data.get("version") == 2:
            raise ValueError("scoring: 'logprob' reads the pairwise verdict sentence: RewardBench v1 only")
        return value

    @model_validator(mode="after")
    def _model_fits_backend(self) -> RewardBenchStage:
        check_model(self.model, self.backend)
        check_scoring(self.scoring, self.backend, self.endpoint)
        return self

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return drop_unset(drop_default_scoring(handler(self)), ("endpoint", "chat_template"))


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


def run_rewardbench(stage: RewardBenchStage, ctx: StageContext, generator: Any = None) -> StageResult:
    """Evaluate a judge on RewardBench v1 (official or both-orders protocol) or v2 and write the report.

    `generator` (any object with the Generator protocol) replaces the backend built from `model`.

    judgerl eval rewardbench --model runs/x/sft/checkpoint --data llmbar:../shared/data/llmbar
    judgerl run recipes/think_j/qwen2.5-7b.yaml --only rewardbench

    Usage: run_rewardbench(RewardBenchStage(model="runs/x/sft/checkpoint", data="rb.jsonl"), ctx)
    """
    from judgerl.models.generation import SamplingSpec, generator_stats, make_generator

    if stage.prompt is not None and stage.prompt.hint != "none":
        raise ValueError(
            f"rewardbench: prompt hint {stage.prompt.hint!r} tells the judge the answer; use hint: none"
        )
    spec = resolve_spec(stage.judge_spec, stage.prompt, stage.model, f"stage {ctx.name}", log)
    instruction = stage.prompt.instruction if stage.prompt else "full"  # v2's ranking/rating prompts
    order_seed = ctx.seed if stage.order_seed is None else stage.order_seed
    sampling = SamplingSpec(
        max_new_tokens=stage.max_new_tokens,
        temperature=stage.temperature,
        top_p=stage.top_p,
        batch_size=stage.batch_size,
        seed=ctx.seed,
    )
    if stage.version == 1:
        samples, info = load_v1(stage)
        n_examples = len(samples)
    else:
        items, info = load_v2(stage)
        n_examples = len(items)
    if not n_examples:
        raise ValueError(f"rewardbench v{stage.version}: no examples in {info['data']}")
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    tag = _run_tag(stage, spec, order_seed, ctx.seed)
    partial = ctx.path(f"predictions.partial.{tag}.jsonl")
    if not ctx.resume:
        for old in ctx.out_dir.glob("predictions.partial.*"):
            old.unlink()
    # judging seconds summed over every attempt of the stage, not only the resumed one
    clock = StageClock(ctx.path(f"predictions.partial.{tag}.seconds.json"), ctx.resume)
    if generator is None:
        generator = make_generator(stage.backend, stage.model, **stage.generator_kwargs(ctx.seed))
    backend = generator
    model_name = stage.model_name or stage.model or str(getattr(backend, "model", ""))
    generator = with_scoring(generator, stage.scoring, spec)
    chunk = chunk_prompts(stage.chunk_size, stage.batch_size, stage.backend)
    generator = TimedGenerator(generator, clock)
    if stage.version == 1:
        both = stage.protocol == "both-orders"
        inputs = samples if both else official_layout(samples, order_seed)
        judgements = judge_samples(
            generator, inputs, spec, sampling, partial, chunk_size=chunk, both_orders=both
        )
        scores = score_both_orders(judgements, spec.counting) if both else score_official(judgements)
        predictions = [prediction_row(j, stage.protocol) for j in judgements]
        n_generated = len(judgements)
        protocol = stage.protocol
    else:
        requests = v2_requests(items, stage.v2_mode, order_seed, instruction)
        completions = generate_resumable(generator, requests, sampling, partial, chunk_size=chunk)
        scores, predictions = score_v2(items, completions, stage.v2_mode, order_seed)
        n_generated = len(requests)
        protocol = stage.v2_mode
    seconds = clock.total()
    metrics: dict[str, Any] = {
        "benchmark": "rewardbench",
        "version": stage.version,
        "protocol": protocol,
        "model": model_name,
        "order_seed": order_seed,
        "prompt": (
            {"judge_spec": spec.name}
            if stage.version == 1
            else {
                "family": "ranking; Ties: rating" if stage.v2_mode == "four-way" else "rating",
                "instruction": instruction,
            }
        ),
        "sampling": {
            "max_new_tokens": stage.max_new_tokens,
            "temperature": stage.temperature,
            "top_p": stage.top_p,
            "seed": ctx.seed,
            "backend": stage.backend,
        },
        **info,
        "n_examples": n_examples,
        "n_generated": n_generated,
        **scores,
        "seconds": round(seconds, 1),
        "judging_attempts": clock.attempt,
    }
    if stage.version == 1:
        metrics["example_counts"] = V1_EXAMPLE_COUNTS
    decoding = generator_stats(backend, stage.backend)  # openai: requests, tokens, seconds
    if decoding is not None:
        metrics["decoding"] = decoding
    write_jsonl(ctx.path(OUTPUTS["predictions"]), predictions)
    write_json(ctx.path(OUTPUTS["metrics"]), metrics)
    subset_scores = {k: v["accuracy"] for k, v in metrics["subsets"].items()}
    write_leaderboard_json(ctx.path(OUTPUTS["leaderboard"]), leaderboard_results(model_name, subset_scores))
    table = rewardbench_table(metrics)
    write_text_atomic(ctx.path(OUTPUTS["table"]), table + "\n")
    if stage.plots:
        plot_sections(metrics, ctx.path(OUTPUTS["plots"]))
    partial.unlink(missing_ok=True)
    clock.finish()
    log.info(f"{ctx.name}: {n_generated} judgements of {n_examples} examples in {seconds:.1f} s")
    print_report(table)
    summary = {"overall": metrics["overall"], "version": stage.version, "protocol": protocol}
    if stage.version == 1:
        summary.update({n: s["score"] for n, s in metrics["sections"].items()})
        summary["subsets"] = subset_scores
    else:
        summary.update(subset_scores)
    return StageResult(outputs={k: str(ctx.path(v)) for k, v in OUTPUTS.items()}, metrics=summary)

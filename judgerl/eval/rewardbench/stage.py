"""The `rewardbench` stage and `judgerl eval rewardbench`: a judge on RewardBench v1 or v2.

v1 protocols (both score subsets, the four sections and the overall score with the official
weights, see `rewardbench_scoring`):
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
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from judgerl.core.config import StrictModel
from judgerl.core.jsonl import write_json, write_jsonl, write_text_atomic
from judgerl.core.logging import get_logger
from judgerl.core.samples import read_samples
from judgerl.core.stage import StageContext, StageResult
from judgerl.core.types import Judgement, JudgeSample
from judgerl.data_prep.multi_prompts import render_ranking_messages, render_rating_messages
from judgerl.data_prep.prompts import PromptSpec
from judgerl.data_prep.sources.base import flip_positions, make_pair, seeded_flip
from judgerl.data_prep.sources.rewardbench import (
    V1_HUB,
    V1_SPLIT,
    V2_HUB,
    V2_SPLIT,
    RewardBench2Item,
    load_rewardbench,
    load_rewardbench2,
)
from judgerl.eval.metrics import METRIC_NAMES, pairwise_metrics
from judgerl.eval.pairwise import judge_samples, judgement_row
from judgerl.eval.rewardbench.report import (
    leaderboard_results,
    plot_sections,
    rewardbench_table,
    write_leaderboard_json,
)
from judgerl.eval.rewardbench.scoring import (
    TIES_INVALID_RATING,
    V1_EXAMPLE_COUNTS,
    choice_score,
    official_pair_score,
    ratings_score,
    subset_means,
    ties_score,
    v1_sections,
    v2_overall,
)
from judgerl.rewards.multi_parser import parse_choice, parse_rating
from judgerl.rewards.parser import parse_verdict

log = get_logger("judgerl.eval")
OUTPUTS = {
    "metrics": "metrics.json",
    "predictions": "predictions.jsonl",
    "leaderboard": "leaderboard.json",
    "table": "table.md",
    "plots": "plots",
}
Messages = list[dict[str, str]]


class RewardBenchStage(StrictModel):
    """Recipe keys of a `rewardbench` stage.

    `data`: None (the hub dataset of `version`), a hub id, a local .jsonl/.json/.parquet file in
    the RewardBench columns (v1 also takes a judgerl sample JSONL), or (v1) a source mapping such
    as {kind: llmbar, dir_path: ...}. `order_seed` defaults to the recipe seed.
    """

    kind: Literal["rewardbench"] = "rewardbench"
    model: str
    model_name: str | None = None
    data: str | dict[str, Any] | None = None
    split: str | None = None
    version: Literal[1, 2] = 1
    protocol: Literal["official", "both-orders"] = "official"
    v2_mode: Literal["four-way", "ratings"] = "four-way"
    subsets: list[str] | None = None
    prompt: PromptSpec | None = None
    order_seed: int | None = None
    max_new_tokens: int = Field(1024, ge=1)
    temperature: float = Field(0.0, ge=0)
    top_p: float = Field(1.0, gt=0, le=1)
    batch_size: int = Field(32, ge=1)
    max_samples: int | None = Field(None, ge=1)
    backend: Literal["hf", "vllm"] = "hf"
    dtype: str = "auto"
    tensor_parallel_size: int = Field(1, ge=1)
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1)
    max_model_len: int | None = Field(None, ge=1)
    on_bad_row: Literal["skip", "stop"] = "stop"
    plots: bool = True


def generator_kwargs(stage: RewardBenchStage, seed: int) -> dict[str, Any]:
    """The keyword arguments `make_generator(stage.backend, stage.model, **kw)` gets.

    >>> generator_kwargs(RewardBenchStage(model="m", backend="vllm", tensor_parallel_size=4), 0)["tensor_parallel_size"]
    4
    """
    if stage.backend == "hf":
        return {"dtype": stage.dtype}
    return {
        "dtype": stage.dtype,
        "tensor_parallel_size": stage.tensor_parallel_size,
        "gpu_memory_utilization": stage.gpu_memory_utilization,
        "max_model_len": stage.max_model_len,
        "seed": seed,
    }


# ---------------------------------------------------------------- data


def _is_sample_file(path: Path) -> bool:
    """True when a local file holds judgerl's own sample rows (response_a/response_b/label)."""
    from judgerl.data_prep.sources.local import read_rows

    rows = read_rows(path)
    return bool(rows) and isinstance(rows[0], dict) and "response_a" in rows[0] and "label" in rows[0]


def canonical_pairs(samples: list[JudgeSample]) -> tuple[list[JudgeSample], int]:
    """Each item once, with its chosen response in (a); returns (samples, duplicate ids dropped).

    A file with both orders of an item (e.g. a prep stage with both_orders) holds the id twice.
    A sample without a subset is put in subset "all" (as `pairwise_metrics` names it).
    Usage: pairs, dropped = canonical_pairs(read_samples("test.jsonl"))
    """
    out: list[JudgeSample] = []
    seen: set[str] = set()
    for s in samples:
        if s.id in seen:
            continue
        seen.add(s.id)
        chosen, rejected = (s.response_a, s.response_b) if s.label == "a" else (s.response_b, s.response_a)
        meta = {
            k: v for k, v in s.metadata.items() if k not in ("order", "chosen_position", "position_flipped")
        }
        out.append(
            make_pair(
                sample_id=s.id,
                source=s.source,
                conversation=s.conversation,
                chosen=chosen,
                rejected=rejected,
                strength=s.abs_strength,
                subset=s.subset or "all",
                metadata=meta,
            )
        )
    return out, len(samples) - len(out)


def load_v1(stage: RewardBenchStage) -> tuple[list[JudgeSample], dict[str, Any]]:
    """The v1 examples a stage evaluates (chosen in (a)) and load facts for metrics.json.

    Usage: samples, info = load_v1(RewardBenchStage(model="m", data="rb_v1.jsonl"))
    """
    split = stage.split or V1_SPLIT
    data = stage.data
    info: dict[str, Any] = {"data": data if data is not None else f"{V1_HUB} ({split})"}
    if isinstance(data, dict):
        from judgerl.data_prep.sources import load_source

        result = load_source(dict(data))
        samples, skipped = result.samples, result.skipped
    elif data is not None and Path(data).is_file() and _is_sample_file(Path(data)):
        samples, skipped = read_samples(data), []
    else:
        result = load_rewardbench(data or V1_HUB, split, on_bad_row=stage.on_bad_row)
        samples, skipped = result.samples, result.skipped
    samples, dropped = canonical_pairs(samples)
    if stage.subsets is not None:
        samples = [s for s in samples if s.subset in set(stage.subsets)]
    if stage.max_samples is not None:
        samples = samples[: stage.max_samples]
    info.update(n_skipped_rows=len(skipped), duplicate_ids_dropped=dropped)
    if skipped:
        info["skipped_rows"] = [{"index": i, "reason": r} for i, r in skipped[:20]]
    return samples, info


def load_v2(stage: RewardBenchStage) -> tuple[list[RewardBench2Item], dict[str, Any]]:
    """The v2 items a stage evaluates and load facts for metrics.json.

    Usage: items, info = load_v2(RewardBenchStage(model="m", version=2, data="rb2.jsonl"))
    """
    if isinstance(stage.data, dict):
        raise ValueError(
            "rewardbench v2: data must be a hub id or a local file in the v2 columns, not a mapping"
        )
    split = stage.split or V2_SPLIT
    result = load_rewardbench2(
        stage.data or V2_HUB, split, subsets=stage.subsets, on_bad_row=stage.on_bad_row
    )
    items = result.items[: stage.max_samples] if stage.max_samples is not None else result.items
    info: dict[str, Any] = {
        "data": stage.data if stage.data is not None else f"{V2_HUB} ({split})",
        "n_skipped_rows": len(result.skipped),
    }
    if result.skipped:
        info["skipped_rows"] = [{"index": i, "reason": r} for i, r in result.skipped[:20]]
    return items, info


# ---------------------------------------------------------------- v1 protocols


def official_layout(samples: list[JudgeSample], seed: int) -> list[JudgeSample]:
    """The official protocol's single order per example: chosen in (b) when the seeded coin says so.

    The coin is sha256(seed, id): the same seed gives the same layout in any batch size or order.
    Usage: laid_out = official_layout(canonical, seed=0)
    """
    canonical, _ = canonical_pairs(samples)
    return [flip_positions(s) if seeded_flip(seed, s.id) else s for s in canonical]


def _prediction(j: Judgement, protocol: str) -> dict[str, Any]:
    row = judgement_row(j)
    row.update(
        protocol=protocol,
        score=official_pair_score(j.verdict.choice, j.label),
        thinking=parse_verdict(j.completion).thinking,
    )
    return row


def score_official(judgements: list[Judgement]) -> dict[str, Any]:
    """Per-subset official scores (1 / 0 / 0.5 unreadable) and parse-failure rates, plus sections.

    Usage: scores = score_official(judgements)  # judgements from the official layout, one per example
    """
    subsets = subset_means((j.subset, official_pair_score(j.verdict.choice, j.label)) for j in judgements)
    for name, sub in subsets.items():
        js = [j for j in judgements if j.subset == name]
        sub["parse_failure_rate"] = sum(not j.verdict.ok for j in js) / len(js)
    return {"subsets": subsets} | v1_sections({k: v["accuracy"] for k, v in subsets.items()})


def score_both_orders(judgements: list[Judgement]) -> dict[str, Any]:
    """Think-J metrics per subset (single/pair accuracy, agreement, parse failures, strength accuracy),
    `accuracy` = mean official score over both orders, and sections for every metric.

    Usage: scores = score_both_orders(judgements)  # judgements in both orders
    """
    pairwise = pairwise_metrics(judgements)
    expected = subset_means((j.subset, official_pair_score(j.verdict.choice, j.label)) for j in judgements)
    subsets: dict[str, dict[str, Any]] = {}
    for name, sub in expected.items():
        pm = pairwise["subsets"][name]
        subsets[name] = {"accuracy": sub["accuracy"], "n": pm["n_items"]}
        subsets[name].update({k: pm[k] for k in METRIC_NAMES})
    out = {"subsets": subsets} | v1_sections({k: v["accuracy"] for k, v in subsets.items()})
    by_metric = {}
    for metric in METRIC_NAMES[:4]:
        secs = v1_sections({k: v[metric] for k, v in subsets.items()})
        by_metric[metric] = {
            "overall": secs["overall"],
            **{
                n: s["score"] if s["score"] is not None else s["partial_score"]
                for n, s in secs["sections"].items()
            },
        }
    out["sections_by_metric"] = by_metric
    out["pairwise_overall"] = pairwise["overall"]
    return out


# ---------------------------------------------------------------- v2


def seeded_slot(seed: int, key: str, n: int) -> int:
    """A deterministic slot in 0..n-1 for one item (sha256 of seed and id).

    >>> seeded_slot(0, "item-1", 4) == seeded_slot(0, "item-1", 4)
    True
    """
    digest = hashlib.sha256(f"{seed}\x1f{key}\x1fslot".encode()).digest()
    return int.from_bytes(digest[:8], "big") % n


def ranking_layout(item: RewardBench2Item, seed: int) -> tuple[list[str], int]:
    """(responses in prompt order, index of the correct one) for the four-way prompt.

    As the official script: the first correct response and the first three incorrect ones; the
    correct response, first in line, trades places with the response in the seeded slot.

    >>> item = RewardBench2Item("x", [{"role": "user", "content": "q"}], ["c"], ["r0", "r1", "r2"], "Math")
    >>> responses, slot = ranking_layout(item, 0)
    >>> responses[slot], sorted(responses)
    ('c', ['c', 'r0', 'r1', 'r2'])
    """
    options = [item.chosen[0], *item.rejected[:3]]
    slot = seeded_slot(seed, item.id, len(options))
    options[0], options[slot] = options[slot], options[0]
    return options, slot


def v2_requests(
    items: list[RewardBench2Item], mode: str, seed: int, instruction: str
) -> list[tuple[str, Messages]]:
    """Every prompt to generate for v2: (key, messages); keys "<id>|rank" or "<id>|rate|<i>".

    Usage: requests = v2_requests(items, "four-way", seed=0, instruction="full")
    """
    out: list[tuple[str, Messages]] = []
    for item in items:
        if mode == "four-way" and not item.is_ties:
            responses, _ = ranking_layout(item, seed)
            out.append(
                (f"{item.id}|rank", render_ranking_messages(item.conversation, responses, instruction))
            )
            continue
        for i, response in enumerate(item.responses):
            messages = render_rating_messages(
                item.conversation, response, ties=item.is_ties, instruction=instruction
            )
            out.append((f"{item.id}|rate|{i}", messages))
    return out


def score_v2(
    items: list[RewardBench2Item], completions: dict[str, str], mode: str, seed: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Scores per subset (Ties: the official Ties score), overall, and one prediction row per item.

    Usage: scores, rows = score_v2(items, {key: completion}, "four-way", seed=0)
    """
    rows: list[dict[str, Any]] = []
    ties_rows: list[tuple[str, int, list[float]]] = []
    results: list[tuple[str, float]] = []
    failures: dict[str, list[bool]] = {}
    for item in items:
        row: dict[str, Any] = {"id": item.id, "subset": item.subset}
        if mode == "four-way" and not item.is_ties:
            responses, slot = ranking_layout(item, seed)
            text = completions[f"{item.id}|rank"]
            v = parse_choice(text, n_options=len(responses))
            score = choice_score(v.index, slot, len(responses))
            row.update(
                kind="ranking",
                correct=slot,
                choice=v.index,
                reason=v.reason,
                score=score,
                completion=text,
                thinking=v.thinking,
            )
            failures.setdefault(item.subset, []).append(not v.ok)
            results.append((item.subset, score))
        else:
            texts = [completions[f"{item.id}|rate|{i}"] for i in range(len(item.responses))]
            parsed = [parse_rating(t) for t in texts]
            ratings = [p.rating for p in parsed]
            row.update(
                kind="ratings",
                num_correct=item.num_correct,
                ratings=ratings,
                reasons=[p.reason for p in parsed],
                completions=texts,
                thinking=[p.thinking for p in parsed],
            )
            failures.setdefault(item.subset, []).extend(not p.ok for p in parsed)
            if item.is_ties:
                ties_rows.append(
                    (item.id, item.num_correct, [TIES_INVALID_RATING if r is None else r for r in ratings])
                )
            else:
                score = ratings_score(ratings, correct_index=0)
                row["score"] = score
                results.append((item.subset, score))
        rows.append(row)
    subsets: dict[str, dict[str, Any]] = dict(subset_means(results))
    out: dict[str, Any] = {}
    if ties_rows:
        ties = ties_score(ties_rows)
        subsets["Ties"] = {"accuracy": ties["score"], "n": len(ties_rows)}
        out["ties"] = ties
    for name, sub in subsets.items():
        flags = failures.get(name, [])
        sub["parse_failure_rate"] = sum(flags) / len(flags) if flags else None
    out["subsets"] = dict(sorted(subsets.items()))
    out.update(v2_overall({k: v["accuracy"] for k, v in subsets.items()}))
    return out, rows


def _read_partial(path: Path) -> dict[str, str]:
    done: dict[str, str] = {}
    if path.exists():
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:  # a line cut by a crash: generate that prompt again
                    continue
                done[row["key"]] = row["completion"]
    return done


def generate_resumable(
    generator: Any,
    requests: list[tuple[str, Messages]],
    sampling: Any,
    partial_path: Path | None = None,
    chunk_size: int = 128,
) -> dict[str, str]:
    """One completion per (key, messages) request, appended to `partial_path` chunk by chunk so a
    repeated call after an interruption generates only what is missing.

    Usage: completions = generate_resumable(gen, v2_requests(items, "ratings", 0, "full"), SamplingSpec())
    """
    done = _read_partial(partial_path) if partial_path else {}
    todo = [(k, m) for k, m in requests if k not in done]
    out_f = open(partial_path, "a+", encoding="utf-8") if partial_path else None  # noqa: SIM115
    if out_f and out_f.tell() > 0:
        out_f.seek(out_f.tell() - 1)
        if out_f.read(1) != "\n":
            out_f.write("\n")
    try:
        for start in range(0, len(todo), chunk_size):
            chunk = todo[start : start + chunk_size]
            offset = len(requests) - len(todo) + start
            texts = generator.generate(
                [m for _, m in chunk],
                sampling,
                desc=f"judging {offset + 1}-{offset + len(chunk)} of {len(requests)}",
            )
            for (key, _), completions in zip(chunk, texts, strict=True):
                done[key] = completions[0]
                if out_f:
                    out_f.write(
                        json.dumps({"key": key, "completion": completions[0]}, ensure_ascii=False) + "\n"
                    )
            if out_f:
                out_f.flush()
                os.fsync(out_f.fileno())
    finally:
        if out_f:
            out_f.close()
    return {k: done[k] for k, _ in requests}


# ---------------------------------------------------------------- the stage


def _run_tag(stage: RewardBenchStage, spec: PromptSpec, order_seed: int, sampling_seed: int) -> str:
    """A short hash of everything that decides the prompts and completions (names the partial file)."""
    key = stage.model_dump(exclude={"plots", "batch_size", "model_name", "on_bad_row"})
    key.update(
        prompt=[spec.family, spec.hint, spec.instruction], order_seed=order_seed, sampling_seed=sampling_seed
    )
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:12]


def run_rewardbench(stage: RewardBenchStage, ctx: StageContext, generator: Any = None) -> StageResult:
    """Evaluate a judge on RewardBench v1 (official or both-orders protocol) or v2 and write the report.

    `generator` (any object with the Generator protocol) replaces the backend built from `model`.

    judgerl eval rewardbench --model runs/x/sft/checkpoint --data llmbar:../shared/data/llmbar
    judgerl run recipes/think_j/qwen2.5-7b.yaml --only rewardbench
    """
    from judgerl.models.generation import SamplingSpec, make_generator

    spec = stage.prompt or PromptSpec()
    if spec.hint != "none":
        raise ValueError(f"rewardbench: prompt hint {spec.hint!r} tells the judge the answer; use hint: none")
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
    partial = ctx.path(f"predictions.partial.{_run_tag(stage, spec, order_seed, ctx.seed)}.jsonl")
    if not ctx.resume:
        for old in ctx.out_dir.glob("predictions.partial.*.jsonl"):
            old.unlink()
    if generator is None:
        generator = make_generator(stage.backend, stage.model, **generator_kwargs(stage, ctx.seed))
    chunk = max(128, stage.batch_size)
    start = time.time()
    if stage.version == 1:
        both = stage.protocol == "both-orders"
        inputs = samples if both else official_layout(samples, order_seed)
        judgements = judge_samples(
            generator, inputs, spec, sampling, partial, chunk_size=chunk, both_orders=both
        )
        scores = score_both_orders(judgements) if both else score_official(judgements)
        predictions = [_prediction(j, stage.protocol) for j in judgements]
        n_generated = len(judgements)
        protocol = stage.protocol
    else:
        requests = v2_requests(items, stage.v2_mode, order_seed, spec.instruction)
        completions = generate_resumable(generator, requests, sampling, partial, chunk_size=chunk)
        scores, predictions = score_v2(items, completions, stage.v2_mode, order_seed)
        n_generated = len(requests)
        protocol = stage.v2_mode
    seconds = time.time() - start
    model_name = stage.model_name or stage.model
    metrics: dict[str, Any] = {
        "benchmark": "rewardbench",
        "version": stage.version,
        "protocol": protocol,
        "model": model_name,
        "order_seed": order_seed,
        "prompt": (
            {"family": spec.family, "hint": spec.hint, "instruction": spec.instruction}
            if stage.version == 1
            else {
                "family": "ranking; Ties: rating" if stage.v2_mode == "four-way" else "rating",
                "instruction": spec.instruction,
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
    }
    if stage.version == 1:
        metrics["example_counts"] = V1_EXAMPLE_COUNTS
    write_jsonl(ctx.path(OUTPUTS["predictions"]), predictions)
    write_json(ctx.path(OUTPUTS["metrics"]), metrics)
    subset_scores = {k: v["accuracy"] for k, v in metrics["subsets"].items()}
    write_leaderboard_json(ctx.path(OUTPUTS["leaderboard"]), leaderboard_results(model_name, subset_scores))
    table = rewardbench_table(metrics)
    write_text_atomic(ctx.path(OUTPUTS["table"]), table + "\n")
    if stage.plots:
        plot_sections(metrics, ctx.path(OUTPUTS["plots"]))
    partial.unlink(missing_ok=True)
    log.info(f"{ctx.name}: {n_generated} judgements of {n_examples} examples in {seconds:.1f} s\n{table}")
    summary = {"overall": metrics["overall"], "version": stage.version, "protocol": protocol}
    if stage.version == 1:
        summary.update({n: s["score"] for n, s in metrics["sections"].items()})
        summary["subsets"] = subset_scores
    else:
        summary.update(subset_scores)
    return StageResult(outputs={k: str(ctx.path(v)) for k, v in OUTPUTS.items()}, metrics=summary)

"""The `pairs` stage: sample the judge (and the critic), build Think-J DPO pairs, filter, write.

judgerl run recipes/quickstart_dpo.yaml --only pairs
judgerl stage recipes/think_j/qwen2.5-7b-dpo.yaml pairs stages.pairs.backend=vllm
(or `backend: openai` with `endpoint: {base_url: ...}`: judge and critic are then model names the
server serves, e.g. two LoRA adapters of one `vllm serve --enable-lora`)

Critic mode: the judge judges every item once (at `temperature`); the critic is then run only
where a branch needs it (the NEGATIVE hint where the judge was right, the POSITIVE hint where it
was wrong; see judgerl.data_prep.pairs for the four branches). Judge-only mode samples
`samples_per_item` judgements per item and pairs right with wrong ones. Every pair carries the
judge's own prompt. Completions are appended to generations.partial.jsonl chunk by chunk (one
batch by default, `chunk_size`), so a killed stage does not generate finished work again.

Outputs: pairs.jsonl (DPO rows), chosen_sft.jsonl (the chosen sides as judge samples that the
`sft` stage renders back to the chosen text), stats.json (items, pairs, skips by reason, filter
drops, judge/critic accuracy, mean trace lengths), generations.jsonl (every completion and verdict).
"""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from judgerl.core.config import StrictModel
from judgerl.core.errors import StageError
from judgerl.core.jsonl import read_appended, write_json, write_jsonl
from judgerl.core.logging import get_logger
from judgerl.core.samples import read_samples, write_samples
from judgerl.core.stage import StageContext, StageResult
from judgerl.core.types import JudgeSample
from judgerl.data_prep import pairs as P
from judgerl.data_prep.pair_filters import apply_pair_filters, parse_pair_filters
from judgerl.judge_spec.families import PromptSpec
from judgerl.judge_spec.files import JudgeSpecField, resolve_spec
from judgerl.judge_spec.reading import read
from judgerl.judge_spec.render import judge_prompt
from judgerl.judge_spec.spec import JudgeSpec
from judgerl.models.decoding_config import (
    CHUNK_HELP,
    Backend,
    DecodingSpec,
    EndpointSpec,
    check_backend,
    check_endpoint,
    check_model,
    chunk_prompts,
    drop_unset,
    generator_kwargs,
)
from judgerl.models.import_config import LoadDtype

log = get_logger("judgerl.pairs")
OUTPUTS = {"pairs": "pairs.jsonl", "chosen_sft": "chosen_sft.jsonl", "stats": "stats.json"}
PARTIAL = "generations.partial.jsonl"


class PairsStage(StrictModel):
    """Recipe keys of a `pairs` stage.

    `prompt` is the judge's prompt (a hint is refused); the critic gets the same prompt with a
    positive or negative hint. `temperature` samples the judge, `critic_temperature` the critic
    (0 = greedy). `match_strength` counts a verdict as right only with the right [[k]] too.
    `filters` is a list of {name, **options} run in order (judgerl.data_prep.pair_filters).
    `chunk_size`: prompts per generate call, appended and fsynced after each (default: one batch,
    `batch_size`; vllm 256); each call's sampling seed is the base seed plus its offset.
    `backend: speculative|judge` (AutoJudge, greedy: temperatures 0) needs `decoding: {draft, window,
    classifier (judge), threshold}` (judgerl.models.decoding_config); judge and critic share it.
    `backend: openai` needs `endpoint: {base_url, ...}`; judge and critic name models it serves.
    """

    kind: Literal["pairs"] = "pairs"
    judge: str
    critic: str | None = None
    data: str
    prompt: PromptSpec | None = None
    judge_spec: JudgeSpecField = None
    mode: Literal["critic", "judge_only"] = "critic"
    samples_per_item: int = Field(4, ge=2)
    max_pairs_per_item: int = Field(1, ge=1)
    temperature: float = Field(1.0, ge=0)
    critic_temperature: float = Field(1.0, ge=0)
    top_p: float = Field(1.0, gt=0, le=1)
    top_k: int = Field(0, ge=0)
    max_new_tokens: int = Field(512, ge=1)
    batch_size: int = Field(32, ge=1)
    chunk_size: int | None = Field(None, ge=1, description=CHUNK_HELP)
    max_items: int | None = Field(None, ge=1)
    match_strength: bool = False
    filters: list[dict[str, Any]] = Field(default_factory=list)
    backend: Backend = "hf"
    decoding: DecodingSpec | None = Field(None, validate_default=True)
    dtype: LoadDtype = "auto"
    endpoint: EndpointSpec | None = Field(None, validate_default=True)

    @field_validator("endpoint")
    @classmethod
    def _endpoint_fits_backend(cls, value: EndpointSpec | None, info: ValidationInfo) -> EndpointSpec | None:
        return check_endpoint(info.data.get("backend", "hf"), value)

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return drop_unset(handler(self))  # an unset endpoint keeps the config hash of older pairs stages

    @field_validator("decoding")
    @classmethod
    def _decoding_fits_backend(cls, value: DecodingSpec | None, info: ValidationInfo) -> DecodingSpec | None:
        keys = ["temperature"] + (["critic_temperature"] if info.data.get("mode") == "critic" else [])
        temperatures = {k: info.data[k] for k in keys if k in info.data}
        return check_backend(info.data.get("backend", "hf"), value, temperatures)

    @field_validator("filters")
    @classmethod
    def _known_filters(cls, v: list[dict[str, Any]]) -> list[dict[str, Any]]:
        parse_pair_filters(v)
        return v

    @model_validator(mode="after")
    def _mode_fits(self) -> PairsStage:
        check_model(self.judge, self.backend, "judge")
        if self.critic:
            check_model(self.critic, self.backend, "critic")
        if self.mode == "critic" and not self.critic:
            raise ValueError("mode 'critic' needs a critic checkpoint (critic: ...), or use mode: judge_only")
        if self.mode == "judge_only" and self.critic:
            raise ValueError("mode 'judge_only' uses no critic: remove 'critic' or use mode: critic")
        if self.mode == "judge_only" and self.temperature == 0:
            raise ValueError("mode 'judge_only' samples several judgements per item: temperature must be > 0")
        if self.prompt is not None and self.prompt.hint != "none":
            raise ValueError(
                f"prompt.hint is {self.prompt.hint!r}: the pairs stage takes the judge's own prompt "
                "(hint none); the critic's hints are added by the stage"
            )
        return self


def _read_partial(path: Path) -> dict[tuple[str, int], dict[str, Any]]:
    # a line cut by a crash is removed: that item is generated again
    return {(row["role"], int(row["index"])): row for row in read_appended(path)}


def generate_resumable(
    generator: Any,
    role: str,
    items: list[tuple[int, JudgeSample, list[dict[str, str]]]],
    sampling: Any,
    partial_path: Path,
    chunk_size: int,
    done: dict[tuple[str, int], dict[str, Any]],
    progress: bool = True,
) -> None:
    """Generate completions for (index, sample, prompt) items not in `done`, appending each chunk
    to `partial_path` (fsynced) and to `done` under (role, index).

    The sampling seed of a chunk is the base seed plus the chunk's offset, so a resumed run draws
    the same numbers for the chunks it still has to do.

    Usage: generate_resumable(gen, "judge", items, SamplingSpec(), ctx.path(PARTIAL), 256, done)
    """
    todo = [it for it in items if (role, it[0]) not in done]
    if not todo:
        return
    offset = len(items) - len(todo)
    with open(partial_path, "a+", encoding="utf-8") as out:
        if out.tell() > 0:
            out.seek(out.tell() - 1)
            if out.read(1) != "\n":  # a crash cut the last line: start on a fresh one
                out.write("\n")
        for start in range(0, len(todo), chunk_size):
            chunk = todo[start : start + chunk_size]
            spec = dataclasses.replace(sampling, seed=sampling.seed + offset + start)
            texts = generator.generate(
                [prompt for _, _, prompt in chunk],
                spec,
                progress=progress,
                desc=f"{role} {offset + start + 1}-{offset + start + len(chunk)} of {len(items)}",
            )
            for (index, sample, _), completions in zip(chunk, texts, strict=True):
                row = {"role": role, "index": index, "id": sample.id, "order": sample.order}
                row["completions"] = list(completions)
                done[(role, index)] = row
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
            out.flush()
            os.fsync(out.fileno())


def _free(generator: Any) -> None:
    del generator
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:  # pragma: no cover - torch is a dependency
        pass


def _completion(text: str, spec: JudgeSpec) -> P.Completion:
    return P.Completion(text, read(spec, text))


def _generation_rows(
    samples: list[JudgeSample], done: dict[tuple[str, int], dict[str, Any]], specs: dict[str, JudgeSpec]
) -> list[dict[str, Any]]:
    rows = []
    for (role, index), row in sorted(done.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        sample = samples[index]
        spec = specs[P.JUDGE if role == P.JUDGE else "critic"]
        verdicts = [read(spec, t) for t in row["completions"]]
        rows.append(
            {
                **row,
                "label": sample.label,
                "strength": sample.strength,
                "verdicts": [
                    {"choice": v.choice, "strength": v.strength, "reason": v.reason} for v in verdicts
                ],
            }
        )
    return rows


def build_pairs(
    samples: list[JudgeSample],
    done: dict[tuple[str, int], dict[str, Any]],
    spec: JudgeSpec,
    stage: PairsStage,
    critic_spec: JudgeSpec | None = None,
) -> tuple[list[dict[str, Any]], P.PairStats]:
    """Pairs and statistics from the generated completions in `done` (keyed by (role, index)); the judge's
    completions are read by `spec` (the pairs' prompt too), the critic's by `critic_spec` (default `spec`).

    Usage: rows, stats = build_pairs(samples, done, builtin_spec("strength"), stage)
    """
    critic_spec = critic_spec or spec
    stats = P.PairStats()
    rows: list[dict[str, Any]] = []
    for index, sample in enumerate(samples):
        judged = [_completion(t, spec) for t in done[(P.JUDGE, index)]["completions"]]
        for c in judged:
            stats.judged_as(P.JUDGE, P.is_right(sample, c.verdict, stage.match_strength))
        if stage.mode == "judge_only":
            built = P.rejection_pairs(sample, spec, judged, stage.max_pairs_per_item, stage.match_strength)
        else:
            critics: dict[str, P.Completion] = {}
            for role in (P.CRITIC_POSITIVE, P.CRITIC_NEGATIVE):
                if (role, index) in done:
                    critics[role] = _completion(done[(role, index)]["completions"][0], critic_spec)
                    stats.judged_as(role, P.is_right(sample, critics[role].verdict, stage.match_strength))
            built = P.critic_pair(
                sample,
                spec,
                judged[0],
                positive=critics.get(P.CRITIC_POSITIVE),
                negative=critics.get(P.CRITIC_NEGATIVE),
                match_strength=stage.match_strength,
            )
        stats.add(built)
        rows.extend(built.pairs)
    return rows, stats


def _critic_items(
    samples: list[JudgeSample],
    done: dict[tuple[str, int], dict[str, Any]],
    spec: JudgeSpec,
    match_strength: bool,
    critic_spec: JudgeSpec,
) -> list[tuple[int, JudgeSample, Any, str]]:
    """(index, sample, hinted prompt, role) for each item whose branch needs a critic."""
    items = []
    for index, sample in enumerate(samples):
        judge = _completion(done[(P.JUDGE, index)]["completions"][0], spec)
        if judge.empty:
            continue  # skipped as an empty trace whatever the critic says
        right = P.is_right(sample, judge.verdict, match_strength)
        role, hint = (P.CRITIC_NEGATIVE, "negative") if right else (P.CRITIC_POSITIVE, "positive")
        items.append((index, sample, judge_prompt(critic_spec, sample, hint), role))
    return items


def run_pairs(stage: PairsStage, ctx: StageContext) -> StageResult:
    """Generate judge (and critic) completions, build and filter pairs, write pairs/chosen_sft/stats.

    Usage: result = run_pairs(PairsStage(judge=..., critic=..., data=...), StageContext("pairs", out_dir))
    """
    from judgerl.models.generation import SamplingSpec, generator_stats, make_generator

    spec = resolve_spec(stage.judge_spec, stage.prompt, stage.judge, f"stage {ctx.name} (judge)", log)
    critic_spec = spec
    if stage.mode == "critic":
        critic_spec = resolve_spec(
            stage.judge_spec, stage.prompt, stage.critic, f"stage {ctx.name} (critic)", log
        )
    filters = parse_pair_filters(stage.filters)
    samples = read_samples(stage.data)
    if stage.max_items is not None:
        samples = samples[: stage.max_items]
    if not samples:
        raise StageError(f"pairs: no samples in {stage.data}")
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    partial = ctx.resume_path(PARTIAL)
    if not ctx.resume and partial.exists():
        partial.unlink()
    done = _read_partial(partial)
    resumed = len(done)
    if resumed:
        log.info(f"pairs: resuming with {resumed} finished generations from {partial}")

    def sampling(temperature: float, n: int) -> SamplingSpec:
        return SamplingSpec(
            max_new_tokens=stage.max_new_tokens,
            temperature=temperature,
            top_p=stage.top_p,
            top_k=stage.top_k,
            n=n,
            seed=ctx.seed,
            batch_size=stage.batch_size,
        )

    def load(model: str) -> Any:
        kwargs = generator_kwargs(stage.backend, stage.decoding, stage.endpoint, dtype=stage.dtype)
        return make_generator(stage.backend, model, **kwargs)

    start = time.time()
    decoding: dict[str, Any] = {}
    judge_items = [(i, s, P.judge_prompt(s, spec)) for i, s in enumerate(samples)]
    n_judge = stage.samples_per_item if stage.mode == "judge_only" else 1
    if any((P.JUDGE, i) not in done for i, _, _ in judge_items):
        generator = load(stage.judge)
        generate_resumable(
            generator,
            P.JUDGE,
            judge_items,
            sampling(stage.temperature, n_judge),
            partial,
            chunk_prompts(stage.chunk_size, stage.batch_size, stage.backend),
            done,
            ctx.progress,
        )
        if (counters := generator_stats(generator, stage.backend)) is not None:
            decoding[P.JUDGE] = counters
        _free(generator)
    if stage.mode == "critic":
        assert stage.critic is not None
        critic_items = _critic_items(samples, done, spec, stage.match_strength, critic_spec)
        if any((role, i) not in done for i, _, _, role in critic_items):
            generator = load(stage.critic)
            for role in (P.CRITIC_NEGATIVE, P.CRITIC_POSITIVE):
                generate_resumable(
                    generator,
                    role,
                    [(i, s, p) for i, s, p, r in critic_items if r == role],
                    sampling(stage.critic_temperature, 1),
                    partial,
                    chunk_prompts(stage.chunk_size, stage.batch_size, stage.backend),
                    done,
                    ctx.progress,
                )
            if (counters := generator_stats(generator, stage.backend)) is not None:
                decoding["critic"] = counters
            _free(generator)
    generation_seconds = time.time() - start

    built, pair_stats = build_pairs(samples, done, spec, stage, critic_spec)
    filtered = apply_pair_filters(built, filters)
    pairs = filtered.kept
    stats: dict[str, Any] = {
        "mode": stage.mode,
        **pair_stats.to_dict(),
        "filtered": filtered.dropped,
        "pairs": len(pairs),
        "pairs_by_branch": dict(Counter(p["branch"] for p in pairs)),
        **P.length_stats(pairs),
        "generation_seconds": round(generation_seconds, 1),
        "resumed_generations": resumed,
    }
    if filtered.examples:
        stats["filtered_examples"] = filtered.examples
    if decoding:  # the openai backend's requests, tokens and seconds, by role
        stats["decoding"] = decoding

    write_jsonl(
        ctx.path("generations.jsonl"), _generation_rows(samples, done, {P.JUDGE: spec, "critic": critic_spec})
    )
    write_jsonl(ctx.path(OUTPUTS["pairs"]), pairs)
    stats["chosen_sft_rows"] = write_samples(ctx.path(OUTPUTS["chosen_sft"]), P.chosen_sft_samples(pairs))
    write_json(ctx.path(OUTPUTS["stats"]), stats)
    partial.unlink(missing_ok=True)
    log.info(summary_line(stats))
    if not pairs:
        log.warning("pairs: no pair survived; a dpo stage reading this file will stop (see stats.json)")
    return StageResult(outputs={k: str(ctx.path(v)) for k, v in OUTPUTS.items()}, metrics=stats)


def summary_line(stats: dict[str, Any]) -> str:
    """One readable line of pair statistics.

    >>> summary_line({"items": 10, "pairs_built": 4, "pairs": 3, "branches": {"judge_right": 4},
    ...     "skipped": {"empty trace": 1}, "filtered": {"duplicate": 1}, "accuracy": {"judge": 0.9}})
    'pairs: 10 items -> 4 pairs built (judge_right 4), 3 kept; skipped: empty trace 1; filtered: duplicate 1; accuracy: judge 90.0%'
    """

    def fmt(d: dict[str, Any]) -> str:
        return ", ".join(f"{k} {v}" for k, v in d.items()) or "none"

    branches = fmt(stats.get("branches", {}))
    acc = ", ".join(f"{k} {100 * v:.1f}%" for k, v in stats.get("accuracy", {}).items()) or "none"
    return (
        f"pairs: {stats['items']} items -> {stats['pairs_built']} pairs built ({branches}), {stats['pairs']} kept; "
        f"skipped: {fmt(stats.get('skipped', {}))}; filtered: {fmt(stats.get('filtered', {}))}; accuracy: {acc}"
    )

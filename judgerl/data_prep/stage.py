"""The `prep` stage: a source into train/test JudgeSample JSONL files, with counted skips."""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from pydantic import Field, SerializerFunctionWrapHandler, model_serializer

from judgerl.core.config import StrictModel
from judgerl.core.jsonl import write_json
from judgerl.core.logging import get_logger
from judgerl.core.samples import write_samples
from judgerl.core.stage import StageContext, StageResult
from judgerl.core.types import JudgeSample
from judgerl.data_prep.sources.specs import SourceMapping, SyntheticSpec
from judgerl.data_prep.subsample import DEFAULT_SUBSAMPLE, SubsampleMode, drop_unused_subsample, subsample
from judgerl.data_prep.synthetic import make_synthetic_splits
from judgerl.judge_spec.families import both_orders

log = get_logger("judgerl.data")
OUTPUTS = {"train": "train.jsonl", "test": "test.jsonl"}


class PrepStage(StrictModel):
    """Recipe keys of a `prep` stage.

    `source` is a mapping with a `kind`, checked against that kind's typed spec when the recipe is
    validated (judgerl.data_prep.sources.specs): synthetic (n_train, n_test, seed), local (path,
    format or columns), llmbar (path), gsm8k (path, pairs_per_question), hub (name, split,
    preset), rewardbench, rewardbench2, judgebench, rmbench (path). A source without its own test
    split uses `test_source`, or holds out `test_fraction` of its rows (by a seeded hash of the
    id, so the split never changes with row order). `max_train` / `max_test` keep that many rows,
    drawn as `subsample` says: random (default, seeded by the recipe seed), stratified (each subset
    its share) or first (file order); the draw is recorded in stats.json and the manifest.
    """

    kind: Literal["prep"] = "prep"
    source: SourceMapping
    test_source: SourceMapping | None = None
    test_fraction: float = Field(0.0, ge=0.0, lt=1.0)
    both_orders: bool = False
    on_bad_row: Literal["skip", "stop"] = "stop"
    max_train: int | None = Field(None, ge=1)
    max_test: int | None = Field(None, ge=1)
    subsample: SubsampleMode = DEFAULT_SUBSAMPLE

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # without max_train / max_test, or with "first", the stage means what it did before the key
        return drop_unused_subsample(handler(self), "subsample", ["max_train", "max_test"])


def _load(spec: dict[str, Any], on_bad_row: str) -> tuple[list[JudgeSample], dict[str, Any]]:
    from judgerl.data_prep.sources import load_source

    spec = dict(spec)
    if spec["kind"] != "synthetic":
        spec.setdefault("on_bad_row", on_bad_row)
    result = load_source(spec)
    stats: dict[str, Any] = {"rows": len(result.samples), "skipped": len(result.skipped)}
    if result.formats:
        stats["formats"] = dict(result.formats)
    if result.skipped:
        stats["skipped_examples"] = [{"index": i, "reason": r} for i, r in result.skipped[:20]]
    if result.not_pairable:
        stats["not_pairable"] = len(result.not_pairable)
    log.info(result.summary())
    return result.samples, stats


def _held_out(sample_id: str, seed: int, fraction: float) -> bool:
    digest = hashlib.sha256(f"{seed}:{sample_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def run_prep(stage: PrepStage, ctx: StageContext) -> StageResult:
    """Load the source(s), split, optionally add both orders, and write train.jsonl / test.jsonl.

    Usage: result = run_prep(PrepStage(source={"kind": "synthetic", "n_train": 100, "n_test": 20}), ctx)

    judgerl run recipes/quickstart.yaml --only data
    """
    stats: dict[str, Any] = {}
    src = stage.source
    if src["kind"] == "synthetic" and stage.test_source is None:
        spec = SyntheticSpec.model_validate(src)
        seed = ctx.seed if spec.seed is None else spec.seed
        splits = make_synthetic_splits(spec.n_train, spec.n_test, seed)
        train, test = splits.train, splits.test
        stats["source"] = {"rows": len(train) + len(test), "skipped": 0}
    else:
        rows, stats["source"] = _load(src, stage.on_bad_row)
        if stage.test_source is not None:
            train = rows
            test, stats["test_source"] = _load(stage.test_source, stage.on_bad_row)
        else:
            test = [s for s in rows if _held_out(s.id, ctx.seed, stage.test_fraction)]
            train = [s for s in rows if not _held_out(s.id, ctx.seed, stage.test_fraction)]
    drawn: dict[str, Any] = {}
    train, drawn["train"] = subsample(train, stage.max_train, stage.subsample, ctx.seed)
    test, drawn["test"] = subsample(test, stage.max_test, stage.subsample, ctx.seed)
    drawn = {split: record for split, record in drawn.items() if record is not None}
    if drawn:
        stats["subsample"] = drawn
    if stage.both_orders:
        train = both_orders(train)
    if not train:
        raise ValueError("the prep stage produced no training rows (see the skip counts above)")
    write_samples(ctx.path(OUTPUTS["train"]), train)
    write_samples(ctx.path(OUTPUTS["test"]), test)
    stats.update(train=len(train), test=len(test))
    write_json(ctx.path("stats.json"), stats)
    log.info(f"data: {len(train)} train rows, {len(test)} test rows")
    return StageResult(
        outputs={k: str(ctx.path(v)) for k, v in OUTPUTS.items()},
        metrics={
            "train_rows": len(train),
            "test_rows": len(test),
            "skipped": stats["source"]["skipped"],
            "format": ", ".join(sorted(set(stats["source"].get("formats", {}).values()))) or src["kind"],
            **({"subsample": drawn} if drawn else {}),
        },
    )

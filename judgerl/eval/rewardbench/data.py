"""The examples a `rewardbench` stage evaluates: v1 pairs (chosen in (a), each id once) and v2 items,
from the hub, a local file in the RewardBench columns, a judgerl sample JSONL or a source mapping.

    samples, info = load_v1(stage, seed)     # info: what was read, skipped and drawn, for metrics.json
    items, info = load_v2(stage, seed)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Protocol

from judgerl.core.samples import read_samples
from judgerl.core.types import JudgeSample
from judgerl.data_prep.sources.base import make_pair
from judgerl.data_prep.sources.rewardbench import (
    V1_HUB,
    V1_SPLIT,
    V2_HUB,
    V2_SPLIT,
    RewardBench2Item,
    load_rewardbench,
    load_rewardbench2,
)
from judgerl.data_prep.subsample import subsample


class RewardBenchData(Protocol):
    """The keys of a `rewardbench` stage that decide what is read (`RewardBenchStage` has them)."""

    data: str | dict[str, Any] | None
    split: str | None
    subsets: list[str] | None
    max_samples: int | None
    subsample: str
    on_bad_row: Literal["skip", "stop"]


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


def load_v1(stage: RewardBenchData, seed: int = 0) -> tuple[list[JudgeSample], dict[str, Any]]:
    """The v1 examples a stage evaluates (chosen in (a)) and load facts for metrics.json; `max_samples`
    keeps that many, drawn by `stage.subsample` with `seed`.

    Usage: samples, info = load_v1(RewardBenchStage(model="m", data="rb_v1.jsonl"), seed=0)
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
    samples, drawn = subsample(samples, stage.max_samples, stage.subsample, seed, unit="examples")
    info.update(n_skipped_rows=len(skipped), duplicate_ids_dropped=dropped)
    if drawn is not None:
        info["subsample"] = drawn
    if skipped:
        info["skipped_rows"] = [{"index": i, "reason": r} for i, r in skipped[:20]]
    return samples, info


def load_v2(stage: RewardBenchData, seed: int = 0) -> tuple[list[RewardBench2Item], dict[str, Any]]:
    """The v2 items a stage evaluates and load facts for metrics.json (`max_samples` as in `load_v1`).

    Usage: items, info = load_v2(RewardBenchStage(model="m", version=2, data="rb2.jsonl"), seed=0)
    """
    if isinstance(stage.data, dict):
        raise ValueError(
            "rewardbench v2: data must be a hub id or a local file in the v2 columns, not a mapping"
        )
    split = stage.split or V2_SPLIT
    result = load_rewardbench2(
        stage.data or V2_HUB, split, subsets=stage.subsets, on_bad_row=stage.on_bad_row
    )
    items, drawn = subsample(result.items, stage.max_samples, stage.subsample, seed, unit="examples")
    info: dict[str, Any] = {
        "data": stage.data if stage.data is not None else f"{V2_HUB} ({split})",
        "n_skipped_rows": len(result.skipped),
    }
    if result.skipped:
        info["skipped_rows"] = [{"index": i, "reason": r} for i, r in result.skipped[:20]]
    if drawn is not None:
        info["subsample"] = drawn
    return items, info

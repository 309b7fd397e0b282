"""GRPO prompt rows: judge samples -> prompts plus the columns the reward adapters read.

Every item appears in both answer orders, and the two rows sit next to each other (row 2i is
order "ab", row 2i+1 order "ba" of the same item). Trainers keep such a pair in one batch, so
that the J1 consistency reward sees the other order's completions. The columns are:

- `prompt`: the judge's chat messages, from the one renderer (`judge_spec.render.judge_prompt`);
- `sample_id`, `order` ("ab" | "ba"): how a reward finds an item's other order;
- `label` ("a" | "b") and `strength` (signed -3..3, 0 = unknown): the ground truth;
- `subset`: carried for logging.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field

from judgerl.core.config import StrictModel
from judgerl.core.errors import DataError
from judgerl.core.jsonl import read_jsonl
from judgerl.core.samples import read_samples
from judgerl.core.types import JudgeSample
from judgerl.judge_spec.presets import DEFAULT_SPEC, builtin_spec
from judgerl.judge_spec.render import judge_prompt
from judgerl.judge_spec.spec import JudgeSpec

PAIR = 2
ORDERS: tuple[str, str] = ("ab", "ba")
REWARD_COLUMNS: tuple[str, ...] = ("sample_id", "order", "label", "strength")


@dataclass
class GRPORows:
    """Rows for a GRPO trainer (pairs adjacent) and the items left out, with their reasons."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def pairs(self) -> int:
        """The number of items (each contributes two rows)."""
        return len(self.rows) // PAIR


def _consistent(ab: JudgeSample, ba: JudgeSample) -> bool:
    return (
        ab.response_a == ba.response_b
        and ab.response_b == ba.response_a
        and ab.label != ba.label
        and (ab.strength or 0) == -(ba.strength or 0)
    )


def order_pairs(
    samples: Sequence[JudgeSample],
) -> tuple[list[tuple[JudgeSample, JudgeSample]], list[tuple[str, str]]]:
    """Group samples into (order "ab", order "ba") pairs by id, first-seen order kept.

    A sample present in one order only gets its swapped copy. A repeated (id, order), or two
    orders that are not swaps of each other, is skipped with its reason (never silently).

    >>> s = JudgeSample("q1", "t", [{"role": "user", "content": "2+2?"}], "4", "5", "a", -1)
    >>> pairs, skipped = order_pairs([s])
    >>> [(x.order, x.label, x.strength) for x in pairs[0]], skipped
    ([('ab', 'a', -1), ('ba', 'b', 1)], [])
    """
    by_id: dict[str, dict[str, JudgeSample]] = {}
    skipped: list[tuple[str, str]] = []
    for s in samples:
        if s.order not in ORDERS:
            skipped.append((s.id, f"unknown order {s.order!r} (expected 'ab' or 'ba')"))
            continue
        seen = by_id.setdefault(s.id, {})
        if s.order in seen:
            skipped.append((s.id, f"repeated id in order {s.order!r} (the first row is kept)"))
            continue
        seen[s.order] = s
    pairs: list[tuple[JudgeSample, JudgeSample]] = []
    for sample_id, seen in by_id.items():
        ab = seen.get("ab") or seen["ba"].swapped()
        ba = seen.get("ba") or seen["ab"].swapped()
        if not _consistent(ab, ba):
            skipped.append((sample_id, "its 'ab' and 'ba' rows are not swaps of each other"))
            continue
        pairs.append((ab, ba))
    return pairs, skipped


def grpo_row(sample: JudgeSample, spec: JudgeSpec | None = None) -> dict[str, Any]:
    """One GRPO row: the prompt rendered by the judge spec (judgerl's default when None) and the reward columns.

    >>> s = JudgeSample("q1", "t", [{"role": "user", "content": "2+2?"}], "4", "5", "a")
    >>> row = grpo_row(s)
    >>> row["prompt"][0]["role"], row["order"], row["label"], row["strength"]
    ('user', 'ab', 'a', 0)
    """
    return {
        "prompt": judge_prompt(spec or builtin_spec(DEFAULT_SPEC), sample),
        "sample_id": sample.id,
        "order": sample.order,
        "label": sample.label,
        "strength": int(sample.strength or 0),
        "subset": sample.subset,
    }


def grpo_rows(
    samples: Sequence[JudgeSample], spec: JudgeSpec | None = None, seed: int | None = None
) -> GRPORows:
    """GRPO rows for `samples`: both orders of every item, adjacent; items shuffled when `seed` is set.

    The shuffle moves whole pairs, so the adjacency holds for any seed.

    >>> s = JudgeSample("q1", "t", [{"role": "user", "content": "2+2?"}], "4", "5", "b", 2)
    >>> [(r["sample_id"], r["order"], r["strength"]) for r in grpo_rows([s]).rows]
    [('q1', 'ab', 2), ('q1', 'ba', -2)]
    """
    pairs, skipped = order_pairs(samples)
    if seed is not None:
        random.Random(seed).shuffle(pairs)
    rows = [grpo_row(s, spec) for pair in pairs for s in pair]
    return GRPORows(rows=rows, skipped=skipped)


def check_pairs_adjacent(rows: Sequence[dict[str, Any]]) -> None:
    """Raise DataError unless rows 2i and 2i+1 are the "ab" and "ba" rows of one item.

    >>> check_pairs_adjacent([{"sample_id": "x", "order": "ab"}, {"sample_id": "x", "order": "ba"}])
    >>> check_pairs_adjacent([{"sample_id": "x", "order": "ab"}])
    Traceback (most recent call last):
    judgerl.core.errors.DataError: GRPO rows must come in pairs (both orders of each item), got 1 rows
    """
    if len(rows) % PAIR:
        raise DataError(f"GRPO rows must come in pairs (both orders of each item), got {len(rows)} rows")
    for i in range(0, len(rows), PAIR):
        first, second = rows[i], rows[i + 1]
        got = ((first["sample_id"], first["order"]), (second["sample_id"], second["order"]))
        want = ((first["sample_id"], "ab"), (first["sample_id"], "ba"))
        if got != want:
            raise DataError(f"GRPO rows {i} and {i + 1} are not both orders of one item: {got}")


def drop_long_pairs(
    rows: Sequence[dict[str, Any]], lengths: Sequence[int], max_length: int
) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """Drop every pair in which either order's prompt is longer than `max_length` tokens.

    Returns the kept rows (still paired) and one (sample id, reason) per dropped item.

    >>> rows = [{"sample_id": i, "order": o} for i in ("x", "y") for o in ("ab", "ba")]
    >>> kept, dropped = drop_long_pairs(rows, [5, 5, 5, 9], 8)
    >>> [r["sample_id"] for r in kept], dropped
    (['x', 'x'], [('y', 'prompt of 9 tokens > max_prompt_length 8')])
    """
    check_pairs_adjacent(rows)
    if len(lengths) != len(rows):
        raise ValueError(f"got {len(lengths)} prompt lengths for {len(rows)} rows")
    kept: list[dict[str, Any]] = []
    dropped: list[tuple[str, str]] = []
    for i in range(0, len(rows), PAIR):
        longest = max(lengths[i], lengths[i + 1])
        if longest > max_length:
            reason = f"prompt of {longest} tokens > max_prompt_length {max_length}"
            dropped.append((str(rows[i]["sample_id"]), reason))
        else:
            kept.extend(rows[i : i + PAIR])
    return kept, dropped


def pairs_complete(sample_ids: Sequence[Any], orders: Sequence[Any]) -> float:
    """The fraction of items in a batch whose two orders are both present (1.0 for an empty batch).

    >>> pairs_complete(["x", "x", "y"], ["ab", "ba", "ab"])
    0.5
    """
    seen: dict[Any, set[str]] = {}
    for sample_id, order in zip(sample_ids, orders, strict=True):
        seen.setdefault(sample_id, set()).add(str(order))
    if not seen:
        return 1.0
    return sum(1 for o in seen.values() if set(ORDERS) <= o) / len(seen)


class HardExamples(StrictModel):
    """Train GRPO mostly on the items the judge gets wrong (`hard_examples:` of a grpo stage).

    `predictions` is an eval stage's predictions.jsonl over the GRPO data (one row per judged
    order: sample_id, correct). An item is hard when any judged order of it is wrong or
    unparseable; `easy_per_hard` easy items (all judged orders right) are kept per hard item, drawn
    with the run's seed, so the policy does not drift on what it already does well.

    Usage: hard_examples: {predictions: ${stages.eval_train.predictions}, easy_per_hard: 1.0}
    """

    predictions: str
    easy_per_hard: float = Field(1.0, ge=0)


def select_hard_items(
    samples: Sequence[JudgeSample],
    predictions: Sequence[dict[str, Any]],
    easy_per_hard: float = 1.0,
    seed: int = 0,
) -> tuple[list[JudgeSample], dict[str, int]]:
    """The hard items of `samples` plus `easy_per_hard` easy ones per hard item; and the counts.

    Items that no prediction row names cannot be classified: they are left out and counted as
    `not_judged` (a caller logs the counts; nothing is dropped silently).

    >>> a = JudgeSample("x", "t", [{"role": "user", "content": "1+1?"}], "2", "3", "a", -1)
    >>> b = JudgeSample("y", "t", [{"role": "user", "content": "1+2?"}], "3", "4", "a", -1)
    >>> kept, counts = select_hard_items([a, b], [{"sample_id": "x", "correct": False}], 1.0)
    >>> [s.id for s in kept], counts
    (['x'], {'items': 2, 'hard': 1, 'easy': 0, 'easy_kept': 0, 'not_judged': 1})
    """
    correct: dict[str, bool] = {}
    for i, row in enumerate(predictions):
        if "sample_id" not in row or not isinstance(row.get("correct"), bool):
            raise DataError(f"hard_examples.predictions row {i}: needs 'sample_id' and a boolean 'correct'")
        sid = str(row["sample_id"])
        correct[sid] = correct.get(sid, True) and row["correct"]
    ids = list(dict.fromkeys(s.id for s in samples))
    hard = {i for i in ids if correct.get(i) is False}
    easy = [i for i in ids if correct.get(i) is True]
    n_easy = min(len(easy), round(easy_per_hard * len(hard)))
    keep = hard | set(random.Random(seed).sample(easy, n_easy))
    counts = {
        "items": len(ids),
        "hard": len(hard),
        "easy": len(easy),
        "easy_kept": n_easy,
        "not_judged": sum(1 for i in ids if i not in correct),
    }
    return [s for s in samples if s.id in keep], counts


def load_grpo_samples(
    data: str, hard_examples: HardExamples | None = None, seed: int = 0
) -> tuple[list[JudgeSample], dict[str, int]]:
    """Read a GRPO stage's samples, keeping the hard-example selection when one is configured.

    Usage: samples, counts = load_grpo_samples(stage.data, stage.hard_examples, ctx.seed)
    """
    samples = read_samples(data)
    if hard_examples is None:
        return samples, {}
    kept, counts = select_hard_items(
        samples, read_jsonl(hard_examples.predictions), hard_examples.easy_per_hard, seed
    )
    if not kept:
        raise DataError(
            f"hard_examples: no item of {data} is judged in {hard_examples.predictions} "
            f"({counts['not_judged']} of {counts['items']} not judged); is it the eval of the same data?"
        )
    return kept, counts

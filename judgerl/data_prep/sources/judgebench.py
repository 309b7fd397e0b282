"""JudgeBench (Tan et al., 2024): response pairs on hard questions, one JudgeSample per pair.

A row: `pair_id`, `original_id`, `source` (e.g. "mmlu-pro-law", "livebench-reasoning"),
`question`, `response_model`, `response_A`, `response_B`, `label` ("A>B" or "B>A"). The pair
keeps the file's order: response_A is (a). Its category is the prefix of `source` the official
script groups by (knowledge / reasoning / math / coding; "other" for any other source).
"""

from __future__ import annotations

import os
from typing import Any, Literal

from judgerl.core.types import JudgeSample
from judgerl.data_prep.sources.base import (
    LoadResult,
    NotPairable,
    as_text,
    check_on_bad_row,
    convert_rows,
    user_turn,
)
from judgerl.data_prep.sources.local import read_rows

SOURCE = "judgebench"
# source prefix -> category, in the order the JudgeBench paper reports them
CATEGORY_PREFIXES: dict[str, str] = {
    "mmlu-pro": "knowledge",
    "livebench-reasoning": "reasoning",
    "livebench-math": "math",
    "livecodebench": "coding",
}
CATEGORIES: tuple[str, ...] = tuple(CATEGORY_PREFIXES.values())
OTHER = "other"
_LABELS = {"A>B": "a", "B>A": "b"}


def judgebench_category(source: str) -> str:
    """The category of a JudgeBench `source`, by prefix.

    Usage: judgebench_category("mmlu-pro-law") -> 'knowledge'
    """
    for prefix, category in CATEGORY_PREFIXES.items():
        if source.startswith(prefix):
            return category
    return OTHER


def parse_judgebench_label(value: Any) -> str:
    """'A>B' -> 'a', 'B>A' -> 'b'; a tie ('A=B') is not pairable, anything else is malformed.

    Usage: parse_judgebench_label("B>A") -> 'b'
    """
    if isinstance(value, str):
        text = value.strip().replace(" ", "")
        if text in _LABELS:
            return _LABELS[text]
        if text == "A=B":
            raise NotPairable("label 'A=B' is a tie")
    raise ValueError(f"label must be 'A>B' or 'B>A', got {value!r}")


def _row_fn(index: int, row: Any) -> JudgeSample:
    if not isinstance(row, dict):
        raise TypeError(f"row must be an object, got {type(row).__name__}")
    pair_id = row["pair_id"]
    if not isinstance(pair_id, (str, int)) or isinstance(pair_id, bool) or str(pair_id) == "":
        raise ValueError(f"pair_id must be a non-empty string, got {pair_id!r}")
    source = as_text(row["source"], "source")
    category = judgebench_category(source)
    return JudgeSample(
        id=str(pair_id),
        source=SOURCE,
        conversation=user_turn(row["question"]),
        response_a=as_text(row["response_A"], "response_A"),
        response_b=as_text(row["response_B"], "response_B"),
        label=parse_judgebench_label(row["label"]),  # type: ignore[arg-type]
        strength=None,
        subset=category,
        metadata={
            "pair_id": str(pair_id),
            "original_id": row.get("original_id"),
            "source": source,
            "category": category,
            "response_model": row.get("response_model"),
            "row": index,
        },
    )


def load_judgebench(path: str | os.PathLike[str], on_bad_row: Literal["skip", "stop"] = "stop") -> LoadResult:
    """Load JudgeBench pairs from a .jsonl, .json or .parquet file (one JudgeSample per pair).

    The sample id is the row's `pair_id`, the subset its category; metadata holds pair_id,
    original_id, source, category and response_model. A tie label is counted as not pairable.

    Usage: result = load_judgebench("judgebench/gpt.jsonl", on_bad_row="skip")
    """
    check_on_bad_row(on_bad_row)
    return convert_rows(SOURCE, read_rows(path), _row_fn, on_bad_row)

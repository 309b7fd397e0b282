"""RM-Bench (Liu et al., 2024): each prompt with three chosen and three rejected responses, one per style.

A row: `id`, `prompt`, `chosen` and `rejected` (lists of three strings, in the style order
concise, detailed plain, detailed markdown) and `domain` (chat, math, code, safety-refuse,
safety-response). The domain is the leading word of `domain` or, without one, of `id`
("safety-refuse" and "safety-response/12" are both "safety"). A prompt becomes its nine
chosen-vs-rejected pairs, chosen in (a) (an evaluation judges both orders or lays them out).
"""

from __future__ import annotations

import os
import re
from typing import Any, Literal

from judgerl.core.types import JudgeSample
from judgerl.data_prep.sources.base import (
    LoadResult,
    as_text,
    check_on_bad_row,
    convert_rows,
    make_pair,
    user_turn,
)
from judgerl.data_prep.sources.local import read_rows

SOURCE = "rmbench"
STYLES: tuple[str, str, str] = ("concise", "detailed_plain", "detailed_markdown")
DOMAINS: tuple[str, ...] = ("chat", "math", "code", "safety")
_LEADING_WORD = re.compile(r"[A-Za-z]+")


def rmbench_domain(value: Any) -> str:
    """The domain named by a row's `domain` or `id`: its leading word, lower-cased.

    Usage: rmbench_domain("safety-refuse/17") -> 'safety'
    """
    found = _LEADING_WORD.match(str(value).strip())
    if not found:
        raise ValueError(f"no domain: `domain` is missing and id {value!r} does not start with one")
    return found.group(0).lower()


def _responses(row: dict[str, Any], key: str) -> list[str]:
    value = row[key]
    if not isinstance(value, (list, tuple)) or len(value) != len(STYLES):
        raise ValueError(
            f"{key} must be a list of {len(STYLES)} responses ({', '.join(STYLES)}), got {value!r:.60}"
        )
    return [as_text(v, f"{key}[{i}]") for i, v in enumerate(value)]


def _row_fn(index: int, row: Any) -> list[JudgeSample]:
    if not isinstance(row, dict):
        raise TypeError(f"row must be an object, got {type(row).__name__}")
    prompt_id = row["id"]
    if isinstance(prompt_id, bool) or not isinstance(prompt_id, (str, int)) or str(prompt_id) == "":
        raise ValueError(f"id must be a non-empty string or an int, got {prompt_id!r}")
    raw_domain = row.get("domain")
    domain = rmbench_domain(raw_domain if raw_domain not in (None, "") else prompt_id)
    conversation = user_turn(row["prompt"])
    chosen, rejected = _responses(row, "chosen"), _responses(row, "rejected")
    samples = []
    for i, chosen_style in enumerate(STYLES):
        for j, rejected_style in enumerate(STYLES):
            samples.append(
                make_pair(
                    sample_id=f"{prompt_id}|c{i}r{j}",
                    source=SOURCE,
                    conversation=conversation,
                    chosen=chosen[i],
                    rejected=rejected[j],
                    subset=domain,
                    metadata={
                        "prompt_id": str(prompt_id),
                        "domain": domain,
                        "raw_domain": raw_domain,
                        "chosen_style": chosen_style,
                        "rejected_style": rejected_style,
                        "row": index,
                    },
                )
            )
    return samples


def load_rmbench(path: str | os.PathLike[str], on_bad_row: Literal["skip", "stop"] = "stop") -> LoadResult:
    """Load RM-Bench from a .jsonl, .json or .parquet file: nine JudgeSamples per prompt.

    Sample ids are "<id>|c<i>r<j>" (chosen style i, rejected style j, 0 = concise, 1 = detailed
    plain, 2 = detailed markdown); the subset is the domain; metadata holds prompt_id, domain,
    chosen_style and rejected_style.

    Usage: result = load_rmbench("rm-bench/total_dataset.json")
    """
    check_on_bad_row(on_bad_row)
    return convert_rows(SOURCE, read_rows(path), _row_fn, on_bad_row)

"""Probe training labels: 1-5 aspect scores from a strong judge, or any column (e.g. is_correct).

A scores file is JSONL, one (question, prediction) per row, with the judge's scores under
`scores` (or the INSPECTOR seed's `roscoe5dim_score`), each an int 1..5 or {"score": n, ...}:

    {"id": "q7-m2", "question": "...", "prediction": "...",
     "scores": {"logicality": {"score": 4, "justification": "..."}, "fluency": 5, ...}}

Bad rows are counted with their index and reason (or stop the read, by switch); a row without
a score for some aspect is kept for the others and counted as missing for that one. A failed
label, {"score": null} (what INSPECTOR's labelling script writes when every try failed), is
counted under `failed` for that aspect the same way, or stops the read with `on_failed_score="stop"`.
The file may be JSON lines or a JSON list (`judgerl.probes.rows`).
"""

from __future__ import annotations

import os
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from judgerl.core.errors import DataError
from judgerl.core.jsonl import read_jsonl
from judgerl.data_prep.sources.base import BadRow
from judgerl.probes.aspects import ASPECTS, check_aspect
from judgerl.probes.rows import read_raw_rows

SCORE_KEYS = ("scores", "roscoe5dim_score")
OnBadRow = Literal["skip", "stop"]
ClassOrder = Literal["sorted", "first_seen"]


@dataclass(frozen=True)
class LabeledRow:
    """One (question, prediction) with its labels by name and the group its split follows.

    >>> LabeledRow("1", "q", "p", {"logicality": 4}, "q").labels["logicality"]
    4
    """

    id: str
    question: str
    prediction: str
    labels: dict[str, int]
    group: str


@dataclass
class LabelSet:
    """Rows read from a labels file, with the skipped rows (index, reason), missing and failed counts."""

    rows: list[LabeledRow]
    source: str
    names: tuple[str, ...]
    skipped: list[tuple[int, str]] = field(default_factory=list)
    missing: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        """One line: rows read, skipped (first reasons), missing and failed labels per name."""
        text = f"{self.source}: {len(self.rows)} rows, {len(self.skipped)} skipped"
        if self.skipped:
            text += " (" + "; ".join(f"row {i}: {r}" for i, r in self.skipped[:3]) + ")"
        if self.missing:
            text += ", missing " + ", ".join(f"{k}: {v}" for k, v in sorted(self.missing.items()))
        if self.failed:
            text += ', failed ({"score": null}) ' + ", ".join(
                f"{k}: {v}" for k, v in sorted(self.failed.items())
            )
        return text


def _failed(value: Any) -> bool:
    """A failed-label marker: {"score": null} (INSPECTOR's labelling script writes it after its retries)."""
    return isinstance(value, dict) and "score" in value and value["score"] is None


def _score(value: Any, aspect: str) -> int:
    if isinstance(value, dict):
        if "score" not in value:
            raise ValueError(f"score of {aspect!r} is a mapping without a 'score' key")
        value = value["score"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
        raise ValueError(f"score of {aspect!r} must be an int 1..5, got {value!r}")
    if not 1 <= int(value) <= 5:
        raise ValueError(f"score of {aspect!r} must be in 1..5, got {value!r}")
    return int(value)


def _column_value(value: Any, column: str) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return int(value.strip().lower() == "true")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and int(value) == value:
        return int(value)
    raise ValueError(f"column {column!r} must be a bool or an int, got {value!r}")


def _text(row: dict[str, Any], key: str) -> str:
    if key not in row:
        raise KeyError(f"missing key {key!r}")
    value = row[key]
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{key!r} must be a non-empty string, got {value!r:.60}")
    return value


def read_labels(
    path: str | os.PathLike[str],
    aspects: Sequence[str] | None = None,
    column: str | None = None,
    question_key: str = "question",
    prediction_key: str = "prediction",
    id_key: str = "id",
    group_key: str | None = None,
    on_bad_row: OnBadRow = "stop",
    on_failed_score: OnBadRow = "skip",
) -> LabelSet:
    """Read a labels file (JSON lines or a JSON list): aspect scores (`aspects`, default all five) or one `column`.

    Usage: labels = read_labels("scored.jsonl"); labels = read_labels("sols.jsonl", column="is_correct")
    """
    if not os.path.exists(path):
        raise DataError(f"{path}: no such labels file")
    return parse_labels(
        read_raw_rows(path),
        str(path),
        aspects,
        column,
        question_key,
        prediction_key,
        id_key,
        group_key,
        on_bad_row,
        on_failed_score,
    )


def parse_labels(
    rows: Sequence[Any],
    source: str,
    aspects: Sequence[str] | None = None,
    column: str | None = None,
    question_key: str = "question",
    prediction_key: str = "prediction",
    id_key: str = "id",
    group_key: str | None = None,
    on_bad_row: OnBadRow = "stop",
    on_failed_score: OnBadRow = "skip",
) -> LabelSet:
    """Labelled rows from dicts (see `read_labels`); errors name `source` and the row index.

    Ids default to the row index; the split group defaults to the question text (so every
    answer to one question lands on the same side of a split).

    >>> parse_labels([{"question": "q", "prediction": "p", "ok": True}], "mem", column="ok").rows[0].labels
    {'ok': 1}
    """
    for name, value in (("on_bad_row", on_bad_row), ("on_failed_score", on_failed_score)):
        if value not in ("skip", "stop"):
            raise ValueError(f"{name} must be 'skip' or 'stop', got {value!r}")
    if column is not None and aspects is not None:
        raise ValueError("give either aspects (scores per aspect) or column (one label column), not both")
    names = (column,) if column is not None else tuple(check_aspect(a) for a in (aspects or ASPECTS))
    out = LabelSet(rows=[], source=source, names=names)
    for i, row in enumerate(rows):
        try:
            if isinstance(row, BadRow):
                raise ValueError(row.reason)
            if not isinstance(row, dict):
                raise TypeError(f"row must be an object, got {type(row).__name__}")
            question, prediction = _text(row, question_key), _text(row, prediction_key)
            labels: dict[str, int] = {}
            if column is not None:
                if row.get(column) is None:
                    raise KeyError(f"missing label column {column!r}")
                labels[column] = _column_value(row[column], column)
            else:
                scores = next((row[k] for k in SCORE_KEYS if k in row), None)
                if not isinstance(scores, dict):
                    raise ValueError(
                        f"expected a scores mapping under one of {SCORE_KEYS}, got {scores!r:.60}"
                    )
                for aspect in names:
                    if scores.get(aspect) is None:
                        out.missing[aspect] += 1
                    elif _failed(scores[aspect]):
                        if on_failed_score == "stop":
                            raise DataError(
                                f'{source}: row {i}: {aspect!r} is a failed label {{"score": null}} '
                                "(on_failed_score: skip counts it and keeps the row for the other aspects)"
                            )
                        out.failed[aspect] += 1
                    else:
                        labels[aspect] = _score(scores[aspect], aspect)
            group = str(row[group_key]) if group_key is not None else question
            out.rows.append(LabeledRow(str(row.get(id_key, i)), question, prediction, labels, group))
        except (KeyError, TypeError, ValueError) as e:
            reason = e.args[0] if e.args else str(e)
            if on_bad_row == "stop":
                raise DataError(f"{source}: row {i}: {reason}") from e
            out.skipped.append((i, str(reason)))
    return out


def make_targets(values: Sequence[int], threshold: float | None) -> list[int]:
    """Binary targets (value >= threshold) or the values as classes when `threshold` is None.

    >>> make_targets([1, 4, 5, 3], 4), make_targets([0, 1], None)
    ([0, 1, 1, 0], [0, 1])
    """
    if threshold is None:
        return [int(v) for v in values]
    return [int(v >= threshold) for v in values]


def balance_by_downsampling(
    labels: Sequence[int], seed: int = 0, class_order: ClassOrder = "sorted"
) -> list[int]:
    """Indices keeping every class at the size of the smallest one (seeded), in input order.

    The classes draw from one seeded generator in `class_order`: "sorted" (judgerl's) or
    "first_seen" (the order the classes first appear in, as INSPECTOR's dictionary of score
    levels draws them: with its seed 731 and the same rows this is its draw).

    >>> balance_by_downsampling([1, 1, 1, 0, 1, 0], seed=0)
    [0, 1, 3, 5]
    """
    if class_order not in ("sorted", "first_seen"):
        raise ValueError(f"class_order must be 'sorted' or 'first_seen', got {class_order!r}")
    by_class: dict[int, list[int]] = {}
    for i, y in enumerate(labels):
        by_class.setdefault(int(y), []).append(i)
    if not by_class:
        return []
    smallest = min(len(v) for v in by_class.values())
    rng = random.Random(seed)
    kept: list[int] = []
    for cls in sorted(by_class) if class_order == "sorted" else by_class:
        kept.extend(rng.sample(by_class[cls], smallest))
    return sorted(kept)


def gsm8k_solution_rows(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """OpenAI's GSM8K example_model_solutions.jsonl flattened: one row per (question, model solution).

    Rows carry id ("gsm8k-0007-175b_verification"), question, prediction (the solution),
    is_correct, model and group (the question's row index). A malformed row raises DataError.

    Usage: rows = gsm8k_solution_rows("../shared/data/gsm8k/example_model_solutions.jsonl")
    """
    if not os.path.exists(path):
        raise DataError(f"{path}: no such GSM8K solutions file")
    out = []
    for i, row in enumerate(read_jsonl(path)):
        models = [k for k, v in row.items() if isinstance(v, dict) and {"is_correct", "solution"} <= set(v)]
        if not isinstance(row.get("question"), str) or not models:
            raise DataError(f"{path}: row {i}: expected a question and {{is_correct, solution}} entries")
        for model in models:
            entry = row[model]
            out.append(
                {
                    "id": f"gsm8k-{i:04d}-{model}",
                    "question": row["question"],
                    "prediction": str(entry["solution"]),
                    "is_correct": bool(entry["is_correct"]),
                    "model": model,
                    "group": f"q{i:04d}",
                }
            )
    return out

"""GSM8K model solutions (OpenAI's example_model_solutions.jsonl): correct vs incorrect solution pairs."""

from __future__ import annotations

import itertools
import os
import random
from collections.abc import Iterable
from typing import Any

from judgerl.core.types import JudgeSample
from judgerl.data_prep.sources.base import (
    LoadResult,
    NotPairable,
    OnBadRow,
    as_text,
    check_on_bad_row,
    convert_rows,
    make_pair,
    user_turn,
)
from judgerl.data_prep.sources.readers import read_rows

SOURCE = "gsm8k"
# The model keys the released file carries; any other key whose value is {is_correct, solution}
# is read the same way.
GSM8K_MODEL_KEYS: tuple[str, ...] = (
    "6b_finetuning",
    "6b_verification",
    "175b_finetuning",
    "175b_verification",
)
NOT_PAIRABLE_REASON = "no correct/incorrect pair"


def load_gsm8k_solutions(
    path: str | os.PathLike[str],
    pairs_per_question: int = 1,
    seed: int = 0,
    on_bad_row: OnBadRow = "stop",
) -> LoadResult:
    """Pair a correct with an incorrect model solution per GSM8K question.

    A question with at least one correct and one incorrect solution yields up to
    `pairs_per_question` distinct (correct, incorrect) pairs (two models writing the same text
    count once), drawn and placed (correct side in
    (a) or (b)) by a generator seeded with (seed, row index): reproducible, and independent of the
    other rows. Questions without both kinds are listed in `not_pairable`, not `skipped`.
    Strength is unknown (None); metadata names both models and keeps the reference solution.
    Ids look like "gsm8k-0007-0" (row index, pair number).

    Usage: load_gsm8k_solutions("/work/shared/data/gsm8k/example_model_solutions.jsonl", seed=0)
    """
    check_on_bad_row(on_bad_row)
    if not isinstance(pairs_per_question, int) or pairs_per_question < 1:
        raise ValueError(f"pairs_per_question must be an int >= 1, got {pairs_per_question!r}")

    def row_fn(index: int, row: Any) -> list[JudgeSample]:
        if not isinstance(row, dict):
            raise TypeError(f"row must be an object, got {type(row).__name__}")
        conversation = user_turn(row["question"])
        solutions = _solutions(row)
        correct = _distinct((model, text) for model, ok, text in solutions if ok)
        incorrect = _distinct((model, text) for model, ok, text in solutions if not ok)
        candidates = [(c, w) for c, w in itertools.product(correct, incorrect) if c[1] != w[1]]
        if not candidates:
            raise NotPairable(NOT_PAIRABLE_REASON)
        rng = random.Random(f"{seed}:{index}")
        picked = rng.sample(candidates, min(pairs_per_question, len(candidates)))
        samples = []
        for k, ((good_model, good), (bad_model, bad)) in enumerate(picked):
            samples.append(
                make_pair(
                    sample_id=f"{SOURCE}-{index:04d}-{k}",
                    source=SOURCE,
                    conversation=conversation,
                    chosen=good,
                    rejected=bad,
                    chosen_first=rng.random() < 0.5,
                    subset=SOURCE,
                    metadata={
                        "correct_model": good_model,
                        "incorrect_model": bad_model,
                        "ground_truth": row.get("ground_truth", ""),
                    },
                )
            )
        return samples

    return convert_rows(SOURCE, read_rows(path), row_fn, on_bad_row)


def _distinct(solutions: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """(model, text) pairs with repeated texts dropped (the first model that wrote a text keeps it)."""
    seen: dict[str, str] = {}
    for model, text in solutions:
        seen.setdefault(text, model)
    return [(model, text) for text, model in seen.items()]


def _solutions(row: dict[str, Any]) -> list[tuple[str, bool, str]]:
    """(model, is_correct, solution) for every model key of a row; malformed entries raise."""
    found = []
    for key, value in row.items():
        if key in ("question", "ground_truth"):
            continue
        if not isinstance(value, dict):
            if key in GSM8K_MODEL_KEYS:
                raise ValueError(f"{key} must be an object with is_correct and solution")
            continue
        ok = value.get("is_correct")
        if not isinstance(ok, bool):
            raise ValueError(f"{key}.is_correct must be true or false, got {ok!r}")
        found.append((key, ok, as_text(value.get("solution"), f"{key}.solution")))
    if not found:
        raise ValueError("row has no model solutions")
    return found

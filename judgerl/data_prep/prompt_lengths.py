"""Prompt lengths against a model's context, checked before any generation.

A judge prompt holds the question and both responses; one huge response makes a prompt longer
than the model's context, and generating from it fails deep inside the model (or asks for a
terabyte). `check_prompt_lengths` renders each sample with the one prompt renderer, counts its
tokens with the caller's tokenizer, and either stops on the first prompt that does not fit with
its completion budget, or skips it and reports it by index, as bad rows are.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from judgerl.core.errors import DataError
from judgerl.core.types import JudgeSample
from judgerl.data_prep.sources.base import OnBadRow, check_on_bad_row
from judgerl.judge_spec.render import judge_prompt
from judgerl.judge_spec.spec import JudgeSpec

TokenCounter = Callable[[list[dict[str, str]]], int]


@dataclass
class LengthCheck:
    """The samples whose prompt fits, and (index, reason) for each that does not."""

    kept: list[JudgeSample] = field(default_factory=list)
    too_long: list[tuple[int, str]] = field(default_factory=list)


def check_prompt_lengths(
    samples: Sequence[JudgeSample],
    spec: JudgeSpec,
    count_tokens: TokenCounter,
    context: int,
    max_new_tokens: int,
    on_bad_row: OnBadRow = "stop",
) -> LengthCheck:
    """Keep the samples whose rendered prompt plus `max_new_tokens` fits in `context` tokens.

    With on_bad_row="stop" the first prompt that does not fit is a DataError naming its index,
    id and length; with "skip" it is listed in `too_long`.

    Usage: check = check_prompt_lengths(samples, builtin_spec("strength"), lambda m: len(tok.apply_chat_template(m)), 2048, 512)
    """
    check_on_bad_row(on_bad_row)
    budget = context - max_new_tokens
    if budget < 1:
        raise DataError(
            f"max_new_tokens {max_new_tokens} leaves no room for a prompt in the model's context of {context} tokens"
        )
    out = LengthCheck()
    for index, sample in enumerate(samples):
        n = count_tokens(judge_prompt(spec, sample))
        if n <= budget:
            out.kept.append(sample)
            continue
        reason = (
            f"prompt of sample {sample.id!r} is {n} tokens; with max_new_tokens {max_new_tokens} it does not fit "
            f"the model's context of {context} tokens (at most {budget} prompt tokens)"
        )
        if on_bad_row == "stop":
            raise DataError(
                f"row {index}: {reason} (skip such rows with on_bad_row: skip / --on-bad-row skip)"
            )
        out.too_long.append((index, reason))
    return out

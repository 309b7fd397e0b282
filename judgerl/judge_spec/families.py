"""judgerl's prompt families: the recipe's `prompt: {family, hint, instruction}` shorthand and the
instruction texts of the built-in specs it stands for (judge_spec/presets.py; rendered by the one
renderer, judge_spec/render.py).

Families (Think-J): `cot` (reason, then "Therefore, Response (x) is better."), `strength`
(the same plus "and the strength is [[k]]"), `direct` (verdict only). A critic prompt is any
family with a `hint`: "positive" states the true winner, "negative" the wrong one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from judgerl.core.types import JudgeSample

Family = Literal["cot", "strength", "direct"]
Hint = Literal["none", "positive", "negative"]
Instruction = Literal["full", "compact"]
FAMILIES: tuple[str, ...] = ("cot", "strength", "direct")
HINTS: tuple[str, ...] = ("none", "positive", "negative")

FULL_INSTRUCTIONS = {
    "cot": (
        "Please act as an impartial judge and compare the two responses below to the user question. "
        "Consider helpfulness, correctness, relevance, depth and harmlessness; do not let the order, "
        "the length or the names of the responses influence you. Think it through first, then end with "
        "your verdict in exactly this form: 'Therefore, Response (a) is better.' or "
        "'Therefore, Response (b) is better.'"
    ),
    "strength": (
        "Please act as an impartial judge and compare the two responses below to the user question. "
        "Consider helpfulness, correctness, relevance, depth and harmlessness; do not let the order, "
        "the length or the names of the responses influence you. Think it through first, then end with "
        "your verdict and how strongly you prefer it, in exactly this form: 'Therefore, Response (a) is "
        "better, and the strength is [[k]].' where k is 1 (slightly better), 2 (better) or 3 (much better)."
    ),
    "direct": (
        "Please act as an impartial judge and compare the two responses below to the user question. "
        "Answer only with your verdict, in exactly this form: 'Therefore, Response (a) is better.' or "
        "'Therefore, Response (b) is better.'"
    ),
}
COMPACT_INSTRUCTIONS = {
    "cot": "Judge which response is better. End with: Therefore, Response (x) is better.",
    "strength": "Judge which response is better. End with: Therefore, Response (x) is better, "
    "and the strength is [[k]].",
    "direct": "Which response is better? Answer: Therefore, Response (x) is better.",
}


@dataclass(frozen=True)
class PromptSpec:
    """The `prompt:` shorthand: family, critic hint and instruction length (`spec_for_prompt` gives the
    built-in judge spec it stands for; the hint is the role the spec is rendered in).

    >>> PromptSpec("strength").family
    'strength'
    """

    family: Family = "strength"
    hint: Hint = "none"
    instruction: Instruction = "full"

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"prompt family must be one of {FAMILIES}, got {self.family!r}")
        if self.hint not in HINTS:
            raise ValueError(f"prompt hint must be one of {HINTS}, got {self.hint!r}")
        if self.instruction not in ("full", "compact"):
            raise ValueError(f"prompt instruction must be 'full' or 'compact', got {self.instruction!r}")

    @property
    def wants_strength(self) -> bool:
        """True when the verdict carries a [[k]] strength."""
        return self.family == "strength"

    @property
    def wants_thinking(self) -> bool:
        """True when the judge reasons before its verdict."""
        return self.family != "direct"


def both_orders(samples: list[JudgeSample]) -> list[JudgeSample]:
    """Each sample followed by its swapped copy (both-order augmentation).

    >>> s = JudgeSample("1", "t", [{"role": "user", "content": "q"}], "x", "y", "a")
    >>> [x.order for x in both_orders([s])]
    ['ab', 'ba']
    """
    out: list[JudgeSample] = []
    for s in samples:
        out.extend([s, s.swapped()])
    return out

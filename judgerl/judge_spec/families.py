"""The one judge-prompt renderer used by SFT, DPO, GRPO and evaluation.

Families (Think-J): `cot` (reason, then "Therefore, Response (x) is better."), `strength`
(the same plus "and the strength is [[k]]"), `direct` (verdict only). A critic prompt is any
family with a `hint`: "positive" states the true winner, "negative" the wrong one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from judgerl.core.types import JudgeSample
from judgerl.judge_spec.multi_prompts import conversation_block

Family = Literal["cot", "strength", "direct"]
Hint = Literal["none", "positive", "negative"]
Instruction = Literal["full", "compact"]
FAMILIES: tuple[str, ...] = ("cot", "strength", "direct")
HINTS: tuple[str, ...] = ("none", "positive", "negative")

_FULL = {
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
_COMPACT = {
    "cot": "Judge which response is better. End with: Therefore, Response (x) is better.",
    "strength": "Judge which response is better. End with: Therefore, Response (x) is better, "
    "and the strength is [[k]].",
    "direct": "Which response is better? Answer: Therefore, Response (x) is better.",
}


@dataclass(frozen=True)
class PromptSpec:
    """How to render a sample: family, critic hint and instruction length.

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


def hint_text(sample: JudgeSample, hint: Hint) -> str:
    """The critic hint sentence ('' for no hint).

    >>> s = JudgeSample("1", "t", [{"role": "user", "content": "q"}], "x", "y", "b")
    >>> hint_text(s, "negative")
    'Given that Response (a) is better than Response (b), explain why and give your verdict.'
    """
    if hint == "none":
        return ""
    winner = sample.label if hint == "positive" else ("b" if sample.label == "a" else "a")
    loser = "b" if winner == "a" else "a"
    return f"Given that Response ({winner}) is better than Response ({loser}), explain why and give your verdict."


def render_user_turn(sample: JudgeSample, spec: PromptSpec = PromptSpec()) -> str:
    """The judge's user message for `sample` in its current order.

    >>> s = JudgeSample("1", "t", [{"role": "user", "content": "2+2?"}], "4", "5", "a")
    >>> "[The Start of Response (b)]\\n5\\n[The End of Response (b)]" in render_user_turn(s)
    True
    """
    instruction = (_FULL if spec.instruction == "full" else _COMPACT)[spec.family]
    parts = [instruction]
    hint = hint_text(sample, spec.hint)
    if hint:
        parts.append(hint)
    parts.append(
        f"[The Start of User Question]\n{conversation_block(sample.conversation)}\n[The End of User Question]"
    )
    parts.append(f"[The Start of Response (a)]\n{sample.response_a}\n[The End of Response (a)]")
    parts.append(f"[The Start of Response (b)]\n{sample.response_b}\n[The End of Response (b)]")
    return "\n\n".join(parts)


def render_messages(sample: JudgeSample, spec: PromptSpec = PromptSpec()) -> list[dict[str, str]]:
    """The chat messages a judge sees (one user turn). Usage: render_messages(sample, PromptSpec("cot"))."""
    return [{"role": "user", "content": render_user_turn(sample, spec)}]


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

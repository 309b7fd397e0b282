"""Which teacher judgements become SFT traces: the strict parser, the label, the thinking budget.

A judgement is read by judgerl.judge_spec.parser (the last verdict after the last `</think>`). It is
accepted when the verdict equals the label and, in the strength family, the strength equals the
sample's (unless the stage is `verdict_only`, or the sample has no strength). Its thinking must
be non-empty in a thinking family. Thinking over the token budget is trimmed or dropped by the
stage's rule; every step is linear in the length of the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from judgerl.core.types import JudgeSample
from judgerl.judge_spec.parser import failure_kind
from judgerl.judge_spec.reading import read
from judgerl.judge_spec.spec import JudgeSpec

WRONG_VERDICT = "wrong verdict"
WRONG_STRENGTH = "wrong strength"
EMPTY_THINKING = "empty thinking"
OVER_BUDGET = "over budget"
_WORD = re.compile(r"\S+")
_BREAK = re.compile(r"(?:\n|[.!?](?=\s))")


@dataclass(frozen=True)
class Decision:
    """The verdict read from one answer, and whether (and as what thinking) it is kept.

    `reason` is "" for an accepted answer, else a parse failure kind ("parse: no verdict
    sentence") or one of the rejection reasons above.
    """

    choice: str | None
    strength: int | None
    reason: str
    thinking: str = ""
    thinking_tokens: int = 0
    trimmed: bool = False

    @property
    def accepted(self) -> bool:
        """True when the answer becomes a trace. Usage: kept = [d for d in decisions if d.accepted]"""
        return not self.reason

    def to_dict(self) -> dict[str, Any]:
        """The row of judgements.jsonl (without the thinking, which traces.jsonl holds).

        Usage: rows.append({"id": sample.id, **decision.to_dict()})
        """
        return {
            "choice": self.choice,
            "strength": self.strength,
            "accepted": self.accepted,
            "reason": self.reason,
            "thinking_tokens": self.thinking_tokens,
            "trimmed": self.trimmed,
        }


class TokenCounter:
    """Counts thinking tokens with a tokenizer (fast tokenizers' offsets), else whitespace words.

    `cut(text, k)` is the text up to the end of its k-th token.

    >>> TokenCounter().count("one two  three"), TokenCounter().cut("one two three", 2)
    (3, 'one two')
    """

    def __init__(self, tokenizer: Any = None) -> None:
        if tokenizer is not None and not getattr(tokenizer, "is_fast", False):
            raise ValueError("the thinking-token counter needs a fast tokenizer (offset mapping)")
        self.tokenizer = tokenizer

    def _ends(self, text: str) -> list[int]:
        if self.tokenizer is None:
            return [m.end() for m in _WORD.finditer(text)]
        enc = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        return [end for _, end in enc["offset_mapping"]]

    def count(self, text: str) -> int:
        """Tokens in `text`. Usage: counter.count(thinking)"""
        return len(self._ends(text))

    def cut(self, text: str, k: int) -> str:
        """`text` up to the end of its k-th token (all of it when shorter). Usage: counter.cut(t, 4096)"""
        ends = self._ends(text)
        return text if len(ends) <= k else text[: ends[k - 1]]


def trim_thinking(text: str, counter: TokenCounter, budget: int) -> str:
    """The first `budget` tokens of `text`, ended at the last line or sentence break in their second
    half (so the trace does not stop mid-sentence), else at the budget.

    >>> trim_thinking("First point. Second point is long", TokenCounter(), 4)
    'First point.'
    """
    head = counter.cut(text, budget)
    breaks = [m.end() for m in _BREAK.finditer(head)]
    if breaks and breaks[-1] >= len(head) // 2:
        head = head[: breaks[-1]]
    return head.rstrip()


@dataclass(frozen=True)
class AcceptRules:
    """The stage's acceptance settings. Usage: decide(text, sample, AcceptRules(builtin_spec("strength")))"""

    spec: JudgeSpec
    verdict_only: bool = False
    max_thinking_tokens: int | None = None
    over_budget: str = "drop"
    counter: TokenCounter = TokenCounter()


def decide(text: str, sample: JudgeSample, rules: AcceptRules) -> Decision:
    """Read one answer (for `sample` in its shown order) and decide whether it becomes a trace.

    >>> from judgerl.judge_spec.presets import builtin_spec
    >>> s = JudgeSample("1", "t", [{"role": "user", "content": "q"}], "x", "y", "b", 2)
    >>> good = "<think>y is right</think>\\nTherefore, Response (b) is better, and the strength is [[2]]."
    >>> rules = AcceptRules(builtin_spec("strength"))
    >>> decide(good, s, rules).accepted, decide(good.replace("[[2]]", "[[1]]"), s, rules).reason
    (True, 'wrong strength')
    """
    spec = rules.spec
    verdict = read(spec, text)
    kind = failure_kind(verdict)
    if kind or verdict.choice is None:
        return Decision(verdict.choice, verdict.strength, f"parse: {kind or 'no verdict'}")
    thinking = verdict.thinking.strip()
    tokens = rules.counter.count(thinking) if rules.max_thinking_tokens else 0

    def rejected(reason: str) -> Decision:
        return Decision(verdict.choice, verdict.strength, reason, thinking_tokens=tokens)

    if verdict.choice != sample.label:
        return rejected(WRONG_VERDICT)
    target = sample.abs_strength
    if spec.wants_strength and target is not None and not rules.verdict_only and verdict.strength != target:
        return rejected(WRONG_STRENGTH)
    if spec.wants_thinking and not thinking:
        return rejected(EMPTY_THINKING)
    trimmed = False
    budget = rules.max_thinking_tokens
    if budget is not None and tokens > budget:
        if rules.over_budget == "drop":
            return rejected(OVER_BUDGET)
        thinking, trimmed = trim_thinking(thinking, rules.counter, budget), True
    return Decision(verdict.choice, verdict.strength, "", thinking, tokens, trimmed)


def trace_sample(sample: JudgeSample, decision: Decision, meta: dict[str, Any]) -> JudgeSample:
    """The judge sample (in the order the teacher saw) that the `sft` stage trains on as it is.

    The thinking goes to metadata["thinking"] / ["thinking_order"]. A sample without a strength
    takes the teacher's (metadata["strength_source"] = "teacher"), so the strength family's target
    sentence is the one the teacher reasoned to. The source gets a ":distilled" suffix, which keeps
    the synthetic task's programmatic trace from replacing the distilled one.

    Usage: write_samples("traces.jsonl", [trace_sample(shown, d, {"teacher": name}) ...])
    """
    strength = sample.strength
    metadata = {**sample.metadata, **meta, "thinking": decision.thinking, "thinking_order": sample.order}
    if strength is None and decision.strength is not None:
        strength = -decision.strength if sample.label == "a" else decision.strength
        metadata["strength_source"] = "teacher"
    return JudgeSample(
        id=sample.id,
        source=f"{sample.source}:distilled",
        conversation=sample.conversation,
        response_a=sample.response_a,
        response_b=sample.response_b,
        label=sample.label,
        strength=strength,
        subset=sample.subset,
        metadata=metadata,
    )

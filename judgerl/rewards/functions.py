"""Reward functions: one judgement in, a score with its parsed verdict and details out.

Contract: `f(sample, completion, **options) -> RewardResult`. Every result's details hold at
least `parsed` (a verdict was found), `correct` (None when unparsed) and `reason` (the
parser's failure reason, '' when none). Engine adapters live in `judgerl.rewards.adapters`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from judgerl.core.types import JudgeSample, Verdict
from judgerl.judge_spec.parser import parse_verdict, verdict_is_strict
from judgerl.judge_spec.verdicts import THINK_CLOSE, THINK_OPEN

STRENGTH_SPAN = 8.0  # Think-J: 1 - ||g| - k| / 8 keeps a right verdict in [0.75, 1]
MISSING_STRENGTH_SCORE = 0.5

_STRICT_SENTENCE = re.compile(
    r"(?:therefore\s*,\s*)?response\s*\(\s*[ab]\s*\)\s*is\s+better"
    r"(?P<strength>\s*(?:,\s*)?and\s+the\s+strength\s+is\s*\[\[\s*[1-3]\s*\]\])?\s*\.?",  # linear: no adjacent \s*
    re.IGNORECASE,
)


@dataclass(frozen=True)
class RewardResult:
    """A reward's score, the verdict it was computed from, and per-reward details.

    >>> RewardResult(1.0, Verdict("a"), {"parsed": True}).score
    1.0
    """

    score: float
    verdict: Verdict
    details: dict[str, Any] = field(default_factory=dict)


def _opposite(label: str) -> str:
    return "b" if label == "a" else "a"


def _details(verdict: Verdict, label: str) -> dict[str, Any]:
    return {
        "parsed": verdict.ok,
        "correct": None if not verdict.ok else verdict.choice == label,
        "reason": verdict.reason,
        "choice": verdict.choice,
        "strength": verdict.strength,
    }


def correctness_reward(
    sample: JudgeSample, completion: str, *, unparseable_score: float = 0.0
) -> RewardResult:
    """1 for the right verdict, 0 for the wrong one, `unparseable_score` (default 0) for none.

    The seed's `cot` reward paid 0.5 for an unparseable answer (above a wrong one); that is
    available only as `unparseable_score=0.5`.

    >>> s = JudgeSample("1", "t", [{"role": "user", "content": "q"}], "x", "y", "a")
    >>> correctness_reward(s, "Therefore, Response (a) is better.").score
    1.0
    >>> correctness_reward(s, "I cannot decide.", unparseable_score=0.5).score
    0.5
    """
    verdict = parse_verdict(completion)
    details = _details(verdict, sample.label)
    right = details["correct"]
    return RewardResult(float(unparseable_score) if right is None else float(right), verdict, details)


def strength_reward(sample: JudgeSample, completion: str) -> RewardResult:
    """Think-J strength reward: 1 - ||g| - k| / 8 when the verdict is right, else 0.

    g is the sample's signed strength, k the parsed one. Unparseable or wrong: 0. Right but
    k missing or outside 1..3: 0.5. Right with the sample's strength unknown (None): 1.0,
    since there is nothing to compare k against.

    >>> s = JudgeSample("1", "t", [{"role": "user", "content": "q"}], "x", "y", "a", -2)
    >>> strength_reward(s, "...Response (a) is better, and the strength is [[3]].").score
    0.875
    """
    verdict = parse_verdict(completion, require_strength=True)
    details = _details(verdict, sample.label)
    details["target_strength"] = sample.abs_strength
    if not details["correct"]:
        score = 0.0
    elif verdict.strength is None:
        score = MISSING_STRENGTH_SCORE
    elif sample.abs_strength is None:
        score = 1.0
    else:
        score = 1.0 - abs(sample.abs_strength - verdict.strength) / STRENGTH_SPAN
    return RewardResult(score, verdict, details)


def is_well_formed(completion: str, require_strength: bool = False) -> bool:
    """True for `<think>...</think>` (non-empty) followed by exactly one verdict sentence.

    >>> is_well_formed("<think>\\nB is right.\\n</think>\\n\\nTherefore, Response (b) is better.")
    True
    >>> is_well_formed("Therefore, Response (b) is better.")
    False
    """
    if not isinstance(completion, str):
        return False
    text = completion.strip()
    if not text.startswith(THINK_OPEN) or text.count(THINK_OPEN) != 1 or text.count(THINK_CLOSE) != 1:
        return False
    thinking, _, tail = text[len(THINK_OPEN) :].partition(THINK_CLOSE)
    if not thinking.strip():
        return False
    match = _STRICT_SENTENCE.fullmatch(tail.strip())
    if match is None:
        return False
    return match.group("strength") is not None or not require_strength


def format_reward(sample: JudgeSample, completion: str, *, require_strength: bool = False) -> RewardResult:
    """1 when the completion is a thinking block then exactly one verdict sentence, else 0.

    With `require_strength=True` the sentence must end with "and the strength is [[k]]".

    >>> s = JudgeSample("1", "t", [{"role": "user", "content": "q"}], "x", "y", "a")
    >>> format_reward(s, "<think>ok</think>\\nTherefore, Response (b) is better.").score
    1.0
    """
    verdict = parse_verdict(completion, require_strength=require_strength)
    details = _details(verdict, sample.label)
    well_formed = is_well_formed(completion, require_strength) and verdict_is_strict(
        verdict, require_strength
    )
    details["well_formed"] = well_formed
    return RewardResult(1.0 if well_formed else 0.0, verdict, details)


def consistency_reward(
    sample: JudgeSample, completion: str, *, partners: list[str] | None = None
) -> RewardResult:
    """J1 position consistency: correct(this) * mean(correct(partner) for each partner).

    `partners` are completions of the same item shown in the OTHER order, so each is right
    when it names the opposite letter of `sample.label`. With no partners the score falls
    back to plain correctness and details["partner_missing"] is True.

    >>> s = JudgeSample("1", "t", [{"role": "user", "content": "q"}], "x", "y", "a")
    >>> other = ["Response (b) is better.", "Response (a) is better."]
    >>> consistency_reward(s, "Response (a) is better.", partners=other).score
    0.5
    """
    verdict = parse_verdict(completion)
    details = _details(verdict, sample.label)
    this_right = 1.0 if details["correct"] else 0.0
    if not partners:
        details.update(partner_missing=True, partner_correct=[])
        return RewardResult(this_right, verdict, details)
    expected = _opposite(sample.label)
    partner_correct = [parse_verdict(p).choice == expected for p in partners]
    details.update(partner_missing=False, partner_correct=partner_correct)
    return RewardResult(this_right * sum(partner_correct) / len(partner_correct), verdict, details)

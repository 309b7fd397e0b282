"""Reward functions: one judgement in, a score with its parsed verdict and details out.

Contract: `f(sample, completion, **options) -> RewardResult`. Every result's details hold at
least `parsed` (a verdict was found), `correct` (None when unparsed) and `reason` (the
parser's failure reason, '' when none). A reward that takes `judge_spec` reads the completion with
that spec's verdict format and pays by its reward rules (the adapters pass the stage's spec);
without one it reads judgerl's default format. Engine adapters live in `judgerl.rewards.adapters`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from judgerl.core.types import JudgeSample, Verdict
from judgerl.judge_spec.parser import STRENGTH_RANGE, parse_verdict, verdict_is_strict
from judgerl.judge_spec.reading import read
from judgerl.judge_spec.spec import JudgeSpec, RewardRules
from judgerl.judge_spec.verdicts import THINK_CLOSE, THINK_OPEN

_DEFAULT_RULES = RewardRules()
STRENGTH_SPAN = _DEFAULT_RULES.strength_span  # Think-J: 1 - ||g| - k| / 8 keeps a right verdict in [0.75, 1]
MISSING_STRENGTH_SCORE = _DEFAULT_RULES.missing_strength


def _verdict(completion: str, judge_spec: JudgeSpec | None, require_strength: bool = False) -> Verdict:
    if judge_spec is None:
        return parse_verdict(completion, require_strength=require_strength)
    return read(judge_spec, completion)


def _rules(judge_spec: JudgeSpec | None) -> RewardRules:
    return _DEFAULT_RULES if judge_spec is None else judge_spec.reward


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
    sample: JudgeSample,
    completion: str,
    *,
    unparseable_score: float | None = None,
    judge_spec: JudgeSpec | None = None,
) -> RewardResult:
    """1 for the right verdict, the spec's `wrong` (0) for a wrong one or a tie, `unparseable_score`
    (default: the spec's `unparsed`, 0) for none.

    The seed's `cot` reward paid 0.5 for an unparseable answer (above a wrong one); that is
    available only as `unparseable_score=0.5`.

    >>> s = JudgeSample("1", "t", [{"role": "user", "content": "q"}], "x", "y", "a")
    >>> correctness_reward(s, "Therefore, Response (a) is better.").score
    1.0
    >>> correctness_reward(s, "I cannot decide.", unparseable_score=0.5).score
    0.5
    """
    verdict = _verdict(completion, judge_spec)
    details = _details(verdict, sample.label)
    rules = _rules(judge_spec)
    if details["correct"] is None:
        score = rules.unparsed if unparseable_score is None else float(unparseable_score)
    elif details["correct"]:
        score = 1.0
    else:
        score = rules.tie if verdict.choice == "tie" else rules.wrong
    return RewardResult(float(score), verdict, details)


def strength_reward(
    sample: JudgeSample, completion: str, *, judge_spec: JudgeSpec | None = None
) -> RewardResult:
    """Think-J strength reward: 1 - ||g| - k| / 8 when the verdict is right, else 0.

    g is the sample's signed strength, k the parsed one. Unparseable or wrong: 0. Right but k
    missing: 0.5 by judgerl's rules (Think-J's `reward_strength` pays 0: `reward: thinkj`); right
    with k outside 1..3: 0.5 (both). Right with the sample's strength unknown (None): 1.0, since
    there is nothing to compare k against. Each amount is the judge spec's reward rules.

    >>> s = JudgeSample("1", "t", [{"role": "user", "content": "q"}], "x", "y", "a", -2)
    >>> strength_reward(s, "...Response (a) is better, and the strength is [[3]].").score
    0.875
    """
    verdict = _verdict(completion, judge_spec, require_strength=True)
    details = _details(verdict, sample.label)
    details["target_strength"] = sample.abs_strength
    rules = _rules(judge_spec)
    if details["correct"] is None:
        score = rules.unparsed
    elif not details["correct"]:
        score = rules.tie if verdict.choice == "tie" else rules.wrong
    elif verdict.strength is None:
        invalid = verdict.reason.startswith(STRENGTH_RANGE)
        details["strength_problem"] = "out of range" if invalid else "missing"
        score = rules.invalid_strength if invalid else rules.missing_strength
    elif sample.abs_strength is None:
        score = 1.0
    else:
        score = 1.0 - abs(sample.abs_strength - verdict.strength) / rules.strength_span
    return RewardResult(float(score), verdict, details)


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


def format_reward(
    sample: JudgeSample,
    completion: str,
    *,
    require_strength: bool = False,
    judge_spec: JudgeSpec | None = None,
) -> RewardResult:
    """1 when the completion is a thinking block then exactly one verdict sentence, else 0.

    With `require_strength=True` the sentence must end with "and the strength is [[k]]". Under a judge
    spec whose format is not judgerl's, well formed means: the thinking block (where the spec thinks),
    then text the spec's format reads with no problem.

    >>> s = JudgeSample("1", "t", [{"role": "user", "content": "q"}], "x", "y", "a")
    >>> format_reward(s, "<think>ok</think>\\nTherefore, Response (b) is better.").score
    1.0
    """
    if judge_spec is not None and judge_spec.verdict.format != "judgerl":
        verdict = read(judge_spec, completion)
        details = _details(verdict, sample.label)
        text = completion.strip() if isinstance(completion, str) else ""
        thinks = not judge_spec.wants_thinking or (
            text.startswith(THINK_OPEN) and text.count(THINK_CLOSE) == 1
        )
        well_formed = thinks and verdict.ok and not verdict.reason
        details["well_formed"] = well_formed
        return RewardResult(1.0 if well_formed else 0.0, verdict, details)
    require_strength = require_strength or (judge_spec is not None and judge_spec.wants_strength)
    verdict = parse_verdict(completion, require_strength=require_strength)
    details = _details(verdict, sample.label)
    well_formed = is_well_formed(completion, require_strength) and verdict_is_strict(
        verdict, require_strength
    )
    details["well_formed"] = well_formed
    return RewardResult(1.0 if well_formed else 0.0, verdict, details)


def consistency_reward(
    sample: JudgeSample,
    completion: str,
    *,
    partners: list[str] | None = None,
    judge_spec: JudgeSpec | None = None,
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
    verdict = _verdict(completion, judge_spec)
    details = _details(verdict, sample.label)
    this_right = 1.0 if details["correct"] else 0.0
    if not partners:
        details.update(partner_missing=True, partner_correct=[])
        return RewardResult(this_right, verdict, details)
    expected = _opposite(sample.label)
    partner_correct = [_verdict(p, judge_spec).choice == expected for p in partners]
    details.update(partner_missing=False, partner_correct=partner_correct)
    return RewardResult(this_right * sum(partner_correct) / len(partner_correct), verdict, details)

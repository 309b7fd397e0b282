"""Strict verdict parsing: the LAST verdict sentence after the thinking block.

The seed's loose parser returned (a) whenever "Response (a) is better" appeared anywhere,
checked before (b); a thinking trace that weighs (a) then concludes (b) was scored as (a).
Here only the text after the last `</think>` counts, and within it the last verdict wins.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from judgerl.core.types import MAX_STRENGTH, Verdict
from judgerl.judge_spec.verdicts import THINK_CLOSE, THINK_OPEN

EMPTY = "empty completion"
UNCLOSED = "unclosed thinking block"
NO_VERDICT = "no verdict sentence"
STRENGTH_MISSING = "strength missing"
STRENGTH_RANGE = "strength out of range"
FAILURE_REASONS: tuple[str, ...] = (EMPTY, UNCLOSED, NO_VERDICT, STRENGTH_MISSING, STRENGTH_RANGE)

# "Therefore, Response (a) is better", "response A is much better", "Response ( B ) is better".
# Linear time on any text: no two whitespace runs are ever adjacent (`\s*,?\s*` would let a run of
# spaces split between them in quadratically many ways, and three such runs cubically: 17 s on
# 800 spaces), so every run of spaces belongs to exactly one `\s*`.
_VERDICT_RE = re.compile(
    r"(?:therefore\s*(?:,\s*)?)?response\s*(?:\(\s*([ab])\s*\)|([ab])\b)\s*is\s+(?:slightly\s+|much\s+)?better",
    re.IGNORECASE,
)
_BRACKETED_RE = re.compile(r"\[\[\s*([+-]?\d+)\s*\]\]")
_UNBRACKETED_RE = re.compile(r"strength\s*(?:(?:is|of|:|=)\s*)?(?:\[\s*)?([+-]?\d+)", re.IGNORECASE)
_MAX_DIGITS = 6  # int() of a huge digit run is slow (and capped by Python); it is out of range anyway


def _split_thinking(text: str) -> tuple[str, str, bool]:
    """(thinking, final region, closed). A template may put `<think>` in the prompt, so a
    completion with only `</think>` is well formed."""
    last_open = text.rfind(THINK_OPEN)
    last_close = text.rfind(THINK_CLOSE)
    if last_open > last_close:
        return text[last_open + len(THINK_OPEN) :].strip(), "", False
    if last_close < 0:
        return "", text, True
    head = text[:last_close]
    first_open = head.find(THINK_OPEN)
    if first_open >= 0:
        head = head[first_open + len(THINK_OPEN) :]
    return head.strip(), text[last_close + len(THINK_CLOSE) :], True


def thinking_of(text: str) -> str:
    """The thinking of a completion (inside its <think> block; '' when it has none), whatever its verdict format.

    >>> thinking_of("<think>compare</think> [[A]]")
    'compare'
    """
    return _split_thinking(text if isinstance(text, str) else "")[0]


def _strength(region: str) -> str | None:
    found = _BRACKETED_RE.search(region) or _UNBRACKETED_RE.search(region)
    return found.group(1) if found else None


def parse_verdict(text: str, require_strength: bool = False) -> Verdict:
    """Parse a judge completion into a Verdict; never raises.

    >>> parse_verdict("<think>(a) looks fine</think>\\nTherefore, Response (b) is better, and the strength is [[2]].")
    Verdict(choice='b', strength=2, reason='', thinking='(a) looks fine')
    >>> parse_verdict("Response (a) is better, and the strength is [[7]].").reason
    'strength out of range: 7'
    """
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    if not text.strip():
        return Verdict(choice=None, reason=EMPTY)
    thinking, region, closed = _split_thinking(text)
    if not closed:
        return Verdict(choice=None, reason=UNCLOSED, thinking=thinking)
    matches = list(_VERDICT_RE.finditer(region))
    if not matches:
        return Verdict(choice=None, reason=NO_VERDICT, thinking=thinking)
    last = matches[-1]
    choice = (last.group(1) or last.group(2)).lower()
    raw = _strength(region[last.start() :])
    if raw is None:
        reason = STRENGTH_MISSING if require_strength else ""
        return Verdict(choice=choice, strength=None, reason=reason, thinking=thinking)
    digits = raw.lstrip("+-")
    value = int(raw) if len(digits) <= _MAX_DIGITS else None
    if value is None or not 1 <= value <= MAX_STRENGTH:
        shown = raw if value is not None else raw[:_MAX_DIGITS] + "..."
        return Verdict(choice=choice, strength=None, reason=f"{STRENGTH_RANGE}: {shown}", thinking=thinking)
    return Verdict(choice=choice, strength=value, reason="", thinking=thinking)


def failure_kind(verdict: Verdict) -> str:
    """The FAILURE_REASONS entry a verdict's reason falls under ('' when none).

    >>> failure_kind(Verdict(choice="a", reason="strength out of range: 9"))
    'strength out of range'
    """
    for kind in FAILURE_REASONS:
        if verdict.reason.startswith(kind):
            return kind
    return ""


def verdict_is_strict(verdict: Verdict, require_strength: bool = False) -> bool:
    """True when a verdict was found with no parse problem (and a valid strength if required).

    >>> verdict_is_strict(parse_verdict("Therefore, Response (a) is better."))
    True
    >>> verdict_is_strict(parse_verdict("Therefore, Response (a) is better."), require_strength=True)
    False
    """
    if not verdict.ok or failure_kind(verdict):
        return False
    return verdict.strength is not None or not require_strength


def parse_failure_rate(verdicts: Iterable[Verdict]) -> float:
    """Fraction of verdicts with no choice (0.0 for an empty input).

    >>> parse_failure_rate([parse_verdict("Response (b) is better"), parse_verdict("hmm")])
    0.5
    """
    items = list(verdicts)
    if not items:
        return 0.0
    return sum(not v.ok for v in items) / len(items)

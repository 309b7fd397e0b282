"""Parsing a judge's 0-10 score: the first number of the reply, clamped; never raises.

A judge that thinks first (`<think>...</think>`) is read after its last `</think>`, so numbers
in the reasoning never become the score. An unclosed thinking block or a reply with no number
gives no score (value None, with the reason), which the caller counts rather than hides.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from judgerl.judge_spec.parser import EMPTY, UNCLOSED, _split_thinking
from judgerl.judge_spec.score_prompts import SCORE_MAX, SCORE_MIN

NO_NUMBER = "no number"
# A sign directly before the digits, digits, an optional decimal part ("7", "-2", "8.5", ".5" is 5).
_NUMBER_RE = re.compile(r"(?<![\w.])[+-]?\d+(?:\.\d+)?|\d+(?:\.\d+)?")


@dataclass(frozen=True)
class ScoreParse:
    """A parsed score: the clamped value (None when absent), the number as written, why it failed."""

    value: float | None
    raw: str = ""
    reason: str = ""

    @property
    def ok(self) -> bool:
        """True when a score was found. Usage: parse.ok"""
        return self.value is not None


def parse_score(text: str, low: float = SCORE_MIN, high: float = SCORE_MAX) -> ScoreParse:
    """The first number of a judge's reply (after its last `</think>`), clamped to [low, high].

    >>> parse_score("7").value, parse_score(" Score: 8.5/10").value, parse_score("12 out of 10").value
    (7.0, 8.5, 10.0)
    >>> parse_score("-3").value, parse_score("<think>1 and 2</think> 6").value
    (0.0, 6.0)
    >>> parse_score("no idea")
    ScoreParse(value=None, raw='', reason='no number')
    """
    if low > high:
        raise ValueError(f"score range is empty: low {low} > high {high}")
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    if not text.strip():
        return ScoreParse(None, reason=EMPTY)
    _, region, closed = _split_thinking(text)
    if not closed:
        return ScoreParse(None, reason=UNCLOSED)
    found = _NUMBER_RE.search(region)
    if not found:
        return ScoreParse(None, reason=NO_NUMBER)
    raw = found.group(0)
    value = float(raw)  # a huge digit run is inf, which the clamp turns into `high`
    if math.isnan(value):  # pragma: no cover - the pattern admits no NaN
        return ScoreParse(None, raw, NO_NUMBER)
    return ScoreParse(min(high, max(low, value)), raw)

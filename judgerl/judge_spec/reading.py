"""A judge spec's verdict format applied to a completion: a pairwise Verdict or a pointwise score.

`format: judgerl` is judgerl's own lenient parser (judge_spec/parser.py); every other format is an
RE2 pattern (judge_spec/patterns.py) read in the region and by the match rule the spec names. Both
run in linear time on any text and never raise on model output.
"""

from __future__ import annotations

import math
from functools import lru_cache

from judgerl.core.types import Verdict
from judgerl.judge_spec.parser import (
    EMPTY,
    NO_VERDICT,
    STRENGTH_MISSING,
    STRENGTH_RANGE,
    UNCLOSED,
    _split_thinking,
    parse_verdict,
)
from judgerl.judge_spec.patterns import VerdictPattern
from judgerl.judge_spec.score_parser import NO_NUMBER, ScoreParse
from judgerl.judge_spec.spec import JudgeSpec, VerdictFormat

UNKNOWN_CHOICE = "choice not recognised"
TIE_NOT_READ = "tie is not a verdict in this spec"
SCORE_RANGE = "score out of range"
_MAX_DIGITS = 6


@lru_cache(maxsize=64)
def _compiled(pattern: str, match: str, order: tuple[tuple[str, ...], ...]) -> VerdictPattern:
    return VerdictPattern(pattern, match, order)


def _pattern(fmt: VerdictFormat) -> VerdictPattern:
    order = tuple(tuple(fmt.choices[k]) for k in ("a", "b", "tie") if k in fmt.choices)
    return _compiled(fmt.pattern or "", fmt.match, order)


def _region(fmt: VerdictFormat, text: str) -> tuple[str, str, bool]:
    """(thinking, region to read, closed)."""
    thinking, region, closed = _split_thinking(text)
    if fmt.region == "anywhere":
        return thinking, text, True
    return thinking, region, closed


def _as_text(text: object) -> str:
    return text if isinstance(text, str) else ("" if text is None else str(text))


def _strength(raw: str | None, fmt: VerdictFormat) -> tuple[int | None, str]:
    if raw is None or not raw.strip():
        return None, STRENGTH_MISSING if fmt.strength == "required" else ""
    digits = raw.strip().lstrip("+-")
    if not digits.isdigit() or len(digits) > _MAX_DIGITS:
        return None, f"{STRENGTH_RANGE}: {raw.strip()[:_MAX_DIGITS]}"
    value = int(raw.strip())
    lo, hi = fmt.strength_range
    if not lo <= value <= hi:
        return None, f"{STRENGTH_RANGE}: {value}"
    return value, ""


def read_verdict(fmt: VerdictFormat, text: object) -> Verdict:
    """The verdict `fmt` reads in a completion; never raises.

    >>> from judgerl.judge_spec.presets import builtin_spec
    >>> read_verdict(builtin_spec("mtbench").verdict, "A is fine, B is wrong. [[A]]").choice
    'a'
    >>> read_verdict(builtin_spec("mtbench").verdict, "Equally good: [[C]]").choice
    'tie'
    """
    text = _as_text(text)
    if fmt.format == "judgerl":
        return parse_verdict(text, require_strength=fmt.wants_strength)
    if not text.strip():
        return Verdict(choice=None, reason=EMPTY)
    thinking, region, closed = _region(fmt, text)
    if not closed:
        return Verdict(choice=None, reason=UNCLOSED, thinking=thinking)
    found = _pattern(fmt).find(region)
    if found is None:
        return Verdict(choice=None, reason=NO_VERDICT, thinking=thinking)
    said = (found.groups.get("choice") or "").strip()
    choice = next((k for k, texts in fmt.choices.items() if said in texts), None)
    if choice is None:
        return Verdict(choice=None, reason=f"{UNKNOWN_CHOICE}: {said[:20]!r}", thinking=thinking)
    if choice == "tie" and not fmt.ties:
        return Verdict(choice=None, reason=TIE_NOT_READ, thinking=thinking)
    if choice == "tie" or fmt.strength == "none":
        return Verdict(choice=choice, thinking=thinking)  # type: ignore[arg-type]
    strength, reason = _strength(found.groups.get("strength"), fmt)
    return Verdict(choice=choice, strength=strength, reason=reason, thinking=thinking)  # type: ignore[arg-type]


def _last_line(region: str) -> str:
    body = region.rstrip()
    return body[body.rfind("\n") + 1 :]


def read_score(fmt: VerdictFormat, text: object) -> ScoreParse:
    """The score `fmt` reads in a reply (value None with the reason when there is none); never raises.

    >>> from judgerl.judge_spec.presets import builtin_spec
    >>> fmt = builtin_spec("score").verdict
    >>> read_score(fmt, "Score: 8/10").value, read_score(fmt, "The answer is 4.").reason
    (8.0, 'no number')
    """
    text = _as_text(text)
    if not text.strip():
        return ScoreParse(None, reason=EMPTY)
    _, region, closed = _region(fmt, text)
    if not closed:
        return ScoreParse(None, reason=UNCLOSED)
    if fmt.slot == "last_line":
        region = _last_line(region)
    found = _pattern(fmt).find(region)
    raw = (found.groups.get("score") or "").strip() if found else ""
    if not raw:
        return ScoreParse(None, reason=NO_NUMBER)
    value = float(raw)
    if math.isnan(value):  # pragma: no cover - the presets admit no NaN
        return ScoreParse(None, raw, NO_NUMBER)
    lo, hi = fmt.score_range
    if not lo <= value <= hi:
        if fmt.out_of_range == "fail":
            return ScoreParse(None, raw, f"{SCORE_RANGE}: {raw}")
        value = min(hi, max(lo, value))
    return ScoreParse(value, raw)


def read(spec: JudgeSpec, text: object) -> Verdict:
    """A pairwise spec's verdict of a completion. Usage: verdict = read(spec, completion)"""
    return read_verdict(spec.verdict, text)

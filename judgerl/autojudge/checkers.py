"""Final-answer checkers for mining: extract an answer from a completion and decide equivalence.

A checker is any object with `extract(text) -> str | None` and `same(a, b) -> bool`. Built in:
"gsm8k" (`#### n`, else the last number; math-verify when installed) and "synthetic" (the addition
judge's verdict and strength via the strict verdict parser). Add more with `register_checker`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Protocol

from judgerl.rewards.parser import parse_verdict

_HASH_RE = re.compile(r"####\s*([-+]?[\d,]*\.?\d+)")
_NUMBER_RE = re.compile(r"[-+]?\d[\d,]*\.?\d*|[-+]?\.\d+")


class AnswerChecker(Protocol):
    """Extracts a final answer from a completion and compares two answers."""

    def extract(self, text: str) -> str | None:
        """The final answer of `text`, or None when there is none."""
        ...

    def same(self, a: str | None, b: str | None) -> bool:
        """True when answers `a` and `b` are equivalent."""
        ...


class GSM8KChecker:
    """GSM8K answers: the number after `####`, else the last number; numeric equality.

    >>> c = GSM8KChecker()
    >>> c.extract("so 3 + 4 = 7\\n#### 7"), c.extract("it is 1,200 apples."), c.extract("none")
    ('7', '1200', None)
    >>> c.same("7", "7.0"), c.same("7", "8"), c.same(None, None)
    (True, False, True)
    """

    def extract(self, text: str) -> str | None:
        """The `#### n` answer, else the last number of `text` (commas removed)."""
        found = _HASH_RE.findall(text)
        nums = found or _NUMBER_RE.findall(text)
        if not nums:
            return None
        return nums[-1].replace(",", "").rstrip(".")

    def same(self, a: str | None, b: str | None) -> bool:
        """Numeric equality (math-verify when installed); two missing answers count as equal."""
        if a is None or b is None:
            return a is None and b is None
        try:
            import math_verify  # optional; imported lazily
        except ImportError:
            math_verify = None
        if math_verify is not None:
            return bool(math_verify.verify(math_verify.parse(a), math_verify.parse(b)))
        try:
            return abs(float(a) - float(b)) < 1e-9
        except ValueError:
            return a.strip() == b.strip()


class VerdictChecker:
    """Judge completions: the parsed verdict (and strength) after `</think>`; equal when both match.

    >>> c = VerdictChecker()
    >>> c.extract("<think>x</think>\\nTherefore, Response (b) is better, and the strength is [[2]].")
    'b:2'
    >>> c.extract("no verdict") is None, c.same("b:2", "b:1")
    (True, False)
    """

    def __init__(self, with_strength: bool = True) -> None:
        self.with_strength = with_strength

    def extract(self, text: str) -> str | None:
        """The verdict as choice:strength (or the choice alone), None when no verdict parses."""
        v = parse_verdict(text)
        if v.choice is None:
            return None
        return f"{v.choice}:{v.strength}" if self.with_strength else v.choice

    def same(self, a: str | None, b: str | None) -> bool:
        """String equality; two unparseable completions count as the same (failed) answer."""
        return a == b


_CHECKERS: dict[str, Callable[..., Any]] = {
    "gsm8k": GSM8KChecker,
    "synthetic": VerdictChecker,
    "verdict": lambda: VerdictChecker(with_strength=False),
}


def register_checker(name: str, factory: Callable[..., Any]) -> None:
    """Register a checker factory under `name`. Usage: register_checker("code", CodeTestsChecker)."""
    if not name:
        raise ValueError("a checker needs a non-empty name")
    _CHECKERS[name] = factory


def get_checker(name: str, **kwargs: Any) -> AnswerChecker:
    """Build the checker registered as `name`.

    >>> get_checker("gsm8k").extract("#### 42")
    '42'
    """
    if name not in _CHECKERS:
        raise ValueError(f"unknown answer checker {name!r} (known: {', '.join(sorted(_CHECKERS))})")
    return _CHECKERS[name](**kwargs)

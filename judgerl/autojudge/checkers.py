"""Final-answer checkers for mining: extract an answer from a completion and decide equivalence.

A checker is any object with `extract(text) -> str | None` and `same(a, b) -> bool`. Built in:
"gsm8k" (`judgerl.data_prep.answers`: `#### n`, else math-verify's final answer), "synthetic" (the
addition judge's verdict and strength via the strict verdict parser) and "verdict" (the choice
alone). They live in `CHECKERS` (a `judgerl.core.registry.Registry`); add more with
`register_checker`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from judgerl.core.registry import Registry
from judgerl.data_prep.answers import answers_equal, extract_answer
from judgerl.judge_spec.parser import parse_verdict


class AnswerChecker(Protocol):
    """Extracts a final answer from a completion and compares two answers."""

    def extract(self, text: str) -> str | None:
        """The final answer of `text`, or None when there is none.

        Usage: answer = checker.extract(completion)
        """
        ...

    def same(self, a: str | None, b: str | None) -> bool:
        """True when answers `a` and `b` are equivalent.

        Usage: checker.same(answer, reference_answer)
        """
        ...


class GSM8KChecker:
    """GSM8K answers: the number after `####`, else math-verify's final answer; equality by value.

    >>> c = GSM8KChecker()
    >>> c.extract("so 3 + 4 = 7\\n#### 7"), c.extract("it is 1,200 apples."), c.extract("none")
    ('7', '1200', None)
    >>> c.same("7", "7.0"), c.same("7", "8"), c.same(None, None)
    (True, False, True)
    """

    def extract(self, text: str) -> str | None:
        """The final answer of `text` (`judgerl.data_prep.answers.extract_answer`).

        Usage: GSM8KChecker().extract("so 3 + 4 = 7\n#### 7")  # '7'
        """
        return extract_answer(text)

    def same(self, a: str | None, b: str | None) -> bool:
        """Equal by value (math-verify); two missing answers count as equal.

        Usage: GSM8KChecker().same("7", "7.0")  # True
        """
        if a is None or b is None:
            return a is None and b is None
        return answers_equal(a, b)


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
        """The verdict as choice:strength (or the choice alone), None when no verdict parses.

        Usage: VerdictChecker().extract(completion)  # 'b:2'
        """
        v = parse_verdict(text)
        if v.choice is None:
            return None
        return f"{v.choice}:{v.strength}" if self.with_strength else v.choice

    def same(self, a: str | None, b: str | None) -> bool:
        """String equality; two unparseable completions count as the same (failed) answer.

        Usage: VerdictChecker().same("b:2", "b:1")  # False
        """
        return a == b


def verdict_only_checker() -> VerdictChecker:
    """The "verdict" checker: the verdict's choice alone, strength ignored.

    Usage: get_checker("verdict")
    """
    return VerdictChecker(with_strength=False)


CHECKERS: Registry[Callable[..., Any]] = Registry("answer checker")
CHECKERS.add("gsm8k", GSM8KChecker)
CHECKERS.add("synthetic", VerdictChecker)
CHECKERS.add("verdict", verdict_only_checker)


def register_checker(name: str, factory: Callable[..., Any]) -> None:
    """Register a checker factory under `name`; another factory under a taken name is a `RegistryError`.

    Usage: register_checker("code", CodeTestsChecker)
    """
    CHECKERS.add(name, factory)


def get_checker(name: str, **kwargs: Any) -> AnswerChecker:
    """Build the checker registered as `name` (an unknown name lists the known ones).

    Usage: checker = get_checker("gsm8k")

    >>> get_checker("gsm8k").extract("#### 42")
    '42'
    """
    return CHECKERS.get(name)(**kwargs)

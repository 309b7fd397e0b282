"""User-given verdict patterns, matched by RE2 (google-re2): linear time on any text, no backtracking.

A pattern names what it reads with groups: `(?P<choice>...)` (a / b / tie), `(?P<strength>...)`
(an integer), `(?P<score>...)` (a number). "first" is one search; "last" is one search of
`(?s:.*)(?:PATTERN)`, whose greedy prefix puts the match at the latest start; "choice_order"
searches once per verdict with the choice group narrowed to that verdict's texts. Each is a fixed
number of RE2 searches, so reading stays linear in the text's length whatever the pattern.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

GROUPS = ("choice", "strength", "score")
_MAX_PATTERN = 2_000


def _re2() -> Any:
    try:
        import re2
    except ImportError as e:  # pragma: no cover - a core dependency
        raise RuntimeError("verdict patterns need the google-re2 package: pip install google-re2") from e
    return re2


def compile_pattern(pattern: str) -> Any:
    """An RE2 pattern object; ValueError with RE2's own message when the pattern is not valid RE2.

    >>> compile_pattern(r"\\[\\[(?P<choice>[AB])\\]\\]").groupindex["choice"]
    1
    """
    if len(pattern) > _MAX_PATTERN:
        raise ValueError(f"pattern has {len(pattern):,} characters (at most {_MAX_PATTERN:,})")
    re2 = _re2()
    try:
        return re2.compile(pattern)
    except re2.error as e:
        raise ValueError(f"not a valid RE2 pattern ({e}): {pattern!r}") from None


def group_span(pattern: str, name: str) -> tuple[int, int] | None:
    """The (start, end) of the body of `(?P<name>...)` in the pattern text, or None when absent.

    Escapes and character classes are skipped, so a `)` inside `[...]` or after `\\` does not end it.

    >>> p = r"x(?P<choice>[)a]|\\)b)y"
    >>> s, e = group_span(p, "choice"); p[s:e]
    '[)a]|\\\\)b'
    """
    for opener in (f"(?P<{name}>", f"(?<{name}>"):
        start = pattern.find(opener)
        if start >= 0:
            break
    else:
        return None
    i = body = start + len(opener)
    depth = 1
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "[":
            i += 1
            if i < len(pattern) and pattern[i] == "^":
                i += 1
            if i < len(pattern) and pattern[i] == "]":
                i += 1
            while i < len(pattern) and pattern[i] != "]":
                i += 2 if pattern[i] == "\\" else 1
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return body, i
        i += 1
    return None


def _escape(text: str) -> str:
    return "".join("\\" + c if not (c.isalnum() or c == "_") else c for c in text)


@dataclass(frozen=True)
class PatternMatch:
    """The text of each named group of one match (a group that took no part is None)."""

    groups: dict[str, str | None]


class VerdictPattern:
    """A compiled user pattern with its match rule.

    >>> p = VerdictPattern(r"\\[\\[(?P<choice>[ABC])\\]\\]", "last")
    >>> p.find("[[A]] then [[B]]").groups["choice"]
    'B'
    """

    def __init__(self, pattern: str, match: str, choice_texts: Sequence[Sequence[str]] = ()) -> None:
        self.pattern = pattern
        self.match = match
        self.compiled = compile_pattern(pattern)
        unknown = sorted(set(self.compiled.groupindex) - set(GROUPS))
        if unknown:
            raise ValueError(f"pattern group(s) {unknown} are not read (groups: {', '.join(GROUPS)})")
        self._last = compile_pattern(f"(?s:.*)(?:{pattern})") if match == "last" else None
        self._ordered: list[Any] = []
        if match == "choice_order":
            span = group_span(pattern, "choice")
            if span is None:
                raise ValueError("match: choice_order needs a (?P<choice>...) group")
            for texts in choice_texts:
                narrowed = "|".join(_escape(t) for t in texts)
                self._ordered.append(compile_pattern(f"{pattern[: span[0]]}{narrowed}{pattern[span[1] :]}"))

    def _result(self, found: Any) -> PatternMatch:
        return PatternMatch({name: found.group(name) for name in self.compiled.groupindex})

    def find(self, text: str) -> PatternMatch | None:
        """The match this pattern's rule picks in `text`, or None. Usage: pattern.find(region)"""
        if self.match == "first":
            found = self.compiled.search(text)
        elif self.match == "last":
            found = self._last.search(text)
        else:
            found = next((f for f in (p.search(text) for p in self._ordered) if f is not None), None)
        return None if found is None else self._result(found)

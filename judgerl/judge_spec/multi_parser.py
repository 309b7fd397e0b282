"""Strict parsing of best-of-N choices (`[[A]]`..`[[D]]`) and 1-10 ratings (`[[k]]`).

As for pairwise verdicts (`parser.py`), only the text after the last `</think>` counts, and the
LAST verdict there wins. RewardBench's official script instead returns the first of "[[A]]",
"[[B]]", "[[C]]", "[[D]]" found anywhere in the text, in that order - a bias toward A that a
thinking judge weighing options would trigger; we do not copy it. For ratings the official
script reads a trailing integer; we read the last `[[k]]` and fall back to a trailing integer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from judgerl.judge_spec.multi_prompts import LETTERS, RATING_MAX, RATING_MIN
from judgerl.judge_spec.parser import EMPTY, UNCLOSED, _split_thinking

NO_CHOICE = "no [[X]] choice"
CHOICE_RANGE = "choice out of range"
NO_RATING = "no rating"
RATING_RANGE = "rating out of range"

_CHOICE_RE = re.compile(r"\[\[\s*([A-Za-z])\s*\]\]")
_RATING_RE = re.compile(r"\[\[\s*([+-]?\d{1,6})\s*\]\]")
_TRAILING_INT_RE = re.compile(r"(?<![\d.])([+-]?\d{1,6})$")  # on text cut by _trailing (linear)


@dataclass(frozen=True)
class ChoiceVerdict:
    """A parsed best-of-N choice: the 0-based index of the chosen response, or why there is none.

    >>> ChoiceVerdict(index=2).letter
    'C'
    """

    index: int | None
    reason: str = ""
    thinking: str = ""

    @property
    def ok(self) -> bool:
        """True when a choice was found. Usage: verdict.ok"""
        return self.index is not None

    @property
    def letter(self) -> str | None:
        """The chosen letter (A..D), or None. Usage: verdict.letter"""
        return None if self.index is None else LETTERS[self.index]


@dataclass(frozen=True)
class RatingVerdict:
    """A parsed rating (RATING_MIN..RATING_MAX), or why there is none.

    >>> RatingVerdict(rating=None, reason="no rating").ok
    False
    """

    rating: int | None
    reason: str = ""
    thinking: str = ""

    @property
    def ok(self) -> bool:
        """True when a rating in range was found. Usage: verdict.ok"""
        return self.rating is not None


def parse_choice(text: str, n_options: int = 4) -> ChoiceVerdict:
    """The last `[[X]]` after the thinking block, as an index into the `n_options` responses.

    >>> parse_choice("<think>[[A]] looked good</think> Therefore, the best response is [[C]].")
    ChoiceVerdict(index=2, reason='', thinking='[[A]] looked good')
    >>> parse_choice("Therefore, the best response is [[D]].", n_options=3).reason
    'choice out of range: D'
    """
    if not 1 <= n_options <= len(LETTERS):
        raise ValueError(f"n_options must be in 1..{len(LETTERS)}, got {n_options}")
    if not isinstance(text, str) or not text.strip():
        return ChoiceVerdict(None, EMPTY)
    thinking, region, closed = _split_thinking(text)
    if not closed:
        return ChoiceVerdict(None, UNCLOSED, thinking)
    matches = _CHOICE_RE.findall(region)
    if not matches:
        return ChoiceVerdict(None, NO_CHOICE, thinking)
    letter = matches[-1].upper()
    index = LETTERS.find(letter)
    if index < 0 or index >= n_options:
        return ChoiceVerdict(None, f"{CHOICE_RANGE}: {letter}", thinking)
    return ChoiceVerdict(index, "", thinking)


def _trailing(region: str) -> str:
    """The region without its trailing whitespace and one final period (then whitespace again).

    Done by string methods, not by `\\s*\\.?\\s*$` in the pattern: that form retries every split of a
    long run of spaces between its two `\\s*` (3.7 s on 20,000 spaces before a last character).
    """
    tail = region.strip()
    return tail[:-1].rstrip() if tail.endswith(".") else tail


def parse_rating(text: str) -> RatingVerdict:
    """The last `[[k]]` after the thinking block (else a trailing integer), checked against 1..10.

    >>> parse_rating("<think>solid</think>\\nTherefore, the rating is [[8]].").rating
    8
    >>> parse_rating("Clear and correct.\\n\\n9").rating
    9
    >>> parse_rating("Therefore, the rating is [[11]].").reason
    'rating out of range: 11'
    """
    if not isinstance(text, str) or not text.strip():
        return RatingVerdict(None, EMPTY)
    thinking, region, closed = _split_thinking(text)
    if not closed:
        return RatingVerdict(None, UNCLOSED, thinking)
    found = _RATING_RE.findall(region)
    raw = found[-1] if found else None
    if raw is None:
        trailing = _TRAILING_INT_RE.search(_trailing(region))
        raw = trailing.group(1) if trailing else None
    if raw is None:
        return RatingVerdict(None, NO_RATING, thinking)
    value = int(raw)
    if not RATING_MIN <= value <= RATING_MAX:
        return RatingVerdict(None, f"{RATING_RANGE}: {value}", thinking)
    return RatingVerdict(value, "", thinking)

"""The one final-answer extractor for math answers (GSM8K and the addition task), on math-verify.

`extract_answer` reads the final answer out of a model completion or a reference solution:
GSM8K's "#### N" marker when there is one, else what math-verify parses from the text (a
"\\boxed{...}", "the answer is 1,234", a fraction, the last number), else the last plain number.
That is the default order, "last". The order "first" is the Demystifying seed's (section 5 of
docs/algorithms.md; docs/seeds/demystifying.md): the first "The answer is N", else the first
"#### N", else the first number written - kept so the seed's correctness labels can be reproduced.
The answer comes back as a normalized string: integers without commas ("1234"), fractions as
"p/q", decimals without trailing zeros ("3.5"). `answers_equal` compares a predicted answer with
a gold one by value (math-verify's `verify`), so "7" equals "7.0" and "1/2" equals "0.5".

Both run on model output, so only the last `MAX_SCAN_CHARS` characters are scanned, and
math-verify's own timeouts are used where they can work: its timeout is a SIGALRM, which only the
main thread may set, so in a worker thread the timeouts are passed as None (the bounded text is
then the only guard). The "first" order uses three regular expressions only, each linear in the text.

    extract_answer("so 3 + 4 = 7\\n#### 7")          # '7'
    extract_answer("The answer is \\boxed{42}. Check: 43")  # '42'
    answers_equal(extract_answer("it is 1,200 apples."), "1200")  # True
"""

from __future__ import annotations

import re
import threading
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, get_args

AnswerOrder = Literal["last", "first"]
"""How the final answer is read: "last" (judgerl's) or "first" (the Demystifying seed's)."""
ANSWER_ORDERS: tuple[str, ...] = get_args(AnswerOrder)

MAX_SCAN_CHARS = 4000
"""How much of the end of a text the extractor reads (the final answer is at the end)."""

TIMEOUT_SECONDS = 5
"""math-verify's parse / verify timeout in the main thread (seconds; SIGALRM-based)."""

_HASH_RE = re.compile(r"####\s*([-+]?[\d,]*\.?\d+)")
_NUMBER_RE = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?|[-+]?\.\d+")
# The seed's three patterns, in its order (case-sensitive, as it wrote them): the number after
# "The answer is" may hold commas and periods but ends in a digit; after "####" it may end in
# a period; the plain first number has no thousands separator ("1,234" reads as "1").
_SEED_ANSWER_IS_RE = re.compile(r"The answer is (-?[0-9.,]*[0-9])")
_SEED_HASH_RE = re.compile(r"####\s*(-?[0-9][0-9,.]*)")
_SEED_NUMBER_RE = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def extract_answer(text: str, order: AnswerOrder = "last") -> str | None:
    """The final answer of `text` as a normalized string, or None when it has none.

    Order "last" (the default): the last GSM8K "#### N" marker; else math-verify's parse of the
    text (LaTeX such as "\\boxed{}" and "\\frac{}{}", anchors such as "the answer is", else the
    last expression); else the last plain number. Only the last `MAX_SCAN_CHARS` characters are read.

    Order "first" (the Demystifying seed's): the first "The answer is N", else the first "#### N",
    else the first number in the whole text (see `first_answer`).

    Usage: extract_answer(completion)  # "first 12 then #### 1,234" -> "1234"

    >>> extract_answer("so 3 + 4 = 7\\n#### 7"), extract_answer("it is 1,200 apples."), extract_answer("none")
    ('7', '1200', None)
    >>> extract_answer("The answer is \\\\boxed{\\\\frac{3}{4}}."), extract_answer("It costs 3.50 dollars")
    ('3/4', '3.5')
    """
    if order == "first":
        return first_answer(text)
    if order != "last":
        raise ValueError(f"answer order must be one of {list(ANSWER_ORDERS)}, got {order!r}")
    if not text:
        return None
    tail = text[-MAX_SCAN_CHARS:]
    marked = _HASH_RE.findall(tail)
    if marked:
        return _normalize_number(marked[-1])
    parsed = _parse(tail)
    if parsed:
        return _normalize_parsed(parsed)
    plain = _NUMBER_RE.findall(tail)
    return _normalize_number(plain[-1]) if plain else None


def first_answer(text: str) -> str | None:
    """The Demystifying seed's answer: the first "The answer is N", else the first "#### N",
    else the first number (no thousands separator), normalized like `extract_answer`'s.

    It reads the whole text (the patterns are linear), so where a completion states more than one
    answer it keeps the first: "The answer is 18. ... 16" gives "18" where order "last" gives "16".

    >>> first_answer("16 - 3 = 13, 13 * 2 = 26. The answer is 26."), first_answer("#### 1,234")
    ('26', '1234')
    >>> first_answer("She has 16 - 3 - 4 = 9 eggs, 9 * 2 = 18."), first_answer("1,200 apples")
    ('16', '1')

    Usage: first_answer(completion)
    """
    if not text:
        return None
    for pattern in (_SEED_ANSWER_IS_RE, _SEED_HASH_RE):
        found = pattern.search(text)
        if found:
            return _normalize_number(found.group(1))
    found = _SEED_NUMBER_RE.search(text)
    return _normalize_number(found.group(0)) if found else None


def answers_equal(pred: str | None, gold: str) -> bool:
    """True when the predicted answer `pred` has the value of `gold` (None is never equal).

    Equal strings (commas and spaces aside) are equal; otherwise both are parsed by math-verify
    and compared with its `verify` (gold first, as it expects).

    Usage: answers_equal(extract_answer(completion), row["answer"])

    >>> answers_equal("7", "7.0"), answers_equal("1/2", "0.5"), answers_equal("7", "8"), answers_equal(None, "7")
    (True, True, False, False)
    """
    if pred is None or gold is None:
        return False
    if _plain(pred) == _plain(gold) and _plain(gold):
        return True
    pred_number, gold_number = _decimal(pred), _decimal(gold)
    if pred_number is not None and gold_number is not None:  # plain numbers: no sympy needed
        return pred_number == gold_number
    gold_parsed, pred_parsed = _parse(_plain(gold)), _parse(_plain(pred))
    if not gold_parsed or not pred_parsed:
        return False
    from math_verify import verify  # imported on first use: it loads sympy

    return bool(verify(gold_parsed, pred_parsed, timeout_seconds=_timeout()))


def _timeout() -> int | None:
    """math-verify's timeout argument: its SIGALRM timeout only works in the main thread."""
    return TIMEOUT_SECONDS if threading.current_thread() is threading.main_thread() else None


def _parse(text: str) -> list[Any]:
    """math-verify's parse of `text` (an empty list when nothing parses)."""
    from math_verify import parse  # imported on first use: it loads sympy

    return list(parse(text, parsing_timeout=_timeout()))


def _normalize_parsed(parsed: list[Any]) -> str | None:
    """The normalized string of math-verify's first parse result (numbers by value, else the match)."""
    import sympy

    value = parsed[0]
    if isinstance(value, sympy.Integer):
        return str(int(value))
    if isinstance(value, sympy.Rational):
        return f"{value.p}/{value.q}"
    if isinstance(value, sympy.Float):
        return _normalize_number(str(value))
    matched = next((p for p in parsed if isinstance(p, str)), None)
    if matched is None:
        return str(value)
    return _normalize_number(matched) if _NUMBER_RE.fullmatch(_plain(matched)) else matched.strip()


def _normalize_number(number: str) -> str:
    """A written number without commas, a leading "+" or trailing zeros: "1,234.50" -> "1234.5"."""
    cleaned = _plain(number).lstrip("+").rstrip(".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        return cleaned
    if value == value.to_integral_value():
        try:
            return str(int(value))
        except ValueError:  # more digits than Python converts (4300): no answer anyway, kept as written
            return cleaned
    return format(value.normalize(), "f")


def _decimal(answer: str) -> Decimal | None:
    """`answer` as a Decimal when it is a plain written number ("1,234.0"), else None."""
    cleaned = _plain(answer)
    if not _NUMBER_RE.fullmatch(cleaned):
        return None
    try:
        return Decimal(cleaned)
    except InvalidOperation:
        return None


def _plain(answer: str) -> str:
    """`answer` without commas and surrounding whitespace."""
    return str(answer).replace(",", "").strip()

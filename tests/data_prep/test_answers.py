"""The one final-answer extractor (math-verify) and value equality of answers."""

from __future__ import annotations

import threading

import pytest

from judgerl.data_prep import answers
from judgerl.data_prep.answers import answers_equal, extract_answer


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("so 3 + 4 = 7\n#### 7", "7"),
        ("first 12 then #### 1,234", "1234"),
        ("it is 1,200 apples.", "1200"),
        ("The sum is 85.", "85"),
        ("The sum is -85.", "-85"),
        ("12 + 3 is 15", "15"),
        ("It costs 3.50 dollars", "3.5"),
        ("7.0", "7"),
        ("no idea", None),
        ("", None),
        (
            "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n"
            "Natalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.\n#### 72",
            "72",
        ),
    ],
)
def test_extract_answer_values(text: str, expected: str | None) -> None:
    assert extract_answer(text) == expected


# Where math-verify beats "the last number written": (text, math-verify's answer, last number)
BEATS_LAST_NUMBER = [
    ("The answer is \\boxed{42}. Check: 42 + 1 = 43", "42", "43"),
    ("the answer is 1,234", "1234", "234"),
    ("The answer is $\\frac{3}{4}$.", "3/4", "4"),
    ("so x = 3/4", "3/4", "4"),
    ("\\boxed{0.5}", "1/2", "0.5"),
]


@pytest.mark.parametrize(("text", "expected", "last_plain"), BEATS_LAST_NUMBER)
def test_math_verify_beats_last_number(text: str, expected: str, last_plain: str) -> None:
    import re

    assert re.findall(r"-?\d+(?:\.\d+)?", text)[-1] == last_plain  # what the old extractor read
    assert extract_answer(text) == expected


def test_hash_marker_wins_over_later_text() -> None:
    assert extract_answer("#### 72\nThe sum is 99") == "72"


def test_only_the_tail_is_scanned() -> None:
    text = "#### 5\n" + "x" * answers.MAX_SCAN_CHARS
    assert extract_answer(text) is None  # the marker is outside the scanned tail
    assert extract_answer("#### 5\n" + "x" * (answers.MAX_SCAN_CHARS - 20)) == "5"


def test_falls_back_to_the_last_plain_number() -> None:
    assert extract_answer("-.5") == "-0.5"  # math-verify parses nothing here; the plain number is read
    assert extract_answer("100%") == "100"  # a non-number parse keeps the matched text


@pytest.mark.parametrize(
    ("pred", "gold", "equal"),
    [
        ("7", "7.0", True),
        ("1,234", "1234", True),
        ("1/2", "0.5", True),
        ("3/4", "\\frac{3}{4}", True),
        ("7", "8", False),
        ("105", "150", False),
        (None, "7", False),
        ("", "7", False),
    ],
)
def test_answers_equal(pred: str | None, gold: str, equal: bool) -> None:
    assert answers_equal(pred, gold) is equal


def test_works_in_a_worker_thread() -> None:
    """math-verify's SIGALRM timeout cannot be set off the main thread: the timeouts go None there."""
    got: dict[str, object] = {}

    def work() -> None:
        try:
            got["timeout"] = answers._timeout()
            got["answer"] = extract_answer("The answer is \\boxed{\\frac{1}{3}}")
            got["equal"] = answers_equal("1/3", "\\frac{1}{3}")
        except Exception as exc:  # pragma: no cover - the assertion below shows it
            got["error"] = exc

    t = threading.Thread(target=work)
    t.start()
    t.join(60)
    assert "error" not in got, got.get("error")
    assert got == {"timeout": None, "answer": "1/3", "equal": True}
    assert answers._timeout() == answers.TIMEOUT_SECONDS  # the main thread keeps the timeout


# The Demystifying seed's order ("first"): "The answer is N", then "#### N", then the first number.
@pytest.mark.parametrize(
    ("text", "first", "last"),
    [
        ("The answer is 18. Then 2 * 8 = 16", "18", "16"),  # the first stated answer, not the last
        ("16 - 3 - 4 = 9 eggs, 9 * 2 = 18 dollars.", "16", "18"),  # no marker: the first number
        ("The answer is 1,234.", "1234", "1234"),
        ("#### 5 then more text #### 1,234.", "5", "1234"),
        ("so 1,200 apples", "1", "1200"),  # the seed's plain number has no thousands separator
        ("after 3 tries the answer is 7", "3", "7"),  # the seed's anchor is case-sensitive: first number
        ("The answer is -3.5.", "-3.5", "-3.5"),
        ("The answer is $18, and #### 20", "20", "20"),  # "$" breaks the seed's anchor; "####" is next
        ("no numbers", None, None),
        ("", None, None),
    ],
)
def test_first_answer_order_is_the_seeds(text: str, first: str | None, last: str | None) -> None:
    assert extract_answer(text, "first") == answers.first_answer(text) == first
    assert extract_answer(text) == extract_answer(text, "last") == last


def test_unknown_answer_order_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"answer order must be one of \['last', 'first'\], got 'middle'"):
        extract_answer("#### 1", "middle")  # type: ignore[arg-type]


def test_first_order_is_linear_on_long_text() -> None:
    import time

    text = "The answer is " + "1," * 200_000 + "x " + "#" * 100_000 + " 9" * 100_000
    start = time.perf_counter()
    assert extract_answer(text, "first") == "1" * 200_000
    assert time.perf_counter() - start < 5.0  # a quadratic scan of this text would take minutes

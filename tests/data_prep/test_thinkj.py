"""Think-J alpaca prompts and judgements: block markers, verdicts, bad rows, linear time."""

from __future__ import annotations

import time

import pytest

from judgerl.core.errors import DataError
from judgerl.data_prep.sources.base import convert_rows
from judgerl.data_prep.sources.thinkj import prompt_blocks, split_judgement, thinkj_alpaca

MT_BENCH = (
    "[User Question]\nignored\n\n[The Start of User Question]\nWhich is right?\n[The End of User Question]\n\n"
    "[The Start of Reference Answer]\n42\n[The End of Reference Answer]\n\n"
    "[The Start of Assistant A's Answer]\nforty-two\n[The End of Assistant A's Answer]\n\n"
    "[The Start of Assistant B's Answer]\n41\n[The End of Assistant B's Answer]"
)


def test_blocks_with_assistant_names_and_a_reference() -> None:
    rows = [{"instruction": MT_BENCH, "output": "A is right. Therefore, Response (a) is better."}]
    sample = convert_rows("t", rows, thinkj_alpaca("t")).samples[0]
    assert (sample.question, sample.response_a, sample.response_b, sample.label) == (
        "Which is right?",
        "forty-two",
        "41",
        "a",
    )
    assert sample.metadata["reference"] == "42"
    assert sample.metadata["thinking"] == "A is right."  # no <think> block: the text before the verdict


def test_last_verdict_wins_and_strength_is_signed() -> None:
    text = "<think>Response (a) is better at first sight.</think>\nTherefore, Response (b) is better, and the strength is [[1]]."
    assert split_judgement(text) == ("Response (a) is better at first sight.", "b", 1)
    rows = [{"instruction": MT_BENCH, "output": text}]
    assert convert_rows("t", rows, thinkj_alpaca("t")).samples[0].strength == 1


def test_bad_rows_are_named() -> None:
    rows = [
        {"instruction": "no markers here", "output": "Therefore, Response (a) is better."},
        {"instruction": MT_BENCH, "output": "<think>hm</think> undecided"},
        {"instruction": MT_BENCH},
    ]
    result = convert_rows("t", rows, thinkj_alpaca("t"), on_bad_row="skip")
    assert [i for i, _ in result.skipped] == [0, 1, 2]
    assert "found no question and 0 responses" in result.skipped[0][1]
    assert "no verdict sentence" in result.skipped[1][1] and result.skipped[2][1] == "missing field 'output'"
    with pytest.raises(DataError, match="t: row 0: instruction must hold a question block"):
        convert_rows("t", rows, thinkj_alpaca("t"))


@pytest.mark.parametrize(
    "text",
    [
        "[The Start of " * 20000,
        "[The End of " + "x" * 200000,
        "[[" * 100000 + "Response (",
        "<think>" * 30000,
    ],
    ids=["many-starts", "long-name", "brackets", "think-tags"],
)
def test_parsing_is_linear_on_adversarial_text(text: str) -> None:
    start = time.perf_counter()
    prompt_blocks(text)
    with pytest.raises(ValueError):
        split_judgement(text)
    small = time.perf_counter() - start
    start = time.perf_counter()
    prompt_blocks(text * 4)
    with pytest.raises(ValueError):
        split_judgement(text * 4)
    # four times the text: about four times the time (a quadratic parser takes 16x)
    assert time.perf_counter() - start < 10 * small + 0.05

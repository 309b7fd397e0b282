from __future__ import annotations

import pytest

from judgerl.core.types import Verdict
from judgerl.judge_spec.parser import (
    FAILURE_REASONS,
    failure_kind,
    parse_failure_rate,
    parse_verdict,
    verdict_is_strict,
)
from judgerl.judge_spec.verdicts import format_trace, verdict_sentence


def test_plain_verdict_with_bracketed_strength():
    v = parse_verdict("Therefore, Response (b) is better, and the strength is [[2]].")
    assert (v.choice, v.strength, v.reason, v.thinking) == ("b", 2, "", "")


def test_thinking_mentions_a_but_final_verdict_is_b():
    text = (
        "<think>\nAt first glance Response (a) is better, and the strength is [[3]].\n"
        "But (a) has an arithmetic error.\n</think>\n\nTherefore, Response (b) is better, and the strength is [[1]]."
    )
    v = parse_verdict(text)
    assert (v.choice, v.strength) == ("b", 1)
    assert v.thinking.startswith("At first glance Response (a) is better")


def test_last_verdict_wins_without_thinking_block():
    # The seed's loose parser checked (a) anywhere first and would return 'a' here.
    text = (
        "Response (a) is better on style. Response (b) is better on facts. Therefore, Response (b) is better."
    )
    assert parse_verdict(text).choice == "b"
    assert parse_verdict("Response (b) is better... no: Therefore, Response (a) is better.").choice == "a"


def test_only_text_after_last_think_close_counts():
    v = parse_verdict("<think>Therefore, Response (a) is better.</think>\nI am not sure.")
    assert (v.choice, v.reason) == (None, "no verdict sentence")
    assert v.thinking == "Therefore, Response (a) is better."
    v = parse_verdict("<think>x</think>Response (a) is better.<think>y</think>Response (b) is better.")
    assert v.choice == "b"


def test_unclosed_thinking_block_fails_and_keeps_the_thinking():
    v = parse_verdict("<think>\nResponse (a) is better, and the strength is [[2]].")
    assert (v.choice, v.strength, v.reason) == (None, None, "unclosed thinking block")
    assert v.thinking == "Response (a) is better, and the strength is [[2]]."


def test_reopened_thinking_after_a_verdict_is_unclosed():
    v = parse_verdict("<think>a</think>Therefore, Response (a) is better.<think>more")
    assert (v.choice, v.reason, v.thinking) == (None, "unclosed thinking block", "more")


def test_close_tag_only_when_template_opened_the_block():
    v = parse_verdict("weighing both\n</think>\n\nTherefore, Response (b) is better.")
    assert (v.choice, v.thinking) == ("b", "weighing both")


@pytest.mark.parametrize(
    "text,choice",
    [
        ("response (A) is better", "a"),
        ("Response a is better.", "a"),
        ("RESPONSE B IS BETTER", "b"),
        ("Therefore Response (b) is better", "b"),
        ("Therefore,Response(a)is better", "a"),
        ("Therefore,\n  Response ( b )  is\nbetter.", "b"),
        ("Response (a) is much better.", "a"),
        ("Response (b) is slightly better.", "b"),
    ],
)
def test_tolerated_verdict_variants(text, choice):
    assert parse_verdict(text).choice == choice


@pytest.mark.parametrize(
    "text", ["Response about is better", "Response (c) is better", "Both are fine.", "(a) is better"]
)
def test_non_verdicts(text):
    v = parse_verdict(text)
    assert (v.choice, v.reason) == (None, "no verdict sentence")


@pytest.mark.parametrize("text", ["", "   \n\t", None])
def test_empty_completion(text):
    assert parse_verdict(text).reason == "empty completion"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text,strength",
    [
        ("Response (a) is better, and the strength is [[3]].", 3),
        ("Response (a) is better, and the strength is [[ 1 ]].", 1),
        ("Response (a) is better, and the strength is 2.", 2),
        ("Response (a) is better. Strength: 3", 3),
        ("Response (a) is better, strength 1 ... final [[3]]", 3),  # bracketed before unbracketed
        ("Response (a) is better, and the strength is [2].", 2),
    ],
)
def test_strength_forms(text, strength):
    v = parse_verdict(text, require_strength=True)
    assert (v.choice, v.strength, v.reason) == ("a", strength, "")


def test_strength_before_the_final_verdict_is_ignored():
    v = parse_verdict("The strength is [[3]]. Therefore, Response (a) is better.", require_strength=True)
    assert (v.choice, v.strength, v.reason) == ("a", None, "strength missing")


@pytest.mark.parametrize("raw", ["7", "0", "-2", "4"])
def test_strength_out_of_range_keeps_choice(raw):
    v = parse_verdict(f"Therefore, Response (b) is better, and the strength is [[{raw}]].")
    assert (v.choice, v.strength, v.reason) == ("b", None, f"strength out of range: {raw}")


def test_huge_strength_is_out_of_range_not_an_error():
    v = parse_verdict("Response (b) is better [[" + "9" * 5000 + "]]")
    assert (v.choice, v.strength) == ("b", None)
    assert failure_kind(v) == "strength out of range"


def test_strength_missing_only_reported_when_required():
    text = "Therefore, Response (a) is better."
    assert parse_verdict(text).reason == ""
    v = parse_verdict(text, require_strength=True)
    assert (v.choice, v.strength, v.reason) == ("a", None, "strength missing")


@pytest.mark.parametrize("choice", ["a", "b"])
@pytest.mark.parametrize("strength", [None, 1, 2, 3])
def test_round_trip_with_the_trace_format(choice, strength):
    for text in (verdict_sentence(choice, strength), format_trace("I compared both.", choice, strength)):
        v = parse_verdict(text, require_strength=strength is not None)
        assert (v.choice, v.strength, v.reason) == (choice, strength, "")


def test_failure_helpers():
    assert FAILURE_REASONS == (
        "empty completion",
        "unclosed thinking block",
        "no verdict sentence",
        "strength missing",
        "strength out of range",
    )
    assert failure_kind(Verdict("a")) == ""
    assert failure_kind(parse_verdict("<think>")) == "unclosed thinking block"
    assert verdict_is_strict(parse_verdict("Response (a) is better [[2]]"), require_strength=True)
    assert not verdict_is_strict(parse_verdict("Response (a) is better [[9]]"))
    assert not verdict_is_strict(parse_verdict("nothing"))
    verdicts = [parse_verdict(t) for t in ("Response (a) is better", "", "<think>x", "Response b is better")]
    assert parse_failure_rate(verdicts) == 0.5
    assert parse_failure_rate([]) == 0.0

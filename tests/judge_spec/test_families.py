"""judgerl's prompt families through the one renderer: critic hints, order swaps, verdict sentences."""

from __future__ import annotations

import pytest

from judgerl.core.types import JudgeSample
from judgerl.judge_spec.families import PromptSpec, both_orders
from judgerl.judge_spec.verdicts import format_trace, verdict_sentence
from tests.prompts import rendered, user_text

S = JudgeSample("q1", "t", [{"role": "user", "content": "What is 2+2?"}], "4", "5", "a", -2, "math")


def test_render_contains_question_and_both_responses_in_order() -> None:
    text = user_text(S, PromptSpec("strength"))
    assert text.index("What is 2+2?") < text.index("Response (a)]\n4\n") < text.index("Response (b)]\n5\n")
    assert "[[k]]" in text
    assert "[[k]]" not in user_text(S, PromptSpec("cot"))
    swapped = user_text(S.swapped(), PromptSpec("strength"))
    assert "Response (a)]\n5\n" in swapped and "Response (b)]\n4\n" in swapped


def test_critic_hints_point_at_the_label_or_away_from_it() -> None:
    pos = user_text(S, PromptSpec("strength", hint="positive"))
    neg = user_text(S, PromptSpec("strength", hint="negative"))
    assert "Given that Response (a) is better than Response (b)" in pos
    assert "Given that Response (b) is better than Response (a)" in neg
    assert "Given that" not in user_text(S, PromptSpec())


def test_multi_turn_conversation_is_rendered_as_turns() -> None:
    conv = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "and?"},
    ]
    s = JudgeSample("m", "t", conv, "x", "y", "b", 1)
    text = rendered(s, PromptSpec())[0]["content"]
    assert "User: hi\n\nAssistant: hello\n\nUser: and?" in text


def test_swap_flips_label_and_strength_and_is_an_involution() -> None:
    assert (S.swapped().label, S.swapped().strength, S.swapped().order) == ("b", 2, "ba")
    assert S.swapped().swapped() == S
    assert [s.order for s in both_orders([S])] == ["ab", "ba"]


def test_verdict_formats_and_bad_values() -> None:
    assert verdict_sentence("b", 3) == "Therefore, Response (b) is better, and the strength is [[3]]."
    assert format_trace(None, "a") == "Therefore, Response (a) is better."
    with pytest.raises(ValueError):
        verdict_sentence("c")
    with pytest.raises(ValueError):
        verdict_sentence("a", 4)
    with pytest.raises(ValueError):
        PromptSpec("scores")  # type: ignore[arg-type]


def test_sample_validation_rejects_inconsistent_rows() -> None:
    with pytest.raises(ValueError, match="label is 'b'"):
        JudgeSample("x", "t", [{"role": "user", "content": "q"}], "a", "b", "b", -1)
    with pytest.raises(ValueError, match="strength must be in"):
        JudgeSample("x", "t", [{"role": "user", "content": "q"}], "a", "b", "b", 4)
    with pytest.raises(ValueError, match="ending with a user turn"):
        JudgeSample("x", "t", [], "a", "b", "b")

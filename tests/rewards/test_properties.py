from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from judgerl.core.types import JudgeSample
from judgerl.judge_spec.parser import parse_verdict, verdict_is_strict
from judgerl.judge_spec.verdicts import THINK_CLOSE, THINK_OPEN
from judgerl.rewards.adapters import to_trl, to_verl
from judgerl.rewards.functions import format_reward
from judgerl.rewards.registry import combined_reward, get_reward

# the rewards that need no options; plugins (probe, remote_judge) need a model or a server
BUILTIN = ("consistency", "correctness", "format", "strength")

FRAGMENTS = [
    THINK_OPEN,
    THINK_CLOSE,
    "Therefore, ",
    "Response (a) is better",
    "Response (b) is better",
    "response B is better",
    ", and the strength is ",
    "[[",
    "]]",
    "[",
    "2",
    "7",
    "-1",
    "99999999999999",
    "strength: ",
    ".",
    " ",
    "\n",
    "(",
    "é",
    "\x00",
]
judge_text = st.one_of(st.text(max_size=300), st.lists(st.sampled_from(FRAGMENTS), max_size=30).map("".join))
SAMPLES = [
    JudgeSample("s", "t", [{"role": "user", "content": "q"}], "x", "y", label, strength)  # type: ignore[arg-type]
    for label, strength in (("a", -3), ("a", None), ("b", 1), ("b", 2))
]
PROPS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(judge_text, st.booleans())
def test_parser_never_raises(text, require_strength):
    v = parse_verdict(text, require_strength=require_strength)
    assert v.choice in (None, "a", "b")
    assert v.strength is None or 1 <= v.strength <= 3
    assert v.choice is not None or v.reason
    assert isinstance(v.thinking, str)


@PROPS
@given(judge_text, st.sampled_from(SAMPLES), st.lists(judge_text, max_size=3))
def test_every_reward_is_bounded_and_never_raises(text, sample, partners):
    for name in BUILTIN:
        fn = get_reward(name)
        result = fn(sample, text, partners=partners) if name == "consistency" else fn(sample, text)
        assert 0.0 <= result.score <= 1.0
        assert {"parsed", "correct", "reason"} <= set(result.details)
    total = combined_reward(["strength", {"name": "format", "weight": 0.5}, "consistency"])(
        sample, text, partners
    )
    assert math.isfinite(total.score)


@PROPS
@given(
    st.text(max_size=200).filter(lambda t: THINK_OPEN not in t and THINK_CLOSE not in t),
    st.sampled_from("ab"),
    st.integers(1, 3),
)
def test_final_verdict_after_thinking_always_wins(thinking, choice, k):
    text = f"{THINK_OPEN}{thinking}{THINK_CLOSE}\nTherefore, Response ({choice}) is better, and the strength is [[{k}]]."
    v = parse_verdict(text, require_strength=True)
    assert (v.choice, v.strength, v.reason) == (choice, k, "")


@PROPS
@given(judge_text, st.sampled_from(SAMPLES), st.booleans())
def test_format_reward_implies_a_strict_verdict(text, sample, require_strength):
    if format_reward(sample, text, require_strength=require_strength).score == 1.0:
        assert verdict_is_strict(parse_verdict(text, require_strength), require_strength)


weird_completion = st.one_of(
    judge_text,
    st.none(),
    st.integers(),
    st.lists(
        st.fixed_dictionaries(
            {
                "role": st.sampled_from(["assistant", "user", 3]),
                "content": st.one_of(judge_text, st.none(), st.integers()),
            }
        )
    ),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
)


@PROPS
@given(
    st.lists(
        st.tuples(weird_completion, st.sampled_from(["s1", "s2"]), st.sampled_from(["ab", "ba"])), max_size=8
    )
)
def test_adapters_never_raise_on_weird_completions(rows):
    funcs, _ = to_trl(["correctness", "strength", "format", "consistency"])
    columns = {
        "completions": [r[0] for r in rows],
        "sample_id": [r[1] for r in rows],
        "order": [r[2] for r in rows],
        "label": ["a" if r[2] == "ab" else "b" for r in rows],
        "strength": [-2 if r[2] == "ab" else 2 for r in rows],
    }
    for f in funcs:
        scores = f(prompts=[""] * len(rows), **columns)
        assert len(scores) == len(rows) and all(0.0 <= s <= 1.0 for s in scores)
    compute_score = to_verl(["strength", "format"])
    for r in rows:
        assert math.isfinite(compute_score("d", r[0], {"label": "a", "strength": -1})["score"])

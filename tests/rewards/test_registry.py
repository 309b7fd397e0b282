from __future__ import annotations

import math

import pytest

from judgerl.core.registry import Registry
from judgerl.core.types import JudgeSample
from judgerl.rewards import registry
from judgerl.rewards.functions import RewardResult, correctness_reward, strength_reward
from judgerl.rewards.registry import (
    RewardSpec,
    combined_reward,
    get_reward,
    list_rewards,
    parse_reward_specs,
    register_reward,
)

SAMPLE = JudgeSample("s1", "test", [{"role": "user", "content": "q"}], "x", "y", "a", -2)
GOOD = "<think>ok</think>\nTherefore, Response (a) is better, and the strength is [[3]]."
WRONG = "<think>ok</think>\nTherefore, Response (b) is better, and the strength is [[3]]."


@pytest.fixture
def scratch_registry(monkeypatch):
    """A copy of the reward registry for the test; names registered in it vanish afterwards."""
    scratch = Registry("reward")
    for name in registry.REWARDS.names():
        target = registry.REWARDS.lazy_target(name)
        if target is not None and not registry.REWARDS.is_loaded(name):
            scratch.add_lazy(name, target)
        else:
            scratch.add(name, registry.REWARDS.get(name))
    monkeypatch.setattr(registry, "REWARDS", scratch)
    return scratch


def test_builtin_rewards_are_registered():
    # other modules (probes, the remote judge, tests) may register more; the built-ins are always there
    assert {"consistency", "correctness", "format", "strength"} <= set(list_rewards())
    assert get_reward("correctness") is correctness_reward
    assert get_reward("strength") is strength_reward


def test_unknown_reward_lists_known_names():
    with pytest.raises(KeyError, match="known rewards: consistency, correctness, format, .*strength"):
        get_reward("strenght")


def test_register_reward(scratch_registry):
    @register_reward("always_one")
    def always_one(sample, completion, *, value: float = 1.0) -> RewardResult:
        return correctness_reward(sample, completion)

    assert get_reward("always_one") is always_one
    assert "always_one" in list_rewards()
    register_reward("always_one")(always_one)  # re-registering the same function is fine
    with pytest.raises(ValueError, match="already registered"):
        register_reward("always_one")(correctness_reward)
    for bad in ("score", "has space", ""):
        with pytest.raises(ValueError, match="identifier"):
            register_reward(bad)
    assert parse_reward_specs([{"name": "always_one", "value": 2.0}])[0].kwargs == {"value": 2.0}


def test_parse_specs_forms():
    assert parse_reward_specs("strength") == [RewardSpec("strength")]
    assert parse_reward_specs(["strength", "format"]) == [RewardSpec("strength"), RewardSpec("format")]
    specs = parse_reward_specs(
        [
            {"name": "strength", "weight": 2},
            {"name": "format", "weight": 0.2, "require_strength": True},
            {"name": "correctness", "kwargs": {"unparseable_score": 0.5}},
        ]
    )
    assert [(s.name, s.weight, s.kwargs) for s in specs] == [
        ("strength", 2.0, {}),
        ("format", 0.2, {"require_strength": True}),
        ("correctness", 1.0, {"unparseable_score": 0.5}),
    ]
    assert isinstance(specs[0].weight, float)
    assert parse_reward_specs({"name": "format"}) == [RewardSpec("format")]
    assert parse_reward_specs(specs) == specs


@pytest.mark.parametrize(
    "obj,match",
    [
        (["strength", "nope"], r"#1 'nope'.*known rewards"),
        ([{"weight": 1.0}], r"#0 .*missing 'name'"),
        ([{"name": "strength", "weight": "heavy"}], "weight must be a finite number"),
        ([{"name": "strength", "weight": True}], "weight must be a finite number"),
        ([{"name": "strength", "weight": math.nan}], "weight must be a finite number"),
        ([{"name": "format", "require_strenght": True}], r"unknown option\(s\) \['require_strenght'\]"),
        ([{"name": "consistency", "partners": []}], "unknown option"),
        ([{"name": "format", "kwargs": [1, 2]}], "#0"),
        ([42], "#0 42"),
        ([], "non-empty list"),
        (7, "non-empty list"),
        (["format", {"name": "format", "weight": 2}], "more than once"),
    ],
)
def test_parse_specs_errors(obj, match):
    with pytest.raises(ValueError, match=match):
        parse_reward_specs(obj)


def test_combined_weighted_sum():
    f = combined_reward(
        [
            {"name": "strength", "weight": 1.0},
            {"name": "format", "weight": 0.5, "require_strength": True},
            {"name": "correctness", "weight": 2.0},
        ]
    )
    right = f(SAMPLE, GOOD)
    assert right.score == 0.875 + 0.5 * 1.0 + 2.0 * 1.0
    assert (right.details["strength"], right.details["format"], right.details["correctness"]) == (
        0.875,
        1.0,
        1.0,
    )
    assert right.details["parsed"] is True and right.details["correct"] is True
    assert set(right.details["components"]) == {"strength", "format", "correctness"}
    assert right.verdict.choice == "a"
    wrong = f(SAMPLE, WRONG)
    assert wrong.score == 0.5  # only the format term pays
    assert wrong.details["correct"] is False


def test_combined_negative_weight_and_options():
    f = combined_reward(
        [{"name": "correctness", "weight": 1.0, "unparseable_score": 0.5}, {"name": "format", "weight": -1.0}]
    )
    assert f(SAMPLE, "unsure").score == 0.5
    assert f(SAMPLE, GOOD).score == 0.0


def test_combined_passes_partners_to_consistency_only():
    f = combined_reward([{"name": "consistency", "weight": 1.0}, {"name": "format", "weight": 0.25}])
    partners = ["<think>x</think>Therefore, Response (b) is better.", "Therefore, Response (a) is better."]
    result = f(SAMPLE, GOOD, partners=partners)
    assert result.details["consistency"] == 0.5
    assert result.score == 0.5 + 0.25
    alone = f(SAMPLE, GOOD)
    assert alone.details["consistency"] == 1.0
    assert alone.details["components"]["consistency"]["partner_missing"] is True

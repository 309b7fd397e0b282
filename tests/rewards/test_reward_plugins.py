"""Plugin rewards: named lazily ("module:function"), imported on first use, from code or a YAML file."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from judgerl.core.registry import Registry, RegistryError
from judgerl.core.types import JudgeSample
from judgerl.rewards import registry
from judgerl.rewards.registry import (
    PLUGIN_REWARDS,
    RewardNameError,
    combined_reward,
    get_reward,
    list_rewards,
    load_reward_plugins,
    parse_reward_specs,
    register_reward,
    register_reward_plugin,
)

SAMPLE = JudgeSample("s1", "test", [{"role": "user", "content": "q"}], "x", "y", "a", -2)
PLUGIN = """
from judgerl.core.types import Verdict
from judgerl.rewards.functions import RewardResult

def length_reward(sample, completion, *, cap: int = 10):
    return RewardResult(min(len(completion), cap) / cap, Verdict(None, ""), {"parsed": True})
"""
SELF_REGISTERING = """
from judgerl.rewards.functions import RewardResult
from judgerl.rewards.registry import register_reward
from judgerl.core.types import Verdict

@register_reward("self_registered")
def self_registered(sample, completion):
    return RewardResult(0.25, Verdict(None, ""), {"parsed": True})
"""


@pytest.fixture
def scratch(monkeypatch, tmp_path):
    """An empty-but-builtins reward registry and an importable folder of plugin modules."""
    fresh = Registry("reward")
    for name in ("correctness", "strength", "format", "consistency"):
        fresh.add(name, registry.REWARDS.get(name))
    monkeypatch.setattr(registry, "REWARDS", fresh)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "jrl_plugin_len.py").write_text(PLUGIN)
    (tmp_path / "jrl_plugin_self.py").write_text(SELF_REGISTERING)
    yield fresh
    for mod in ("jrl_plugin_len", "jrl_plugin_self"):
        sys.modules.pop(mod, None)


def test_builtin_plugins_are_named_lazily() -> None:
    assert PLUGIN_REWARDS == {
        "probe": "judgerl.probes.reward:probe_reward",
        "remote_judge": "judgerl.rewards.remote:remote_judge_reward",
    }
    for name, target in PLUGIN_REWARDS.items():
        assert name in list_rewards()
        assert registry.REWARDS.lazy_target(name) == target


def test_naming_rewards_imports_no_plugin_and_no_torch() -> None:
    code = (
        "import sys; from judgerl.rewards import list_rewards, parse_reward_specs; "
        "names = list_rewards(); parse_reward_specs(['strength', 'format']); "
        "print('probe' in names, 'remote_judge' in names, "
        "[m for m in ('torch', 'judgerl.probes.reward', 'judgerl.rewards.remote', 'httpx') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True True []"


def test_a_plugin_is_imported_on_first_lookup(scratch) -> None:
    register_reward_plugin("length", "jrl_plugin_len:length_reward")
    register_reward_plugin("length", "jrl_plugin_len:length_reward")  # the same target again is fine
    assert "length" in list_rewards() and "jrl_plugin_len" not in sys.modules
    spec = parse_reward_specs([{"name": "length", "cap": 4}])[0]  # options checked against the function
    assert "jrl_plugin_len" in sys.modules and spec.kwargs == {"cap": 4}
    assert get_reward("length") is sys.modules["jrl_plugin_len"].length_reward
    assert combined_reward([{"name": "length", "cap": 4, "weight": 2.0}])(SAMPLE, "abcdef").score == 2.0
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['capp'\]"):
        parse_reward_specs([{"name": "length", "capp": 4}])


def test_a_plugin_module_that_registers_itself_is_harmless(scratch) -> None:
    register_reward_plugin("self_registered", "jrl_plugin_self:self_registered")
    assert get_reward("self_registered")(SAMPLE, "x").score == 0.25


def test_duplicate_and_bad_plugin_names(scratch) -> None:
    register_reward_plugin("length", "jrl_plugin_len:length_reward")
    with pytest.raises(RewardNameError, match="'length' is already registered") as err:
        register_reward_plugin("length", "elsewhere:length_reward")
    assert isinstance(err.value, ValueError) and isinstance(err.value, KeyError)
    with pytest.raises(ValueError, match="already registered"):
        register_reward_plugin("strength", "jrl_plugin_len:length_reward")
    with pytest.raises(ValueError, match="already registered lazily"):
        register_reward("length")(get_reward("format"))
    with pytest.raises(ValueError, match="identifier"):
        register_reward_plugin("score", "jrl_plugin_len:length_reward")
    with pytest.raises(ValueError, match="not 'module:attribute'"):
        register_reward_plugin("nocolon", "jrl_plugin_len.length_reward")
    register_reward_plugin("ghost", "jrl_no_such_module:reward")
    with pytest.raises(RegistryError, match="cannot import 'jrl_no_such_module'"):
        get_reward("ghost")
    with pytest.raises(ValueError, match=r"bad reward entry #0 'ghost'.*cannot import"):
        parse_reward_specs(["ghost"])


def test_unknown_reward_is_both_key_and_value_error(scratch) -> None:
    with pytest.raises(KeyError, match="known rewards: consistency, correctness, format, strength"):
        get_reward("nope")
    with pytest.raises(ValueError, match="unknown reward 'nope'"):
        get_reward("nope")


def test_rewards_from_a_yaml_registry_file(scratch, tmp_path) -> None:
    file = tmp_path / "rewards.yaml"
    file.write_text(
        textwrap.dedent(
            """
            rewards:
              length: jrl_plugin_len:length_reward
              self_registered: jrl_plugin_self:self_registered
            """
        )
    )
    assert load_reward_plugins(file) == ["length", "self_registered"]
    assert "jrl_plugin_len" not in sys.modules
    assert scratch.lazy_target("length") == "jrl_plugin_len:length_reward"
    assert combined_reward(["length", "self_registered"])(SAMPLE, "abcde").score == 0.5 + 0.25
    flat = tmp_path / "flat.yaml"
    flat.write_text("length2: jrl_plugin_len:length_reward\n")
    assert load_reward_plugins(flat) == ["length2"] and get_reward("length2") is get_reward("length")


@pytest.mark.parametrize(
    "text,match",
    [
        ("- a\n- b\n", "expected a mapping"),
        ("", "expected a mapping"),
        ("length: 3\n", r"'length' must map to 'package.module:function', got 3"),
        ("score: jrl_plugin_len:length_reward\n", "identifier"),
        ("strength: jrl_plugin_len:length_reward\n", "already registered"),
        ("a: [unclosed\n", "cannot read it"),
    ],
)
def test_bad_yaml_registry_files(scratch, tmp_path, text, match) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text(text)
    with pytest.raises(RewardNameError, match=match) as err:
        load_reward_plugins(file)
    assert str(file) in str(err.value)


def test_missing_yaml_registry_file(scratch, tmp_path) -> None:
    with pytest.raises(RewardNameError, match="cannot read it"):
        load_reward_plugins(tmp_path / "absent.yaml")

"""Rewards by name, weighted lists of them from a recipe, and their weighted sum.

A recipe names rewards in any of these forms:

    rewards: strength
    rewards: [strength, format]
    rewards: [{name: strength, weight: 1.0}, {name: format, weight: 0.2, require_strength: true}]
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from judgerl.core.registry import Registry, RegistryError
from judgerl.core.types import JudgeSample
from judgerl.rewards.functions import (
    RewardResult,
    consistency_reward,
    correctness_reward,
    format_reward,
    strength_reward,
)

RewardFn = Callable[..., RewardResult]
_RESERVED = ("score", "parsed", "correct", "reason", "components")

# Plugin rewards live in modules with heavy imports (or in higher layers): named here, imported
# on first lookup, never registered by an import side effect.
PLUGIN_REWARDS = {
    "probe": "judgerl.probes.reward:probe_reward",
    "remote_judge": "judgerl.rewards.remote:remote_judge_reward",
}
REWARDS: Registry[RewardFn] = Registry("reward", lazy=PLUGIN_REWARDS)
for _name, _fn in (
    ("correctness", correctness_reward),
    ("strength", strength_reward),
    ("format", format_reward),
    ("consistency", consistency_reward),
):
    REWARDS.add(_name, _fn)


class RewardNameError(RegistryError, ValueError):
    """A reward name that is unknown, reserved, malformed or already taken.

    Both a KeyError (a registry lookup) and a ValueError (a bad recipe value), so callers that
    catch either keep working.
    """


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name.isidentifier() or name in _RESERVED:
        raise RewardNameError(f"reward name must be an identifier not in {_RESERVED}, got {name!r}")
    return name


def register_reward(name: str) -> Callable[[RewardFn], RewardFn]:
    """Decorator adding a reward under `name` (options must be named keyword parameters).

    Registering the same function again is harmless; another function under a taken name is a
    `RewardNameError` (a ValueError).

    Usage: @register_reward("length") above `def length_reward(sample, completion, *, cap=512)`.
    """
    _check_name(name)

    def decorate(fn: RewardFn) -> RewardFn:
        try:
            return REWARDS.add(name, fn)
        except RegistryError as err:
            raise RewardNameError(str(err)) from None

    return decorate


def register_reward_plugin(name: str, target: str) -> None:
    """Name a reward living in "package.module:function"; the module is imported on first use.

    Usage: register_reward_plugin("length", "my_rewards.length:length_reward")
    """
    _check_name(name)
    try:
        REWARDS.add_lazy(name, target)
    except RegistryError as err:
        raise RewardNameError(str(err)) from None


def load_reward_plugins(path: str | Path) -> list[str]:
    """Register every reward a YAML registry file names, lazily; returns the names, in file order.

    The file maps reward names to "package.module:function", at the top level or under `rewards:`:

        rewards:
          length: my_rewards.length:length_reward

    Usage: load_reward_plugins("configs/rewards.yaml")
    """
    import yaml

    file = Path(path)
    try:
        doc = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise RewardNameError(f"reward registry file {file}: cannot read it ({err})") from None
    if isinstance(doc, dict) and set(doc) == {"rewards"}:
        doc = doc["rewards"]
    if not isinstance(doc, dict) or not doc:
        raise RewardNameError(
            f"reward registry file {file}: expected a mapping of reward name to 'package.module:function', "
            f"got {doc!r}"
        )
    for name, target in doc.items():
        if not isinstance(target, str):
            raise RewardNameError(
                f"reward registry file {file}: {name!r} must map to 'package.module:function', got {target!r}"
            )
        try:
            register_reward_plugin(name, target)
        except RewardNameError as err:
            raise RewardNameError(f"reward registry file {file}: {err}") from None
    return list(doc)


def list_rewards() -> list[str]:
    """The registered reward names, plugins not yet imported included, sorted.

    >>> [n for n in list_rewards() if n in ("consistency", "correctness", "format", "probe", "strength")]
    ['consistency', 'correctness', 'format', 'probe', 'strength']
    """
    return REWARDS.names()


def get_reward(name: str) -> RewardFn:
    """The reward function registered as `name` (a plugin is imported now); KeyError listing the known names.

    >>> get_reward("strength").__name__
    'strength_reward'
    """
    if name not in REWARDS:
        raise RewardNameError(f"unknown reward {name!r}; known rewards: {', '.join(REWARDS.names())}")
    return REWARDS.get(name)


def reward_options(fn: RewardFn) -> set[str]:
    """The option names a reward accepts (its named parameters after sample and completion).

    >>> sorted(reward_options(get_reward("consistency")))
    ['partners']
    """
    params = list(inspect.signature(fn).parameters.values())[2:]
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {p.name for p in params if p.kind in named}


def accepts_partners(fn: RewardFn) -> bool:
    """True when a reward takes the other-order completions as `partners`.

    >>> accepts_partners(get_reward("consistency")), accepts_partners(get_reward("format"))
    (True, False)
    """
    return "partners" in reward_options(fn)


@dataclass(frozen=True)
class RewardSpec:
    """One reward in a weighted list: its registry name, weight and options.

    >>> RewardSpec("format", 0.2, {"require_strength": True}).weight
    0.2
    """

    name: str
    weight: float = 1.0
    kwargs: dict[str, Any] = field(default_factory=dict)
    judge_spec: Any = field(
        default=None, compare=False
    )  # the stage's JudgeSpec, for rewards that read verdicts

    def __post_init__(self) -> None:
        fn = get_reward(self.name)
        w = self.weight
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w):
            raise ValueError(f"reward {self.name!r}: weight must be a finite number, got {w!r}")
        if not isinstance(self.kwargs, dict):
            raise ValueError(f"reward {self.name!r}: options must be a mapping, got {self.kwargs!r}")
        object.__setattr__(self, "weight", float(w))
        allowed = reward_options(fn) - {"partners", "judge_spec"}
        unknown = sorted(set(self.kwargs) - allowed)
        if unknown:
            raise ValueError(
                f"reward {self.name!r}: unknown option(s) {unknown}; it accepts {sorted(allowed) or 'none'}"
            )

    @property
    def fn(self) -> RewardFn:
        """The registered function. Usage: RewardSpec("format").fn"""
        return get_reward(self.name)


def _one_spec(entry: Any, where: str) -> RewardSpec:
    if isinstance(entry, RewardSpec):
        return entry
    try:
        if isinstance(entry, str):
            return RewardSpec(entry.strip())
        if isinstance(entry, dict):
            if "name" not in entry:
                raise ValueError("missing 'name'")
            rest = {k: v for k, v in entry.items() if k not in ("name", "weight", "kwargs")}
            options = {**dict(entry.get("kwargs") or {}), **rest}
            return RewardSpec(str(entry["name"]), entry.get("weight", 1.0), options)
    except (KeyError, ValueError, TypeError) as err:
        msg = err.args[0] if err.args else str(err)
        raise ValueError(f"bad reward entry {where} {entry!r}: {msg}") from None
    raise ValueError(
        f"bad reward entry {where} {entry!r}: expected a name or a {{name, weight, ...}} mapping"
    )


def parse_reward_specs(obj: Any, judge_spec: Any = None) -> list[RewardSpec]:
    """Reward specs from a recipe value: a name, a list of names, or a list of mappings; with `judge_spec`
    (a JudgeSpec), every reward that reads verdicts reads them by that spec.

    >>> [(s.name, s.weight) for s in parse_reward_specs(["strength", {"name": "format", "weight": 0.2}])]
    [('strength', 1.0), ('format', 0.2)]
    """
    if isinstance(obj, (str, dict, RewardSpec)):
        obj = [obj]
    if not isinstance(obj, (list, tuple)) or not obj:
        raise ValueError(f"rewards must be a name or a non-empty list, got {obj!r}")
    specs = [_one_spec(entry, f"#{i}") for i, entry in enumerate(obj)]
    names = [s.name for s in specs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"reward(s) {dupes} listed more than once; list each reward once")
    if judge_spec is not None:
        specs = [replace(s, judge_spec=judge_spec) for s in specs]
    return specs


def call_reward(
    spec: RewardSpec, sample: JudgeSample, completion: str, partners: list[str] | None = None
) -> RewardResult:
    """Run one spec's reward, passing `partners` and the judge spec only to rewards that take them.

    Usage: call_reward(RewardSpec("consistency"), sample, text, partners=[other_order_text]).
    """
    kwargs = dict(spec.kwargs)
    options = reward_options(spec.fn)
    if "partners" in options:
        kwargs["partners"] = partners
    if "judge_spec" in options and spec.judge_spec is not None:
        kwargs["judge_spec"] = spec.judge_spec
    return spec.fn(sample, completion, **kwargs)


def combined_reward(specs: Any, judge_spec: Any = None) -> Callable[..., RewardResult]:
    """One reward whose score is the weighted sum of `specs`' scores (verdicts read by `judge_spec`).

    details hold each component's score under its name, the first component's `parsed`,
    `correct` and `reason`, and every component's details under `components`.

    >>> s = JudgeSample("1", "t", [{"role": "user", "content": "q"}], "x", "y", "a", -2)
    >>> f = combined_reward([{"name": "strength"}, {"name": "format", "weight": 0.5}])
    >>> r = f(s, "<think>ok</think>Therefore, Response (a) is better, and the strength is [[3]].")
    >>> r.score, r.details["strength"], r.details["format"]
    (1.375, 0.875, 1.0)
    """
    parsed_specs = parse_reward_specs(specs, judge_spec)

    def combined(sample: JudgeSample, completion: str, partners: list[str] | None = None) -> RewardResult:
        results = [call_reward(spec, sample, completion, partners) for spec in parsed_specs]
        first = results[0]
        details: dict[str, Any] = {key: first.details.get(key) for key in ("parsed", "correct", "reason")}
        details.update({spec.name: r.score for spec, r in zip(parsed_specs, results, strict=True)})
        details["components"] = {spec.name: r.details for spec, r in zip(parsed_specs, results, strict=True)}
        total = sum(spec.weight * r.score for spec, r in zip(parsed_specs, results, strict=True))
        return RewardResult(float(total), first.verdict, details)

    combined.specs = parsed_specs  # type: ignore[attr-defined]
    return combined

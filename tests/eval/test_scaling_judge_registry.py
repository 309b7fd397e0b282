"""The scaling judge registries: judge kinds and score hooks are core Registries (lazy plugins by
"module:attr", one duplicate rule), and the old "probe" spelling still works with a warning."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator

import pytest

from judgerl.core.registry import Registry, RegistryError
from judgerl.eval.scaling import judges
from judgerl.eval.scaling.judges import (
    JUDGE_KINDS,
    SCORE_HOOKS,
    JudgeOptions,
    OracleJudge,
    ScoreHookError,
    ScoreHookJudge,
    build_judge,
    get_score_hook,
    parse_judge_spec,
    register_probe,
    register_score_hook,
)
from judgerl.eval.scaling.stage import ScalingStage


@pytest.fixture
def hooks(monkeypatch: pytest.MonkeyPatch) -> Iterator[Registry]:
    fresh: Registry = Registry("score hook")
    monkeypatch.setattr("judgerl.eval.scaling.judges.hook.SCORE_HOOKS", fresh)
    module = types.ModuleType("my_hooks")
    module.longest = lambda p, c: [float(len(x)) for x in c]  # type: ignore[attr-defined]
    module.not_callable = 3  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "my_hooks", module)
    yield fresh


def test_both_registries_are_core_registries_with_every_kind_lazy() -> None:
    assert isinstance(JUDGE_KINDS, Registry) and isinstance(SCORE_HOOKS, Registry)
    assert JUDGE_KINDS.names() == ["generative", "hook", "http", "oracle", "pairwise", "prm"]
    assert JUDGE_KINDS.lazy_target("prm") == "judgerl.eval.scaling.judges.prm:build_prm_judge"
    assert all(":" in (JUDGE_KINDS.lazy_target(k) or "") for k in JUDGE_KINDS)
    with pytest.raises(RegistryError, match=r"unknown scaling judge kind 'magic' \(known: generative, hook"):
        JUDGE_KINDS.get("magic")


def test_a_new_judge_kind_is_one_lazy_builder(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("my_judges")
    seen = []

    def build(arg, spec, items, options):
        seen.append((arg, spec, options.seed))
        return OracleJudge(items, 0.0)

    module.build = build  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "my_judges", module)
    JUDGE_KINDS.add_lazy("mine", "my_judges:build")
    try:
        assert parse_judge_spec("mine:xyz") == ("mine", "xyz")
        judge = build_judge("mine:xyz", [], JudgeOptions(seed=5))
        assert isinstance(judge, OracleJudge) and seen == [("xyz", "mine:xyz", 5)]
        with pytest.raises(RegistryError, match="already registered"):
            JUDGE_KINDS.add_lazy("mine", "my_judges:other")
    finally:
        JUDGE_KINDS.remove("mine")
    with pytest.raises(ValueError, match="KIND one of generative, hook, http, oracle, pairwise, prm "):
        parse_judge_spec("mine:xyz")


def test_score_hooks_follow_the_registry_rules(hooks: Registry) -> None:
    def shortest(prompt, candidates):
        return [-float(len(c)) for c in candidates]

    register_score_hook("shortest", shortest)
    register_score_hook("shortest", shortest)  # the same function again is harmless
    with pytest.raises(RegistryError, match="score hook 'shortest' is already registered"):
        register_score_hook("shortest", lambda p, c: [0.0] * len(c))
    with pytest.raises(ValueError, match="without ':'"):
        register_score_hook("a:b", shortest)
    with pytest.raises(TypeError, match="must be callable"):
        register_score_hook("three", 3)  # type: ignore[arg-type]
    hooks.add_lazy("lazy_longest", "my_hooks:longest")
    assert not hooks.is_loaded("lazy_longest")
    assert get_score_hook("lazy_longest") is sys.modules["my_hooks"].longest  # type: ignore[attr-defined]
    assert ScoreHookJudge.named("lazy_longest").score("q", ["ab", "a"]) == [2.0, 1.0]
    assert build_judge("hook:my_hooks:longest", []).score("q", ["abc"]) == [3.0]
    for name, msg in (
        ("my_hooks:missing", "has no attribute 'missing'"),
        ("no_such_module_xyz:fn", "cannot import 'no_such_module_xyz'"),
        ("my_hooks:not_callable", "is not callable"),
        (
            "nope",
            r"no score hook named 'nope' \(registered: lazy_longest, shortest; or give module:function\)",
        ),
    ):
        with pytest.raises(ScoreHookError, match=msg) as info:
            get_score_hook(name)
        assert isinstance(info.value, ValueError) and isinstance(info.value, RegistryError)


def test_the_probe_spelling_is_a_deprecated_alias_of_hook(hooks: Registry) -> None:
    with pytest.warns(DeprecationWarning, match="register_probe is deprecated: use register_score_hook"):
        register_probe("shortest", lambda p, c: [-float(len(x)) for x in c])
    assert "shortest" in hooks
    with pytest.warns(
        FutureWarning,
        match=r"'probe' is deprecated, write hook:shortest \(the scaling 'probe' is a score hook",
    ):
        assert parse_judge_spec("probe:shortest") == ("hook", "shortest")
    with pytest.warns(FutureWarning):
        judge = build_judge("probe:shortest", [])
    # named by the spec as written, so the score cache of an old recipe keeps its file name
    assert judge.name == "probe:shortest" and judge.score("q", ["abc", "a"]) == [-3.0, -1.0]
    with pytest.warns(FutureWarning, match="deprecated"):
        stage = ScalingStage(candidates="c.jsonl", judges=["probe:shortest", "oracle:0"])
    assert stage.judges == ["probe:shortest", "oracle:0"]
    assert judges.DEPRECATED_KINDS["probe"][0] == "hook" and "probe" not in JUDGE_KINDS

"""The one registry type: duplicates, lazy plugins by "module:attr", unknown names, lookups."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from judgerl.core.errors import JudgeRLError
from judgerl.core.registry import Registry, RegistryError, resolve_dotted


def _plugin_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, body: str) -> str:
    """Write a module `name` under tmp_path and put it on sys.path; returns its name."""
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(body))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    return name


def double(x: int) -> int:
    return 2 * x


def test_add_get_and_the_mapping_style_lookup() -> None:
    r: Registry[object] = Registry("widget")
    assert r.add("double", double) is double
    assert r.get("double") is double and r["double"] is double
    assert "double" in r and "other" not in r
    assert list(r) == ["double"] and len(r) == 1 and r.names() == ["double"]


def test_the_same_object_again_is_fine_another_one_is_an_error() -> None:
    r: Registry[object] = Registry("widget")
    r.add("double", double)
    r.add("double", double)  # re-importing a module registers the same object again
    with pytest.raises(RegistryError, match=r"widget 'double' is already registered \(to .*double\)"):
        r.add("double", lambda x: 2 * x)
    assert r.get("double") is double


def test_register_decorator_returns_the_function() -> None:
    r: Registry[object] = Registry("widget")

    @r.register("triple")
    def triple(x: int) -> int:
        return 3 * x

    assert r.get("triple") is triple and triple(2) == 6


def test_unknown_names_list_the_known_ones() -> None:
    r: Registry[object] = Registry("widget", lazy={"b": "os.path:join"})
    r.add("a", double)
    with pytest.raises(RegistryError) as info:
        r.get("c")
    assert str(info.value) == "unknown widget 'c' (known: a, b)"  # no KeyError quoting
    with pytest.raises(RegistryError, match=r"\(known: none\)"):
        Registry("widget").get("x")


def test_registry_errors_are_key_value_and_judgerl_errors() -> None:
    with pytest.raises(KeyError):
        Registry("widget")["x"]
    with pytest.raises(ValueError):
        Registry("widget")["x"]
    assert issubclass(RegistryError, JudgeRLError)


@pytest.mark.parametrize("bad", ["", None, 3])
def test_names_must_be_non_empty_strings(bad: object) -> None:
    r: Registry[object] = Registry("widget")
    with pytest.raises(RegistryError, match="non-empty string"):
        r.add(bad, double)  # type: ignore[arg-type]
    with pytest.raises(RegistryError, match="non-empty string"):
        r.add_lazy(bad, "os:getcwd")  # type: ignore[arg-type]


def test_a_lazy_plugin_is_imported_on_first_lookup_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mod = _plugin_module(tmp_path, monkeypatch, "jrl_test_plugin_a", "def plugin(x):\n    return x + 1\n")
    r: Registry[object] = Registry("widget", lazy={"inc": f"{mod}:plugin"})
    assert "inc" in r and not r.is_loaded("inc") and mod not in sys.modules
    assert r.lazy_target("inc") == f"{mod}:plugin" and r.lazy_target("nope") is None
    fn = r.get("inc")
    assert mod in sys.modules and r.is_loaded("inc") and fn(1) == 2  # type: ignore[operator]
    assert r.get("inc") is fn is sys.modules[mod].plugin


def test_a_plugin_that_registers_itself_under_its_lazy_name_is_not_a_duplicate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    r: Registry[object] = Registry("widget", lazy={"dec": "jrl_test_plugin_b:plugin"})
    holder = type(sys)("jrl_test_registry_holder")
    holder.R = r  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "jrl_test_registry_holder", holder)
    body = (
        "import jrl_test_registry_holder as h\n\ndef plugin(x):\n    return x - 1\n\nh.R.add('dec', plugin)\n"
    )
    _plugin_module(tmp_path, monkeypatch, "jrl_test_plugin_b", body)
    assert r.get("dec")(5) == 4  # type: ignore[operator]
    assert r.get("dec") is sys.modules["jrl_test_plugin_b"].plugin


def test_an_eager_object_under_a_lazy_name_must_be_the_lazy_target() -> None:
    r: Registry[object] = Registry("widget", lazy={"double": "os.path:join"})
    with pytest.raises(RegistryError, match="already registered lazily as 'os.path:join'"):
        r.add("double", double)
    r2: Registry[object] = Registry("widget", lazy={"double": f"{__name__}:double"})
    assert r2.add("double", double) is double and r2.get("double") is double


def test_lazy_conflicts_are_errors_the_same_target_again_is_fine() -> None:
    r: Registry[object] = Registry("widget")
    r.add_lazy("join", "os.path:join")
    r.add_lazy("join", "os.path:join")
    with pytest.raises(RegistryError, match="'join' is already registered"):
        r.add_lazy("join", "os.path:split")
    r.add("double", double)
    with pytest.raises(RegistryError, match="'double' is already registered"):
        r.add_lazy("double", "os.path:join")
    r.add_lazy("double", f"{__name__}:double")  # the eager object's own target: no conflict
    with pytest.raises(RegistryError, match="not 'module:attribute'"):
        r.add_lazy("x", "os.path.join")


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("os.path", "is not of the form 'package.module:attribute'"),
        ("jrl_no_such_module_xyz:f", "cannot import 'jrl_no_such_module_xyz'"),
        ("os.path:no_such_attr", "'os.path' has no attribute 'no_such_attr'"),
    ],
)
def test_resolve_dotted_errors(target: str, message: str) -> None:
    with pytest.raises(RegistryError, match=message):
        resolve_dotted(target)


def test_resolve_dotted_follows_nested_attributes() -> None:
    import os.path

    assert resolve_dotted("os.path:join") is os.path.join
    assert resolve_dotted(f"{__name__}:Registry.get") is Registry.get


def test_a_broken_lazy_plugin_fails_on_lookup_with_its_target() -> None:
    r: Registry[object] = Registry("widget", lazy={"broken": "jrl_no_such_module_xyz:f"})
    assert "broken" in r  # registering does not import
    with pytest.raises(RegistryError, match="plugin target 'jrl_no_such_module_xyz:f': cannot import"):
        r.get("broken")


def test_remove_forgets_eager_and_lazy_entries() -> None:
    r: Registry[object] = Registry("widget", lazy={"join": "os.path:join"})
    r.add("double", double)
    r.remove("double")
    r.remove("join")
    r.remove("never-there")
    assert r.names() == []
    r.add("double", lambda x: x)  # the name is free again


def test_membership_of_a_non_name_is_false_not_a_type_error() -> None:
    r: Registry[object] = Registry("widget")
    r.add("double", double)
    assert ["double"] not in r and {"kind": "double"} not in r and None not in r

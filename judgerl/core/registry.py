"""The one registry type: named entries, one rule for duplicates, and lazy plugins by "module:attr".

Every judgerl registry (stage kinds, rewards, pair filters, sources, AutoJudge checkers, scaling
judges, generation backends) is a `Registry`. The rules are the same everywhere:

- registering a name twice is an error (`RegistryError`), unless it is the same object again
  (re-importing a module is harmless);
- a plugin may be registered lazily as a "package.module:attribute" string; the module is imported
  the first time the name is looked up, so nothing needs to be imported for its side effect and a
  lower layer can name a plugin that lives in a higher one without importing it;
- looking up an unknown name is an error that lists the known names.

`registry[name]` and `registry.get(name)` are the same lookup; iterating a registry gives its
names, sorted.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from judgerl.core.errors import JudgeRLError

T = TypeVar("T")


class RegistryError(JudgeRLError, KeyError, ValueError):
    """A duplicate or unknown registry name, or a lazy plugin that cannot be imported.

    It is a KeyError (a failed lookup) and a ValueError (a bad name in a config), so a pydantic
    validator that looks a name up turns it into a validation error with the recipe key.
    """

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


def resolve_dotted(target: str) -> object:
    """Import "package.module:attribute" and return the attribute.

    Usage: fn = resolve_dotted("judgerl.rewards.functions:strength_reward")
    """
    module_name, sep, attr = target.partition(":")
    if not sep or not module_name or not attr:
        raise RegistryError(f"plugin target {target!r} is not of the form 'package.module:attribute'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise RegistryError(f"plugin target {target!r}: cannot import {module_name!r} ({exc})") from exc
    obj: object = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise RegistryError(f"plugin target {target!r}: {module_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    return obj


class Registry(Generic[T]):
    """Named entries of one kind (`what` names the kind in error messages).

    >>> r = Registry("reward"); _ = r.add("const", lambda s, c: 1.0); r.get("const")(None, "") == 1.0
    True
    """

    def __init__(self, what: str, lazy: dict[str, str] | None = None) -> None:
        self.what = what
        self._entries: dict[str, T] = {}
        self._lazy: dict[str, str] = {}
        for name, target in (lazy or {}).items():
            self.add_lazy(name, target)

    def add(self, name: str, obj: T) -> T:
        """Register `obj` under `name`; the same name for another object is a `RegistryError`.

        Usage: REWARDS.add("length", length_reward)
        """
        if not isinstance(name, str) or not name:
            raise RegistryError(f"a {self.what} name must be a non-empty string, got {name!r}")
        current = self._entries.get(name)
        if current is not None and current is not obj:
            raise RegistryError(f"{self.what} {name!r} is already registered (to {_describe(current)})")
        if name in self._lazy and self._lazy[name] != _target_of(obj):
            raise RegistryError(f"{self.what} {name!r} is already registered lazily as {self._lazy[name]!r}")
        self._entries[name] = obj
        return obj

    def add_lazy(self, name: str, target: str) -> None:
        """Register a plugin by "package.module:attribute"; it is imported on first lookup.

        Usage: REWARDS.add_lazy("probe", "judgerl.probes.reward:probe_reward")
        """
        if not isinstance(name, str) or not name:
            raise RegistryError(f"a {self.what} name must be a non-empty string, got {name!r}")
        if ":" not in target:
            raise RegistryError(f"lazy {self.what} {name!r}: target {target!r} is not 'module:attribute'")
        known = self._lazy.get(name)
        if (known is not None and known != target) or (
            name in self._entries and _target_of(self._entries[name]) != target
        ):
            raise RegistryError(f"{self.what} {name!r} is already registered")
        self._lazy[name] = target

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of `add`.

        Usage: @REWARDS.register("length") above `def length_reward(sample, completion): ...`
        """

        def deco(obj: T) -> T:
            return self.add(name, obj)

        return deco

    def get(self, name: str) -> T:
        """The entry for `name`, importing a lazy plugin on first use.

        Usage: fn = REWARDS.get("strength")
        """
        if name in self._entries:
            return self._entries[name]
        if name in self._lazy:
            obj = resolve_dotted(self._lazy[name])
            # the plugin's module may have registered itself on import; either way the object wins
            self._entries[name] = obj  # type: ignore[assignment]
            return obj  # type: ignore[return-value]
        known = ", ".join(self.names()) or "none"
        raise RegistryError(f"unknown {self.what} {name!r} (known: {known})")

    def __getitem__(self, name: str) -> T:
        """`registry[name]` is `registry.get(name)`.

        Usage: STAGE_KINDS["sft"].config
        """
        return self.get(name)

    def names(self) -> list[str]:
        """Every registered name, eager and lazy, sorted.

        Usage: REWARDS.names()
        """
        return sorted(set(self._entries) | set(self._lazy))

    def is_loaded(self, name: str) -> bool:
        """True when `name` is registered and its object is already imported.

        Usage: REWARDS.is_loaded("probe")
        """
        return name in self._entries

    def lazy_target(self, name: str) -> str | None:
        """The "module:attr" a lazy entry points at (None for an eager one or an unknown name).

        Usage: REWARDS.lazy_target("probe")
        """
        return self._lazy.get(name)

    def remove(self, name: str) -> None:
        """Forget `name` (tests that register temporary plugins clean up with this).

        Usage: REWARDS.remove("my_test_reward")
        """
        self._entries.pop(name, None)
        self._lazy.pop(name, None)

    def __contains__(self, name: object) -> bool:
        # a recipe may hold any YAML value where a name belongs (a list, a mapping): not a name
        return isinstance(name, str) and (name in self._entries or name in self._lazy)

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())


def _target_of(obj: object) -> str:
    return f"{getattr(obj, '__module__', '?')}:{getattr(obj, '__qualname__', '?')}"


def _describe(obj: object) -> str:
    return _target_of(obj) if hasattr(obj, "__qualname__") else repr(obj)

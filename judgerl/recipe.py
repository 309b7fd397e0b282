"""Recipes: YAML into typed, validated stage configs, with overrides and interpolation.

A recipe names earlier outputs as `${stages.NAME.OUTPUT}` (resolved to `<run_dir>/NAME/<file>`)
and any top-level value as `${key.sub}`. Overrides look like `seed=3` or `stages.sft.lr=1e-5`
(values parsed as YAML). Every error names the file, the key, the bad value and what was expected.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError

from judgerl.core.config import StrictModel, format_validation_error
from judgerl.core.errors import RecipeError
from judgerl.data_prep.prompts import PromptSpec
from judgerl.launch import LAUNCHABLE_KINDS, LauncherSpec
from judgerl.stages import STAGE_KINDS

_REF = re.compile(r"\$\{([^}]*)\}")


class RecipeHeader(StrictModel):
    """Top-level recipe keys other than `stages`."""

    name: str
    description: str = ""
    run_dir: str
    seed: int = 0
    prompt: PromptSpec = Field(default_factory=PromptSpec)
    model: str | None = None
    launcher: LauncherSpec | None = None
    vars: dict[str, Any] = Field(default_factory=dict)


@dataclass
class Recipe:
    """A validated recipe: header values and the stages in the order written."""

    source: str
    header: RecipeHeader
    stages: dict[str, StrictModel]
    raw: dict[str, Any] = field(default_factory=dict)
    launchers: dict[str, LauncherSpec] = field(default_factory=dict)
    overrides: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The recipe's name."""
        return self.header.name

    @property
    def run_dir(self) -> Path:
        """Where every stage writes its folder."""
        return Path(self.header.run_dir)

    def stage_dir(self, stage: str) -> Path:
        """The folder of one stage. Usage: recipe.stage_dir("sft")."""
        return self.run_dir / stage

    def dependencies(self, stage: str) -> list[str]:
        """The earlier stages whose outputs this stage names. Usage: recipe.dependencies("eval_sft")."""
        text = yaml.safe_dump(self.raw["stages"][stage])
        names = {m.group(1).split(".")[1] for m in _REF.finditer(text) if m.group(1).startswith("stages.")}
        return [s for s in self.stages if s in names]


def _fail(source: str, key: str, message: str) -> RecipeError:
    return RecipeError(f"recipe {source}: {key}: {message}")


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split `a.b.c=value` into a key path and a YAML-parsed value.

    >>> parse_override("stages.sft.lr=1e-5")
    (['stages', 'sft', 'lr'], 1e-05)
    """
    if "=" not in text:
        raise RecipeError(f"override {text!r}: expected KEY=VALUE, e.g. stages.sft.lr=1e-5")
    key, value = text.split("=", 1)
    parts = key.strip().split(".")
    if not all(parts):
        raise RecipeError(f"override {text!r}: the key {key!r} has an empty part")
    try:
        parsed = yaml.safe_load(value) if value.strip() else ""
    except yaml.YAMLError as e:
        raise RecipeError(f"override {text!r}: the value is not valid YAML ({e})") from e
    if isinstance(parsed, str) and re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+", parsed.strip()):
        parsed = float(parsed)  # YAML 1.1 reads "1e-5" as a string; users mean a number
    return parts, parsed


def apply_overrides(raw: dict[str, Any], overrides: list[str], source: str = "<recipe>") -> dict[str, Any]:
    """A copy of `raw` with each `key=value` override applied (a stage must exist to be overridden).

    >>> apply_overrides({"seed": 0, "stages": {"sft": {"lr": 1}}}, ["seed=3"])["seed"]
    3
    """
    out = copy.deepcopy(raw)
    for text in overrides:
        parts, value = parse_override(text)
        if parts[0] == "stages" and len(parts) > 1 and parts[1] not in (out.get("stages") or {}):
            known = ", ".join(out.get("stages") or {}) or "none"
            raise _fail(source, ".".join(parts[:2]), f"no such stage to override (stages: {known})")
        node = out
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise _fail(
                    source,
                    ".".join(parts[: i + 1]),
                    f"is {child!r}, not a mapping, so {text!r} cannot set a key in it",
                )
            node = child
        node[parts[-1]] = value
    return out


def _yaml_number(value: Any) -> Any:
    if isinstance(value, str) and re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+", value.strip()):
        return float(value)
    return value


class _Resolver:
    def __init__(self, raw: dict[str, Any], source: str) -> None:
        self.raw = raw
        self.source = source
        self.order = list(raw.get("stages") or {})
        self.active: list[str] = []

    def stage_output(self, ref: str, where: str) -> str:
        parts = ref.split(".")
        current = where.split(".")[1] if where.startswith("stages.") else None
        if len(parts) != 3:
            raise _fail(self.source, where, f"${{{ref}}}: expected ${{stages.NAME.OUTPUT}}")
        _, name, output = parts
        if name not in self.order:
            raise _fail(
                self.source,
                where,
                f"${{{ref}}} names stage {name!r}, which the recipe does not define (stages: {', '.join(self.order)})",
            )
        if current is not None and self.order.index(name) >= self.order.index(current):
            raise _fail(
                self.source, where, f"${{{ref}}} names stage {name!r}, which does not run before {current!r}"
            )
        kind = (self.raw["stages"][name] or {}).get("kind")
        if kind not in STAGE_KINDS:
            raise _fail(
                self.source,
                f"stages.{name}.kind",
                f"{kind!r} is not a stage kind (expected one of {', '.join(STAGE_KINDS)})",
            )
        outputs = STAGE_KINDS[kind].outputs
        if output == "dir":
            return str(Path(self.lookup("run_dir", where)) / name)
        if output not in outputs:
            raise _fail(
                self.source,
                where,
                f"${{{ref}}}: a {kind!r} stage has no output {output!r} (it has: {', '.join(outputs)}, dir)",
            )
        return str(Path(self.lookup("run_dir", where)) / name / outputs[output])

    def lookup(self, ref: str, where: str) -> Any:
        if ref.startswith("stages."):
            return self.stage_output(ref, where)
        if ref in self.active:
            raise _fail(
                self.source, where, f"${{{ref}}} refers to itself (cycle: {' -> '.join(self.active + [ref])})"
            )
        node: Any = self.raw
        for part in ref.split("."):
            if not isinstance(node, dict) or part not in node:
                raise _fail(self.source, where, f"${{{ref}}} names a key the recipe does not have")
            node = node[part]
        self.active.append(ref)
        try:
            return self.resolve(node, ref)
        finally:
            self.active.pop()

    def resolve(self, value: Any, where: str) -> Any:
        if isinstance(value, dict):
            return {k: self.resolve(v, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if not isinstance(value, str) or "${" not in value:
            return _yaml_number(value)
        whole = _REF.fullmatch(value.strip())
        if whole:
            return self.lookup(whole.group(1).strip(), where)
        return _REF.sub(lambda m: str(self.lookup(m.group(1).strip(), where)), value)


def _known_keys(cls: type[StrictModel]) -> str:
    # the stage's own keys first (kind leads), then those it inherits (the keys every trainer shares)
    parents = [b for b in cls.__mro__[1:] if isinstance(b, type) and issubclass(b, StrictModel)]
    inherited = {k for b in parents for k in b.model_fields}
    own = [k for k in cls.model_fields if k not in inherited]
    return ", ".join(own + [k for k in cls.model_fields if k in inherited])


def validate_recipe(raw: dict[str, Any], source: str = "<recipe>") -> Recipe:
    """Resolve interpolation and validate every stage against its kind's schema.

    Usage: recipe = validate_recipe(yaml.safe_load(text), "my.yaml")
    """
    if not isinstance(raw, dict):
        raise RecipeError(f"recipe {source}: expected a mapping at the top level, got {type(raw).__name__}")
    stages_raw = raw.get("stages")
    if not isinstance(stages_raw, dict) or not stages_raw:
        raise _fail(
            source, "stages", f"expected a non-empty mapping of stage name -> stage, got {stages_raw!r}"
        )
    for name, body in stages_raw.items():
        if not isinstance(body, dict):
            raise _fail(source, f"stages.{name}", f"expected a mapping with a 'kind', got {body!r}")
        if body.get("kind") not in STAGE_KINDS:
            raise _fail(
                source,
                f"stages.{name}.kind",
                f"{body.get('kind')!r} is not a stage kind (expected one of: {', '.join(STAGE_KINDS)})",
            )
    resolver = _Resolver(raw, source)
    header_raw = {k: v for k, v in raw.items() if k != "stages"}
    try:
        header = RecipeHeader.model_validate(resolver.resolve(header_raw, ""))
    except ValidationError as e:
        raise RecipeError(
            f"recipe {source}: {format_validation_error(e, values=True)} (top-level keys: {_known_keys(RecipeHeader)}, stages)"
        ) from e
    stages: dict[str, StrictModel] = {}
    launchers: dict[str, LauncherSpec] = {}
    for name, body in stages_raw.items():
        kind = STAGE_KINDS[body["kind"]]
        resolved = resolver.resolve(body, f"stages.{name}")
        launcher = resolved.pop("launcher", None)
        if launcher is None and header.launcher is not None and body["kind"] in LAUNCHABLE_KINDS:
            launchers[name] = header.launcher
        elif launcher is not None:
            if body["kind"] not in LAUNCHABLE_KINDS:
                raise _fail(
                    source,
                    f"stages.{name}.launcher",
                    f"only training stages ({', '.join(LAUNCHABLE_KINDS)}) take a launcher; this is a {body['kind']!r} stage",
                )
            try:
                launchers[name] = LauncherSpec.model_validate(launcher)
            except ValidationError as e:
                raise RecipeError(
                    f"recipe {source}: {format_validation_error(e, f'stages.{name}.launcher', values=True)} (a launcher takes: {_known_keys(LauncherSpec)})"
                ) from e
        if "prompt" in kind.config.model_fields and "prompt" not in resolved:
            resolved["prompt"] = header.prompt
        try:
            stages[name] = kind.config.model_validate(resolved)
        except ValidationError as e:
            msg = format_validation_error(e, f"stages.{name}", values=True)
            raise RecipeError(
                f"recipe {source}: {msg} (a {body['kind']!r} stage takes: {_known_keys(kind.config)})"
            ) from e
    return Recipe(source=source, header=header, stages=stages, raw=raw, launchers=launchers)


def merge_mappings(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """`base` updated by `update`, recursing into mappings; keys new in `update` come last.

    >>> merge_mappings({"a": {"x": 1, "y": 2}, "b": 1}, {"a": {"y": 3}, "c": 4})
    {'a': {'x': 1, 'y': 3}, 'b': 1, 'c': 4}
    """
    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_mappings(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def read_recipe_yaml(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The raw mapping of a recipe file, with `extends: OTHER.yaml` (relative to the file) merged in.

    The extended recipe's stages come first, in their order; the file's own keys override them
    and its new stages follow. Two recipes that share a run_dir share finished stages.

    Usage: raw = read_recipe_yaml("recipes/quickstart_dpo.yaml")
    """
    path = Path(path)
    if not path.exists():
        raise RecipeError(f"recipe {path}: no such file")
    if path.resolve() in _seen:
        raise RecipeError(f"recipe {path}: extends itself (chain: {' -> '.join(str(p) for p in _seen)})")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise RecipeError(f"recipe {path}: not valid YAML: {e}") from e
    if not isinstance(raw, dict):
        raise RecipeError(f"recipe {path}: expected a mapping at the top level, got {type(raw).__name__}")
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    if not isinstance(parent, str):
        raise _fail(str(path), "extends", f"expected a recipe file name, got {parent!r}")
    base = read_recipe_yaml(path.parent / parent, (*_seen, path.resolve()))
    return merge_mappings(base, raw)


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    """Read (following `extends`), override, interpolate and validate a recipe file.

    Usage: recipe = load_recipe("recipes/quickstart.yaml", ["stages.sft.max_steps=10"])
    """
    raw = apply_overrides(read_recipe_yaml(path), overrides or [], str(path))
    recipe = validate_recipe(raw, str(path))
    recipe.overrides = list(overrides or [])
    return recipe

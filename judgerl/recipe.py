"""Recipes: YAML into typed, validated stage configs, with overrides and interpolation.

A recipe names earlier outputs as `${stages.NAME.OUTPUT}` (resolved to `<run_dir>/NAME/<file>`)
and any top-level value as `${key.sub}`. Overrides look like `seed=3` or `stages.sft.lr=1e-5`
(values parsed as YAML). Every error names the file, the key, the bad value and what was expected.
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator

from judgerl.core.config import StrictModel, format_validation_error
from judgerl.core.errors import RecipeError
from judgerl.core.recipe_files import resolve_extends, resolve_recipe_path, resolve_shipped_references
from judgerl.core.safe_yaml import MAX_DEPTH, describe_yaml_error, load_bounded
from judgerl.core.seeding import SEED_MAX
from judgerl.core.stage_folders import is_stage_name
from judgerl.judge_spec.families import PromptSpec
from judgerl.judge_spec.files import JudgeSpecField
from judgerl.launch import LAUNCHABLE_KINDS, LauncherSpec
from judgerl.models.chat_templates import check_template_name
from judgerl.stages import STAGE_KINDS
from judgerl.trainers.tracking import ReportTo

_REF = re.compile(r"\$\{([^}]*)\}")
MAX_RECIPE_BYTES = 1 << 20
MAX_EXTENDS = 16
_MAX_INT = 2**53  # beyond this no count, size or step number is meant, and floats lose integers
_MAX_STRING = 100_000  # an interpolated string longer than this is an expansion gone wrong
_MAX_RESOLVE = 50_000  # values visited while resolving interpolation
# the keys that take an infinite number on purpose (a selection temperature's uniform limit)
_INFINITE_OK = {"scaling": ("T", "plot_T")}
# the keys (at any depth of a stage's config) whose string value names a file, a folder or a hub id
PATH_KEYS = ("model", "judge", "critic", "data", "path", "dir_path", "deepspeed", "config_file", "data_files")


class RecipeHeader(StrictModel):
    """Top-level recipe keys other than `stages`."""

    name: str
    description: str = ""
    run_dir: str
    seed: int = Field(0, ge=0, le=SEED_MAX)
    # the judge dialect of every stage that takes one and leaves it unset (docs/judge_specs.md); when
    # neither is given, a stage that reads a judge checkpoint uses the spec saved with it
    prompt: PromptSpec | None = None
    judge_spec: JudgeSpecField = None
    model: str | None = None
    launcher: LauncherSpec | None = None
    vars: dict[str, Any] = Field(default_factory=dict)
    # experiment tracking of every training stage (a stage's own keys win): judgerl/trainers/tracking.py
    report_to: ReportTo = "none"
    run_name: str | None = None
    # the chat template of every stage that takes one and leaves it unset (docs/real_models.md)
    chat_template: str | None = None

    @field_validator("chat_template")
    @classmethod
    def _known_template(cls, value: str | None) -> str | None:
        return check_template_name(value)

    @field_validator("run_dir")
    @classmethod
    def _a_folder(cls, value: str) -> str:
        if not value.strip():
            raise ValueError(
                "expected the folder every stage writes under, e.g. runs/my_run; got an empty path"
            )
        return value


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


def _short(value: Any, limit: int = 120) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 20]}...{text[-12:]} ({len(text):,} characters)"


def _short_path(path: Path) -> str:
    text = str(path)
    return text if len(text) <= 120 else _short(text)


def _depth_problem(raw: Any) -> str | None:
    """The key path of the first value nested deeper than MAX_DEPTH (checked without recursion)."""
    todo: list[tuple[Any, str, int]] = [(raw, "", 0)]
    while todo:
        node, where, depth = todo.pop()
        if depth > MAX_DEPTH:
            return where or "input"
        if isinstance(node, dict):
            todo.extend((v, f"{where}.{k}" if where else str(k), depth + 1) for k, v in node.items())
        elif isinstance(node, list):
            todo.extend((v, f"{where}[{i}]", depth + 1) for i, v in enumerate(node))
    return None


def _number_problems(value: Any, where: str, infinite_ok: tuple[str, ...] = ()) -> list[str]:
    """Non-finite floats, integers beyond 2**53 and seeds outside 0..2**32-1 anywhere in `value`."""
    out = []
    todo: list[tuple[Any, str, str]] = [(value, where, "")]
    while todo:
        node, key, field_name = todo.pop()
        if isinstance(node, dict):
            todo.extend((v, f"{key}.{k}", field_name or str(k)) for k, v in node.items())
        elif isinstance(node, (list, tuple)):
            todo.extend((v, f"{key}[{i}]", field_name) for i, v in enumerate(node))
        elif isinstance(node, bool):
            continue
        elif isinstance(node, float) and not math.isfinite(node):
            if not (math.isinf(node) and field_name in infinite_ok):
                out.append(
                    f"{key} = {node!r}: expected a finite number (.inf and .nan are not accepted here)"
                )
        elif isinstance(node, int) and key.rsplit(".", 1)[-1] == "seed" and not 0 <= node <= SEED_MAX:
            out.append(f"{key} = {_short(node)}: a seed must be an integer from 0 to 2**32-1 ({SEED_MAX})")
        elif isinstance(node, int) and abs(node) > _MAX_INT:
            out.append(f"{key} = {_short(node)}: out of range (expected at most 2**53 in size)")
    return sorted(out)


def _empty_paths(value: Any, where: str) -> list[str]:
    """Path keys (PATH_KEYS, at any depth) given as an empty or blank string."""
    out = []
    todo: list[tuple[Any, str]] = [(value, where)]
    while todo:
        node, key = todo.pop()
        if isinstance(node, dict):
            todo.extend((v, f"{key}.{k}") for k, v in node.items())
        elif isinstance(node, (list, tuple)):
            todo.extend((v, f"{key}[{i}]") for i, v in enumerate(node))
        elif isinstance(node, str) and not node.strip() and key.rsplit(".", 1)[-1] in PATH_KEYS:
            out.append(f"{key} = {node!r}: expected a file, a folder or a hub id, got an empty path")
    return sorted(out)


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split `a.b.c=value` into a key path and a YAML-parsed value.

    >>> parse_override("stages.sft.lr=1e-5")
    (['stages', 'sft', 'lr'], 1e-05)
    """
    if "=" not in text:
        raise RecipeError(f"override {_short(text)}: expected KEY=VALUE, e.g. stages.sft.lr=1e-5")
    key, value = text.split("=", 1)
    parts = key.strip().split(".")
    if not all(parts):
        raise RecipeError(f"override {_short(text)}: the key {_short(key)} has an empty part")
    if len(parts) > MAX_DEPTH:
        raise RecipeError(f"override {_short(text)}: the key has more than {MAX_DEPTH} parts")
    try:
        parsed = load_bounded(value) if value.strip() else ""
    except yaml.YAMLError as e:
        raise RecipeError(
            f"override {_short(text)}: the value is not valid YAML ({describe_yaml_error(e)})"
        ) from e
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
        self.visited = 0

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
        self.visited += 1
        if self.visited > _MAX_RESOLVE:
            raise _fail(self.source, where, f"interpolation expands to more than {_MAX_RESOLVE:,} values")
        if isinstance(value, dict):
            return {k: self.resolve(v, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v, f"{where}[{i}]") for i, v in enumerate(value)]
        if not isinstance(value, str) or "${" not in value:
            return _yaml_number(value)
        if "${" in _REF.sub("", value):
            raise _fail(
                self.source,
                where,
                f"{_short(value)}: a '${{' without its closing '}}' (write ${{stages.NAME.OUTPUT}} or ${{key.sub}})",
            )
        whole = _REF.fullmatch(value.strip())
        if whole:
            return self.lookup(whole.group(1).strip(), where)
        out = _REF.sub(lambda m: self.embedded(m.group(1).strip(), where), value)
        if len(out) > _MAX_STRING:
            raise _fail(self.source, where, f"interpolation makes a string of {len(out):,} characters")
        return out

    def embedded(self, ref: str, where: str) -> str:
        value = self.lookup(ref, where)
        if isinstance(value, (dict, list)):
            raise _fail(
                self.source,
                where,
                f"${{{ref}}} is a {type(value).__name__}; only a whole value can be a mapping or list, not part of a string",
            )
        return str(value)


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
    deep = _depth_problem(raw)
    if deep is not None:
        raise _fail(source, deep, f"nested deeper than {MAX_DEPTH} levels")
    for name, body in stages_raw.items():
        if not is_stage_name(name):
            raise _fail(
                source,
                f"stages.{_short(name)}",
                "not a valid stage name: a stage's name is its folder under run_dir and its name in "
                "${stages.NAME.OUTPUT}, so it takes letters, digits, '_' and '-' (1-64 characters, "
                "not starting with '-'), e.g. eval_sft",
            )
        if not isinstance(body, dict):
            raise _fail(source, f"stages.{name}", f"expected a mapping with a 'kind', got {_short(body)}")
        kind = body.get("kind")
        if not isinstance(kind, str) or kind not in STAGE_KINDS:
            raise _fail(
                source,
                f"stages.{name}.kind",
                f"{_short(kind)} is not a stage kind (expected one of: {', '.join(STAGE_KINDS)})",
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
        problems = _number_problems(resolved, f"stages.{name}", _INFINITE_OK.get(body["kind"], ()))
        problems += _empty_paths(resolved, f"stages.{name}")
        if problems:  # before the schema, whose cross-key checks would name another key
            raise RecipeError(f"recipe {source}: {'; '.join(problems)}")
        if "prompt" in kind.config.model_fields and "prompt" not in resolved and header.prompt is not None:
            resolved["prompt"] = header.prompt
        # a stage's own prompt shorthand wins over the recipe-wide spec
        takes_spec = "judge_spec" in kind.config.model_fields and "judge_spec" not in resolved
        if takes_spec and "prompt" not in body and header.judge_spec is not None:
            resolved["judge_spec"] = header.judge_spec
        for key in ("report_to", "run_name", "chat_template"):  # recipe-wide keys a stage may override
            if key in kind.config.model_fields and key not in resolved and getattr(header, key) is not None:
                resolved[key] = getattr(header, key)
        try:
            stages[name] = kind.config.model_validate(resolved)
        except ValidationError as e:
            msg = format_validation_error(e, f"stages.{name}", values=True)
            raise RecipeError(
                f"recipe {source}: {msg} (a {body['kind']!r} stage takes: {_known_keys(kind.config)})"
            ) from e
        dumped = stages[name].model_dump(mode="python")
        problems = _number_problems(dumped, f"stages.{name}", _INFINITE_OK.get(body["kind"], ()))
        if problems:
            raise RecipeError(f"recipe {source}: {'; '.join(problems)}")
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


def _read_text(path: Path) -> str:
    """The recipe file's text: a clear error for a folder, an unreadable or over-large file, or bad UTF-8."""
    try:
        if path.is_dir():
            inside = sorted(p.name for p in path.glob("*.y*ml"))[:8]
            hint = f" (recipes in it: {', '.join(inside)})" if inside else ""
            raise RecipeError(f"recipe {_short_path(path)}: is a folder, not a recipe file{hint}")
        if not path.exists():
            raise RecipeError(f"recipe {_short_path(path)}: no such file")
        size = path.stat().st_size
        if size > MAX_RECIPE_BYTES:
            raise RecipeError(f"recipe {path}: {size:,} bytes; a recipe file is at most {MAX_RECIPE_BYTES:,}")
        data = path.read_bytes()
    except (OSError, ValueError) as e:  # a name too long, a NUL in it, no permission
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise RecipeError(f"recipe {_short_path(path)}: cannot be read ({reason})") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise RecipeError(
            f"recipe {path}: not UTF-8 text (byte {e.start}, line {line}: {e.reason})"
        ) from None


def read_recipe_yaml(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The raw mapping of a recipe file, with `extends: OTHER.yaml` (relative to the file) merged in.

    The extended recipe's stages come first, in their order; the file's own keys override them
    and its new stages follow. Two recipes that share a run_dir share finished stages. The YAML
    is read with limits (judgerl.core.safe_yaml): nesting, alias expansion, duplicate keys.

    Usage: raw = read_recipe_yaml("recipes/quickstart_dpo.yaml")
    """
    path = Path(path)
    text = _read_text(path)
    if path.resolve() in _seen:
        raise RecipeError(f"recipe {path}: extends itself (chain: {' -> '.join(str(p) for p in _seen)})")
    if len(_seen) >= MAX_EXTENDS:
        raise RecipeError(f"recipe {path}: `extends` chains more than {MAX_EXTENDS} files")
    try:
        raw = load_bounded(text) or {}
    except yaml.YAMLError as e:
        raise RecipeError(f"recipe {path}: not valid YAML: {describe_yaml_error(e)}") from None
    if not isinstance(raw, dict):
        raise RecipeError(f"recipe {path}: expected a mapping at the top level, got {type(raw).__name__}")
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    if not isinstance(parent, str) or not parent.strip():
        raise _fail(str(path), "extends", f"expected a recipe file name, got {_short(parent)}")
    try:
        parent_path = resolve_extends(parent, path)
    except (OSError, ValueError):  # a name too long, or with a NUL: reported by _read_text below
        parent_path = path.parent / parent
    try:
        base = read_recipe_yaml(parent_path, (*_seen, path.resolve()))
    except RecipeError as e:
        raise RecipeError(f"recipe {path}: extends: {e}") from None
    return merge_mappings(base, raw)


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    """Read (following `extends`), override, interpolate and validate a recipe file.

    `path` is a file, else the name of a shipped recipe (`quickstart`, `think_j/qwen2.5-7b`): see
    judgerl/core/recipe_files.py, which also points `recipes/...` config paths at the shipped files
    when the recipe runs from another folder.

    Usage: recipe = load_recipe("recipes/quickstart.yaml", ["stages.sft.max_steps=10"])
    """
    try:
        path = resolve_recipe_path(path)
    except (OSError, ValueError):  # a name too long, or with a NUL: reported by read_recipe_yaml
        path = Path(path)
    raw = resolve_shipped_references(apply_overrides(read_recipe_yaml(path), overrides or [], str(path)))
    recipe = validate_recipe(raw, str(path))
    recipe.overrides = list(overrides or [])
    return recipe

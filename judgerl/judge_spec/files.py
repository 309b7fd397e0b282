"""Judge specs by name or file, saved beside a checkpoint (`judge_spec.json`) and found there again.

A spec given to a stage or a command is a built-in name (`judgerl ls`-style list in
`builtin_names()`), a YAML/JSON file, or an inline mapping; a mapping may start from a built-in
with `extends: NAME` and change only what differs. Every consumer resolves the spec it uses with
`resolve_spec`: an explicit spec (the stage's `judge_spec`, or the `prompt:` shorthand) wins, with a
warning naming both when the checkpoint carries another; otherwise the checkpoint's own spec;
otherwise judgerl's default, said out loud.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, ValidationError

from judgerl.core.errors import JudgeRLError
from judgerl.core.jsonl import write_json
from judgerl.core.safe_yaml import describe_yaml_error, load_bounded
from judgerl.judge_spec.families import PromptSpec
from judgerl.judge_spec.presets import DEFAULT_SPEC, builtin_names, builtin_spec, spec_for_prompt
from judgerl.judge_spec.spec import JudgeSpec

SPEC_FILE = "judge_spec.json"
MAX_SPEC_BYTES = 1 << 20
log = logging.getLogger("judgerl.judge_spec")


class JudgeSpecError(JudgeRLError, ValueError):
    """A spec that cannot be found, read or validated; the message names the file and the key."""


def _merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in update.items():
        out[key] = (
            _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        )
    return out


def _message(err: ValidationError, where: str) -> str:
    """One line per problem: the key, and the value given where a key was wrong (not the whole spec)."""
    parts = []
    for e in err.errors():
        loc = ".".join(str(x) for x in e["loc"])
        key = f"{where}.{loc}" if loc else where
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            parts.append(f"{key}: unknown key")
        elif e["type"] == "missing":
            parts.append(f"{key}: required key is missing")
        elif loc:
            shown = repr(e["input"])
            parts.append(f"{key} = {shown if len(shown) <= 80 else shown[:77] + '...'}: {msg}")
        else:
            parts.append(f"{key}: {msg}")
    return "; ".join(parts)


def spec_from_mapping(data: Any, where: str = "judge_spec") -> JudgeSpec:
    """A spec from a mapping (`extends: NAME` starts from a built-in); JudgeSpecError names the key.

    >>> spec_from_mapping({"extends": "mtbench", "name": "mine", "verdict": {"ties": False}}).verdict.ties
    False
    """
    if isinstance(data, JudgeSpec):
        return data
    if not isinstance(data, dict):
        raise JudgeSpecError(
            f"{where}: expected a built-in name, a file path or a mapping, got {type(data).__name__}"
        )
    data = dict(data)
    base = data.pop("extends", None)
    if base is not None:
        if not isinstance(base, str) or base not in builtin_names():
            raise JudgeSpecError(
                f"{where}.extends = {base!r}: not a built-in spec ({', '.join(builtin_names())})"
            )
        inherited = builtin_spec(base).model_dump(mode="json")
        verdict = data.get("verdict")
        if (
            isinstance(verdict, dict)
            and verdict.get("format", inherited["verdict"]["format"]) != inherited["verdict"]["format"]
        ):
            inherited.pop("verdict")  # another format starts from its own preset, not the base's pattern
        data = _merge(inherited, data)
        data.setdefault("name", f"{base}+custom")
    try:
        return JudgeSpec.model_validate(data)
    except ValidationError as e:
        raise JudgeSpecError(_message(e, where)) from None


def read_spec_file(path: str | os.PathLike[str]) -> JudgeSpec:
    """A spec from a YAML or JSON file; JudgeSpecError names the file and what is wrong.

    Usage: spec = read_spec_file("specs/thinkj_strength.yaml")
    """
    p = Path(path)
    try:
        if p.stat().st_size > MAX_SPEC_BYTES:
            raise JudgeSpecError(f"judge spec {p}: larger than {MAX_SPEC_BYTES:,} bytes")
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise JudgeSpecError(f"judge spec {p}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise JudgeSpecError(f"judge spec {p}: cannot read it ({e})") from None
    try:
        data = load_bounded(text)
    except Exception as e:  # yaml errors, limits
        import yaml

        detail = describe_yaml_error(e) if isinstance(e, yaml.YAMLError) else str(e)
        raise JudgeSpecError(f"judge spec {p}: not valid YAML/JSON ({detail})") from None
    return spec_from_mapping(data, f"judge spec {p}")


def load_spec(ref: Any) -> JudgeSpec:
    """A spec from a built-in name, a file path, a mapping or a JudgeSpec.

    >>> load_spec("direct").wants_thinking
    False
    """
    if isinstance(ref, JudgeSpec):
        return ref
    if isinstance(ref, str):
        if ref in builtin_names():
            return builtin_spec(ref)
        if Path(ref).suffix.lower() in (".yaml", ".yml", ".json") or Path(ref).exists():
            return read_spec_file(ref)
        raise JudgeSpecError(
            f"judge spec {ref!r}: neither a built-in spec ({', '.join(builtin_names())}) nor a .yaml/.json file"
        )
    return spec_from_mapping(ref)


def _validate_field(value: Any) -> Any:
    if value is None or isinstance(value, JudgeSpec):
        return value
    try:
        return load_spec(value)
    except JudgeSpecError as e:
        raise ValueError(str(e)) from None


# the stage key `judge_spec:` - a name, a file or a mapping, validated when the recipe loads and hashed by content
JudgeSpecField = Annotated[
    JudgeSpec | None,
    BeforeValidator(_validate_field),
    PlainSerializer(lambda s: None if s is None else s.model_dump(mode="json"), return_type=Any),
]


def save_spec(spec: JudgeSpec, folder: str | os.PathLike[str]) -> Path:
    """Write `judge_spec.json` into a checkpoint folder (atomically). Usage: save_spec(spec, out / "checkpoint")"""
    return write_json(Path(folder) / SPEC_FILE, spec.model_dump(mode="json"))


def _hub_file(repo: str) -> Path | None:
    try:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.utils import HFValidationError

        offline = os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
        return Path(hf_hub_download(repo, SPEC_FILE, local_files_only=offline))
    except (HFValidationError, OSError, ValueError):
        return None
    except Exception:  # no spec there, no network: the model loader reports real problems
        return None


def checkpoint_spec(model: str | os.PathLike[str] | None) -> JudgeSpec | None:
    """The spec saved with a model (a local folder, or a hub repo's `judge_spec.json`), or None.

    A file that is there but unreadable is an error, not a silent default.

    Usage: spec = checkpoint_spec("runs/quickstart/sft/checkpoint")
    """
    if not model:
        return None
    text = str(model)
    if text.startswith(("http://", "https://")):
        return None
    local = Path(text)
    if local.is_dir():
        found = local / SPEC_FILE
        return read_spec_file(found) if found.is_file() else None
    if local.exists() or text.count("/") != 1 or text.startswith((".", "/", "~")):
        return None
    hub = _hub_file(text)
    return read_spec_file(hub) if hub is not None else None


def describe(spec: JudgeSpec) -> str:
    """A one-line description for logs. Usage: log.info(describe(spec))"""
    return f"'{spec.name}' ({spec.mode}, verdict format {spec.verdict.format})"


def _same(a: JudgeSpec, b: JudgeSpec) -> bool:
    ignore = {"name", "description"}
    return json.dumps(a.model_dump(mode="json", exclude=ignore), sort_keys=True) == json.dumps(
        b.model_dump(mode="json", exclude=ignore), sort_keys=True
    )


_SAID: set[tuple[str, ...]] = set()


def _say(logger: logging.Logger, level: int, key: tuple[str, ...], message: str) -> None:
    """Log a resolution message once per process (a command resolves before its stage does)."""
    if key not in _SAID:
        _SAID.add(key)
        logger.log(level, message)


def resolve_spec(
    explicit: JudgeSpec | None,
    prompt: PromptSpec | None,
    model: str | os.PathLike[str] | None,
    who: str,
    logger: logging.Logger | None = None,
) -> JudgeSpec:
    """The spec a consumer of `model` uses: explicit (`judge_spec`, then the `prompt` shorthand), else the
    checkpoint's, else the default; a warning names both when an explicit spec overrides the checkpoint's.

    Usage: spec = resolve_spec(stage.judge_spec, stage.prompt, stage.model, f"stage {ctx.name}")
    """
    out = logger or log
    given = explicit if explicit is not None else (spec_for_prompt(prompt) if prompt is not None else None)
    try:
        saved = checkpoint_spec(model)
    except JudgeSpecError as e:
        if given is None:
            raise
        out.warning(f"{who}: {e}; using the spec given")
        saved = None
    if given is not None:
        if saved is not None and not _same(given, saved):
            source = "judge_spec" if explicit is not None else "prompt"
            _say(
                out,
                logging.WARNING,
                ("override", str(model), given.name, saved.name),
                f"{who}: {model} carries judge spec {describe(saved)}, but {source} gives {describe(given)}: "
                f"using {given.name!r} (drop the {source} key or flag to use the checkpoint's)",
            )
        return given
    if saved is not None:
        key = ("saved", str(model), saved.name)
        _say(out, logging.INFO, key, f"{who}: using the judge spec saved with {model}: {describe(saved)}")
        return saved
    default = builtin_spec(DEFAULT_SPEC)
    if model:
        message = f"{who}: {model} has no {SPEC_FILE}; using judgerl's default spec {describe(default)}"
        _say(out, logging.INFO, ("default", str(model)), message)
    return default


def hash_view(config: dict[str, Any]) -> dict[str, Any]:
    """A stage config as the pipeline hashes it: an unset `judge_spec` is left out and an unset `prompt`
    hashes as the shorthand's default, so recipes written before judge specs keep their config hashes; a
    given spec hashes by its content, so a changed template file reruns what depends on it.

    >>> hash_view({"prompt": None, "judge_spec": None, "lr": 1})
    {'prompt': {'family': 'strength', 'hint': 'none', 'instruction': 'full'}, 'lr': 1}
    """
    out = dict(config)
    if "judge_spec" in out and out["judge_spec"] is None:
        out.pop("judge_spec")
    if "prompt" in out and out["prompt"] is None:
        default = PromptSpec()
        out["prompt"] = {"family": default.family, "hint": default.hint, "instruction": default.instruction}
    return out


def spec_files(spec: JudgeSpec) -> dict[str, str]:
    """The file a checkpoint carries for its spec (name -> text), for `save_trained(extra_files=...)`.

    >>> list(spec_files(builtin_spec("cot")))
    ['judge_spec.json']
    """
    return {SPEC_FILE: json.dumps(spec.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"}

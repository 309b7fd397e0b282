"""What a model card says a checkpoint descends from, read from the run's manifests and lineage files.

The chain of stages is followed through each stage's `model` back to where it started: a `model`
stage's import (its checkpoint's lineage.json: hub id, name, license, the source), a model built
from config (`tiny_model`), a hub id, or a folder outside the run (its lineage.json when judgerl wrote
it, else its hub-cache path and model card). The license is the base's; the datasets are the hub ids of
the `prep` sources the training stages read. The eval stages of the run that judged the checkpoint
give the card its metrics. Imports no torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from judgerl.core.jsonl import read_json
from judgerl.data_prep.sources.rewardbench import V1_HUB, V2_HUB
from judgerl.models.lineage import Lineage, hub_lineage, is_hub_id, read_lineage, source_lineage

MANIFEST = "manifest.json"
TRAINING_KINDS = frozenset({"sft", "dpo", "grpo", "policy_grpo"})
EVAL_KINDS = ("eval", "rewardbench", "judgebench", "rmbench", "policy_eval")
_MAX_CHAIN = 32
_BOOKKEEPING = frozenset({"seconds", "judging_attempts", "attempts", "version", "steps"})


@dataclass
class CardLineage:
    """Where a checkpoint's weights come from, as its card states it."""

    base: str  # the start of the chain, in words
    chain: list[str]
    trained: bool
    base_model: str | None = None  # its hub id: the card's `base_model`
    license: str | None = None
    license_source: str | None = None
    imported_from: str | None = None
    datasets: list[str] = field(default_factory=list)

    def record(self) -> Lineage:
        """The lineage.json a trained checkpoint carries. Usage: write_json(path, lin.record().to_dict())"""
        return Lineage(
            name=self.base,
            imported_from=self.imported_from or self.base,
            base_model=self.base_model,
            license=self.license,
            license_source=self.license_source,
            chain=list(self.chain),
            trained=self.trained,
        )


@dataclass
class Evaluation:
    """One finished eval stage of the run that judged the checkpoint."""

    stage: str
    kind: str
    label: str
    dataset: str
    metrics: dict[str, Any]

    def headline(self) -> dict[str, float]:
        """Its numeric metrics without the bookkeeping (time, counts). Usage: ev.headline()["pair_accuracy"]"""
        return {
            k: v
            for k, v in self.metrics.items()
            if _is_number(v) and k not in _BOOKKEEPING and not k.startswith("n_")
        }


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def read_manifest_or_none(stage_dir: Path) -> dict[str, Any] | None:
    """A stage folder's manifest.json, or None (missing, torn, or a data file where a folder would be).

    Usage: read_manifest_or_none(Path("runs/quickstart/sft"))
    """
    try:
        manifest = read_json(stage_dir / MANIFEST)
    except (OSError, json.JSONDecodeError):
        return None
    return manifest if isinstance(manifest, dict) else None


def producing_stage(run_dir: Path, path: str) -> Path | None:
    """The stage folder of `run_dir` that `path` (a checkpoint or data file) lies in, if any.

    Usage: producing_stage(Path("runs/quickstart"), "runs/quickstart/sft/checkpoint")
    """
    try:
        rel = Path(path).expanduser().resolve().relative_to(run_dir.resolve())
    except ValueError:
        return None
    return run_dir / rel.parts[0] if rel.parts else None


def _import_record(stage_dir: Path, manifest: dict[str, Any]) -> Lineage:
    """The lineage a `model` stage recorded: its checkpoint's lineage.json, else import.json's."""
    checkpoint = (manifest.get("outputs") or {}).get("checkpoint") or stage_dir / "checkpoint"
    found = read_lineage(checkpoint)
    if found is not None:
        return found
    try:
        saved = read_json(stage_dir / "import.json")
    except (OSError, json.JSONDecodeError):
        saved = {}
    if isinstance(saved.get("lineage"), dict):
        known = {k: saved["lineage"][k] for k in Lineage.__dataclass_fields__ if k in saved["lineage"]}
        return Lineage(**known)
    source = saved.get("source") or (manifest.get("config") or {}).get("source") or {}
    described = ", ".join(f"{k} {v}" for k, v in source.items() if v not in (None, "") and k != "dtype")
    hub = source.get("id") if source.get("kind") == "hub" else None
    return Lineage(
        name=hub or f"the source of the {stage_dir.name} stage",
        imported_from=f"a model source ({described or 'not recorded'}; imported before lineage was recorded)",
        base_model=hub,
        chain=[f"{stage_dir.name} (model)"],
    )


def _external(model: str) -> Lineage | None:
    """The lineage of a model named from outside the run: a folder's, or a hub id's (cache only)."""
    if Path(model).expanduser().is_dir():
        return source_lineage("local", str(Path(model).expanduser()))
    if is_hub_id(model):
        return hub_lineage(model, download=False)
    return None


def _from_origin(origin: Lineage, chain: list[str], trained: bool) -> CardLineage:
    return CardLineage(
        base=origin.name,
        chain=[*origin.chain, *chain],
        trained=trained or origin.trained,
        base_model=origin.base_model,
        license=origin.license,
        license_source=origin.license_source,
        imported_from=origin.imported_from,
    )


def follow(stage_dir: Path, config: dict[str, Any]) -> CardLineage:
    """The lineage of the checkpoint of the stage in `stage_dir` whose config is `config`.

    Usage: lin = follow(Path("runs/smollm2_135m_judge/sft"), manifest["config"])
    """
    run_dir = stage_dir.parent
    chain: list[str] = []
    trained, datasets = False, []
    here, cfg = stage_dir, config
    found: CardLineage | None = None
    for _ in range(_MAX_CHAIN):
        kind = str(cfg.get("kind") or "?")
        if kind in TRAINING_KINDS:
            trained = True
            datasets = [*data_hub_ids(run_dir, cfg.get("data")), *datasets]
        if kind == "model":
            found = _from_origin(_import_record(here, read_manifest_or_none(here) or {}), chain, trained)
            break
        chain.insert(0, f"{here.name} ({kind})")
        model = cfg.get("model")
        if kind == "tiny_model" or not model:
            base = (
                f"random weights built from config by the {here.name} stage" if kind == "tiny_model" else None
            )
            found = CardLineage(base=base or "unknown", chain=chain, trained=trained)
            break
        parent = producing_stage(run_dir, str(model))
        manifest = read_manifest_or_none(parent) if parent is not None else None
        if parent is None or manifest is None:
            origin = _external(str(model))
            if origin is None:
                found = CardLineage(base=f"`{model}`", chain=chain, trained=trained)
            else:
                found = _from_origin(origin, chain, trained)
            break
        here, cfg = parent, manifest.get("config") or {}
    if found is None:
        found = CardLineage(base="unknown (the chain of stages is too long)", chain=chain, trained=trained)
    found.datasets = list(dict.fromkeys(datasets))
    return found


def _source_hub_ids(source: Any) -> list[str]:
    if not isinstance(source, dict):
        return []
    if source.get("kind") == "hub" and is_hub_id(source.get("name")):
        return [source["name"]]
    if source.get("kind") in ("rewardbench", "rewardbench2"):
        path = source.get("path") or (V1_HUB if source.get("kind") == "rewardbench" else V2_HUB)
        return [path] if is_hub_id(path) else []
    return []


def _prep_sources(run_dir: Path, data: Any, depth: int = 8) -> list[dict[str, Any]]:
    """The `source` mappings of the `prep` stage(s) that wrote `data`, followed through stages that
    derive data from data (pairs, distill)."""
    if not isinstance(data, str) or depth <= 0:
        return []
    parent = producing_stage(run_dir, data)
    manifest = read_manifest_or_none(parent) if parent is not None else None
    config = (manifest or {}).get("config") or {}
    if config.get("kind") == "prep":
        return [config["source"]] if isinstance(config.get("source"), dict) else []
    return _prep_sources(run_dir, config.get("data"), depth - 1) if config else []


def data_hub_ids(run_dir: Path, data: Any) -> list[str]:
    """The hub dataset ids behind a stage's `data`: a hub id itself, or the hub sources of the
    `prep` stage that wrote it.

    Usage: data_hub_ids(Path("runs/think_j"), "runs/think_j/data/train.jsonl")
    """
    if is_hub_id(data):
        return [data]
    return [i for source in _prep_sources(run_dir, data) for i in _source_hub_ids(source)]


def _eval_dataset(run_dir: Path, kind: str, config: dict[str, Any]) -> tuple[str, str]:
    """(dataset id for the model-index, label for the table) of an eval stage."""
    data = config.get("data")
    if kind == "rewardbench" and not data:
        hub = V2_HUB if config.get("version") == 2 else V1_HUB
        return hub, hub
    ids = data_hub_ids(run_dir, data)
    label = Path(data).stem if isinstance(data, str) else kind
    if ids:
        return ids[0], label
    sources = _prep_sources(run_dir, data)
    return (str(sources[0].get("kind")) if sources else label), label


def evaluations(stage_dir: Path, checkpoint: Path) -> list[Evaluation]:
    """Every finished eval stage of the run (not a moved-aside copy) whose `model` is `checkpoint`.

    Usage: evaluations(Path("runs/quickstart/sft"), Path("runs/quickstart/sft/checkpoint"))
    """
    run_dir, out = stage_dir.parent, []
    target = checkpoint.expanduser().resolve()
    for other in sorted(p for p in run_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        manifest = read_manifest_or_none(other)
        if not manifest or manifest.get("status") != "complete" or manifest.get("kind") not in EVAL_KINDS:
            continue
        config = manifest.get("config") or {}
        model = config.get("model")
        if not isinstance(model, str) or Path(model).expanduser().resolve() != target:
            continue
        dataset, label = _eval_dataset(run_dir, str(manifest["kind"]), config)
        name = f"{other.name} ({label})" if isinstance(config.get("data"), str) else other.name
        out.append(
            Evaluation(other.name, str(manifest["kind"]), name, dataset, manifest.get("metrics") or {})
        )
    return out

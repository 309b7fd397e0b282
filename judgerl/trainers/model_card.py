"""The model card (README.md) of a trained judge's checkpoint folder, written from the run's manifests.

A training stage writes the card into its checkpoint when it saves it; `judgerl publish` writes it
again just before uploading, when the recipe's eval stages on that checkpoint have finished, so the
uploaded card carries their metrics. The card has the Hub's YAML metadata (huggingface_hub's
ModelCardData: base model, library, tags) and says: base model and the chain of stages that led to
this checkpoint, recipe and stage, training data, the prompt family and how to prompt the judge
(the rendered judge prompt and the verdict sentence it ends with), the eval metrics, and the
judgerl version. Imports no torch.
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path
from typing import Any

from judgerl.core.jsonl import read_json
from judgerl.core.types import JudgeSample
from judgerl.judge_spec.families import PromptSpec, render_user_turn
from judgerl.judge_spec.verdicts import verdict_sentence

MANIFEST = "manifest.json"
CARD = "README.md"
EVAL_KINDS = ("eval", "rewardbench", "policy_eval")
_MAX_CHAIN = 32


def _manifest(stage_dir: Path) -> dict[str, Any] | None:
    try:
        return read_json(stage_dir / MANIFEST)
    except (OSError, json.JSONDecodeError):  # OSError: also a data file where a stage folder would be
        return None


def _same_path(a: str | Path, b: str | Path) -> bool:
    return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()


def _producing_stage(run_dir: Path, path: str) -> Path | None:
    """The stage folder of `run_dir` that `path` (a checkpoint or data file) lies in, if any."""
    try:
        rel = Path(path).expanduser().resolve().relative_to(run_dir.resolve())
    except ValueError:
        return None
    return run_dir / rel.parts[0] if rel.parts else None


def lineage(stage_dir: Path, config: dict[str, Any]) -> tuple[str, list[str]]:
    """(the model the chain started from, the stages from it to this one as "name (kind)").

    Follows each stage's `model` back through the earlier stages of the same run.
    Usage: base, chain = lineage(Path("runs/quickstart/sft"), manifest["config"])
    """
    run_dir = stage_dir.parent
    chain = [f"{stage_dir.name} ({config.get('kind', '?')})"]
    model = str(config.get("model") or "")
    for _ in range(_MAX_CHAIN):
        parent = _producing_stage(run_dir, model) if model else None
        manifest = _manifest(parent) if parent is not None else None
        if manifest is None:
            break
        chain.insert(0, f"{parent.name} ({manifest.get('kind', '?')})")
        upstream = (manifest.get("config") or {}).get("model")
        if not upstream:  # a model built from config (tiny_model) starts the chain
            return f"built from config by the {parent.name} stage", chain
        model = str(upstream)
    return model or "unknown", chain


def _data_line(run_dir: Path, data: Any) -> str:
    if not isinstance(data, str):
        return f"`{data}`"
    parent = _producing_stage(run_dir, data)
    manifest = _manifest(parent) if parent is not None else None
    source = (manifest or {}).get("config", {}).get("source")
    if isinstance(source, dict):
        described = ", ".join(f"{k}: {v}" for k, v in source.items() if isinstance(v, (str, int, float)))
        return f"`{Path(data).name}` of the {parent.name} stage (source {described})"
    return f"`{data}`"


def eval_results(stage_dir: Path, checkpoint: Path) -> dict[str, dict[str, Any]]:
    """The metrics of every finished eval stage of the run that judged `checkpoint`, by stage name.

    Usage: eval_results(Path("runs/quickstart/sft"), Path("runs/quickstart/sft/checkpoint"))
    """
    out: dict[str, dict[str, Any]] = {}
    for other in sorted(p for p in stage_dir.parent.iterdir() if p.is_dir()):
        manifest = _manifest(other)
        if not manifest or manifest.get("status") != "complete" or manifest.get("kind") not in EVAL_KINDS:
            continue
        model = (manifest.get("config") or {}).get("model")
        if isinstance(model, str) and _same_path(model, checkpoint):
            data = (manifest.get("config") or {}).get("data")
            label = f"{other.name} ({Path(data).stem})" if isinstance(data, str) else other.name
            out[label] = manifest.get("metrics") or {}
    return out


def _metrics_table(results: dict[str, dict[str, Any]]) -> str:
    if not results:
        return "No eval stage of the recipe has judged this checkpoint yet (`judgerl publish` refreshes this card)."
    keys = list(dict.fromkeys(k for m in results.values() for k, v in m.items() if _is_number(v)))[:10]
    lines = ["| stage | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for name, metrics in results.items():
        cells = [_cell(metrics.get(k)) for k in keys]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def _prompting(prompt: dict[str, Any] | None) -> str:
    spec = PromptSpec(**{k: v for k, v in (prompt or {}).items() if k in ("family", "instruction")})
    example = JudgeSample(
        "example", "example", [{"role": "user", "content": "{question}"}], "{a}", "{b}", "a"
    )
    verdict = verdict_sentence("a", 2 if spec.wants_strength else None)
    return (
        f"Prompt family `{spec.family}` ({spec.instruction} instruction). Send the judge one user turn, "
        "rendered with its chat template, with the question and the two responses filled in:\n\n"
        f"```text\n{render_user_turn(example, spec)}\n```\n\n"
        f"It {'thinks first, then ' if spec.wants_thinking else ''}ends with a verdict such as "
        f"`{verdict}` Judge each pair in both orders (swap the responses) to cancel position bias; "
        "`judgerl serve --model THIS_FOLDER` serves it with this prompt and parses the verdict "
        "(`judgerl eval --model THIS_FOLDER --data ...` evaluates it)."
    )


def _version() -> str:
    try:
        return metadata.version("judgerl")
    except metadata.PackageNotFoundError:
        return "unknown"


def render_model_card(
    stage_dir: str | Path,
    checkpoint: str | Path | None = None,
    config: dict[str, Any] | None = None,
    recipe: str | None = None,
) -> str:
    """The README.md text for the checkpoint of the training stage in `stage_dir`.

    Reads the stage's manifest (its config, recipe and versions) and the run's other manifests (the
    chain of stages back to the base model, the data's source, the eval stages that judged this
    checkpoint). `config` stands in for the manifest's config when the stage has none yet.

    Usage: text = render_model_card("runs/quickstart/sft")
    """
    from huggingface_hub import ModelCard, ModelCardData

    stage_dir = Path(stage_dir)
    checkpoint = Path(checkpoint) if checkpoint is not None else stage_dir / "checkpoint"
    manifest = _manifest(stage_dir) or {}
    config = config if config is not None else manifest.get("config") or {}
    kind = str(config.get("kind") or manifest.get("kind") or "?")
    recipe = recipe or manifest.get("recipe") or stage_dir.parent.name
    base, chain = lineage(stage_dir, config)
    hub_base = base if _looks_like_hub_id(base) else None
    data = ModelCardData(
        base_model=hub_base,
        library_name="transformers",
        pipeline_tag="text-generation",
        tags=["judgerl", "llm-as-a-judge", "reward-model", kind],
    )
    trained = f"`{base}`" if hub_base or base.startswith(("/", ".")) else base
    body = "\n".join(
        [
            f"# {recipe}: {stage_dir.name}",
            "",
            f"A generative pairwise judge trained with judgerl "
            f"{_version()}: the `{stage_dir.name}` stage (`{kind}`) of the recipe `{recipe}`.",
            "",
            "## Training",
            "",
            f"- Base model: {trained}",
            f"- Stages: {' -> '.join(chain)}",
            f"- Data: {_data_line(stage_dir.parent, config.get('data'))}",
            f"- Key settings: {_settings(config)}",
            "",
            "## How to prompt it",
            "",
            _prompting(config.get("prompt")),
            "",
            "## Evaluation",
            "",
            _metrics_table(eval_results(stage_dir, checkpoint)),
            "",
            f"Written by judgerl {_version()} from the run's manifests ({stage_dir.parent}).",
            "",
        ]
    )
    return str(ModelCard(f"---\n{data.to_yaml()}\n---\n\n{body}"))


def _settings(config: dict[str, Any]) -> str:
    keys = (
        "lr",
        "epochs",
        "max_steps",
        "batch_size",
        "grad_accum",
        "beta",
        "loss_type",
        "num_generations",
        "lora",
    )
    return ", ".join(f"{k} {config[k]}" for k in keys if config.get(k) not in (None, -1)) or "defaults"


def _looks_like_hub_id(value: str) -> bool:
    """`org/name` (not a path): what the Hub's base_model metadata accepts."""
    return value.count("/") == 1 and not value.startswith((".", "/", "~")) and not Path(value).exists()

"""The model card (README.md) of a checkpoint folder, written from the run's manifests.

A training stage writes the card (and lineage.json) into its checkpoint when it saves it;
`judgerl publish` renders it again into a staging folder just before uploading, when the recipe's
eval stages on that checkpoint have finished, so the uploaded card carries their metrics (a finished
stage's recorded files are never rewritten). The card's YAML metadata is huggingface_hub's
ModelCardData: base_model and license (inherited from the base, judgerl.trainers.card_lineage),
library, tags, datasets, and the model-index of the evaluations run on the checkpoint. The text says:
base model and the chain of stages that led to this checkpoint, recipe and stage, training data, the
prompt family and how to prompt the judge (the rendered judge prompt and the verdict sentence it
ends with), the checkpoint's judge_spec.json when it has one, the eval metrics, and the judgerl
version. A `model` or `tiny_model` stage's card says the model is not trained. Imports no torch.
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path
from typing import Any

from judgerl.core.types import JudgeSample
from judgerl.judge_spec.families import PromptSpec
from judgerl.judge_spec.files import SPEC_FILE, JudgeSpecError, checkpoint_spec, load_spec
from judgerl.judge_spec.presets import DEFAULT_SPEC, builtin_spec, spec_for_prompt
from judgerl.judge_spec.render import judge_prompt, prompt_text
from judgerl.judge_spec.spec import JudgeSpec
from judgerl.judge_spec.writing import verdict_text
from judgerl.models.lineage import hub_license
from judgerl.trainers.card_lineage import (
    TRAINING_KINDS,
    CardLineage,
    Evaluation,
    evaluations,
    follow,
    producing_stage,
    read_manifest_or_none,
)

CARD = "README.md"


def lineage(stage_dir: Path, config: dict[str, Any]) -> tuple[str, list[str]]:
    """(the model the chain started from, the stages from it to this one as "name (kind)").

    Usage: base, chain = lineage(Path("runs/quickstart/sft"), manifest["config"])
    """
    found = follow(stage_dir, config)
    return found.base_model or found.base, found.chain


def _data_line(run_dir: Path, data: Any) -> str:
    if not isinstance(data, str):
        return f"`{data}`"
    parent = producing_stage(run_dir, data)
    manifest = read_manifest_or_none(parent) if parent is not None else None
    source = (manifest or {}).get("config", {}).get("source")
    if isinstance(source, dict) and parent is not None:
        described = ", ".join(f"{k}: {v}" for k, v in source.items() if isinstance(v, (str, int, float)))
        return f"`{Path(data).name}` of the {parent.name} stage (source {described})"
    return f"`{data}`"


def eval_results(stage_dir: Path, checkpoint: Path) -> dict[str, dict[str, Any]]:
    """The metrics of every finished eval stage of the run that judged `checkpoint`, by stage label.

    Usage: eval_results(Path("runs/quickstart/sft"), Path("runs/quickstart/sft/checkpoint"))
    """
    return {ev.label: ev.metrics for ev in evaluations(stage_dir, checkpoint)}


def _metrics_table(evals: list[Evaluation]) -> str:
    if not evals:
        return "No eval stage of the recipe has judged this checkpoint yet (`judgerl publish` refreshes this card)."
    keys = list(dict.fromkeys(k for ev in evals for k in ev.headline()))[:10]
    lines = ["| stage | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for ev in evals:
        cells = [_cell(ev.metrics.get(k)) for k in keys]
        lines.append(f"| {ev.label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def _prompting(spec: JudgeSpec) -> str:
    example = JudgeSample(
        "example", "example", [{"role": "user", "content": "{question}"}], "{a}", "{b}", "a"
    )
    verdict = verdict_text(spec, "a", 2 if spec.wants_strength else None)
    how = "as plain text (no chat template)" if spec.prompt.raw else "rendered with its chat template"
    return (
        f"Judge spec `{spec.name}` (`{SPEC_FILE}` in this folder). Send the judge this prompt, {how}, "
        "with the question and the two responses filled in:\n\n"
        f"```text\n{prompt_text(judge_prompt(spec, example))}\n```\n\n"
        f"It {'thinks first, then ' if spec.wants_thinking else ''}ends with a verdict such as "
        f"`{verdict}` (read by verdict format `{spec.verdict.format}`). Judge each pair in both orders "
        "(swap the responses) to cancel position bias; `judgerl serve --model THIS_FOLDER` serves it with "
        "this spec and reads its verdicts, and `judgerl eval --model THIS_FOLDER --data ...` evaluates it, "
        "both with no prompt flags."
    )


def _version() -> str:
    try:
        return metadata.version("judgerl")
    except metadata.PackageNotFoundError:
        return "unknown"


def _base_line(lin: CardLineage) -> str:
    if lin.base_model and lin.base != lin.base_model:
        text = f"`{lin.base_model}` ({lin.base})"
    elif lin.base_model:
        text = f"`{lin.base_model}`"
    else:
        text = lin.base
    return f"{text}, imported from {lin.imported_from}" if lin.imported_from else text


def _license_line(lin: CardLineage) -> str:
    if lin.license:
        return f"{lin.license}, the base model's (read from {lin.license_source})"
    return (
        "unknown: the base model's metadata names none (state it with the model stage's `license:` key); "
        "check the base model's terms before sharing"
    )


def _saved_spec(checkpoint: Path) -> JudgeSpec | None:
    try:
        return checkpoint_spec(checkpoint) if (checkpoint / SPEC_FILE).is_file() else None
    except JudgeSpecError:
        return None


def _config_spec(config: dict[str, Any]) -> JudgeSpec | None:
    """The spec a stage's config names (its judge_spec, else its prompt shorthand): cards of runs made
    before checkpoints carried their spec."""
    try:
        if config.get("judge_spec"):
            return load_spec(config["judge_spec"])
        prompt = config.get("prompt")
        if isinstance(prompt, dict):
            return spec_for_prompt(
                PromptSpec(**{k: v for k, v in prompt.items() if k in ("family", "instruction")})
            )
    except (ValueError, TypeError):
        return None
    return None


def _judge_spec(spec: JudgeSpec | None) -> list[str]:
    """The judge spec the checkpoint carries, in full, when it has one."""
    if spec is None:
        return []
    text = json.dumps(spec.model_dump(mode="json"), indent=2, ensure_ascii=False)
    return ["## Judge spec", "", f"The checkpoint's `{SPEC_FILE}`:", "", f"```json\n{text}\n```", ""]


def card_data(lin: CardLineage, kind: str, evals: list[Evaluation], model_name: str) -> dict[str, Any]:
    """The keyword arguments of huggingface_hub's ModelCardData for this card: base model, license,
    library, tags, datasets and the model-index of the evaluations run on the checkpoint.

    Usage: ModelCardData(**card_data(follow(stage_dir, config), "sft", [], "quickstart-sft"))
    """
    from huggingface_hub import EvalResult

    results = [
        EvalResult(
            task_type="text-generation",
            task_name="pairwise judging",
            dataset_type=ev.dataset,
            dataset_name=ev.label,
            metric_type=key,
            metric_name=f"{key} ({ev.kind} stage {ev.stage})",
            metric_value=value,
        )
        for ev in evals
        for key, value in ev.headline().items()
    ]
    tags = ["judgerl", kind, *(["llm-as-a-judge", "reward-model"] if lin.trained else [])]
    return {
        "base_model": lin.base_model,
        "license": hub_license(lin.license),
        "library_name": "transformers",
        "pipeline_tag": "text-generation",
        "tags": tags,
        "datasets": lin.datasets or None,
        "metrics": sorted({r.metric_type for r in results}) or None,
        "model_name": model_name if results else None,
        "eval_results": results or None,
    }


def render_model_card(
    stage_dir: str | Path,
    checkpoint: str | Path | None = None,
    config: dict[str, Any] | None = None,
    recipe: str | None = None,
    spec: JudgeSpec | None = None,
) -> str:
    """The README.md text for the checkpoint of the stage in `stage_dir` (a training stage, or a
    `model` / `tiny_model` stage, whose card says it is not trained). `spec` is the judge spec the
    checkpoint is saved with (default: the checkpoint's judge_spec.json, if any).

    Reads the stage's manifest (its config, recipe and versions), the run's other manifests (the
    chain of stages back to the base model, the data's source, the eval stages that judged this
    checkpoint) and the imported base's lineage.json. `config` stands in for the manifest's config
    when the stage has none yet.

    Usage: text = render_model_card("runs/quickstart/sft")
    """
    from huggingface_hub import ModelCard, ModelCardData

    stage_dir = Path(stage_dir)
    checkpoint = Path(checkpoint) if checkpoint is not None else stage_dir / "checkpoint"
    manifest = read_manifest_or_none(stage_dir) or {}
    config = config if config is not None else manifest.get("config") or {}
    kind = str(config.get("kind") or manifest.get("kind") or "?")
    config = {"kind": kind, **config}
    recipe = recipe or manifest.get("recipe") or stage_dir.parent.name
    lin = follow(stage_dir, config)
    spec = spec if spec is not None else _saved_spec(checkpoint)
    shown = spec or _config_spec(config) or builtin_spec(DEFAULT_SPEC)
    evals = evaluations(stage_dir, checkpoint)
    data = ModelCardData(**card_data(lin, kind, evals, f"{recipe}-{stage_dir.name}"))
    if kind in TRAINING_KINDS:
        intro = [
            f"A generative pairwise judge trained with judgerl {_version()}: the `{stage_dir.name}` stage "
            f"(`{kind}`) of the recipe `{recipe}`.",
            "",
            "## Training",
            "",
            f"- Base model: {_base_line(lin)}",
            f"- License: {_license_line(lin)}",
            f"- Stages: {' -> '.join(lin.chain)}",
            f"- Data: {_data_line(stage_dir.parent, config.get('data'))}",
            f"- Key settings: {_settings(config)}",
            "",
            "## How to prompt it",
            "",
            _prompting(shown),
            "",
        ]
    else:
        made = "built it from config" if kind == "tiny_model" else "imported it"
        earlier = (
            "; its weights are a judge that judgerl trained earlier (the stages below)"
            if lin.trained
            else ", and no training stage has changed its weights: evaluations of it below are zero-shot"
        )
        intro = [
            f"Not trained by this stage: the `{stage_dir.name}` stage (`{kind}`) of the recipe `{recipe}` "
            f"{made}{earlier}.",
            "",
            "## Origin",
            "",
            f"- Model: {_base_line(lin)}",
            f"- License: {_license_line(lin)}",
            f"- Stages: {' -> '.join(lin.chain)}",
            "",
        ]
    body = "\n".join(
        [
            f"# {recipe}: {stage_dir.name}",
            "",
            *intro,
            *_judge_spec(spec),
            "## Evaluation",
            "",
            _metrics_table(evals),
            "",
            f"Written by judgerl {_version()} from the run's manifests ({stage_dir.parent}).",
            "",
        ]
    )
    return str(ModelCard(f"---\n{data.to_yaml()}\n---\n\n{body}"))


def checkpoint_lineage(stage_dir: str | Path, config: dict[str, Any]) -> dict[str, Any]:
    """The lineage.json a training stage saves with its checkpoint: the base's, this stage added.

    Usage: write_json(ckpt / "lineage.json", checkpoint_lineage(ctx.out_dir, stage.model_dump(mode="json")))
    """
    return follow(Path(stage_dir), config).record().to_dict()


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

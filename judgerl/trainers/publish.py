"""Publish a trained checkpoint to the Hugging Face Hub: refresh its model card, create the repo, upload.

`judgerl publish RUN_DIR/STAGE --repo ORG/NAME [--private] [--dry-run]` and a training stage's
`push_to_hub: {repo: ORG/NAME, private: true}` both come here. The upload is huggingface_hub's
`HfApi.create_repo` + `HfApi.upload_folder`; the token is huggingface_hub's own (HF_TOKEN or
`hf auth login`), never a recipe key. Imports no torch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field

from judgerl.core.config import StrictModel
from judgerl.core.errors import JudgeRLError
from judgerl.core.jsonl import read_json, write_text_atomic
from judgerl.core.logging import get_logger
from judgerl.trainers.model_card import CARD, MANIFEST, render_model_card

log = get_logger("judgerl.publish")
REPO_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}$"
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "adapter_model.safetensors")


class PublishError(JudgeRLError):
    """A checkpoint that cannot be published (missing, empty, no token, bad repo id)."""


class PushSpec(StrictModel):
    """A training stage's `push_to_hub` key: upload the checkpoint (with its card) when the stage ends.

    >>> PushSpec(repo="my-org/judge-7b").private
    False
    """

    repo: str = Field(pattern=REPO_ID)
    private: bool = False


@dataclass
class PublishPlan:
    """What a publish uploads (or, in a dry run, would upload)."""

    repo: str
    private: bool
    folder: Path
    files: list[str] = field(default_factory=list)
    url: str | None = None
    commit: str | None = None


def stage_checkpoint(stage_dir: str | Path) -> Path:
    """The checkpoint folder of a finished training stage (its manifest's `checkpoint` output).

    Usage: stage_checkpoint("runs/quickstart/sft")
    """
    stage_dir = Path(stage_dir)
    try:
        manifest = read_json(stage_dir / MANIFEST)
    except FileNotFoundError:
        manifest = {}
    folder = Path((manifest.get("outputs") or {}).get("checkpoint") or stage_dir / "checkpoint")
    if not folder.is_dir():
        raise PublishError(f"{stage_dir}: no checkpoint folder at {folder} (has the stage finished?)")
    if not (folder / "config.json").exists() and not (folder / "adapter_config.json").exists():
        raise PublishError(f"{folder} is not a Hugging Face checkpoint folder (no config.json)")
    if not any((folder / f).exists() for f in WEIGHT_FILES) and not list(folder.glob("model-*.safetensors")):
        raise PublishError(f"{folder} holds no weights ({', '.join(WEIGHT_FILES)})")
    return folder


def _check_repo(repo: str) -> None:
    if not re.match(REPO_ID, repo):
        raise PublishError(f"--repo {repo!r}: expected ORG/NAME (letters, digits, '-', '_', '.')")


def publish(
    stage_dir: str | Path,
    repo: str,
    private: bool = False,
    dry_run: bool = False,
    checkpoint: str | Path | None = None,
    api: Any = None,
    config: dict[str, Any] | None = None,
) -> PublishPlan:
    """Write the model card into the stage's checkpoint, then create `repo` and upload the folder.

    `dry_run` writes the card and lists what would be uploaded, touching no network. `api` is an
    `huggingface_hub.HfApi` (default: one with the environment's token); `config` stands in for
    the manifest's stage config (a stage that pushes before its manifest is final).

    Usage: plan = publish("runs/quickstart/sft", "my-org/quickstart-judge", private=True)
    """
    _check_repo(repo)
    stage_dir = Path(stage_dir)
    folder = Path(checkpoint) if checkpoint is not None else stage_checkpoint(stage_dir)
    write_text_atomic(folder / CARD, render_model_card(stage_dir, folder, config=config))
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    plan = PublishPlan(repo=repo, private=private, folder=folder, files=files)
    if dry_run:
        return plan
    if api is None:
        from huggingface_hub import HfApi, get_token

        if get_token() is None:
            raise PublishError(
                "no Hugging Face token: set HF_TOKEN or run `hf auth login` (never put it in a recipe)"
            )
        api = HfApi()
    plan.url = str(api.create_repo(repo_id=repo, repo_type="model", private=private, exist_ok=True))
    commit = api.upload_folder(
        repo_id=repo,
        repo_type="model",
        folder_path=str(folder),
        commit_message=f"judgerl: {stage_dir.parent.name}/{stage_dir.name}",
    )
    plan.commit = getattr(commit, "oid", None) or str(commit)
    log.info(f"published {folder} to {plan.url} ({len(files)} files)")
    return plan


def card_files(stage: Any, ctx: Any, checkpoint: Path) -> dict[str, str]:
    """The model card a training stage saves with its checkpoint (`save_trained(..., extra_files=)`).

    Usage: save_trained(trainer, tok, checkpoint, extra_files=card_files(stage, ctx, checkpoint))
    """
    return {CARD: render_model_card(ctx.out_dir, checkpoint, config=stage.model_dump(mode="json"))}


def push_after_training(stage: Any, ctx: Any, checkpoint: Path) -> dict[str, Any]:
    """A training stage's `push_to_hub`, on rank 0 after its checkpoint is saved: metrics for the manifest.

    Usage: metrics.update(push_after_training(stage, ctx, checkpoint))
    """
    spec: PushSpec | None = getattr(stage, "push_to_hub", None)
    if spec is None:
        return {}
    config = stage.model_dump(mode="json")
    plan = publish(ctx.out_dir, spec.repo, private=spec.private, checkpoint=checkpoint, config=config)
    return {"pushed_to": plan.url, "pushed_commit": plan.commit}

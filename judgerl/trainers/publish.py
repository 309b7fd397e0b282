"""Publish a checkpoint to the Hugging Face Hub: stage it with a fresh model card, create the repo, upload.

`judgerl publish RUN_DIR/STAGE --repo ORG/NAME [--private] [--dry-run]` and a training stage's
`push_to_hub: {repo: ORG/NAME, private: true}` both come here. The checkpoint itself is never
written to (its files are the finished stage's record, checked before the stage is skipped): the
upload is built in `RUN_DIR/.publish/STAGE/`, the fresh README.md beside links to every other file
of the checkpoint, and that folder is what huggingface_hub's `HfApi.upload_folder` sends (after
`HfApi.create_repo`). The token is huggingface_hub's own (HF_TOKEN or `hf auth login`), never a
recipe key. Imports no torch.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field

from judgerl.core.config import StrictModel
from judgerl.core.errors import JudgeRLError
from judgerl.core.jsonl import read_json, write_text_atomic
from judgerl.core.logging import get_logger
from judgerl.core.stage_folders import MANIFEST, is_stage_name
from judgerl.judge_spec.files import spec_files
from judgerl.models.lineage import LINEAGE_FILE
from judgerl.trainers.model_card import CARD, checkpoint_lineage, render_model_card

log = get_logger("judgerl.publish")
STAGING = ".publish"
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
    """What a publish uploads (or, in a dry run, would upload): `folder` is the staging folder
    (the fresh card and links to the files of `checkpoint`)."""

    repo: str
    private: bool
    folder: Path
    checkpoint: Path
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


def staging_folder(stage_dir: str | Path) -> Path:
    """Where a stage's upload is assembled: `RUN_DIR/.publish/STAGE` (outside every stage folder).

    Usage: staging_folder("runs/quickstart/sft")  # runs/quickstart/.publish/sft
    """
    stage_dir = Path(stage_dir).expanduser().resolve()
    if not is_stage_name(stage_dir.name):
        raise PublishError(f"{stage_dir}: not a stage folder (RUN_DIR/STAGE)")
    return stage_dir.parent / STAGING / stage_dir.name


def stage_upload(checkpoint: Path, staging: Path, card: str) -> list[str]:
    """Fill `staging` afresh with `card` as README.md and a link to every other file of `checkpoint`;
    the files it holds, relative to it. The checkpoint is only read.

    Usage: files = stage_upload(Path("runs/q/sft/checkpoint"), staging_folder("runs/q/sft"), text)
    """
    building = staging.with_name(f"{staging.name}.building")
    shutil.rmtree(building, ignore_errors=True)  # links and one card: rmtree never follows a link
    building.mkdir(parents=True)
    for path in sorted(checkpoint.rglob("*")):
        rel = path.relative_to(checkpoint)
        if not path.is_file() or rel.as_posix() == CARD:
            continue
        (building / rel).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(path.resolve(), building / rel)
    write_text_atomic(building / CARD, card)
    shutil.rmtree(staging, ignore_errors=True)
    os.replace(building, staging)
    return sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file())


def publish(
    stage_dir: str | Path,
    repo: str,
    private: bool = False,
    dry_run: bool = False,
    checkpoint: str | Path | None = None,
    api: Any = None,
    config: dict[str, Any] | None = None,
) -> PublishPlan:
    """Stage the checkpoint with a fresh model card, then create `repo` and upload the staged folder.

    `dry_run` stages the card and lists what would be uploaded, touching no network. The
    checkpoint's own files are left as the stage wrote them. `api` is an `huggingface_hub.HfApi`
    (default: one with the environment's token); `config` stands in for the manifest's stage
    config (a stage that pushes before its manifest is final).

    Usage: plan = publish("runs/quickstart/sft", "my-org/quickstart-judge", private=True)
    """
    _check_repo(repo)
    stage_dir = Path(stage_dir)
    folder = Path(checkpoint) if checkpoint is not None else stage_checkpoint(stage_dir)
    staging = staging_folder(stage_dir)
    files = stage_upload(folder, staging, render_model_card(stage_dir, folder, config=config))
    plan = PublishPlan(repo=repo, private=private, folder=staging, checkpoint=folder, files=files)
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
        folder_path=str(staging),
        commit_message=f"judgerl: {stage_dir.parent.name}/{stage_dir.name}",
    )
    plan.commit = getattr(commit, "oid", None) or str(commit)
    log.info(f"published {folder} to {plan.url} ({len(files)} files, staged in {staging})")
    return plan


def card_files(stage: Any, ctx: Any, checkpoint: Path, spec: Any = None) -> dict[str, str]:
    """The model card, lineage.json and (for a judge) judge_spec.json a training stage saves with its
    checkpoint (`save_trained(..., extra_files=)`): written before the stage finishes, so they are part
    of what its manifest records.

    Usage: save_trained(trainer, tok, checkpoint, extra_files=card_files(stage, ctx, checkpoint, spec))
    """
    config = stage.model_dump(mode="json")
    lineage = checkpoint_lineage(ctx.out_dir, config)
    files = {
        CARD: render_model_card(ctx.out_dir, checkpoint, config=config, spec=spec),
        LINEAGE_FILE: json.dumps(lineage, indent=2) + "\n",
    }
    return files | (spec_files(spec) if spec is not None else {})


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

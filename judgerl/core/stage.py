"""What a stage gets (its folder, seed) and what it returns (outputs and metrics)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from judgerl.core.stage_folders import inside_stage_folder


@dataclass
class StageContext:
    """Where a stage writes and how it was asked to run.

    `resume` is True when an earlier attempt of this stage left work behind (checkpoints,
    partial predictions) that the stage may continue from.
    """

    name: str
    out_dir: Path
    seed: int = 0
    resume: bool = True
    progress: bool = True

    def path(self, *parts: str) -> Path:
        """A path inside the stage folder. Usage: ctx.path("train.jsonl")."""
        return self.out_dir.joinpath(*parts)

    def resume_path(self, *parts: str) -> Path:
        """A path inside the stage folder that a resumed stage opens, appends to or removes (partial
        predictions, appended records, trainer checkpoints): a StageError when it, or a folder on the
        way, is a symbolic link (judgerl.core.stage_folders.inside_stage_folder).

        Usage: partial = ctx.resume_path("predictions.partial.jsonl")
        """
        return inside_stage_folder(self.out_dir, self.path(*parts))


@dataclass
class StageResult:
    """A finished stage's output paths (by name) and metrics, recorded in its manifest."""

    outputs: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)

"""Experiment tracking of a training stage: `report_to` (none | wandb | tensorboard | trackio | a list)
and `run_name`, for TRL/transformers and for verl.

The recipe sets them for every training stage (top-level `report_to:` / `run_name:`) and a stage's
own keys override them. They change what is logged, not what is trained, so they are left out of
the stage's config hash (a finished stage is not retrained to turn tracking on). Every tracker
writes inside the stage folder: TensorBoard event files under `<stage>/tensorboard/`, wandb's
files under `<stage>/wandb/` (`WANDB_MODE=offline` works without network). Imports no torch.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator

from judgerl.core.errors import StageError

TRACKERS: tuple[str, ...] = ("wandb", "tensorboard", "trackio")


def _known(value: str | list[str]) -> str | list[str]:
    names = [value] if isinstance(value, str) else value
    unknown = [n for n in names if n not in TRACKERS and not (n == "none" and isinstance(value, str))]
    if unknown:
        raise ValueError(
            f"unknown tracker(s) {unknown}: expected none, {', '.join(TRACKERS)} or a list of them"
        )
    return value


ReportTo = Annotated[str | list[str], AfterValidator(_known)]
PROJECT = "judgerl"
TENSORBOARD_DIR = "tensorboard"
# verl's trainer.logger names for the same trackers (it always keeps its console and file loggers)
VERL_LOGGERS = {"wandb": "wandb", "tensorboard": "tensorboard", "trackio": "trackio"}


def trackers(report_to: ReportTo | None) -> list[str]:
    """The tracker names of a `report_to` value, in order, without repeats.

    >>> trackers("none"), trackers("wandb"), trackers(["tensorboard", "wandb", "tensorboard"])
    ([], ['wandb'], ['tensorboard', 'wandb'])
    """
    if report_to is None or report_to == "none":
        return []
    names = [report_to] if isinstance(report_to, str) else list(report_to)
    return list(dict.fromkeys(names))


def run_name(stage: Any, ctx: Any) -> str:
    """The stage's `run_name`, or `<run folder>/<stage>` (e.g. "quickstart/sft").

    Usage: name = run_name(stage, ctx)
    """
    return getattr(stage, "run_name", None) or f"{Path(ctx.out_dir).parent.name}/{ctx.name}"


def check_installed(names: list[str]) -> None:
    """A clear error before training when a tracker's package is missing.

    Usage: check_installed(trackers(stage.report_to))
    """
    missing = [n for n in names if importlib.util.find_spec(n) is None]
    if missing:
        raise StageError(
            f"report_to {missing}: the package(s) {', '.join(missing)} are not installed "
            "(pip install 'judgerl[tracking]' installs wandb and tensorboard)"
        )


def tracking_env(stage: Any, ctx: Any) -> dict[str, str]:
    """The environment that puts each tracker's files inside the stage folder.

    Variables the user set already are kept. Usage: env = tracking_env(stage, ctx)
    """
    names = trackers(getattr(stage, "report_to", None))
    env: dict[str, str] = {}
    if "tensorboard" in names:
        env["TENSORBOARD_LOGGING_DIR"] = str(Path(ctx.out_dir) / TENSORBOARD_DIR)  # transformers
        env["TENSORBOARD_DIR"] = str(Path(ctx.out_dir) / TENSORBOARD_DIR)  # verl
    if "wandb" in names:
        env["WANDB_DIR"] = str(ctx.out_dir)
        env["WANDB_PROJECT"] = PROJECT
        env["WANDB_NAME"] = run_name(stage, ctx)
    return {k: v for k, v in env.items() if k not in os.environ}


@contextlib.contextmanager
def tracking(stage: Any, ctx: Any) -> Iterator[list[str]]:
    """Around building and training a TRL trainer: checks the trackers, sets `tracking_env`, and
    closes a wandb run at the end (so the next stage of the same process starts its own run).

    Usage: with tracking(stage, ctx): trainer = SFTTrainer(...); train_resumable(trainer, ctx, log)
    """
    names = trackers(getattr(stage, "report_to", None))
    check_installed(names)
    env = tracking_env(stage, ctx)
    Path(ctx.out_dir).mkdir(parents=True, exist_ok=True)
    os.environ.update(env)
    try:
        yield names
    finally:
        for key in env:
            os.environ.pop(key, None)
        wandb = sys.modules.get("wandb")
        if "wandb" in names and wandb is not None and getattr(wandb, "run", None) is not None:
            wandb.finish()


def training_args(stage: Any, ctx: Any) -> dict[str, Any]:
    """The TrainingArguments keys of tracking: report_to, run_name, project (trackio's).

    Usage: TrainingArguments(..., **training_args(stage, ctx))
    """
    names = trackers(getattr(stage, "report_to", None))
    return {"report_to": names or "none", "run_name": run_name(stage, ctx), "project": PROJECT}


def verl_loggers(base: list[str], report_to: ReportTo | None) -> list[str]:
    """verl's `trainer.logger`: the stage's `verl.logger` plus the `report_to` trackers.

    >>> verl_loggers(["console", "file"], ["tensorboard", "wandb"])
    ['console', 'file', 'tensorboard', 'wandb']
    """
    return list(dict.fromkeys([*base, *(VERL_LOGGERS[n] for n in trackers(report_to))]))

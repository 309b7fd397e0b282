"""Runs a recipe's stages in order: one folder and one manifest per stage, skip-if-done, resume.

judgerl run recipes/quickstart.yaml
judgerl run recipes/quickstart.yaml --from sft stages.sft.max_steps=300
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from judgerl.core.errors import Interrupted, StageError, disk_error
from judgerl.core.interrupts import received
from judgerl.core.jsonl import read_json, write_json, write_text_atomic
from judgerl.core.logging import get_logger
from judgerl.core.run_lock import run_dir_lock
from judgerl.core.seeding import seed_everything
from judgerl.core.stage import StageContext
from judgerl.core.stage_folders import (
    MANIFEST,
    aside_path,
    finish_replacement,
    move_aside,
    output_problems,
    record_files,
    remove_stage_folder,
)
from judgerl.eval.metrics import metrics_table
from judgerl.judge_spec.files import hash_view
from judgerl.launch import LauncherSpec, build_command, format_command, launch_env
from judgerl.recipe import Recipe
from judgerl.stages import STAGE_KINDS

log = get_logger("judgerl.pipeline")
_PACKAGES = (
    "judgerl",
    "torch",
    "transformers",
    "trl",
    "peft",
    "datasets",
    "accelerate",
    "deepspeed",
    "vllm",
    "verl",
)


@dataclass
class StageOutcome:
    """What happened to one stage in a run: ran, skipped (finished, same config) or not selected."""

    name: str
    status: str
    manifest: dict[str, Any] | None = None


def package_versions() -> dict[str, str]:
    """Installed versions of the packages a run depends on. Usage: package_versions()["trl"]."""
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def read_manifest(stage_dir: Path, redo: str = "") -> dict[str, Any] | None:
    """The stage's manifest, or None when it has none. A manifest that cannot be read (torn, not JSON,
    not a mapping) is a StageError naming the file, with `redo` (how to run the stage afresh) appended.

    Usage: manifest = read_manifest(recipe.stage_dir("sft"), redo_hint(recipe, "sft"))
    """
    path = stage_dir / MANIFEST
    try:
        manifest = read_json(path)
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise StageError(f"{path} cannot be read ({e}); {redo or 'rerun the stage afresh'}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("config_hash", ""), str):
        raise StageError(f"{path} is not a stage manifest; {redo or 'rerun the stage afresh'}")
    return manifest


def _manifest_or_none(stage_dir: Path) -> dict[str, Any] | None:
    try:
        return read_manifest(stage_dir)
    except StageError:
        return None


def redo_hint(recipe: Recipe, name: str) -> str:
    """How to run one stage afresh: its folder is moved aside and removed once the new run finishes.

    Usage: raise StageError(f"... ; {redo_hint(recipe, 'sft')}")
    """
    words = ["judgerl", "run", recipe.source, *recipe.overrides, "--only", name]
    return (
        f"to run stage {name!r} afresh: {' '.join(shlex.quote(w) for w in words)} (the current folder is "
        f"kept as {recipe.run_dir / ('.' + name + '.previous')} until the new run finishes)"
    )


def _check_outputs(recipe: Recipe, name: str, manifest: dict[str, Any]) -> None:
    """A finished stage's folder against its manifest's record: a StageError that says how to redo it."""
    stage_dir = recipe.stage_dir(name)
    problems = output_problems(stage_dir, manifest)
    if problems:
        raise StageError(
            f"stage {name!r} finished earlier, but its folder {stage_dir} no longer holds what it wrote: "
            f"{'; '.join(problems[:5])}{' ...' if len(problems) > 5 else ''}; {redo_hint(recipe, name)}"
        )


def _finished_manifest(recipe: Recipe, name: str) -> dict[str, Any] | None:
    """The manifest of a finished stage whose outputs match its record; None when it has not finished."""
    manifest = read_manifest(recipe.stage_dir(name), redo_hint(recipe, name))
    if not manifest or manifest.get("status") != "complete":
        return None
    _check_outputs(recipe, name, manifest)
    return manifest


def config_hash(recipe: Recipe, stage: str, hashes: dict[str, str]) -> str:
    """A hash of the stage's resolved config, the seed and the hashes of the stages it reads from."""
    payload = {
        "config": hash_view(recipe.stages[stage].model_dump(mode="json")),
        "seed": recipe.header.seed,
        "inputs": {dep: hashes[dep] for dep in recipe.dependencies(stage)},
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def is_main_process() -> bool:
    """True on rank 0 (or without a launcher): only rank 0 writes manifests."""
    return os.environ.get("RANK", "0") == "0"


def distributed_backend() -> str | None:
    """The torch.distributed backend this process trained in ("gloo", "nccl"), or None without one.

    Usage: manifest["distributed_backend"] = distributed_backend()
    """
    dist = sys.modules.get("torch.distributed")  # never imports torch for a stage that did not
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return None
    return str(dist.get_backend())


def _selected(recipe: Recipe, only: str | None, from_stage: str | None) -> tuple[list[str], set[str]]:
    names = list(recipe.stages)
    for flag, value in (("--only", only), ("--from", from_stage)):
        if value is not None and value not in names:
            raise StageError(f"{flag} {value}: no such stage in {recipe.source} (stages: {', '.join(names)})")
    if only is not None:
        return [only], {only}
    if from_stage is not None:
        rest = names[names.index(from_stage) :]
        return rest, set(rest)
    return names, set()


def _input_hashes(recipe: Recipe, name: str, hashes: dict[str, str] | None) -> dict[str, str]:
    hashes = dict(hashes or {})
    for dep in recipe.dependencies(name):
        if dep not in hashes:
            dep_manifest = _finished_manifest(recipe, dep)
            if dep_manifest is None:
                raise StageError(
                    f"stage {name!r} reads the outputs of {dep!r}, which has not finished: run it first"
                )
            hashes[dep] = dep_manifest["config_hash"]
    return hashes


def _restore_aside(recipe: Recipe, name: str, digest: str) -> bool:
    """Put the moved-aside folder back when it finished with this very config (a fresh run with
    another config was tried and did not finish): the unfinished attempt is removed instead."""
    aside = aside_path(recipe.run_dir, name)
    previous = _manifest_or_none(aside)
    if not previous or previous.get("status") != "complete" or previous.get("config_hash") != digest:
        return False
    if output_problems(aside, previous):
        return False
    remove_stage_folder(recipe.run_dir, name, recipe.stage_dir(name))
    os.replace(aside, recipe.stage_dir(name))
    log.info(f"[{name}] put back the finished folder of this config from {aside}: skipped")
    return True


def _prepare(recipe: Recipe, name: str, digest: str, force: bool) -> tuple[dict[str, Any], bool]:
    """Rank 0: decide skip / resume / fresh start, move a stale folder aside, write the running manifest.

    A finished stage with the same config is skipped once its outputs match its manifest's record.
    A fresh start (changed config, `force`) moves the folder to `.<name>.previous`, removed only when
    the new run finishes. An unreadable manifest is an error unless the stage is forced.
    """
    stage_dir = recipe.stage_dir(name)
    try:
        previous = read_manifest(stage_dir, redo_hint(recipe, name))
    except StageError:
        if not force:
            raise
        previous = None
    same = previous is not None and previous.get("config_hash") == digest
    if same and previous.get("status") == "complete" and not force:
        _check_outputs(recipe, name, previous)
        return previous, True
    if not same and _restore_aside(recipe, name, digest):
        return read_manifest(stage_dir) or {}, True
    if force or not same:
        aside = move_aside(recipe.run_dir, name)
        if aside is not None:
            log.info(f"[{name}] starting afresh; the earlier folder waits in {aside} until this run finishes")
    resume = same and not force
    stage_dir.mkdir(parents=True, exist_ok=True)
    config = recipe.stages[name]
    manifest: dict[str, Any] = {
        "recipe": recipe.name,
        "stage": name,
        "kind": config.kind,
        "status": "running",
        "resume": resume,
        "config_hash": digest,
        "config": config.model_dump(mode="json"),
        "inputs": {dep: str(recipe.stage_dir(dep)) for dep in recipe.dependencies(name)},
        "outputs": {},
        "metrics": {},
        "seed": recipe.header.seed,
        "versions": package_versions(),
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "attempts": (previous or {}).get("attempts", 0) + 1 if resume else 1,
    }
    write_json(stage_dir / MANIFEST, manifest, durable=True)
    return manifest, False


def run_stage(
    recipe: Recipe, name: str, *, force: bool = False, hashes: dict[str, str] | None = None
) -> StageOutcome:
    """Run one stage into its folder unless it already finished with the same config.

    A stage whose earlier attempt stopped midway (manifest status "running" or "failed", same
    config hash) resumes: trainers continue from their last checkpoint, evaluation from its
    partial predictions. A changed config or `force` starts the stage afresh. A stage with a
    `launcher` runs as launcher subprocesses (see judgerl.launch).

    The run_dir's lock is held throughout (judgerl.core.run_lock): a second run is refused.

    Usage: run_stage(load_recipe("recipes/quickstart.yaml"), "sft")
    """
    with run_dir_lock(recipe.run_dir):
        digest = config_hash(recipe, name, _input_hashes(recipe, name, hashes))
        manifest, skipped = _start(recipe, name, digest, force)
        if skipped:
            log.info(f"[{name}] finished earlier with the same config: skipped")
            return StageOutcome(name, "skipped", manifest)
        launcher = recipe.launchers.get(name)
        try:
            if launcher is not None and launcher.kind != "none":
                return _run_launched(recipe, name, manifest, launcher)
            return _execute(recipe, name, manifest)
        except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM (Interrupted)
            stopped = e if isinstance(e, Interrupted) else Interrupted(getattr(e, "signal_name", "SIGINT"))
            stopped.stage = stopped.stage or name
            if force:  # the same command (--only, --from, --force) would start it afresh again
                words = ["judgerl", "stage", recipe.source, name, *recipe.overrides]
                stopped.resume = " ".join(shlex.quote(w) for w in words)
            raise stopped from None


def _start(recipe: Recipe, name: str, digest: str, force: bool) -> tuple[dict[str, Any], bool]:
    """`_prepare`, with a file system error (a full disk, no permission) as a one-line StageError."""
    try:
        return _prepare(recipe, name, digest, force)
    except OSError as e:
        reason = disk_error(e) or f"{e.strerror or e}{f' ({e.filename})' if e.filename else ''}"
        raise StageError(
            f"stage {name!r} could not start: {reason}; the earlier manifest is unchanged, and once "
            "this is fixed the same command goes on"
        ) from None


def _write_manifest(stage_dir: Path, manifest: dict[str, Any]) -> bool:
    """Write the manifest on rank 0; False when the disk refuses (the old manifest stays, whole)."""
    if not is_main_process():
        return True
    try:
        write_json(stage_dir / MANIFEST, manifest, durable=True)
    except OSError:
        return False
    return True


def _run_launched(
    recipe: Recipe, name: str, manifest: dict[str, Any], launcher: LauncherSpec
) -> StageOutcome:
    cmd = build_command(launcher, recipe.source, name, recipe.overrides)
    env = launch_env(launcher)
    manifest["launcher"] = {"kind": launcher.kind, "command": format_command(cmd, env)}
    stage_dir = recipe.stage_dir(name)
    for stale in stage_dir.glob("error*.log"):  # an earlier attempt's tracebacks, inside the stage folder
        stale.unlink()
    write_json(stage_dir / MANIFEST, manifest, durable=True)
    log.info(f"[{name}] launching: {manifest['launcher']['command']}")
    start = time.time()
    code = _wait_launcher(subprocess.Popen(cmd, env=env), stage_dir, manifest, name)
    final = _manifest_or_none(stage_dir) or manifest
    if code != 0 or final.get("status") != "complete":
        if final.get("status") != "failed":
            ranks = _rank_errors(stage_dir)
            final.update(
                status="failed",
                error=f"launcher exited with code {code}" + (f" ({ranks})" if ranks else ""),
            )
        final["wall_seconds"] = round(time.time() - start, 1)
        write_json(stage_dir / MANIFEST, final, durable=True)
        raise StageError(
            f"stage {name!r} ({launcher.kind}) failed: {final.get('error')}\n"
            f"(command: {manifest['launcher']['command']}; rerun to resume)"
        )
    return StageOutcome(name, "ran", final)


def _wait_launcher(
    process: subprocess.Popen[bytes], stage_dir: Path, manifest: dict[str, Any], name: str
) -> int:
    """The launcher's exit code. Interrupted (Ctrl-C, SIGTERM), the launcher gets the same signal
    and a minute to stop its ranks (they write their own manifest), then the stage is marked failed."""
    try:
        return process.wait()
    except KeyboardInterrupt as e:
        signal_name = getattr(e, "signal_name", "SIGINT")
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM if signal_name == "SIGTERM" else signal.SIGINT)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        final = _manifest_or_none(stage_dir) or manifest
        if final.get("status") == "running":
            final.update(status="failed", error=f"interrupted ({signal_name})")
            _write_manifest(stage_dir, final)
        raise Interrupted(signal_name, stage=name) from None


def run_launched_stage(
    recipe: Recipe, name: str, force: bool = False, wait_seconds: float = 600
) -> StageOutcome:
    """One stage on every rank of a launcher (torchrun / accelerate / deepspeed).

    Started by the pipeline, the folder and its running manifest are ready. Started by hand
    (`torchrun --nproc_per_node 8 -m judgerl stage RECIPE sft`), rank 0 prepares the folder and
    the other ranks wait for its manifest. Every rank trains; only rank 0 writes.

    Rank 0 holds the run_dir's lock unless the process that started the launcher holds it.

    Usage: python -m judgerl stage RECIPE STAGE --launched
    """
    with run_dir_lock(recipe.run_dir) if is_main_process() else contextlib.nullcontext():
        return _run_on_rank(recipe, name, force, wait_seconds)


def _run_on_rank(recipe: Recipe, name: str, force: bool, wait_seconds: float) -> StageOutcome:
    digest = config_hash(recipe, name, _input_hashes(recipe, name, None))
    stage_dir = recipe.stage_dir(name)
    manifest = read_manifest(stage_dir)
    ready = (
        manifest is not None and manifest.get("config_hash") == digest and manifest.get("status") == "running"
    )
    if not ready:
        if is_main_process():
            manifest, skipped = _start(recipe, name, digest, force)
        else:
            deadline = time.time() + wait_seconds
            while True:
                manifest = read_manifest(stage_dir)
                if (
                    manifest
                    and manifest.get("config_hash") == digest
                    and manifest.get("status") in ("running", "complete")
                ):
                    break
                if time.time() > deadline:
                    raise StageError(
                        f"stage {name!r}: rank 0 did not prepare {stage_dir} within {wait_seconds} s"
                    )
                time.sleep(0.5)
            skipped = manifest.get("status") == "complete"
        if skipped:
            log.info(f"[{name}] finished earlier with the same config: skipped")
            return StageOutcome(name, "skipped", manifest)
    try:
        return _execute(recipe, name, manifest)
    finally:
        _leave_process_group()


def _leave_process_group() -> None:
    """Wait for every rank, then close torch.distributed before the interpreter exits.

    Left to interpreter shutdown, a rank that finishes first can tear down its gloo/nccl
    connections while another still uses them, and the launcher then reports a failure
    for a stage whose outputs were all written.
    """
    dist = sys.modules.get("torch.distributed")
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return
    with contextlib.suppress(Exception):
        dist.barrier()
    with contextlib.suppress(Exception):
        dist.destroy_process_group()


def _error_log_name() -> str:
    rank = os.environ.get("RANK", "0")
    return "error.log" if rank == "0" else f"error.rank{rank}.log"


def _rank_errors(stage_dir: Path) -> str:
    """The last line of each rank's traceback file (error.log, error.rankN.log), for a launcher failure."""
    lines = []
    for path in sorted(stage_dir.glob("error*.log")):
        text = path.read_text(errors="replace").strip().splitlines()
        if text:
            lines.append(f"{path.name}: {text[-1]}")
    return "; ".join(lines)


def _execute(recipe: Recipe, name: str, manifest: dict[str, Any]) -> StageOutcome:
    config = recipe.stages[name]
    kind = STAGE_KINDS[config.kind]
    stage_dir = recipe.stage_dir(name)
    resume = bool(manifest.get("resume"))
    start = time.time()
    try:
        log.info(f"[{name}] {kind.summary} ({'resuming' if resume else 'starting'})")
        ctx = StageContext(name=name, out_dir=stage_dir, seed=recipe.header.seed, resume=resume)
        seed_everything(recipe.header.seed)
        result = kind.run(config, ctx)
    except BaseException as e:
        # a signal may reach here as another exception, raised where a library was importing
        interrupted = isinstance(e, KeyboardInterrupt) or received() is not None
        signal_name = received() or getattr(e, "signal_name", "SIGINT")
        error = f"interrupted ({signal_name})" if interrupted else f"{type(e).__name__}: {e}"
        manifest.update(status="failed", error=error, wall_seconds=round(time.time() - start, 1))
        if isinstance(getattr(e, "details", None), dict):
            manifest["error_details"] = e.details  # type: ignore[attr-defined]
        written = _write_manifest(stage_dir, manifest)
        # every rank keeps its own traceback: a launcher failure names the rank that failed first
        with contextlib.suppress(OSError):
            write_text_atomic(stage_dir / _error_log_name(), traceback.format_exc())
        if interrupted:
            raise Interrupted(signal_name, stage=name) from None
        disk = disk_error(e) or disk_error(e.__cause__ or e.__context__)
        if disk:
            kept = "" if written else f"; its manifest still reads {_status(stage_dir)!r}"
            raise StageError(
                f"stage {name!r} ({config.kind}) stopped: {disk}{kept}; free some space and rerun the "
                "same command to resume"
            ) from None
        if isinstance(e, Exception) and not isinstance(e, StageError):
            raise StageError(
                f"stage {name!r} ({config.kind}) failed: {type(e).__name__}: {e}\n"
                f"(traceback in {stage_dir / 'error.log'}; rerun to resume)"
            ) from e
        raise
    manifest.update(
        status="complete",
        outputs=result.outputs,
        metrics=result.metrics,
        finished_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        wall_seconds=round(time.time() - start, 1),
        world_size=int(os.environ.get("WORLD_SIZE", "1")),
        written_by_rank=int(os.environ.get("RANK", "0")),
        distributed_backend=distributed_backend(),
    )
    if is_main_process():
        manifest["files"] = record_files(stage_dir, result.outputs)
        if not _write_manifest(stage_dir, manifest):
            raise StageError(
                f"stage {name!r} finished, but its manifest cannot be written (is the disk full?); it "
                f"still reads {_status(stage_dir)!r}: free some space and rerun the same command"
            )
        finish_replacement(recipe.run_dir, name)
    if manifest["world_size"] > 1:
        log.info(
            f"[{name}] rank {manifest['written_by_rank']} of world size {manifest['world_size']} "
            f"({manifest['distributed_backend']})"
        )
    log.info(f"[{name}] done in {manifest['wall_seconds']} s")
    return StageOutcome(name, "ran", manifest)


def _status(stage_dir: Path) -> str:
    return str((_manifest_or_none(stage_dir) or {}).get("status", "none"))


def run_recipe(recipe: Recipe, only: str | None = None, from_stage: str | None = None) -> list[StageOutcome]:
    """Run the recipe's stages in order (all, `--only` one, or `--from` one on), holding the
    run_dir's lock throughout (a second run on the same run_dir is refused).

    Usage: outcomes = run_recipe(load_recipe("recipes/quickstart.yaml"))
    """
    with run_dir_lock(recipe.run_dir):
        return _run_stages(recipe, only, from_stage)


def _run_stages(recipe: Recipe, only: str | None, from_stage: str | None) -> list[StageOutcome]:
    names, forced = _selected(recipe, only, from_stage)
    hashes: dict[str, str] = {}
    outcomes = []
    for name in recipe.stages:
        if name not in names:
            manifest = _manifest_or_none(recipe.stage_dir(name))
            if manifest and manifest.get("status") == "complete":
                hashes[name] = manifest["config_hash"]
            outcomes.append(StageOutcome(name, "not selected", manifest))
            continue
        outcome = run_stage(recipe, name, force=name in forced, hashes=hashes)
        hashes[name] = outcome.manifest["config_hash"]
        outcomes.append(outcome)
        if received():  # a signal a library swallowed while the stage went on to finish
            raise Interrupted(str(received()), stage=name)
    return outcomes


def summary_table(recipe: Recipe) -> str:
    """The before/after table of every finished eval stage of the recipe, in recipe order.

    Each row names the data file it judged ("eval_sft (test)") and says when only one answer order
    was judged, so an evaluation on training data is not read as a held-out one.
    """
    rows = {}
    for name, config in recipe.stages.items():
        manifest = _manifest_or_none(recipe.stage_dir(name))
        if getattr(config, "kind", "") == "eval" and manifest and manifest.get("status") == "complete":
            notes = [Path(config.data).stem] if isinstance(config.data, str) else []
            notes += [] if config.both_orders else ["one order"]
            rows[f"{name} ({', '.join(notes)})" if notes else name] = manifest["metrics"]
    if not rows:
        return ""
    return metrics_table(rows, title=f"{recipe.name}: judge metrics (%) of each eval stage (its data)")


def benchmark_summary(recipe: Recipe) -> str:
    """Every finished evaluation stage (eval, rewardbench, judgebench, rmbench) side by side: one table,
    and the same numbers as `<run_dir>/summary.png`; "" when the recipe has none.

    Usage: print(benchmark_summary(load_recipe("recipes/think_j/qwen2.5-7b.yaml")))
    """
    from judgerl.eval.run_summary import run_summary

    manifests = {n: _manifest_or_none(recipe.stage_dir(n)) for n in recipe.stages}
    return run_summary(
        manifests, title=f"{recipe.name}: every benchmark (%)", png=recipe.run_dir / "summary.png"
    )

"""What a finished stage's folder must still hold, and the only ways the pipeline removes a folder.

When a stage finishes, the pipeline records in its manifest every file of its outputs (size, and
sha256 up to HASH_LIMIT bytes; rows of a JSONL file). Before a finished stage is skipped, the files
are checked against that record: a truncated predictions.jsonl or a deleted checkpoint shard is an
error, not a silent skip. A stage folder is removed or moved only after a resolved-path check that
it is `<run_dir>/<stage>` (or its moved-aside copy `<run_dir>/.<stage>.previous`) for a safe stage
name, and that it is a judgerl stage folder (it has a manifest.json, or is empty).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path
from typing import Any

from judgerl.core.errors import StageError

MANIFEST = "manifest.json"
STAGE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,63}")
HASH_LIMIT = 64 << 20  # files larger than this (checkpoint shards) are checked by size only
_CHUNK = 1 << 20


def is_stage_name(name: Any) -> bool:
    """True for a name that is safe as a folder under run_dir and in `${stages.NAME.OUTPUT}`:
    letters, digits, `_` and `-`, 1-64 characters, not starting with `-`.

    >>> is_stage_name("eval_sft-2"), is_stage_name(".."), is_stage_name("e.v"), is_stage_name("/tmp")
    (True, False, False, False)
    """
    return isinstance(name, str) and STAGE_NAME.fullmatch(name) is not None


def _digest(path: Path) -> tuple[str, int]:
    sha, newlines = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            sha.update(chunk)
            newlines += chunk.count(b"\n")
    return sha.hexdigest(), newlines


def _files_of(output: Path) -> list[Path]:
    if output.is_file():
        return [output]
    if output.is_dir():
        return sorted(p for p in output.rglob("*") if p.is_file() and not p.name.endswith(".tmp"))
    return []


def record_files(stage_dir: Path, outputs: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Size (and sha256, and JSONL rows) of every file of the outputs that lie inside the stage folder.

    Keys are paths relative to the stage folder.

    Usage: manifest["files"] = record_files(stage_dir, result.outputs)
    """
    root = stage_dir.resolve()
    record: dict[str, dict[str, Any]] = {}
    for value in outputs.values():
        output = Path(value).resolve()
        if not output.is_relative_to(root):
            continue  # an output elsewhere (an input passed through) is not this stage's to check
        for path in _files_of(output):
            entry: dict[str, Any] = {"size": path.stat().st_size}
            if entry["size"] <= HASH_LIMIT:
                entry["sha256"], newlines = _digest(path)
                if path.suffix == ".jsonl":
                    entry["rows"] = newlines
            record[path.relative_to(root).as_posix()] = entry
    return record


def output_problems(stage_dir: Path, manifest: dict[str, Any]) -> list[str]:
    """How the stage folder differs from what its manifest recorded when the stage finished.

    A manifest from before records were kept is checked for its outputs' existence only.

    Usage: problems = output_problems(stage_dir, manifest)
    """
    recorded = manifest.get("files")
    if not isinstance(recorded, dict):
        outputs = manifest.get("outputs") or {}
        return [f"{name}: {path} is missing" for name, path in outputs.items() if not Path(path).exists()]
    problems = []
    for rel, entry in recorded.items():
        path = stage_dir / rel
        if not path.is_file():
            problems.append(f"{rel} is missing")
            continue
        size = path.stat().st_size
        if size != entry.get("size"):
            rows = ""
            if "rows" in entry and size <= HASH_LIMIT:
                rows = f", {_digest(path)[1]} rows where {entry['rows']} were written"
            problems.append(f"{rel} has {size:,} bytes, {entry.get('size'):,} when the stage finished{rows}")
        elif "sha256" in entry and _digest(path)[0] != entry["sha256"]:
            problems.append(f"{rel} changed since the stage finished (sha256 differs)")
    return problems


def aside_path(run_dir: Path, stage: str) -> Path:
    """Where a finished stage's folder waits while the stage runs afresh: `<run_dir>/.<stage>.previous`.

    Usage: aside_path(Path("runs/quickstart"), "sft")
    """
    return run_dir / f".{stage}.previous"


def _checked(run_dir: Path, stage: str, path: Path, action: str) -> Path:
    """`path` after checking it is `<run_dir>/<stage>` or its aside copy, and a judgerl stage folder."""
    run = run_dir.resolve()
    # resolve the folder holding it, not the path itself: a symlink is checked (and removed) as a link
    target = path.parent.resolve() / path.name
    if not is_stage_name(stage) or target.parent != run or target.name not in (stage, f".{stage}.previous"):
        raise StageError(
            f"refusing to {action} {path}: judgerl only {action}s {run}/{stage} (stage {stage!r})"
        )
    if (
        target.is_dir()
        and not target.is_symlink()
        and any(target.iterdir())
        and not (target / MANIFEST).exists()
    ):
        raise StageError(
            f"refusing to {action} {path}: it holds files but no {MANIFEST}, so it is not a judgerl stage "
            "folder; move it away or choose another run_dir"
        )
    return target


def inside_stage_folder(
    stage_dir: str | os.PathLike[str], path: str | os.PathLike[str], whole_tree: bool = False
) -> Path:
    """`path`, after checking that it lies inside `stage_dir` with no symbolic link on the way: what
    a resumed stage opens, appends to or removes (partial predictions, appended records, trainer
    checkpoints) must be its own regular file or folder, never a link planted to a file elsewhere.

    The stage folder itself may be a link (it is resolved first); below it, the path and each
    folder between must not be links, and an existing path must be a regular file or a folder.
    With `whole_tree`, nothing inside a folder `path` may be a link either (a trainer's checkpoints,
    which the trainer overwrites and rotates away). Anything else is a StageError naming the link
    and where it points.

    Usage: partial = inside_stage_folder(ctx.out_dir, ctx.path("predictions.partial.jsonl"))
    """
    root = Path(stage_dir).resolve()
    lexical = Path(os.path.abspath(path))
    base = Path(os.path.abspath(stage_dir))
    if lexical.is_relative_to(base):
        parts = lexical.relative_to(base).parts
    elif lexical.is_relative_to(root):
        parts = lexical.relative_to(root).parts
    else:
        raise StageError(f"refusing to use {path}: it is not inside the stage folder {root}")
    current = root
    for part in parts:
        current = current / part
        _no_link(root, current)
    if current.exists() and not (current.is_file() or current.is_dir()):
        raise StageError(f"refusing to resume with {current}: it is not a regular file or folder")
    if whole_tree and current.is_dir():
        for folder, dirs, files in os.walk(current):  # never follows a link
            for name in (*dirs, *files):
                _no_link(root, Path(folder) / name)
    return Path(path)


def _no_link(root: Path, path: Path) -> None:
    if path.is_symlink():
        raise StageError(
            f"refusing to resume with {path}: it is a symbolic link (to {os.readlink(path)}); a stage "
            f"opens, appends to and removes only its own files inside {root}. Remove the link and "
            "rerun (or run the stage afresh with --only / --force)"
        )


def remove_stage_folder(run_dir: Path, stage: str, path: Path) -> None:
    """Delete a stage folder (or its aside copy) after the checks above; a symlink loses only the link.

    Usage: remove_stage_folder(recipe.run_dir, "sft", aside_path(recipe.run_dir, "sft"))
    """
    target = _checked(run_dir, stage, path, "remove")
    if not (target.exists() or target.is_symlink()):
        return
    if target.is_symlink() or not target.is_dir():
        target.unlink()
    else:
        shutil.rmtree(target)


def move_aside(run_dir: Path, stage: str) -> Path | None:
    """Move `<run_dir>/<stage>` to its aside copy before the stage runs afresh; the copy is removed
    only when the new run finishes (`finish_replacement`). Returns the aside path, None without a folder.

    When an aside copy is already there, an earlier fresh run did not finish: the copy (the folder as
    it was before that run) is kept and the unfinished attempt is removed instead, unless the folder
    holds a finished stage, which then becomes the aside copy.

    Usage: move_aside(recipe.run_dir, "sft")
    """
    folder, aside = run_dir / stage, aside_path(run_dir, stage)
    source = _checked(run_dir, stage, folder, "move")
    if not (source.exists() or source.is_symlink()):
        return None
    if aside.exists() or aside.is_symlink():
        if _finished(folder):
            remove_stage_folder(run_dir, stage, aside)
        else:
            remove_stage_folder(run_dir, stage, folder)
            return aside
    os.replace(source, aside)
    return aside


def finish_replacement(run_dir: Path, stage: str) -> None:
    """The stage ran afresh and finished: drop the folder it replaced. Usage: finish_replacement(run, "sft")."""
    remove_stage_folder(run_dir, stage, aside_path(run_dir, stage))


def _finished(folder: Path) -> bool:
    import json

    try:
        with open(folder / MANIFEST, encoding="utf-8") as f:
            return json.load(f).get("status") == "complete"
    except (OSError, ValueError, AttributeError):
        return False

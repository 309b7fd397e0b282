"""`judgerl cp NAME [DEST] [--force]`: copy a shipped recipe to edit, with what it needs to run where it lands.

As torchtune's `tune cp`: the copy is a plain file to edit and run (`judgerl run DEST`). A recipe
is copied with every recipe it `extends` (beside it, so the relative `extends:` still works) and
every shipped file it names as `recipes/...` (DeepSpeed JSON, accelerate YAML, and the DeepSpeed
file an accelerate config names). Those go beside the copy under the same sub-folders
(deepspeed/, accelerate/), and each reference is rewritten to the copied file's path as seen from
the current folder, the folder a run starts in (how the shipped recipes name them too). Nothing
is overwritten without --force.
"""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass
from pathlib import Path

NAME = "cp"
HELP = "copy a shipped recipe (and the launcher configs it names) to a file to edit"

# a shipped path as recipes and launcher configs write it: recipes/<folders>/<file>.<yaml|yml|json>
_REFERENCE = re.compile(r"(?<![\w./-])recipes/[\w.-]+(?:/[\w.-]+)*\.(?:yaml|yml|json)\b")
_EXTENDS = re.compile(r"^extends:[ \t]*(['\"]?)([^'\"\s#]+)\1", re.MULTILINE)


@dataclass
class Copy:
    """One file to write: its shipped source, its target and the rewritten text."""

    source: Path
    target: Path
    text: str = ""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of `judgerl cp`. Usage: add_arguments(sub.add_parser("cp"))"""
    parser.description = HELP + " (`judgerl ls` lists the names)"
    parser.add_argument("name", help="shipped recipe, e.g. quickstart or think_j/qwen2.5-7b (.yaml optional)")
    parser.add_argument(
        "dest", nargs="?", help="file or existing folder to copy to (default: the recipe's file name, here)"
    )
    parser.add_argument("--force", action="store_true", help="overwrite files that exist")


def _seen_from_here(path: Path) -> str:
    path = path.absolute()
    cwd = Path.cwd().absolute()
    return os.path.relpath(path, cwd) if path.is_relative_to(cwd) else str(path)


def _destination(source: Path, dest: str | None) -> Path:
    if dest is None:
        return Path(source.name)
    target = Path(dest)
    if target.is_dir() or dest.endswith(("/", os.sep)):
        return target / source.name
    return (
        target
        if target.suffix in (".yaml", ".yml", ".json")
        else target.with_name(target.name + source.suffix)
    )


def plan_copy(name: str, dest: str | None = None) -> list[Copy]:
    """The files `judgerl cp NAME DEST` writes, first the copy itself, with their rewritten texts.

    Usage: [c.target for c in plan_copy("think_j/qwen2.5-32b", "exp.yaml")]
    """
    from judgerl.core.errors import RecipeError
    from judgerl.core.recipe_files import is_recipe_file, resolve_extends, shipped_file, shipped_recipes_dir

    root = shipped_recipes_dir().resolve()
    first = shipped_file(name)
    if first is None:
        raise RecipeError(f"judgerl cp {name}: no shipped recipe of that name (`judgerl ls` lists them)")
    main = Copy(first, _destination(first, dest))
    plan: dict[Path, Copy] = {first: main}
    todo = [main]
    while todo:
        item = todo.pop(0)
        text = item.source.read_text(encoding="utf-8")
        wanted: list[tuple[Path, Path]] = []  # (shipped source, target) named by this file
        for match in dict.fromkeys(m.group(0) for m in _REFERENCE.finditer(text)):
            found = shipped_file(match)
            if found is None or is_recipe_file(found):  # recipes come along only through `extends`
                continue
            target = main.target.parent / found.relative_to(root)
            wanted.append((found, target))
            new = _seen_from_here(target)
            text = re.sub(rf"(?<![\w./-]){re.escape(match)}\b", lambda _, new=new: new, text)
        extends = _EXTENDS.search(text)
        if extends:
            parent = resolve_extends(extends.group(2), item.source).resolve()
            if not parent.is_file() or not parent.is_relative_to(root):
                raise RecipeError(
                    f"judgerl cp {name}: {item.source.name} extends {extends.group(2)}, not found"
                )
            target = item.target.parent / parent.name
            wanted.append((parent, target))
            text = text[: extends.start(2)] + parent.name + text[extends.end(2) :]
        item.text = text
        for source, target in wanted:
            if source in plan:
                continue
            clash = next((c for c in plan.values() if c.target.absolute() == target.absolute()), None)
            if clash is not None:
                raise RecipeError(
                    f"judgerl cp {name}: {source.relative_to(root)} and {clash.source.relative_to(root)} "
                    f"would both be copied to {target}"
                )
            plan[source] = Copy(source, target)
            todo.append(plan[source])
    return list(plan.values())


def run(args: argparse.Namespace) -> int:
    """Copy a shipped recipe and what it names; print what was written.

    Usage: judgerl cp think_j/qwen2.5-7b my_run.yaml
    """
    from judgerl.core.errors import RecipeError
    from judgerl.core.jsonl import write_text_atomic
    from judgerl.core.recipe_files import is_recipe_file, shipped_recipes_dir

    plan = plan_copy(args.name, args.dest)
    existing = [str(c.target) for c in plan if c.target.exists()]
    if existing and not args.force:
        raise RecipeError(
            f"judgerl cp: refusing to overwrite {', '.join(existing)} (pass --force to replace)"
        )
    root = shipped_recipes_dir().resolve()
    for item in plan:
        write_text_atomic(item.target, item.text)
        print(f"copied {item.source.relative_to(root).as_posix()} -> {item.target}")
    if is_recipe_file(plan[0].target):
        from judgerl.recipe import load_recipe

        load_recipe(plan[0].target)  # the copy must load where it landed; a failure is a bug here
        print(f"edit it, then: judgerl validate {plan[0].target} && judgerl run {plan[0].target}")
    return 0

"""`judgerl ls [DIR]`: the shipped recipes (or those under a folder) with their one-line descriptions."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "ls"
HELP = "list shipped recipes with one-line descriptions"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of `judgerl ls`. Usage: add_arguments(sub.add_parser("ls"))"""
    parser.description = (
        "List the shipped recipes: each name works from any folder in `judgerl validate NAME`, "
        "`judgerl run NAME` and `judgerl cp NAME`."
    )
    parser.add_argument("dir", nargs="?", help="folder to list instead of the shipped recipes")


def describe(path: Path) -> str | None:
    """A recipe file's one-line description, "(not valid YAML)", or None for a file that is no recipe.

    Usage: describe(Path("recipes/quickstart.yaml"))
    """
    import yaml

    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError):
        return "(not valid YAML)"
    if isinstance(doc, dict) and "stages" in doc:
        return " ".join(str(doc.get("description", "")).split())
    return None  # a launcher config (accelerate/) or another YAML file that has no stages


def run(args: argparse.Namespace) -> int:
    """List the recipes under a folder (default: the shipped ones) with their one-line descriptions.

    Usage: judgerl ls [DIR]
    """
    from judgerl.core.recipe_files import RECIPE_SUFFIXES, display_path, shipped_recipes_dir

    folder = Path(args.dir) if args.dir else shipped_recipes_dir()
    if not folder.is_dir():
        print(f"judgerl ls: {folder} is not a folder")
        return 1
    files = sorted(p for suffix in RECIPE_SUFFIXES for p in folder.rglob(f"*{suffix}"))
    rows = [(f.relative_to(folder).as_posix(), d) for f in files if (d := describe(f)) is not None]
    if not rows:
        print(f"no recipes under {folder}")
        return 1
    width = max(len(name) for name, _ in rows)
    for name, description in rows:
        print(f"{name:<{width}}  {description}")
    if not args.dir:
        print(
            f"\n({len(rows)} shipped recipes in {display_path(folder)}; `judgerl cp NAME` copies one to edit)"
        )
    return 0

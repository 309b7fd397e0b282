"""`judgerl ls [DIR]`: the recipes under a folder with their one-line descriptions."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "ls"
HELP = "list shipped recipes with one-line descriptions"


def recipes_dir() -> Path:
    """./recipes when it exists, else the recipes shipped next to the package.

    Usage: folder = recipes_dir()
    """
    here = Path("recipes")
    return here if here.is_dir() else Path(__file__).resolve().parents[2] / "recipes"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of `judgerl ls`. Usage: add_arguments(sub.add_parser("ls"))"""
    parser.add_argument("dir", nargs="?", help="folder to list (default: recipes/)")


def run(args: argparse.Namespace) -> int:
    """List the recipes under a folder with their one-line descriptions.

    Usage: judgerl ls [DIR]
    """
    import yaml

    folder = Path(args.dir) if args.dir else recipes_dir()
    files = sorted(folder.rglob("*.yaml"))
    if not files:
        print(f"no recipes under {folder}")
        return 1
    width = max(len(str(f.relative_to(folder))) for f in files)
    for f in files:
        try:
            doc = yaml.safe_load(f.read_text())
        except yaml.YAMLError:
            doc = {"description": "(not valid YAML)", "stages": {}}
        if isinstance(doc, dict) and "stages" in doc:
            print(
                f"{str(f.relative_to(folder)):<{width}}  {' '.join(str(doc.get('description', '')).split())}"
            )
    return 0

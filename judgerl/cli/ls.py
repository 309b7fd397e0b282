"""`judgerl ls [DIR]`: the shipped recipes (or those under a folder), one line each.

Each line is the recipe's name and its description's first sentence, or that sentence's head (up
to its first colon) where the sentence is wider than the terminal; `judgerl ls --long` prints whole
descriptions.
"""

from __future__ import annotations

import argparse
import re
import shutil
import textwrap
from pathlib import Path

# a sentence ends at . ! or ? before a space and a capital, a parenthesis or a backquote ("Qwen2.5-7B" does not)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(`])")

NAME = "ls"
HELP = "list shipped recipes with one-line descriptions"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of `judgerl ls`. Usage: add_arguments(sub.add_parser("ls"))"""
    parser.description = (
        "List the shipped recipes: each name works from any folder in `judgerl validate NAME`, "
        "`judgerl run NAME` and `judgerl cp NAME`."
    )
    parser.add_argument("dir", nargs="?", help="folder to list instead of the shipped recipes")
    parser.add_argument("-l", "--long", action="store_true", help="print each recipe's whole description")


def headline(description: str, width: int) -> str:
    """A description in at most `width` characters: its first sentence, else that sentence's head before
    its first colon, else the sentence cut with "...".

    >>> headline("Think-J on Qwen2.5-7B: SFT, DPO and GRPO. Needs 8 GPUs.", 60)
    'Think-J on Qwen2.5-7B: SFT, DPO and GRPO.'
    >>> headline("Think-J on Qwen2.5-7B: SFT, DPO and GRPO. Needs 8 GPUs.", 30)
    'Think-J on Qwen2.5-7B'
    >>> headline("A judge trained by SFT on traces", 12)
    'A judge t...'

    Usage: print(f"{name}  {headline(description, 80 - len(name) - 2)}")
    """
    sentence = _SENTENCE_END.split(description, maxsplit=1)[0]
    if len(sentence) <= width:
        return sentence
    head = sentence.split(": ", 1)[0]
    if len(head) < len(sentence) and len(head) <= width:
        return head
    return sentence[: max(width - 3, 0)].rstrip() + "..."


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
    """List the recipes under a folder (default: the shipped ones), one line each (--long: whole descriptions).

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
    columns = max(shutil.get_terminal_size((120, 24)).columns, 80)
    for name, description in rows:
        if args.long:
            indent = " " * (width + 2)
            text = textwrap.fill(
                description, columns, initial_indent=indent, subsequent_indent=indent, break_on_hyphens=False
            )
            print(f"{name:<{width}}  {text[width + 2 :]}")
        else:
            print(f"{name:<{width}}  {headline(description, columns - width - 2)}")
    if not args.dir:
        print(
            f"\n({len(rows)} shipped recipes in {display_path(folder)}; `judgerl cp NAME` copies one to edit)"
        )
    return 0

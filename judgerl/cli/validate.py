"""`judgerl validate RECIPE [KEY=VALUE ...]`: check a recipe without running it (imports no torch)."""

from __future__ import annotations

import argparse

from judgerl.cli.common import add_recipe_arguments

NAME = "validate"
HELP = "check a recipe (schema, interpolation, overrides) without running it"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of `judgerl validate`. Usage: add_arguments(sub.add_parser("validate"))"""
    parser.description = HELP
    add_recipe_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Load and validate a recipe, then print its stages and their hand-offs.

    Usage: judgerl validate recipes/quickstart.yaml stages.sft.lr=1e-5
    """
    from judgerl.recipe import load_recipe

    recipe = load_recipe(args.recipe, args.overrides)
    print(
        f"{recipe.source}: valid recipe {recipe.name!r}, run_dir {recipe.run_dir}, seed {recipe.header.seed}"
    )
    for name, stage in recipe.stages.items():
        deps = recipe.dependencies(name)
        print(f"  {name:<24} {stage.kind:<13}" + (f" reads {', '.join(deps)}" if deps else ""))
    return 0

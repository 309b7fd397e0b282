"""`judgerl stage RECIPE STAGE`: run one stage (the entry point for torchrun / accelerate / deepspeed).

torchrun --nproc_per_node 8 -m judgerl stage recipes/think_j/qwen2.5-7b.yaml sft
"""

from __future__ import annotations

import argparse
import os
import textwrap

from judgerl.cli.common import add_recipe_arguments
from judgerl.core.errors import JudgeRLError

NAME = "stage"
HELP = "run one stage of a recipe (the entry point for torchrun/accelerate/deepspeed)"


def _stage_kinds() -> str:
    from judgerl.stages import STAGE_KINDS

    width = max(len(kind) for kind in STAGE_KINDS)
    return "\n".join(f"  {kind:<{width}}  {STAGE_KINDS[kind].summary}" for kind in STAGE_KINDS)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of `judgerl stage`. Usage: add_arguments(sub.add_parser("stage"))"""
    parser.description = textwrap.fill(
        "Run one stage of a recipe in this process, with the recipe's overrides and interpolation, and "
        "write its folder and manifest as `judgerl run` does. The pipeline launches training stages "
        "with a `launcher` this way on every rank; `judgerl run RECIPE --only STAGE` is the usual way "
        "to run one stage by hand.",
        width=90,
    )
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = (
        "example:\n  torchrun --nproc_per_node 8 -m judgerl stage recipes/think_j/qwen2.5-7b.yaml sft\n\n"
        "stage kinds (a recipe stage's `kind:`):\n" + _stage_kinds()
    )
    add_recipe_arguments(
        parser, ("stage", "the name of a stage in the recipe (`judgerl validate RECIPE` lists them)")
    )
    parser.add_argument("--force", action="store_true", help="rerun even if it finished with the same config")
    parser.add_argument(
        "--launched",
        action="store_true",
        help="run as one rank of a launcher (set by the pipeline; implied when WORLD_SIZE > 1)",
    )


def run(args: argparse.Namespace) -> int:
    """Run one stage of a recipe, as one rank when launched (WORLD_SIZE > 1 or --launched).

    Usage: judgerl stage recipes/quickstart.yaml sft --force
    """
    from judgerl.pipeline import run_launched_stage, run_stage
    from judgerl.recipe import load_recipe

    recipe = load_recipe(args.recipe, args.overrides)
    if args.stage not in recipe.stages:
        raise JudgeRLError(f"no stage {args.stage!r} in {args.recipe} (stages: {', '.join(recipe.stages)})")
    if args.launched or int(os.environ.get("WORLD_SIZE", "1")) > 1:
        run_launched_stage(recipe, args.stage, force=args.force)
    else:
        run_stage(recipe, args.stage, force=args.force)
    return 0

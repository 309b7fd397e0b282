"""`judgerl stage RECIPE STAGE`: run one stage (the entry point for torchrun / accelerate / deepspeed).

torchrun --nproc_per_node 8 -m judgerl stage recipes/think_j/qwen2.5-7b.yaml sft
"""

from __future__ import annotations

import argparse
import os

from judgerl.core.errors import JudgeRLError

NAME = "stage"
HELP = "run one stage (entry point for torchrun/accelerate/deepspeed)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of `judgerl stage`. Usage: add_arguments(sub.add_parser("stage"))"""
    parser.add_argument("recipe")
    parser.add_argument("stage")
    parser.add_argument("overrides", nargs="*")
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

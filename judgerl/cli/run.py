"""`judgerl run RECIPE [KEY=VALUE ...]`: run a recipe's stages in order and print the evaluation table."""

from __future__ import annotations

import argparse

from judgerl.cli.common import add_recipe_arguments

NAME = "run"
HELP = "run a recipe's stages in order; finished stages with an unchanged config are skipped"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of `judgerl run`. Usage: add_arguments(sub.add_parser("run"))"""
    parser.description = HELP
    add_recipe_arguments(parser)
    parser.add_argument("--only", metavar="STAGE", help="run only this stage (its inputs must exist)")
    parser.add_argument("--from", dest="from_stage", metavar="STAGE", help="rerun from this stage on")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print each stage's command, environment, inputs and outputs; check files; load no model",
    )


def run(args: argparse.Namespace) -> int:
    """Run a recipe (or print its dry run) and print the evaluation table.

    Usage: judgerl run recipes/quickstart.yaml stages.sft.max_steps=200 --from sft
    """
    from judgerl.pipeline import benchmark_summary, run_recipe, summary_table
    from judgerl.recipe import load_recipe

    recipe = load_recipe(args.recipe, args.overrides)
    if args.dry_run:
        from judgerl.cli.dry_run import dry_run

        text, problems = dry_run(recipe)
        print(text)
        return 1 if problems else 0
    outcomes = run_recipe(recipe, only=args.only, from_stage=args.from_stage)
    print()
    for o in outcomes:
        wall = (o.manifest or {}).get("wall_seconds")
        print(
            f"  {o.name:<14} {o.status:<13}"
            + (f" {wall} s" if wall is not None and o.status == "ran" else "")
        )
    table = summary_table(recipe)
    if table:
        print("\n" + table)
    benchmarks = benchmark_summary(recipe)
    if benchmarks:
        print(f"\n{benchmarks}\n(plotted in {recipe.run_dir / 'summary.png'})")
    print(f"\noutputs under {recipe.run_dir}/")
    return 0

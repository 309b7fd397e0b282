"""What several commands share: the recipe arguments, the judge prompt flags, comma-separated lists."""

from __future__ import annotations

import argparse
from typing import Any

from judgerl.core.serve_options import SERVE_INSTRUCTIONS, SERVE_PROMPTS

# the prompt families a pairwise judge is asked in on the command line (verdicts the parser reads)
PROMPT_CHOICES = SERVE_PROMPTS
INSTRUCTION_CHOICES = SERVE_INSTRUCTIONS


def csv(text: str) -> list[str]:
    """The non-blank, stripped items of a comma-separated string.

    Usage: aspects = csv(args.aspects)

    >>> csv(" a, b,,c ")
    ['a', 'b', 'c']
    """
    return [x.strip() for x in text.split(",") if x.strip()]


def add_recipe_arguments(parser: argparse.ArgumentParser) -> None:
    """The RECIPE and KEY=VALUE arguments of `judgerl validate` and `judgerl run`.

    Usage: add_recipe_arguments(sub.add_parser("validate"))
    """
    parser.add_argument(
        "recipe", help="recipe YAML file, or the name of a shipped recipe (judgerl ls), e.g. quickstart"
    )
    parser.add_argument("overrides", nargs="*", help="KEY=VALUE overrides, e.g. seed=1 stages.sft.lr=1e-5")


def add_prompt_flags(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    prompt_help: str | None = None,
    instruction_help: str | None = None,
) -> None:
    """--prompt (cot, strength, direct; default strength) and --instruction (full, compact; default full).

    Usage: add_prompt_flags(parser, prompt_help="pairwise prompt")
    """
    parser.add_argument("--prompt", default="strength", choices=list(PROMPT_CHOICES), help=prompt_help)
    parser.add_argument(
        "--instruction", default="full", choices=list(INSTRUCTION_CHOICES), help=instruction_help
    )


def prompt_spec(args: argparse.Namespace) -> Any:
    """The PromptSpec of the parsed --prompt and --instruction.

    Usage: EvalStage(model=..., data=..., prompt=prompt_spec(args))
    """
    from judgerl.judge_spec.families import PromptSpec

    return PromptSpec(args.prompt, instruction=args.instruction)

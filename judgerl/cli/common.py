"""What several commands share: the recipe arguments, the judge prompt flags, comma-separated lists."""

from __future__ import annotations

import argparse
from typing import Any

from judgerl.core.serve_options import SERVE_INSTRUCTIONS, SERVE_PROMPTS
from judgerl.models.chat_templates import CHAT_TEMPLATE_HELP

# the --chat-template flag of every command that judges with a model (its tokenizer is checked before the model loads)
CHAT_TEMPLATE_FLAG_HELP = f"for a model whose tokenizer has no chat template: {CHAT_TEMPLATE_HELP}"
# the --model flag of every command that loads a judge (the SOURCE forms of judgerl.models.model_refs)
MODEL_FLAG_HELP = (
    "checkpoint folder or hub id; also a .gguf file, gguf_package:NAME or hub:ID@REVISION (imported once "
    "into $JUDGERL_CACHE, default ~/.cache/judgerl)"
)
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


def add_recipe_arguments(parser: argparse.ArgumentParser, *between: tuple[str, str]) -> None:
    """The RECIPE and KEY=VALUE arguments of `judgerl validate`, `run` and `stage`; `between` are more
    positionals (name, help) that come between them.

    Usage: add_recipe_arguments(sub.add_parser("validate"))
    """
    parser.add_argument(
        "recipe", help="recipe YAML file, or the name of a shipped recipe (judgerl ls), e.g. quickstart"
    )
    for name, text in between:
        parser.add_argument(name, help=text)
    parser.add_argument(
        "overrides",
        nargs="*",
        help="KEY=VALUE overrides, anywhere on the line, e.g. seed=1 stages.sft.lr=1e-5",
    )
    parser.intermixed = True  # type: ignore[attr-defined]  # a CommandParser: overrides may follow flags


def add_prompt_flags(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    prompt_help: str | None = None,
    instruction_help: str | None = None,
) -> None:
    """--judge-spec NAME|FILE, and the shorthand --prompt (cot, strength, direct) / --instruction (full,
    compact). With none of them a command uses the judge spec saved with the model (or judgerl's default).

    Usage: add_prompt_flags(parser, prompt_help="pairwise prompt")
    """
    from judgerl.judge_spec.presets import builtin_names

    parser.add_argument(
        "--judge-spec",
        default=None,
        metavar="NAME|FILE",
        help="how the judge is prompted and read: a built-in spec ("
        + ", ".join(builtin_names())
        + ") or a YAML/JSON spec file (docs/judge_specs.md); default: the spec saved with the model",
    )
    parser.add_argument(
        "--prompt",
        default=None,
        choices=list(PROMPT_CHOICES),
        help=prompt_help
        or "shorthand for a built-in judgerl spec (with --instruction); default: the model's spec",
    )
    parser.add_argument(
        "--instruction",
        default=None,
        choices=list(INSTRUCTION_CHOICES),
        help=instruction_help or "full (default) or compact instruction of the --prompt family",
    )


def prompt_spec(args: argparse.Namespace) -> Any:
    """The PromptSpec of the parsed --prompt and --instruction, or None when neither was given.

    Usage: EvalStage(model=..., data=..., prompt=prompt_spec(args))
    """
    from judgerl.judge_spec.families import PromptSpec

    family, instruction = getattr(args, "prompt", None), getattr(args, "instruction", None)
    if family is None and instruction is None:
        return None
    return PromptSpec(family or "strength", instruction=instruction or "full")


def judge_keys(args: argparse.Namespace) -> dict[str, Any]:
    """The stage keys `prompt` and `judge_spec` from the parsed flags (a bad spec file is a one-line error).

    Usage: EvalStage(model=..., data=..., **judge_keys(args))
    """
    from judgerl.judge_spec.files import load_spec

    ref = getattr(args, "judge_spec", None)
    return {"prompt": prompt_spec(args), "judge_spec": load_spec(ref) if ref else None}


ENDPOINT_FLAGS = (
    "base_url",
    "api_key_env",
    "concurrency",
    "timeout",
    "retries",
    "backoff",
    "max_backoff",
    "use_n",
    "tokenizer",
    "on_refused",
)
ENDPOINT_HELP = {
    "base_url": "backend openai: the server's API root, e.g. http://127.0.0.1:8000/v1 (vllm serve, SGLang, "
    "judgerl serve)",
    "api_key_env": "the environment variable holding the API key (the key itself is never written)",
    "concurrency": "requests in flight (default 8)",
    "timeout": "seconds per request (default 600)",
    "retries": "retries of a failed request, with backoff (default 5)",
    "use_n": "ask for all n completions of a prompt in one request",
    "tokenizer": "scoring logprob: the served model's tokenizer (a folder or hub id)",
    "on_refused": "a prompt the server refuses: stop (default) or count it as an empty, unreadable completion",
}


def add_endpoint_flags(parser: argparse.ArgumentParser) -> argparse._ArgumentGroup:
    """The `endpoint` flags of a command whose stage takes `backend: openai` (--base-url, --api-key-env, ...).

    Usage: add_endpoint_flags(parser); stage = EvalStage(..., endpoint=endpoint_config(args))
    """
    from judgerl.cli.config_flags import add_config_flags
    from judgerl.models.decoding_config import EndpointSpec

    group = parser.add_argument_group("OpenAI-compatible endpoint (--backend openai)")
    add_config_flags(group, EndpointSpec, ENDPOINT_FLAGS, required=(), help=ENDPOINT_HELP)
    return group


def endpoint_config(args: argparse.Namespace) -> dict[str, Any] | None:
    """The stage's `endpoint` mapping from the endpoint flags (None when none was given).

    Usage: EvalStage(..., backend="openai", endpoint=endpoint_config(args))
    """
    from judgerl.cli.config_flags import config_values
    from judgerl.core.config import flag_name
    from judgerl.core.errors import JudgeRLError

    values = config_values(args, ENDPOINT_FLAGS)
    if values and "base_url" not in values:
        flags = ", ".join(flag_name(k) for k in values)
        raise JudgeRLError(f"{flags}: endpoint settings need --backend openai --base-url URL")
    return values or None


def resolve_model_flag(
    args: argparse.Namespace, flag: str = "--model", dest: str = "model", name_dest: str | None = "model_name"
) -> None:
    """Turn the parsed `--model` SOURCE into the folder or hub id to load, in place (judgerl.models.model_refs).

    A checkpoint folder or hub id stays as it is; a folder `judgerl import` wrote gives its
    checkpoint; a GGUF file, `gguf_package:NAME` or `hub:ID@REVISION` is imported into the cache once
    (with --chat-template, when given). The benchmarks' `--model-name` (`name_dest`, None for a command
    whose model_name means something else) defaults to the SOURCE as written. With `--backend openai`
    `--model` is the served model's name and is left alone.

    Usage: resolve_model_flag(args)  # first thing in a command's run(), before any tokenizer loads
    """
    value = getattr(args, dest, None)
    if value is None or (dest == "model" and getattr(args, "backend", None) == "openai"):
        return
    from judgerl.models.model_refs import resolve_model

    resolved = resolve_model(value, getattr(args, "chat_template", None), flag)
    setattr(args, dest, resolved)
    if resolved != value and name_dest is not None and getattr(args, name_dest, "unset") is None:
        setattr(args, name_dest, value)

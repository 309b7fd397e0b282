"""`judgerl serve`: serve a judge checkpoint as an HTTP reward endpoint until interrupted.

    judgerl serve --model runs/quickstart/sft/checkpoint                  # 127.0.0.1:8000, no token
    judgerl serve --model CKPT --host 0.0.0.0 --token "$JUDGE_TOKEN"      # beyond loopback: token required
    judgerl serve --model CKPT --scoring logprob                         # verdicts by log-probability

The flags are derived from the one serve-options spec (`judgerl.core.serve_options`: ServeBind
and ServeOptions), whose defaults a policy_grpo stage's `judge_server` shares.
"""

from __future__ import annotations

import argparse
import os

from judgerl.cli.common import MODEL_FLAG_HELP, add_prompt_flags, judge_keys, resolve_model_flag
from judgerl.cli.config_flags import add_config_flags, config_values
from judgerl.core.errors import JudgeRLError
from judgerl.core.serve_options import ServeBind, ServeOptions

NAME = "serve"
HELP = "serve a judge checkpoint as a reward endpoint (/v1/judge, /v1/score, /get_reward, OpenAI chat)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of `judgerl serve`. Usage: add_arguments(sub.add_parser("serve"))"""
    parser.description = (
        "Serve a judge over HTTP with dynamic batching. Binds 127.0.0.1 unless told "
        "otherwise; binding beyond loopback requires --token (or $JUDGERL_SERVE_TOKEN)."
    )
    parser.add_argument("--model", required=True, help=f"the judge: {MODEL_FLAG_HELP}")
    add_config_flags(parser, ServeBind, defaults=True)
    add_config_flags(parser, ServeOptions, defaults=True)
    add_prompt_flags(parser)
    parser.add_argument(
        "--score-spec",
        default=None,
        metavar="NAME|FILE",
        help="the pointwise judge spec of /v1/score and /get_reward without a reference (default: score, or "
        "the model's own spec when it is pointwise)",
    )
    parser.add_argument(
        "--unparsed-reward",
        type=float,
        default=0.0,
        help="the /get_reward reward of a reply whose score cannot be read (marked in extra_logs.judge_parsed; default 0.0)",
    )


def run(args: argparse.Namespace) -> int:
    """Serve `--model` until interrupted (the bind and range checks run before the model loads).

    Usage: judgerl serve --model runs/quickstart/sft/checkpoint --port 8000
    """
    from judgerl.serving.process import die_with_parent
    from judgerl.serving.server import serve

    die_with_parent()  # started by JudgeServerProcess: go when the parent goes, SIGKILL included
    resolve_model_flag(args)
    token = args.token if args.token is not None else os.environ.get("JUDGERL_SERVE_TOKEN") or None
    options = config_values(args, list(ServeOptions.model_fields))
    bind = config_values(args, list(ServeBind.model_fields))
    bind |= {"token": token, "served_model_name": args.served_model_name}
    from judgerl.judge_spec.files import load_spec

    score_spec = load_spec(args.score_spec) if args.score_spec else None
    if score_spec is not None and score_spec.mode != "pointwise":
        raise JudgeRLError(
            f"judgerl serve: --score-spec {args.score_spec!r} is a {score_spec.mode} spec; it must be pointwise"
        )
    serve(
        args.model,
        **bind,
        **options,
        **judge_keys(args),
        score_spec=score_spec,
        unparsed_reward=args.unparsed_reward,
    )
    return 0

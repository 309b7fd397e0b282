"""`judgerl distill`: a teacher's thinking traces for judge samples, without writing a recipe.

    judgerl distill --data train.jsonl --base-url https://api.deepseek.com --model-name deepseek-reasoner \\
        --api-key-env DEEPSEEK_API_KEY --out runs/distill
    judgerl distill --data train.jsonl --serve runs/quickstart/sft/checkpoint --instruction compact
    judgerl distill --data train.jsonl --teacher hf --model runs/quickstart/sft/checkpoint

The flags mirror the `distill` stage (DistillStage) and its teachers (OpenAITeacher, LocalTeacher):
they are derived from those configs. A rerun with the same --out resumes (the teacher is not asked
again for finished samples); --fresh starts over.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from judgerl.cli.common import MODEL_FLAG_HELP, add_prompt_flags, judge_keys, resolve_model_flag
from judgerl.cli.config_flags import add_config_flags, config_values
from judgerl.core.config import format_validation_error
from judgerl.core.errors import JudgeRLError

NAME = "distill"
HELP = "distill thinking traces from a teacher (OpenAI-compatible endpoint, judgerl serve, hf, vllm)"
STAGE_FIELDS = (
    "n",
    "both_orders",
    "verdict_only",
    "temperature",
    "top_p",
    "max_new_tokens",
    "max_items",
    "max_traces_per_order",
    "max_thinking_tokens",
    "over_budget",
    "tokenizer",
)
OPENAI_FIELDS = (
    "base_url",
    "model_name",
    "api_key_env",
    "use_n",
    "concurrency",
    "timeout",
    "retries",
    "backoff",
)
LOCAL_FIELDS = ("model", "batch_size", "chunk_size", "top_k", "dtype")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of `judgerl distill`. Usage: add_arguments(sub.add_parser("distill"))"""
    from judgerl.distill.config import DistillStage, LocalTeacher, OpenAITeacher

    parser.add_argument(
        "--data",
        required=True,
        help="judge-sample JSONL, llmbar:DIR, gsm8k:FILE, local:FILE or synthetic[:N]",
    )
    parser.add_argument("--out", default="runs/distill", help="output folder (default: runs/distill)")
    parser.add_argument("--teacher", default="openai", choices=["openai", "hf", "vllm"], help="teacher kind")
    parser.add_argument(
        "--serve",
        metavar="CHECKPOINT",
        help="openai teacher: serve this checkpoint (or .gguf file, gguf_package:NAME) with `judgerl serve`",
    )
    parser.add_argument("--fresh", action="store_true", help="forget the answers of an earlier run in --out")
    parser.add_argument("--seed", type=int, default=0)
    add_prompt_flags(parser)
    add_config_flags(parser, DistillStage, STAGE_FIELDS)
    group = parser.add_argument_group("openai teacher")
    add_config_flags(group, OpenAITeacher, OPENAI_FIELDS)
    group = parser.add_argument_group("hf / vllm teacher")
    add_config_flags(
        group, LocalTeacher, LOCAL_FIELDS, required=(), help={"model": f"teacher: {MODEL_FLAG_HELP}"}
    )


def teacher_config(args: argparse.Namespace) -> dict[str, Any]:
    """The stage's `teacher` mapping from the teacher flags.

    Usage: DistillStage(data=..., teacher=teacher_config(args))
    """
    openai = config_values(args, OPENAI_FIELDS)
    local = config_values(args, LOCAL_FIELDS)
    if args.teacher != "openai":
        if openai or args.serve:
            raise JudgeRLError(f"judgerl distill: --teacher {args.teacher} takes no openai teacher flags")
        return {"kind": args.teacher, **local}
    if local:
        raise JudgeRLError(f"judgerl distill: {sorted(local)} are hf/vllm teacher flags (use --teacher hf)")
    if args.serve:
        serve: dict[str, Any] = {"model": args.serve}
        if args.max_new_tokens:
            serve["max_new_tokens"] = args.max_new_tokens
        openai["serve"] = serve
    return {"kind": "openai", **openai}


def run(args: argparse.Namespace) -> int:
    """Distill traces into --out and print the statistics.

    Usage: judgerl distill --data train.jsonl --serve runs/quickstart/sft/checkpoint --out runs/distill
    """
    from pydantic import ValidationError

    from judgerl.cli.eval import eval_data
    from judgerl.core.stage import StageContext
    from judgerl.distill.config import DistillStage
    from judgerl.distill.stage import run_distill
    from judgerl.serving.process import JudgeServerProcess

    resolve_model_flag(args, name_dest=None)  # model_name is the OpenAI teacher's
    resolve_model_flag(args, "--serve", "serve", name_dest=None)
    try:
        stage = DistillStage(
            **config_values(args, STAGE_FIELDS),
            data=eval_data(args.data),
            teacher=teacher_config(args),
            **judge_keys(args),
        )
    except ValidationError as e:
        raise JudgeRLError(f"judgerl distill: {format_validation_error(e)}") from e
    if stage.teacher.kind in ("hf", "vllm"):  # a missing teacher folder: one line, before the data is read
        from judgerl.cli.eval_data import judge_tokenizer

        judge_tokenizer(stage.teacher.model, require_template=False)  # type: ignore[union-attr]
    out = Path(args.out)
    ctx = StageContext(name="distill", out_dir=out, seed=args.seed, resume=not args.fresh)
    result = run_distill(stage, ctx, server_factory=JudgeServerProcess)  # the stage prints its statistics
    print(f"traces: {result.outputs['traces']}; answers, judgements and stats under {out}/")
    return 0

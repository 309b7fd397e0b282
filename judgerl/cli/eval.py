"""`judgerl eval [pairwise|rewardbench]`: evaluate a judge checkpoint and print the table.

    judgerl eval --model runs/quickstart/sft/checkpoint --data runs/quickstart/data/test.jsonl
    judgerl eval rewardbench --model runs/quickstart/sft/checkpoint --data llmbar:../shared/data/llmbar

The flags mirror the `eval` stage (EvalStage, its `decoding` DecodingSpec) and, for rewardbench,
the `rewardbench` stage (RewardBenchStage): they are derived from those configs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from judgerl.cli.common import add_prompt_flags, prompt_spec
from judgerl.cli.config_flags import add_config_flags, config_values
from judgerl.core.config import format_validation_error
from judgerl.core.errors import JudgeRLError

NAME = "eval"
HELP = "evaluate a judge checkpoint: pairwise (both orders) or rewardbench (v1/v2, leaderboard scoring)"
SHARED = ("model", "max_new_tokens", "batch_size", "max_samples", "backend", "temperature", "dtype")
DECODING = ("draft", "window", "classifier", "threshold")
REWARDBENCH_HELP = {
    "version": "RewardBench version (default 1)",
    "protocol": "v1: official (each example once, seeded A/B order, unreadable = 0.5) or both-orders (Think-J)",
    "v2_mode": "v2 judging mode",
    "order_seed": "seed of the A/B order and v2 slots (default: --seed)",
    "split": "dataset split (default: filtered for v1, test for v2)",
    "subsets": "comma-separated subset names to keep",
    "tensor_parallel_size": "vLLM tensor parallel size",
    "model_name": "model name written to leaderboard.json (default: --model)",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of `judgerl eval`. Usage: add_arguments(sub.add_parser("eval"))"""
    from judgerl.eval.rewardbench.stage import RewardBenchStage
    from judgerl.eval.stage import EvalStage
    from judgerl.models.decoding_config import DecodingSpec

    parser.usage = "judgerl eval [pairwise|rewardbench] --model MODEL [--data DATA] [options]"
    parser.description = (
        "Evaluate a judge checkpoint. pairwise (the default): judge samples in both answer orders. "
        "rewardbench: RewardBench v1 (official or both-orders protocol) or v2, scored as the leaderboard."
    )
    parser.add_argument(
        "benchmark",
        nargs="?",
        default="pairwise",
        choices=["pairwise", "rewardbench"],
        help="pairwise: judge samples in both orders (default); rewardbench: RewardBench v1 or v2",
    )
    add_config_flags(parser, EvalStage, ["model"], help={"model": "checkpoint folder or hub id"})
    parser.add_argument(
        "--data",
        help="pairwise (required): judge-sample JSONL, llmbar:DIR, gsm8k:FILE, local:FILE, synthetic[:N_TEST]; "
        "rewardbench: a RewardBench-column .jsonl/.json/.parquet file, a hub id, or llmbar:DIR "
        "(default: allenai/reward-bench or allenai/reward-bench-2)",
    )
    parser.add_argument("--out", help="output folder (default: runs/eval, rewardbench: runs/rewardbench)")
    add_prompt_flags(parser)
    backend_help = (
        "generation backend (default hf); speculative and judge (AutoJudge) need --draft, judge also "
        "--classifier; they decode greedily, one prompt at a time (pairwise only)"
    )
    add_config_flags(
        parser,
        EvalStage,
        ["max_new_tokens", "batch_size", "max_samples", "backend"],
        defaults=True,
        help={"backend": backend_help},
    )
    add_config_flags(
        parser,
        DecodingSpec,
        DECODING,
        defaults=True,
        required=(),
        help={
            "draft": "speculative/judge: draft checkpoint sharing the model's tokenizer",
            "window": "speculative/judge: draft tokens per cycle",
            "classifier": "judge: folder of a fitted AutoJudge classifier",
            "threshold": "judge: accept threshold (default: the classifier's)",
        },
    )
    add_config_flags(
        parser,
        EvalStage,
        ["both_orders"],
        defaults=True,
        negated={"both_orders": "--one-order"},
        help={"both_orders": "judge only the given order"},
    )
    parser.add_argument("--seed", type=int, default=0)
    add_config_flags(parser, EvalStage, ["temperature", "dtype"], defaults=True)
    group = parser.add_argument_group("rewardbench options")
    add_config_flags(group, RewardBenchStage, rewardbench_fields(), defaults=True, help=REWARDBENCH_HELP)


def rewardbench_fields() -> list[str]:
    """The RewardBenchStage keys of the "rewardbench options" flags: those with help first, then the rest.

    Usage: add_config_flags(group, RewardBenchStage, rewardbench_fields())
    """
    from judgerl.eval.rewardbench.stage import RewardBenchStage

    rest = [f for f in RewardBenchStage.model_fields if f not in REWARDBENCH_HELP]
    return [*REWARDBENCH_HELP, *(f for f in rest if f not in {"kind", "data", "prompt", *SHARED})]


def eval_data(spec: str) -> str | dict[str, Any]:
    """The stage's `data` for a --data spec: synthetic[:N_TEST], llmbar:DIR, gsm8k:FILE, local:FILE or a path.

    Usage: EvalStage(model=m, data=eval_data(args.data))

    >>> eval_data("llmbar:data/llmbar"), eval_data("test.jsonl")
    ({'kind': 'llmbar', 'dir_path': 'data/llmbar'}, 'test.jsonl')
    """
    kind, _, rest = spec.partition(":")
    if kind == "synthetic":
        return {"kind": "synthetic", "split": "test", "n_train": 1, "n_test": int(rest or 200)}
    if kind == "llmbar" and rest:
        return {"kind": "llmbar", "dir_path": rest}
    if kind in ("gsm8k", "local") and rest:
        return {"kind": kind, "path": rest}
    return spec


def decoding(args: argparse.Namespace) -> dict[str, Any] | None:
    """The eval stage's `decoding` mapping from --draft/--window/--classifier/--threshold.

    Usage: EvalStage(..., backend="speculative", decoding=decoding(args))
    """
    if args.draft is None:
        if args.classifier is not None or args.threshold is not None:
            raise JudgeRLError("judgerl eval: --classifier and --threshold need --draft and --backend judge")
        return None
    return config_values(args, DECODING)


def run(args: argparse.Namespace) -> int:
    """Evaluate a judge checkpoint (pairwise in both answer orders, or RewardBench) and print the table.

    Usage: judgerl eval --model runs/quickstart/sft/checkpoint --data runs/quickstart/data/test.jsonl
    """
    from pydantic import ValidationError

    from judgerl.core.stage import StageContext
    from judgerl.eval.stage import EvalStage, run_eval

    if args.benchmark == "rewardbench":
        if args.backend in ("speculative", "judge") or args.draft:
            raise JudgeRLError(
                "judgerl eval rewardbench: --backend hf or vllm (draft decoding is pairwise only)"
            )
        return rewardbench(args)
    if args.data is None:
        raise JudgeRLError("judgerl eval pairwise: --data is required (e.g. --data llmbar:DIR)")
    try:
        stage = EvalStage(
            **config_values(args, (*SHARED, "both_orders")),
            data=eval_data(args.data),
            prompt=prompt_spec(args),
            decoding=decoding(args),
        )
    except ValidationError as e:
        raise JudgeRLError(f"judgerl eval: {format_validation_error(e)}") from e
    out = Path(args.out or "runs/eval")
    result = run_eval(stage, StageContext(name="eval", out_dir=out, seed=args.seed))
    print(Path(result.outputs["table"]).read_text())
    print(f"predictions and metrics under {out}/")
    return 0


def rewardbench(args: argparse.Namespace) -> int:
    """`judgerl eval rewardbench`: RewardBench v1/v2 with leaderboard scoring; prints the table.

    Usage: judgerl eval rewardbench --model CKPT --version 2 --v2-mode ratings
    """
    from pydantic import ValidationError

    from judgerl.core.stage import StageContext
    from judgerl.eval.rewardbench.stage import RewardBenchStage, run_rewardbench

    try:
        stage = RewardBenchStage(
            **config_values(args, (*SHARED, *rewardbench_fields())),
            data=None if args.data is None else eval_data(args.data),
            prompt=prompt_spec(args),
        )
    except ValidationError as e:
        raise JudgeRLError(f"judgerl eval rewardbench: {format_validation_error(e)}") from e
    out = Path(args.out or "runs/rewardbench")
    result = run_rewardbench(stage, StageContext(name="rewardbench", out_dir=out, seed=args.seed))
    print(Path(result.outputs["table"]).read_text())
    print(f"predictions, metrics, leaderboard.json and plots under {out}/")
    return 0

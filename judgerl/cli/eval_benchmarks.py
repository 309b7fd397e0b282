"""`judgerl eval judgebench` and `judgerl eval rmbench`: a judge checkpoint on JudgeBench or RM-Bench.

    judgerl eval judgebench --model runs/x/sft/checkpoint --data judgebench/gpt.jsonl
    judgerl eval rmbench --model runs/x/sft/checkpoint --data rm-bench/total_dataset.json --one-order

Each `add_*_arguments(parser)` gives a parser of its own every flag of its command; the flags are
derived from the stage's typed config (JudgeBenchStage, RMBenchStage), so a new stage key is a
new flag. `run_*(args)` validates them into the stage config, runs it and prints the table.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from judgerl.cli.common import (
    CHAT_TEMPLATE_FLAG_HELP,
    MODEL_FLAG_HELP,
    add_endpoint_flags,
    add_prompt_flags,
    endpoint_config,
    judge_keys,
    resolve_model_flag,
)
from judgerl.cli.config_flags import add_config_flags, config_values
from judgerl.core.config import format_validation_error
from judgerl.core.errors import JudgeRLError

HELP = {
    "model": f"{MODEL_FLAG_HELP}; backend openai: the served model's name (default: its only model)",
    "model_name": "model name written to metrics.json (default: --model)",
    "both_orders": "judge each pair once (JudgeBench: the file's order; RM-Bench: a seeded coin per pair)",
    "backend": "generation backend: hf (default), vllm, or openai (a served model: --base-url)",
    "tensor_parallel_size": "vLLM tensor parallel size",
    "chat_template": CHAT_TEMPLATE_FLAG_HELP,
}
_BY_HAND = {"kind", "prompt", "judge_spec", "endpoint"}


def _add_arguments(parser: argparse.ArgumentParser, config: type[Any], name: str, data_help: str) -> None:
    parser.description = parser.description or f"Evaluate a judge checkpoint on {name}."
    add_config_flags(parser, config, ["model", "data"], help={**HELP, "data": data_help})
    parser.add_argument("--out", help=f"output folder (default: runs/{name.lower().replace('-', '')})")
    add_prompt_flags(parser)
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (and the default order seed)")
    rest = [f for f in config.model_fields if f not in {*_BY_HAND, "model", "data"}]
    add_config_flags(parser, config, rest, defaults=True, help=HELP, negated={"both_orders": "--one-order"})
    add_endpoint_flags(parser)


def _run(args: argparse.Namespace, config: type[Any], run_fn: Any, command: str, out: str) -> int:
    from pydantic import ValidationError

    from judgerl.cli.eval_data import judge_tokenizer
    from judgerl.core.stage import StageContext

    resolve_model_flag(args)
    fields = [f for f in config.model_fields if f not in _BY_HAND]
    try:
        stage = config(**config_values(args, fields), **judge_keys(args), endpoint=endpoint_config(args))
    except ValidationError as e:
        raise JudgeRLError(f"judgerl eval {command}: {format_validation_error(e)}") from e
    if stage.backend != "openai":  # a missing chat template stops before the model loads
        judge_tokenizer(stage.model, stage.chat_template)
    folder = Path(args.out or out)
    run_fn(stage, StageContext(name=command, out_dir=folder, seed=args.seed))  # the stage prints the table
    print(f"table.md, predictions and metrics under {folder}/")
    return 0


def add_judgebench_arguments(parser: argparse.ArgumentParser) -> None:
    """Every flag of `judgerl eval judgebench`.

    Usage: add_judgebench_arguments(sub.add_parser("judgebench"))
    """
    from judgerl.eval.judgebench.stage import JudgeBenchStage

    _add_arguments(parser, JudgeBenchStage, "JudgeBench", "JudgeBench .jsonl/.json/.parquet file (required)")


def run_judgebench(args: argparse.Namespace) -> int:
    """`judgerl eval judgebench`: score a judge as JudgeBench's script does; prints the table.

    Usage: judgerl eval judgebench --model CKPT --data judgebench.jsonl
    """
    from judgerl.eval.judgebench.stage import JudgeBenchStage, run_judgebench

    return _run(args, JudgeBenchStage, run_judgebench, "judgebench", "runs/judgebench")


def add_rmbench_arguments(parser: argparse.ArgumentParser) -> None:
    """Every flag of `judgerl eval rmbench`. Usage: add_rmbench_arguments(sub.add_parser("rmbench"))"""
    from judgerl.eval.rmbench.stage import RMBenchStage

    _add_arguments(parser, RMBenchStage, "RM-Bench", "RM-Bench .jsonl/.json/.parquet file (required)")


def run_rmbench(args: argparse.Namespace) -> int:
    """`judgerl eval rmbench`: easy / normal / hard accuracy per domain; prints the table.

    Usage: judgerl eval rmbench --model CKPT --data total_dataset.json
    """
    from judgerl.eval.rmbench.stage import RMBenchStage, run_rmbench

    return _run(args, RMBenchStage, run_rmbench, "rmbench", "runs/rmbench")

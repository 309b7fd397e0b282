"""`judgerl eval [BENCHMARK]`: evaluate a judge checkpoint and print the table.

    judgerl eval --model runs/quickstart/sft/checkpoint --data runs/quickstart/data/test.jsonl
    judgerl eval rewardbench --model runs/quickstart/sft/checkpoint --data llmbar:../shared/data/llmbar
    judgerl eval --backend openai --base-url http://127.0.0.1:8000/v1 --data llmbar:../shared/data/llmbar

Each benchmark is a subcommand with its own flags (`judgerl eval rewardbench --help` shows
rewardbench's); without one, `pairwise` runs, whose flags the `eval` command itself takes. The
flags mirror the `eval` stage (EvalStage, its `decoding` DecodingSpec) and, for rewardbench, the
`rewardbench` stage (RewardBenchStage): they are derived from those configs. A benchmark is one
entry of BENCHMARKS: its help line and its `add_arguments` / `run` functions named as
"module:function", imported only when that benchmark is used.
"""

from __future__ import annotations

import argparse
import importlib.util
import traceback
from collections.abc import Callable
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
from judgerl.core.jsonl import write_text_atomic
from judgerl.core.registry import resolve_dotted

NAME = "eval"
HELP = "evaluate a judge checkpoint: pairwise (both orders), rewardbench (v1/v2, leaderboard scoring), ..."
SHARED = ("model", "max_new_tokens", "batch_size", "max_samples", "backend", "temperature", "dtype")
SUBSAMPLE_HELP = (
    "which --max-samples rows: random (default, seeded by --seed), stratified (each subset its share) "
    "or first (file order)"
)
DECODING = ("draft", "window", "classifier", "threshold")
# EvalStage keys with a flag, where the stage has them
PAIRWISE_EXTRA = ("scoring", "chat_template", "model_name", "chunk_size", "subsample")
MODEL_HELP = f"{MODEL_FLAG_HELP}; backend openai: the served model's name (default: its only model)"
SCORING_HELP = (
    "generate (default), logprob (the most probable verdict sentence) or classifier (a sequence-"
    "classification reward model scores each response; the higher wins)"
)
REWARDBENCH_HELP = {
    "version": "RewardBench version (default 1)",
    "protocol": "v1: official (each example once, seeded A/B order, unreadable = 0.5) or both-orders (Think-J)",
    "v2_mode": "v2 judging mode",
    "order_seed": "seed of the A/B order and v2 slots (default: --seed)",
    "split": "dataset split (default: filtered for v1, test for v2)",
    "subsets": "comma-separated subset names to keep",
    "tensor_parallel_size": "vLLM tensor parallel size",
    "model_name": "model name written to leaderboard.json (default: --model)",
    "subsample": SUBSAMPLE_HELP,
    "scoring": SCORING_HELP,
}
# benchmark -> (help, add_arguments, run); the functions are "module:function", resolved on use
BENCHMARKS: dict[str, tuple[str, str, str]] = {
    "pairwise": (
        "judge samples in both answer orders (the default)",
        "judgerl.cli.eval:add_pairwise_arguments",
        "judgerl.cli.eval:run_pairwise",
    ),
    "rewardbench": (
        "RewardBench v1 (official or both-orders protocol) or v2, scored as the leaderboard",
        "judgerl.cli.eval:add_rewardbench_arguments",
        "judgerl.cli.eval:run_rewardbench",
    ),
}
if importlib.util.find_spec("judgerl.cli.eval_benchmarks") is not None:  # H5b's benchmarks, once present
    BENCHMARKS.update(
        judgebench=(
            "JudgeBench pairs, scored per category as the official script",
            "judgerl.cli.eval_benchmarks:add_judgebench_arguments",
            "judgerl.cli.eval_benchmarks:run_judgebench",
        ),
        rmbench=(
            "RM-Bench: easy / normal / hard accuracy over response styles",
            "judgerl.cli.eval_benchmarks:add_rmbench_arguments",
            "judgerl.cli.eval_benchmarks:run_rmbench",
        ),
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of `judgerl eval`: the pairwise flags, and one subcommand per benchmark.

    Usage: add_arguments(sub.add_parser("eval"))
    """
    names = "|".join(BENCHMARKS)
    parser.usage = f"judgerl eval [{names}] --model MODEL [--data DATA] [options]"
    parser.description = (
        "Evaluate a judge checkpoint. Without a benchmark: pairwise, judging samples in both answer "
        f"orders (the flags below). `judgerl eval BENCHMARK --help` shows a benchmark's flags ({names})."
    )
    _add_pairwise_flags(parser)
    sub = parser.add_subparsers(dest="benchmark", metavar="BENCHMARK", title="benchmarks")
    for name, (text, add, _) in BENCHMARKS.items():
        sub.add_parser(name, prog=f"judgerl eval {name}", help=text, description=text, build=_builder(add))  # type: ignore[call-arg]


def _builder(target: str) -> Callable[[argparse.ArgumentParser], None]:
    def build(parser: argparse.ArgumentParser) -> None:
        resolve_dotted(target)(parser)  # type: ignore[operator]

    return build


def _add_common(parser: argparse.ArgumentParser, data_help: str, out_default: str) -> None:
    from judgerl.eval.stage import EvalStage

    add_config_flags(parser, EvalStage, ["model"], help={"model": MODEL_HELP})
    parser.add_argument("--data", help=data_help)
    parser.add_argument("--out", help=f"output folder (default: {out_default})")
    add_prompt_flags(parser)


def _add_pairwise_flags(parser: argparse.ArgumentParser) -> None:
    from judgerl.data_prep.sources.formats import format_names
    from judgerl.eval.stage import EvalStage
    from judgerl.models.decoding_config import DecodingSpec

    add_config_flags(parser, EvalStage, ["model"], help={"model": MODEL_HELP})
    parser.add_argument(
        "--data",
        help="a file or folder (.jsonl/.json/.parquet/.csv) in a known format, detected from its columns; "
        "llmbar:PATH, gsm8k:FILE, judgebench:FILE, rmbench:FILE, local:PATH, synthetic[:N_TEST]",
    )
    parser.add_argument(
        "--format",
        choices=["auto", *format_names()],
        help="read --data in this format instead of detecting it",
    )
    parser.add_argument(
        "--on-bad-row",
        choices=["skip", "stop"],
        default="stop",
        help="a malformed row, a repeated id or a prompt longer than the model's context: stop (default) "
        "or skip it and report it",
    )
    parser.add_argument("--out", help="output folder (default: runs/eval)")
    add_prompt_flags(parser)
    backend_help = (
        "generation backend (default hf); speculative and judge (AutoJudge) need --draft, judge also "
        "--classifier; they decode greedily, one prompt at a time; openai needs --base-url"
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
    add_config_flags(
        parser,
        EvalStage,
        [f for f in PAIRWISE_EXTRA if f in EvalStage.model_fields],
        defaults=True,
        help={
            "model_name": "model name written to metrics.json (default: --model)",
            "chat_template": CHAT_TEMPLATE_FLAG_HELP,
            "subsample": SUBSAMPLE_HELP,
            "scoring": SCORING_HELP,
        },
    )
    add_endpoint_flags(parser)


def add_pairwise_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `judgerl eval pairwise` (the same as `judgerl eval`'s own). Usage: add_pairwise_arguments(p)"""
    _add_pairwise_flags(parser)


def add_rewardbench_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `judgerl eval rewardbench`. Usage: add_rewardbench_arguments(p)"""
    from judgerl.eval.rewardbench.stage import RewardBenchStage
    from judgerl.eval.stage import EvalStage

    _add_common(
        parser,
        "a RewardBench-column .jsonl/.json/.parquet file, a hub id, or llmbar:PATH "
        "(default: allenai/reward-bench or allenai/reward-bench-2)",
        "runs/rewardbench",
    )
    add_config_flags(parser, EvalStage, ["max_new_tokens", "batch_size", "max_samples"], defaults=True)
    add_config_flags(
        parser, EvalStage, ["backend"], defaults=True, choices={"backend": ["hf", "vllm", "openai"]}
    )
    parser.add_argument("--seed", type=int, default=0)
    add_config_flags(parser, EvalStage, ["temperature", "dtype"], defaults=True)
    group = parser.add_argument_group("rewardbench options")
    help = {**REWARDBENCH_HELP, "chat_template": CHAT_TEMPLATE_FLAG_HELP}
    add_config_flags(group, RewardBenchStage, rewardbench_fields(), defaults=True, help=help)
    add_endpoint_flags(parser)


def rewardbench_fields() -> list[str]:
    """The RewardBenchStage keys of the "rewardbench options" flags: those with help first, then the rest.

    Usage: add_config_flags(group, RewardBenchStage, rewardbench_fields())
    """
    from judgerl.eval.rewardbench.stage import RewardBenchStage

    rest = [f for f in RewardBenchStage.model_fields if f not in REWARDBENCH_HELP]
    by_hand = {"kind", "data", "prompt", "judge_spec", "endpoint", *SHARED}
    return [*REWARDBENCH_HELP, *(f for f in rest if f not in by_hand)]


def eval_data(spec: str, format: str | None = None, on_bad_row: str | None = None) -> str | dict[str, Any]:
    """The stage's `data` for a --data spec (see cli.eval_data.eval_source). Usage: eval_data("llmbar:d")."""
    from judgerl.cli.eval_data import eval_source

    return eval_source(spec, format, on_bad_row)


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
    """Run the chosen benchmark (pairwise without one). Usage: judgerl eval --model CKPT --data test.jsonl"""
    name = getattr(args, "benchmark", None) or "pairwise"
    return int(resolve_dotted(BENCHMARKS[name][2])(args) or 0)  # type: ignore[operator]


def guarded(out: Path, what: str, fn: Callable[[], Any]) -> Any:
    """Run `fn`; an unexpected error becomes one line, its traceback written to OUT/error.log (as `judgerl run`).

    Usage: result = guarded(out, "judgerl eval", lambda: run_eval(stage, ctx))
    """
    try:
        return fn()
    except JudgeRLError:
        raise
    except Exception as err:
        log = out / "error.log"
        write_text_atomic(log, traceback.format_exc())
        text = " ".join(str(err).split())  # one line: a library's message may span several
        text = text if len(text) <= 400 else text[:397] + "..."
        raise JudgeRLError(f"{what}: {type(err).__name__}: {text} (traceback in {log})") from None


def pairwise_stage(args: argparse.Namespace) -> Any:
    """The EvalStage the pairwise flags describe (its `data` a source mapping). Usage: pairwise_stage(args)"""
    from pydantic import ValidationError

    from judgerl.eval.stage import EvalStage

    if args.model is None and args.backend != "openai":
        raise JudgeRLError(
            "judgerl eval: --model is required (a checkpoint folder or hub id; for a model behind an "
            "OpenAI-compatible server: --backend openai --base-url URL)"
        )
    resolve_model_flag(args)
    if args.data is None:
        raise JudgeRLError("judgerl eval pairwise: --data is required (e.g. --data llmbar:DIR)")
    try:
        return EvalStage(
            **config_values(args, (*SHARED, "both_orders", *PAIRWISE_EXTRA)),
            data=eval_data(args.data, args.format, args.on_bad_row),
            **judge_keys(args),
            decoding=decoding(args),
            endpoint=endpoint_config(args),
        )
    except ValidationError as e:
        raise JudgeRLError(f"judgerl eval: {format_validation_error(e)}") from e


def run_pairwise(args: argparse.Namespace) -> int:
    """Judge samples in both answer orders and print the table.

    Usage: judgerl eval --model runs/quickstart/sft/checkpoint --data runs/quickstart/data/test.jsonl
    """
    from judgerl.cli.eval_data import check_lengths, load_eval_samples, write_inputs
    from judgerl.core.stage import StageContext
    from judgerl.eval.stage import run_eval
    from judgerl.judge_spec.files import resolve_spec

    stage = pairwise_stage(args)
    out = Path(args.out or "runs/eval")
    samples, report = load_eval_samples(stage.data, stage.max_samples, stage.subsample, args.seed)  # type: ignore[arg-type]
    template = getattr(stage, "chat_template", None)
    update: dict[str, Any] = {}
    if stage.scoring != "classifier":  # a classifier has no judge prompt; it truncates to its context
        # the judge spec: the flags' or the one saved with the model (an endpoint's: the flags' or the default)
        spec = resolve_spec(
            stage.judge_spec, stage.prompt, stage.model if stage.endpoint is None else None, "judgerl eval"
        )
        # an endpoint's prompts are counted with its tokenizer when one is named; else the server judges them
        counted = stage.endpoint.tokenizer if stage.endpoint is not None else stage.model
        if counted is not None:
            served = (
                stage.endpoint is not None
            )  # the server renders the chat: its tokenizer needs no template
            samples = check_lengths(
                samples, counted, spec, stage.max_new_tokens, args.on_bad_row, report, template, not served
            )
        update = {"judge_spec": spec, "prompt": None}
    inputs = str(write_inputs(out, samples, report))
    # the draw is made (and recorded in data.json) once, here: the stage judges every input
    judged = stage.model_copy(update={"data": inputs, "max_samples": None, **update})
    ctx = StageContext(name="eval", out_dir=out, seed=args.seed)
    result = guarded(out, "judgerl eval", lambda: run_eval(judged, ctx))  # the stage prints the table
    if result.metrics.get("ece") is not None:  # scoring: logprob
        print(
            f"calibration: ECE {result.metrics['ece']:.3f} of the verdict confidence "
            f"(reliability diagram: {out / 'reliability.png'})"
        )
    print(f"table.md, predictions and metrics under {out}/")
    return 0


def run_rewardbench(args: argparse.Namespace) -> int:
    """`judgerl eval rewardbench`: RewardBench v1/v2 with leaderboard scoring; prints the table.

    Usage: judgerl eval rewardbench --model CKPT --version 2 --v2-mode ratings
    """
    from pydantic import ValidationError

    from judgerl.cli.eval_data import judge_tokenizer
    from judgerl.core.stage import StageContext
    from judgerl.eval.rewardbench.stage import RewardBenchStage
    from judgerl.eval.rewardbench.stage import run_rewardbench as run_stage

    resolve_model_flag(args)
    data: Any = None
    if args.data is not None:
        kind, sep, rest = args.data.partition(":")
        data = {"kind": "llmbar", "path": rest} if kind == "llmbar" and sep and rest else args.data
    try:
        stage = RewardBenchStage(
            **config_values(args, (*SHARED, *rewardbench_fields())),
            data=data,
            **judge_keys(args),
            endpoint=endpoint_config(args),
        )
    except ValidationError as e:
        raise JudgeRLError(f"judgerl eval rewardbench: {format_validation_error(e)}") from e
    if stage.backend != "openai":  # a missing chat template stops before the model loads
        judge_tokenizer(stage.model, stage.chat_template)
    out = Path(args.out or "runs/rewardbench")
    ctx = StageContext(name="rewardbench", out_dir=out, seed=args.seed)
    guarded(out, "judgerl eval rewardbench", lambda: run_stage(stage, ctx))  # the stage prints the table
    print(f"table.md, predictions, metrics, leaderboard.json and plots under {out}/")
    return 0

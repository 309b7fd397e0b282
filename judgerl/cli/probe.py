"""`judgerl probe train|score|filter|label|convert`: INSPECTOR probes on hidden states.

    judgerl probe train --data gsm8k:FILE --model ENCODER --out runs/probe
    judgerl probe filter --probes runs/probe --data sft.jsonl --out sft_top.jsonl --top 0.5
    judgerl probe convert --inspector gsm8k_binary_clfs --prompts inspector_prompts.json --out runs/inspector

`train` mirrors ProbeTrainConfig and its TrainSpec (`judgerl.probes.operations`, `probes.train`):
its flags are derived from them (and built only when `probe train` is parsed, since those
modules import torch). The work itself is in `judgerl.probes.operations`.
"""

from __future__ import annotations

import argparse
from typing import Any

from judgerl.cli.common import csv
from judgerl.cli.config_flags import add_config_flags, config_values
from judgerl.core.config import format_validation_error
from judgerl.core.errors import JudgeRLError

NAME = "probe"
HELP = "INSPECTOR probes on hidden states: train, score, filter, label, convert"
DESCRIPTION = """INSPECTOR probes: linear classifiers on a model's hidden states (docs/probes.md).

layer numbers: judgerl numbers layers as transformers' hidden_states is indexed: 0 is the
embedding output, l the output of block l, -1 the last block. INSPECTOR numbers the blocks from
0 (its layer l is hidden_states[l + 1]): give `probe train --layer-numbering inspector` to use
its numbers; probe files always store hidden_states numbers (a converted INSPECTOR classifier
keeps its own under inspector_layers).

max length: texts are cut at the model's context unless --max-length says less; every run
reports how many texts were cut (a warning, report.json, the filter stage's metrics).

data: JSON lines, or a JSON list of objects (INSPECTOR's results.json layout); an output path
ending in .json is written as a JSON list."""
TRAIN_HELP = {
    "data": "labels JSONL (aspect scores or a column), or gsm8k:FILE",
    "model": "any HF model folder or hub id (causal LM or encoder)",
    "out": "folder for <aspect>.safetensors, report.json, report.md",
    "aspects": "comma-separated ROSCOE aspects (default: all five)",
    "column": "a label column instead of aspect scores, e.g. is_correct",
    "template": "default: aspect for scores, plain for a column",
    "Cs": "comma-separated C grid (default 1e-3,1e-2,1e-1,1)",
    "balance": "keep every row (default: downsample to the smallest class)",
    "group_key": "split group column (default: the question text)",
    "max_length": "cut texts at this many tokens (default: the model's context); cuts are reported",
    "layer_numbering": "hidden_states (0 = embeddings; default) or inspector (its l = hidden_states[l+1])",
    "balance_on": "target: balance the classes learned (default); score: INSPECTOR's, the 1-5 levels "
    "before the threshold (40%% positive at 4)",
    "split": "question: all answers to a question on one side (default); row: INSPECTOR's row split",
    "on_failed_score": 'a failed label {"score": null}: skip it, counted (default), or stop',
}
# ProbeTrainConfig keys set by the flags every action shares, or by hand (threshold, layers, train)
TRAIN_BY_HAND = ("threshold", "layers", "batch_size", "device", "cache_dir", "question_key", "prediction_key")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of `judgerl probe`. Usage: add_arguments(sub.add_parser("probe"))"""
    parser.description = DESCRIPTION
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    acts = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    acts.add_parser(
        "train", help="fit one probe per aspect (or a label column), sweeping layers", build=_train_arguments
    )
    acts.add_parser(
        "score",
        help="score rows with the probes: <aspect>, <aspect>_score, total_score",
        build=_score_arguments,
    )
    acts.add_parser(
        "filter",
        help="keep the top fraction (or those >= a threshold) of samples, SFT traces or pairs",
        build=_filter_arguments,
    )
    acts.add_parser(
        "label", help="score rows 1-5 per aspect with a strong LLM judge (resumable)", build=_label_arguments
    )
    acts.add_parser(
        "convert",
        help="convert INSPECTOR's released classifier pickles into probe files, without running them",
        build=_convert_arguments,
    )


def _train_arguments(tr: argparse.ArgumentParser) -> None:
    from judgerl.probes.features import POOLINGS
    from judgerl.probes.operations import ProbeTrainConfig
    from judgerl.probes.train import TrainSpec

    added = add_config_flags(
        tr, ProbeTrainConfig, ["data", "model", "out", "aspects", "column"], help=TRAIN_HELP
    )
    tr.add_argument(
        "--threshold", help="binary label = score >= this (default 4 for aspects; 'none' keeps classes)"
    )
    added += add_config_flags(tr, ProbeTrainConfig, ["template"], help=TRAIN_HELP)
    tr.add_argument(
        "--layers",
        default="all",
        help="comma-separated layers, 'all' or 'middle' (default: all), numbered by --layer-numbering",
    )
    added += add_config_flags(
        tr,
        ProbeTrainConfig,
        ["layer_numbering", "layer_mode", "pooling"],
        help=TRAIN_HELP,
        choices={"pooling": POOLINGS},
    )
    add_config_flags(tr, TrainSpec, ["classifier", "Cs"], help=TRAIN_HELP, aliases={"Cs": ["--C"]})
    add_config_flags(tr, TrainSpec, ["folds", "test_size"])
    added += add_config_flags(
        tr,
        ProbeTrainConfig,
        ["max_length", "balance", "balance_on", "split", "group_key", "on_failed_score"],
        help=TRAIN_HELP,
        negated={"balance": "--no-balance"},
    )
    _shared_arguments(tr, device="cpu", model=False)
    add_config_flags(tr, TrainSpec, ["seed", "max_iter"])
    rest = [f for f in train_config_fields() if f not in added]  # id_key, on_bad_row, ...
    add_config_flags(tr, ProbeTrainConfig, rest)


def train_config_fields() -> list[str]:
    """The ProbeTrainConfig keys whose flags are derived by name (those not in TRAIN_BY_HAND).

    Usage: ProbeTrainConfig(**config_values(args, train_config_fields()))
    """
    from judgerl.probes.operations import ProbeTrainConfig

    return [f for f in ProbeTrainConfig.model_fields if f not in (*TRAIN_BY_HAND, "train")]


def _score_arguments(c: argparse.ArgumentParser) -> None:
    _use_arguments(c, keep_rule=False)


def _filter_arguments(c: argparse.ArgumentParser) -> None:
    _use_arguments(c, keep_rule=True)


def _use_arguments(c: argparse.ArgumentParser, keep_rule: bool) -> None:
    c.add_argument("--probes", required=True, help="a probe file or a folder of them")
    c.add_argument(
        "--data",
        required=True,
        help="JSON lines or a JSON list of {question, prediction}, {messages} or {prompt, chosen, rejected}",
    )
    c.add_argument("--out", required=True, help="output file (.json: a JSON list, else JSON lines)")
    c.add_argument("--total", default="score", choices=["score", "label"], help="sum aspect scores or labels")
    if keep_rule:
        rule = c.add_mutually_exclusive_group(required=True)
        rule.add_argument("--top", type=float, help="fraction to keep, e.g. 0.5 (ties go to the earlier row)")
        rule.add_argument("--threshold", type=float, help="keep rows whose total score is >= this")
        c.add_argument(
            "--top-rounding",
            default="half_up",
            choices=["half_up", "floor"],
            help="rows --top keeps: n x top rounded half up (default) or int(n x top) (INSPECTOR's)",
        )
        c.add_argument(
            "--top-order",
            default="input",
            choices=["input", "score"],
            help="order of the kept rows: as read (default) or best first (INSPECTOR's)",
        )
        c.add_argument("--pair-score", default="chosen", choices=["chosen", "margin"])
        c.add_argument("--scores-out", help="also write every row's scores and keep flag here")
    _shared_arguments(c, device="cpu", model=True)


def _label_arguments(lb: argparse.ArgumentParser) -> None:
    lb.add_argument("--data", required=True, help="JSONL of {id, question, prediction}")
    lb.add_argument("--out", required=True, help="output JSONL (rows + scores)")
    lb.add_argument("--aspects", help="comma-separated ROSCOE aspects (default: all five)")
    lb.add_argument("--endpoint", help="OpenAI-compatible base URL, e.g. https://api.deepseek.com/v1")
    lb.add_argument("--api-model", help="model name the endpoint serves")
    lb.add_argument(
        "--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the API key"
    )
    lb.add_argument("--timeout", type=float, default=60.0)
    lb.add_argument("--workers", type=int, default=4, help="parallel requests")
    lb.add_argument("--judge", help="a local judgerl judge checkpoint instead of an endpoint")
    lb.add_argument("--backend", default="hf", choices=["hf", "vllm"])
    lb.add_argument("--max-new-tokens", type=int, default=256)
    lb.add_argument("--id-key", default="id")
    lb.add_argument("--question-key", help="column of the question (default: auto / question)")
    lb.add_argument("--prediction-key", help="column of the response (default: auto / prediction)")
    lb.add_argument("--device", default="auto")


def _convert_arguments(cv: argparse.ArgumentParser) -> None:
    cv.add_argument(
        "--inspector",
        required=True,
        help="an INSPECTOR classifier .pkl, or a folder of them (e.g. gsm8k_binary_clfs)",
    )
    cv.add_argument("--out", required=True, help="folder for <aspect>.safetensors probe files")
    prompt = cv.add_mutually_exclusive_group(required=True)
    prompt.add_argument(
        "--prompts",
        help="JSON {aspect: INSPECTOR's prompt with {question} and {prediction}} (docs/seeds/inspector.md)",
    )
    prompt.add_argument(
        "--judgerl-prompt",
        action="store_true",
        help="read judgerl's aspect prompt instead (not the one the classifiers were fit on)",
    )
    cv.add_argument(
        "--model", help="the model the probes read (default: the files' llm, e.g. Qwen/Qwen3-1.7B)"
    )


def _shared_arguments(c: argparse.ArgumentParser, device: str, model: bool) -> None:
    c.add_argument("--question-key", help="column of the question (default: auto / question)")
    c.add_argument("--prediction-key", help="column of the response (default: auto / prediction)")
    c.add_argument("--device", default=device)
    c.add_argument("--batch-size", type=int, default=16)
    c.add_argument("--cache", help="feature cache folder (train default: OUT/cache)")
    if model:
        c.add_argument("--model", help="use this model instead of the one saved in the probes")


def _use_options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "question_key": args.question_key,
        "prediction_key": args.prediction_key,
        "model": args.model,
        "device": args.device,
        "batch_size": args.batch_size,
        "cache_dir": args.cache,
        "total": args.total,
    }


def train_config_values(args: argparse.Namespace) -> dict[str, Any]:
    """The ProbeTrainConfig keys of parsed `judgerl probe train` flags (unset ones left out).

    Usage: ProbeTrainConfig(**train_config_values(args))
    """
    from judgerl.probes.train import TrainSpec

    by_hand = {
        "threshold": None if args.threshold in (None, "none") else float(args.threshold),
        "layers": [int(x) if x.lstrip("-").isdigit() else x for x in csv(args.layers)],
        "batch_size": args.batch_size,
        "device": args.device,
        "cache_dir": args.cache,
        "question_key": args.question_key,
        "prediction_key": args.prediction_key,
        "train": config_values(args, list(TrainSpec.model_fields)),
    }
    fields = config_values(args, train_config_fields()) | {k: v for k, v in by_hand.items() if v is not None}
    return fields | ({"threshold": None} if args.threshold == "none" else {})


def _cut(t: Any) -> str:
    return f"{t.truncated} of {t.texts} texts cut at max_length"


def run(args: argparse.Namespace) -> int:
    """Run `judgerl probe train|score|filter|label`; bad input becomes a JudgeRLError (exit code 2).

    Usage: judgerl probe score --probes runs/probe --data rows.jsonl --out scored.jsonl
    """
    from pydantic import ValidationError

    from judgerl.probes import operations

    try:
        if args.action == "train":
            reports = operations.train_probes(operations.ProbeTrainConfig(**train_config_values(args)))
            for name, report in reports.items():
                print(f"\n## {name}\n\n{report.table()}")
            print(f"\nprobes, report.json and report.md under {args.out}/")
        elif args.action == "score":
            scored = operations.score_file(args.probes, args.data, args.out, **_use_options(args))
            print(f"scored {len(scored.rows)} rows -> {args.out}; {_cut(scored.truncation)}")
        elif args.action == "filter":
            result = operations.filter_file(
                args.probes,
                args.data,
                args.out,
                top=args.top,
                threshold=args.threshold,
                scores_out=args.scores_out,
                pair_score=args.pair_score,
                top_rounding=args.top_rounding,
                top_order=args.top_order,
                **_use_options(args),
            )
            print(
                f"kept {len(result.kept)} of {len(result.scores)} rows -> {args.out}; {_cut(result.truncation)}"
            )
        elif args.action == "convert":
            from judgerl.probes.inspector import convert_folder, read_prompts

            prompts = None if args.judgerl_prompt else read_prompts(args.prompts)
            written = convert_folder(args.inspector, args.out, prompts, model=args.model)
            for aspect, path in written.items():
                print(f"{aspect}: {path}")
        else:
            report = operations.label_file(
                args.data,
                args.out,
                aspects=csv(args.aspects) if args.aspects else None,
                endpoint=args.endpoint,
                api_model=args.api_model,
                judge=args.judge,
                backend=args.backend,
                api_key_env=args.api_key_env,
                timeout=args.timeout,
                workers=args.workers,
                max_new_tokens=args.max_new_tokens,
                device=args.device,
                question_key=args.question_key or "question",
                prediction_key=args.prediction_key or "prediction",
                id_key=args.id_key,
            )
            print(report.summary() + f" -> {args.out}")
    except ValidationError as e:
        raise JudgeRLError(f"probe {args.action}: {format_validation_error(e)}") from None
    except (ValueError, FileNotFoundError) as e:
        raise JudgeRLError(f"probe {args.action}: {e}") from None
    return 0

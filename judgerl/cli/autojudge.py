"""`judgerl autojudge mine|fit|compare`: AutoJudge without writing a recipe.

    judgerl autojudge mine --draft D --target T --data train.jsonl --out runs/aj
    judgerl autojudge fit --target T --mining runs/aj/mining.jsonl --out runs/aj/classifier
    judgerl autojudge fit --target T --mining output/important_tokens.pt --out runs/aj/classifier
    judgerl autojudge compare --draft D --target T --classifier runs/aj/classifier --data test.jsonl

`mine` appends to <out>/mining.jsonl (a rerun resumes) and writes <out>/mining_summary.json; `fit`
reads that file or AutoJudge's own important-token file (`torch.save`, detected; read weights-only)
and writes the classifier folder that `backend: judge` (decoding.classifier) reads; `compare` (alias
`bench`) decodes held-out prompts with target-only greedy, lossless speculative, judge decoding
(the saved threshold and any --thresholds) and the draft alone, prints the table and, with --out,
writes results.json and table.md there.

Model libraries are imported only when a command runs, so `judgerl --help` stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from judgerl.cli.common import add_prompt_flags
from judgerl.core.config import format_validation_error
from judgerl.core.errors import JudgeRLError

NAME = "autojudge"
HELP = "AutoJudge: mine important tokens, fit the classifier, compare decoders"
EPILOG = """examples (the quickstart judge as target, a smaller draft trained on its tokenizer):
  judgerl autojudge mine --draft runs/aj/draft_sft/checkpoint --target runs/quickstart/sft/checkpoint \\
      --data runs/quickstart/data/train.jsonl --instruction compact --n 400 --out runs/aj
  judgerl autojudge fit --target runs/quickstart/sft/checkpoint --mining runs/aj/mining.jsonl \\
      --out runs/aj/classifier --target-recall 0.9
  judgerl autojudge compare --draft runs/aj/draft_sft/checkpoint --target runs/quickstart/sft/checkpoint \\
      --classifier runs/aj/classifier --data runs/quickstart/data/test.jsonl --instruction compact \\
      --window 8 --thresholds 0.01 0.05 --out runs/aj/compare
"""


def _threads(args: argparse.Namespace) -> None:
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)


def _load_pair(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    from judgerl.models.loading import load_model_and_tokenizer

    target, tok = load_model_and_tokenizer(args.target, dtype=args.dtype, device=args.device)
    draft, dtok = load_model_and_tokenizer(args.draft, dtype=args.dtype, device=args.device)
    if dtok.get_vocab() != tok.get_vocab():
        raise JudgeRLError(f"draft {args.draft} and target {args.target} do not share a tokenizer")
    return target, draft, tok


def _prompt(args: argparse.Namespace) -> Any:
    """The judge spec the target is prompted and read in: the flags', else the target's saved one."""
    from judgerl.cli.common import judge_keys
    from judgerl.judge_spec.files import resolve_spec

    keys = judge_keys(args)
    return resolve_spec(keys["judge_spec"], keys["prompt"], args.target, "judgerl autojudge")


def _samples(path: str, n: int | None) -> list[Any]:
    from judgerl.core.samples import read_samples

    samples = read_samples(path)[:n] if n else read_samples(path)
    if not samples:
        raise JudgeRLError(f"no judge samples in {path}")
    return samples


def cmd_mine(args: argparse.Namespace) -> dict[str, Any]:
    """Mine important tokens on --data; returns the mining summary.

    Usage: judgerl autojudge mine --draft D --target T --data train.jsonl --out runs/aj
    """
    from judgerl.autojudge.checkers import get_checker
    from judgerl.autojudge.mining import items_from_samples, mine, mining_summary
    from judgerl.core.jsonl import write_json

    _threads(args)
    target, draft, tok = _load_pair(args)
    samples = _samples(args.data, args.n)
    out = Path(args.out)
    records = mine(
        draft,
        target,
        tok,
        items_from_samples(samples, _prompt(args)),
        get_checker(args.checker),
        out / "mining.jsonl",
        max_new_tokens=args.max_new_tokens,
        max_mismatches=args.max_mismatches,
        progress=not args.quiet,
        batch_size=args.batch_size,
    )
    summary = mining_summary(records)
    write_json(out / "mining_summary.json", summary)
    print(
        f"mined {summary['items']} items: {summary['mismatches']} mismatches, {summary['important']} important "
        f"({summary['important_share']:.1%}) -> {out / 'mining.jsonl'}"
    )
    return summary


def cmd_fit(args: argparse.Namespace) -> dict[str, Any]:
    """Fit the importance classifier on a mining file (judgerl's JSONL or AutoJudge's .pt); returns C,
    validation AUC and threshold.

    Usage: judgerl autojudge fit --target T --mining runs/aj/mining.jsonl --out runs/aj/classifier
    """
    from judgerl.autojudge.classifier import C_TIE_BREAKS, fit_classifier
    from judgerl.autojudge.features import mismatch_features
    from judgerl.autojudge.mining_files import read_mining_file
    from judgerl.models.loading import load_model_and_tokenizer

    if args.c_tie_break not in C_TIE_BREAKS:
        raise JudgeRLError(
            f"--c-tie-break must be one of {', '.join(C_TIE_BREAKS)}, got {args.c_tie_break!r}"
        )
    _threads(args)
    if not Path(args.mining).is_file():
        raise JudgeRLError(f"no mining records in {args.mining} (run `judgerl autojudge mine` first)")
    records = read_mining_file(args.mining)
    if not records:
        raise JudgeRLError(f"no mining records in {args.mining} (run `judgerl autojudge mine` first)")
    target, _ = load_model_and_tokenizer(args.target, dtype=args.dtype, device=args.device)
    draft = None
    if args.setup == "DD-DT":
        if not args.draft:
            raise JudgeRLError("--setup DD-DT needs --draft (its hidden states are half the features)")
        draft, _ = load_model_and_tokenizer(args.draft, dtype=args.dtype, device=args.device)
    ds = mismatch_features(records, target, draft, setup=args.setup)
    clf = fit_classifier(
        ds.X,
        ds.y,
        ds.groups,
        setup=args.setup,
        target_recall=args.target_recall,
        seed=args.seed,
        c_tie_break=args.c_tie_break,
    )
    clf.save(args.out)
    shown = [r for r in clf.table if r["recall"] >= args.target_recall][-3:]
    print(
        f"classifier ({args.setup}, {len(ds.y)} mismatches, {int(ds.y.sum())} important): C={clf.C:.3g}, "
        f"validation ROC-AUC {clf.val_auc:.3f}, threshold {clf.threshold:.4g} for recall >= {args.target_recall} "
        f"-> {args.out}"
    )
    for r in shown:
        print(
            f"  threshold {r['threshold']:.4g}: recall {r['recall']:.3f}, precision {r['precision']:.3f}, "
            f"accept rate {r['accept_rate']:.3f}"
        )
    return {"C": clf.C, "val_auc": clf.val_auc, "threshold": clf.threshold, **clf.counts}


def cmd_compare(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Compare target-only, speculative, judge and draft-only decoding on --data; prints the table.

    Usage: judgerl autojudge compare --draft D --target T --classifier runs/aj/classifier --data test.jsonl
    """
    from judgerl.autojudge.classifier import pick_threshold
    from judgerl.autojudge.classifier_file import load_linear_importance
    from judgerl.autojudge.stage import compare_decoders, decoder_table
    from judgerl.core.jsonl import write_json, write_text_atomic

    _threads(args)
    scorer, meta = load_linear_importance(args.classifier)
    thresholds = {"saved": float(meta["threshold"])}
    for r in args.recalls or []:
        thresholds[f"recall {r}"] = round(pick_threshold(meta.get("table", []), r), 6)
    for t in args.thresholds or []:
        thresholds[f"threshold {t}"] = t
    target, draft, tok = _load_pair(args)
    samples = _samples(args.data, args.n)
    setup = str(meta.get("setup", "DT"))
    decoders, texts = compare_decoders(
        target,
        draft,
        tok,
        samples,
        scorer,
        thresholds,
        args.window,
        args.max_new_tokens,
        _prompt(args),
        setup,
    )
    table = decoder_table(decoders)
    print(f"{len(samples)} prompts, window {args.window}, {setup} features, thresholds {thresholds}\n{table}")
    if args.out:
        out = Path(args.out)
        write_json(
            out / "results.json", {"thresholds": thresholds, "decoders": decoders, "completions": texts}
        )
        write_text_atomic(out / "table.md", table + "\n")
    return decoders


def _common(p: argparse.ArgumentParser, draft_required: bool = True) -> None:
    p.add_argument("--target", required=True, help="target judge checkpoint")
    p.add_argument("--draft", required=draft_required, help="draft checkpoint sharing the target's tokenizer")
    p.add_argument("--device", default="cpu", help="cpu, cuda, auto (default cpu)")
    p.add_argument("--dtype", default="float32", help="float32 (default), bfloat16, auto")
    p.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's choice)")


def _prompt_args(p: argparse.ArgumentParser) -> None:
    add_prompt_flags(
        p,
        prompt_help="prompt family",
        instruction_help="instruction length (the quickstart judges are trained on compact)",
    )
    p.add_argument("--max-new-tokens", type=int, default=150, help="completion budget (default 150)")


def add_arguments(aj: argparse.ArgumentParser) -> None:
    """The subcommands of `judgerl autojudge` and their arguments.

    Usage: add_arguments(sub.add_parser("autojudge"))
    """
    aj.description = (
        __doc__.split("\n\n")[0]
        + " Mining and comparison run greedy decoding of a draft/target pair that share a tokenizer."
    )
    aj.epilog = EPILOG
    aj.formatter_class = argparse.RawDescriptionHelpFormatter
    acts = aj.add_subparsers(dest="action", required=True, metavar="ACTION")

    mi = acts.add_parser(
        "mine",
        help="Algorithm 1: label draft/target mismatches important or not (resumable JSONL)",
        description="Greedy target reference, teacher-forced draft argmax, swap the earliest mismatch and "
        "let the target continue; a changed final answer marks the mismatch important. Writes "
        "OUT/mining.jsonl (appended per item; a rerun resumes) and OUT/mining_summary.json.",
    )
    _common(mi)
    mi.add_argument("--data", required=True, help="judge-sample JSONL (e.g. the prep stage's train.jsonl)")
    mi.add_argument("--out", required=True, help="output folder")
    mi.add_argument("--n", type=int, help="mine only the first N samples")
    mi.add_argument(
        "--max-mismatches", type=int, help="stop an item after this many mismatches (default: all)"
    )
    mi.add_argument(
        "--batch-size", type=int, default=16, help="items mined in lockstep (default 16; 1 = unbatched)"
    )
    mi.add_argument(
        "--checker",
        default="synthetic",
        help="answer checker: synthetic (verdict + strength), verdict, gsm8k",
    )
    mi.add_argument("--quiet", action="store_true", help="no progress bar")
    _prompt_args(mi)
    mi.set_defaults(autojudge_func=cmd_mine)

    fi = acts.add_parser(
        "fit",
        help="fit the importance classifier (scaler + L2 logistic regression) on mined mismatches",
        description="Hidden states at each mined mismatch -> StandardScaler + L2 logistic regression, C by "
        "validation ROC-AUC (split by question), the threshold for --target-recall. Writes OUT/classifier.safetensors "
        "and OUT/classifier.json (what `backend: judge` and `compare --classifier` read).",
    )
    _common(fi, draft_required=False)
    fi.add_argument(
        "--mining",
        required=True,
        help="a mining.jsonl written by `judgerl autojudge mine`, or AutoJudge's own important-token .pt file",
    )
    fi.add_argument("--out", required=True, help="classifier folder")
    fi.add_argument("--setup", default="DT", choices=["DT", "DD-DT"], help="DT (judge decoding) or DD-DT")
    fi.add_argument(
        "--target-recall", type=float, default=0.9, help="recall of important tokens (default 0.9)"
    )
    fi.add_argument("--seed", type=int, default=0, help="seed of the train/validation split")
    fi.add_argument(
        "--c-tie-break",
        default="grid-order",
        help="C among equal validation AUCs: grid-order (default: the first in the grid) or smallest "
        "(AutoJudge's notebook)",
    )
    fi.set_defaults(autojudge_func=cmd_fit)

    co = acts.add_parser(
        "compare",
        aliases=["bench"],
        help="target-only vs speculative vs judge vs draft-only decoding on held-out prompts: the table",
        description="Greedy decoding of held-out judge prompts with each decoder: verdict accuracy, accepted "
        "draft tokens per cycle, target calls per token, wall time.",
    )
    _common(co)
    co.add_argument(
        "--classifier", required=True, help="classifier folder written by `judgerl autojudge fit`"
    )
    co.add_argument("--data", required=True, help="held-out judge-sample JSONL (e.g. test.jsonl)")
    co.add_argument("--n", type=int, default=60, help="first N samples (default 60)")
    co.add_argument("--window", type=int, default=8, help="draft tokens proposed per cycle (default 8)")
    co.add_argument("--thresholds", type=float, nargs="*", help="extra judge thresholds to sweep")
    co.add_argument(
        "--recalls", type=float, nargs="*", help="judge thresholds read off the classifier's table"
    )
    co.add_argument("--out", help="folder for results.json and table.md")
    _prompt_args(co)
    co.set_defaults(autojudge_func=cmd_compare)


def run(args: argparse.Namespace) -> int:
    """Run the parsed `judgerl autojudge ACTION`; errors become JudgeRLError (exit code 2).

    Usage: run(parser.parse_args(["autojudge", "fit", ...]))
    """
    from pydantic import ValidationError

    if getattr(args, "window", 1) < 1 or getattr(args, "batch_size", 1) < 1:
        raise JudgeRLError(f"autojudge {args.action}: --window and --batch-size must be >= 1")
    try:
        args.autojudge_func(args)
    except ValidationError as e:
        raise JudgeRLError(f"autojudge {args.action}: {format_validation_error(e)}") from None
    except (ValueError, FileNotFoundError, OSError) as e:
        raise JudgeRLError(f"autojudge {args.action}: {e}") from None
    return 0

"""AutoJudge benchmark on the synthetic addition-judge task: mine important tokens with a draft/target
pair, fit the DT importance classifier, then compare target-only greedy, lossless speculative and
judge decoding on held-out prompts (accuracy, accepted draft tokens per cycle, target calls per
token, wall time). Writes <out>/results.json and replaces the "AutoJudge" section of bench/RESULTS.md.

The target is a finished quickstart judge (`judgerl run recipes/quickstart.yaml`); the draft is a
smaller tiny model on the target's tokenizer, SFT-trained here for --draft-steps (or --draft PATH).

Usage: OMP_NUM_THREADS=1 python bench/autojudge_bench.py --target runs/quickstart/sft/checkpoint \
    --data runs/quickstart/data --out runs/autojudge_bench
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import sys
import time
from pathlib import Path
from typing import Any

import torch
from results_md import add_record_flag

from judgerl.autojudge.checkers import get_checker
from judgerl.autojudge.classifier import ImportanceClassifier, fit_classifier, pick_threshold
from judgerl.autojudge.features import mismatch_features
from judgerl.autojudge.mining import items_from_samples, mine, mining_summary
from judgerl.autojudge.stage import compare_decoders, decoder_table
from judgerl.core.jsonl import write_json, write_text_atomic
from judgerl.core.samples import read_samples
from judgerl.core.stage import StageContext
from judgerl.judge_spec.families import PromptSpec
from judgerl.judge_spec.presets import spec_for_prompt
from judgerl.models.loading import load_model_and_tokenizer
from judgerl.models.tiny import TinyModelSpec, build_tiny_model
from judgerl.trainers.sft import SFTStage, run_sft

REPO = Path(__file__).resolve().parents[1]
PROMPT = PromptSpec("strength", instruction="compact")
JUDGE = spec_for_prompt(PROMPT)  # what the stages render and read
SECTION = "## AutoJudge: judge decoding vs speculative vs target-only (synthetic addition judge)"


def train_draft(target_path: str, data: Path, out: Path, steps: int, hidden: int, layers: int) -> str:
    """A smaller tiny model on the target's tokenizer, SFT-trained for `steps` (resumes if present)."""
    ckpt = out / "draft_sft" / "checkpoint"
    if (ckpt / "config.json").exists():
        return str(ckpt)
    _, tok = load_model_and_tokenizer(target_path, dtype="float32", device="cpu")
    init = out / "draft_init"
    if not (init / "config.json").exists():
        spec = TinyModelSpec(hidden_size=hidden, layers=layers, heads=4, intermediate_size=4 * hidden)
        model = build_tiny_model(spec, tok, seed=1)
        model.save_pretrained(str(init))
        tok.save_pretrained(str(init))
    stage = SFTStage(
        model=str(init),
        data=str(data / "train.jsonl"),
        prompt=PROMPT,
        max_steps=steps,
        batch_size=16,
        lr=3e-3,
        warmup_ratio=0.05,
        adam_beta2=0.98,
        max_length=512,
        save_steps=max(steps, 1),
        logging_steps=50,
    )
    res = run_sft(stage, StageContext(name="draft_sft", out_dir=out / "draft_sft", seed=0))
    return res.outputs["checkpoint"]


def mismatch_breakdown(records: list[dict[str, Any]], tok: Any) -> dict[str, Any]:
    """Where the mined mismatches fall in the synthetic trace and how often each kind is important.

    kind = the first word of the trace line the mismatch is on ("units", "tens", "sum", "(a)", "(b)",
    the question line "q", "verdict" after </think>); digit = the target or the draft token has a digit.
    """
    kinds: dict[str, list[int]] = {}
    digit = {"n": 0, "important": 0}
    other = {"n": 0, "important": 0}
    for r in records:
        for m in r["mismatches"]:
            p, imp = int(m["position"]), int(bool(m["important"]))
            before = tok.decode(r["final_ids"][:p], skip_special_tokens=True)
            if "</think>" in before:
                kind = "verdict"
            else:
                line = before.split("\n")[-1].strip()
                first = line.split(" ")[0] if line else ""
                kind = first if first in ("units", "tens", "hundreds", "sum", "(a)", "(b)") else "q"
            kinds.setdefault(kind, [0, 0])
            kinds[kind][0] += 1
            kinds[kind][1] += imp
            text = tok.decode([m["target_token"]]) + tok.decode([m["draft_token"]])
            bucket = digit if any(ch.isdigit() for ch in text) else other
            bucket["n"] += 1
            bucket["important"] += imp
    return {
        "by_line": {
            k: {"n": v[0], "important": v[1]} for k, v in sorted(kinds.items(), key=lambda x: -x[1][0])
        },
        "digit_tokens": digit,
        "other_tokens": other,
    }


def markdown(res: dict[str, Any], command: str) -> str:
    """The RESULTS.md section for one run."""
    m, c = res["mining"], res["classifier"]
    return "\n".join(
        [
            SECTION,
            "",
            f"- Machine: {res['machine']}; date {res['date']}; load average at start {res['load_start']}, "
            f"at end {res['load_end']}; torch threads 1.",
            f"- Command: `{command}`",
            f"- Target: `{res['target']}`; draft: `{res['draft']}` ({res['draft_params']:,} vs "
            f"{res['target_params']:,} parameters); window W={res['window']}; greedy; batch size 1; float32.",
            f"- Mining ({res['n_mine']} train prompts, <= {res['max_mismatches'] or 'all'} mismatches each, "
            f"{res['mining_s']:.0f} s): {m['mismatches']} mismatches, {m['important']} important "
            f"({m['important_share']:.1%}); draft verdict = target verdict on {m['draft_agrees_with_target']:.1%}.",
            f"- Classifier (DT, target hidden states): C={c['C']:.3g}, validation ROC-AUC {c['val_auc']:.3f} "
            f"({c['counts']}); thresholds used: {res['thresholds']}.",
            "- Mismatch kinds (line of the trace: n / important): "
            + ", ".join(f"{k} {v['n']}/{v['important']}" for k, v in res["breakdown"]["by_line"].items())
            + f"; digit tokens {res['breakdown']['digit_tokens']['n']}/{res['breakdown']['digit_tokens']['important']}, "
            f"other tokens {res['breakdown']['other_tokens']['n']}/{res['breakdown']['other_tokens']['important']}.",
            f"- Held-out: {res['n_test']} test prompts, max_new_tokens {res['max_new_tokens']}.",
            "",
            decoder_table(res["decoders"]),
            "",
            res["verdict"],
            "",
        ]
    )


def replace_section(text: str, section: str) -> str:
    """Replace this benchmark's section in RESULTS.md (or append it)."""
    pattern = re.compile(re.escape(SECTION) + r".*?(?=\n## |\Z)", re.DOTALL)
    if pattern.search(text):
        return pattern.sub(lambda _m: section.rstrip("\n") + "\n", text)
    return text.rstrip("\n") + "\n\n" + section


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark. Usage: python bench/autojudge_bench.py --target CKPT --data DATA_DIR --out OUT."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", required=True, help="target judge checkpoint (quickstart sft/checkpoint)")
    ap.add_argument(
        "--data", required=True, type=Path, help="prep stage folder with train.jsonl and test.jsonl"
    )
    ap.add_argument("--draft", help="draft checkpoint sharing the target's tokenizer (else trained here)")
    ap.add_argument("--out", type=Path, default=Path("runs/autojudge_bench"))
    ap.add_argument("--draft-steps", type=int, default=300)
    ap.add_argument("--draft-hidden", type=int, default=64)
    ap.add_argument("--draft-layers", type=int, default=2)
    ap.add_argument("--n-mine", type=int, default=120)
    ap.add_argument("--max-mismatches", type=int, default=12, help="per item; 0 = all mismatches")
    ap.add_argument("--mine-batch-size", type=int, default=16, help="items mined in lockstep")
    ap.add_argument("--n-test", type=int, default=60)
    ap.add_argument("--window", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=150)
    ap.add_argument("--recalls", type=float, nargs="+", default=[0.9])
    ap.add_argument("--thresholds", type=float, nargs="*", default=[], help="extra fixed judge thresholds")
    add_record_flag(ap)
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    load_start = " ".join(f"{x:.2f}" for x in os.getloadavg())
    args.out.mkdir(parents=True, exist_ok=True)

    draft_path = args.draft or train_draft(
        args.target, args.data, args.out, args.draft_steps, args.draft_hidden, args.draft_layers
    )
    target, tok = load_model_and_tokenizer(args.target, dtype="float32", device="cpu")
    draft, dtok = load_model_and_tokenizer(draft_path, dtype="float32", device="cpu")
    if dtok.get_vocab() != tok.get_vocab():
        raise SystemExit(f"draft {draft_path} and target {args.target} do not share a tokenizer")

    train = read_samples(args.data / "train.jsonl")[: args.n_mine]
    test = read_samples(args.data / "test.jsonl")[: args.n_test]
    t0 = time.perf_counter()
    records = mine(
        draft,
        target,
        tok,
        items_from_samples(train, JUDGE),
        get_checker("synthetic"),
        args.out / "mining.jsonl",
        max_new_tokens=args.max_new_tokens,
        max_mismatches=args.max_mismatches or None,
        batch_size=args.mine_batch_size,
    )
    mining_s = time.perf_counter() - t0
    ds = mismatch_features(records, target, setup="DT")
    clf = fit_classifier(ds.X, ds.y, ds.groups, setup="DT", target_recall=args.recalls[0])
    clf.save(args.out / "classifier")
    clf = ImportanceClassifier.load(args.out / "classifier")

    thresholds = {f"recall {r}": round(pick_threshold(clf.table, r), 4) for r in args.recalls}
    thresholds.update({f"threshold {t}": t for t in args.thresholds})
    decoders, _texts = compare_decoders(
        target, draft, tok, test, clf.scorer(), thresholds, args.window, args.max_new_tokens, JUDGE
    )
    same_as_target = {k: round(d["same_as_target"] * len(test)) for k, d in decoders.items()}
    spec_apc = decoders["speculative"]["accepted_per_cycle"]
    verdict_lines = []
    for k, d in decoders.items():
        if k.startswith("judge"):
            ratio = d["accepted_per_cycle"] / spec_apc if spec_apc else float("nan")
            drop = 100 * (decoders["target"]["accuracy"] - d["accuracy"])
            ok = ratio >= 1.3 and drop <= 1.0
            verdict_lines.append(
                f"- {k}: {ratio:.2f}x the accepted draft tokens per cycle of lossless speculative decoding at "
                f"{drop:+.1f} points accuracy drop -> target (>=1.3x at <=1 point) {'MET' if ok else 'NOT met'}."
            )
    verdict_lines.append(
        f"- Completions identical to target-only greedy: {same_as_target} of {len(test)} "
        "(target and speculative must match all)."
    )
    res = {
        "machine": f"{platform.machine()} {platform.processor() or ''} {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, torch {torch.__version__}",
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load_start": load_start,
        "load_end": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "target": args.target,
        "draft": draft_path,
        "target_params": sum(p.numel() for p in target.parameters()),
        "draft_params": sum(p.numel() for p in draft.parameters()),
        "window": args.window,
        "n_mine": len(train),
        "max_mismatches": args.max_mismatches,
        "n_test": len(test),
        "max_new_tokens": args.max_new_tokens,
        "mining_s": mining_s,
        "mining": mining_summary(records),
        "breakdown": mismatch_breakdown(records, tok),
        "classifier": {"C": clf.C, "val_auc": clf.val_auc, "counts": clf.counts},
        "thresholds": thresholds,
        "decoders": decoders,
        "same_as_target": same_as_target,
        "verdict": "\n".join(verdict_lines),
    }
    write_json(args.out / "results.json", res)
    command = "OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 .venv/bin/python bench/autojudge_bench.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    section = markdown(res, command)
    write_text_atomic(args.out / "RESULTS_section.md", section)
    if not args.no_record:
        path = REPO / "bench" / "RESULTS.md"
        write_text_atomic(path, replace_section(path.read_text(encoding="utf-8"), section))
    print(section)
    print(json.dumps({k: v for k, v in res.items() if k != "decoders"}, indent=1, default=str)[:2000])
    return res


if __name__ == "__main__":
    main()

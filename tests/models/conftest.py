"""Shared fixtures: a tiny checkpoint (tokenizer trained here, model built from config)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from judgerl.models.tiny import TinyModelSpec, build_tiny_model
from judgerl.models.tokenizer import train_tokenizer

TINY_SPEC = TinyModelSpec(hidden_size=64, layers=2, heads=4, tie_embeddings=False, vocab_size=400)


def synthetic_corpus(n: int = 200, seed: int = 0) -> list[str]:
    """Short judge-like strings with numbers, so BPE learns some merges."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        a, b = rng.randint(0, 99), rng.randint(0, 99)
        wrong = a + b + rng.choice([-10, -1, 1, 10])
        out.append(
            f"What is {a} + {b}? Response (a) says {a + b}. Response (b) says {wrong}. "
            f"The answer is {a + b}, so (a) is correct and (b) is wrong."
        )
    return out


def sharpen(model: torch.nn.Module, seed: int = 0) -> None:
    """Redraw matrices at unit scale: a default-init tiny model greedily repeats one token for every
    prompt, which would make batch-vs-single and ordering checks vacuous."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 2:
                scale = 1.0 if "embed" in name else p.shape[1] ** -0.5
                p.copy_(torch.randn(p.shape, generator=gen) * scale)


@pytest.fixture(autouse=True)
def _single_thread(one_torch_thread: None) -> None:
    """Every test here uses one torch thread (tests/conftest.py)."""


@pytest.fixture(scope="session")
def corpus() -> list[str]:
    return synthetic_corpus()


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory, corpus: list[str]) -> Path:
    """A saved HF checkpoint folder: Qwen2-shaped, hidden 64, 2 layers, BPE vocab <= 400."""
    out = tmp_path_factory.mktemp("tiny") / "checkpoint"
    tokenizer = train_tokenizer(corpus, vocab_size=TINY_SPEC.vocab_size)
    model = build_tiny_model(TINY_SPEC, tokenizer, seed=0)
    sharpen(model)
    model.save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    return out


@pytest.fixture
def tiny_pair(tiny_checkpoint: Path):
    """A fresh (model, tokenizer) loaded on CPU from the tiny checkpoint; safe to mutate."""
    from judgerl.models.loading import load_model_and_tokenizer

    return load_model_and_tokenizer(str(tiny_checkpoint), dtype="float32", device="cpu")

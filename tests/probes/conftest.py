"""Probe test fixtures: one torch thread per test, a tiny causal model saved to disk, and features
computed INSPECTOR's way."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from judgerl.models.tiny import TinyModelSpec, build_tiny_model
from judgerl.models.tokenizer import train_tokenizer

FIXTURES = Path(__file__).parent / "fixtures"
RESULTS_JSON = FIXTURES / "inspector_results.json"


@pytest.fixture(autouse=True)
def _single_thread(one_torch_thread: None) -> None:
    """Every test here uses one torch thread (tests/conftest.py)."""


@pytest.fixture(scope="session")
def tiny_backbone(tmp_path_factory) -> Path:
    """A 3-block causal LM (hidden 32, context 1024) and its tokenizer, saved to a folder."""
    rows = json.loads(RESULTS_JSON.read_text())
    corpus = [r["question"] + " " + r["prediction"] for r in rows] * 4
    corpus += ["Step by step: 4 plus 5 makes 9, so the answer is 9.", "Question: Response: score {}"]
    tok = train_tokenizer(corpus, vocab_size=300)
    model = build_tiny_model(TinyModelSpec(hidden_size=32, layers=3, heads=2, intermediate_size=64), tok, 0)
    folder = tmp_path_factory.mktemp("tiny_backbone") / "model"
    model.save_pretrained(str(folder))
    tok.save_pretrained(str(folder))
    return folder


def inspector_features(folder: Path, texts: list[str], layer: int, pool: str = "mean") -> np.ndarray:
    """Features as INSPECTOR computes them for training: one text per batch (no padding), layer l =
    hidden_states[1:][l], mean over the tokens or the last token, float32."""
    tok = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModel.from_pretrained(str(folder), dtype=torch.float32).eval()
    out = []
    with torch.no_grad():
        for text in texts:
            enc = tok([text], return_tensors="pt")
            hidden = model(**enc, output_hidden_states=True).hidden_states[1:][layer][0]
            out.append((hidden.mean(dim=0) if pool == "mean" else hidden[-1]).numpy())
    return np.stack(out)

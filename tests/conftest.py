"""Shared fixtures: the real public data beside the repo, a shrunken quickstart recipe, one torch thread."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """Tiny models: one torch thread is as fast, and immune to spin-waiting when the cores are shared.
    Usage: pytestmark = pytest.mark.usefixtures("one_torch_thread")"""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (GSM8K, LLMBar); skips with the reason when the folder is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA} (CI always has ../shared beside the repo)")
    return SHARED_DATA


def shrunken_quickstart(run_dir: Path, path: Path) -> Path:
    """The quickstart recipe made tiny enough to run end to end in seconds."""
    raw = yaml.safe_load((REPO / "recipes" / "quickstart.yaml").read_text())
    raw["run_dir"] = str(run_dir)
    stages = raw["stages"]
    stages["data"]["source"].update(n_train=48, n_test=6)
    stages["model"].update(hidden_size=32, layers=1, heads=2, intermediate_size=64, vocab_size=400)
    stages["sft"].update(max_steps=12, batch_size=4, save_steps=5, logging_steps=2)
    for name in ("eval_base", "eval_sft"):
        stages[name].update(max_new_tokens=24, batch_size=12)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.fixture
def tiny_recipe(tmp_path: Path) -> Path:
    """A shrunken quickstart recipe file writing under tmp_path/run."""
    return shrunken_quickstart(tmp_path / "run", tmp_path / "quick.yaml")

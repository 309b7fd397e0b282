"""Experiment tracking (report_to, run_name), push_to_hub and the metrics of a resumed stage, on a tiny SFT."""

from __future__ import annotations

import logging
import shutil
import warnings
from pathlib import Path
from typing import Any

import pytest

from judgerl.core.errors import RecipeError, StageError
from judgerl.core.samples import write_samples
from judgerl.core.stage import StageContext
from judgerl.data_prep.synthetic import make_synthetic_splits, synthetic_sft_trace
from judgerl.judge_spec.families import PromptSpec
from judgerl.models.tiny import TinyModelSpec, make_tiny_judge
from judgerl.pipeline import config_hash
from judgerl.recipe import load_recipe
from judgerl.trainers.grpo_config import GRPOStage
from judgerl.trainers.sft import SFTStage, run_sft
from judgerl.trainers.tracking import trackers, tracking
from judgerl.trainers.verl import VerlPaths, main_ppo_overrides, verl_env
from tests.prompts import user_text

pytestmark = pytest.mark.usefixtures("one_torch_thread")

REPO = Path(__file__).resolve().parents[2]
SPEC = PromptSpec("strength", instruction="compact")


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("sft")
    samples = make_synthetic_splits(24, 0, seed=5).train
    texts = [user_text(s, SPEC) + synthetic_sft_trace(s) for s in samples]
    model = make_tiny_judge(
        root / "model", texts, TinyModelSpec(hidden_size=32, layers=1, heads=2, vocab_size=300)
    )
    data = root / "train.jsonl"
    write_samples(data, samples)
    return model, data


def _sft(model: Path, data: Path, **over: Any) -> SFTStage:
    base = dict(model=str(model), data=str(data), prompt=SPEC, max_steps=6, batch_size=4, lr=3e-3)
    return SFTStage(**{**base, "max_length": 256, "save_steps": 3, "logging_steps": 1, **over})


def test_report_to_is_recipe_wide_a_stage_overrides_it_and_the_hash_ignores_it(tiny_recipe: Path) -> None:
    plain = load_recipe(tiny_recipe)
    tracked = load_recipe(
        tiny_recipe, ["report_to=tensorboard", "run_name=exp1", "stages.sft.report_to=[wandb]"]
    )
    assert tracked.stages["sft"].report_to == ["wandb"] and tracked.stages["sft"].run_name == "exp1"
    assert "report_to" not in tracked.stages["sft"].model_dump() and not hasattr(
        tracked.stages["eval_sft"], "report_to"
    )
    hashes: dict[str, str] = {}
    for name in ("data", "model"):
        hashes[name] = config_hash(plain, name, hashes)
    assert config_hash(plain, "sft", hashes) == config_hash(tracked, "sft", hashes)
    with pytest.raises(
        RecipeError, match=r"stages.sft.report_to = 'mlflow'.*expected none, wandb, tensorboard, trackio"
    ):
        load_recipe(tiny_recipe, ["stages.sft.report_to=mlflow"])
    with pytest.raises(RecipeError, match=r"stages.sft.push_to_hub.repo"):
        load_recipe(tiny_recipe, ["stages.sft.push_to_hub={repo: not a repo}"])
    assert trackers("none") == [] and trackers(["tensorboard", "tensorboard"]) == ["tensorboard"]


def test_verl_gets_the_trackers_as_its_loggers_and_folders_in_the_stage(tmp_path: Path) -> None:
    stage = GRPOStage(
        model="m",
        data="d",
        backend="verl",
        max_prompt_length=64,
        report_to=["tensorboard", "wandb"],
        run_name="r1",
    )
    overrides = main_ppo_overrides(stage, VerlPaths.under(tmp_path), 0, "grpo")
    assert "trainer.logger=[console,file,tensorboard,wandb]" in overrides
    assert "trainer.experiment_name=r1" in overrides
    env = verl_env(stage, StageContext("grpo", tmp_path))
    assert env["TENSORBOARD_DIR"] == str(tmp_path / "tensorboard") and env["WANDB_DIR"] == str(tmp_path)


def test_a_missing_tracker_package_is_named_before_training(tmp_path: Path, monkeypatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "wandb" else real(n, *a))
    stage, ctx = SFTStage(model="m", data="d", report_to="wandb"), StageContext("sft", tmp_path)
    with pytest.raises(StageError, match=r"report_to \['wandb'\].*judgerl\[tracking\]"), tracking(stage, ctx):
        pass


def test_tensorboard_events_model_card_and_push_to_hub_of_an_sft_stage(
    setup, tmp_path: Path, monkeypatch
) -> None:
    pytest.importorskip("tensorboard", reason="tensorboard (a dev dependency) is not installed")
    from huggingface_hub import HfApi

    model, data = setup
    uploads: list[dict[str, Any]] = []

    def upload_folder(self, **kw: Any) -> str:
        uploads.append({**kw, "files": sorted(p.name for p in Path(kw["folder_path"]).iterdir())})
        uploads[-1]["card"] = (Path(kw["folder_path"]) / "README.md").read_text()
        return "commit-1"

    monkeypatch.setattr(HfApi, "create_repo", lambda self, **kw: f"https://huggingface.co/{kw['repo_id']}")
    monkeypatch.setattr(HfApi, "upload_folder", upload_folder)
    monkeypatch.setenv("HF_TOKEN", "hf_test_token_not_real")
    monkeypatch.delenv("TENSORBOARD_LOGGING_DIR", raising=False)
    out = tmp_path / "run" / "sft"
    stage = _sft(model, data, max_steps=2, report_to="tensorboard", push_to_hub={"repo": "org/tiny-judge"})
    result = run_sft(stage, StageContext("sft", out, progress=False))
    events = list((out / "tensorboard").rglob("events.out.tfevents.*"))
    assert events and all(e.stat().st_size > 0 for e in events)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags = EventAccumulator(str(events[0].parent)).Reload().Tags()["scalars"]
    assert "train/loss" in tags, tags
    assert "TENSORBOARD_LOGGING_DIR" not in __import__("os").environ  # restored after the stage
    card = (out / "checkpoint" / "README.md").read_text()
    assert "library_name: transformers" in card and "sft (sft)" in card and "[[2]]" in card
    assert result.metrics["pushed_to"] == "https://huggingface.co/org/tiny-judge"
    assert len(uploads) == 1 and uploads[0]["repo_id"] == "org/tiny-judge"
    assert {"README.md", "config.json", "model.safetensors", "tokenizer.json"} <= set(uploads[0]["files"])


def test_wandb_offline_run_lands_in_the_stage_folder(setup, tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("wandb", reason="wandb (the optional `tracking` extra) is not installed")
    model, data = setup
    monkeypatch.setenv("WANDB_MODE", "offline")
    for key in ("WANDB_DIR", "WANDB_PROJECT", "WANDB_NAME"):
        monkeypatch.delenv(key, raising=False)
    out = tmp_path / "run" / "sft"
    run_sft(
        _sft(model, data, max_steps=2, report_to="wandb", run_name="w1"),
        StageContext("sft", out, progress=False),
    )
    assert list((out / "wandb").glob("offline-run-*")), sorted(p.name for p in out.iterdir())


@pytest.mark.slow
def test_a_resumed_stage_reports_the_loss_of_all_its_steps(setup, tmp_path: Path) -> None:
    model, data = setup
    full = run_sft(_sft(model, data), StageContext("sft", tmp_path / "full", progress=False)).metrics
    out = tmp_path / "resumed"
    run_sft(_sft(model, data), StageContext("sft", out, progress=False))
    shutil.rmtree(out / "checkpoint")  # as a run killed after checkpoint-3 leaves its folder
    shutil.rmtree(out / "trainer" / "checkpoint-6")
    # the tiny model ties its embeddings: its checkpoints hold no lm_head.weight, which is no missing key
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    transformers_log = logging.getLogger("transformers")
    transformers_log.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            resumed = run_sft(
                _sft(model, data), StageContext("sft", out, resume=True, progress=False)
            ).metrics
    finally:
        transformers_log.removeHandler(handler)
    assert resumed["resumed_from"].endswith("checkpoint-3") and resumed["steps"] == 6
    assert not [r.getMessage() for r in records if "missing keys" in r.getMessage()]
    assert not [str(w.message) for w in caught if "gradient_checkpointing" in str(w.message)]
    import json

    history = json.loads((out / "log_history.json").read_text())
    last_three = [h["loss"] for h in history if "loss" in h and h["step"] > 3]
    assert len(last_three) == 3
    # transformers alone reports the mean of the resumed steps 4-6; the stage's metric covers 1-6
    assert abs(sum(last_three) / 3 - resumed["train_loss"]) > 1e-3
    assert resumed["train_loss"] == pytest.approx(full["train_loss"], rel=1e-4)

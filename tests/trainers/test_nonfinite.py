"""Issue 25 item 2: a training stage stops at the first non-finite loss, gradient or weight, fails with
the step and the last finite loss, and never saves a non-finite checkpoint; `on_nonfinite: continue`
keeps TRL's behaviour of training on."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import yaml
from safetensors.torch import load_file

from judgerl.core.errors import StageError
from judgerl.core.jsonl import write_jsonl
from judgerl.core.samples import write_samples
from judgerl.core.stage import StageContext
from judgerl.core.types import Verdict
from judgerl.data_prep import pairs as P
from judgerl.data_prep.synthetic import make_synthetic_splits, synthetic_sft_trace
from judgerl.judge_spec.families import PromptSpec
from judgerl.judge_spec.presets import spec_for_prompt
from judgerl.judge_spec.verdicts import format_trace
from judgerl.models.tiny import TinyModelSpec, make_tiny_judge
from judgerl.pipeline import run_stage
from judgerl.recipe import load_recipe
from judgerl.trainers.dpo import DPOStage, run_dpo
from judgerl.trainers.nonfinite import NonFiniteGuard, NonFiniteTraining
from judgerl.trainers.sft import SFTStage, run_sft
from tests.prompts import user_text

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SPEC = PromptSpec("strength", instruction="compact")
JUDGE = spec_for_prompt(SPEC)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A tiny judge, its SFT samples and a DPO pairs file (right trace over a wrong verdict)."""
    root = tmp_path_factory.mktemp("nonfinite")
    samples = make_synthetic_splits(8, 0, seed=5).train
    rows = []
    for s in samples:
        right = synthetic_sft_trace(s)
        wrong = format_trace("too short", "b" if s.label == "a" else "a", 1)
        good = P.Completion(right, Verdict(s.label, s.abs_strength))
        bad = P.Completion(wrong, Verdict("b" if s.label == "a" else "a", s.abs_strength))
        rows.append(P.pair_row(P.item_key(s), s, JUDGE, good, bad, "judge", "critic_negative", "judge_right"))
    texts = [user_text(s, SPEC) + synthetic_sft_trace(s) for s in samples] + [r["rejected"] for r in rows]
    model = make_tiny_judge(
        root / "model", texts, TinyModelSpec(hidden_size=32, layers=1, heads=2, vocab_size=300)
    )
    data, pairs = root / "train.jsonl", root / "pairs.jsonl"
    write_samples(data, samples)
    write_jsonl(pairs, rows)
    return model, data, pairs


def _saved_weights_finite(folder: Path) -> list[bool]:
    return [
        all(torch.isfinite(t).all() for t in load_file(f).values()) for f in folder.rglob("*.safetensors")
    ]


def test_a_nan_sft_run_fails_with_the_step_and_the_last_finite_loss(setup, tmp_path: Path) -> None:
    model, data, _ = setup
    raw = {
        "name": "nan",
        "run_dir": str(tmp_path / "run"),
        "prompt": {"family": "strength", "instruction": "compact"},
        "stages": {
            "sft": {
                "kind": "sft",
                "model": str(model),
                "data": str(data),
                "lr": 1e10,
                "max_steps": 8,
                "batch_size": 2,
                "save_steps": 1,
                "logging_steps": 1,
                "max_length": 256,
            }
        },
    }
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(
        StageError, match=r"training stopped at step (\d+): .* last finite loss was [\d.]+"
    ) as err:
        run_stage(load_recipe(tmp_path / "r.yaml"), "sft")
    assert "\n" not in str(err.value) and "on_nonfinite: continue" in str(err.value)
    manifest = json.loads((tmp_path / "run" / "sft" / "manifest.json").read_text())
    details = manifest["error_details"]
    assert manifest["status"] == "failed" and manifest["error"].startswith("NonFiniteTraining")
    assert details["step"] >= 2 and math.isfinite(details["last_finite_loss"])
    assert details["last_finite_loss_step"] < details["step"]
    assert not (tmp_path / "run" / "sft" / "checkpoint").exists()
    saved = sorted((tmp_path / "run" / "sft" / "trainer").glob("checkpoint-*"))
    assert saved and all(int(p.name.split("-")[1]) < details["step"] for p in saved)
    assert all(_saved_weights_finite(tmp_path / "run" / "sft" / "trainer"))


@pytest.mark.slow
def test_on_nonfinite_continue_keeps_trls_behaviour(setup, tmp_path: Path) -> None:
    model, data, _ = setup
    stage = SFTStage(
        model=str(model), data=str(data), prompt=SPEC, lr=1e10, max_steps=4, batch_size=2, max_length=256,
        save_steps=10, logging_steps=1, on_nonfinite="continue",
    )  # fmt: skip
    assert stage.model_dump()["on_nonfinite"] == "continue"  # part of the config hash when set
    assert "on_nonfinite" not in SFTStage(model="m", data="d").model_dump()  # the default is not
    result = run_sft(stage, StageContext("sft", tmp_path / "sft", progress=False))
    assert result.metrics["steps"] == 4
    assert not all(_saved_weights_finite(tmp_path / "sft" / "checkpoint"))  # what the guard prevents


def test_a_nan_dpo_run_fails_and_saves_nothing(setup, tmp_path: Path) -> None:
    model, _, pairs = setup
    stage = DPOStage(
        model=str(model), data=str(pairs), prompt=SPEC, lr=1e30, max_steps=6, batch_size=2, max_length=512,
        save_steps=1, logging_steps=1, warmup_ratio=0.0,
    )  # fmt: skip
    with pytest.raises(NonFiniteTraining, match="training stopped at step") as err:
        run_dpo(stage, StageContext("dpo", tmp_path / "dpo", progress=False))
    assert err.value.details["step"] >= 2
    assert not (tmp_path / "dpo" / "checkpoint").exists()
    assert all(_saved_weights_finite(tmp_path / "dpo"))


def test_the_guard_checks_gradients_logs_and_weights() -> None:
    guard = NonFiniteGuard("grpo")
    state = SimpleNamespace(
        global_step=4, log_history=[{"loss": 1.5, "step": 2}, {"loss": float("nan"), "step": 4}]
    )
    control = SimpleNamespace(should_save=True)
    model = torch.nn.Linear(2, 2)
    guard.on_pre_optimizer_step(None, state, control, model=model)  # no gradients yet: fine
    model.weight.grad = torch.tensor([[1.0, float("inf")], [0.0, 0.0]])
    with pytest.raises(NonFiniteTraining, match="step 5: the gradient norm.*1.5 \\(logged at step 2\\)"):
        guard.on_pre_optimizer_step(None, state, control, model=model)
    guard.on_log(None, state, control, logs={"loss": 0.3, "grad_norm": 2.0})
    with pytest.raises(NonFiniteTraining, match="logged grad_norm is nan"):
        guard.on_log(None, state, control, logs={"loss": 0.3, "grad_norm": float("nan")})
    guard.on_step_end(None, state, control, model=model)
    with torch.no_grad():
        model.bias[0] = float("nan")
    with pytest.raises(NonFiniteTraining, match="weights are not finite"):
        guard.on_step_end(None, state, control, model=model)
    guard.on_step_end(None, state, SimpleNamespace(should_save=False), model=model)  # no save: not checked
    with pytest.raises(NonFiniteTraining, match="weights are not finite"):
        guard.on_train_end(None, state, control, model=model)

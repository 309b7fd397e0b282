"""GRPO on TRL: config checks, the pair-keeping sampler, and short runs on a tiny model (1 and 2 processes)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from judgerl.core.errors import RecipeError
from judgerl.core.jsonl import read_json, write_jsonl
from judgerl.core.samples import write_samples
from judgerl.core.stage import StageContext
from judgerl.core.types import JudgeSample
from judgerl.data_prep.grpo_data import grpo_rows, pairs_complete
from judgerl.data_prep.synthetic import make_synthetic_splits, synthetic_sft_trace
from judgerl.judge_spec.families import PromptSpec
from judgerl.judge_spec.presets import spec_for_prompt
from judgerl.models.tiny import TinyModelSpec, make_tiny_judge
from judgerl.recipe import load_recipe
from judgerl.rewards.functions import RewardResult
from judgerl.rewards.registry import register_reward
from judgerl.trainers.curves import curve_summary
from judgerl.trainers.grpo import run_grpo
from judgerl.trainers.grpo_config import GRPOStage
from judgerl.trainers.pair_sampler import PairRepeatSampler
from tests.prompts import user_text

REPO = Path(__file__).resolve().parents[2]
SPEC = PromptSpec("strength", instruction="compact")
PROBE_CALLS: list[tuple[str, str, str, int | None, int]] = []


@register_reward("grpo_test_probe")
def _probe(sample: JudgeSample, completion: str, *, partners: list[str] | None = None) -> RewardResult:
    """Records what the adapter rebuilt from the dataset columns; scores nothing."""
    from judgerl.core.types import Verdict

    PROBE_CALLS.append((sample.id, sample.order, sample.label, sample.strength, len(partners or [])))
    return RewardResult(0.0, Verdict(None), {"parsed": False, "correct": None, "reason": ""})


@pytest.fixture(scope="module")
def tiny_setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[JudgeSample]]:
    root = tmp_path_factory.mktemp("grpo")
    samples = make_synthetic_splits(8, 2, seed=3).train
    texts = [user_text(s, SPEC) + synthetic_sft_trace(s) for s in samples]
    model = make_tiny_judge(
        root / "model", texts, TinyModelSpec(hidden_size=32, layers=1, heads=2, vocab_size=300)
    )
    data = root / "train.jsonl"
    write_samples(data, samples)
    return model, data, samples


def _stage(model: Path, data: Path, **over) -> GRPOStage:
    base = dict(
        model=str(model),
        data=str(data),
        prompt=SPEC,
        num_generations=2,
        batch_size=4,
        max_steps=3,
        max_completion_length=12,
        lr=1e-3,
        logging_steps=1,
        save_steps=2,
    )
    return GRPOStage(**{**base, **over})


def test_config_rejects_batches_that_split_the_two_orders() -> None:
    with pytest.raises(
        ValidationError, match=r"4 \* 1 = 4 completions .* multiple of 2 \* num_generations = 8"
    ):
        GRPOStage(model="m", data="d", num_generations=4, batch_size=4)
    ok = GRPOStage(model="m", data="d", num_generations=4, batch_size=4, grad_accum=2)
    assert ok.generation_rows_per_process == 8
    assert GRPOStage(model="m", data="d").rewards == [{"name": "strength", "weight": 1.0}]
    with pytest.raises(ValidationError, match="unknown reward 'nope'"):
        GRPOStage(model="m", data="d", batch_size=16, rewards=[{"name": "nope"}])


def test_config_names_what_verl_cannot_do() -> None:
    with pytest.raises(ValidationError, match=r"rewards \['consistency'\] need both orders"):
        GRPOStage(
            model="m", data="d", backend="verl", max_prompt_length=64, rewards=["strength", "consistency"]
        )
    with pytest.raises(ValidationError, match="max_prompt_length is required"):
        GRPOStage(model="m", data="d", backend="verl")
    # the TRL batch constraint does not apply to verl (its batches count prompts)
    assert (
        GRPOStage(model="m", data="d", backend="verl", max_prompt_length=64, batch_size=3).backend == "verl"
    )


def _process_slices(sampler, per_process: int) -> list[list[int]]:
    """accelerate deals consecutive dataloader batches of `per_process` rows out to the processes."""
    stream = list(sampler)
    return [stream[i : i + per_process] for i in range(0, len(stream), per_process)]


def test_pair_sampler_keeps_both_orders_on_each_process_where_trls_does_not() -> None:
    from trl.trainer.utils import RepeatSampler

    rows = grpo_rows(make_synthetic_splits(40, 2, seed=0).train, spec_for_prompt(SPEC)).rows
    ids, orders = [r["sample_id"] for r in rows], [r["order"] for r in rows]
    generations, per_process, world = 4, 8, 2  # batch_size 4 x steps_per_generation 2
    kwargs = dict(mini_repeat_count=generations, batch_size=per_process * world // generations, seed=0)
    ours = _process_slices(PairRepeatSampler(rows, repeat_count=2, **kwargs), per_process)
    stock = _process_slices(RepeatSampler(rows, repeat_count=2, **kwargs), per_process)
    assert len(ours) == len(stock) == len(rows) * generations * 2 // per_process
    assert all(pairs_complete([ids[i] for i in b], [orders[i] for i in b]) == 1.0 for b in ours)
    assert min(pairs_complete([ids[i] for i in b], [orders[i] for i in b]) for b in stock) < 1.0
    # every row still appears, each in groups of `generations` consecutive copies
    flat = list(PairRepeatSampler(rows, **kwargs))
    assert sorted(set(flat)) == list(range(len(rows)))
    assert all(len(set(flat[i : i + generations])) == 1 for i in range(0, len(flat), generations))
    # a new epoch reshuffles items
    sampler = PairRepeatSampler(rows, **kwargs)
    assert list(sampler) != list(sampler)


def test_curve_summary_reports_the_rise() -> None:
    history = [{"step": i, "reward": 0.1 * i} for i in range(8)]
    assert curve_summary(history, window=0.25) == {"points": 8, "first": 0.05, "last": 0.65, "rise": 0.6}
    assert curve_summary([{"loss": 1.0}])["points"] == 0


@pytest.mark.slow
def test_grpo_trains_a_few_steps_with_both_orders_in_every_reward_call(tiny_setup, tmp_path: Path) -> None:
    model, data, samples = tiny_setup
    PROBE_CALLS.clear()
    stage = _stage(
        model, data, beta=0.01, rewards=[{"name": "strength"}, {"name": "grpo_test_probe", "weight": 0.0}]
    )
    result = run_grpo(stage, StageContext("grpo", tmp_path / "grpo", seed=0, progress=False))
    out = {k: Path(v) for k, v in result.outputs.items()}
    assert (out["checkpoint"] / "config.json").exists() and (out["checkpoint"] / "tokenizer.json").exists()
    assert out["curve"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    history = read_json(out["log"])
    steps = [h for h in history if "rewards/strength/mean" in h]
    assert len(steps) == 3 and all("rewards/grpo_test_probe/mean" in h and "kl" in h for h in steps)
    assert all(h["pairs_complete"] == 1.0 for h in steps)
    m = result.metrics
    assert m["steps"] == 3 and m["world_size"] == 1 and m["pairs_complete_min"] == 1.0
    assert m["train_prompts"] == 16 and m["reward_curve"]["points"] == 3
    # the adapter rebuilt each sample from the right columns, and saw the other order's completions
    truth = {(s.id, o.order): (o.label, o.strength) for s in samples for o in (s, s.swapped())}
    assert len(PROBE_CALLS) == 3 * 4  # steps x completions per step (2 prompts x 2 generations)
    for sample_id, order, label, strength, partners in PROBE_CALLS:
        assert truth[(sample_id, order)] == (label, strength)
        assert partners == 2  # num_generations completions of the other order
    assert (tmp_path / "grpo" / "trainer" / "checkpoint-2").is_dir()
    assert (tmp_path / "grpo" / "trainer" / "checkpoint-3").is_dir()  # the final step is saved too
    # a rerun of the stage (same folder, more steps) resumes from the last trainer checkpoint
    longer = stage.model_copy(update={"max_steps": 4})
    again = run_grpo(longer, StageContext("grpo", tmp_path / "grpo", seed=0, progress=False))
    assert again.metrics["resumed_from"].endswith("checkpoint-3") and again.metrics["steps"] == 4


@pytest.mark.slow
def test_grpo_with_lora_saves_a_merged_checkpoint(tiny_setup, tmp_path: Path) -> None:
    model, data, _ = tiny_setup
    stage = _stage(
        model, data, max_steps=2, beta=0.0, lora={"r": 4, "alpha": 8, "target_modules": ["q_proj", "v_proj"]}
    )
    result = run_grpo(stage, StageContext("grpo", tmp_path / "grpo", seed=0, progress=False))
    ckpt = Path(result.outputs["checkpoint"])
    assert (ckpt / "config.json").exists() and not (ckpt / "adapter_config.json").exists()
    assert result.metrics["steps"] == 2


@pytest.mark.slow
def test_grpo_under_torchrun_two_processes(tiny_setup, tmp_path: Path) -> None:
    model, data, _ = tiny_setup
    recipe = tmp_path / "grpo.yaml"
    stage = dict(
        kind="grpo",
        model=str(model),
        data=str(data),
        num_generations=2,
        batch_size=4,
        max_steps=2,
        max_completion_length=12,
        lr=1e-3,
        logging_steps=1,
        rewards=["strength", "consistency"],
    )
    raw = {
        "name": "grpo2",
        "description": "torchrun test",
        "run_dir": str(tmp_path / "run"),
        "prompt": {"family": "strength", "instruction": "compact"},
        "stages": {"grpo": stage},
    }
    recipe.write_text(yaml.safe_dump(raw))
    load_recipe(recipe)  # validates before spending a launch
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        "29533",
        "-m",
        "judgerl",
        "stage",
        str(recipe),
        "grpo",
    ]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    manifest = read_json(tmp_path / "run" / "grpo" / "manifest.json")
    assert manifest["status"] == "complete"
    assert manifest["metrics"]["world_size"] == 2 and manifest["metrics"]["steps"] == 2
    assert manifest["metrics"]["pairs_complete_min"] == 1.0
    history = read_json(tmp_path / "run" / "grpo" / "log_history.json")
    assert [h["pairs_complete"] for h in history if "pairs_complete" in h] == [1.0, 1.0]
    assert all("rewards/consistency/mean" in h for h in history if "reward" in h)
    assert (tmp_path / "run" / "grpo" / "checkpoint" / "config.json").exists()


def test_recipe_load_names_the_pairing_constraint() -> None:
    recipe = load_recipe(REPO / "recipes" / "quickstart_grpo.yaml")
    assert (
        recipe.stages["grpo"].generation_rows_per_process % (2 * recipe.stages["grpo"].num_generations) == 0
    )
    with pytest.raises(RecipeError, match=r"stages\.grpo.*multiple of 2 \* num_generations = 16"):
        load_recipe(REPO / "recipes" / "quickstart_grpo.yaml", ["stages.grpo.batch_size=13"])


@pytest.mark.slow
def test_grpo_trains_only_on_the_selected_hard_items(tiny_setup, tmp_path: Path) -> None:
    model, data, samples = tiny_setup
    preds = tmp_path / "predictions.jsonl"
    wrong = {samples[0].id, samples[1].id}
    write_jsonl(preds, [{"sample_id": s.id, "order": "ab", "correct": s.id not in wrong} for s in samples])
    PROBE_CALLS.clear()
    stage = _stage(
        model,
        data,
        max_steps=2,
        hard_examples={"predictions": str(preds), "easy_per_hard": 0.5},
        rewards=[{"name": "strength"}, {"name": "grpo_test_probe", "weight": 0.0}],
    )
    result = run_grpo(stage, StageContext("grpo", tmp_path / "grpo", seed=0, progress=False))
    assert result.metrics["hard_examples"] == {
        "items": len(samples),
        "hard": 2,
        "easy": len(samples) - 2,
        "easy_kept": 1,
        "not_judged": 0,
    }
    assert result.metrics["train_prompts"] == 6  # 3 items in both orders
    seen = {call[0] for call in PROBE_CALLS}
    assert len(seen - wrong) <= 1 and seen & wrong  # the two hard items and one easy item, no other


def test_grpo_builds_its_config_before_it_loads_the_model(tiny_setup, tmp_path: Path, monkeypatch) -> None:
    # under ZeRO-3 the config registers DeepSpeed first, so that each rank loads only its shard (as SFT)
    import judgerl.models.loading as loading
    import judgerl.trainers.grpo as grpo

    order: list[str] = []
    build = grpo._grpo_config

    def config(*args, **kwargs):
        order.append("config")
        return build(*args, **kwargs)

    def load(*args, **kwargs):
        order.append("model")
        raise RuntimeError("stop here")

    monkeypatch.setattr(grpo, "_grpo_config", config)
    monkeypatch.setattr(loading, "load_model_and_tokenizer", load)
    model, data, _ = tiny_setup
    with pytest.raises(RuntimeError, match="stop here"):
        run_grpo(_stage(model, data), StageContext("grpo", tmp_path / "grpo", seed=0, progress=False))
    assert order == ["config", "model"]

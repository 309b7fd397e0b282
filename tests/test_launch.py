"""Launchers: commands, recipe validation, and training stages under torchrun / accelerate / DeepSpeed on CPU."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from judgerl.cli.dry_run import dry_run
from judgerl.core.errors import RecipeError
from judgerl.core.jsonl import read_json, write_jsonl
from judgerl.core.samples import read_samples
from judgerl.core.types import Verdict
from judgerl.data_prep.pairs import (
    BRANCH_JUDGE_RIGHT,
    CRITIC_NEGATIVE,
    JUDGE,
    Completion,
    item_key,
    pair_row,
)
from judgerl.data_prep.sft_format import trace_for
from judgerl.judge_spec.families import PromptSpec
from judgerl.judge_spec.presets import spec_for_prompt
from judgerl.launch import LauncherSpec, build_command
from judgerl.pipeline import run_recipe
from judgerl.recipe import Recipe, load_recipe

REPO = Path(__file__).resolve().parents[1]


def test_commands_for_each_launcher() -> None:
    torchrun = build_command(
        LauncherSpec(kind="torchrun", nproc_per_node=8, nnodes=2, node_rank=1), "r.yaml", "sft", ["seed=1"]
    )
    assert torchrun[1:3] == ["-m", "torch.distributed.run"]
    assert (
        torchrun[torchrun.index("--nproc_per_node") + 1] == "8"
        and torchrun[torchrun.index("--node_rank") + 1] == "1"
    )
    assert torchrun[-6:] == ["judgerl", "stage", "r.yaml", "sft", "seed=1", "--launched"]
    acc = build_command(
        LauncherSpec(kind="accelerate", nproc_per_node=4, nnodes=2, config_file="a.yaml"), "r.yaml", "dpo", []
    )
    assert acc[acc.index("--config_file") + 1] == "a.yaml" and acc[acc.index("--num_processes") + 1] == "8"
    ds = build_command(LauncherSpec(kind="deepspeed", nproc_per_node=8), "r.yaml", "grpo", [])
    assert ds[1:3] == ["-m", "deepspeed.launcher.runner"] and "--module" in ds
    with pytest.raises(ValueError, match="config_file is an accelerate config"):
        LauncherSpec(kind="torchrun", config_file="a.yaml")


def test_launcher_is_validated_and_only_for_training_stages(tiny_recipe: Path) -> None:
    with pytest.raises(RecipeError, match="stages.eval_sft.launcher: only training stages"):
        load_recipe(tiny_recipe, ["stages.eval_sft.launcher={kind: torchrun}"])
    with pytest.raises(RecipeError, match="stages.sft.launcher.kind = 'slurm'"):
        load_recipe(tiny_recipe, ["stages.sft.launcher={kind: slurm}"])
    recipe = load_recipe(tiny_recipe, ["stages.sft.launcher={kind: torchrun, nproc_per_node: 2}"])
    assert (
        recipe.launchers["sft"].nproc_per_node == 2
        and "launcher" not in recipe.stages["sft"].model_fields_set
    )


def test_dry_run_prints_commands_and_flags_missing_files(tiny_recipe: Path) -> None:
    recipe = load_recipe(tiny_recipe, ["stages.sft.launcher={kind: torchrun, nproc_per_node: 2}"])
    text, problems = dry_run(recipe)
    assert problems == [] and "torch.distributed.run" in text and "(from stage model)" in text
    assert not recipe.run_dir.exists(), "a dry run writes nothing"
    bad = load_recipe(
        tiny_recipe, ["stages.sft.deepspeed=nowhere/zero2.json", "stages.eval_sft.model=/no/such/ckpt"]
    )
    _, problems = dry_run(bad)
    assert any("stages.sft.deepspeed" in p for p in problems) and any(
        "stages.eval_sft.model" in p for p in problems
    )


def _launched_sft(
    tiny_recipe: Path, launcher: str, capfd: pytest.CaptureFixture[str], extra: list[str] | None = None
) -> dict:
    recipe = load_recipe(tiny_recipe, [f"stages.sft.launcher={launcher}", *(extra or [])])
    manifest = _launched(recipe, "sft", capfd)
    assert (recipe.run_dir / "sft" / "checkpoint" / "config.json").exists()
    return manifest


@pytest.mark.slow
def test_sft_under_torchrun_two_cpu_processes(tiny_recipe: Path, capfd: pytest.CaptureFixture[str]) -> None:
    m = _launched_sft(
        tiny_recipe, "{kind: torchrun, nproc_per_node: 2, master_port: 29531, cpu: true}", capfd
    )
    assert m["world_size"] == 2 and "torch.distributed.run" in m["launcher"]["command"]
    assert m["metrics"]["steps"] == 12


@pytest.mark.slow
def test_sft_under_accelerate_two_cpu_processes(tiny_recipe: Path, capfd: pytest.CaptureFixture[str]) -> None:
    config = REPO / "recipes" / "accelerate" / "cpu_2proc.yaml"
    m = _launched_sft(
        tiny_recipe,
        f"{{kind: accelerate, nproc_per_node: 2, master_port: 29532, cpu: true, config_file: {config}}}",
        capfd,
    )
    assert m["world_size"] == 2


@pytest.mark.slow
def test_sft_under_deepspeed_zero2_on_cpu(
    tiny_recipe: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("deepspeed", reason="the deepspeed extra is not installed")
    os.environ.setdefault("TORCH_EXTENSIONS_DIR", str(REPO / ".cache" / "torch_extensions"))
    zero2 = REPO / "recipes" / "deepspeed" / "zero2.json"
    m = _launched_sft(
        tiny_recipe,
        "{kind: torchrun, nproc_per_node: 2, master_port: 29533, cpu: true}",
        capfd,
        [f"stages.sft.deepspeed={zero2}"],
    )
    assert m["world_size"] == 2 and m["config"]["deepspeed"] == str(zero2)


def _with_stage(tiny_recipe: Path, name: str, stage: dict) -> Path:
    """The tiny recipe file with one more stage appended. Usage: _with_stage(tiny_recipe, "dpo", {...})."""
    raw = yaml.safe_load(tiny_recipe.read_text())
    raw["stages"][name] = stage
    tiny_recipe.write_text(yaml.safe_dump(raw, sort_keys=False))
    return tiny_recipe


def _launched(recipe: Recipe, stage: str, capfd: pytest.CaptureFixture[str]) -> dict:
    """Run data and model in-process, then `stage` under its launcher; its manifest, checked."""
    for name in ("data", "model"):
        run_recipe(recipe, only=name)
    capfd.readouterr()
    outcome = next(o for o in run_recipe(recipe, only=stage) if o.name == stage)
    err = capfd.readouterr().err
    manifest = read_json(recipe.run_dir / stage / "manifest.json")
    assert outcome.status == "ran" and manifest["status"] == "complete"
    # one manifest, written by rank 0 of a two-process gloo world; each rank logged its own line
    assert manifest["written_by_rank"] == 0 and manifest["world_size"] == 2
    assert manifest["distributed_backend"] == "gloo"
    for rank in (0, 1):
        assert f"[{stage}] rank {rank} of world size 2 (gloo)" in err, err[-3000:]
    assert sorted(p.name for p in (recipe.run_dir / stage).glob("manifest*")) == ["manifest.json"]
    return manifest


def _weights_moved(start: Path, trained: Path) -> float:
    """Largest absolute difference between two checkpoints' weights (both load as models)."""
    from judgerl.models.loading import load_model_and_tokenizer

    a, _ = load_model_and_tokenizer(start, device="cpu")
    b, tok = load_model_and_tokenizer(trained, device="cpu")
    assert tok.pad_token is not None
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    return max(float((sa[k].float() - sb[k].float()).abs().max()) for k in sa)


def _write_pairs(train: Path, out: Path, prompt: PromptSpec, n: int) -> int:
    """A pairs file of `n` rows: the programmatic trace chosen, the same trace with the other verdict rejected."""
    spec = spec_for_prompt(prompt)
    rows = []
    for sample in read_samples(train)[:n]:
        good = trace_for(sample, spec)
        other = "b" if sample.label == "a" else "a"
        bad = good.replace(f"Response ({sample.label}) is better", f"Response ({other}) is better")
        assert bad != good
        rows.append(
            pair_row(
                item_key(sample),
                sample,
                spec,
                Completion(good, Verdict(sample.label, sample.abs_strength)),
                Completion(bad, Verdict(other, sample.abs_strength)),
                JUDGE,
                CRITIC_NEGATIVE,
                BRANCH_JUDGE_RIGHT,
            )
        )
    write_jsonl(out, rows)
    return len(rows)


@pytest.mark.slow
def test_dpo_under_torchrun_two_cpu_processes(
    tiny_recipe: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    pairs = tmp_path / "pairs.jsonl"
    stage = {
        "kind": "dpo",
        "model": "${stages.model.checkpoint}",
        "data": str(pairs),
        "rpo_alpha": 1.0,
        "lr": 1e-3,
        "max_steps": 4,
        "batch_size": 2,
        "max_length": 512,
        "save_steps": 2,
        "logging_steps": 1,
        "launcher": {"kind": "torchrun", "nproc_per_node": 2, "master_port": 29534, "cpu": True},
    }
    recipe = load_recipe(_with_stage(tiny_recipe, "dpo", stage))
    run_recipe(recipe, only="data")
    # the pairs carry the recipe's judge prompt, which the dpo stage checks row by row
    assert _write_pairs(recipe.run_dir / "data" / "train.jsonl", pairs, recipe.stages["dpo"].prompt, 16) == 16
    m = _launched(recipe, "dpo", capfd)
    assert "torch.distributed.run" in m["launcher"]["command"]
    # 16 pairs, 2 per process, 2 processes: 4 pairs per step, all 4 steps taken on every rank
    assert m["metrics"]["train_pairs"] == 16 and m["metrics"]["steps"] == 4
    assert m["metrics"]["loss_type"] == ["sigmoid", "sft"]
    run_dir = recipe.run_dir
    assert len(read_json(run_dir / "dpo" / "log_history.json")) >= 4
    assert _weights_moved(run_dir / "model" / "checkpoint", run_dir / "dpo" / "checkpoint") > 0


@pytest.mark.slow
def test_grpo_under_accelerate_two_cpu_processes(
    tiny_recipe: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    config = REPO / "recipes" / "accelerate" / "cpu_2proc.yaml"
    stage = {
        "kind": "grpo",
        "model": "${stages.model.checkpoint}",
        "data": "${stages.data.train}",
        "rewards": [{"name": "strength", "weight": 1.0}, {"name": "consistency", "weight": 0.5}],
        "num_generations": 2,
        "batch_size": 4,  # 4 completions per process = both orders of one item, 2 generations each
        "max_steps": 2,
        "max_completion_length": 12,
        "lr": 1e-3,
        # the untrained model's completions all score 0 (zero advantages); the entropy term still
        # gives a gradient, so the saved checkpoint shows that the two-process steps were taken
        "entropy_coef": 0.1,
        "logging_steps": 1,
        "save_steps": 2,
        "launcher": {
            "kind": "accelerate",
            "nproc_per_node": 2,
            "master_port": 29535,
            "cpu": True,
            "config_file": str(config),
        },
    }
    m = _launched(load_recipe(_with_stage(tiny_recipe, "grpo", stage)), "grpo", capfd)
    assert "accelerate.commands.launch" in m["launcher"]["command"]
    metrics = m["metrics"]
    assert metrics["world_size"] == 2 and metrics["steps"] == 2
    # both answer orders of every item reached one reward call on one process
    assert metrics["pairs_complete_min"] == 1.0 and metrics["train_prompts"] == 96
    run_dir = Path(m["outputs"]["checkpoint"]).parent
    history = read_json(run_dir / "log_history.json")
    assert [h["pairs_complete"] for h in history if "pairs_complete" in h] == [1.0, 1.0]
    assert (run_dir / "reward_curve.png").stat().st_size > 0
    assert _weights_moved(run_dir.parent / "model" / "checkpoint", run_dir / "checkpoint") > 0


@pytest.mark.parametrize("name", ["qwen2.5-7b.yaml", "qwen2.5-32b.yaml"])
def test_paper_scale_chains_dry_run(name: str) -> None:
    recipe = load_recipe(REPO / "recipes" / "think_j" / name)
    assert list(recipe.stages)[:7] == ["skywork", "distill", "sft", "critic", "data", "pairs", "dpo"]
    assert recipe.stages["distill"].teacher.kind == "openai"
    traces = str(recipe.stage_dir("distill") / "traces.jsonl")
    assert recipe.stages["sft"].data == recipe.stages["critic"].data == traces
    assert {"grpo", "rewardbench_official", "rewardbench_both_orders"} <= set(recipe.stages)
    assert recipe.stages["sft"].lr == pytest.approx(5e-6) and recipe.stages["sft"].epochs == 3
    dpo = recipe.stages["dpo"]
    assert (dpo.lr, dpo.epochs, dpo.beta, dpo.rpo_alpha) == (pytest.approx(1e-6), 2, 0.1, 1.0)
    grpo = recipe.stages["grpo"]
    assert (grpo.backend, grpo.num_generations, grpo.beta, grpo.verl.kl_loss_type) == (
        "verl",
        8,
        0.001,
        "low_var_kl",
    )
    assert recipe.launchers["sft"].kind == "torchrun" and recipe.launchers["grpo"].kind == "none"
    assert "distill" not in recipe.launchers  # the teacher is asked in-process
    text, problems = dry_run(recipe)  # no local trace file: the distill stage writes it
    assert problems == [], problems
    assert text.count("torch.distributed.run") == 3  # sft, critic, dpo


@pytest.mark.parametrize(
    ("name", "command"), [("qwen2.5-7b-grpo", "torch.distributed.run"), ("qwen2.5-7b-grpo-verl", "")]
)
def test_paper_scale_grpo_recipes_dry_run(name: str, command: str) -> None:
    recipe = load_recipe(REPO / "recipes" / "think_j" / f"{name}.yaml")
    grpo = recipe.stages["grpo"]
    assert (grpo.num_generations, grpo.lr, grpo.beta) == (8, pytest.approx(1e-6), 0.001)
    assert grpo.backend == ("verl" if name.endswith("verl") else "trl")
    text, problems = dry_run(recipe)
    assert problems == [], problems
    assert command in text.split("[grpo]")[1].split("\n\n")[0]
    assert "input model: Qwen/Qwen2.5-7B-Instruct (hub id" in text and not recipe.run_dir.exists()

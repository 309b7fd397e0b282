"""The GRPO stage config module and the one GRPOConfig builder: torch-free configs, no engine cycle, shared keys."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from judgerl.core.stage import StageContext
from judgerl.trainers.common import grpo_args, trl_grpo_config
from judgerl.trainers.grpo_config import OUTPUTS, GRPOStage
from judgerl.trainers.policy_grpo import PolicyGRPOStage, with_answer_match

TRAINERS = Path(__file__).resolve().parents[2] / "judgerl" / "trainers"
CONFIG_MODULES = (
    "sft",
    "dpo",
    "grpo_config",
    "grpo",
    "verl",
    "pair_construction",
    "policy_grpo",
    "tiny_model",
)
SHARED_KEYS = (
    "num_generations",
    "temperature",
    "top_p",
    "beta",
    "loss_type",
    "scale_rewards",
    "max_completion_length",
    "steps_per_generation",
    "log_completions",
)


def _judge_stage(**over) -> GRPOStage:
    base = dict(model="m", data="d", num_generations=4, batch_size=8, temperature=0.7, top_p=0.9)
    return GRPOStage(**{**base, **over})


def _policy_stage(**over) -> PolicyGRPOStage:
    base = dict(
        model="p",
        data="d",
        rewards=[{"name": "remote_judge", "url": "http://127.0.0.1:9"}],
        num_generations=4,
        batch_size=8,
    )
    return PolicyGRPOStage(**{**base, **over})


def test_stage_config_modules_import_no_torch() -> None:
    imports = "; ".join(f"import judgerl.trainers.{m}" for m in CONFIG_MODULES)
    heavy = ("torch", "transformers", "trl", "peft", "datasets")
    code = f"import sys; {imports}; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _trainer_imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):  # lazy imports inside functions included
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("judgerl.trainers."):
            found.add(node.module.split(".")[2])
    return found


def test_trainers_modules_form_no_import_cycle() -> None:
    graph = {p.stem: _trainer_imports(p) - {p.stem} for p in TRAINERS.glob("*.py")}
    assert "grpo" not in graph["verl"] and "grpo_config" in graph["verl"]
    assert {"grpo_config", "verl"} <= graph["grpo"] and "grpo" not in graph["grpo_config"]

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    assert [m for m in graph if reaches(m, m, {m})] == []


def test_grpo_args_sets_the_shared_keys_from_either_stage(tmp_path: Path) -> None:
    ctx = StageContext("grpo", tmp_path / "grpo", seed=7, progress=False)
    judge = _judge_stage(beta=0.02, loss_type="dr_grpo", steps_per_generation=2, log_completions=True)
    policy = _policy_stage()
    for stage in (judge, policy):
        args = grpo_args(stage, ctx, (1.0, 0.25))
        assert {k: args[k] for k in SHARED_KEYS} == {k: getattr(stage, k) for k in SHARED_KEYS}
        assert args["reward_weights"] == [1.0, 0.25]
        assert args["output_dir"] == str(tmp_path / "grpo" / "trainer") and args["seed"] == 7
        assert args["per_device_train_batch_size"] == 8 and args["learning_rate"] == stage.lr
    assert grpo_args(judge, ctx, [1.0])["loss_type"] == "dr_grpo"
    # each stage keeps its own defaults
    assert (policy.beta, policy.max_completion_length, policy.lr) == (0.0, 32, 1e-5)
    assert (judge.max_completion_length, _judge_stage().beta) == (512, 0.001)
    assert OUTPUTS == {"checkpoint": "checkpoint", "log": "log_history.json", "curve": "reward_curve.png"}


def test_trl_grpo_config_adds_engine_keys_and_refuses_a_shared_one(tmp_path: Path) -> None:
    ctx = StageContext("grpo", tmp_path / "grpo", seed=3, progress=False)
    stage = _judge_stage(bf16=False)
    config = trl_grpo_config(stage, ctx, [2.0], epsilon=0.3, num_iterations=2)
    assert type(config).__name__ == "GRPOConfig"
    assert (config.num_generations, config.temperature, config.top_p) == (4, 0.7, 0.9)
    assert (config.epsilon, config.num_iterations, config.reward_weights) == (0.3, 2, [2.0])
    assert config.generation_batch_size == 8  # batch_size x steps_per_generation (default grad_accum 1)
    with pytest.raises(TypeError, match="multiple values for keyword argument 'beta'"):
        trl_grpo_config(stage, ctx, [1.0], beta=0.5)


def test_judge_grpo_config_carries_its_own_keys(tmp_path: Path) -> None:
    from judgerl.trainers.grpo import _grpo_config

    ctx = StageContext("grpo", tmp_path / "grpo", seed=0, progress=False)
    stage = _judge_stage(
        bf16=False, epsilon_high=0.28, entropy_coef=0.01, use_vllm=True, vllm_server_base_url="http://h:8000"
    )
    config = _grpo_config(stage, ctx, [1.0])
    assert (config.epsilon, config.epsilon_high, config.entropy_coef) == (0.2, 0.28, 0.01)
    assert config.use_vllm and config.vllm_server_base_url == "http://h:8000"
    assert config.beta == 0.001 and config.loss_type == "dapo"


def test_answer_match_reads_completions_as_the_reward_adapter_does() -> None:
    stats: dict[str, float] = {}
    logged: list[tuple[str, float]] = []

    def judge_reward(prompts=None, completions=(), **columns) -> list[float]:
        return [0.5] * len(completions)

    reward = with_answer_match(judge_reward, stats)
    completions = [
        [{"role": "assistant", "content": "The sum is 85."}],
        [{"role": "assistant", "content": [{"type": "text", "text": "So 85."}]}],  # content parts
        "The sum is 58.",
        [{"role": "assistant", "content": "no number"}],
    ]
    scores = reward(
        prompts=["q"] * 4,
        completions=completions,
        answer=["85"] * 4,
        reference=["The sum is 85."] * 4,
        log_metric=lambda name, value: logged.append((name, value)),
    )
    assert scores == [0.5] * 4 and reward.__name__ == "judge_reward"
    assert stats == {"answer_match_last": 0.5, "calls": 1} and logged == [("answer_match", 0.5)]

"""What each command that mirrors a stage hands to it: the old flags build the same config as before.

The stage functions are replaced by a stub that keeps the config and stops the command, so
nothing is loaded or run.
"""

from __future__ import annotations

from typing import Any

import pytest

from judgerl.cli.command_parser import subcommand
from judgerl.cli.main import build_parser, main
from judgerl.core.errors import JudgeRLError
from judgerl.judge_spec.families import PromptSpec


def _capture(monkeypatch: pytest.MonkeyPatch, module: Any, attr: str) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def stub(stage: Any, *args: Any, **kwargs: Any) -> Any:
        seen["stage"], seen["args"] = stage, args
        raise JudgeRLError("captured")

    monkeypatch.setattr(module, attr, stub)
    return seen


def test_scaling_flags_build_the_scaling_stage(monkeypatch: pytest.MonkeyPatch) -> None:
    from judgerl.eval.scaling import stage as scaling

    seen = _capture(monkeypatch, scaling, "run_scaling")
    base = ["scaling", "--candidates", "c.jsonl", "--judge", "oracle:0,oracle:0.5", "--judge", "http:u"]
    assert main(base) == 2
    assert seen["stage"] == scaling.ScalingStage(
        candidates="c.jsonl", judges=["oracle:0", "oracle:0.5", "http:u"]
    )
    argv = [*base, "--k", "4,1", "--T", "0,inf", "--one-order", "--theory", "--on-bad-row", "skip"]
    argv += ["--http-retries", "0", "--prompt", "cot", "--instruction", "compact", "--n", "3"]
    argv += ["--policy-temperature", "0.2", "--dtype", "float32"]  # stage keys the command gained
    assert main(argv) == 2
    stage = seen["stage"]
    assert (stage.k, stage.T, stage.both_orders, stage.theory, stage.on_bad_row) == (
        [1, 4],
        [0.0, float("inf")],
        False,
        True,
        "skip",
    )
    assert (stage.http_retries, stage.n, stage.policy_temperature, stage.dtype) == (0, 3, 0.2, "float32")
    assert stage.prompt == PromptSpec("cot", instruction="compact")


def test_every_scaling_stage_key_has_a_flag() -> None:
    from judgerl.eval.scaling.stage import ScalingStage

    parser = build_parser()
    scaling = subcommand(parser, "scaling")
    dests = {a.dest for a in scaling._actions}
    # the endpoint mapping is set by the endpoint flags (--base-url, --api-key-env, ...)
    assert set(ScalingStage.model_fields) - {"kind", "endpoint"} <= dests
    assert {"base_url", "api_key_env", "concurrency"} <= dests


def test_every_probe_train_key_has_a_flag() -> None:
    from judgerl.probes.operations import ProbeTrainConfig
    from judgerl.probes.train import TrainSpec

    train = subcommand(subcommand(build_parser(), "probe"), "train")
    dests = {a.dest for a in train._actions} | {"cache_dir"}  # --cache sets cache_dir
    assert (set(ProbeTrainConfig.model_fields) - {"train"}) | set(TrainSpec.model_fields) <= dests


def test_eval_flags_build_the_eval_stage() -> None:
    from judgerl.cli.eval import pairwise_stage
    from judgerl.eval import stage as eval_stage
    from judgerl.models.decoding_config import DecodingSpec

    parser = build_parser()
    stage = pairwise_stage(parser.parse_args(["eval", "--model", "m", "--data", "t.jsonl"]))
    assert stage == eval_stage.EvalStage(
        model="m",
        data={"kind": "local", "path": "t.jsonl", "on_bad_row": "stop"},
        prompt=None,  # no prompt flag: the model's own judge spec
        max_new_tokens=512,
        batch_size=32,
    )
    argv = ["eval", "--model", "m", "--data", "llmbar:d", "--one-order", "--backend", "speculative"]
    argv += ["--draft", "dr", "--max-samples", "5", "--instruction", "compact", "--on-bad-row", "skip"]
    stage = pairwise_stage(parser.parse_args(argv))
    assert stage.data == {"kind": "llmbar", "path": "d", "on_bad_row": "skip"} and stage.both_orders is False
    assert stage.decoding == DecodingSpec(draft="dr", window=16) and stage.max_samples == 5
    assert stage.prompt == PromptSpec(instruction="compact")
    same = pairwise_stage(parser.parse_args(["eval", "pairwise", "--model", "m", "--data", "x.csv"]))
    assert same.data == {"kind": "local", "path": "x.csv", "on_bad_row": "stop"}
    forced = pairwise_stage(
        parser.parse_args(["eval", "--model", "m", "--data", "x.json", "--format", "llmbar"])
    )
    assert forced.data["format"] == "llmbar"


def test_eval_rewardbench_flags_keep_the_command_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    from judgerl.cli import eval_data
    from judgerl.eval.rewardbench import stage as rb

    seen = _capture(monkeypatch, rb, "run_rewardbench")
    monkeypatch.setattr(eval_data, "judge_tokenizer", lambda *args: None)  # no model "m" to read
    assert main(["eval", "rewardbench", "--model", "m"]) == 2
    # the command's --max-new-tokens default (512) is passed, not the stage's (1024), as before
    assert seen["stage"] == rb.RewardBenchStage(model="m", max_new_tokens=512)
    argv = ["eval", "rewardbench", "--model", "m", "--version", "2", "--v2-mode", "ratings"]
    argv += ["--subsets", "Math,Focus", "--order-seed", "5", "--model-name", "judge", "--no-plots"]
    assert main([*argv, "--tensor-parallel-size", "2", "--backend", "vllm", "--data", "x.parquet"]) == 2
    stage = seen["stage"]
    assert (stage.version, stage.v2_mode, stage.subsets, stage.order_seed, stage.model_name) == (
        2,
        "ratings",
        ["Math", "Focus"],
        5,
        "judge",
    )
    assert (stage.plots, stage.tensor_parallel_size, stage.backend, stage.data) == (
        False,
        2,
        "vllm",
        "x.parquet",
    )


def test_probe_train_flags_build_the_probe_config(monkeypatch: pytest.MonkeyPatch) -> None:
    from judgerl.probes import operations

    seen = _capture(monkeypatch, operations, "train_probes")
    argv = ["probe", "train", "--data", "l.jsonl", "--model", "enc", "--out", "o", "--column", "ok"]
    argv += ["--layers", "2,-1,middle", "--folds", "3", "--C", "0.1,1", "--pooling", "max"]
    assert main([*argv, "--classifier", "svm", "--cache", "c", "--seed", "7"]) == 2
    assert seen["stage"] == operations.ProbeTrainConfig(
        data="l.jsonl",
        model="enc",
        out="o",
        column="ok",
        layers=[2, -1, "middle"],
        pooling="max",
        cache_dir="c",
        train={"folds": 3, "Cs": [0.1, 1.0], "classifier": "svm", "seed": 7},
    )
    assert main(["probe", "train", "--data", "l.jsonl", "--model", "enc", "--out", "o"]) == 2
    cfg = seen["stage"]
    assert (cfg.threshold, cfg.template, cfg.balance, cfg.layers, cfg.train.folds) == (
        4.0,
        "aspect",
        True,
        ["all"],
        5,
    )
    argv = ["probe", "train", "--data", "l.jsonl", "--model", "enc", "--out", "o", "--threshold", "none"]
    assert main([*argv, "--no-balance", "--on-bad-row", "skip"]) == 2
    cfg = seen["stage"]
    assert (cfg.threshold, cfg.balance, cfg.on_bad_row) == (None, False, "skip")


def test_serve_flags_carry_the_spec_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    from judgerl.core.serve_options import BIND_DEFAULTS, SERVE_DEFAULTS
    from judgerl.serving import server

    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    monkeypatch.setattr(server, "serve", lambda *a, **kw: calls.append((a, kw)))
    monkeypatch.delenv("JUDGERL_SERVE_TOKEN", raising=False)
    assert main(["serve", "--model", "ckpt"]) == 0
    args, kwargs = calls[-1]
    assert args == ("ckpt",)
    options = {k: getattr(SERVE_DEFAULTS, k) for k in type(SERVE_DEFAULTS).model_fields}
    assert kwargs == {
        **BIND_DEFAULTS.model_dump(),
        **options,
        "prompt": None,  # no prompt flag: the spec saved with the model
        "judge_spec": None,
        "score_spec": None,
        "unparsed_reward": 0.0,
    }
    assert kwargs["max_batch"] == 32 and kwargs["port"] == 8000
    monkeypatch.setenv("JUDGERL_SERVE_TOKEN", "from-env")
    argv = ["serve", "--model", "ckpt", "--max-batch", "4", "--port", "9", "--backend", "vllm"]
    assert main([*argv, "--prompt", "cot", "--instruction", "compact"]) == 0
    kwargs = calls[-1][1]
    assert (kwargs["max_batch"], kwargs["port"], kwargs["backend"], kwargs["token"]) == (
        4,
        9,
        "vllm",
        "from-env",
    )
    assert kwargs["prompt"] == PromptSpec("cot", instruction="compact")
    assert main([*argv, "--token", "given"]) == 0 and calls[-1][1]["token"] == "given"

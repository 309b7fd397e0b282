"""The one serve-options spec: its defaults everywhere, flags and server command lines generated from it."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

import pytest

from judgerl.cli.command_parser import subcommand
from judgerl.cli.main import build_parser
from judgerl.core.serve_options import (
    BIND_DEFAULTS,
    SERVE_DEFAULTS,
    ServeBind,
    ServeOptions,
    out_of_range,
    serve_args,
)
from judgerl.judge_spec.families import PromptSpec
from judgerl.serving.app import ServeSettings
from judgerl.serving.process import JudgeServerProcess
from judgerl.serving.server import check_numbers, serve
from judgerl.trainers.policy_grpo import JudgeServerSpec

REPO = Path(__file__).resolve().parents[2]


def test_one_set_of_defaults_max_batch_32() -> None:
    assert SERVE_DEFAULTS.model_dump() == {
        "max_batch": 32,
        "max_wait_ms": 10.0,
        "max_new_tokens": 512,
        "request_timeout": 120.0,
        "backend": "hf",
        "device": "auto",
    }
    assert (BIND_DEFAULTS.host, BIND_DEFAULTS.port, BIND_DEFAULTS.token) == ("127.0.0.1", 8000, None)
    # the dump (and so a stage's config hash) leaves out read_timeout, and scoring at its default
    assert (SERVE_DEFAULTS.scoring, SERVE_DEFAULTS.read_timeout) == ("generate", 15.0)
    defaults = {k: getattr(SERVE_DEFAULTS, k) for k in ServeOptions.model_fields}
    params = inspect.signature(serve).parameters
    for name, value in {**defaults, **BIND_DEFAULTS.model_dump()}.items():
        assert params[name].default == value, name
    settings = ServeSettings()
    assert (settings.max_batch, settings.max_wait_ms, settings.request_timeout) == (32, 10.0, 120.0)
    assert settings.sampling.max_new_tokens == 512
    spec = JudgeServerSpec(model="j")
    assert isinstance(spec, ServeOptions) and spec.max_batch == 32  # was 64 before the one spec
    assert {k: getattr(spec, k) for k in ServeOptions.model_fields} == defaults
    assert ServeOptions(scoring="logprob").model_dump()["scoring"] == "logprob"


def test_the_serve_parser_reads_back_what_a_policy_stage_generates() -> None:
    serve_parser = subcommand(build_parser(), "serve")
    for spec in (
        JudgeServerSpec(model="j"),
        JudgeServerSpec(
            model="j", max_batch=128, max_wait_ms=20, max_new_tokens=150, backend="vllm", device="cuda"
        ),
        JudgeServerSpec(model="j", scoring="logprob", read_timeout=3),
    ):
        args = spec.cli_args(PromptSpec("cot", instruction="compact"))
        assert args[-4:] == ["--prompt", "cot", "--instruction", "compact"]
        parsed = serve_parser.parse_args(["--model", spec.model, *args])
        assert {k: getattr(parsed, k) for k in ServeOptions.model_fields} == {
            k: getattr(spec, k) for k in ServeOptions.model_fields
        }
        assert (parsed.prompt, parsed.instruction) == ("cot", "compact")
    # the extra keys of the stage's spec are not server flags
    assert "--ready-timeout" not in JudgeServerSpec(model="j", threads=2).cli_args(PromptSpec())
    with pytest.raises(ValueError, match="judge prompt must be one of"):
        JudgeServerSpec(model="j").cli_args(PromptSpec("strength", hint="positive"))
    with pytest.raises(ValueError, match="scoring: 'logprob' needs backend: hf or openai, got backend: vllm"):
        JudgeServerSpec(model="j", scoring="logprob", backend="vllm")


def test_serve_flags_are_the_spec_fields() -> None:
    serve_parser = subcommand(build_parser(), "serve")
    flags = {s for a in serve_parser._actions for s in a.option_strings}
    assert {
        "--" + f.replace("_", "-") for f in (*ServeBind.model_fields, *ServeOptions.model_fields)
    } <= flags
    text = serve_parser.format_help()
    assert "prompts per generate call" in text and "$JUDGERL_SERVE_TOKEN" in text


def test_serve_args_leaves_out_none_and_takes_named_fields() -> None:
    assert serve_args(ServeOptions(max_batch=8)) == [
        "--max-batch", "8", "--max-wait-ms", "10.0", "--max-new-tokens", "512",
        "--request-timeout", "120.0", "--backend", "hf", "--device", "auto",
        "--scoring", "generate", "--read-timeout", "15.0",
    ]  # fmt: skip
    assert serve_args(ServeBind(port=9), fields=("host", "port", "token")) == [
        "--host",
        "127.0.0.1",
        "--port",
        "9",
    ]


def test_range_checks_come_from_the_field_bounds() -> None:
    assert out_of_range({"port": -1, "max_batch": 1, "max_wait_ms": -0.5, "max_new_tokens": 0}) == [
        "--port -1 must be in 0..65535",
        "--max-wait-ms -0.5 must be >= 0",
        "--max-new-tokens 0 must be >= 1",
    ]
    assert out_of_range({**SERVE_DEFAULTS.model_dump(), "port": 8000}) == []
    with pytest.raises(
        Exception,
        match=r"bad serve settings: --port 70000 must be in 0..65535; --request-timeout 0 must be > 0",
    ):
        check_numbers(70000, 32, 10.0, 512, 0)


def test_server_process_command_line() -> None:
    server = JudgeServerProcess("ckpt", port=8123, extra_args=["--max-batch", "4"])
    assert server.command() == [
        sys.executable, "-m", "judgerl", "serve", "--model", "ckpt",
        "--host", "127.0.0.1", "--port", "8123", "--max-batch", "4",
    ]  # fmt: skip


def test_shipped_policy_recipe_keeps_its_judge_server_config() -> None:
    """The config hash of a policy_grpo stage reads the judge_server dump: same keys, same values."""
    from judgerl.recipe import load_recipe

    recipe = load_recipe(REPO / "recipes" / "policy_with_judge.yaml")
    dumped = recipe.stages["policy_grpo"].model_dump(mode="json")["judge_server"]
    assert dumped == {
        "model": str(Path(recipe.run_dir) / "sft" / "checkpoint"),
        "max_batch": 128,
        "max_wait_ms": 20.0,
        "max_new_tokens": 150,
        "request_timeout": 120.0,
        "ready_timeout": 180.0,
        "backend": "hf",
        "device": "auto",
        "threads": None,
    }

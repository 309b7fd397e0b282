"""`backend: openai` in the stages that judge (eval, the benchmarks, pairs, scaling) against a scripted
OpenAI-compatible server on loopback: the keys and their errors, old stages' dumps unchanged, a URL given
as --model, an eval that resumes after the server went down, pairs and a scaling judge over the endpoint."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError

from judgerl.cli.main import main
from judgerl.core.jsonl import read_jsonl
from judgerl.core.samples import write_samples
from judgerl.core.stage import StageContext
from judgerl.eval.judgebench.stage import JudgeBenchStage
from judgerl.eval.rewardbench.stage import RewardBenchStage
from judgerl.eval.rmbench.stage import RMBenchStage
from judgerl.eval.scaling.judges.base import JudgeOptions
from judgerl.eval.scaling.judges.generative import build_generative_judge
from judgerl.eval.scaling.stage import ScalingStage
from judgerl.eval.stage import EvalStage, run_eval
from judgerl.models.decoding_config import EndpointSpec
from judgerl.models.generation.openai import EndpointError
from judgerl.trainers.pair_construction import PairsStage, run_pairs
from tests.distill.conftest import make_sample
from tests.models.openai_fake import FakeOpenAI, fake_app
from tests.serving.conftest import live_server


@pytest.fixture(scope="module")
def fake_openai() -> Iterator[FakeOpenAI]:
    state = FakeOpenAI()
    with live_server(fake_app(state)) as url:
        state.url = url + "/v1"
        yield state


@pytest.fixture
def fake(fake_openai: FakeOpenAI) -> FakeOpenAI:
    return fake_openai.reset()


def _data(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "samples.jsonl"
    write_samples(path, [make_sample(i, "ab"[i % 2], strength=None) for i in range(n)])
    return path


def test_the_endpoint_key_fits_the_backend_and_older_stages_keep_their_dumps() -> None:
    url = {"base_url": "http://127.0.0.1:8000/v1"}
    with pytest.raises(ValidationError, match="backend 'openai' needs endpoint"):
        EvalStage(data="d.jsonl", backend="openai")
    with pytest.raises(ValidationError, match="applies to backend openai only, but backend is 'hf'"):
        EvalStage(model="m", data="d.jsonl", endpoint=url)
    with pytest.raises(ValidationError, match="model is required with backend 'hf'"):
        EvalStage(data="d.jsonl")
    with pytest.raises(ValidationError, match=r"is a URL: to judge with a model behind .* backend: openai"):
        JudgeBenchStage(model="http://127.0.0.1:8765/v1", data="jb.jsonl")
    with pytest.raises(ValidationError, match="is a URL: with backend openai, model is the name"):
        RMBenchStage(model="http://h/v1", data="rm.json", backend="openai", endpoint=url)
    with pytest.raises(ValidationError, match="scoring: logprob over an endpoint needs endpoint.tokenizer"):
        RewardBenchStage(backend="openai", endpoint=url, scoring="logprob")
    with pytest.raises(ValidationError, match="extra_body may not set"):
        EndpointSpec(**url, extra_body={"seed": 1})
    with pytest.raises(ValidationError, match="base_url must start with http"):
        EndpointSpec(base_url="127.0.0.1:8000/v1")
    served = EvalStage(
        data="d.jsonl", backend="openai", endpoint={**url, "tokenizer": "t"}, scoring="logprob"
    )
    assert served.model is None and served.model_dump()["endpoint"]["base_url"] == url["base_url"]
    pairs = PairsStage(judge="judge", critic="critic", data="d", backend="openai", endpoint=url)
    assert pairs.endpoint is not None and pairs.endpoint.concurrency == 8
    old = [
        EvalStage(model="m", data="d.jsonl"),
        RewardBenchStage(model="m"),
        JudgeBenchStage(model="m", data="jb.jsonl"),
        RMBenchStage(model="m", data="rm.json"),
        PairsStage(judge="j", critic="c", data="d"),
        ScalingStage(candidates="c.jsonl"),
    ]
    for stage in old:  # no new key in the dump: the config hashes of finished runs hold
        dumped = stage.model_dump(mode="json")
        assert "endpoint" not in dumped and (not isinstance(stage, EvalStage) or "model_name" not in dumped)


def test_a_url_given_as_the_model_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    data = _data(tmp_path, 2)
    url = "http://127.0.0.1:8765/v1"
    for command in (["eval"], ["eval", "judgebench"], ["eval", "rmbench"], ["eval", "rewardbench"]):
        assert main([*command, "--model", url, "--data", str(data), "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and "is a URL" in err and "--backend openai --base-url URL" in err, command
    assert main(["eval", "--model", "m", "--data", str(data), "--base-url", url]) == 2
    assert "applies to backend openai only" in capsys.readouterr().err
    assert main(["eval", "--backend", "openai", "--concurrency", "4", "--data", str(data)]) == 2
    assert "--concurrency: endpoint settings need --backend openai --base-url URL" in capsys.readouterr().err


def test_judgerl_eval_over_an_endpoint_resumes_after_the_server_went_down(
    tmp_path: Path, fake: FakeOpenAI, capsys: pytest.CaptureFixture
) -> None:
    data, out = _data(tmp_path, 70), tmp_path / "out"
    args = ["eval", "--backend", "openai", "--base-url", fake.url, "--model-name", "served-judge",
            "--data", str(data), "--out", str(out), "--prompt", "cot", "--retries", "0"]  # fmt: skip
    fake.budget = 130  # 140 judgements (both orders): the server goes down before the last ones
    assert main(args) == 2
    assert "HTTP 503" in capsys.readouterr().err
    before = len(read_jsonl(out / "predictions.partial.jsonl"))
    assert 0 < before < 140
    fake.reset()
    assert main(args) == 0
    asked = fake.bodies("chat/completions")  # (a request cancelled in the first run may land late)
    assert len({b["messages"][-1]["content"] for b in asked}) == 140 - before
    assert {b["model"] for b in asked} == {"judge"}  # the only served model
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model"] == "served-judge" and metrics["overall"]["single_accuracy"] == 1.0
    assert metrics["judging_attempts"] == 2 and len(read_jsonl(out / "predictions.jsonl")) == 140
    decoding = metrics["decoding"]  # this attempt's requests, tokens and seconds
    assert decoding["backend"] == "openai" and decoding["requests"] == 140 - before
    assert decoding["prompt_tokens"] == 10 * (140 - before) and decoding["wall_s"] > 0


def test_an_eval_stage_stops_on_a_refused_prompt_or_counts_it(tmp_path: Path, fake: FakeOpenAI) -> None:
    path = tmp_path / "s.jsonl"
    write_samples(path, [make_sample(0), make_sample(1, tag="REFUSE")])
    endpoint = {"base_url": fake.url, "retries": 0}
    stage = EvalStage(data=str(path), backend="openai", endpoint=endpoint, both_orders=False)
    with pytest.raises(EndpointError, match="refused prompt 1 of this batch"):
        run_eval(stage, StageContext("e", tmp_path / "a", progress=False))
    stage = stage.model_copy(update={"endpoint": EndpointSpec(**endpoint, on_refused="empty")})
    result = run_eval(stage, StageContext("e", tmp_path / "b", progress=False))
    metrics = json.loads(Path(result.outputs["metrics"]).read_text())
    assert metrics["overall"]["parse_failure_rate"] == 0.5 and metrics["decoding"]["refused"] == 1


def test_pairs_ask_the_judge_and_the_critic_by_their_served_names(tmp_path: Path, fake: FakeOpenAI) -> None:
    fake.models = ["judge", "critic"]
    stage = PairsStage(
        judge="judge", critic="critic", data=str(_data(tmp_path, 4)), backend="openai",
        endpoint={"base_url": fake.url}, prompt={"family": "cot"}, max_new_tokens=32,
    )  # fmt: skip
    stats = run_pairs(stage, StageContext("pairs", tmp_path / "pairs", progress=False)).metrics
    models = [b["model"] for b in fake.bodies("chat/completions")]
    assert models[:4] == ["judge"] * 4 and set(models[4:]) == {"critic"} and len(models) == 8
    assert stats["decoding"]["judge"]["requests"] == 4 and stats["decoding"]["critic"]["requests"] == 4
    assert {b["temperature"] for b in fake.bodies("chat/completions")} == {1.0}


def test_a_generative_scaling_judge_scores_through_the_endpoint(fake: FakeOpenAI) -> None:
    fake.reply = lambda prompt: "7" if "2 + 2" in prompt else "no score"
    options = JudgeOptions(backend="openai", endpoint=EndpointSpec(base_url=fake.url), progress=False)
    judge = build_generative_judge("judge", "generative:judge", [], options)
    (scores,) = judge.score_batch(["What is 2 + 2?"], [["4", "5"]])
    assert scores.scores == [7.0, 7.0] and scores.failures == 0
    assert {b["model"] for b in fake.bodies("chat/completions")} == {"judge"}

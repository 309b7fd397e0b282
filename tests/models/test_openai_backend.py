"""The `openai` generation backend against a scripted OpenAI-compatible server on loopback: request bodies,
order under bounded concurrency, n, raw prompts, reasoning fields, retries, refusals, setup errors, the
API key, and prompt log-probabilities for `scoring: logprob`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from judgerl.judge_spec.families import PromptSpec
from judgerl.judge_spec.presets import builtin_spec
from judgerl.models.decoding_config import EndpointSpec
from judgerl.models.generation import SamplingSpec, make_generator
from judgerl.models.generation.hf import HFGenerator
from judgerl.models.generation.openai import EndpointError, OpenAIGenerator
from judgerl.models.logprob_judge import LogprobJudge
from judgerl.serving.process import free_port
from tests.distill.conftest import make_sample
from tests.prompts import rendered
from tests.serving.conftest import live_server

from .openai_fake import FakeOpenAI, fake_app


@pytest.fixture(scope="module")
def fake_openai() -> Iterator[FakeOpenAI]:
    state = FakeOpenAI()
    with live_server(fake_app(state)) as url:
        state.url = url + "/v1"
        yield state


@pytest.fixture
def fake(fake_openai: FakeOpenAI) -> FakeOpenAI:
    return fake_openai.reset()


def _gen(fake: FakeOpenAI, model: str | None = "judge", **endpoint) -> OpenAIGenerator:
    spec = {"base_url": fake.url, "retries": 1, "backoff": 0.01, **endpoint}
    return make_generator("openai", model, endpoint=EndpointSpec(**spec))  # type: ignore[return-value]


def _prompts(n: int) -> list[list[dict[str, str]]]:
    return [rendered(make_sample(i, "ab"[i % 2]), PromptSpec("cot")) for i in range(n)]


def test_greedy_completions_come_back_in_order_with_bounded_concurrency(fake: FakeOpenAI) -> None:
    fake.delay = 0.05
    gen = _gen(fake, concurrency=3)
    outs = gen.generate(_prompts(12), SamplingSpec(max_new_tokens=16, n=2), progress=False)
    assert all(o[0].endswith(f"Response ({'ab'[i % 2]}) is better.") for i, o in enumerate(outs))
    assert all(len(o) == 2 and o[0] == o[1] for o in outs)  # greedy: asked once, repeated n times
    bodies = fake.bodies("chat/completions")
    assert len(bodies) == 12 and 2 <= fake.max_in_flight <= 3
    assert {(b["model"], b["n"], b["max_tokens"], b["temperature"]) for b in bodies} == {
        ("judge", 1, 16, 0.0)
    }
    assert sorted(b["seed"] for b in bodies) == [2 * i for i in range(12)]
    stats = gen.stats.summary()
    assert (stats["prompts"], stats["requests"], stats["refused"], stats["retries"]) == (12, 12, 0, 0)
    assert (stats["prompt_tokens"], stats["completion_tokens"]) == (120, 36)
    assert stats["wall_s"] > 0 and stats["tokens_per_s"] > 0


def test_n_samples_in_one_request_or_in_n_requests_with_their_own_seeds(fake: FakeOpenAI) -> None:
    spec = SamplingSpec(temperature=0.7, top_p=0.9, n=3, seed=5, max_new_tokens=8)
    outs = _gen(fake, use_n=True).generate(_prompts(2), spec, progress=False)
    bodies = fake.bodies("chat/completions")
    assert [len(o) for o in outs] == [3, 3] and [b["n"] for b in bodies] == [3, 3]
    assert {(b["temperature"], b["top_p"]) for b in bodies} == {(0.7, 0.9)}
    fake.reset().delay = 0.05
    outs = _gen(fake, concurrency=2).generate(_prompts(2), spec, progress=False)
    bodies = fake.bodies("chat/completions")
    assert [len(o) for o in outs] == [3, 3] and [b["n"] for b in bodies] == [1] * 6
    assert fake.max_in_flight == 2  # the bound is on requests, not prompts
    assert sorted(b["seed"] for b in bodies) == [5, 6, 7, 8, 9, 10]  # distinct: the samples differ


def test_raw_prompts_use_completions_and_a_separate_reasoning_field_becomes_the_think_block(
    fake: FakeOpenAI,
) -> None:
    gen = _gen(fake)
    (out,) = gen.generate(["[The Start of Response (a)] GOOD [The End of Response (a)]"], SamplingSpec())
    assert out == ["<think>a says GOOD</think>\n\nTherefore, Response (a) is better."]
    assert fake.bodies("completions")[0]["prompt"].startswith("[The Start")
    fake.reasoning = True
    (out,) = gen.generate(_prompts(1), SamplingSpec(), progress=False)
    assert out == ["<think>\na says GOOD\n</think>\n\nTherefore, Response (a) is better."]


def test_overloaded_replies_are_retried_and_counted(fake: FakeOpenAI) -> None:
    fake.fail.extend([503, 429])
    gen = _gen(fake, concurrency=1, retries=2)
    outs = gen.generate(_prompts(2), SamplingSpec(), progress=False)
    assert len(fake.requests) == 4 and all(o[0].endswith("is better.") for o in outs)
    assert (gen.stats.requests, gen.stats.retries) == (2, 2)


def test_a_refused_prompt_stops_or_becomes_an_empty_completion(fake: FakeOpenAI) -> None:
    prompts = _prompts(3)
    prompts[1][-1]["content"] += " REFUSE"
    with pytest.raises(EndpointError, match=r"refused prompt 1 of this batch \(HTTP 400: prompt too long\)"):
        _gen(fake).generate(prompts, SamplingSpec(), progress=False)
    gen = _gen(fake, on_refused="empty")
    outs = gen.generate(prompts, SamplingSpec(n=2), progress=False)
    assert outs[1] == ["", ""] and outs[0][0] and outs[2][0] and gen.stats.refused == 1
    every = [[{"role": "user", "content": "REFUSE"}]] * 8
    with pytest.raises(EndpointError, match="refused the first 8 prompts"):
        _gen(fake, on_refused="empty", concurrency=1).generate(every, SamplingSpec(), progress=False)


def test_setup_problems_are_one_line_errors(fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(EndpointError, match=r"HTTP 404: model 'other' not found \(base_url is the API root"):
        _gen(fake, model="other").generate(_prompts(1), SamplingSpec(), progress=False)
    assert _gen(fake, model=None).model == "judge"  # the endpoint's only model
    fake.models = ["judge", "judge-lora"]
    with pytest.raises(EndpointError, match=r"serves 2 models \(judge, judge-lora\): name one with model:"):
        _gen(fake, model=None)
    monkeypatch.delenv("OPENAI_BACKEND_TEST_KEY", raising=False)
    with pytest.raises(EndpointError, match="OPENAI_BACKEND_TEST_KEY, which is not set"):
        _gen(fake, api_key_env="OPENAI_BACKEND_TEST_KEY")
    monkeypatch.setenv("OPENAI_BACKEND_TEST_KEY", "sk-secret-123")
    gen = _gen(fake, api_key_env="OPENAI_BACKEND_TEST_KEY")
    gen.generate(_prompts(1), SamplingSpec(), progress=False)
    assert fake.headers[-1]["authorization"] == "Bearer sk-secret-123"
    shown = f"{gen!r} {gen.name} {gen.stats.summary()} {gen.endpoint.model_dump()}"
    assert "sk-secret" not in shown


def test_unreachable_endpoint_names_the_attempts() -> None:
    gen = OpenAIGenerator(
        "judge", {"base_url": f"http://127.0.0.1:{free_port()}/v1", "retries": 1, "backoff": 0}
    )
    with pytest.raises(EndpointError, match=r"failed on prompt 0 after 2 attempt\(s\): ConnectError"):
        gen.generate(_prompts(1), SamplingSpec(), progress=False)


def _model_logprobs(model: torch.nn.Module):
    def logprobs(ids: list[int]) -> list[float]:
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([ids])).logits[0].float()
        logp = torch.log_softmax(logits[:-1], dim=-1)
        return [0.0, *logp[torch.arange(len(ids) - 1), torch.tensor(ids[1:])].tolist()]

    return logprobs


def test_logprob_verdicts_over_an_endpoint_equal_the_in_process_ones(
    fake: FakeOpenAI, tiny_checkpoint: Path, tiny_pair
) -> None:
    model, tok = tiny_pair
    fake.logprobs = _model_logprobs(model)
    prompts = _prompts(4)
    spec = SamplingSpec(max_new_tokens=8)
    for family in ("direct", "strength"):
        local = LogprobJudge(HFGenerator(model, tok), builtin_spec(family)).score(
            prompts, spec, progress=False
        )
        gen = _gen(fake, tokenizer=str(tiny_checkpoint))
        remote = LogprobJudge(gen, builtin_spec(family)).score(prompts, spec, progress=False)
        assert [r.choice for r in remote] == [r.choice for r in local]
        assert [r.strength for r in remote] == [r.strength for r in local]
        for r, h in zip(remote, local, strict=True):
            # the server scores each whole sequence, the local path reuses the prompt's KV cache:
            # float32 sums of a few hundred nats agree to about 1e-3 of their size
            assert r.logprobs == pytest.approx(h.logprobs, rel=2e-3)
    bodies = fake.bodies("completions")
    assert len(bodies) == 4 * 2 + 4 * 6  # one request per candidate sentence
    assert all(b["echo"] and b["logprobs"] == 1 and b["max_tokens"] == 1 for b in bodies)
    assert all(isinstance(b["prompt"], list) and isinstance(b["prompt"][0], int) for b in bodies)
    fake.logprobs = None
    gen = _gen(fake, tokenizer=str(tiny_checkpoint))
    with pytest.raises(EndpointError, match="needs the log-probabilities of the prompt's tokens"):
        LogprobJudge(gen, builtin_spec("direct")).score(prompts, spec, progress=False)
    with pytest.raises(EndpointError, match="needs endpoint.tokenizer"):
        LogprobJudge(_gen(fake), builtin_spec("direct"))

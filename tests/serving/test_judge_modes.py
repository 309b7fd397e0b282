"""Judging modes of the server: both orders in one /v1/judge request, verdicts by log-probability
(`--scoring logprob`, the same reader as `judgerl eval --scoring logprob`), and OpenRLHF's older
`query`-only /get_reward request."""

from __future__ import annotations

import httpx
import pytest

from judgerl.cli.main import main
from judgerl.core.types import JudgeSample
from judgerl.judge_spec.presets import builtin_spec
from judgerl.judge_spec.render import judge_prompt
from judgerl.models.generation import SamplingSpec
from judgerl.models.generation.hf import make_hf_generator
from judgerl.models.logprob_judge import LogprobJudge
from judgerl.serving.app import ServeSettings, create_app
from judgerl.serving.schemas import BothOrdersResponse, JudgeResponse
from tests.serving.conftest import ScriptedGenerator, live_server

DIRECT = builtin_spec("direct")


class Recording(ScriptedGenerator):
    """ScriptedGenerator that keeps the last user turn of every prompt it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def generate(self, prompts, spec, progress=True, desc=""):
        self.seen.extend(p[-1]["content"] for p in prompts)
        return super().generate(prompts, spec, progress, desc)


@pytest.fixture(scope="module")
def hf_gen(tiny_judge):
    return make_hf_generator(str(tiny_judge), device="cpu")


def _post(url: str, path: str, body: dict) -> httpx.Response:
    return httpx.post(url + path, json=body, timeout=60, trust_env=False)


def test_both_orders_in_one_request_with_agreement() -> None:
    gen = ScriptedGenerator()
    settings = ServeSettings(sampling=SamplingSpec(max_new_tokens=8), max_wait_ms=50)
    with live_server(create_app(gen, settings)) as url:
        # the scripted judge prefers a GOOD response in either slot: both orders pick it
        agree = _post(
            url, "/v1/judge", {"question": "q", "response_a": "GOOD", "response_b": "x", "both_orders": True}
        )
        # without GOOD it always says (b): position bias, the two orders disagree
        biased = _post(
            url, "/v1/judge", {"question": "q", "response_a": "x", "response_b": "y", "both_orders": True}
        )
        garbled = _post(
            url,
            "/v1/judge",
            {"question": "GARBLE", "response_a": "x", "response_b": "y", "both_orders": True},
        )
        one = _post(url, "/v1/judge", {"question": "q", "response_a": "GOOD", "response_b": "x"})
    assert agree.status_code == 200, agree.text
    body = agree.json()
    assert (body["verdict"], body["agree"]) == ("a", True)
    # swapped, GOOD is (b): the scripted judge picks (b) with strength 1
    assert [(o["verdict"], o["strength"]) for o in body["orders"]] == [("a", 3), ("b", 1)]
    assert (biased.json()["verdict"], biased.json()["agree"]) == (None, False)
    assert (garbled.json()["verdict"], garbled.json()["agree"]) == (None, None)
    assert set(one.json()) == {"verdict", "strength", "thinking", "parsed", "parse_error", "completion"}
    assert gen.batches[0] == 2  # both orders of a request share one batch


def test_get_reward_with_query_only_as_openrlhf_first_sent_it(hf_gen) -> None:
    gen = Recording()
    tok = hf_gen.tokenizer
    settings = ServeSettings(sampling=SamplingSpec(max_new_tokens=8), max_wait_ms=5)
    queries = [f"{tok.pad_token}{tok.pad_token}Q: 2+2? A: 4{tok.eos_token}", "Q: 3+3? A: 6"]
    with live_server(create_app(gen, settings, tokenizer=tok)) as url:
        r = _post(url, "/get_reward", {"query": queries})
        labelled = _post(url, "/get_reward", {"query": ["Q: 3+3? A: 6"], "labels": ["6"]})
    assert r.status_code == 200, r.text
    assert r.json()["rewards"] == [0.7, 0.7] and r.json()["extra_logs"]["judge_parsed"] == [1.0, 1.0]
    # the whole query is the response, without the pad and eos strings OpenRLHF decoded with it
    first = gen.seen[0]
    assert "Q: 2+2? A: 4" in first and tok.pad_token not in first and tok.eos_token not in first
    assert labelled.status_code == 200 and len(labelled.json()["rewards"]) == 1


def test_logprob_scoring_serves_the_eval_reader_verdict(hf_gen) -> None:
    settings = ServeSettings(
        prompt=DIRECT, sampling=SamplingSpec(max_new_tokens=8), max_wait_ms=5, scoring="logprob"
    )
    pair = {"question": "What is 47+38?", "response_a": "85", "response_b": "95"}
    with live_server(create_app(hf_gen, settings)) as url:
        judged = _post(url, "/v1/judge", pair).json()
        both = _post(url, "/v1/judge", {**pair, "both_orders": True}).json()
        scored = _post(url, "/v1/score", {"question": pair["question"], "response": "85", "reference": "95"})
        chat = _post(
            url,
            "/v1/chat/completions",
            {"model": settings.model_id, "messages": [{"role": "user", "content": "hi"}]},
        )
        metrics = httpx.get(url + "/metrics", trust_env=False).json()
    sample = JudgeSample("request", "serve", [{"role": "user", "content": pair["question"]}], "85", "95", "a")
    (expected,) = LogprobJudge(hf_gen, DIRECT).score([judge_prompt(DIRECT, sample)], SamplingSpec(), False)
    assert (
        judged["parsed"]
        and judged["verdict"] == expected.choice
        and judged["completion"] == expected.completion
    )
    assert judged["logprob"] == pytest.approx(expected.row())
    assert 0.5 <= judged["logprob"]["confidence"] <= 1.0
    assert both["orders"][0]["logprob"] == judged["logprob"] and both["agree"] is not None
    assert scored.status_code == 200 and scored.json()["score"] is not None  # both orders always readable
    # chat is generated as always, not replaced by a verdict sentence
    assert (
        chat.status_code == 200
        and "Therefore, Response" not in chat.json()["choices"][0]["message"]["content"]
    )
    assert metrics["scoring"] == "logprob" and metrics["parse_failures_total"] == 0


def test_logprob_scoring_needs_the_hf_backend(capsys) -> None:
    assert main(["serve", "--model", "/nonexistent", "--scoring", "logprob", "--backend", "vllm"]) == 2
    assert "scoring: 'logprob' needs backend: hf or openai, got backend: vllm" in capsys.readouterr().err
    with pytest.raises(ValueError, match="needs the hf backend"):
        create_app(ScriptedGenerator(), ServeSettings(scoring="logprob"))


def test_both_orders_agreement_with_ties() -> None:
    def reply(verdict):
        return JudgeResponse(
            verdict=verdict,
            strength=None,
            thinking="",
            parsed=verdict is not None,
            parse_error="",
            completion="",
        )

    assert (
        BothOrdersResponse.of(reply("tie"), reply("tie")).verdict,
        BothOrdersResponse.of(reply("tie"), reply("tie")).agree,
    ) == ("tie", True)
    assert BothOrdersResponse.of(reply("a"), reply("tie")).agree is False
    assert BothOrdersResponse.of(reply("b"), reply("a")).verdict == "b"

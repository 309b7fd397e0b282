"""Nothing lost, nothing hangs: token limits before queuing, cancelled batches, judgerl's error shape."""

from __future__ import annotations

import asyncio
import threading
import time

import httpx
import pytest
import torch

from judgerl.core.types import JudgeSample
from judgerl.judge_spec.families import PromptSpec
from judgerl.models.generation import SamplingSpec, render_prompts
from judgerl.models.generation.hf import make_hf_generator
from judgerl.serving.app import ServeSettings, create_app
from judgerl.serving.cancel import stops_when
from judgerl.serving.tokens import context_length
from tests.prompts import rendered
from tests.serving.conftest import ScriptedGenerator, live_server

TOKEN = "t0ken"


@pytest.fixture(scope="module")
def hf_gen(tiny_judge):
    return make_hf_generator(str(tiny_judge), device="cpu")


def test_context_is_the_smallest_stated_limit(hf_gen) -> None:
    positions = hf_gen.model.config.max_position_embeddings
    assert context_length(hf_gen, hf_gen.tokenizer) == min(positions, hf_gen.tokenizer.model_max_length)
    hf_gen.tokenizer.model_max_length = 77
    try:
        assert context_length(hf_gen, hf_gen.tokenizer) == 77
    finally:
        hf_gen.tokenizer.model_max_length = int(1e30)
    assert context_length(object(), None) is None


def test_prompt_over_the_context_is_413_with_token_counts_before_queuing(hf_gen) -> None:
    gen = ScriptedGenerator()
    settings = ServeSettings(sampling=SamplingSpec(max_new_tokens=64), context_tokens=500)
    tok = hf_gen.tokenizer
    with live_server(create_app(gen, settings, tokenizer=tok)) as url:
        small = {"question": "2+2?", "response_a": "GOOD 4", "response_b": "5"}
        assert httpx.post(url + "/v1/judge", json=small, trust_env=False, timeout=30).status_code == 200
        calls = len(gen.batches)
        big = {"question": "What is 47+38? " * 40, "response_a": "85", "response_b": "95"}
        r = httpx.post(url + "/v1/judge", json=big, trust_env=False, timeout=30)
        assert r.status_code == 413, r.text
        sample = JudgeSample(
            id="x",
            source="t",
            conversation=[{"role": "user", "content": big["question"]}],
            response_a="85",
            response_b="95",
            label="a",
        )
        text = render_prompts(tok, [rendered(sample, PromptSpec())])[0]
        n = len(tok(text, add_special_tokens=False)["input_ids"])
        assert n > 436
        assert r.json() == {
            "error": f"prompt is {n} tokens; the model's context is 500 tokens and 64 are kept for the "
            "completion, which leaves 436 for the prompt"
        }
        r = httpx.post(
            url + "/v1/score", json={"question": big["question"], "response": "85"}, trust_env=False
        )
        assert r.status_code == 413 and "the model's context is 500 tokens" in r.json()["error"]
        assert len(gen.batches) == calls  # nothing oversized reached the generator
        metrics = httpx.get(url + "/metrics", trust_env=False).json()
        assert metrics["context_tokens"] == 500 and metrics["requests"]["/v1/judge"]["413"] == 1


def test_stops_when_ends_a_real_generate_at_the_next_token(hf_gen) -> None:
    prompt = [[{"role": "user", "content": "What is 47+38?"}]]
    tok = hf_gen.tokenizer
    free = hf_gen.generate(prompt, SamplingSpec(max_new_tokens=20), progress=False)[0][0]
    assert len(tok(free, add_special_tokens=False)["input_ids"]) > 2
    stop = threading.Event()
    stop.set()
    with stops_when(hf_gen, stop) as stoppable:
        cut = hf_gen.generate(prompt, SamplingSpec(max_new_tokens=20), progress=False)[0][0]
    assert stoppable and len(tok(cut, add_special_tokens=False)["input_ids"]) <= 1
    assert "generate" not in vars(hf_gen.model)  # the model is left as it was
    with stops_when(ScriptedGenerator(), stop) as stoppable:
        assert not stoppable


class _LoopingModel:
    """Stands in for a transformers model whose generation would run ~30 s unless stopped."""

    config = None

    def __init__(self) -> None:
        self.steps = 0

    def generate(self, stopping_criteria=None, **_):
        ids = torch.zeros((1, 1), dtype=torch.long)
        for _ in range(3000):
            time.sleep(0.01)
            self.steps += 1
            if stopping_criteria is not None and bool(stopping_criteria(ids, None).all()):
                return


class _SlowOrFast(ScriptedGenerator):
    def __init__(self) -> None:
        super().__init__()
        self.model = _LoopingModel()

    def generate(self, prompts, spec, progress=True, desc=""):
        if any("SLOW" in p[-1]["content"] for p in prompts):
            self.model.generate()
        return super().generate(prompts, spec, progress, desc)


def test_a_timed_out_request_is_cancelled_and_frees_the_server() -> None:
    gen = _SlowOrFast()
    settings = ServeSettings(sampling=SamplingSpec(max_new_tokens=8), request_timeout=1.0, max_wait_ms=5)
    with live_server(create_app(gen, settings)) as url:

        async def go() -> tuple[int, int, float]:
            async with httpx.AsyncClient(trust_env=False, timeout=30) as c:
                slow = asyncio.create_task(
                    c.post(url + "/v1/judge", json={"question": "SLOW", "response_a": "x", "response_b": "y"})
                )
                await asyncio.sleep(0.5)
                t0 = time.monotonic()
                fast = await c.post(
                    url + "/v1/judge", json={"question": "q", "response_a": "GOOD", "response_b": "y"}
                )
                return (await slow).status_code, fast.status_code, time.monotonic() - t0

        slow_status, fast_status, waited = asyncio.run(go())
        metrics = httpx.get(url + "/metrics", trust_env=False).json()
    assert slow_status == 504 and fast_status == 200  # without cancelling, the slow batch holds 30 s
    assert waited < 1.0 and gen.model.steps < 1000
    assert metrics["batches"]["stopped"] == 1


@pytest.fixture(scope="module")
def locked():
    settings = ServeSettings(sampling=SamplingSpec(max_new_tokens=8), token=TOKEN)
    with live_server(create_app(ScriptedGenerator(), settings)) as url:
        yield url


def _post(url: str, path: str, content: bytes, auth: str = f"Bearer {TOKEN}") -> httpx.Response:
    headers = {"content-type": "application/json", "authorization": auth}
    return httpx.post(url + path, content=content, headers=headers, trust_env=False, timeout=30)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b'{"question": "\xff\xfe", "response_a": "x", "response_b": "y"}',
            "body is not valid UTF-8 (byte 14)",
        ),
        (b"[" * 100_000 + b"]" * 100_000, "malformed JSON: nested deeper than 32 levels"),
        (b'{"question": ' + b"[" * 40 + b"]" * 40 + b"}", "malformed JSON: nested deeper than 32 levels"),
        (
            b'{"question": "q", "response_a": "x", "response_b": "y", "question": "r"}',
            "duplicate key 'question'",
        ),
        (b'{"question": "q", ', "malformed JSON: Expecting property name enclosed in double quotes"),
    ],
)
def test_bad_bodies_get_judgerls_error_shape(locked, content, message) -> None:
    r = _post(locked, "/v1/judge", content)
    assert r.status_code == 400 and set(r.json()) == {"error"} and message in r.json()["error"]
    r = _post(locked, "/v1/chat/completions", content)
    assert r.status_code == 400 and message in r.json()["error"]["message"]
    assert r.json()["error"]["type"] == "invalid_request_error"


def test_router_refusals_have_no_fastapi_detail(locked) -> None:
    auth = {"authorization": f"Bearer {TOKEN}"}
    r = httpx.get(locked + "/v1/nothing", headers=auth, trust_env=False)
    assert (r.status_code, r.json()) == (404, {"error": "Not Found"})
    r = httpx.get(locked + "/v1/judge", headers=auth, trust_env=False)
    assert (r.status_code, r.json()) == (405, {"error": "Method Not Allowed"})
    r = httpx.delete(locked + "/v1/models", headers=auth, trust_env=False)
    assert r.status_code == 405 and r.json()["error"]["message"] == "Method Not Allowed"


def test_auth_scheme_is_case_insensitive_the_token_is_not(locked) -> None:
    body = b'{"question": "q", "response_a": "GOOD", "response_b": "y"}'
    for scheme in ("Bearer", "bearer", "BEARER"):
        assert _post(locked, "/v1/judge", body, auth=f"{scheme} {TOKEN}").status_code == 200
    for wrong in (f"Basic {TOKEN}", f"Bearer {TOKEN.upper()}", TOKEN, f"Bearer{TOKEN}", ""):
        r = _post(locked, "/v1/judge", body, auth=wrong)
        assert r.status_code == 401 and "bearer token" in r.json()["error"]
    # the token is checked before the body is parsed: a stranger's malformed JSON is a 401, not a 400
    assert _post(locked, "/v1/judge", b"{", auth="Bearer nope").status_code == 401

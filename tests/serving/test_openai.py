"""The OpenAI protocol of `judgerl serve`, driven by the official `openai` client over loopback.

A real tiny judge (HFGenerator) serves, so the chat template, token counts and batching are real.
"""

from __future__ import annotations

import asyncio

import httpx
import openai
import pytest

from judgerl.models.generation import SamplingSpec
from judgerl.models.generation.hf import make_hf_generator
from judgerl.serving.app import ServeSettings, create_app
from tests.serving.conftest import live_server

TOKEN = "sk-judge-test"
NAME = "tiny-judge"
MAX_NEW = 12
HELLO = [{"role": "system", "content": "You judge."}, {"role": "user", "content": "Which is better, 4 or 5?"}]
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def served(tiny_judge):
    gen = make_hf_generator(str(tiny_judge), device="cpu")
    settings = ServeSettings(
        sampling=SamplingSpec(max_new_tokens=MAX_NEW, batch_size=8),
        token=TOKEN,
        max_batch=8,
        max_wait_ms=100,
        served_model_name=NAME,
    )
    with live_server(create_app(gen, settings)) as url:
        yield url, gen


@pytest.fixture(scope="module")
def client(served):
    url, _ = served
    with openai.OpenAI(base_url=url + "/v1", api_key=TOKEN, max_retries=0, timeout=60) as c:
        yield c


def test_chat_completion_matches_the_generator_on_the_chat_template(served, client) -> None:
    url, gen = served
    reply = client.chat.completions.create(model=NAME, messages=HELLO, max_tokens=8, temperature=0)
    assert reply.object == "chat.completion" and reply.model == NAME and reply.id.startswith("chatcmpl-")
    assert reply.created > 0 and len(reply.choices) == 1
    choice = reply.choices[0]
    assert choice.index == 0 and choice.message.role == "assistant"
    # the same messages through the generator directly (which renders them with the chat template)
    expected = gen.generate([HELLO], SamplingSpec(max_new_tokens=8), progress=False)[0][0]
    assert choice.message.content == expected
    tok = gen.tokenizer
    rendered = tok.apply_chat_template(HELLO, tokenize=False, add_generation_prompt=True)
    assert reply.usage.prompt_tokens == len(tok(rendered, add_special_tokens=False)["input_ids"])
    completion_tokens = len(tok(expected, add_special_tokens=False)["input_ids"])
    assert reply.usage.completion_tokens == completion_tokens
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + completion_tokens
    assert choice.finish_reason == ("length" if completion_tokens >= 8 else "stop")


def test_n_samples_stop_sequences_and_stream(client) -> None:
    many = client.chat.completions.create(model=NAME, messages=HELLO, n=3, temperature=1.0, seed=7)
    assert [c.index for c in many.choices] == [0, 1, 2]
    again = client.chat.completions.create(model=NAME, messages=HELLO, n=3, temperature=1.0, seed=7)
    assert [c.message.content for c in again.choices] == [c.message.content for c in many.choices]
    full = client.chat.completions.create(model=NAME, messages=HELLO, max_tokens=MAX_NEW).choices[0]
    text = full.message.content
    assert len(text) >= 4, text
    stop = text[2:4]
    cut = client.chat.completions.create(model=NAME, messages=HELLO, stop=[stop, "\x00never"]).choices[0]
    assert cut.message.content == text[: text.find(stop)] and cut.finish_reason == "stop"
    chunks = list(client.chat.completions.create(model=NAME, messages=HELLO, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == text
    assert chunks[-1].choices[0].finish_reason == full.finish_reason


def test_models_list_and_lookup(client) -> None:
    assert [m.id for m in client.models.list()] == [NAME]
    assert client.models.retrieve(NAME).owned_by == "judgerl"
    with pytest.raises(openai.NotFoundError) as err:
        client.models.retrieve("gpt-4o")
    assert err.value.param == "model"


@pytest.mark.parametrize(
    ("kwargs", "error", "param", "words"),
    [
        ({"model": "gpt-4o"}, openai.NotFoundError, "model", "is not served here"),
        (
            {"messages": [{"role": "robot", "content": "x"}]},
            openai.BadRequestError,
            "messages.0.role",
            "robot",
        ),
        ({"messages": []}, openai.BadRequestError, "messages", "at least 1"),
        ({"temperature": 5}, openai.BadRequestError, "temperature", "less than or equal to 2"),
        ({"n": 0}, openai.BadRequestError, "n", "greater than or equal to 1"),
        ({"max_tokens": MAX_NEW + 1}, openai.BadRequestError, "max_tokens", f"limit of {MAX_NEW}"),
        ({"stop": ["a", "b", "c", "d", "e"]}, openai.BadRequestError, "stop", "at most 4"),
        ({"extra_body": {"tools_choice": "auto"}}, openai.BadRequestError, "tools_choice", "Extra inputs"),
        (
            {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
            openai.BadRequestError,
            "messages.0.content",
            "",
        ),
    ],
)
def test_bad_requests_are_4xx_naming_the_field(client, kwargs, error, param, words) -> None:
    call = {"model": NAME, "messages": HELLO, **kwargs}
    with pytest.raises(error) as err:
        client.chat.completions.create(**call)
    assert err.value.param is not None and err.value.param.startswith(param)
    assert words in err.value.message


@pytest.mark.parametrize(
    "extra, param, words",
    [
        ({"max_tokens": True}, "max_tokens", "valid integer"),
        ({"n": 2.0}, "n", "valid integer"),
        ({"stream": "yes"}, "stream", "valid boolean"),
        ({"temperature": "0.5"}, "temperature", "valid number"),
        ({"logprobs": True}, "logprobs", "not served"),
    ],
)
def test_types_are_strict_as_openais_schema_states(served, extra, param, words) -> None:
    url, _ = served
    body = {"model": NAME, "messages": HELLO, "max_tokens": 2, **extra}
    r = httpx.post(url + "/v1/chat/completions", json=body, headers=AUTH, timeout=60, trust_env=False)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["param"] == param and words in error["message"], error


@pytest.mark.parametrize("logprobs", [False, None])
def test_logprobs_false_or_null_as_clients_send_by_default_is_accepted(served, logprobs) -> None:
    url, _ = served
    body = {"model": NAME, "messages": HELLO, "max_tokens": 2, "logprobs": logprobs, "temperature": 0}
    r = httpx.post(url + "/v1/chat/completions", json=body, headers=AUTH, timeout=60, trust_env=False)
    assert r.status_code == 200, r.text
    assert r.json()["choices"][0]["logprobs"] is None


def test_auth_and_context_limit(served) -> None:
    url, gen = served
    with (
        openai.OpenAI(base_url=url + "/v1", api_key="wrong", max_retries=0) as bad,
        pytest.raises(openai.AuthenticationError) as err,
    ):
        bad.models.list()
    assert err.value.code == "invalid_api_key"
    long = [{"role": "user", "content": "47 + 38 = 85. " * 2000}]
    with (
        openai.OpenAI(base_url=url + "/v1", api_key=TOKEN, max_retries=0) as c,
        pytest.raises(openai.APIStatusError) as err,
    ):
        c.chat.completions.create(model=NAME, messages=long, max_tokens=MAX_NEW)
    assert err.value.status_code == 413 and err.value.code == "context_length_exceeded"
    context = gen.model.config.max_position_embeddings
    assert f"the model's context is {context} tokens" in err.value.message
    assert f"leaves {context - MAX_NEW} for the prompt" in err.value.message


def test_concurrent_chat_requests_share_batches(served) -> None:
    url, _ = served
    before = httpx.get(url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, trust_env=False).json()

    async def burst() -> list[str]:
        async with openai.AsyncOpenAI(base_url=url + "/v1", api_key=TOKEN, max_retries=0, timeout=60) as c:
            replies = await asyncio.gather(
                *(c.chat.completions.create(model=NAME, messages=HELLO, max_tokens=4) for _ in range(6))
            )
        return [r.choices[0].message.content for r in replies]

    texts = asyncio.run(burst())
    assert len(set(texts)) == 1  # greedy: the same prompt gives the same text in any batch
    after = httpx.get(url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, trust_env=False).json()
    batches = after["batches"]["count"] - before["batches"]["count"]
    assert after["batches"]["items"] - before["batches"]["items"] == 6 and batches < 6

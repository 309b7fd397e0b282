"""Fixtures of the distill tests: judge samples with known answers and a scripted OpenAI-compatible server.

The fake server is a real FastAPI app under uvicorn on loopback (the protocol, retries and
concurrency are exercised over HTTP); it judges by markers in the prompt: the response holding
"GOOD" wins (the right verdict), unless the question holds "TRICK" (the teacher picks the other
one), "RAMBLE" (no verdict sentence) or "LONG" (a 12-word thinking). "R1" puts the reasoning in a
separate `reasoning_content` field, as DeepSeek-R1 does. The teacher always says strength 2.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from judgerl.core.types import JudgeSample
from judgerl.serving.process import free_port


def make_sample(
    i: int, label: str = "a", strength: int | None = -2, tag: str = "", subset: str = "s"
) -> JudgeSample:
    """A judge sample whose right response says GOOD; `tag` goes into the question."""
    good, bad = f"GOOD answer {i}", f"BAD answer {i}"
    a, b = (good, bad) if label == "a" else (bad, good)
    if strength is not None:
        strength = -abs(strength) if label == "a" else abs(strength)
    return JudgeSample(
        f"q{i}",
        "fixture",
        [{"role": "user", "content": f"question {i} {tag}"}],
        a,
        b,
        label,
        strength,
        subset,
    )


def teacher_answer(prompt: str) -> dict[str, Any]:
    """The fake teacher's message for one rendered judge prompt."""
    a_part = prompt.split("[The Start of Response (a)]")[1].split("[The End of Response (a)]")[0]
    question = prompt.split("[The Start of User Question]")[1].split("[The End of User Question]")[0]
    winner = "a" if "GOOD" in a_part else "b"
    if "TRICK" in question:
        winner = "b" if winner == "a" else "a"
    thinking = f"Response ({winner}) says GOOD."
    if "LONG" in question:
        thinking = "one two three four five six. seven eight nine ten eleven twelve"
    verdict = f"Therefore, Response ({winner}) is better, and the strength is [[2]]."
    if "RAMBLE" in question:
        verdict = "I cannot decide."
    if "R1" in question:
        return {"role": "assistant", "content": verdict, "reasoning_content": thinking}
    return {"role": "assistant", "content": f"<think>{thinking}</think>\n\n{verdict}"}


@dataclass
class FakeOpenAI:
    """What the fake server saw, and the failures it is told to give."""

    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    fail: list[int] = field(default_factory=list)  # statuses to answer the next requests with
    refuse_marker: str = "REFUSE"  # a prompt holding it gets a 400
    lock: threading.Lock = field(default_factory=threading.Lock)

    def asked(self, marker: str) -> int:
        """Requests whose prompt holds `marker`."""
        return sum(marker in r["messages"][-1]["content"] for r in self.requests)


def _app(state: FakeOpenAI) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        body = await request.json()
        with state.lock:
            state.requests.append(body)
            state.headers.append(dict(request.headers))
            status = state.fail.pop(0) if state.fail else 200
        if status != 200:
            return JSONResponse({"error": {"message": "overloaded"}}, status, headers={"Retry-After": "0"})
        prompt = body["messages"][-1]["content"]
        if state.refuse_marker in prompt:
            return JSONResponse({"error": {"message": "prompt too long"}}, 400)
        message = teacher_answer(prompt)
        choices = [{"index": k, "message": message, "finish_reason": "stop"} for k in range(body.get("n", 1))]
        return {
            "id": "x",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": choices,
            "usage": {"prompt_tokens": 10, "completion_tokens": 5 * len(choices), "total_tokens": 10},
        }

    return app


@pytest.fixture(scope="module")
def fake_openai() -> Iterator[FakeOpenAI]:
    """A scripted OpenAI-compatible chat server on loopback (reset before each use by the test)."""
    import uvicorn

    state = FakeOpenAI()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(_app(state), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "fake server did not start"
        time.sleep(0.02)
    state.url = f"http://127.0.0.1:{port}/v1"
    try:
        yield state
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture
def fake(fake_openai: FakeOpenAI) -> FakeOpenAI:
    """The module's fake server with its records and failure script cleared."""
    fake_openai.requests.clear()
    fake_openai.headers.clear()
    fake_openai.fail.clear()
    return fake_openai

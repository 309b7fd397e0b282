"""A scripted OpenAI-compatible server for the `openai` backend's tests: a real FastAPI app under uvicorn
on loopback (tests.serving.conftest.live_server), so requests, retries and concurrency go over HTTP.

Chat and raw-string completions answer `reply(prompt_text)`; a prompt holding "REFUSE" gets a 400, one
holding "SLOW" waits `delay` seconds. `fail` lists statuses for the next requests (with Retry-After: 0);
after `budget` answered requests every request gets a 503 (a server that went down).
A token-id prompt with `echo` gets the log-probability of every prompt token from `logprobs(ids)`
(None: the server has no prompt log-probabilities and answers `logprobs: null`, as most APIs do).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


def default_reply(prompt: str) -> str:
    """The fake judge: (a) wins when response (a) says GOOD, else (b)."""
    a_part = prompt.split("[The Start of Response (a)]")[-1].split("[The End of Response (a)]")[0]
    winner = "a" if "GOOD" in a_part else "b"
    return f"<think>{winner} says GOOD</think>\n\nTherefore, Response ({winner}) is better."


@dataclass
class FakeOpenAI:
    """What the fake server saw, and how it answers."""

    url: str = ""
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    fail: list[int] = field(default_factory=list)
    models: list[str] = field(default_factory=lambda: ["judge"])
    reply: Callable[[str], str] = default_reply
    reasoning: bool = False  # put the <think> part in `reasoning_content`, as DeepSeek-R1 does
    logprobs: Callable[[list[int]], list[float]] | None = None
    delay: float = 0.0
    budget: int | None = None
    in_flight: int = 0
    max_in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def reset(self) -> FakeOpenAI:
        """Forget what was seen and scripted. Usage: fake = fake_openai.reset()"""
        self.requests.clear()
        self.headers.clear()
        self.fail.clear()
        self.models, self.reply, self.reasoning, self.logprobs = ["judge"], default_reply, False, None
        self.delay, self.budget, self.in_flight, self.max_in_flight = 0.0, None, 0, 0
        return self

    def bodies(self, path: str) -> list[dict[str, Any]]:
        """The bodies of the requests to `path` ("chat/completions" or "completions")."""
        return [b for p, b in self.requests if p == path]


def _message(state: FakeOpenAI, text: str) -> dict[str, Any]:
    if state.reasoning and "</think>" in text:
        thinking, _, content = text.partition("</think>")
        return {"role": "assistant", "content": content.strip(), "reasoning_content": thinking[7:]}
    return {"role": "assistant", "content": text}


def fake_app(state: FakeOpenAI) -> FastAPI:
    """The FastAPI app of `state`."""
    app = FastAPI()

    @app.get("/v1/models")
    async def models() -> Any:
        return {"object": "list", "data": [{"id": m, "object": "model"} for m in state.models]}

    async def answer(path: str, request: Request) -> Any:
        body = await request.json()
        with state.lock:
            state.requests.append((path, body))
            state.headers.append(dict(request.headers))
            status = state.fail.pop(0) if state.fail else 200
            if state.budget is not None:
                status = 503 if state.budget <= 0 else status
                state.budget -= status == 200
            state.in_flight += 1
            state.max_in_flight = max(state.max_in_flight, state.in_flight)
        try:
            if status != 200:
                return JSONResponse(
                    {"error": {"message": "overloaded"}}, status, headers={"Retry-After": "0"}
                )
            if body.get("model") not in state.models:
                return JSONResponse({"error": {"message": f"model {body.get('model')!r} not found"}}, 404)
            prompt = body["prompt"] if "prompt" in body else body["messages"][-1]["content"]
            if isinstance(prompt, list):  # token ids: the log-probabilities of the prompt
                if state.logprobs is None:
                    choice = {"index": 0, "text": "x", "logprobs": None, "finish_reason": "length"}
                else:
                    values = [None, *state.logprobs(prompt)[1:], -1.0]
                    choice = {"index": 0, "text": "x", "logprobs": {"token_logprobs": values}}
                usage = {"prompt_tokens": len(prompt), "completion_tokens": 1}
                return {"object": "text_completion", "choices": [choice], "usage": usage}
            if "REFUSE" in prompt:
                return JSONResponse({"error": {"message": "prompt too long"}}, 400)
            if "SLOW" in prompt or state.delay:
                await asyncio.sleep(state.delay)
            text = state.reply(prompt)
            n = body.get("n", 1)
            if path == "completions":
                choices = [{"index": k, "text": text, "finish_reason": "stop"} for k in range(n)]
            else:
                choices = [
                    {"index": k, "message": _message(state, text), "finish_reason": "stop"} for k in range(n)
                ]
            usage = {"prompt_tokens": 10, "completion_tokens": 3 * n, "total_tokens": 10 + 3 * n}
            return {"object": "chat.completion", "model": body["model"], "choices": choices, "usage": usage}
        finally:
            with state.lock:
                state.in_flight -= 1

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        return await answer("chat/completions", request)

    @app.post("/v1/completions")
    async def completions(request: Request) -> Any:
        return await answer("completions", request)

    return app

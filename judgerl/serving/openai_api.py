"""The OpenAI protocol on the judge server: `POST /v1/chat/completions` and `GET /v1/models`.

The messages go to the generator as chat messages, so the served tokenizer's chat template
renders them, exactly as for the judge endpoints; the requests share the same dynamic batcher
(requests with equal sampling settings share a batch), the same token rules (the prompt plus
max_tokens must fit the context, else 413) and the same timeout. Stop sequences cut the
completion after generation. A `stream` request gets the whole completion as one chunk per
choice, then `[DONE]` (server-sent events), because the batcher returns whole completions.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from judgerl.models.generation import SamplingSpec
from judgerl.serving.batcher import RANDOM_SEED, DynamicBatcher
from judgerl.serving.errors import ServeError
from judgerl.serving.openai_schemas import ChatCompletionRequest
from judgerl.serving.tokens import TokenBudget


def cut_at_stop(text: str, stops: list[str]) -> tuple[str, bool]:
    """`text` up to the earliest stop sequence (excluded), and whether one was found.

    >>> cut_at_stop("a. b. c", [". c", ". b"])
    ('a', True)
    """
    cuts = [i for i in (text.find(s) for s in stops) if i >= 0]
    return (text[: min(cuts)], True) if cuts else (text, False)


class OpenAIChat:
    """Chat completions and the model list for one served model.

    Usage: chat = OpenAIChat(batcher, budget, "judge", SamplingSpec()); reply = await chat.complete(req)
    """

    def __init__(
        self, batcher: DynamicBatcher, budget: TokenBudget, model: str, sampling: SamplingSpec
    ) -> None:
        self.batcher = batcher
        self.budget = budget
        self.model = model
        self.sampling = sampling
        self.created = int(time.time())

    def models(self) -> dict[str, Any]:
        """The GET /v1/models body: the one served model."""
        return {"object": "list", "data": [self.model_card()]}

    def model_card(self, model: str | None = None) -> dict[str, Any]:
        """One model's entry (ServeError 404 for any name but the served one).

        Usage: card = chat.model_card("judge")
        """
        if model is not None and model != self.model:
            raise ServeError(404, self._not_served(model), param="model", code="model_not_found")
        return {"id": self.model, "object": "model", "created": self.created, "owned_by": "judgerl"}

    def _not_served(self, model: str) -> str:
        return f"model {model!r} is not served here; this server serves {self.model!r} (GET /v1/models)"

    def spec_for(self, req: ChatCompletionRequest) -> SamplingSpec:
        """The request's sampling settings; a length above the server's --max-new-tokens is a 400.

        Usage: spec = chat.spec_for(req)
        """
        cap = self.sampling.max_new_tokens
        length = req.length()
        if length is not None and length > cap:
            field = "max_tokens" if req.max_tokens is not None else "max_completion_tokens"
            raise ServeError(400, f"{field}: {length} is over this server's limit of {cap} tokens", field)
        temperature = self.sampling.temperature if req.temperature is None else req.temperature
        seed = req.seed if req.seed is not None else (self.sampling.seed if temperature == 0 else RANDOM_SEED)
        return replace(
            self.sampling,
            max_new_tokens=length or cap,
            temperature=temperature,
            top_p=self.sampling.top_p if req.top_p is None else req.top_p,
            n=req.n,
            seed=seed,
        )

    async def complete(self, req: ChatCompletionRequest) -> dict[str, Any]:
        """The ChatCompletion body for `req` (ServeError on a wrong model or a prompt over the context).

        Usage: body = await chat.complete(ChatCompletionRequest(model="judge", messages=[...]))
        """
        if req.model != self.model:
            raise ServeError(404, self._not_served(req.model), param="model", code="model_not_found")
        spec = self.spec_for(req)
        messages = [m.as_template_message() for m in req.messages]
        prompt_tokens = await asyncio.to_thread(self.budget.check, messages, spec.max_new_tokens)
        (texts,) = await self.batcher.submit_n([messages], spec)
        choices, completion_tokens = [], 0
        for index, raw in enumerate(texts):
            text, stopped = cut_at_stop(raw, req.stops())
            tokens = self.budget.text_tokens(raw)
            completion_tokens += self.budget.text_tokens(text) if stopped else tokens
            # the generator returns text only: a completion as long as the limit ran out of room
            finish = (
                "length"
                if not stopped and self.budget.tokenizer and tokens >= spec.max_new_tokens
                else "stop"
            )
            choices.append(
                {
                    "index": index,
                    "message": {"role": "assistant", "content": text},
                    "logprobs": None,
                    "finish_reason": finish,
                }
            )
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model,
            "choices": choices,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }


def as_event_stream(completion: dict[str, Any]) -> Iterator[str]:
    """A finished ChatCompletion as server-sent `chat.completion.chunk` events, then `[DONE]`.

    Usage: StreamingResponse(as_event_stream(body), media_type="text/event-stream")
    """
    head = {k: completion[k] for k in ("id", "created", "model")}
    for choice in completion["choices"]:
        for delta, finish in (
            ({"role": "assistant", "content": choice["message"]["content"]}, None),
            ({}, choice["finish_reason"]),
        ):
            chunk = {
                **head,
                "object": "chat.completion.chunk",
                "choices": [
                    {"index": choice["index"], "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
            }
            yield f"data: {json.dumps(chunk)}\n\n"
    yield "data: [DONE]\n\n"

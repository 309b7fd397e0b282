"""The judge server's FastAPI app: endpoints, timeouts, token rules and errors.

Endpoints: POST /v1/judge, POST /v1/score, POST /get_reward (OpenRLHF remote RM), the OpenAI
protocol (POST /v1/chat/completions, GET /v1/models), GET /health (no token needed; it says
nothing but liveness), GET /metrics. No endpoint loads a file, a model or code named by the
client: the model is fixed when the server starts. In front of the routes, outermost first:
request metrics, the bearer token (`auth`), the body gate (`errors`: size, read time, UTF-8, JSON).
With `scoring="logprob"` the judge prompts (/v1/judge, reference scoring, labelled /get_reward)
get the verdict whose text the model finds most probable (models.logprob_judge); chat and the
pointwise score prompt are generated as always.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException

from judgerl.core.serve_options import SERVE_DEFAULTS
from judgerl.core.types import JudgeSample
from judgerl.judge_spec.presets import DEFAULT_SPEC, builtin_spec
from judgerl.judge_spec.reading import read, read_score
from judgerl.judge_spec.render import judge_prompt, score_prompt
from judgerl.judge_spec.spec import JudgeSpec
from judgerl.models.generation import Generator, Messages, SamplingSpec
from judgerl.models.logprob_judge import LogprobJudge
from judgerl.serving.auth import BearerAuth
from judgerl.serving.batcher import DynamicBatcher, QueueFull
from judgerl.serving.errors import BodyGate, ServeError, error_response, is_openai_path, validation_message
from judgerl.serving.metrics import RecordRequests, ServerMetrics
from judgerl.serving.openai_api import OpenAIChat, as_event_stream
from judgerl.serving.openai_schemas import ChatCompletionRequest
from judgerl.serving.schemas import (
    MAX_BODY_BYTES,
    BothOrdersResponse,
    JudgeRequest,
    JudgeResponse,
    RewardRequest,
    RewardResponse,
    ScoreRequest,
    ScoreResponse,
)
from judgerl.serving.tokens import TokenBudget, context_length

ROUTES = (
    "/v1/judge",
    "/v1/score",
    "/get_reward",
    "/v1/chat/completions",
    "/v1/models",
    "/health",
    "/metrics",
)


@dataclass
class ServeSettings:
    """What the server fixes at start: the judge specs (pairwise `prompt`, pointwise `score_spec`),
    sampling, batching, limits, the token, and the reward of an unreadable score (`unparsed_reward`).

    The defaults are the serve-options spec's (`judgerl.core.serve_options.SERVE_DEFAULTS`).

    >>> ServeSettings(token="s3cret").max_batch
    32
    """

    prompt: JudgeSpec = field(default_factory=lambda: builtin_spec(DEFAULT_SPEC))
    score_spec: JudgeSpec = field(default_factory=lambda: builtin_spec("score"))
    unparsed_reward: float = 0.0
    sampling: SamplingSpec = field(
        default_factory=lambda: SamplingSpec(max_new_tokens=SERVE_DEFAULTS.max_new_tokens)
    )
    token: str | None = None
    max_batch: int = SERVE_DEFAULTS.max_batch
    max_wait_ms: float = SERVE_DEFAULTS.max_wait_ms
    max_queue: int = 4096
    request_timeout: float = SERVE_DEFAULTS.request_timeout
    max_body_bytes: int = MAX_BODY_BYTES
    model_name: str = ""
    served_model_name: str | None = None  # the OpenAI `model` id; default: model_name
    context_tokens: int | None = None  # default: what the tokenizer and model config state
    scoring: str = SERVE_DEFAULTS.scoring  # "logprob": judge prompts get the most probable verdict
    read_timeout: float | None = SERVE_DEFAULTS.read_timeout  # seconds for a request's body

    @property
    def model_id(self) -> str:
        """The id OpenAI clients name in `model` (GET /v1/models lists it)."""
        return self.served_model_name or self.model_name or "judge"


def _judge_response(
    text: str, spec: JudgeSpec, metrics: ServerMetrics, scores: dict[str, Any] | None = None
) -> JudgeResponse:
    verdict = read(spec, text)
    metrics.record_parse(verdict.ok, verdict.reason)
    return JudgeResponse(
        verdict=verdict.choice,
        strength=verdict.strength,
        thinking=verdict.thinking,
        parsed=verdict.ok,
        parse_error=verdict.reason,
        completion=text,
        logprob=scores,
    )


def reference_score(orders: list[JudgeResponse]) -> float | None:
    """0-10 from pairwise verdicts of (response, reference) in both orders; None if none parsed.

    Order 0 shows the response as (a), order 1 as (b). Each parsed order gives +1 when the
    response wins and -1 when the reference wins, times strength/3 when a strength is given, and 0
    for a tie verdict (a spec that reads ties); the score is 5 * (1 + mean). A tie with the
    reference (it wins once, loses once, or the judge says tie) is 5.

    >>> win = JudgeResponse(verdict="a", strength=3, thinking="", parsed=True, parse_error="", completion="")
    >>> lose = JudgeResponse(verdict="a", strength=None, thinking="", parsed=True, parse_error="", completion="")
    >>> reference_score([win, lose])
    5.0
    >>> reference_score([win, win.model_copy(update={"verdict": "b"})])
    10.0
    >>> reference_score([win.model_copy(update={"verdict": "tie", "strength": None})] * 2)
    5.0
    """
    signed = []
    for k, r in enumerate(orders):
        if not r.parsed or r.verdict is None:
            continue
        if r.verdict == "tie":
            signed.append(0.0)
            continue
        response_slot = "a" if k % 2 == 0 else "b"
        sign = 1.0 if r.verdict == response_slot else -1.0
        signed.append(sign * (r.strength / 3.0 if r.strength else 1.0))
    if not signed:
        return None
    return round(5.0 * (1.0 + sum(signed) / len(signed)), 6)


class JudgeService:
    """The judging logic behind the endpoints, independent of HTTP.

    Usage: service = JudgeService(batcher, settings); out = await service.score(ScoreRequest(...))
    """

    def __init__(
        self, batcher: DynamicBatcher, settings: ServeSettings, budget: TokenBudget | None = None
    ) -> None:
        self.batcher = batcher
        self.settings = settings
        self.metrics = batcher.metrics
        self.budget = budget or TokenBudget(None, None)

    async def _check(self, prompts: list[Messages]) -> None:
        """Every prompt against the context (ServeError 413), in a worker thread, before any is queued."""
        limit = self.settings.sampling.max_new_tokens

        def check() -> None:
            for p in prompts:
                self.budget.check(p, limit, param="body")

        await asyncio.to_thread(check)

    def _judge_prompts(self, requests: list[JudgeRequest]) -> list[Messages]:
        prompts = []
        for req in requests:
            sample = JudgeSample(
                id="request",
                source="serve",
                conversation=req.messages(),
                response_a=req.response_a,
                response_b=req.response_b,
                label="a",  # unused by the renderer without a hint
            )
            prompts.append(judge_prompt(self.settings.prompt, sample))
        return prompts

    async def judge_many(self, requests: list[JudgeRequest]) -> list[JudgeResponse]:
        """Judge several pairs in one submission (they may share a batch)."""
        prompts = self._judge_prompts(requests)
        await self._check(prompts)
        return await self._verdicts(prompts)

    async def _verdicts(self, prompts: list[Messages]) -> list[JudgeResponse]:
        judged = await self.batcher.submit_verdicts(prompts)
        return [_judge_response(t, self.settings.prompt, self.metrics, s) for t, s in judged]

    async def judge_both_orders(self, req: JudgeRequest) -> BothOrdersResponse:
        """Judge a pair as given and swapped (one submission: both may share a batch).

        Usage: reply = await service.judge_both_orders(JudgeRequest(question="q", response_a="x", response_b="y"))
        """
        given, swapped = await self.judge_many([req, req.swapped()])
        return BothOrdersResponse.of(given, swapped)

    async def score_many(self, requests: list[ScoreRequest]) -> list[ScoreResponse]:
        """Score several responses: pointwise ones by the 0-10 prompt, the rest against their reference."""
        pointwise = [r for r in requests if r.reference is None]
        paired = [r for r in requests if r.reference is not None]
        judge_reqs = []
        for r in paired:
            judge_reqs.append(
                JudgeRequest(question=r.question, response_a=r.response, response_b=r.reference)
            )
            judge_reqs.append(
                JudgeRequest(question=r.question, response_a=r.reference, response_b=r.response)
            )
        point_prompts = [score_prompt(self.settings.score_spec, r.question, r.response) for r in pointwise]
        judge_prompts = self._judge_prompts(judge_reqs)
        await self._check(point_prompts + judge_prompts)  # all or nothing is queued
        point_task = self.batcher.submit(point_prompts) if point_prompts else _nothing()
        judge_task = self._verdicts(judge_prompts) if judge_prompts else _nothing()
        point_texts, judged = await asyncio.gather(point_task, judge_task)
        point_iter, judged_iter = iter(point_texts), iter(judged)
        out = []
        for r in requests:
            if r.reference is None:
                text = next(point_iter)
                parsed = read_score(self.settings.score_spec.verdict, text)
                self.metrics.record_parse(parsed.ok, parsed.reason)
                out.append(
                    ScoreResponse(
                        score=parsed.value,
                        mode="pointwise",
                        parsed=parsed.ok,
                        parse_error=parsed.reason,
                        completion=text,
                    )
                )
            else:
                orders = [next(judged_iter), next(judged_iter)]
                score = reference_score(orders)
                errors = "; ".join(
                    f"order {k}: {o.parse_error}" for k, o in enumerate(orders) if not o.parsed
                )
                out.append(
                    ScoreResponse(
                        score=score,
                        mode="reference",
                        parsed=score is not None,
                        parse_error=errors,
                        details=orders,
                    )
                )
        return out

    async def get_reward(self, req: RewardRequest) -> RewardResponse:
        """OpenRLHF remote reward model: each response scored (against its label when labels are given), in 0-1.

        The served tokenizer's pad and eos strings are cut from both ends of each response (OpenRLHF
        decodes its sequences with their special tokens).

        Usage: reply = await service.get_reward(RewardRequest(query=["Q: 2+2? A: 4"], prompts=["Q: 2+2?"]))
        """
        tok = self.budget.tokenizer
        strip = [str(t) for t in (getattr(tok, "pad_token", None), getattr(tok, "eos_token", None)) if t]
        scores = await self.score_many(req.score_requests(strip))
        top = self.settings.score_spec.verdict.score_range[1]
        unparsed = self.settings.unparsed_reward
        rewards = [unparsed if s.score is None else s.score / top for s in scores]
        return RewardResponse(
            rewards=rewards,
            scores=rewards,
            extra_logs={"judge_parsed": [float(s.parsed) for s in scores]},
        )


async def _nothing() -> list:
    return []


def _route_of(path: str) -> str:
    if path in ROUTES:
        return path
    return "/v1/models/{model}" if path.startswith("/v1/models/") else "(other)"


def create_app(
    generator: Generator, settings: ServeSettings | None = None, tokenizer: Any | None = None
) -> FastAPI:
    """The FastAPI app serving `generator` as a judge (batcher started with the app's lifespan).

    `tokenizer` (default: the generator's own) counts tokens for the context check and usage.

    Usage: app = create_app(HFGenerator(model, tok), ServeSettings(token="s3cret")); uvicorn.run(app)
    """
    settings = settings or ServeSettings()
    metrics = ServerMetrics()
    verdicts = LogprobJudge(generator, settings.prompt) if settings.scoring == "logprob" else None
    batcher = DynamicBatcher(
        generator,
        settings.sampling,
        settings.max_batch,
        settings.max_wait_ms,
        settings.max_queue,
        metrics,
        verdict_generator=verdicts,
    )
    tokenizer = tokenizer if tokenizer is not None else getattr(generator, "tokenizer", None)
    context = settings.context_tokens or (
        context_length(generator, tokenizer) if tokenizer is not None else None
    )
    budget = TokenBudget(tokenizer, context)
    service = JudgeService(batcher, settings, budget)
    chat = OpenAIChat(batcher, budget, settings.model_id, settings.sampling)
    started = time.time()

    @asynccontextmanager
    async def lifespan(_: FastAPI):  # noqa: ANN202 - FastAPI's lifespan protocol
        await batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(
        title="judgerl judge server", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.service = service
    app.state.metrics = metrics
    app.state.budget = budget

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, param = validation_message(list(exc.errors()))
        path = request.url.path
        return error_response(path, 400 if is_openai_path(path) else 422, message, param)

    @app.exception_handler(HTTPException)
    async def on_http(request: Request, exc: HTTPException) -> JSONResponse:  # 404, 405 of the router
        return error_response(request.url.path, exc.status_code, str(exc.detail))

    @app.exception_handler(ServeError)
    async def on_refused(request: Request, exc: ServeError) -> JSONResponse:
        return error_response(request.url.path, exc.status, exc.message, exc.param, exc.code)

    async def _run(coro: Awaitable[Any]) -> Any:
        try:
            return await asyncio.wait_for(coro, settings.request_timeout)
        except TimeoutError:
            raise ServeError(
                504, f"judging took longer than the request timeout ({settings.request_timeout} s)"
            ) from None
        except QueueFull as err:
            raise ServeError(503, f"server busy: {err}; retry later") from None
        except ServeError:
            raise
        except RuntimeError as err:
            raise ServeError(500, str(err)) from None

    @app.post("/v1/judge")
    async def judge(req: JudgeRequest) -> Any:
        """Judge one pair (JudgeResponse), or both its orders (BothOrdersResponse) with `both_orders`."""
        if req.both_orders:
            return await _run(service.judge_both_orders(req))

        async def one() -> JudgeResponse:
            return (await service.judge_many([req]))[0]

        return await _run(one())

    @app.post("/v1/score")
    async def score(req: ScoreRequest) -> Any:
        """Score one response, pointwise or against a reference."""

        async def one() -> ScoreResponse:
            return (await service.score_many([req]))[0]

        return await _run(one())

    @app.post("/get_reward")
    async def get_reward(req: RewardRequest) -> Any:
        return await _run(service.get_reward(req))

    @app.post("/v1/chat/completions")
    async def chat_completions(req: ChatCompletionRequest) -> Any:
        """OpenAI chat completion (non-streaming, or the whole completion as one event per choice)."""
        body = await _run(chat.complete(req))
        if req.stream:
            return StreamingResponse(as_event_stream(body), media_type="text/event-stream")
        return body

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        """OpenAI model list: the one served model."""
        return chat.models()

    @app.get("/v1/models/{model:path}")
    async def model_card(model: str) -> dict[str, Any]:
        """OpenAI model lookup (404 for any name but the served one)."""
        return chat.model_card(model)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """Liveness (answered without a token)."""
        return {"status": "ok", "uptime_seconds": round(time.time() - started, 3)}

    @app.get("/metrics")
    async def get_metrics() -> dict[str, Any]:
        """Counters, latency percentiles, batch sizes and parse failures."""
        snap = metrics.snapshot()
        snap.update(
            queue_waiting=batcher.waiting,
            max_batch=settings.max_batch,
            max_wait_ms=settings.max_wait_ms,
            model=settings.model_name,
            context_tokens=budget.context,
            scoring=settings.scoring,
            judge_spec=settings.prompt.name,
            score_spec=settings.score_spec.name,
        )
        return snap

    # add_middleware puts each in front of the ones before: metrics, then auth, then the body gate
    app.add_middleware(BodyGate, limit=settings.max_body_bytes, timeout=settings.read_timeout)
    app.add_middleware(BearerAuth, token=settings.token)
    app.add_middleware(RecordRequests, metrics=metrics, route_of=_route_of)
    return app

"""The judge server's FastAPI app: endpoints, bearer-token check, body limit, timeouts, errors.

Endpoints: POST /v1/judge, POST /v1/score, POST /get_reward (OpenRLHF remote RM), GET /health
(no token needed; it says nothing but liveness), GET /metrics. No endpoint loads a file, a model
or code named by the client: the model is fixed when the server starts.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from judgerl.core.serve_options import SERVE_DEFAULTS
from judgerl.core.types import JudgeSample
from judgerl.data_prep.prompts import PromptSpec, render_messages
from judgerl.data_prep.score_prompts import SCORE_MAX, render_score_messages
from judgerl.models.generation import Generator, SamplingSpec
from judgerl.rewards.parser import parse_verdict
from judgerl.rewards.score_parser import parse_score
from judgerl.serving.batcher import DynamicBatcher, QueueFull
from judgerl.serving.metrics import ServerMetrics
from judgerl.serving.schemas import (
    MAX_BODY_BYTES,
    JudgeRequest,
    JudgeResponse,
    RewardRequest,
    RewardResponse,
    ScoreRequest,
    ScoreResponse,
)


@dataclass
class ServeSettings:
    """What the server fixes at start: prompt, sampling, batching, limits and the token.

    The defaults are the serve-options spec's (`judgerl.core.serve_options.SERVE_DEFAULTS`).

    >>> ServeSettings(token="s3cret").max_batch
    32
    """

    prompt: PromptSpec = field(default_factory=PromptSpec)
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


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def _validation_message(errors: list[dict[str, Any]]) -> tuple[int, str]:
    parts, status = [], 422
    for e in errors:
        if e.get("type") == "json_invalid":
            status = 400
            ctx = e.get("ctx") or {}
            parts.append(f"malformed JSON: {ctx.get('error', e.get('msg'))}")
            continue
        loc = ".".join(str(x) for x in e.get("loc", ()) if x != "body") or "body"
        parts.append(f"{loc}: {e.get('msg')}")
    return status, "; ".join(parts)


class _BodyLimit:
    """Pure ASGI middleware: 413 once a body passes `limit` bytes (declared or while streaming).

    The body is read here (at most `limit` bytes) and replayed to the app, so the app's own body
    parsing never sees an oversized request.
    """

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        too_big = _error(413, f"request body over {self.limit} bytes")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await too_big(scope, receive, send)
            return
        chunks, seen, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.limit:
                await too_big(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> dict:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _judge_response(text: str, spec: PromptSpec, metrics: ServerMetrics) -> JudgeResponse:
    verdict = parse_verdict(text, require_strength=spec.wants_strength)
    metrics.record_parse(verdict.ok, verdict.reason)
    return JudgeResponse(
        verdict=verdict.choice,
        strength=verdict.strength,
        thinking=verdict.thinking,
        parsed=verdict.ok,
        parse_error=verdict.reason,
        completion=text,
    )


def reference_score(orders: list[JudgeResponse]) -> float | None:
    """0-10 from pairwise verdicts of (response, reference) in both orders; None if none parsed.

    Order 0 shows the response as (a), order 1 as (b). Each parsed order gives +1 when the
    response wins and -1 when the reference wins, times strength/3 when a strength is given;
    the score is 5 * (1 + mean). A tie with the reference (it wins once, loses once) is 5.

    >>> win = JudgeResponse(verdict="a", strength=3, thinking="", parsed=True, parse_error="", completion="")
    >>> lose = JudgeResponse(verdict="a", strength=None, thinking="", parsed=True, parse_error="", completion="")
    >>> reference_score([win, lose])
    5.0
    >>> reference_score([win, win.model_copy(update={"verdict": "b"})])
    10.0
    """
    signed = []
    for k, r in enumerate(orders):
        if not r.parsed or r.verdict is None:
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

    def __init__(self, batcher: DynamicBatcher, settings: ServeSettings) -> None:
        self.batcher = batcher
        self.settings = settings
        self.metrics = batcher.metrics

    async def judge_many(self, requests: list[JudgeRequest]) -> list[JudgeResponse]:
        """Judge several pairs in one submission (they may share a batch)."""
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
            prompts.append(
                render_messages(
                    sample, PromptSpec(self.settings.prompt.family, "none", self.settings.prompt.instruction)
                )
            )
        texts = await self.batcher.submit(prompts)
        return [_judge_response(t, self.settings.prompt, self.metrics) for t in texts]

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
        point_prompts = [render_score_messages(r.question, r.response) for r in pointwise]
        point_task = self.batcher.submit(point_prompts) if point_prompts else _nothing()
        judge_task = self.judge_many(judge_reqs) if judge_reqs else _nothing()
        point_texts, judged = await asyncio.gather(point_task, judge_task)
        point_iter, judged_iter = iter(point_texts), iter(judged)
        out = []
        for r in requests:
            if r.reference is None:
                text = next(point_iter)
                parsed = parse_score(text)
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

        Usage: reply = await service.get_reward(RewardRequest(query=["Q: 2+2? A: 4"], prompts=["Q: 2+2?"]))
        """
        labels = req.labels or [None] * len(req.query)
        scores = await self.score_many(
            [
                ScoreRequest(question=p or "(no prompt)", response=r, reference=label)
                for p, r, label in zip(req.prompts, req.responses(), labels, strict=True)
            ]
        )
        rewards = [0.0 if s.score is None else s.score / SCORE_MAX for s in scores]
        return RewardResponse(
            rewards=rewards,
            scores=rewards,
            extra_logs={"judge_parsed": [float(s.parsed) for s in scores]},
        )


async def _nothing() -> list:
    return []


def create_app(generator: Generator, settings: ServeSettings | None = None) -> FastAPI:
    """The FastAPI app serving `generator` as a judge (batcher started with the app's lifespan).

    Usage: app = create_app(HFGenerator(model, tok), ServeSettings(token="s3cret")); uvicorn.run(app)
    """
    settings = settings or ServeSettings()
    metrics = ServerMetrics()
    batcher = DynamicBatcher(
        generator, settings.sampling, settings.max_batch, settings.max_wait_ms, settings.max_queue, metrics
    )
    service = JudgeService(batcher, settings)
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

    @app.middleware("http")
    async def auth_and_timing(request: Request, call_next: Callable[[Request], Awaitable[Any]]) -> Any:
        t0 = time.perf_counter()
        path = request.url.path
        if settings.token is not None and path != "/health":
            given = request.headers.get("authorization", "")
            scheme, _, value = given.partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                value.strip().encode(), settings.token.encode()
            ):
                response: Any = _error(
                    401, "missing or wrong bearer token (send 'Authorization: Bearer <token>')"
                )
                metrics.record_request(path, 401, time.perf_counter() - t0)
                return response
        response = await call_next(request)
        metrics.record_request(path, response.status_code, time.perf_counter() - t0)
        return response

    @app.exception_handler(RequestValidationError)
    async def on_invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        status, message = _validation_message(list(exc.errors()))
        return _error(status, message)

    async def _run(coro: Awaitable[Any]) -> Any:
        try:
            return await asyncio.wait_for(coro, settings.request_timeout)
        except TimeoutError:
            return _error(504, f"judging took longer than the request timeout ({settings.request_timeout} s)")
        except QueueFull as err:
            return _error(503, f"server busy: {err}; retry later")
        except RuntimeError as err:
            return _error(500, str(err))

    @app.post("/v1/judge")
    async def judge(req: JudgeRequest) -> Any:
        """Judge one pair (see JudgeRequest / JudgeResponse)."""

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
            prompt=json.loads(json.dumps(settings.prompt.__dict__)),
        )
        return snap

    app.add_middleware(_BodyLimit, limit=settings.max_body_bytes)
    return app

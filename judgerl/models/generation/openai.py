"""The `openai` generation backend: a judge behind an OpenAI-compatible server (`vllm serve`, SGLang,
`judgerl serve`, a hosted API), on the one HTTP client (judgerl.core.http: timeouts, retries with
backoff, 429/503 Retry-After).

Chat-message prompts go to POST {base_url}/chat/completions; raw-string prompts to
POST {base_url}/completions (vLLM and SGLang serve both; `judgerl serve` serves chat only and
answers a raw prompt with 404, reported as such). Up to `endpoint.concurrency` requests are in
flight. A reply's separate `reasoning_content` (DeepSeek, SGLang) or `reasoning` (newer vLLM)
field is kept and joined into the `<think>` block the strict parser reads (`ChatChoice.text`).

A prompt the server refuses as bad (HTTP 400, 413, 422) is that prompt's problem: `complete` records
it, `generate` stops (`on_refused: stop`) or returns an empty completion (`empty`). Anything else -
unreachable after the retries, 401, 404, a reply without JSON - is a setup problem and raises
`EndpointError`, as do refusals of every one of the first `FIRST_REFUSALS` prompts.

`continuation_logprobs_batch` gives `scoring: logprob` its numbers over an endpoint: the prompt is
rendered and tokenized with the served model's tokenizer (`endpoint.tokenizer`) and sent as token
ids to /completions with `echo: true, logprobs: 1, max_tokens: 1`, which vLLM's server answers with
the log-probability of every prompt token.

Counters of requests, refusals, retries, prompt and completion tokens (the servers' `usage`) and
seconds are kept in `stats` (`stats.summary()` is what a stage writes to metrics["decoding"]).

    gen = make_generator("openai", "judge", endpoint=EndpointSpec(base_url="http://127.0.0.1:8000/v1"))
    outs = gen.generate([[{"role": "user", "content": "2+2?"}]], SamplingSpec(max_new_tokens=16))
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from tqdm.auto import tqdm

from judgerl.core.errors import JudgeRLError
from judgerl.core.http import HTTPClient, HTTPError
from judgerl.core.logging import get_logger
from judgerl.judge_spec.verdicts import THINK_CLOSE, THINK_OPEN
from judgerl.models.decoding_config import EndpointConnection, EndpointSpec
from judgerl.models.generation.base import Prompts, SamplingSpec

log = get_logger(__name__)
# statuses that say "this prompt" is bad (too long, malformed): recorded for the prompt, the run goes on;
# any other refusal (401 key, 404 model or URL, ...) is a setup problem that stops the caller
ITEM_STATUSES = frozenset({400, 413, 422})
REASONING_KEYS = ("reasoning_content", "reasoning")
FIRST_REFUSALS = 8  # this many refusals before any answer: a setup problem, not the prompts'
NO_LOGPROBS = (
    "scoring: logprob over an endpoint needs the log-probabilities of the prompt's tokens from "
    "/completions (echo: true, logprobs: 1), as vLLM's OpenAI server gives them"
)


class EndpointError(JudgeRLError):
    """The endpoint failed for good: `.index` (the prompt of the failing call, None when no prompt's),
    `.status` (None when no reply came), `.attempts` and `.detail` (the server's message)."""

    def __init__(
        self,
        message: str,
        index: int | None = None,
        status: int | None = None,
        attempts: int = 0,
        detail: str = "",
    ) -> None:
        super().__init__(message)
        self.index, self.status, self.attempts, self.detail = index, status, attempts, detail or message


@dataclass(frozen=True)
class ChatChoice:
    """One completion: its content, its separate reasoning (if the server split it off), why it ended.

    >>> ChatChoice("Therefore, Response (a) is better.", reasoning="a is right").text
    '<think>\\na is right\\n</think>\\n\\nTherefore, Response (a) is better.'
    """

    content: str
    reasoning: str | None = None
    finish_reason: str | None = None

    @property
    def text(self) -> str:
        """The completion as the parser reads it: a separate reasoning field becomes the think block.

        Usage: verdict = parse_verdict(choice.text)
        """
        if self.reasoning and self.reasoning.strip() and THINK_CLOSE not in self.content:
            return f"{THINK_OPEN}\n{self.reasoning.strip()}\n{THINK_CLOSE}\n\n{self.content.lstrip()}"
        return self.content

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (content, reasoning, finish_reason). Usage: row["answers"] = [c.to_dict() for c in cs]"""
        return dataclasses.asdict(self)


@dataclass
class EndpointReply:
    """What the endpoint gave for one prompt: its choices and token usage, or why it refused the prompt."""

    choices: list[ChatChoice] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)
    refused: str | None = None


@dataclass
class EndpointStats:
    """Counters over every call of one generator (this process's attempt of a stage)."""

    prompts: int = 0
    requests: int = 0
    refused: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    wall_s: float = 0.0

    def summary(self) -> dict[str, float]:
        """The counters plus completion tokens and requests per second.

        >>> EndpointStats(requests=4, completion_tokens=100, wall_s=2.0).summary()["tokens_per_s"]
        50.0
        """
        out: dict[str, float] = dataclasses.asdict(self)
        out["wall_s"] = round(self.wall_s, 3)
        out["tokens_per_s"] = round(self.completion_tokens / self.wall_s, 3) if self.wall_s else 0.0
        out["requests_per_s"] = round(self.requests / self.wall_s, 3) if self.wall_s else 0.0
        return out


def parse_choices(body: Any) -> list[ChatChoice]:
    """The choices of a ChatCompletion (`message`) or Completion (`text`) reply; ValueError when it has none.

    >>> parse_choices({"choices": [{"message": {"content": "x", "reasoning_content": "r"}, "finish_reason": "stop"}]})
    [ChatChoice(content='x', reasoning='r', finish_reason='stop')]
    >>> parse_choices({"choices": [{"text": "y", "index": 0}]})[0].content
    'y'
    """
    choices = body.get("choices") if isinstance(body, dict) else None
    if not isinstance(choices, list) or not choices:
        raise ValueError(f"reply has no choices: {str(body)[:200]}")
    out = []
    for choice in sorted(choices, key=lambda c: c.get("index", 0) if isinstance(c, dict) else 0):
        if isinstance(choice, dict) and isinstance(choice.get("text"), str):
            out.append(ChatChoice(choice["text"], None, choice.get("finish_reason")))
            continue
        message = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(message, dict):
            raise ValueError(f"a choice has no message: {str(choice)[:200]}")
        reasoning = next((message[k] for k in REASONING_KEYS if isinstance(message.get(k), str)), None)
        content = message.get("content")
        out.append(
            ChatChoice(content if isinstance(content, str) else "", reasoning, choice.get("finish_reason"))
        )
    return out


def add_usage(total: dict[str, int], body: Any) -> None:
    """Add a reply's `usage` prompt and completion tokens to `total`. Usage: add_usage(reply.usage, body)"""
    usage = body.get("usage") if isinstance(body, dict) else None
    for key in ("prompt_tokens", "completion_tokens"):
        if isinstance(usage, dict) and isinstance(usage.get(key), int):
            total[key] = total.get(key, 0) + usage[key]


def run_async(make: Callable[[], Awaitable[Any]]) -> Any:
    """Run a coroutine to completion from sync code, also when this thread already runs an event loop.

    Usage: result = run_async(lambda: fetch_all(urls))
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(make())  # type: ignore[arg-type]
    with ThreadPoolExecutor(1) as pool:  # asyncio.run cannot nest: a thread of its own
        return pool.submit(lambda: asyncio.run(make())).result()  # type: ignore[arg-type]


def api_key_headers(endpoint: EndpointConnection) -> dict[str, str]:
    """The Authorization header of `endpoint.api_key_env` ({} without one); EndpointError when it is unset.

    Usage: HTTPClient(url, headers=api_key_headers(spec))
    """
    if not endpoint.api_key_env:
        return {}
    key = os.environ.get(endpoint.api_key_env)
    if not key:
        raise EndpointError(
            f"api_key_env names {endpoint.api_key_env}, which is not set: "
            f"export {endpoint.api_key_env}=... (the key never goes in the recipe)"
        )
    return {"Authorization": f"Bearer {key}"}


class OpenAIGenerator:
    """Completions from an OpenAI-compatible server; the same `generate` as the local backends.

    `model` is the name the server serves the judge under (None: the one model GET /models lists).

    Usage: OpenAIGenerator("judge", EndpointSpec(base_url="http://127.0.0.1:8000/v1")).generate(prompts, SamplingSpec())
    """

    def __init__(self, model: str | None, endpoint: EndpointConnection | Mapping[str, Any]) -> None:
        spec = endpoint if isinstance(endpoint, EndpointConnection) else EndpointSpec(**endpoint)
        self.endpoint = spec
        self.on_refused = getattr(spec, "on_refused", "stop")
        self.http = HTTPClient(
            spec.base_url,
            timeout=spec.timeout,
            retries=spec.retries,
            backoff=spec.backoff,
            max_backoff=spec.max_backoff,
            headers=api_key_headers(spec),
            max_connections=spec.concurrency,
        )
        self.stats = EndpointStats()
        self._answered = False
        self._refused_first = 0
        self._tokenizer: Any = None
        self._slots = asyncio.Semaphore(spec.concurrency)  # replaced in each event loop by `_bounded`
        self.model = model or self.served_model()
        self.name = f"openai:{self.model}@{spec.base_url}"

    def __repr__(self) -> str:
        return f"OpenAIGenerator({self.model!r}, base_url={self.endpoint.base_url!r})"

    # ---- the served model and its tokenizer ---------------------------------------------------
    def served_model(self) -> str:
        """The one model id GET {base_url}/models lists (EndpointError when it lists none or several).

        Usage: model = gen.served_model()
        """
        url = self.endpoint.base_url
        try:
            data = self.http.get_json("models", timeout=min(self.endpoint.timeout, 60.0))["data"]
            ids = [str(m["id"]) for m in data]
        except HTTPError as err:
            raise EndpointError(f"cannot list the models of {url} (GET /models): {err.message}") from err
        except (KeyError, TypeError) as err:
            raise EndpointError(f"GET {url}/models gave no model list: {err!r}") from err
        if len(ids) != 1:
            shown = ", ".join(ids[:5]) + (", ..." if len(ids) > 5 else "")
            raise EndpointError(
                f"{url} serves {len(ids)} models ({shown or 'none'}): name one with model: (--model NAME)"
            )
        return ids[0]

    @property
    def tokenizer(self) -> Any:
        """The served model's tokenizer (`endpoint.tokenizer`), loaded on first use (scoring: logprob).

        Usage: text = render_prompts(gen.tokenizer, prompts)[0]
        """
        if self._tokenizer is None:
            source = getattr(self.endpoint, "tokenizer", None)
            if not source:
                raise EndpointError(
                    "scoring: logprob over an endpoint needs endpoint.tokenizer (the served model's "
                    "tokenizer, a folder or hub id; --tokenizer) to render the prompt and count its tokens"
                )
            from transformers import AutoTokenizer

            try:
                self._tokenizer = AutoTokenizer.from_pretrained(source)
            except (OSError, ValueError) as err:
                raise EndpointError(f"cannot load endpoint.tokenizer {source!r}: {err}") from err
        return self._tokenizer

    # ---- requests -----------------------------------------------------------------------------
    def body(
        self, prompt: list[dict[str, str]] | str, spec: SamplingSpec, n: int, seed: int
    ) -> dict[str, Any]:
        """The request body asking for `n` completions of `prompt` (chat messages or a raw string).

        Usage: http.post_json("chat/completions", gen.body(messages, SamplingSpec(), 1, 0))
        """
        body: dict[str, Any] = {**self.endpoint.extra_body, "model": self.model}
        body["prompt" if isinstance(prompt, str) else "messages"] = prompt
        body.update(
            n=n,
            max_tokens=spec.max_new_tokens,
            temperature=0.0 if spec.greedy else float(spec.temperature),
            top_p=float(spec.top_p),
            seed=int(seed),
        )
        if spec.top_k and not spec.greedy:
            body["top_k"] = int(spec.top_k)  # not OpenAI's; vLLM and SGLang take it
        return body

    def _failed(self, err: HTTPError, index: int | None, what: str) -> EndpointError:
        hint = ""
        if err.status == 404:
            hint = (
                " (base_url is the API root that /chat/completions is appended to: .../v1 for vLLM, "
                "SGLang and judgerl serve; raw-string prompts need /completions, which judgerl serve lacks)"
            )
        said = err.message if err.exhausted or err.status is None else f"HTTP {err.status}: {err.message}"
        return EndpointError(
            f"the endpoint {self.endpoint.base_url} failed on {what} after {err.attempts} attempt(s): "
            f"{said}{hint}",
            index=index,
            status=err.status,
            attempts=err.attempts,
            detail=err.message,
        )

    async def _post(self, path: str, body: dict[str, Any]) -> Any:
        async with self._slots:
            return await self.http.apost_json(path, body)

    async def _ask(self, index: int, prompt: Any, spec: SamplingSpec, seed: int) -> EndpointReply:
        n = 1 if spec.greedy else spec.n
        counts = [n] if self.endpoint.use_n or n == 1 else [1] * n
        path = "completions" if isinstance(prompt, str) else "chat/completions"
        bodies = [self.body(prompt, spec, k_n, seed + k) for k, k_n in enumerate(counts)]
        reply = EndpointReply()
        try:
            answers = await asyncio.gather(*(self._post(path, b) for b in bodies))
            for asked, answer in zip(counts, answers, strict=True):
                got = parse_choices(answer)
                if len(got) != asked:
                    raise ValueError(f"asked for {asked} choices, got {len(got)}")
                reply.choices += got
                add_usage(reply.usage, answer)
        except HTTPError as err:
            if err.exhausted or err.status not in ITEM_STATUSES:
                raise self._failed(err, index, f"prompt {index}") from err
            reply = EndpointReply(refused=f"HTTP {err.status}: {err.message}")
        except ValueError as err:  # a 2xx reply without the (Chat)Completion shape
            reply = EndpointReply(refused=f"bad reply: {err}")
        self._count(index, reply, len(bodies))
        return reply

    def _count(self, index: int, reply: EndpointReply, requests: int) -> None:
        self.stats.requests += requests
        self.stats.prompt_tokens += reply.usage.get("prompt_tokens", 0)
        self.stats.completion_tokens += reply.usage.get("completion_tokens", 0)
        if reply.refused is None:
            self._answered = True
            return
        self.stats.refused += 1
        if not self._answered:
            self._refused_first += 1
            if self._refused_first >= FIRST_REFUSALS:
                raise EndpointError(
                    f"the endpoint {self.endpoint.base_url} refused the first {self._refused_first} prompts "
                    f"(last: prompt {index}: {reply.refused}); check the model name, the URL and max_tokens",
                    detail=reply.refused,
                )

    async def _bounded(
        self,
        count: int,
        call: Callable[[int], Awaitable[Any]],
        on_done: Callable[[int, Any], None],
        progress: bool,
        desc: str,
    ) -> None:
        """`call(i)` for i < count, `on_done(i, result)` as each finishes, with at most `concurrency`
        requests in flight; the first failure (in index order) cancels the rest and is raised."""
        if count == 0:
            return
        self._slots = asyncio.Semaphore(self.endpoint.concurrency)  # taken by each request (`_post`)
        bar = tqdm(total=count, desc=desc, disable=not progress)

        async def one(i: int) -> None:
            result = await call(i)
            on_done(i, result)
            bar.update(1)

        async with self.http:
            tasks = [asyncio.ensure_future(one(i)) for i in range(count)]
            try:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                bar.close()
            for task in tasks:
                if task.done() and not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]

    def _timed(self, make: Callable[[], Awaitable[Any]]) -> Any:
        retries, start = self.http.stats.retries, time.perf_counter()
        try:
            return run_async(make)
        finally:
            self.stats.wall_s += time.perf_counter() - start
            self.stats.retries += self.http.stats.retries - retries

    def complete(
        self,
        prompts: Prompts,
        spec: SamplingSpec,
        on_reply: Callable[[int, EndpointReply], None] | None = None,
        seeds: Sequence[int] | None = None,
        progress: bool = True,
        desc: str = "asking",
        stop_on_refusal: bool = False,
    ) -> list[EndpointReply]:
        """One reply per prompt, in input order (`on_reply(i, reply)` as each arrives); refusals recorded.

        A prompt asks for one completion when `spec` is greedy, else `spec.n` (in one request with
        `use_n`, else in n requests). Prompt i's request k carries seed `seeds[i] + k` (default
        `spec.seed + i * spec.n`), so a resumed caller that passes its own per-item seeds draws the
        same numbers. `stop_on_refusal` raises EndpointError at the first refused prompt.

        Usage: replies = gen.complete(prompts, SamplingSpec(temperature=1.0, n=4), on_reply=save)
        """
        if seeds is not None and len(seeds) != len(prompts):
            raise ValueError(f"{len(seeds)} seeds for {len(prompts)} prompts")
        base = [spec.seed + i * spec.n for i in range(len(prompts))] if seeds is None else list(seeds)
        replies: list[EndpointReply | None] = [None] * len(prompts)

        def done(i: int, reply: EndpointReply) -> None:
            if reply.refused is not None and stop_on_refusal:
                raise EndpointError(
                    f"the endpoint {self.endpoint.base_url} refused prompt {i} of this batch ({reply.refused}); "
                    "set endpoint.on_refused: empty (--on-refused empty) to count such prompts as unreadable",
                    index=i,
                    detail=reply.refused,
                )
            replies[i] = reply
            if on_reply is not None:
                on_reply(i, reply)

        self.stats.prompts += len(prompts)
        self._timed(
            lambda: self._bounded(
                len(prompts), lambda i: self._ask(i, prompts[i], spec, base[i]), done, progress, desc
            )
        )
        return [r if r is not None else EndpointReply(refused="no reply") for r in replies]

    def generate(
        self, prompts: Prompts, spec: SamplingSpec, progress: bool = True, desc: str = "generating"
    ) -> list[list[str]]:
        """Return `spec.n` completions for each prompt, in input order (greedy: one asked, repeated n times).

        A refused prompt stops (`on_refused: stop`) or gives n empty completions (`empty`).

        Usage: outs = gen.generate([[{"role": "user", "content": "2+2?"}]], SamplingSpec(max_new_tokens=16))
        """
        if not prompts:
            return []
        stop = self.on_refused == "stop"
        replies = self.complete(prompts, spec, progress=progress, desc=desc, stop_on_refusal=stop)
        out = []
        for reply in replies:
            texts = [c.text for c in reply.choices] or [""]
            out.append(texts * spec.n if spec.greedy or reply.refused else texts)
        return out

    # ---- log-probabilities of continuations ----------------------------------------------------
    async def _echo_logprobs(self, index: int, ids: list[int], start: int) -> float:
        body = {
            **self.endpoint.extra_body,
            "model": self.model,
            "prompt": ids,
            "max_tokens": 1,
            "temperature": 0.0,
            "echo": True,
            "logprobs": 1,
        }
        try:
            reply = await self._post("completions", body)
        except HTTPError as err:
            raise self._failed(
                err, index, f"the log-probabilities of prompt {index} ({NO_LOGPROBS})"
            ) from err
        self.stats.requests += 1
        usage: dict[str, int] = {}
        add_usage(usage, reply)
        self.stats.prompt_tokens += usage.get("prompt_tokens", 0)
        choices = reply.get("choices") if isinstance(reply, dict) else None
        logprobs = choices[0].get("logprobs") if isinstance(choices, list) and choices else None
        values = logprobs.get("token_logprobs") if isinstance(logprobs, dict) else None
        if not isinstance(values, list) or len(values) < len(ids):
            raise EndpointError(f"{NO_LOGPROBS}; {self.endpoint.base_url} gave none", index=index)
        span = values[start : len(ids)]
        if not all(isinstance(v, (int, float)) for v in span):
            raise EndpointError(f"{NO_LOGPROBS}; {self.endpoint.base_url} left some out", index=index)
        return float(sum(span))

    def continuation_logprobs_batch(
        self, contexts: Sequence[str], continuations: list[str], add_special_tokens: Sequence[bool]
    ) -> list[list[float]]:
        """For each context, the log-probability of each `context + continuation` beyond the tokens they
        share (as `judgerl.models.scoring.continuation_logprobs`, with the server's numbers).

        Usage: scores = gen.continuation_logprobs_batch([rendered], ["Response (a).", "Response (b)."], [False])
        """
        from judgerl.models.scoring import continuation_token_ids

        jobs = []
        for c, (context, special) in enumerate(zip(contexts, add_special_tokens, strict=True)):
            seqs, shared = continuation_token_ids(self.tokenizer, context, continuations, special)
            jobs += [(c, seq, shared) for seq in seqs]
        scores: list[list[float]] = [[] for _ in contexts]
        found: list[float] = [0.0] * len(jobs)

        def done(k: int, value: float) -> None:
            found[k] = value

        self.stats.prompts += len(contexts)
        self._timed(
            lambda: self._bounded(
                len(jobs),
                lambda k: self._echo_logprobs(jobs[k][0], jobs[k][1], jobs[k][2]),
                done,
                False,
                "scoring",
            )
        )
        for (c, _, _), value in zip(jobs, found, strict=True):
            scores[c].append(value)
        return scores


def make_openai_generator(model_path: str | None, **kwargs: Any) -> OpenAIGenerator:
    """The "openai" backend: `model_path` is the served model's name (None: the endpoint's only one);
    kwargs: `endpoint` (an EndpointSpec or its mapping). Local settings (dtype, device) are refused.

    Usage: gen = make_openai_generator("judge", endpoint={"base_url": "http://127.0.0.1:8000/v1"})
    """
    endpoint = kwargs.pop("endpoint", None)
    if kwargs:
        raise ValueError(
            f"generator kind 'openai' takes an endpoint, not {sorted(kwargs)} (those load a model locally)"
        )
    if endpoint is None:
        raise ValueError("generator kind 'openai' needs endpoint={'base_url': 'http://HOST:PORT/v1', ...}")
    return OpenAIGenerator(model_path, endpoint)

"""The teachers a `distill` stage asks: an OpenAI-compatible chat endpoint, or a local checkpoint.

Both take a list of `Job`s (one judge prompt each) and call `on_done(job, reply)` as each job
finishes, so the stage can append it to disk at once. The chat teacher talks to the endpoint
through judgerl.core.http (timeouts, retries with backoff, 429/503 Retry-After); a reply's
separate `reasoning_content` (DeepSeek, SGLang) or `reasoning` (newer vLLM) field is kept, and
`Answer.text` joins it into the `<think>` block that the strict parser reads.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from judgerl.core.errors import StageError
from judgerl.core.http import HTTPClient, HTTPError
from judgerl.core.logging import get_logger
from judgerl.distill.config import LocalTeacher, OpenAITeacher
from judgerl.judge_spec.verdicts import THINK_CLOSE, THINK_OPEN

log = get_logger("judgerl.distill")
# statuses that say "this request" is bad (too long, malformed): recorded for the item, the run goes on;
# any other refusal (401 key, 404 model or URL, ...) is a setup problem that stops the stage
ITEM_STATUSES = frozenset({400, 413, 422})
REASONING_KEYS = ("reasoning_content", "reasoning")
FIRST_REFUSALS = 8  # this many refusals before any answer stop the stage


@dataclass(frozen=True)
class Answer:
    """One teacher judgement: the reply's content, its separate reasoning (if any), why it ended.

    >>> Answer("Therefore, Response (a) is better.", reasoning="a is right").text
    '<think>\\na is right\\n</think>\\n\\nTherefore, Response (a) is better.'
    """

    content: str
    reasoning: str | None = None
    finish_reason: str | None = None

    @property
    def text(self) -> str:
        """The judgement as the parser reads it: a separate reasoning field becomes the think block.

        Usage: verdict = parse_verdict(answer.text)
        """
        if self.reasoning and self.reasoning.strip() and THINK_CLOSE not in self.content:
            return f"{THINK_OPEN}\n{self.reasoning.strip()}\n{THINK_CLOSE}\n\n{self.content.lstrip()}"
        return self.content

    def to_dict(self) -> dict[str, Any]:
        """The JSON form kept in answers.jsonl. Usage: row["answers"] = [a.to_dict() for a in answers]"""
        return dataclasses.asdict(self)


@dataclass
class Reply:
    """A finished job: its answers, the token usage reported, or why the endpoint refused it."""

    answers: list[Answer] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)
    refused: str | None = None


@dataclass(frozen=True)
class Job:
    """One judge prompt: the sample's index, the order shown, its id and the chat messages."""

    index: int
    order: str
    sample_id: str
    messages: list[dict[str, str]]

    @property
    def key(self) -> tuple[int, str]:
        """(index, order): how finished jobs are found again on resume. Usage: done[job.key] = row"""
        return (self.index, self.order)


@dataclass(frozen=True)
class Sampling:
    """What every teacher is asked for: n judgements per prompt, these sampling settings."""

    n: int
    temperature: float
    top_p: float
    max_new_tokens: int
    seed: int = 0


OnDone = Callable[[Job, Reply], None]


class Teacher(Protocol):
    """What the stage needs of a teacher."""

    name: str

    def ask(self, jobs: list[Job], sampling: Sampling, on_done: OnDone, progress: bool = True) -> None:
        """Ask for every job's judgements; call `on_done` as each job finishes (StageError to stop).

        Usage: teacher.ask(jobs, Sampling(1, 0.6, 0.95, 4096), on_done)
        """
        ...


def parse_choices(body: Any) -> list[Answer]:
    """The answers of an OpenAI ChatCompletion reply (ValueError when it has none).

    >>> parse_choices({"choices": [{"message": {"content": "x", "reasoning_content": "r"}, "finish_reason": "stop"}]})
    [Answer(content='x', reasoning='r', finish_reason='stop')]
    """
    choices = body.get("choices") if isinstance(body, dict) else None
    if not isinstance(choices, list) or not choices:
        raise ValueError(f"reply has no choices: {str(body)[:200]}")
    answers = []
    for choice in sorted(choices, key=lambda c: c.get("index", 0) if isinstance(c, dict) else 0):
        message = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(message, dict):
            raise ValueError(f"a choice has no message: {str(choice)[:200]}")
        reasoning = next((message[k] for k in REASONING_KEYS if isinstance(message.get(k), str)), None)
        content = message.get("content")
        answers.append(
            Answer(content if isinstance(content, str) else "", reasoning, choice.get("finish_reason"))
        )
    return answers


def _add_usage(total: dict[str, int], body: Any) -> None:
    usage = body.get("usage") if isinstance(body, dict) else None
    for key in ("prompt_tokens", "completion_tokens"):
        if isinstance(usage, dict) and isinstance(usage.get(key), int):
            total[key] = total.get(key, 0) + usage[key]


class ChatTeacher:
    """An OpenAI-compatible POST {base_url}/chat/completions teacher, `concurrency` requests in flight.

    Usage: ChatTeacher(spec, base_url, "deepseek-reasoner").ask(jobs, Sampling(1, 0.6, 0.95, 4096), on_done)
    """

    def __init__(self, spec: OpenAITeacher, base_url: str, model_name: str) -> None:
        headers = {}
        if spec.api_key_env:
            key = os.environ.get(spec.api_key_env)
            if not key:
                raise StageError(
                    f"distill: teacher.api_key_env names {spec.api_key_env}, which is not set: "
                    f"export {spec.api_key_env}=... (the key never goes in the recipe)"
                )
            headers["Authorization"] = f"Bearer {key}"
        self.spec = spec
        self.model_name = model_name
        self.answered = False
        self.refused_first = 0
        self.name = f"openai:{model_name}@{base_url}"
        self.http = HTTPClient(
            base_url,
            timeout=spec.timeout,
            retries=spec.retries,
            backoff=spec.backoff,
            max_backoff=spec.max_backoff,
            headers=headers,
            max_connections=spec.concurrency,
        )

    def body(self, job: Job, sampling: Sampling, n: int) -> dict[str, Any]:
        """The request body of one call for `job` asking for `n` answers.

        Usage: http.post_json("chat/completions", teacher.body(job, sampling, 1))
        """
        return {
            **self.spec.extra_body,
            "model": self.model_name,
            "messages": job.messages,
            "n": n,
            "max_tokens": sampling.max_new_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
        }

    async def _call(self, job: Job, sampling: Sampling, n: int, slots: asyncio.Semaphore) -> Any:
        async with slots:
            return await self.http.apost_json("chat/completions", self.body(job, sampling, n))

    async def _job(self, job: Job, sampling: Sampling, slots: asyncio.Semaphore, on_done: OnDone) -> None:
        counts = [sampling.n] if self.spec.use_n else [1] * sampling.n
        reply = Reply()
        try:
            bodies = await asyncio.gather(*(self._call(job, sampling, k, slots) for k in counts))
            for body in bodies:
                reply.answers += parse_choices(body)
                _add_usage(reply.usage, body)
        except HTTPError as err:
            if err.exhausted or err.status not in ITEM_STATUSES:
                raise StageError(
                    f"distill: the teacher at {self.http.base_url} failed on sample {job.sample_id} "
                    f"(order {job.order}) after {err.attempts} attempt(s): {err.message}"
                ) from err
            reply = Reply(refused=f"HTTP {err.status}: {err.message}")
        except ValueError as err:  # a 2xx reply without the ChatCompletion shape
            reply = Reply(refused=f"bad reply: {err}")
        self._count(job, reply)
        on_done(job, reply)

    def _count(self, job: Job, reply: Reply) -> None:
        """Stop when the endpoint refuses every one of the first requests: a setup problem, not an item's."""
        if self.answered:
            return
        if reply.refused is None:
            self.answered = True
            return
        self.refused_first += 1
        if self.refused_first >= FIRST_REFUSALS:
            raise StageError(
                f"distill: the teacher at {self.http.base_url} refused the first {self.refused_first} "
                f"requests (last: sample {job.sample_id}: {reply.refused}); check model_name, the URL "
                "and max_new_tokens"
            )

    async def _run(self, jobs: list[Job], sampling: Sampling, on_done: OnDone) -> None:
        slots = asyncio.Semaphore(self.spec.concurrency)
        async with self.http:
            tasks = [asyncio.ensure_future(self._job(j, sampling, slots, on_done)) for j in jobs]
            try:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
            for task in tasks:  # the first failure, in job order
                if task.done() and not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]

    def ask(self, jobs: list[Job], sampling: Sampling, on_done: OnDone, progress: bool = True) -> None:
        """Ask the endpoint for every job (StageError when it stays unreachable or refuses the setup).

        Usage: teacher.ask(jobs, sampling, lambda job, reply: print(job.key, len(reply.answers)))
        """
        log.info(
            f"distill: asking {self.name} for {len(jobs)} judgements ({self.spec.concurrency} at a time)"
        )
        asyncio.run(self._run(jobs, sampling, on_done))


class LocalGenerationTeacher:
    """A checkpoint behind make_generator ("hf" or "vllm"), asked chunk by chunk.

    Usage: LocalGenerationTeacher(LocalTeacher(kind="hf", model=CKPT)).ask(jobs, sampling, on_done)
    """

    def __init__(self, spec: LocalTeacher) -> None:
        from judgerl.models.generation import make_generator

        self.spec = spec
        self.name = f"{spec.kind}:{spec.model}"
        self.generator = make_generator(spec.kind, spec.model, dtype=spec.dtype)

    def ask(self, jobs: list[Job], sampling: Sampling, on_done: OnDone, progress: bool = True) -> None:
        """Generate every job's judgements; each chunk is handed to `on_done` when it is done.

        Usage: teacher.ask(jobs, Sampling(4, 1.0, 1.0, 512), on_done)
        """
        from judgerl.models.generation import SamplingSpec

        size = self.spec.chunk_size
        for start in range(0, len(jobs), size):
            chunk = jobs[start : start + size]
            spec = SamplingSpec(
                max_new_tokens=sampling.max_new_tokens,
                temperature=sampling.temperature,
                top_p=sampling.top_p,
                top_k=self.spec.top_k,
                n=sampling.n,
                seed=sampling.seed + chunk[0].index,  # a resumed run draws the same numbers for a job
                batch_size=self.spec.batch_size,
            )
            texts = self.generator.generate(
                [j.messages for j in chunk],
                spec,
                progress=progress,
                desc=f"distill {start + 1}-{start + len(chunk)}",
            )
            for job, completions in zip(chunk, texts, strict=True):
                on_done(job, Reply(answers=[Answer(t) for t in completions]))

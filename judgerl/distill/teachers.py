"""The teachers a `distill` stage asks: an OpenAI-compatible chat endpoint, or a local checkpoint.

Both take a list of `Job`s (one judge prompt each) and call `on_done(job, reply)` as each job
finishes, so the stage can append it to disk at once. The chat teacher is the `openai` generation
backend (judgerl.models.generation.openai: the one client of OpenAI-compatible servers, on
judgerl.core.http); a reply's separate `reasoning_content` / `reasoning` field is kept, and
`Answer.text` joins it into the `<think>` block that the strict parser reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from judgerl.core.errors import StageError
from judgerl.core.logging import get_logger
from judgerl.distill.config import LocalTeacher, OpenAITeacher
from judgerl.models.decoding_config import chunk_prompts
from judgerl.models.generation.base import SamplingSpec
from judgerl.models.generation.openai import ChatChoice, EndpointError, EndpointReply, OpenAIGenerator

log = get_logger("judgerl.distill")
Answer = ChatChoice  # one teacher judgement: content, separate reasoning, finish_reason; `.text` as parsed


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

    def spec(self, top_k: int = 0, batch_size: int = 32, seed: int | None = None) -> SamplingSpec:
        """The generation backends' SamplingSpec of these settings. Usage: gen.generate(prompts, s.spec())"""
        return SamplingSpec(
            max_new_tokens=self.max_new_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            top_k=top_k,
            n=self.n,
            seed=self.seed if seed is None else seed,
            batch_size=batch_size,
        )


OnDone = Callable[[Job, Reply], None]


class Teacher(Protocol):
    """What the stage needs of a teacher."""

    name: str

    def ask(self, jobs: list[Job], sampling: Sampling, on_done: OnDone, progress: bool = True) -> None:
        """Ask for every job's judgements; call `on_done` as each job finishes (StageError to stop).

        Usage: teacher.ask(jobs, Sampling(1, 0.6, 0.95, 4096), on_done)
        """
        ...


class ChatTeacher:
    """An OpenAI-compatible endpoint asked through the `openai` backend, `concurrency` requests in flight.

    A refused prompt (HTTP 400/413/422, or a reply without choices) is recorded for its job; an
    endpoint that stays unreachable, refuses the setup (401, 404) or refuses every one of the first
    prompts stops the stage.

    Usage: ChatTeacher(spec, base_url, "deepseek-reasoner").ask(jobs, Sampling(1, 0.6, 0.95, 4096), on_done)
    """

    def __init__(self, spec: OpenAITeacher, base_url: str, model_name: str) -> None:
        try:
            self.generator = OpenAIGenerator(model_name, spec.model_copy(update={"base_url": base_url}))
        except EndpointError as err:
            raise StageError(f"distill: teacher: {err}") from err
        self.spec = spec
        self.name = f"openai:{model_name}@{base_url}"

    def ask(self, jobs: list[Job], sampling: Sampling, on_done: OnDone, progress: bool = True) -> None:
        """Ask the endpoint for every job (StageError when it stays unreachable or refuses the setup).

        Usage: teacher.ask(jobs, sampling, lambda job, reply: print(job.key, len(reply.answers)))
        """
        log.info(
            f"distill: asking {self.name} for {len(jobs)} judgements ({self.spec.concurrency} at a time)"
        )

        def done(i: int, reply: EndpointReply) -> None:
            on_done(jobs[i], Reply(list(reply.choices), dict(reply.usage), reply.refused))

        try:
            self.generator.complete(
                [j.messages for j in jobs],
                sampling.spec(),
                on_reply=done,
                seeds=[sampling.seed + j.index for j in jobs],  # a resumed run asks a job with its seed
                progress=progress,
                desc="distill",
            )
        except EndpointError as err:
            if err.index is None:
                raise StageError(f"distill: teacher: {err}") from err
            job = jobs[err.index]
            raise StageError(
                f"distill: the teacher at {self.generator.endpoint.base_url} failed on sample {job.sample_id} "
                f"(order {job.order}) after {err.attempts} attempt(s): {err.detail}"
            ) from err


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
        size = chunk_prompts(self.spec.chunk_size, self.spec.batch_size, self.spec.kind)
        for start in range(0, len(jobs), size):
            chunk = jobs[start : start + size]
            # a resumed run draws the same numbers for a job: the seed follows the chunk's first job
            spec = sampling.spec(self.spec.top_k, self.spec.batch_size, sampling.seed + chunk[0].index)
            texts = self.generator.generate(
                [j.messages for j in chunk],
                spec,
                progress=progress,
                desc=f"distill {start + 1}-{start + len(chunk)}",
            )
            for job, completions in zip(chunk, texts, strict=True):
                on_done(job, Reply(answers=[Answer(t) for t in completions]))

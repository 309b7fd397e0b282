"""Dynamic batching: concurrent requests share one `generate` call.

A background asyncio task takes the first waiting prompt, then keeps gathering prompts with the
same sampling settings until it holds `max_batch` or `max_wait_ms` has passed (a prompt with other
settings waits for the next batch), and runs one `Generator.generate` in a worker thread (the event
loop keeps accepting requests meanwhile). Generation calls never overlap. A prompt whose request
gave up (timed out, client gone) is dropped before its batch starts; a batch whose every request
gave up is stopped at the next token (`serving.cancel`), so its slot goes to the requests behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from typing import Any

from judgerl.models.generation import Generator, Messages, SamplingSpec
from judgerl.serving.cancel import stops_when
from judgerl.serving.metrics import ServerMetrics

RANDOM_SEED = -1  # a SamplingSpec seed meaning "draw a fresh seed for each batch"


class QueueFull(RuntimeError):
    """More prompts are waiting than the server accepts; the client should retry later."""


@dataclass
class _Item:
    prompt: Messages
    spec: SamplingSpec
    future: asyncio.Future[list[str]]
    verdict: bool = False  # a judge prompt for the verdict generator
    scores: dict[str, Any] | None = None  # the verdict generator's scores of this prompt


class DynamicBatcher:
    """Queue prompts from many requests; complete each with its completion text(s).

    `verdict_generator` (optional) judges the prompts given to `submit_verdicts`; without one the
    generator does.

    Usage: batcher = DynamicBatcher(gen, SamplingSpec(), max_batch=32, max_wait_ms=10);
    await batcher.start(); texts = await batcher.submit([messages_1, messages_2])
    """

    def __init__(
        self,
        generator: Generator,
        spec: SamplingSpec,
        max_batch: int = 32,
        max_wait_ms: float = 10.0,
        max_queue: int = 4096,
        metrics: ServerMetrics | None = None,
        verdict_generator: Generator | None = None,
    ) -> None:
        if max_batch < 1 or max_wait_ms < 0 or max_queue < 1:
            raise ValueError(
                f"max_batch must be >= 1, max_wait_ms >= 0, max_queue >= 1; got "
                f"{max_batch}, {max_wait_ms}, {max_queue}"
            )
        self.generator = generator
        self.verdict_generator = verdict_generator
        self.spec = spec
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000.0
        self.max_queue = max_queue
        self.metrics = metrics or ServerMetrics()
        self._queue: asyncio.Queue[_Item] | None = None
        self._held: deque[_Item] = deque()  # gathered, but with other settings than the batch
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the background batching task on the running loop."""
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run(), name="judgerl-batcher")

    async def stop(self) -> None:
        """Cancel the batching task; prompts still waiting get a RuntimeError."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        pending = list(self._held)
        self._held.clear()
        while self._queue is not None and not self._queue.empty():
            pending.append(self._queue.get_nowait())
        for item in pending:
            if not item.future.done():
                item.future.set_exception(RuntimeError("server shutting down"))

    @property
    def waiting(self) -> int:
        """Prompts queued and not yet in a batch."""
        return len(self._held) + (0 if self._queue is None else self._queue.qsize())

    async def submit(self, prompts: list[Messages], spec: SamplingSpec | None = None) -> list[str]:
        """Queue `prompts` and wait for their first completions (in order).

        Raises QueueFull when the queue cannot take them, RuntimeError if the batcher is not running.
        Usage: texts = await batcher.submit([[{"role": "user", "content": "..."}]])
        """
        return [outs[0] for outs in await self.submit_n(prompts, spec)]

    async def submit_n(self, prompts: list[Messages], spec: SamplingSpec | None = None) -> list[list[str]]:
        """Queue `prompts` under `spec` (default: the server's) and wait for all `spec.n` completions of each.

        Usage: outs = await batcher.submit_n(prompts, SamplingSpec(temperature=0.7, n=4)); outs[i][j]
        """
        return [item.future.result() for item in await self._submit(prompts, spec, verdict=False)]

    async def submit_verdicts(self, prompts: list[Messages]) -> list[tuple[str, dict[str, Any] | None]]:
        """Queue judge prompts for the verdict generator: each one's completion and its verdict scores
        (the `logprob` row of models.logprob_judge; None from a generator that keeps none).

        Usage: (text, scores), = await batcher.submit_verdicts([judge_messages])
        """
        return [(item.future.result()[0], item.scores) for item in await self._submit(prompts, None, True)]

    async def _submit(self, prompts: list[Messages], spec: SamplingSpec | None, verdict: bool) -> list[_Item]:
        """Queue the prompts and wait until every one is done (QueueFull, RuntimeError as `submit`)."""
        if self._queue is None or self._task is None or self._task.done():
            raise RuntimeError("the batcher is not running")
        if self.waiting + len(prompts) > self.max_queue:
            raise QueueFull(f"{self.waiting} prompts waiting (limit {self.max_queue})")
        loop = asyncio.get_running_loop()
        items = [_Item(p, spec or self.spec, loop.create_future(), verdict) for p in prompts]
        for item in items:
            self._queue.put_nowait(item)
        try:
            await asyncio.gather(*(i.future for i in items))
        except BaseException:
            for item in items:  # a timed-out request: skipped if not yet generated, else its batch may stop
                item.future.cancel()
            raise
        return items

    async def _next(self, timeout: float | None) -> _Item:
        """The oldest held or queued item; TimeoutError when none comes within `timeout` seconds."""
        assert self._queue is not None
        if self._held:
            return self._held.popleft()
        if timeout is None:
            return await self._queue.get()
        if timeout <= 0:  # wait_for(..., 0) would give up even on a non-empty queue
            if self._queue.empty():
                raise TimeoutError
            return self._queue.get_nowait()
        return await asyncio.wait_for(self._queue.get(), timeout)

    async def _gather(self) -> list[_Item]:
        assert self._queue is not None
        batch = [await self._next(None)]
        spec, verdict = batch[0].spec, batch[0].verdict
        other: list[_Item] = []
        deadline = time.monotonic() + self.max_wait
        while len(batch) < self.max_batch:
            try:
                item = await self._next(deadline - time.monotonic())
            except TimeoutError:
                break
            (batch if item.spec == spec and item.verdict == verdict else other).append(item)
        self._held.extendleft(reversed(other))
        return [i for i in batch if not i.future.done()]

    def _stop_signal(self, batch: list[_Item]) -> threading.Event:
        """An event set once every request of `batch` has given up (the generation thread reads it)."""
        event = threading.Event()

        def on_done(_: asyncio.Future) -> None:
            if all(i.future.done() for i in batch) and any(i.future.cancelled() for i in batch):
                event.set()

        for item in batch:
            item.future.add_done_callback(on_done)
        return event

    def _generate(self, batch: list[_Item], event: threading.Event) -> list[list[str]]:
        spec = batch[0].spec
        if spec.seed == RANDOM_SEED:
            spec = replace(spec, seed=random.randrange(2**31))
        verdicts = batch[0].verdict and self.verdict_generator is not None
        generator = self.verdict_generator if verdicts else self.generator
        with stops_when(generator, event):
            outs = generator.generate([i.prompt for i in batch], spec, False, "serving")
        scores = getattr(generator, "verdict_scores", None) if verdicts else None
        if scores is not None:  # the scores of this call: generation calls never overlap
            for item, s in zip(batch, scores, strict=True):
                item.scores = s.row()
        return outs

    async def _run(self) -> None:
        while True:
            batch = await self._gather()
            if not batch:
                continue
            started = time.perf_counter()
            event = self._stop_signal(batch)
            try:
                outs = await asyncio.to_thread(self._generate, batch, event)
            except Exception as err:  # the model failed: every waiting request hears why
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(RuntimeError(f"generation failed: {err}"))
                continue
            self.metrics.record_batch(len(batch), time.perf_counter() - started, stopped=event.is_set())
            for item, completions in zip(batch, outs, strict=True):
                if not item.future.done():
                    item.future.set_result(completions)

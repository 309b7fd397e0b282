"""A scripted judge that is interrupted: the Ctrl-C of the flush-every-batch tests."""

from __future__ import annotations

from typing import Any

VERDICT = "<think>\nhm\n</think>\n\nTherefore, Response (a) is better, and the strength is [[2]]."


class InterruptedJudge:
    """`spec.n` copies of `answer` per prompt; on call number `stop_at` raises KeyboardInterrupt instead.
    `calls` holds the batch size of every call that returned.

    Usage: monkeypatch.setattr(generation, "make_generator", lambda *a, **k: InterruptedJudge(stop_at=3))
    """

    def __init__(self, stop_at: int | None = None, answer: str = VERDICT) -> None:
        self.stop_at = stop_at
        self.answer = answer
        self.calls: list[int] = []

    def generate(self, prompts: Any, spec: Any, progress: bool = True, desc: str = "") -> list[list[str]]:
        if len(self.calls) + 1 == self.stop_at:
            raise KeyboardInterrupt
        self.calls.append(len(prompts))
        return [[self.answer] * spec.n for _ in prompts]

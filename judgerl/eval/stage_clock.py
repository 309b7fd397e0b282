"""The judging seconds of a resumable evaluation, summed over every attempt of the stage.

An evaluation that is killed and resumed generates only what its partial predictions lack, so
timing the last attempt alone under-reports the stage. `StageClock` keeps the seconds spent so
far in a small JSON file beside the partial predictions, rewritten after every generated chunk
(through `TimedGenerator`); a resumed attempt starts from them. What a killed attempt spent
after its last finished chunk is lost with that chunk's completions, and not counted.

    clock = StageClock(ctx.path("predictions.partial.seconds.json"), resume=ctx.resume)
    judgements = judge_samples(TimedGenerator(generator, clock), samples, spec, sampling, partial)
    metrics["seconds"] = clock.total()
    clock.finish()
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from judgerl.core.jsonl import write_json


class StageClock:
    """Seconds spent on a stage across attempts: those recorded in `path` (when resuming) plus this attempt's.

    Usage: clock = StageClock(out / "predictions.partial.seconds.json", resume=True); clock.total()
    """

    def __init__(self, path: Path, resume: bool = True) -> None:
        self.path = Path(path)
        self.earlier = 0.0
        self.attempt = 1
        if resume and self.path.exists():
            try:
                saved = json.loads(self.path.read_text(encoding="utf-8"))
                self.earlier = float(saved["seconds"])
                self.attempt = int(saved["attempts"]) + 1
            except (ValueError, KeyError, TypeError):  # unreadable: time this attempt only
                self.earlier, self.attempt = 0.0, 1
        elif not resume:
            self.path.unlink(missing_ok=True)
        self.started = time.monotonic()

    def total(self) -> float:
        """The seconds of the earlier attempts plus this one's so far.

        Usage: metrics["seconds"] = clock.total()
        """
        return self.earlier + time.monotonic() - self.started

    def save(self) -> None:
        """Record the total so far (atomically), for a later attempt to continue from. Usage: clock.save()"""
        write_json(self.path, {"seconds": round(self.total(), 3), "attempts": self.attempt})

    def finish(self) -> None:
        """Remove the record once the stage's outputs are written. Usage: clock.finish()"""
        self.path.unlink(missing_ok=True)


class TimedGenerator:
    """A generator that saves `clock` after every `generate` call (one chunk); other attributes pass through.

    Usage: judge_samples(TimedGenerator(generator, clock), samples, spec, sampling, partial)
    """

    def __init__(self, generator: Any, clock: StageClock) -> None:
        self._generator = generator
        self._clock = clock

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        """The wrapped generator's `generate`, then `clock.save()`.

        Usage: texts = timed.generate(prompts, sampling)
        """
        out = self._generator.generate(*args, **kwargs)
        self._clock.save()
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self._generator, name)

"""`scoring: logprob` in the evaluation stages: the judge wrapped in the one log-probability verdict
reader (`judgerl.models.logprob_judge`), and the key left out of a stage's dump at its default."""

from __future__ import annotations

from typing import Any

from judgerl.judge_spec.spec import JudgeSpec
from judgerl.models.logprob_judge import LogprobJudge


def drop_default_scoring(data: Any) -> Any:
    """Leave `scoring: generate` (the default) out of a stage's dump, so a stage keeps the config hash it
    had before the key existed. Usage: inside a `model_serializer(mode="wrap")`."""
    if isinstance(data, dict) and data.get("scoring") == "generate":
        data.pop("scoring")
    return data


def with_scoring(generator: Any, scoring: str, prompt: JudgeSpec) -> Any:
    """The generator a stage judges with: `generator` itself, or a LogprobJudge around it.

    Usage: generator = with_scoring(make_generator("hf", path), stage.scoring, spec)
    """
    return LogprobJudge(generator, prompt) if scoring == "logprob" else generator

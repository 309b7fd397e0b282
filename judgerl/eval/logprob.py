"""The `scoring` key of the evaluation stages: `logprob` wraps the judge in the one log-probability
verdict reader (`judgerl.models.logprob_judge`), `classifier` scores with a reward model
(`judgerl.eval.classifier`); the key is left out of a stage's dump at its default."""

from __future__ import annotations

from typing import Any, Literal

from judgerl.core.types import check_scoring
from judgerl.judge_spec.spec import JudgeSpec
from judgerl.models.logprob_judge import LogprobJudge

# core.types.Scoring (what a served judge takes) and a classifier reward model, evaluation only
EvalScoring = Literal["generate", "logprob", "classifier"]


def check_eval_scoring(value: str, backend: str, endpoint: Any = None) -> str:
    """An evaluation stage's `scoring` key: classifier needs the hf backend (it loads the reward
    model's head); logprob and generate as `core.types.check_scoring` says.

    >>> check_eval_scoring("classifier", "vllm")
    Traceback (most recent call last):
    ...
    ValueError: scoring: 'classifier' needs backend: hf, got backend: vllm

    Usage: check_eval_scoring(stage.scoring, stage.backend, stage.endpoint)   # in a model validator
    """
    if value == "classifier":
        if backend != "hf":
            raise ValueError(f"scoring: 'classifier' needs backend: hf, got backend: {backend}")
        return value
    return check_scoring(value, backend, endpoint)


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

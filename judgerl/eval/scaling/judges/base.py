"""What every judge for selection is: the `SelectionJudge` protocol, `BatchJudge`, `PromptScores`,
the options model-backed judges are built with, and the signature of a judge kind's builder.

    judge.score(prompt, candidates) -> list[float]        (higher is better)

Judges that can batch implement `score_batch(prompts, candidate_lists) -> list[PromptScores]`,
marking a candidate they could not score with NaN and counting it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol, get_args, runtime_checkable

from judgerl.data_prep.answers import AnswerOrder

if TYPE_CHECKING:
    from judgerl.eval.scaling.candidates import PromptCandidates

SCORE_LOW, SCORE_HIGH = 0.0, 10.0
PRM_SEPARATOR = "<extra_0>"  # Qwen2.5-Math-PRM's step separator, the default of `prm:` judges
StepRule = Literal["lines", "equals"]
"""How a `prm:` judge cuts a solution into steps: "lines" (judgerl's) or "equals" (the Demystifying seed's)."""
STEP_RULES: tuple[str, ...] = get_args(StepRule)


@runtime_checkable
class SelectionJudge(Protocol):
    """What every judge for selection provides."""

    name: str

    def score(self, prompt: str, candidates: list[str]) -> list[float]:
        """One score per candidate, in order (higher is better). Usage: judge.score("2+2?", ["4", "5"])."""
        ...


@dataclass
class PromptScores:
    """A judge's scores for one prompt: NaN where it gave none, `failures` such gaps or unusable
    outputs behind the scores (e.g. unparseable pairwise verdicts), `calls` model calls or requests."""

    scores: list[float]
    failures: int = 0
    calls: int = 0


def scores_with_gaps(raw: Sequence[float], calls: int = 1) -> PromptScores:
    """Scores of one prompt where a non-finite value is a gap (NaN) and counted as a failure.

    >>> scores_with_gaps([1.0, float("inf")])
    PromptScores(scores=[1.0, nan], failures=1, calls=1)

    Usage: out.append(scores_with_gaps(fn(prompt, candidates)))
    """
    values = [float(x) for x in raw]
    bad = [not math.isfinite(x) for x in values]
    return PromptScores([math.nan if b else x for x, b in zip(values, bad, strict=True)], sum(bad), calls)


class BatchJudge:
    """Base of judges that score many prompts at once; `score` fills gaps with `missing`."""

    name: str = "judge"
    missing: float = SCORE_LOW

    def score_batch(
        self, prompts: Sequence[str], candidate_lists: Sequence[Sequence[str]]
    ) -> list[PromptScores]:
        """Scores for each prompt's candidates. Usage: judge.score_batch(["q"], [["a", "b"]])."""
        raise TypeError(f"{type(self).__name__} must implement score_batch")

    def score(self, prompt: str, candidates: list[str]) -> list[float]:
        """One score per candidate; a candidate the judge could not score gets `missing`.

        Usage: judge.score("2+2?", ["4", "5"])
        """
        (result,) = self.score_batch([prompt], [candidates])
        return [self.missing if math.isnan(s) else s for s in result.scores]

    def fingerprint(self) -> dict[str, Any]:
        """What makes this judge's scores what they are (cached scores are reused only if it matches).

        Usage: judge.fingerprint()
        """
        return {"name": self.name}


@dataclass
class JudgeOptions:
    """How model-backed judges are built: generation backend and lengths, pairwise prompt, PRM step
    rule (`prm_steps`), HTTP knobs (`answer_extraction`: how the seed-format body's final answer is read)."""

    backend: str = "hf"
    dtype: str = "auto"
    device: str = "auto"
    batch_size: int = 32
    score_max_new_tokens: int = 8
    score_instruction: str = "full"
    pairwise_max_new_tokens: int = 512
    prompt: Any = None  # the `prompt:` shorthand (PromptSpec) of pairwise judges, or None
    judge_spec: Any = (
        None  # an explicit JudgeSpec: pairwise ones for pairwise judges, pointwise for generative
    )
    both_orders: bool = True
    prm_separator: str = PRM_SEPARATOR
    prm_max_length: int = 4096
    prm_steps: StepRule = "lines"
    trust_remote_code: bool = False
    http_timeout: float = 30.0
    http_retries: int = 3
    http_backoff: float = 0.5
    http_token_env: str = "JUDGERL_JUDGE_TOKEN"
    answer_extraction: AnswerOrder = "last"
    seed: int = 0
    progress: bool = True
    endpoint: Any = None  # backend openai: the EndpointSpec of the server the judges' models are on


class JudgeBuilder(Protocol):
    """How a judge kind is built from its spec: `builder(arg, spec, items, options)`.

    `arg` is what follows "KIND:" in the spec, `spec` the whole spec (the judge's name), `items`
    the candidates to be scored (the oracle needs their truth).
    """

    def __call__(
        self, arg: str, spec: str, items: Sequence[PromptCandidates], options: JudgeOptions
    ) -> BatchJudge: ...


def generator_for(path: str, options: JudgeOptions) -> Any:
    """The generation backend `options` name, loaded from `path` (model-backed judges share it); with
    backend openai `path` is the name of a model the options' endpoint serves.

    Usage: generator = generator_for("runs/quickstart/sft/checkpoint", JudgeOptions(device="cpu"))
    """
    from judgerl.models.decoding_config import generator_kwargs
    from judgerl.models.generation import make_generator

    local: dict[str, Any] = {"dtype": options.dtype}
    if options.backend == "hf":
        local["device"] = options.device
    kwargs = generator_kwargs(options.backend, endpoint=options.endpoint, **local)
    return make_generator(options.backend, path, **kwargs)

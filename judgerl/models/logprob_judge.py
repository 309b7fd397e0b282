"""Verdicts by log-probability: compare the judge's probabilities of the verdicts its judge spec reads.

After the rendered prompt (and, for a thinking judge, its own generated thinking) the candidates
are the spec's verdict texts (judge_spec/writing.py `verdict_candidates`): judgerl's sentences for
a and b (with k in 1..3 where the strength is required), or a pattern format's `sentences` (a tie
too where the spec reads ties). The choice with the largest probability (summed over strengths)
wins; its normalized probability is the confidence. A base model that never writes the verdict
gets a readable verdict this way.

The one implementation behind `scoring: logprob` of the evaluation stages (`judgerl.eval.logprob`
wires it in) and `judgerl serve --scoring logprob`. Torch is imported only when scoring runs.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from tqdm.auto import tqdm

from judgerl.judge_spec.spec import JudgeSpec
from judgerl.judge_spec.verdicts import THINK_CLOSE, THINK_OPEN
from judgerl.judge_spec.writing import verdict_candidates, verdict_text
from judgerl.models.generation.base import Prompts, render_prompts

_VERDICT_START = re.compile(r"therefore\s*,?\s*response", re.IGNORECASE)


@dataclass(frozen=True)
class VerdictScores:
    """One judgement by log-probability: the readable completion, the choice, its confidence and margin."""

    completion: str
    choice: str
    strength: int | None
    logprobs: dict[str, float]
    confidence: float
    margin: float
    strength_logprobs: dict[str, dict[int, float]] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        """The `logprob` field of a predictions row. Usage: row["logprob"] = scores.row()"""
        out: dict[str, Any] = {c: round(v, 4) for c, v in self.logprobs.items()}
        out.update(confidence=round(self.confidence, 6), margin=round(self.margin, 4))
        if self.strength_logprobs:
            out["strength"] = {
                c: {str(k): round(v, 4) for k, v in d.items()} for c, d in self.strength_logprobs.items()
            }
        return out


def thinking_prefix(completion: str) -> str:
    """What comes before the verdict sentence: the generated thinking, closed, then a blank line.

    >>> thinking_prefix("<think>\\n1+1=2\\n</think>\\n\\nTherefore, Response (b) is better.")
    '<think>\\n1+1=2\\n</think>\\n\\n'
    >>> thinking_prefix("<think>\\ncut short")
    '<think>\\ncut short\\n</think>\\n\\n'
    >>> thinking_prefix("Both look fine. Therefore, Response (a) is better.")
    'Both look fine.\\n\\n'
    """
    close = completion.rfind(THINK_CLOSE)
    if close >= 0:
        return completion[: close + len(THINK_CLOSE)] + "\n\n"
    if THINK_OPEN in completion:
        return completion.rstrip() + "\n" + THINK_CLOSE + "\n\n"
    found = list(_VERDICT_START.finditer(completion))
    text = completion[: found[-1].start()] if found else completion
    return text.rstrip() + "\n\n" if text.strip() else ""


def _logsumexp(values: list[float]) -> float:
    top = max(values)
    return top + math.log(sum(math.exp(v - top) for v in values))


def decide(prefix: str, scores: list[float], spec: JudgeSpec) -> VerdictScores:
    """Turn the candidates' log-probabilities (in `verdict_candidates(spec)` order) into a verdict.

    >>> from judgerl.judge_spec.presets import builtin_spec
    >>> v = decide("", [-1.0, -3.0], builtin_spec("cot"))
    >>> v.choice, round(v.confidence, 3), v.completion
    ('a', 0.881, 'Therefore, Response (a) is better.')
    """
    cands = verdict_candidates(spec)
    per_choice: dict[str, dict[int | None, float]] = {}
    for (choice, strength, _), s in zip(cands, scores, strict=True):
        per_choice.setdefault(choice, {})[strength] = s
    logp = {c: _logsumexp(list(d.values())) for c, d in per_choice.items()}
    choice = max(logp, key=lambda c: (logp[c], c == "a"))  # a tie of probabilities goes to (a), as before
    margin = logp[choice] - max(v for c, v in logp.items() if c != choice)
    total = _logsumexp(list(logp.values()))
    confidence = math.exp(logp[choice] - total)
    wants_strength = spec.wants_strength and choice != "tie"
    strength = max(per_choice[choice], key=lambda k: per_choice[choice][k]) if wants_strength else None
    strength_lp = {c: {int(k): v for k, v in d.items() if k is not None} for c, d in per_choice.items()}
    return VerdictScores(
        completion=prefix + verdict_text(spec, choice, strength),
        choice=choice,
        strength=strength,
        logprobs=logp,
        confidence=confidence,
        margin=margin,
        strength_logprobs={c: d for c, d in strength_lp.items() if d} if spec.wants_strength else {},
    )


class LogprobJudge:
    """A Generator whose completions are the most probable verdict sentence (after generated thinking).

    `generate` returns the readable completions (so every stage that parses completions works
    unchanged) and keeps the scores of that call in `verdict_scores`. Needs a backend with a
    `model` and a `tokenizer` (the HF one), or one that scores continuations itself
    (`continuation_logprobs_batch`: the openai backend, from the server's prompt log-probabilities).

    Usage: judge = LogprobJudge(HFGenerator(model, tok), builtin_spec("direct")); judge.generate(prompts, spec)
    """

    def __init__(self, generator: Any, prompt: JudgeSpec) -> None:
        self.endpoint_scores = getattr(generator, "continuation_logprobs_batch", None)
        if self.endpoint_scores is None:
            for attr in ("model", "tokenizer"):
                if not hasattr(generator, attr):
                    raise ValueError(
                        "scoring: logprob needs the hf backend (a model and tokenizer) or the openai "
                        f"backend, got {generator!r}"
                    )
        self.generator = generator
        self.model = None if self.endpoint_scores else generator.model
        self.tokenizer = generator.tokenizer
        self.prompt = prompt
        self.verdict_scores: list[VerdictScores] = []

    def _continuation_scores(
        self, contexts: list[str], sentences: list[str], special: list[bool], progress: bool, desc: str
    ) -> list[list[float]]:
        if self.endpoint_scores is not None:
            return self.endpoint_scores(contexts, sentences, special)
        from judgerl.models.scoring import continuation_logprobs

        self.model.eval()
        rows = tqdm(
            zip(contexts, special, strict=True),
            total=len(contexts),
            desc=f"{desc}: verdict log-probabilities",
            disable=not progress,
        )
        return [
            continuation_logprobs(self.model, self.tokenizer, c, sentences, add_special_tokens=s)
            for c, s in rows
        ]

    def score(
        self, prompts: Prompts, spec: Any, progress: bool = True, desc: str = "scoring"
    ) -> list[VerdictScores]:
        """The verdict scores of each prompt (thinking generated first for a thinking family), with a
        progress bar over the prompts scored unless `progress` is False.

        Usage: scores = judge.score(prompts, SamplingSpec(max_new_tokens=256))
        """
        if not prompts:
            return []
        if self.prompt.wants_thinking:
            thoughts = [c[0] for c in self.generator.generate(prompts, spec, progress=progress, desc=desc)]
        else:
            thoughts = [""] * len(prompts)
        texts = render_prompts(self.tokenizer, prompts)
        sentences = [c[2] for c in verdict_candidates(self.prompt)]
        prefixes = [thinking_prefix(t) if self.prompt.wants_thinking else "" for t in thoughts]
        scores = self._continuation_scores(
            [text + prefix for text, prefix in zip(texts, prefixes, strict=True)],
            sentences,
            [isinstance(p, str) for p in prompts],
            progress,
            desc,
        )
        return [decide(prefix, s, self.prompt) for prefix, s in zip(prefixes, scores, strict=True)]

    def generate(
        self, prompts: Prompts, spec: Any, progress: bool = True, desc: str = "scoring"
    ) -> list[list[str]]:
        """The most probable verdict completion of each prompt, `spec.n` times; scores in `verdict_scores`.

        Usage: outs = judge.generate(prompts, SamplingSpec())
        """
        self.verdict_scores = self.score(prompts, spec, progress, desc)
        return [[s.completion] * spec.n for s in self.verdict_scores]

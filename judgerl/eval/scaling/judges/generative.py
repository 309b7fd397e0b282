"""The `generative:PATH` judge: a causal LM prompted for a 0-10 score (greedy), in a pointwise judge spec."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from judgerl.eval.scaling.candidates import PromptCandidates
from judgerl.eval.scaling.judges.base import SCORE_LOW, BatchJudge, JudgeOptions, PromptScores, generator_for
from judgerl.eval.scaling.judges.cache import stamped


class GenerativeScoreJudge(BatchJudge):
    """A causal LM asked for a score of each candidate (greedy), prompted and read by a pointwise judge
    spec (default: the built-in `score` spec: the number on the reply's last line, clamped to 0-10).

    Usage: GenerativeScoreJudge(make_generator("hf", "Qwen/Qwen2.5-7B-Instruct"), max_new_tokens=8)
    """

    def __init__(
        self,
        generator: Any,
        name: str = "generative",
        max_new_tokens: int = 8,
        batch_size: int = 32,
        instruction: str = "full",
        missing: float = SCORE_LOW,
        progress: bool = False,
        spec: Any = None,
    ) -> None:
        from judgerl.judge_spec.presets import builtin_spec
        from judgerl.models.generation import SamplingSpec

        self.generator = generator
        self.name = name
        self.instruction = instruction
        self.spec = spec or builtin_spec("score" if instruction == "full" else "score-compact")
        self.missing = float(missing)
        self.progress = progress
        self.sampling = SamplingSpec(max_new_tokens=max_new_tokens, temperature=0.0, batch_size=batch_size)

    def fingerprint(self) -> dict[str, Any]:
        """Name, judge spec, decoding length and the missing-score rule. Usage: judge.fingerprint()"""
        return {
            "name": self.name,
            "judge_spec": self.spec.model_dump(mode="json"),
            "max_new_tokens": self.sampling.max_new_tokens,
            "missing": self.missing,
        }

    def score_batch(
        self, prompts: Sequence[str], candidate_lists: Sequence[Sequence[str]]
    ) -> list[PromptScores]:
        """One generation per candidate; an unparseable reply is NaN and counted.

        Usage: judge.score_batch(["2+2?"], [["4", "5"]])
        """
        from judgerl.judge_spec.reading import read_score
        from judgerl.judge_spec.render import score_prompt

        flat = [(i, c) for i, cands in enumerate(candidate_lists) for c in cands]
        messages = [score_prompt(self.spec, prompts[i], c) for i, c in flat]
        texts = self.generator.generate(messages, self.sampling, progress=self.progress, desc="scoring")
        out = [PromptScores([], 0, 0) for _ in prompts]
        for (i, _), completions in zip(flat, texts, strict=True):
            parsed = read_score(self.spec.verdict, completions[0])
            out[i].scores.append(parsed.value if parsed.ok else math.nan)  # type: ignore[arg-type]
            out[i].failures += not parsed.ok
            out[i].calls += 1
        return out


def build_generative_judge(
    arg: str, spec: str, items: Sequence[PromptCandidates], options: JudgeOptions
) -> GenerativeScoreJudge:
    """The `generative:PATH` judge of a spec: the model at PATH on the options' backend, stamped with
    its checkpoint's files; its pointwise spec is the options' (a pointwise judge_spec), else a
    pointwise spec saved with PATH, else the built-in score prompt.

    Usage: build_generative_judge("runs/x/sft/checkpoint", "generative:runs/x/sft/checkpoint", [], JudgeOptions())
    """
    from judgerl.judge_spec.files import checkpoint_spec

    pointwise = (
        options.judge_spec
        if options.judge_spec is not None and options.judge_spec.mode == "pointwise"
        else None
    )
    if pointwise is None:
        saved = checkpoint_spec(arg)
        pointwise = saved if saved is not None and saved.mode == "pointwise" else None
    judge = GenerativeScoreJudge(
        generator_for(arg, options),
        name=spec,
        max_new_tokens=options.score_max_new_tokens,
        batch_size=options.batch_size,
        instruction=options.score_instruction,
        progress=options.progress,
        spec=pointwise,
    )
    return stamped(judge, arg)

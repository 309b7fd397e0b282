"""The `generative:PATH` judge: a causal LM prompted for a 0-10 score (greedy, first number, clamped)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from judgerl.eval.scaling.candidates import PromptCandidates
from judgerl.eval.scaling.judges.base import SCORE_LOW, BatchJudge, JudgeOptions, PromptScores, generator_for
from judgerl.eval.scaling.judges.cache import stamped


class GenerativeScoreJudge(BatchJudge):
    """A causal LM asked for a 0-10 score of each candidate (greedy), read by `parse_score`.

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
    ) -> None:
        from judgerl.models.generation import SamplingSpec

        self.generator = generator
        self.name = name
        self.instruction = instruction
        self.missing = float(missing)
        self.progress = progress
        self.sampling = SamplingSpec(max_new_tokens=max_new_tokens, temperature=0.0, batch_size=batch_size)

    def fingerprint(self) -> dict[str, Any]:
        """Name, prompt instruction, decoding length and the missing-score rule. Usage: judge.fingerprint()"""
        return {
            "name": self.name,
            "instruction": self.instruction,
            "max_new_tokens": self.sampling.max_new_tokens,
            "missing": self.missing,
        }

    def score_batch(
        self, prompts: Sequence[str], candidate_lists: Sequence[Sequence[str]]
    ) -> list[PromptScores]:
        """One generation per candidate; an unparseable reply is NaN and counted.

        Usage: judge.score_batch(["2+2?"], [["4", "5"]])
        """
        from judgerl.judge_spec.score_parser import parse_score
        from judgerl.judge_spec.score_prompts import render_score_messages

        flat = [(i, c) for i, cands in enumerate(candidate_lists) for c in cands]
        messages = [render_score_messages(prompts[i], c, self.instruction) for i, c in flat]  # type: ignore[arg-type]
        texts = self.generator.generate(messages, self.sampling, progress=self.progress, desc="scoring")
        out = [PromptScores([], 0, 0) for _ in prompts]
        for (i, _), completions in zip(flat, texts, strict=True):
            parsed = parse_score(completions[0])
            out[i].scores.append(parsed.value if parsed.ok else math.nan)  # type: ignore[arg-type]
            out[i].failures += not parsed.ok
            out[i].calls += 1
        return out


def build_generative_judge(
    arg: str, spec: str, items: Sequence[PromptCandidates], options: JudgeOptions
) -> GenerativeScoreJudge:
    """The `generative:PATH` judge of a spec: the model at PATH on the options' backend, stamped with
    its checkpoint's files.

    Usage: build_generative_judge("runs/x/sft/checkpoint", "generative:runs/x/sft/checkpoint", [], JudgeOptions())
    """
    judge = GenerativeScoreJudge(
        generator_for(arg, options),
        name=spec,
        max_new_tokens=options.score_max_new_tokens,
        batch_size=options.batch_size,
        instruction=options.score_instruction,
        progress=options.progress,
    )
    return stamped(judge, arg)

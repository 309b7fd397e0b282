"""The `pairwise:PATH` judge: a judgerl pairwise judge turned into scores, 10 x each candidate's win
rate over the other candidates of its prompt."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from judgerl.eval.scaling.candidates import PromptCandidates
from judgerl.eval.scaling.judges.base import SCORE_HIGH, BatchJudge, JudgeOptions, PromptScores, generator_for
from judgerl.eval.scaling.judges.cache import stamped


class PairwiseScoreJudge(BatchJudge):
    """A judgerl pairwise judge turned into scores: 10 x each candidate's win rate over the others.

    Every pair of a prompt's candidates is judged (both orders by default) in the judge's spec
    (`judgerl.eval.pairwise.judge_samples`). A verdict gives its winner one win, a tie verdict half a
    win each; an unparseable verdict counts as a tie and as a failure. A prompt with one candidate
    scores 5. Cost: k(k-1) judgements per prompt with both orders.

    Usage: PairwiseScoreJudge(make_generator("hf", "runs/quickstart/sft/checkpoint"), builtin_spec("cot"))
    """

    def __init__(
        self,
        generator: Any,
        prompt_spec: Any = None,
        name: str = "pairwise",
        max_new_tokens: int = 512,
        batch_size: int = 32,
        both_orders: bool = True,
    ) -> None:
        from judgerl.judge_spec.presets import DEFAULT_SPEC, builtin_spec
        from judgerl.models.generation import SamplingSpec

        self.generator = generator
        self.prompt_spec = prompt_spec or builtin_spec(DEFAULT_SPEC)
        self.name = name
        self.both_orders = both_orders
        self.sampling = SamplingSpec(max_new_tokens=max_new_tokens, temperature=0.0, batch_size=batch_size)
        self.missing = SCORE_HIGH / 2

    def fingerprint(self) -> dict[str, Any]:
        """Name, judge spec, decoding length and orders.

        Usage: judge.fingerprint()
        """
        return {
            "name": self.name,
            "judge_spec": self.prompt_spec.model_dump(mode="json"),
            "max_new_tokens": self.sampling.max_new_tokens,
            "both_orders": self.both_orders,
        }

    def score_batch(
        self, prompts: Sequence[str], candidate_lists: Sequence[Sequence[str]]
    ) -> list[PromptScores]:
        """Judge all pairs of every prompt in one call, then count wins.

        Usage: judge.score_batch(["2+2?"], [["4", "5", "22"]])
        """
        from judgerl.core.types import JudgeSample
        from judgerl.eval.pairwise import judge_samples

        samples, where = [], {}
        for p, (prompt, cands) in enumerate(zip(prompts, candidate_lists, strict=True)):
            for i in range(len(cands)):
                for j in range(i + 1, len(cands)):
                    sid = f"{p}:{i}:{j}"
                    # The label is unused: only the verdict's choice counts here.
                    samples.append(
                        JudgeSample(
                            sid, "scaling", [{"role": "user", "content": prompt}], cands[i], cands[j], "a"
                        )
                    )
                    where[sid] = (p, i, j)
        judgements = judge_samples(
            self.generator,
            samples,
            self.prompt_spec,
            self.sampling,
            chunk_size=max(128, self.sampling.batch_size),
            both_orders=self.both_orders,
        )
        wins = [np.zeros(len(c)) for c in candidate_lists]
        games = [np.zeros(len(c)) for c in candidate_lists]
        out = [PromptScores([], 0, 0) for _ in prompts]
        for j in judgements:
            p, a, b = where[j.sample_id]
            if j.order == "ba":
                a, b = b, a  # response (a) of a swapped sample is candidate j
            games[p][[a, b]] += 1
            out[p].calls += 1
            if j.verdict.choice in (None, "tie"):
                wins[p][[a, b]] += 0.5
                out[p].failures += j.verdict.choice is None
            else:
                wins[p][a if j.verdict.choice == "a" else b] += 1
        for p in range(len(prompts)):
            rate = np.divide(wins[p], games[p], out=np.full(len(wins[p]), 0.5), where=games[p] > 0)
            out[p].scores = [float(SCORE_HIGH * r) for r in rate]
        return out


def build_pairwise_judge(
    arg: str, spec: str, items: Sequence[PromptCandidates], options: JudgeOptions
) -> PairwiseScoreJudge:
    """The `pairwise:PATH` judge of a spec: the judge model at PATH in its judge spec (the options' pairwise
    spec or prompt shorthand, else the one saved with PATH) and the options' orders.

    Usage: build_pairwise_judge("runs/x/sft/checkpoint", "pairwise:runs/x/sft/checkpoint", [], JudgeOptions())
    """
    from judgerl.judge_spec.files import resolve_spec

    explicit = (
        options.judge_spec
        if options.judge_spec is not None and options.judge_spec.mode == "pairwise"
        else None
    )
    judge = PairwiseScoreJudge(
        generator_for(arg, options),
        resolve_spec(explicit, options.prompt, arg, f"scaling judge {spec}"),
        name=spec,
        max_new_tokens=options.pairwise_max_new_tokens,
        batch_size=options.batch_size,
        both_orders=options.both_orders,
    )
    return stamped(judge, arg)

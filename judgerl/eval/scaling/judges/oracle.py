"""The `oracle:EPS` judge: the truth with noise, r = clamp(10*c + 10*EPS*N(0, 1), 0, 10), seeded."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from judgerl.eval.scaling.candidates import PromptCandidates
from judgerl.eval.scaling.judges.base import SCORE_HIGH, SCORE_LOW, BatchJudge, JudgeOptions, PromptScores


def _key_int(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def parse_noise(arg: str, spec: str) -> float:
    """The noise EPS of an `oracle:EPS` spec: a finite number >= 0, else ValueError naming the spec.

    >>> parse_noise("0.1", "oracle:0.1")
    0.1

    Usage: eps = parse_noise(arg, spec)
    """
    try:
        eps = float(arg)
    except ValueError:
        raise ValueError(f"judge spec {spec!r}: oracle noise must be a number, e.g. oracle:0.1") from None
    if not eps >= 0 or math.isinf(eps):
        raise ValueError(f"judge spec {spec!r}: oracle noise must be a finite number >= 0")
    return eps


class OracleJudge(BatchJudge):
    """The truth with Gaussian noise: r = clamp(10*c + 10*eps*z, 0, 10), z ~ N(0, 1).

    z is drawn from a generator seeded with (seed, hash of prompt and candidates), so a
    candidate's noise never depends on call order, and oracles with different eps share the same
    z (their curves differ by the noise scale alone).

    >>> item = PromptCandidates("q", "2+2?", ["4", "5"], [1.0, 0.0])
    >>> OracleJudge([item], eps=0.0).score("2+2?", ["4", "5"])
    [10.0, 0.0]
    """

    def __init__(self, items: Sequence[PromptCandidates], eps: float, seed: int = 0) -> None:
        if not eps >= 0:
            raise ValueError(f"oracle noise eps must be >= 0, got {eps}")
        self.eps = float(eps)
        self.seed = int(seed)
        self.name = f"oracle:{eps:g}"
        self._truth = {item.key: item.correctness for item in items}

    def fingerprint(self) -> dict[str, Any]:
        """Kind, eps and seed. Usage: judge.fingerprint()"""
        return {"name": self.name, "eps": self.eps, "seed": self.seed}

    def score_batch(
        self, prompts: Sequence[str], candidate_lists: Sequence[Sequence[str]]
    ) -> list[PromptScores]:
        """Noisy truth for each prompt (only prompts the oracle was built with).

        Usage: judge.score_batch(["2+2?"], [["4", "5"]])
        """
        out = []
        for prompt, cands in zip(prompts, candidate_lists, strict=True):
            key = PromptCandidates("", prompt, list(cands), [0.0] * len(cands)).key
            if key not in self._truth:
                raise KeyError(f"the oracle knows only the candidates it was built with; not {prompt[:60]!r}")
            c = np.asarray(self._truth[key], dtype=np.float64)
            z = np.random.default_rng([self.seed, _key_int(key)]).standard_normal(c.size)
            r = np.clip(SCORE_HIGH * c + SCORE_HIGH * self.eps * z, SCORE_LOW, SCORE_HIGH)
            out.append(PromptScores([float(x) for x in r]))
        return out


def build_oracle_judge(
    arg: str, spec: str, items: Sequence[PromptCandidates], options: JudgeOptions
) -> OracleJudge:
    """The `oracle:EPS` judge of a spec (named `oracle:EPS` with EPS as written by `:g`).

    Usage: build_oracle_judge("0.1", "oracle:0.1", items, JudgeOptions(seed=0))
    """
    return OracleJudge(items, parse_noise(arg, spec), seed=options.seed)

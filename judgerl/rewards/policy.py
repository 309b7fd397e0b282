"""The reward contract of a policy (not a judge) being trained: a question, maybe a reference, a completion.

A judge reward reads a pairwise `JudgeSample`; a policy reward reads a `PolicySample` (the question
the policy answered and, optionally, a reference answer) and the policy's completion, and returns
the same `RewardResult` (score, verdict, details with `parsed`). A policy reward that is cheaper in
batches (the served judge) also offers `batch` and `abatch`; `judgerl.rewards.adapters` turns one
into a TRL `reward_funcs` entry or a verl `compute_score`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from judgerl.rewards.functions import RewardResult


@dataclass(frozen=True)
class PolicySample:
    """What a policy reward knows besides the completion: the question and an optional reference.

    >>> PolicySample("2+2?", "4").reference
    '4'
    """

    question: str
    reference: str | None = None


@runtime_checkable
class PolicyReward(Protocol):
    """A reward of policy completions, one at a time or in (async) batches, in input order."""

    name: str

    def __call__(self, sample: PolicySample, completion: str) -> RewardResult:
        """The reward of one completion. Usage: reward(PolicySample("2+2?"), "4").score"""
        ...

    def batch(self, samples: Sequence[PolicySample], completions: Sequence[str]) -> list[RewardResult]:
        """Rewards of aligned samples and completions. Usage: reward.batch(samples, texts)"""
        ...

    async def abatch(self, samples: Sequence[PolicySample], completions: Sequence[str]) -> list[RewardResult]:
        """Async `batch`. Usage: results = await reward.abatch(samples, texts)"""
        ...

"""The `probe` reward: a trained probe's score of a completion, so a probe can weigh in GRPO.

    rewards: [{name: strength, weight: 1.0}, {name: probe, weight: 0.2, path: runs/probe/probes}]

The probe files (and the model they read) load on first use and stay loaded for the process.
The reward registry names `probe_reward` lazily ("judgerl.probes.reward:probe_reward" in
judgerl.rewards.registry); this module registers nothing on import.
"""

from __future__ import annotations

import functools

import numpy as np

from judgerl.core.types import JudgeSample
from judgerl.judge_spec.parser import parse_verdict
from judgerl.judge_spec.reading import read
from judgerl.judge_spec.spec import JudgeSpec
from judgerl.probes.linear import LinearProbe
from judgerl.probes.use import ExtractorPool, load_probes, probe_features
from judgerl.rewards.functions import RewardResult

CONTEXTS = ("question", "pair")


@functools.lru_cache(maxsize=8)
def loaded_probes(
    path: str, model: str = "", device: str = "cpu"
) -> tuple[dict[str, LinearProbe], ExtractorPool]:
    """Probes at `path` and an extractor pool, loaded once per process (the reward and the pair filter share them).

    Usage: probes, pool = loaded_probes("runs/probe/probes")
    """
    return load_probes(path), ExtractorPool(model=model or None, device=device, batch_size=1)


def normalized_score(probe: LinearProbe, x: np.ndarray) -> np.ndarray:
    """The probe's score mapped to [0, 1]: P(positive) for a binary probe, else (E[class] - min) / (max - min).

    Usage: normalized_score(probe, features)
    """
    lo, hi = probe.score_range()
    return np.clip((probe.score(x) - lo) / (hi - lo), 0.0, 1.0)


def _context(sample: JudgeSample, context: str) -> str:
    if context == "question":
        return sample.question
    if context == "pair":
        return (
            f"{sample.question}\n\nResponse (a):\n{sample.response_a}\n\nResponse (b):\n{sample.response_b}"
        )
    raise ValueError(f"probe reward: context must be one of {CONTEXTS}, got {context!r}")


def probe_reward(
    sample: JudgeSample,
    completion: str,
    *,
    path: str = "",
    aspect: str = "",
    model: str = "",
    device: str = "cpu",
    context: str = "question",
    judge_spec: JudgeSpec | None = None,
) -> RewardResult:
    """A probe's score of `completion` in [0, 1]; with several probes at `path` and no `aspect`, their mean.

    `path` is a probe file or folder (required); `model` overrides the model id saved in the
    probes; `context` is what the probe reads as the question: the sample's question, or
    "pair" (the question and both responses). details hold each aspect's score and the verdict
    (read by the stage's judge spec when the adapters pass one), like every reward.

    Usage: probe_reward(sample, completion, path="runs/probe/probes", aspect="logicality").score
    """
    if not path:
        raise ValueError(
            "probe reward needs path= a probe file or folder (e.g. {name: probe, path: runs/probe})"
        )
    probes, pool = loaded_probes(str(path), model, device)
    if aspect:
        if aspect not in probes:
            raise ValueError(f"probe reward: no probe for aspect {aspect!r} at {path} (has {sorted(probes)})")
        probes = {aspect: probes[aspect]}
    pair = [(_context(sample, context), completion)]
    scores = {
        a: float(normalized_score(p, probe_features(p, pair, pool.get(p), progress=False))[0])
        for a, p in probes.items()
    }
    verdict = parse_verdict(completion) if judge_spec is None else read(judge_spec, completion)
    details = {
        "parsed": verdict.ok,
        "correct": None if not verdict.ok else verdict.choice == sample.label,
        "reason": verdict.reason,
        "aspects": scores,
    }
    return RewardResult(float(np.mean(list(scores.values()))), verdict, details)

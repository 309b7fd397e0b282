"""The judge-noise ablation on any judge: r + 10*eps*N(0, 1), clamped to [0, 10], seeded.

The noise is laid on a judge's scored pool after scoring (and after the score cache), so one
scoring run serves every noise level: `judge_noise: [0, 0.1, 0.5]` in a `scaling` stage gives each
judge one curve per level, named `SPEC+noise:EPS` (EPS = 0 keeps the plain spec). z is drawn per
prompt from a generator seeded with (seed, a stream of its own, the hash of the prompt and its
candidates): a candidate's noise depends on neither the scoring order, the judge nor the other
prompts, and the same z is used at every level and for every judge (paired comparisons). The
stream differs from the `oracle:EPS` judge's, so an oracle with noise and added judge noise are
independent draws.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

import numpy as np

from judgerl.core.errors import DataError
from judgerl.eval.scaling.candidates import PromptCandidates
from judgerl.eval.scaling.judges.base import SCORE_HIGH, SCORE_LOW

NOISE_STREAM = 0x6E6F697365  # "noise": keeps these draws apart from the oracle judge's


def check_noise_levels(levels: Sequence[float]) -> list[float]:
    """The noise levels of a stage, validated: finite numbers >= 0, none repeated, at least one.

    >>> check_noise_levels([0, 0.5])
    [0.0, 0.5]

    Usage: levels = check_noise_levels(stage.judge_noise)
    """
    values = [float(x) for x in levels]
    if not values:
        raise ValueError("give at least one noise level (0 = no added noise)")
    bad = [x for x in values if not (math.isfinite(x) and x >= 0)]
    if bad:
        raise ValueError(f"every noise level must be a finite number >= 0, got {bad}")
    if len(set(values)) != len(values):
        raise ValueError(f"noise levels are listed twice: {values}")
    return values


def noisy_curve_name(spec: str, eps: float) -> str:
    """The curve name of a judge at one noise level: the spec itself at 0, else `SPEC+noise:EPS`.

    >>> noisy_curve_name("generative:ckpt", 0.0), noisy_curve_name("generative:ckpt", 0.25)
    ('generative:ckpt', 'generative:ckpt+noise:0.25')

    Usage: name = noisy_curve_name(spec, eps)
    """
    return spec if eps == 0 else f"{spec}+noise:{eps:g}"


def _key_int(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def add_judge_noise(
    rewards: Sequence[Sequence[float]],
    items: Sequence[PromptCandidates],
    eps: float,
    seed: int = 0,
    judge: str = "judge",
) -> list[list[float]]:
    """Every score moved by 10*eps*z, z ~ N(0, 1), and clamped to [0, 10]; eps = 0 returns a copy.

    The clamp assumes the 0-10 scale that every built-in judge scores on; a judge whose scores
    leave it (an HTTP endpoint or a hook on another scale) is an error naming the judge and the
    range it gave, since clamping its scores would change them before any noise is added.

    >>> item = PromptCandidates("q", "2+2?", ["4", "5"], [1.0, 0.0])
    >>> add_judge_noise([[10.0, 0.0]], [item], 0.0)
    [[10.0, 0.0]]
    >>> [0.0 <= x <= 10.0 for x in add_judge_noise([[10.0, 0.0]], [item], 1.0)[0]]
    [True, True]

    Usage: noisy = add_judge_noise(pool.rewards, items, eps=0.5, seed=ctx.seed, judge=spec)
    """
    if len(rewards) != len(items):
        raise ValueError(f"{len(rewards)} reward rows for {len(items)} prompts")
    if eps == 0:
        return [list(map(float, r)) for r in rewards]
    check_noise_levels([eps])
    flat = [x for r in rewards for x in r]
    if flat and (min(flat) < SCORE_LOW or max(flat) > SCORE_HIGH):
        raise DataError(
            f"judge noise: {judge} scores lie in [{min(flat):g}, {max(flat):g}], outside the 0-10 scale "
            "the noise is clamped to; rescale the judge's scores to 0-10 or leave judge_noise at 0"
        )
    out = []
    for r, item in zip(rewards, items, strict=True):
        if len(r) != item.pool_size:
            raise ValueError(f"{judge}: {len(r)} scores for {item.pool_size} candidates of {item.id!r}")
        z = np.random.default_rng([seed, NOISE_STREAM, _key_int(item.key)]).standard_normal(len(r))
        noisy = np.clip(np.asarray(r, dtype=np.float64) + SCORE_HIGH * eps * z, SCORE_LOW, SCORE_HIGH)
        out.append([float(x) for x in noisy])
    return out

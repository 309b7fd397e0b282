"""Inference-time scaling by judge selection: delta(k), delta(T) and their theory (pure numpy).

For one prompt with k candidates, judge rewards r_i and correctness c_i in [0, 1], the judge picks
candidate i with probability softmax(r / T)_i (max-shifted, so no reward overflows), and

    delta = -mean over prompts of sum_i softmax(r / T)_i * c_i

is minus the expected accuracy of the selection: lower is better, -1 is perfect.

T = 0 is hard best-of-k. By default (tie rule "share") ties at the maximum share the selection
equally (the mean correctness of the tied maxima). This is the T -> 0+ limit of the softmax, so
delta is continuous in T; it does not depend on the order the candidates happen to be stored in
(a lowest-index rule would reward whatever a sampler wrote first whenever a coarse 0-10 judge
ties, which such judges often do); and it is deterministic. Tie rule "first" selects the first of
the tied maxima (the lowest index), as the Demystifying seed's argmax does. T = inf is uniform
selection: delta is minus the mean accuracy of the pool.

A sweep over k subsamples k candidates of each prompt's pool, so one sampling run serves every k:
all k-subsets when a pool has at most `repeats` of them (the exact average), else `repeats`
random ones drawn by a generator seeded with (seed, k, prompt id). The subsets depend on neither
the judge nor T, so every judge and temperature is compared on the same draws.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, get_args

import numpy as np

Array = np.ndarray
TieRule = Literal["share", "first"]
"""How T = 0 breaks ties at the top score: "share" (judgerl's) or "first" (the Demystifying seed's)."""
TIE_RULES: tuple[str, ...] = get_args(TieRule)


def _check_T(T: float) -> float:
    T = float(T)
    if math.isnan(T) or T < 0:
        raise ValueError(f"temperature T must be >= 0 (0 = hard best-of-k, inf = uniform), got {T}")
    return T


def _check_tie_rule(tie_rule: str) -> str:
    if tie_rule not in TIE_RULES:
        raise ValueError(f"tie rule must be one of {list(TIE_RULES)}, got {tie_rule!r}")
    return tie_rule


def selection_weights(rewards: Array | Sequence[float], T: float, tie_rule: TieRule = "share") -> Array:
    """Selection probabilities over the last axis: softmax(r / T), max-shifted; T = 0 hard, where
    tied maxima share the selection ("share") or the first of them takes it ("first").

    >>> selection_weights([1.0, 3.0, 3.0], 0).tolist()
    [0.0, 0.5, 0.5]
    >>> selection_weights([1.0, 3.0, 3.0], 0, tie_rule="first").tolist()
    [0.0, 1.0, 0.0]
    >>> np.round(selection_weights([0.0, np.log(3.0)], 1), 3).tolist()
    [0.25, 0.75]
    >>> selection_weights([1.0, 2.0], float("inf")).tolist()
    [0.5, 0.5]

    Usage: w = selection_weights(scores, T=1.0)
    """
    r = np.asarray(rewards, dtype=np.float64)
    if r.shape[-1:] == (0,):
        raise ValueError("selection needs at least one candidate")
    if not np.all(np.isfinite(r)):
        raise ValueError("judge rewards must be finite numbers (a judge that failed must say so)")
    T = _check_T(T)
    _check_tie_rule(tie_rule)
    top = r.max(axis=-1, keepdims=True)
    if T == 0 and tie_rule == "first":  # argmax: the first of the tied maxima
        hits = np.zeros_like(r)
        np.put_along_axis(hits, r.argmax(axis=-1)[..., None], 1.0, axis=-1)
        return hits
    if T == 0:
        hits = (r == top).astype(np.float64)
        return hits / hits.sum(axis=-1, keepdims=True)
    if math.isinf(T):
        return np.full_like(r, 1.0 / r.shape[-1])
    e = np.exp((r - top) / T)
    return e / e.sum(axis=-1, keepdims=True)


def expected_accuracy(
    rewards: Array | Sequence[float],
    correct: Array | Sequence[float],
    T: float,
    tie_rule: TieRule = "share",
) -> Array:
    """sum_i softmax(r / T)_i * c_i over the last axis (one value per prompt, or per subset).

    >>> float(expected_accuracy([0.0, 0.0, np.log(2.0)], [0, 1, 1], 1))
    0.75
    >>> float(expected_accuracy([5.0, 5.0], [1, 0], 0)), float(expected_accuracy([5.0, 5.0], [1, 0], 0, "first"))
    (0.5, 1.0)

    Usage: acc = expected_accuracy(rewards[idx], correct[idx], T)
    """
    c = np.asarray(correct, dtype=np.float64)
    w = selection_weights(rewards, T, tie_rule)
    if w.shape != c.shape:
        raise ValueError(f"rewards {w.shape} and correctness {c.shape} differ in shape")
    return (w * c).sum(axis=-1)


@dataclass(frozen=True)
class DeltaStats:
    """delta over prompts: mean, std (ddof=1, 0 for one prompt), standard error and the prompt count."""

    mean: float
    std: float
    sem: float
    n_prompts: int

    @classmethod
    def from_accuracies(cls, accuracies: Array | Sequence[float]) -> DeltaStats:
        """Summarise per-prompt expected accuracies as delta = -accuracy.

        >>> DeltaStats.from_accuracies([1.0, 0.0])
        DeltaStats(mean=-0.5, std=0.7071067811865476, sem=0.5, n_prompts=2)

        Usage: stats = DeltaStats.from_accuracies(per_prompt_accuracy)
        """
        d = -np.asarray(accuracies, dtype=np.float64)
        n = int(d.size)
        if n == 0:
            return cls(float("nan"), float("nan"), float("nan"), 0)
        std = float(d.std(ddof=1)) if n > 1 else 0.0
        return cls(float(d.mean()), std, std / math.sqrt(n), n)


def delta(
    rewards: Sequence[Sequence[float]],
    correct: Sequence[Sequence[float]],
    T: float,
    tie_rule: TieRule = "share",
) -> DeltaStats:
    """delta over whole pools (no subsampling); pools may differ in size.

    >>> delta([[0.0, 1.0], [2.0, 2.0]], [[0, 1], [1, 0]], 0)
    DeltaStats(mean=-0.75, std=0.3535533905932738, sem=0.25, n_prompts=2)

    Usage: stats = delta(pool.rewards, correctness, T=0.0)
    """
    if len(rewards) != len(correct):
        raise ValueError(f"{len(rewards)} reward rows but {len(correct)} correctness rows")
    return DeltaStats.from_accuracies(
        [float(expected_accuracy(r, c, T, tie_rule)) for r, c in zip(rewards, correct, strict=True)]
    )


def _key(prompt_id: str) -> int:
    return int.from_bytes(hashlib.sha256(str(prompt_id).encode()).digest()[:8], "big")


def subset_indices(pool_size: int, k: int, repeats: int, seed: int, prompt_id: str = "") -> Array:
    """The k-subsets of a pool of `pool_size` that a sweep averages over, as an [S, k] index array.

    All C(pool_size, k) subsets when there are at most `repeats` of them, else `repeats` subsets
    drawn without replacement by a generator seeded with (seed, k, prompt_id): reproducible, and
    independent of the other prompts, the judge and T.

    >>> subset_indices(3, 2, 8, seed=0).tolist()
    [[0, 1], [0, 2], [1, 2]]
    >>> subset_indices(10, 3, 4, seed=0, prompt_id="q1").shape
    (4, 3)

    Usage: idx = subset_indices(len(pool), k=4, repeats=32, seed=0, prompt_id=item.id)
    """
    if not 1 <= k <= pool_size:
        raise ValueError(f"k must be in [1, pool size {pool_size}], got {k}")
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if math.comb(pool_size, k) <= repeats:
        return np.array(list(itertools.combinations(range(pool_size), k)), dtype=np.int64)
    rng = np.random.default_rng([seed, k, _key(prompt_id)])
    keys = rng.random((repeats, pool_size))
    return np.sort(np.argsort(keys, axis=1)[:, :k], axis=1)


@dataclass
class SubsetPlan:
    """Per prompt, the [S, k] subsets a sweep at this k uses (None: pool smaller than k, skipped)."""

    k: int
    subsets: list[Array | None]

    @property
    def n_skipped(self) -> int:
        """Prompts whose pool holds fewer than k candidates."""
        return sum(s is None for s in self.subsets)


def plan_subsets(
    pool_sizes: Sequence[int], ids: Sequence[str], k: int, repeats: int = 32, seed: int = 0
) -> SubsetPlan:
    """The subsets of every prompt at one k (see `subset_indices`); pools smaller than k are skipped.

    >>> plan_subsets([3, 1], ["a", "b"], 2).n_skipped
    1

    Usage: plan = plan_subsets([p.pool_size for p in items], ids, k=4)
    """
    if len(pool_sizes) != len(ids):
        raise ValueError(f"{len(pool_sizes)} pool sizes but {len(ids)} ids")
    return SubsetPlan(
        k,
        [
            subset_indices(n, k, repeats, seed, i) if n >= k else None
            for n, i in zip(pool_sizes, ids, strict=True)
        ],
    )


def delta_on_plan(
    rewards: Sequence[Sequence[float]],
    correct: Sequence[Sequence[float]],
    plan: SubsetPlan,
    T: float,
    tie_rule: TieRule = "share",
) -> DeltaStats:
    """delta at the plan's k: each prompt's expected accuracy averaged over its subsets, then over prompts.

    >>> plan = plan_subsets([3], ["q"], 1)
    >>> delta_on_plan([[5.0, 1.0, 0.0]], [[1, 0, 0]], plan, 0).mean  # k = 1: the pool's mean accuracy
    -0.3333333333333333

    Usage: stats = delta_on_plan(rewards, correct, plan, T=0.5)
    """
    if not len(rewards) == len(correct) == len(plan.subsets):
        raise ValueError(
            f"{len(rewards)} reward rows, {len(correct)} correctness rows, {len(plan.subsets)} planned prompts"
        )
    # Prompts with equal pool size and subset count are evaluated as one [P, S, k] block.
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, subsets in enumerate(plan.subsets):
        if subsets is not None:
            groups.setdefault((len(rewards[i]), *subsets.shape), []).append(i)
    acc = np.full(len(plan.subsets), np.nan)
    for members in groups.values():
        r = np.asarray([rewards[i] for i in members], dtype=np.float64)
        c = np.asarray([correct[i] for i in members], dtype=np.float64)
        idx = np.stack([plan.subsets[i] for i in members])  # [P, S, k]
        rows = np.arange(len(members))[:, None, None]
        acc[members] = expected_accuracy(r[rows, idx], c[rows, idx], T, tie_rule).mean(axis=1)
    return DeltaStats.from_accuracies(acc[~np.isnan(acc)])


@dataclass(frozen=True)
class DeltaPoint:
    """One point of a sweep: judge, k, T and delta's statistics over prompts."""

    judge: str
    k: int
    T: float
    mean: float
    std: float
    sem: float
    n_prompts: int
    n_skipped: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (T = inf is written as the string "inf").

        Usage: rows = [p.to_dict() for p in points]
        """
        d = asdict(self)
        if math.isinf(self.T):
            d["T"] = "inf"
        return d


def sweep(
    judge: str,
    rewards: Sequence[Sequence[float]],
    correct: Sequence[Sequence[float]],
    ids: Sequence[str],
    ks: Sequence[int],
    Ts: Sequence[float],
    repeats: int = 32,
    seed: int = 0,
    tie_rule: TieRule = "share",
) -> list[DeltaPoint]:
    """delta at every (k, T) of the grid, from one scored pool per prompt (ties at T = 0 by `tie_rule`).

    >>> pts = sweep("oracle", [[10.0, 0.0]], [[1, 0]], ["q"], ks=[1, 2], Ts=[0])
    >>> [(p.k, p.mean) for p in pts]
    [(1, -0.5), (2, -1.0)]

    Usage: points = sweep(spec, pool.rewards, correct, ids, ks=[1, 2, 4], Ts=[0, 1])
    """
    for T in Ts:
        _check_T(T)
    _check_tie_rule(tie_rule)
    sizes = [len(r) for r in rewards]
    points = []
    for k in ks:
        plan = plan_subsets(sizes, ids, int(k), repeats, seed)
        for T in Ts:
            s = delta_on_plan(rewards, correct, plan, T, tie_rule)
            points.append(
                DeltaPoint(judge, int(k), float(T), s.mean, s.std, s.sem, s.n_prompts, plan.n_skipped)
            )
    return points


def pass_at_k(correct: Sequence[Sequence[float]], k: int) -> DeltaStats:
    """delta of a perfect judge at k: minus the unbiased pass@k, 1 - C(n - c, k) / C(n, k) per prompt.

    Exact for subsampling without replacement with 0/1 correctness; the noiseless oracle's
    T = 0 sweep estimates it. Pools smaller than k are left out.

    >>> pass_at_k([[1, 0, 0, 0]], 2).mean
    -0.5

    Usage: floor = pass_at_k(correct, k=4).mean
    """
    acc = []
    for c in correct:
        n, good = len(c), int(round(float(np.sum(c))))
        if n >= k:
            acc.append(1.0 - math.comb(n - good, k) / math.comb(n, k))
    return DeltaStats.from_accuracies(acc)


def teacher_best_of_k_error(k: int | Array, mean: float = 0.0, std: float = 1.0) -> float | Array:
    """The Bayesian-linear-regression large-k law of best-of-k with the teacher as reward.

    Candidates y ~ N(mean, std^2) around the truth 0, the one nearest the truth selected: the
    expected squared error is pi * std^2 / k^2 * exp(mean^2 / std^2), i.e. Theta(1/k^2).

    >>> round(teacher_best_of_k_error(10), 5)
    0.03142

    Usage: teacher_best_of_k_error(np.arange(1, 9), std=0.5)
    """
    k_arr = np.asarray(k, dtype=np.float64)
    out = math.pi * std**2 / k_arr**2 * math.exp(mean**2 / std**2)
    return float(out) if out.ndim == 0 else out


def simulate_teacher_best_of_k(
    k: int, mean: float = 0.0, std: float = 1.0, trials: int = 20000, seed: int = 0
) -> float:
    """Monte-Carlo squared error of best-of-k with the teacher (see `teacher_best_of_k_error`).

    Usage: simulate_teacher_best_of_k(50, trials=20000) ~ teacher_best_of_k_error(50)
    """
    rng = np.random.default_rng(seed)
    y = mean + std * rng.standard_normal((trials, k))
    best = y[np.arange(trials), np.abs(y).argmin(axis=1)]
    return float(np.mean(best**2))


def fit_inverse_square(ks: Sequence[float], deltas: Sequence[float]) -> tuple[float, float]:
    """Least-squares (a, b) of delta(k) ~ a + b / k^2: the theory's shape laid over a measured curve.

    >>> a, b = fit_inverse_square([1, 2, 4], [-0.5 + 0.4 / k**2 for k in (1, 2, 4)])
    >>> round(a, 6), round(b, 6)
    (-0.5, 0.4)

    Usage: a, b = fit_inverse_square([p.k for p in curve], [p.mean for p in curve])
    """
    k = np.asarray(ks, dtype=np.float64)
    d = np.asarray(deltas, dtype=np.float64)
    if k.size < 2 or np.unique(k).size < 2:
        raise ValueError("fitting a + b/k^2 needs at least two distinct k")
    design = np.stack([np.ones_like(k), 1.0 / k**2], axis=1)
    (a, b), *_ = np.linalg.lstsq(design, d, rcond=None)
    return float(a), float(b)

"""delta(k, T) by hand: softmax selection, the T = 0 tie rule, subsampling, pass@k and the 1/k^2 law."""

from __future__ import annotations

import math

import numpy as np
import pytest

from judgerl.eval.scaling.theory import (
    DeltaPoint,
    delta,
    delta_on_plan,
    expected_accuracy,
    fit_inverse_square,
    pass_at_k,
    plan_subsets,
    selection_weights,
    simulate_teacher_best_of_k,
    subset_indices,
    sweep,
    teacher_best_of_k_error,
)

# Two prompts, three candidates each. Rewards are logs, so softmax at T = 1 is a ratio of integers:
# prompt 1: weights 1:2:3 -> [1/6, 2/6, 3/6]; prompt 2: weights 1:1:2 -> [1/4, 1/4, 2/4].
REWARDS = [[0.0, math.log(2), math.log(3)], [0.0, 0.0, math.log(2)]]
CORRECT = [[1, 1, 0], [0, 1, 1]]


def test_hand_computed_delta_at_T0_T1_and_T_infinity() -> None:
    # T = 0: prompt 1 picks candidate 3 (wrong), prompt 2 picks candidate 3 (right).
    d0 = delta(REWARDS, CORRECT, 0)
    assert d0.mean == pytest.approx(-0.5) and d0.std == pytest.approx(math.sqrt(0.5)) and d0.n_prompts == 2
    assert d0.sem == pytest.approx(0.5)
    # T = 1: prompt 1: 1/6 + 2/6 = 1/2; prompt 2: 1/4 + 2/4 = 3/4.
    d1 = delta(REWARDS, CORRECT, 1)
    assert d1.mean == pytest.approx(-(0.5 + 0.75) / 2) and d1.std == pytest.approx(0.25 / math.sqrt(2))
    # T -> infinity: uniform selection, the mean accuracy 2/3 of both pools.
    assert delta(REWARDS, CORRECT, float("inf")).mean == pytest.approx(-2 / 3)
    assert delta(REWARDS, CORRECT, 1e9).mean == pytest.approx(-2 / 3, abs=1e-8)
    # The k-sweep at k = pool size (one subset per prompt) gives the same numbers.
    points = sweep("j", REWARDS, CORRECT, ["p1", "p2"], ks=[3], Ts=[0, 1, float("inf")])
    assert [round(p.mean, 6) for p in points] == [-0.5, -0.625, round(-2 / 3, 6)]


def test_ties_at_T0_share_the_selection_whatever_the_order() -> None:
    assert float(expected_accuracy([5.0, 5.0, 1.0], [1, 0, 1], 0)) == 0.5
    assert float(expected_accuracy([1.0, 5.0, 5.0], [1, 1, 0], 0)) == 0.5  # same pool, other order
    assert float(expected_accuracy([2.0, 2.0, 2.0], [1, 0, 0], 0)) == pytest.approx(1 / 3)
    # T = 0 is the T -> 0+ limit, ties included.
    assert float(expected_accuracy([5.0, 5.0, 1.0], [1, 0, 1], 1e-4)) == pytest.approx(0.5, abs=1e-9)
    assert float(expected_accuracy([5.0, 4.0], [0, 1], 1e-4)) == pytest.approx(0.0, abs=1e-9)


def test_softmax_is_max_shifted_and_inputs_are_checked() -> None:
    w = selection_weights([1000.0, 1001.0], 0.01)
    assert np.all(np.isfinite(w)) and w[1] == pytest.approx(1.0) and w.sum() == pytest.approx(1.0)
    assert selection_weights(np.array([[0.0, 0.0], [1.0, 0.0]]), 0).tolist() == [[0.5, 0.5], [1.0, 0.0]]
    with pytest.raises(ValueError, match="T must be >= 0"):
        selection_weights([1.0], -1)
    with pytest.raises(ValueError, match="finite"):
        selection_weights([1.0, float("nan")], 1)
    with pytest.raises(ValueError, match="differ in shape"):
        expected_accuracy([1.0, 2.0], [1, 0, 1], 1)


def test_subsampling_is_reproducible_by_seed_and_independent_of_other_prompts() -> None:
    a = subset_indices(10, 3, 16, seed=0, prompt_id="q")
    assert a.shape == (16, 3)
    assert np.array_equal(a, subset_indices(10, 3, 16, seed=0, prompt_id="q"))
    assert not np.array_equal(a, subset_indices(10, 3, 16, seed=1, prompt_id="q"))
    assert not np.array_equal(a, subset_indices(10, 3, 16, seed=0, prompt_id="other"))
    assert all(len(set(row)) == 3 and row.min() >= 0 and row.max() < 10 for row in a)
    # A prompt's subsets do not move when other prompts are added or reordered.
    one = plan_subsets([10], ["q"], 3, repeats=16, seed=0)
    two = plan_subsets([7, 10], ["z", "q"], 3, repeats=16, seed=0)
    assert np.array_equal(one.subsets[0], two.subsets[1])
    # Few enough subsets: all of them (the exact average); a pool smaller than k is skipped and counted.
    assert subset_indices(4, 2, 32, seed=0).tolist() == [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]
    plan = plan_subsets([4, 1], ["a", "b"], 2)
    assert plan.n_skipped == 1 and plan.subsets[1] is None
    with pytest.raises(ValueError, match="k must be in"):
        subset_indices(3, 4, 8, seed=0)


def test_k1_is_the_mean_accuracy_and_a_perfect_judge_follows_pass_at_k() -> None:
    correct = [[1, 0, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0]]
    perfect = [[10.0 * c for c in row] for row in correct]
    ids = ["a", "b", "c"]
    for T in (0, 1, float("inf")):
        assert delta_on_plan(perfect, correct, plan_subsets([4, 4, 4], ids, 1), T).mean == pytest.approx(
            -0.25
        )
    for k in (1, 2, 3, 4):  # exhaustive subsets: exact
        exact = delta_on_plan(perfect, correct, plan_subsets([4, 4, 4], ids, k), 0).mean
        assert exact == pytest.approx(pass_at_k(correct, k).mean)
    assert pass_at_k(correct, 2).mean == pytest.approx(-(0.5 + 5 / 6 + 0) / 3)
    # Random subsets (C(8, 3) = 56 > repeats) estimate it closely.
    big = [[1, 0, 0, 0, 0, 0, 0, 0], [1, 1, 1, 0, 0, 0, 0, 0]] * 20
    ids = [str(i) for i in range(len(big))]
    est = delta_on_plan([[10.0 * c for c in r] for r in big], big, plan_subsets([8] * 40, ids, 3, 48), 0).mean
    assert est == pytest.approx(pass_at_k(big, 3).mean, abs=0.03)


def test_sweep_skips_small_pools_and_points_serialise() -> None:
    points = sweep(
        "j", [[1.0, 0.0, 0.0], [1.0]], [[1, 0, 0], [1]], ["a", "b"], ks=[1, 2], Ts=[0, float("inf")]
    )
    by = {(p.k, p.T): p for p in points}
    assert by[(1, 0.0)].n_prompts == 2 and by[(2, 0.0)].n_prompts == 1 and by[(2, 0.0)].n_skipped == 1
    assert by[(2, 0.0)].mean == pytest.approx(-2 / 3)  # subsets {0,1}, {0,2} pick the right one, {1,2} tie
    assert DeltaPoint("j", 1, float("inf"), -0.5, 0.1, 0.1, 2, 0).to_dict()["T"] == "inf"


def test_teacher_best_of_k_decays_as_one_over_k_squared() -> None:
    for k in (25, 50):
        sim = simulate_teacher_best_of_k(k, mean=0.3, std=1.0, trials=40000, seed=k)
        assert sim == pytest.approx(teacher_best_of_k_error(k, mean=0.3, std=1.0), rel=0.1)
    assert teacher_best_of_k_error(25) / teacher_best_of_k_error(50) == pytest.approx(4.0)
    a, b = fit_inverse_square([1, 2, 3, 4], [-0.7 + 0.3 / k**2 for k in (1, 2, 3, 4)])
    assert (a, b) == (pytest.approx(-0.7), pytest.approx(0.3))
    with pytest.raises(ValueError, match="two distinct k"):
        fit_inverse_square([2, 2], [0.1, 0.2])

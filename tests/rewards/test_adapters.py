from __future__ import annotations

import json
import math

import pytest

from judgerl.rewards.adapters import build_sample, completion_text, to_trl, to_verl, to_verl_batch

A3 = "<think>\nok\n</think>\n\nTherefore, Response (a) is better, and the strength is [[3]]."
B1 = "<think>\nok\n</think>\n\nTherefore, Response (b) is better, and the strength is [[1]]."
A_PLAIN = "Therefore, Response (a) is better."
B_PLAIN = "Therefore, Response (b) is better."


def conv(text):
    return [{"role": "assistant", "content": text}]


def trl_call(fn, completions, **columns):
    # Mirrors GRPOTrainer._calculate_rewards: columns plus trainer hooks as keyword arguments.
    return fn(
        prompts=["p"] * len(completions),
        completions=completions,
        completion_ids=[[1, 2]] * len(completions),
        trainer_state=None,
        log_extra=lambda column, values: None,
        **columns,
    )


def test_to_trl_names_and_weights():
    funcs, weights = to_trl(
        ["strength", {"name": "format", "weight": 0.2}, {"name": "consistency", "weight": 3}]
    )
    assert [f.__name__ for f in funcs] == ["strength", "format", "consistency"]
    assert weights == [1.0, 0.2, 3.0]


@pytest.mark.parametrize("wrap", [lambda t: t, conv], ids=["plain", "conversational"])
def test_to_trl_scores(wrap):
    (strength, fmt), _ = to_trl(["strength", "format"])
    completions = [wrap(t) for t in (A3, B1, A_PLAIN, "junk", A3)]
    columns = {"label": ["a", "a", "a", "a", "a"], "strength": [-2, -2, -2, -2, 0]}
    assert trl_call(strength, completions, **columns) == [0.875, 0.0, 0.5, 0.0, 1.0]
    assert trl_call(fmt, completions, **columns) == [1.0, 1.0, 0.0, 0.0, 1.0]


def test_to_trl_consistency_batch():
    (consistency,), _ = to_trl(["consistency"])
    rows = [
        ("s1", "ab", "a", A_PLAIN),  # right; partners rows 2 (right) and 3 (unparsed) -> 0.5
        ("s1", "ab", "a", B_PLAIN),  # wrong -> 0
        ("s1", "ba", "b", B_PLAIN),  # right; partners rows 0 (right) and 1 (wrong) -> 0.5
        ("s1", "ba", "b", "<think>never closed"),  # unparsed -> 0
        ("s2", "ab", "b", B_PLAIN),  # right, no partner in this batch -> correctness 1.0
        ("s3", "ba", "a", A_PLAIN),  # right; partner row 6 right -> 1.0
        ("s3", "ab", "b", conv(B_PLAIN)),  # right; partner row 5 right -> 1.0
    ]
    scores = trl_call(
        consistency,
        [r[3] for r in rows],
        sample_id=[r[0] for r in rows],
        order=[r[1] for r in rows],
        label=[r[2] for r in rows],
        strength=[0] * len(rows),
    )
    assert scores == [0.5, 0.0, 0.5, 0.0, 1.0, 1.0, 1.0]


def test_to_trl_weird_completions_score_zero():
    (correctness,), _ = to_trl(["correctness"])
    weird = [
        None,
        123,
        {"foo": 1},
        [{"role": "assistant", "content": None}],
        [[A_PLAIN]],
        [{"role": "user", "content": A_PLAIN}],
    ]
    assert trl_call(correctness, weird, label=["a"] * 6, strength=[0] * 6) == [0.0] * 6


def test_to_trl_missing_or_bad_columns():
    (correctness, consistency), _ = to_trl(["correctness", "consistency"])
    with pytest.raises(ValueError, match="'label'"):
        trl_call(correctness, [A_PLAIN], strength=[0])
    with pytest.raises(ValueError, match="'strength'"):
        trl_call(correctness, [A_PLAIN], label=["a"])
    with pytest.raises(ValueError, match="'sample_id'"):
        trl_call(consistency, [A_PLAIN], label=["a"], strength=[0], order=["ab"])
    with pytest.raises(ValueError, match="'order'"):
        trl_call(consistency, [A_PLAIN], label=["a"], strength=[0], sample_id=["s"])
    with pytest.raises(ValueError, match="2 values for 1 completions"):
        trl_call(correctness, [A_PLAIN], label=["a", "b"], strength=[0])
    with pytest.raises(ValueError, match="bad dataset row 1"):
        trl_call(correctness, [A_PLAIN, A_PLAIN], label=["a", "c"], strength=[0, 0])
    with pytest.raises(ValueError, match="bad dataset row 0"):
        trl_call(correctness, [A_PLAIN], label=["a"], strength=[2])  # sign says (b)


def test_to_trl_logs_parse_failure_rate_once():
    logged = []
    funcs, _ = to_trl(["correctness", "format"])
    for f in funcs:
        f(
            completions=[A_PLAIN, "??", "", B_PLAIN],
            label=["a"] * 4,
            strength=[0] * 4,
            log_metric=lambda name, value: logged.append((name, value)),
        )
    assert logged == [("parse_failure_rate", 0.5)]


def test_completion_text_restores_lifted_reasoning():
    message = {
        "role": "assistant",
        "content": "Therefore, Response (a) is better.",
        "reasoning_content": "hmm",
    }
    assert completion_text([message]) == "<think>\nhmm\n</think>\n\nTherefore, Response (a) is better."
    parts = [
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "Response (b) "}, {"type": "text", "text": "is better"}],
        }
    ]
    assert completion_text(parts) == "Response (b) is better"
    assert completion_text(42) == ""


def test_build_sample_strength_values():
    assert build_sample("A", -3.0).strength == -3
    assert build_sample("b", 0).strength is None
    assert build_sample("b", math.nan).strength is None
    assert build_sample("b", None).strength is None
    with pytest.raises(ValueError, match="whole number"):
        build_sample("b", 1.5)


@pytest.mark.parametrize(
    "truth",
    [{"label": "a", "strength": -2}, json.dumps({"label": "a", "strength": -2})],
    ids=["dict", "json"],
)
def test_to_verl(truth):
    compute_score = to_verl([{"name": "strength"}, {"name": "format", "weight": 0.5}])
    out = compute_score("judgerl/synthetic", A3, truth, {"sample_id": "s1", "order": "ab"})
    assert out == {"score": 0.875 + 0.5, "strength": 0.875, "format": 1.0, "parsed": 1.0, "correct": 1.0}
    bad = compute_score("judgerl/synthetic", "junk", truth)
    assert set(bad) == set(out)  # verl stacks keys across the batch: they must never vary
    assert bad["score"] == 0.0 and bad["parsed"] == 0.0


def test_to_verl_plain_label_and_bad_ground_truth():
    compute_score = to_verl("correctness")
    assert compute_score("d", B_PLAIN, "b")["score"] == 1.0
    assert compute_score("d", conv(B_PLAIN), {"label": "b", "strength": None})["score"] == 1.0
    assert compute_score("d", B_PLAIN, {"label": "a"})["score"] == 0.0
    for bad in ("not json", json.dumps({"strength": 2}), 5):
        with pytest.raises(ValueError, match="ground_truth"):
            compute_score("d", B_PLAIN, bad)


@pytest.mark.parametrize("truth", [-3, "-3", " -3 ", -3.0], ids=["int", "str", "padded", "float"])
def test_to_verl_reads_a_signed_strength_ground_truth_as_thinkj_writes_it(truth):
    compute_score = to_verl(["strength"])
    assert compute_score("helpsteer2", A3, truth)["score"] == 1.0
    assert compute_score("helpsteer2", B1, truth)["score"] == 0.0
    # (b) by 2 where the judge said (b) by 1: Think-J's 1 - |2 - 1| / 8
    assert compute_score("helpsteer2", B1, 2)["strength"] == 0.875


def test_to_verl_batch_reads_numpy_signed_ground_truths():
    np = pytest.importorskip("numpy")
    batch = to_verl_batch(["correctness"])
    out = batch(["d", "d"], [A3, B1], np.array([np.int64(-1), np.int64(3)], dtype=object), None)
    assert [o["score"] for o in out] == [1.0, 1.0]


@pytest.mark.parametrize("bad", [0, 4, -7, "0", True, 1.5])
def test_to_verl_refuses_a_ground_truth_that_is_no_signed_strength(bad):
    with pytest.raises(ValueError, match="signed strength"):
        to_verl(["correctness"])("d", A3, bad)


def test_to_verl_consistency_falls_back_and_batch_pairs_orders():
    single = to_verl(["consistency"])
    assert single("d", A_PLAIN, {"label": "a"}, {"sample_id": "s1", "order": "ab"})["consistency"] == 1.0
    batch = to_verl_batch(["consistency", {"name": "correctness", "weight": 0.5}])
    out = batch(
        data_sources=["d"] * 4,
        solution_strs=[A_PLAIN, B_PLAIN, A_PLAIN, A_PLAIN],
        ground_truths=[{"label": "a"}, json.dumps({"label": "b"}), {"label": "b"}, {"label": "a"}],
        extra_infos=[{"sample_id": "s1", "order": "ab"}, {"sample_id": "s1", "order": "ba"}, None, None],
    )
    assert [o["consistency"] for o in out] == [1.0, 1.0, 0.0, 1.0]
    assert [o["score"] for o in out] == [1.5, 1.5, 0.0, 1.5]

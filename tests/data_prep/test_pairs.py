"""Think-J pair construction on hand-made judge/critic completions: the four branches, both skip
reasons, empty traces, judge-only rejection sampling, the chosen-side SFT file and the pairs loader."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from judgerl.core.errors import DataError
from judgerl.core.types import JudgeSample, Verdict
from judgerl.data_prep import pairs as P
from judgerl.data_prep.sft_format import sft_records
from judgerl.data_prep.synthetic import make_synthetic_splits
from judgerl.judge_spec.families import PromptSpec
from judgerl.judge_spec.presets import builtin_spec
from judgerl.judge_spec.verdicts import format_trace
from tests.prompts import rendered

PROMPT = PromptSpec("strength", instruction="compact")
SPEC = builtin_spec("strength-compact")
SAMPLE = JudgeSample(
    "q1", "test", [{"role": "user", "content": "What is 2+2?"}], "4", "5", "a", -2, metadata={"x": 1}
)


def said(
    choice: str | None, strength: int | None = 2, thinking: str = "check", reason: str = ""
) -> P.Completion:
    """A completion that says `choice` (None: an unparseable one), with its parsed verdict."""
    if choice is None:
        return P.Completion(f"<think>\n{thinking}\n</think>\n\nno idea", Verdict(None, reason="no verdict"))
    return P.Completion(format_trace(thinking, choice, strength), Verdict(choice, strength, reason, thinking))


EMPTY = P.Completion("  \n", Verdict(None, reason="empty completion"))


def test_judge_right_and_negative_critic_wrong_pairs_judge_over_critic() -> None:
    judge, negative = said("a", thinking="judge"), said("b", thinking="negative critic")
    built = P.critic_pair(SAMPLE, SPEC, judge, negative=negative)
    assert built.skip == "" and len(built.pairs) == 1
    row = built.pairs[0]
    assert (row["chosen"], row["rejected"]) == (judge.text, negative.text)
    assert (row["chosen_source"], row["rejected_source"], row["branch"]) == (
        "judge",
        "critic_negative",
        "judge_right",
    )
    assert row["id"] == "q1:ab" and row["sample"] == SAMPLE.to_dict()
    assert row["chosen_verdict"] == {"choice": "a", "strength": 2, "reason": ""}


def test_judge_right_and_negative_critic_also_right_is_skipped() -> None:
    built = P.critic_pair(SAMPLE, SPEC, said("a"), negative=said("a", 3))
    assert built.pairs == [] and built.skip == "negative critic not wrong"


def test_judge_wrong_and_positive_critic_right_pairs_critic_over_judge() -> None:
    judge, positive = said("b", thinking="judge"), said("a", thinking="positive critic")
    row = P.critic_pair(SAMPLE, SPEC, judge, positive=positive).pairs[0]
    assert (row["chosen"], row["rejected"]) == (positive.text, judge.text)
    assert (row["chosen_source"], row["rejected_source"], row["branch"]) == (
        "critic_positive",
        "judge",
        "judge_wrong",
    )


def test_judge_wrong_and_positive_critic_also_wrong_is_skipped() -> None:
    built = P.critic_pair(SAMPLE, SPEC, said("b"), positive=said("b"))
    assert built.pairs == [] and built.skip == "positive critic not right"
    # an unparseable judge is a wrong judge; an unparseable positive critic is not right
    assert P.critic_pair(SAMPLE, SPEC, said(None), positive=said(None)).skip == "positive critic not right"
    assert P.critic_pair(SAMPLE, SPEC, said(None), positive=said("a")).pairs[0]["branch"] == "judge_wrong"


def test_empty_traces_are_dropped_on_either_side() -> None:
    assert P.critic_pair(SAMPLE, SPEC, EMPTY).skip == "empty trace"  # no critic needed to decide
    assert P.critic_pair(SAMPLE, SPEC, said("a"), negative=EMPTY).skip == "empty trace"
    assert P.critic_pair(SAMPLE, SPEC, said("b"), positive=EMPTY).skip == "empty trace"


def test_a_needed_critic_that_is_missing_is_an_error_not_a_skip() -> None:
    with pytest.raises(ValueError, match="negative critic"):
        P.critic_pair(SAMPLE, SPEC, said("a"), positive=said("a"))
    with pytest.raises(ValueError, match="positive critic"):
        P.critic_pair(SAMPLE, SPEC, said("b"), negative=said("b"))


def test_the_pair_prompt_is_the_judge_prompt_never_the_hinted_or_direct_one() -> None:
    for built in (
        P.critic_pair(SAMPLE, SPEC, said("a"), negative=said("b")),
        P.critic_pair(SAMPLE, SPEC, said("b"), positive=said("a")),
    ):
        prompt = built.pairs[0]["prompt"]
        assert prompt == rendered(SAMPLE, PROMPT)  # the judge's own prompt, rendered as always
        assert "Given that" not in prompt[0]["content"] and "strength is [[k]]" in prompt[0]["content"]


def test_a_swapped_sample_keeps_its_order_in_the_pair() -> None:
    swapped = SAMPLE.swapped()  # label b now
    row = P.critic_pair(swapped, SPEC, said("b"), negative=said("a")).pairs[0]
    assert row["id"] == "q1:ba" and row["sample"]["metadata"]["order"] == "ba"
    assert "[The Start of Response (a)]\n5\n" in row["prompt"][0]["content"]


def test_match_strength_turns_a_wrong_strength_into_a_wrong_judgement() -> None:
    judge = said("a", 3)  # right response, wrong strength (label strength is 2)
    assert P.critic_pair(SAMPLE, SPEC, judge, negative=said("b")).pairs[0]["branch"] == "judge_right"
    row = P.critic_pair(SAMPLE, SPEC, judge, positive=said("a", 2), match_strength=True).pairs[0]
    assert row["branch"] == "judge_wrong" and row["chosen_verdict"]["strength"] == 2
    # a verdict whose strength failed to parse is not right
    assert not P.is_right(SAMPLE, Verdict("a", None, reason="strength missing"))


def test_rejection_sampling_pairs_right_with_wrong_at_most_m_per_item() -> None:
    right1, right2, wrong1, wrong2 = said("a", thinking="r1"), said("a", thinking="r2"), said("b"), said(None)
    built = P.rejection_pairs(SAMPLE, SPEC, [right1, wrong1, right2, wrong2, right1], max_pairs=3)
    got = [(p["chosen"], p["rejected"]) for p in built.pairs]
    assert got == [(right1.text, wrong1.text), (right2.text, wrong2.text), (right1.text, wrong2.text)]
    assert {p["branch"] for p in built.pairs} == {"rejection_sampling"}
    assert {(p["chosen_source"], p["rejected_source"]) for p in built.pairs} == {("judge", "judge")}
    assert [p["id"] for p in built.pairs] == ["q1:ab:0", "q1:ab:1", "q1:ab:2"]
    # the chosen-side SFT file holds each right judgement once
    assert [s.metadata["thinking"] for s in P.chosen_sft_samples(built.pairs)] == ["r1", "r2"]
    assert len(P.rejection_pairs(SAMPLE, SPEC, [right1, wrong1, right2, wrong2], max_pairs=10).pairs) == 4
    assert len(P.rejection_pairs(SAMPLE, SPEC, [right1, wrong1, right2], max_pairs=1).pairs) == 1


def test_rejection_sampling_skips_items_without_both_kinds() -> None:
    assert P.rejection_pairs(SAMPLE, SPEC, [said("a"), said("a", 1)]).skip == "no wrong sample"
    assert P.rejection_pairs(SAMPLE, SPEC, [said("b"), said(None)]).skip == "no right sample"
    assert P.rejection_pairs(SAMPLE, SPEC, [EMPTY, EMPTY]).skip == "empty trace"
    assert P.rejection_pairs(SAMPLE, SPEC, [said("a"), EMPTY]).skip == "no wrong sample"


def test_stats_count_items_branches_skips_and_role_accuracy() -> None:
    stats = P.PairStats()
    outcomes = [
        P.critic_pair(SAMPLE, SPEC, said("a"), negative=said("b")),
        P.critic_pair(SAMPLE, SPEC, said("a"), negative=said("a")),
        P.critic_pair(SAMPLE, SPEC, said("b"), positive=said("a")),
        P.critic_pair(SAMPLE, SPEC, EMPTY),
    ]
    for built in outcomes:
        stats.add(built)
    stats.judged_as("judge", True)
    stats.judged_as("judge", False)
    d = stats.to_dict()
    assert d["items"] == 4 and d["pairs_built"] == 2
    assert d["branches"] == {"judge_right": 1, "judge_wrong": 1}
    assert d["skipped"] == {"negative critic not wrong": 1, "empty trace": 1}
    assert d["accuracy"] == {"judge": 0.5}
    rows = [p for b in outcomes for p in b.pairs]
    lengths = P.length_stats(rows)
    assert lengths["mean_chosen_chars"] == sum(len(r["chosen"]) for r in rows) / 2
    assert P.length_stats([]) == {"mean_chosen_chars": None, "mean_rejected_chars": None}


def test_chosen_sides_render_back_through_the_one_sft_renderer() -> None:
    sample = make_synthetic_splits(1, 0, seed=3).train[0]
    # a chosen side whose strength differs from the label's: the SFT file keeps what was chosen
    k = 1 if sample.abs_strength != 1 else 2
    chosen = said(sample.label, k, thinking="my own\nreasoning")
    row = P.critic_pair(sample, SPEC, said("b" if sample.label == "a" else "a"), positive=chosen).pairs[0]
    sft_sample = P.chosen_sft_sample(row)
    assert (
        sft_sample.source == "synthetic-addition:chosen"
        and sft_sample.metadata["label_strength"] == sample.strength
    )
    records = sft_records([sft_sample], SPEC)
    assert records.skipped == []
    messages = records.rows[0]["messages"]
    assert messages[:-1] == row["prompt"]
    assert messages[-1] == {"role": "assistant", "content": chosen.text}


def test_the_critic_is_sft_with_a_hinted_prompt_on_the_same_traces() -> None:
    samples = make_synthetic_splits(4, 0, seed=1).train
    judge = sft_records(samples, SPEC).rows
    critic = sft_records(samples, SPEC, hint="positive").rows
    for s, j, c in zip(samples, judge, critic, strict=True):
        assert c["messages"][-1] == j["messages"][-1]  # the same trace
        hint = f"Given that Response ({s.label}) is better than Response ({'b' if s.label == 'a' else 'a'})"
        assert hint in c["messages"][0]["content"] and hint not in j["messages"][0]["content"]


# ---- the pairs file -----------------------------------------------------------------------


def _good_row() -> dict:
    return P.critic_pair(SAMPLE, SPEC, said("a"), negative=said("b")).pairs[0]


def _write(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.pop("chosen"), "missing 'chosen'"),
        (lambda r: r.update(rejected="  "), "'rejected' is an empty trace"),
        (lambda r: r.update(chosen=["not", "text"]), "'chosen' must be a string, got list"),
        (lambda r: r.update(prompt="hi"), "'prompt' must be a non-empty list"),
        (lambda r: r.update(prompt=[{"role": "user", "content": 3}]), r"'prompt'\[0\] must be a message"),
        (lambda r: r.update(chosen_source="oracle"), "'chosen_source' must be one of"),
        (lambda r: r["sample"].update(label="c"), "'sample' is not a judge sample"),
        (lambda r: r.update(id=7), "'id' must be a string"),
    ],
)
def test_a_malformed_pairs_row_is_rejected_with_its_index(tmp_path: Path, change, message: str) -> None:
    bad = _good_row()
    change(bad)
    path = _write(tmp_path / "pairs.jsonl", [_good_row(), "", _good_row(), bad])
    with pytest.raises(DataError, match=rf"pairs row 2: {message}"):
        P.read_pairs(path)
    skipped = P.read_pairs(path, on_bad_row="skip")
    assert len(skipped.rows) == 2 and len(skipped.skipped) == 1 and skipped.skipped[0][0] == 2


def test_broken_json_and_missing_files_are_data_errors(tmp_path: Path) -> None:
    path = _write(tmp_path / "pairs.jsonl", [_good_row(), '{"id": "cut'])
    with pytest.raises(DataError, match="pairs row 1: not valid JSON"):
        P.read_pairs(path)
    with pytest.raises(DataError, match="no such pairs file"):
        P.read_pairs(tmp_path / "missing.jsonl")


def test_a_pair_under_another_prompt_is_rejected_when_the_judge_prompt_is_given(tmp_path: Path) -> None:
    direct = _good_row()
    direct["prompt"] = rendered(SAMPLE, PromptSpec("direct"))  # the seed's defect
    path = _write(tmp_path / "pairs.jsonl", [_good_row(), direct])
    assert len(P.read_pairs(path).rows) == 2  # structurally fine
    with pytest.raises(DataError, match="pairs row 1: 'prompt' is not the judge prompt"):
        P.read_pairs(path, prompt=SPEC)
    assert len(P.read_pairs(path, prompt=SPEC, on_bad_row="skip").rows) == 1

"""Every consumer speaks the judge's spec: eval and RewardBench read MT-Bench ties, GRPO rewards pay by the
spec's rules, the server resolves the checkpoint's spec, and the stages that take a spec validate it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from judgerl.core.jsonl import read_json, read_jsonl
from judgerl.core.samples import write_samples
from judgerl.core.stage import StageContext
from judgerl.core.types import JudgeSample
from judgerl.eval.rewardbench.stage import RewardBenchStage, run_rewardbench
from judgerl.eval.stage import EvalStage, run_eval
from judgerl.judge_spec.files import save_spec, spec_from_mapping
from judgerl.judge_spec.presets import builtin_spec
from judgerl.judge_spec.render import judge_prompt
from judgerl.recipe import load_recipe
from judgerl.rewards.adapters import to_trl, to_verl
from judgerl.serving.server import serve_specs
from tests.eval.test_rewardbench import write_v1_file
from tests.judge_spec.test_spec import THINKJ_LAYOUT


class MTBenchJudge:
    """Answers in the MT-Bench format: [[A]] or [[B]] by a MARK in the answer, [[C]] when both or neither
    have it; records the prompts it saw."""

    def __init__(self, mark: str = "MARK") -> None:
        self.mark = mark
        self.prompts: list[Any] = []

    def generate(self, prompts, spec, progress=True, desc=""):  # type: ignore[no-untyped-def]
        out = []
        for messages in prompts:
            self.prompts.append(messages)
            text = messages[-1]["content"]
            a = re.search(r"Assistant A's Answer\]\n(.*?)\n\[The End", text, re.S)
            b = re.search(r"Assistant B's Answer\]\n(.*?)\n\[The End", text, re.S)
            in_a, in_b = (self.mark in m.group(1) if m else False for m in (a, b))
            out.append(
                [
                    "A is right. [[A]]"
                    if in_a and not in_b
                    else "[[B]]"
                    if in_b and not in_a
                    else "Same. [[C]]"
                ]
            )
        return out


def _samples() -> list[JudgeSample]:
    q = [{"role": "user", "content": "q"}]
    return [
        JudgeSample("1", "t", q, "MARK yes", "no", "a", subset="s1"),
        JudgeSample("2", "t", q, "no", "MARK yes", "b", subset="s1"),
        JudgeSample("3", "t", q, "MARK both", "MARK too", "a", subset="s2"),  # the judge calls it a tie
    ]


def test_judgerl_eval_with_an_mtbench_spec_counts_ties_as_ties(tmp_path: Path, monkeypatch) -> None:
    judge = MTBenchJudge()
    monkeypatch.setattr("judgerl.models.generation.make_generator", lambda *a, **k: judge)
    data = tmp_path / "data.jsonl"
    write_samples(data, _samples())
    stage = EvalStage(model=str(tmp_path / "m"), data=str(data), judge_spec="mtbench")
    result = run_eval(stage, StageContext("eval", tmp_path / "out"))
    metrics = read_json(tmp_path / "out" / "metrics.json")
    overall = metrics["overall"]
    assert (overall["single_accuracy"], overall["tie_rate"], overall["parse_failure_rate"]) == (
        4 / 6,
        2 / 6,
        0.0,
    )
    assert overall["agreement"] == 1.0 and metrics["judge_spec"] == "mtbench"
    assert judge.prompts[0][0]["role"] == "system" and "[[C]]" in judge.prompts[0][0]["content"]
    assert "| ties |" in (tmp_path / "out" / "table.md").read_text() and result.metrics["tie_rate"] == 2 / 6
    preds = read_jsonl(tmp_path / "out" / "predictions.jsonl")
    assert {p["verdict"]["choice"] for p in preds if p["sample_id"] == "3"} == {"tie"}

    counted = spec_from_mapping({"extends": "mtbench", "name": "mt-rb", "counting": "rewardbench"})
    run_eval(stage.model_copy(update={"judge_spec": counted}), StageContext("eval2", tmp_path / "out2"))
    again = read_json(tmp_path / "out2" / "metrics.json")
    assert again["overall"] == overall  # judgerl's own numbers do not move
    assert again["as_counted"]["overall"]["single_accuracy"] == pytest.approx((4 + 2 * 0.5) / 6)
    assert "| eval2 (counted as rewardbench) |" in (tmp_path / "out2" / "table.md").read_text()


def test_rewardbench_with_an_mtbench_spec_scores_a_tie_as_the_official_script_does(tmp_path: Path) -> None:
    data = write_v1_file(tmp_path / "rb.jsonl")
    stage = RewardBenchStage(model="scripted", data=str(data), judge_spec="mtbench", plots=False)
    run_rewardbench(stage, StageContext("rewardbench", tmp_path / "out"), MTBenchJudge(mark="@@nothing@@"))
    metrics = read_json(tmp_path / "out" / "metrics.json")
    assert metrics["prompt"] == {"judge_spec": "mtbench"}
    for sub in metrics["subsets"].values():  # every verdict is a tie: 0.5 each, as RewardBench counts it
        assert (sub["accuracy"], sub["tie_rate"], sub["parse_failure_rate"]) == (0.5, 1.0, 0.0)


def test_grpo_and_verl_rewards_read_and_pay_by_the_stages_spec() -> None:
    spec = spec_from_mapping(THINKJ_LAYOUT)
    completion = "Therefore, Response (a) is better."  # right, but no [[k]]
    (judgerl,), _ = to_trl(["strength"])
    (thinkj,), _ = to_trl(["strength"], judge_spec=spec)
    columns = {"prompts": ["p"], "completions": [completion], "label": ["a"], "strength": [-2]}
    assert (judgerl(**columns), thinkj(**columns)) == ([0.5], [0.0])
    verl = to_verl(
        ["strength"], judge_spec=spec.model_dump(mode="json")
    )  # as the verl reward module embeds it
    assert verl("judge", completion, {"label": "a", "strength": -2})["score"] == 0.0


def test_the_server_serves_the_checkpoints_spec_unless_one_is_given(tmp_path: Path) -> None:
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    assert [s.name for s in serve_specs(str(ckpt), None, None, None)] == ["strength", "score"]
    save_spec(builtin_spec("mtbench"), ckpt)
    assert [s.name for s in serve_specs(str(ckpt), None, None, None)] == ["mtbench", "score"]
    assert serve_specs(str(ckpt), None, builtin_spec("cot"), None)[0].name == "cot"
    save_spec(builtin_spec("score-compact"), ckpt)  # a pointwise judge scores with its own spec
    assert [s.name for s in serve_specs(str(ckpt), None, None, None)] == ["strength", "score-compact"]


def test_a_recipe_declares_a_spec_file_recipe_wide_and_a_stages_prompt_shorthand_wins(tmp_path: Path) -> None:
    spec = tmp_path / "thinkj_layout.yaml"
    spec.write_text(json.dumps(THINKJ_LAYOUT))
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "name: r\nrun_dir: runs/r\n"
        f"judge_spec: {spec}\n"
        "stages:\n"
        "  data: {kind: prep, source: {kind: synthetic, n_train: 8, n_test: 4}}\n"
        "  eval: {kind: eval, model: m, data: '${stages.data.test}'}\n"
        "  eval_cot: {kind: eval, model: m, data: '${stages.data.test}', prompt: {family: cot}}\n"
    )
    loaded = load_recipe(str(recipe))
    assert loaded.stages["eval"].judge_spec.name == "thinkj-layout"
    assert loaded.stages["eval_cot"].judge_spec is None and loaded.stages["eval_cot"].prompt.family == "cot"
    spec.write_text("prompt: {user: '{question} {nope}'}\n")
    with pytest.raises(Exception, match=r"unknown field \{nope\}"):
        load_recipe(str(recipe))


class RawScorer:
    """Answers a raw-text prompt with the number after its [A] field (a Demystifying-layout scorer)."""

    def __init__(self) -> None:
        self.prompts: list[Any] = []

    def generate(self, prompts, spec, progress=True, desc=""):  # type: ignore[no-untyped-def]
        self.prompts.extend(prompts)
        return [[" " + p.split("[A] ")[1].split("\n")[0][-1] + " out of 10"] for p in prompts]


def test_the_generative_scaling_judge_speaks_a_pointwise_spec_as_raw_text() -> None:
    from judgerl.eval.scaling.judges.generative import GenerativeScoreJudge

    spec = spec_from_mapping(
        {
            "name": "demystifying-layout",
            "mode": "pointwise",
            "prompt": {
                "user": "[Q] {question}\n[A] {response}\n[Final]",
                "raw": True,
                "truncate": {"question": 5},
            },
            "verdict": {"format": "first_number"},
        }
    )
    gen = RawScorer()
    (res,) = GenerativeScoreJudge(gen, max_new_tokens=4, spec=spec).score_batch(
        ["What is 2+2?"], [["= 4", "= 7"]]
    )
    assert res.scores == [4.0, 7.0] and gen.prompts[0] == "[Q] What \n[A] = 4\n[Final]"


def test_sft_trains_on_the_prompt_a_file_carries_when_asked() -> None:
    from judgerl.data_prep.sft_format import sft_records

    written = [
        {"role": "system", "content": "Judge carefully."},
        {"role": "user", "content": "Q and two answers"},
    ]
    sample = JudgeSample(
        "t-0",
        "thinkj",
        [{"role": "user", "content": "q"}],
        "x",
        "y",
        "b",
        2,
        metadata={"thinking": "y is right", "thinking_order": "ab", "prompt_messages": written},
    )
    spec = builtin_spec("strength")
    rendered = sft_records([sample], spec)
    other = sample.swapped()
    other.metadata["thinking_order"] = "ba"  # a trace for the swapped order, but the file's prompt is ab's
    as_written = sft_records([sample, other], spec, as_written=True)
    assert rendered.rows[0]["messages"][:-1] == judge_prompt(spec, sample) and rendered.as_written == 0
    assert as_written.rows[0]["messages"][:-1] == written and as_written.rows[0]["messages"][-1][
        "content"
    ].endswith("Therefore, Response (b) is better, and the strength is [[2]].")
    assert (as_written.as_written, as_written.differ_from_spec) == (1, 1)
    assert as_written.skipped == [("t-0", "prompt as written is for the file's order (ab)")]

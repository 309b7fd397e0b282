"""RewardBench protocols end to end with scripted judges: official v1 (seeded order), both orders, v2."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from judgerl.core.errors import RecipeError
from judgerl.core.stage import StageContext
from judgerl.data_prep.sources.base import seeded_flip
from judgerl.data_prep.sources.rewardbench import load_rewardbench, load_rewardbench2
from judgerl.eval.rewardbench.resumable import generate_resumable
from judgerl.eval.rewardbench.scoring import V1_SECTIONS, V1_SUBSETS
from judgerl.eval.rewardbench.stage import OUTPUTS, RewardBenchStage, run_rewardbench
from judgerl.eval.rewardbench.v1 import official_layout
from judgerl.eval.rewardbench.v2 import ranking_layout

MARK = "MARK"
# per section: what the two rows of each subset are (right: chosen marked, wrong: rejected marked,
# blank: nothing marked, so the scripted judge writes no verdict)
KINDS = {"Chat": ("right", "blank"), "Chat Hard": ("right", "wrong"), "Safety": ("right", "right")}


def _kinds(subset: str) -> tuple[str, str]:
    if subset == "math-prm":
        return ("wrong", "wrong")
    if subset.startswith("hep-"):
        return ("right", "right")
    return next(KINDS[sec] for sec, subs in V1_SECTIONS.items() if subset in subs)


def write_v1_file(path: Path) -> Path:
    """Two rows for each of the 23 official subsets in the v1 columns; one multi-turn prompt."""
    rows = []
    for n, subset in enumerate(V1_SUBSETS):
        for k, kind in enumerate(_kinds(subset)):
            rows.append(
                {
                    "prompt": f"Question {n}.{k}?",
                    "chosen": f"answer {n}.{k}" + (f" {MARK}" if kind == "right" else ""),
                    "chosen_model": "m1",
                    "rejected": f"reply {n}.{k}" + (f" {MARK}" if kind == "wrong" else ""),
                    "rejected_model": "m2",
                    "subset": subset,
                    "id": 100 * n + k,
                }
            )
    rows[0]["prompt"] = [
        {"role": "user", "content": "Name a prime."},
        {"role": "assistant", "content": "7"},
        {"role": "user", "content": "Question 0.0?"},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _block(text: str, name: str) -> str:
    m = re.search(rf"\[The Start of {re.escape(name)}\]\n(.*?)\n\[The End of {re.escape(name)}\]", text, re.S)
    return m.group(1) if m else ""


class MarkJudge:
    """Picks the response holding MARK; writes no verdict when none does. Records what it saw."""

    def __init__(self) -> None:
        self.prompts: list[str] = []
        self.batches: list[int] = []

    def generate(self, prompts, spec, progress=True, desc=""):
        self.batches.append(len(prompts))
        out = []
        for messages in prompts:
            text = messages[-1]["content"]
            self.prompts.append(text)
            out.append([self.answer(text)])
        return out

    def answer(self, text: str) -> str:
        if "[The Start of Response (a)]" in text:
            for x in "ab":
                if MARK in _block(text, f"Response ({x})"):
                    return f"<think>\n({x}) has the mark\n</think>\n\nTherefore, Response ({x}) is better."
            return "<think>\nno idea\n</think>\n\nhmm"
        if "[The Start of Response A]" in text:
            for x in "ABCD":
                if MARK in _block(text, f"Response {x}"):
                    return f"<think>{x} has it</think> Therefore, the best response is [[{x}]]."
            return "no choice"
        response = _block(text, "Response")
        if "BLANK" in response:
            return "cannot rate"
        return "Therefore, the rating is [[9]]." if MARK in response or "ALSO" in response else "[[2]]"


class AlwaysA(MarkJudge):
    def answer(self, text: str) -> str:
        return "Therefore, Response (a) is better."


def _rows(out: Path) -> list[dict]:
    return [json.loads(x) for x in (out / OUTPUTS["predictions"]).read_text().splitlines()]


def _run(stage: RewardBenchStage, out: Path, judge, seed: int = 0):
    result = run_rewardbench(stage, StageContext("rb", out, seed=seed), generator=judge)
    return result, json.loads((out / OUTPUTS["metrics"]).read_text())


def test_official_order_is_seeded_per_id_reproducible_and_independent_of_row_order(tmp_path: Path) -> None:
    samples = load_rewardbench(str(write_v1_file(tmp_path / "rb.jsonl"))).samples
    labels = {s.id: s.label for s in official_layout(samples, seed=0)}
    assert labels == {s.id: s.label for s in official_layout(samples, seed=0)}
    assert labels == {s.id: s.label for s in official_layout(samples[::-1], seed=0)}
    assert labels == {s.id: ("b" if seeded_flip(0, s.id) else "a") for s in samples}
    other = {s.id: s.label for s in official_layout(samples, seed=1)}
    assert other != labels and 10 < sum(v == "b" for v in labels.values()) < 36
    for laid_out, s in zip(official_layout(samples, 0), samples, strict=True):
        assert {laid_out.response_a, laid_out.response_b} == {s.response_a, s.response_b}
        assert (laid_out.response_a if laid_out.label == "a" else laid_out.response_b) == s.response_a


def test_official_protocol_same_seed_same_result_any_batch_size_other_seed_differs(tmp_path: Path) -> None:
    data = str(write_v1_file(tmp_path / "rb.jsonl"))
    runs = {}
    for name, batch, seed in (("b1", 1, 3), ("b7", 7, 3), ("other", 7, 4)):
        judge = AlwaysA()
        stage = RewardBenchStage(model="scripted", data=data, batch_size=batch, order_seed=seed, plots=False)
        result, metrics = _run(stage, tmp_path / name, judge)
        runs[name] = (metrics, (tmp_path / name / OUTPUTS["predictions"]).read_text())
    assert runs["b1"][1] == runs["b7"][1] and runs["b1"][0]["subsets"] == runs["b7"][0]["subsets"]
    assert runs["b1"][0]["order_seed"] == 3 and runs["other"][0]["order_seed"] == 4
    assert runs["other"][1] != runs["b1"][1]
    # a judge that always says (a) is right exactly where the seeded coin left the chosen response in (a)
    rows = [json.loads(line) for line in runs["b1"][1].splitlines()]
    for subset, sub in runs["b1"][0]["subsets"].items():
        mine = [r for r in rows if r["subset"] == subset]
        assert sub["accuracy"] == sum(not seeded_flip(3, r["sample_id"]) for r in mine) / len(mine)


def test_official_protocol_scores_all_23_subsets_sections_and_writes_every_output(tmp_path: Path) -> None:
    data = str(write_v1_file(tmp_path / "rb.jsonl"))
    judge = MarkJudge()
    stage = RewardBenchStage(model="scripted", model_name="me/judge", data=data)
    result, m = _run(stage, tmp_path / "out", judge)
    assert (m["version"], m["protocol"], m["model"], m["order_seed"], m["n_examples"]) == (
        1,
        "official",
        "me/judge",
        0,
        46,
    )
    assert m["prompt"] == {"judge_spec": "strength"}
    assert set(m["subsets"]) == set(V1_SUBSETS) and m["missing_subsets"] == []
    easy = m["subsets"]["alpacaeval-easy"]
    assert {k: easy[k] for k in ("accuracy", "n", "parse_failure_rate")} == {
        "accuracy": 0.75,
        "n": 2,
        "parse_failure_rate": 0.5,
    }
    # position bias over the readable verdicts: the (a) share against the coin's chosen-in-(a) share
    readable = [
        r for r in _rows(tmp_path / "out") if r["subset"] == "alpacaeval-easy" and r["verdict"]["choice"]
    ]
    first = sum(r["verdict"]["choice"] == "a" for r in readable) / len(readable)
    label = sum(r["label"] == "a" for r in readable) / len(readable)
    assert (easy["first_position_rate"], easy["position_bias"]) == (first, first - label)
    assert "consistent_accuracy" not in easy  # one order per example: nothing to be consistent with
    assert m["position_overall"]["position_bias"] == 0.0  # MarkJudge picks by content, never by place
    sections = {k: v["score"] for k, v in m["sections"].items()}
    # Reasoning: math-prm 0 (weight 984) and six hep-* at 1 (164 each) -> 984 / 1968
    assert sections == {"Chat": 0.75, "Chat Hard": 0.5, "Safety": 1.0, "Reasoning": 0.5}
    assert m["overall"] == 0.6875 and result.metrics["overall"] == 0.6875
    # the multi-turn prompt reaches the judge as a conversation
    assert any("User: Name a prime.\n\nAssistant: 7\n\nUser: Question 0.0?" in p for p in judge.prompts)
    board_text = (tmp_path / "out" / OUTPUTS["leaderboard"]).read_text()
    board = json.loads(board_text)
    assert board_text.startswith('{\n    "alpacaeval-easy"')  # indent 4, sorted keys, as the official dump
    assert set(board) == {"model", "model_type", "chat_template", *V1_SUBSETS}  # the official keys only
    judge_board = json.loads((tmp_path / "out" / OUTPUTS["leaderboard_judge"]).read_text())
    assert (judge_board["model"], judge_board["protocol"], judge_board["position_bias"]) == (
        "me/judge",
        "official",
        0.0,
    )
    assert judge_board["subsets"]["alpacaeval-easy"]["position_bias"] == easy["position_bias"]
    assert (
        board["model"] == "me/judge" and board["model_type"] == "Generative RM" and board["math-prm"] == 0.0
    )
    rows = [json.loads(x) for x in (tmp_path / "out" / OUTPUTS["predictions"]).read_text().splitlines()]
    assert len(rows) == 46 and {r["score"] for r in rows} == {0.0, 0.5, 1.0}
    assert (
        rows[0]["thinking"] in ("(a) has the mark", "(b) has the mark") and "<think>" in rows[0]["completion"]
    )
    table = (tmp_path / "out" / OUTPUTS["table"]).read_text()
    assert "| **overall** | 68.8 | - | - | +0.0 |" in table and "| **Reasoning** | 50.0 |" in table
    assert "| score | n | parse fail | pos bias |" in table
    plots = sorted(p.name for p in (tmp_path / "out" / "plots").iterdir())
    assert plots == ["chat-hard.png", "chat.png", "reasoning.png", "safety.png"]
    assert (tmp_path / "out" / "plots" / "chat.png").read_bytes()[:4] == b"\x89PNG"
    assert not list((tmp_path / "out").glob("predictions.partial.*"))


def test_both_orders_protocol_reports_think_j_metrics_per_subset_and_section(tmp_path: Path) -> None:
    data = str(write_v1_file(tmp_path / "rb.jsonl"))
    judge = MarkJudge()
    stage = RewardBenchStage(model="scripted", data=data, protocol="both-orders", plots=False)
    _, m = _run(stage, tmp_path / "out", judge)
    assert m["protocol"] == "both-orders" and m["n_generated"] == 92 and len(judge.prompts) == 92
    chat = m["subsets"]["alpacaeval-easy"]
    # right row: right in both orders; blank row: no verdict in either (0.5 each in the official score)
    assert chat["accuracy"] == 0.75 and chat["single_accuracy"] == 0.5 and chat["pair_accuracy"] == 0.5
    assert chat["agreement"] == 0.5 and chat["parse_failure_rate"] == 0.5 and chat["n"] == 2
    hard = m["subsets"]["llmbar-natural"]
    assert (hard["accuracy"], hard["single_accuracy"], hard["agreement"]) == (0.5, 0.5, 1.0)
    # llmbar-natural: one row right in both orders, one wrong in both: consistent, half right
    assert (hard["consistent_accuracy"], hard["position_bias"]) == (0.5, 0.0)
    assert (chat["first_position_rate_ab"], chat["first_position_rate_ba"]) == (1.0, 0.0)
    assert {k: v["score"] for k, v in m["sections"].items()} == {
        "Chat": 0.75,
        "Chat Hard": 0.5,
        "Safety": 1.0,
        "Reasoning": 0.5,
    }
    by_metric = m["sections_by_metric"]
    assert by_metric["single_accuracy"]["Chat"] == 0.5 and by_metric["agreement"]["Chat Hard"] == 1.0
    assert by_metric["parse_failure_rate"]["Chat"] == 0.5 and by_metric["single_accuracy"]["overall"] == 0.625
    assert m["pairwise_overall"]["n_judgements"] == 92
    table = (tmp_path / "out" / OUTPUTS["table"]).read_text()
    assert "single acc | pair acc | agreement" in table


def test_a_partial_benchmark_reports_missing_subsets_instead_of_averaging_over_them(tmp_path: Path) -> None:
    data = str(write_v1_file(tmp_path / "rb.jsonl"))
    stage = RewardBenchStage(model="scripted", data=data, subsets=["math-prm", "hep-go"], plots=False)
    _, m = _run(stage, tmp_path / "out", MarkJudge())
    reasoning = m["sections"]["Reasoning"]
    assert reasoning["score"] is None and reasoning["partial_score"] == pytest.approx(164 / (984 + 164))
    assert reasoning["missing"] == ["hep-cpp", "hep-java", "hep-js", "hep-python", "hep-rust"]
    assert m["overall"] is None and len(m["missing_subsets"]) == 21
    assert "(partial)" in (tmp_path / "out" / OUTPUTS["table"]).read_text()


def write_v2_file(path: Path) -> Path:
    def row(i, subset, chosen, rejected):
        return {
            "id": i,
            "prompt": f"prompt {i}",
            "chosen": chosen,
            "rejected": rejected,
            "num_correct": len(chosen),
            "subset": subset,
        }

    rows = [
        row("f1", "Factuality", [f"fact {MARK}"], ["x1", "x2", "x3"]),
        row("f2", "Factuality", ["fact"], ["x1", f"x2 {MARK}", "x3"]),
        row("p1", "Precise IF", ["BLANK c"], ["BLANK 1", "BLANK 2", "BLANK 3"]),
        row("m1", "Math", [f"42 {MARK}"], ["41", "40", "43"]),
        row("s1", "Safety", [f"no {MARK}"], ["sure", "ok", "fine"]),
        row("fo1", "Focus", [f"on topic {MARK}"], ["ALSO good", "off", "meh"]),
        row("ref:0", "Ties", [f"red {MARK}"], ["cat", "dog"]),
        row("tied:0", "Ties", [f"red {MARK}", f"blue {MARK}"], ["cat"]),
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_v2_four_way_puts_the_correct_response_in_a_seeded_slot_and_rates_ties(tmp_path: Path) -> None:
    data = str(write_v2_file(tmp_path / "rb2.jsonl"))
    items = load_rewardbench2(data).items
    slots = [ranking_layout(i, 0)[1] for i in items if not i.is_ties]
    assert slots == [ranking_layout(i, 0)[1] for i in items if not i.is_ties]
    assert [ranking_layout(i, 0)[0][s] for i, s in zip(items, slots, strict=False)] == [
        i.chosen[0] for i in items[:6]
    ]
    assert slots != [ranking_layout(i, 1)[1] for i in items if not i.is_ties] or slots != [
        ranking_layout(i, 2)[1] for i in items if not i.is_ties
    ]
    judge = MarkJudge()
    _, m = _run(RewardBenchStage(model="scripted", data=data, version=2), tmp_path / "out", judge)
    # 6 ranking prompts + 3 + 3 rating prompts for the two Ties rows
    assert m["protocol"] == "four-way" and m["n_generated"] == 12 and len(judge.prompts) == 12
    scores = {k: v["accuracy"] for k, v in m["subsets"].items()}
    assert scores == {
        "Factuality": 0.5,
        "Precise IF": 0.25,
        "Math": 1.0,
        "Safety": 1.0,
        "Focus": 1.0,
        "Ties": 1.0,
    }
    assert m["overall"] == pytest.approx(4.75 / 6)
    assert m["ties"]["correctness_preferred"] == 1.0 and m["ties"]["correctness_margin_score"] == 0.0
    assert sum("need not count" in p for p in judge.prompts) == 6  # the Ties rating wording
    board = json.loads((tmp_path / "out" / OUTPUTS["leaderboard"]).read_text())
    assert board["Ties"] == 1.0 and board["Precise IF"] == 0.25 and board["model_type"] == "Generative RM"
    rows = [json.loads(x) for x in (tmp_path / "out" / OUTPUTS["predictions"]).read_text().splitlines()]
    ranking = next(r for r in rows if r["id"] == "m1")
    assert (
        ranking["kind"] == "ranking" and ranking["choice"] == ranking["correct"] and ranking["score"] == 1.0
    )
    assert next(r for r in rows if r["id"] == "tied:0")["ratings"] == [9, 9, 2]
    assert (tmp_path / "out" / "plots" / "rewardbench-2.png").exists()


def test_v2_ratings_mode_splits_a_tie_at_the_top(tmp_path: Path) -> None:
    data = str(write_v2_file(tmp_path / "rb2.jsonl"))
    stage = RewardBenchStage(model="scripted", data=data, version=2, v2_mode="ratings", plots=False)
    _, m = _run(stage, tmp_path / "out", MarkJudge())
    scores = {k: v["accuracy"] for k, v in m["subsets"].items()}
    # Focus: the chosen response and "ALSO good" both get 9 -> 1/2; Precise IF: nothing readable -> 0.25
    assert scores == {
        "Factuality": 0.5,
        "Precise IF": 0.25,
        "Math": 1.0,
        "Safety": 1.0,
        "Focus": 0.5,
        "Ties": 1.0,
    }
    assert m["overall"] == pytest.approx(4.25 / 6) and m["subsets"]["Precise IF"]["parse_failure_rate"] == 1.0
    assert m["n_generated"] == 4 * 6 + 6


def test_interrupted_generation_resumes_without_redoing_finished_prompts(tmp_path: Path) -> None:
    requests = [
        (
            f"k{i}",
            [
                {
                    "role": "user",
                    "content": f"Rate it.\n\n[The Start of Response]\nr{i}\n[The End of Response]",
                }
            ],
        )
        for i in range(10)
    ]
    partial = tmp_path / "partial.jsonl"
    first = MarkJudge()
    generate_resumable(first, requests[:4], None, partial, chunk_size=3)
    with open(partial, "a") as f:
        f.write('{"key": "k9", "compl')  # a line cut by a crash is generated again
    second = MarkJudge()
    out = generate_resumable(second, requests, None, partial, chunk_size=3)
    assert len(first.prompts) == 4 and len(second.prompts) == 6 and second.batches == [3, 3]
    assert list(out) == [k for k, _ in requests] and out["k0"] == "[[2]]"


def test_stage_kind_recipe_validation_and_the_vllm_boundary(tmp_path: Path) -> None:
    from judgerl.recipe import validate_recipe
    from judgerl.stages import STAGE_KINDS

    assert STAGE_KINDS["rewardbench"].config is RewardBenchStage
    raw = {
        "name": "rb",
        "run_dir": str(tmp_path / "run"),
        "prompt": {"family": "cot"},
        "stages": {"rb": {"kind": "rewardbench", "model": "m", "version": 2, "v2_mode": "ratings"}},
    }
    stage = validate_recipe(raw).stages["rb"]
    assert isinstance(stage, RewardBenchStage) and stage.prompt.family == "cot" and stage.version == 2
    raw["stages"]["rb"]["version"] = 3
    with pytest.raises(RecipeError, match=r"stages\.rb\.version = 3"):
        validate_recipe(raw)
    vllm_stage = RewardBenchStage(model="m", backend="vllm", tensor_parallel_size=4, max_model_len=8192)
    assert vllm_stage.generator_kwargs(5) == {
        "dtype": "auto",
        "tensor_parallel_size": 4,
        "gpu_memory_utilization": 0.9,
        "max_model_len": 8192,
        "seed": 5,
    }
    if importlib.util.find_spec("vllm") is None:
        stage = RewardBenchStage(model="m", backend="vllm", data=str(write_v1_file(tmp_path / "rb.jsonl")))
        with pytest.raises(ImportError, match="vLLM is not installed"):
            run_rewardbench(stage, StageContext("rb", tmp_path / "out"))


def test_judge_sample_files_are_read_once_per_item_and_critic_hints_are_refused(tmp_path: Path) -> None:
    import dataclasses

    from judgerl.core.samples import write_samples
    from judgerl.data_prep.synthetic import make_synthetic_splits
    from judgerl.judge_spec.families import PromptSpec, both_orders

    samples = [dataclasses.replace(s, subset="") for s in make_synthetic_splits(1, 6, seed=1).test]
    path = tmp_path / "test.jsonl"
    write_samples(path, both_orders(samples))  # each id twice, as a prep stage with both_orders writes
    stage = RewardBenchStage(model="scripted", data=str(path), protocol="both-orders", plots=False)
    _, m = _run(stage, tmp_path / "out", AlwaysA())
    assert (m["n_examples"], m["duplicate_ids_dropped"], m["n_generated"]) == (6, 6, 12)
    assert m["extra_subsets"] == ["all"] and m["subsets"]["all"]["single_accuracy"] == 0.5
    assert m["subsets"]["all"]["agreement"] == 0.0 and m["overall"] is None
    hinted = RewardBenchStage(model="scripted", data=str(path), prompt=PromptSpec(hint="positive"))
    with pytest.raises(ValueError, match="tells the judge the answer"):
        _run(hinted, tmp_path / "hinted", AlwaysA())

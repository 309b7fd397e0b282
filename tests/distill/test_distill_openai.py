"""The distill stage with the openai teacher against a scripted OpenAI-compatible server on loopback:
acceptance by the strict parser, reasoning_content, retries, refusals, resume and a torn last line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from judgerl.core.errors import StageError
from judgerl.core.jsonl import read_json, read_jsonl
from judgerl.core.samples import read_samples, write_samples
from judgerl.core.stage import StageContext
from judgerl.data_prep.sft_format import sft_records
from judgerl.distill.config import DistillStage
from judgerl.distill.report import summary_line
from judgerl.distill.stage import run_distill
from judgerl.judge_spec.families import PromptSpec
from judgerl.judge_spec.presets import spec_for_prompt
from judgerl.judge_spec.verdicts import format_trace
from judgerl.serving.process import free_port

from .conftest import FakeOpenAI, make_sample

SPEC = PromptSpec("strength", instruction="compact")


def _stage(data: Path, url: str, **over) -> DistillStage:
    teacher = {"kind": "openai", "base_url": url, "model_name": "teacher", "retries": 2, "backoff": 0.01}
    teacher.update(over.pop("teacher", {}))
    return DistillStage(data=str(data), teacher=teacher, prompt=SPEC, max_new_tokens=64, **over)


def _write(tmp_path: Path, samples) -> Path:
    path = tmp_path / "train.jsonl"
    write_samples(path, samples)
    return path


def test_right_traces_are_kept_wrong_and_unparsed_ones_counted(
    tmp_path: Path, fake: FakeOpenAI, capsys: pytest.CaptureFixture[str]
) -> None:
    samples = [
        make_sample(0, "a"),
        make_sample(1, "b", subset="t"),
        make_sample(2, "a", tag="TRICK"),
        make_sample(3, "b", tag="RAMBLE"),
        make_sample(4, "a", strength=-1),  # the teacher says 2: wrong strength
        make_sample(5, "b", strength=None, tag="R1"),  # no strength: the teacher's is taken
    ]
    stage = _stage(_write(tmp_path, samples), fake.url, both_orders=True)
    result = run_distill(stage, StageContext("distill", tmp_path / "out"))
    stats = result.metrics
    assert len(fake.requests) == 12 and all(r["model"] == "teacher" for r in fake.requests)
    assert (stats["items"], stats["samples"], stats["answers"], stats["accepted"]) == (6, 12, 12, 6)
    assert stats["rejected"] == {"wrong verdict": 2, "wrong strength": 2}
    assert stats["parse_failures"] == {"no verdict sentence": 2}
    assert stats["acceptance_by_subset"]["t"] == {"answers": 2, "accepted": 2, "rate": 1.0}
    assert stats["acceptance_by_strength"]["unknown"]["accepted"] == 2
    assert stats["accepted_per_item"]["histogram"] == {"0": 3, "2": 3}
    assert stats["usage"] == {"prompt_tokens": 120, "completion_tokens": 60}
    # the statistics are shown once, on stdout (the command no longer prints them again)
    assert capsys.readouterr().out.count(summary_line(stats)) == 1

    traces = read_samples(result.outputs["traces"])
    assert sorted((t.id, t.order) for t in traces) == [(f"q{i}", o) for i in (0, 1, 5) for o in ("ab", "ba")]
    by_key = {(t.id, t.order): t for t in traces}
    swapped = by_key[("q0", "ba")]
    assert (
        swapped.label == "b"
        and swapped.response_b == "GOOD answer 0"
        and swapped.source == "fixture:distilled"
    )
    assert (
        swapped.metadata["thinking"] == "Response (b) says GOOD."
        and swapped.metadata["thinking_order"] == "ba"
    )
    r1 = by_key[("q5", "ab")]  # reasoning_content became the thinking; the strength is the teacher's
    assert r1.metadata["thinking"] == "Response (b) says GOOD." and r1.strength == 2
    assert r1.metadata["strength_source"] == "teacher"
    # the sft stage takes the traces as they are: the target is the teacher's thinking and verdict
    records = sft_records(traces, spec_for_prompt(SPEC))
    assert records.skipped == [] and len(records.rows) == 6
    row = next(r for r in records.rows if r["id"] == "q0" and r["order"] == "ba")
    assert row["messages"][1]["content"] == format_trace("Response (b) says GOOD.", "b", 2)

    answers = read_jsonl(result.outputs["answers"])
    assert len(answers) == 12 and {len(a["answers"]) for a in answers} == {1}
    r1_raw = next(a for a in answers if (a["id"], a["order"]) == ("q5", "ab"))["answers"][0]
    assert r1_raw["reasoning"] == "Response (b) says GOOD." and "<think>" not in r1_raw["content"]
    judgements = read_jsonl(tmp_path / "out" / "judgements.jsonl")
    assert sum(j["accepted"] for j in judgements) == 6
    assert read_json(result.outputs["stats"])["accepted"] == 6


def test_verdict_only_keeps_a_wrong_strength_and_n_answers_per_request(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    data = _write(tmp_path, [make_sample(0, "a", strength=-1), make_sample(1, "b", strength=1)])
    stage = _stage(
        data,
        fake.url,
        verdict_only=True,
        n=3,
        temperature=1.0,
        max_traces_per_order=2,
        teacher={"use_n": True},
    )
    stats = run_distill(stage, StageContext("distill", tmp_path / "out")).metrics
    assert len(fake.requests) == 2 and {r["n"] for r in fake.requests} == {3}
    assert (stats["answers"], stats["accepted"], stats["traces"]) == (6, 6, 4)
    traces = read_samples(tmp_path / "out" / "traces.jsonl")
    assert [t.strength for t in traces] == [-1, -1, 1, 1]  # the label's strength is kept

    stage = _stage(data, fake.url, n=2, temperature=1.0, max_traces_per_order=None)  # n separate requests
    fake.requests.clear()
    with pytest.raises(StageError, match="no trace kept from 4 answers"):
        run_distill(stage, StageContext("distill", tmp_path / "out2"))
    assert len(fake.requests) == 4 and {r["n"] for r in fake.requests} == {1}
    assert read_json(tmp_path / "out2" / "stats.json")["rejected"] == {"wrong strength": 4}


def test_overloaded_server_is_retried_and_a_refused_prompt_is_counted(
    tmp_path: Path, fake: FakeOpenAI
) -> None:
    data = _write(tmp_path, [make_sample(0), make_sample(1, tag="REFUSE"), make_sample(2, "b")])
    fake.fail.extend([503, 429])  # two overloaded replies with Retry-After: 0
    stage = _stage(data, fake.url, teacher={"concurrency": 1})
    result = run_distill(stage, StageContext("distill", tmp_path / "out"))
    stats = result.metrics
    assert len(fake.requests) == 5  # 3 jobs + 2 retries
    assert stats["refused"] == 1 and stats["refused_examples"][0]["id"] == "q1"
    assert (
        "HTTP 400" in stats["refused_examples"][0]["reason"]
        and "prompt too long" in stats["refused_examples"][0]["reason"]
    )
    assert stats["traces"] == 2 and stats["answers"] == 2
    assert next(r for r in read_jsonl(result.outputs["answers"]) if r["id"] == "q1")["answers"] == []


def test_resume_asks_only_what_is_missing_and_reports_a_torn_line(tmp_path: Path, fake: FakeOpenAI) -> None:
    data = _write(tmp_path, [make_sample(i, "ab"[i % 2]) for i in range(4)])
    out = tmp_path / "out"
    stage = _stage(data, fake.url)
    run_distill(stage, StageContext("distill", out))
    lines = (out / "answers.jsonl").read_text().splitlines(keepends=True)
    assert len(lines) == 4
    # an interrupted run: two finished jobs, and a third cut mid-write
    (out / "answers.jsonl").write_text(lines[0] + lines[1] + lines[2][:25])
    fake.requests.clear()
    stats = run_distill(stage, StageContext("distill", out)).metrics
    assert len(fake.requests) == 2 and (stats["resumed_jobs"], stats["asked_jobs"], stats["torn_lines"]) == (
        2,
        2,
        1,
    )
    assert (out / "answers.jsonl.torn.txt").read_text() == lines[2][:25] + "\n"
    rows = read_jsonl(out / "answers.jsonl")
    assert sorted(r["id"] for r in rows) == ["q0", "q1", "q2", "q3"] and stats["traces"] == 4
    fake.requests.clear()
    assert run_distill(stage, StageContext("distill", out)).metrics["asked_jobs"] == 0 and not fake.requests
    # answers written for other data are refused, not mixed in
    write_samples(data, [make_sample(i + 10) for i in range(4)])
    with pytest.raises(StageError, match="written for other data"):
        run_distill(stage, StageContext("distill", out))


def test_an_unreachable_teacher_is_retried_then_stops_the_stage(tmp_path: Path) -> None:
    data = _write(tmp_path, [make_sample(0)])
    stage = _stage(data, f"http://127.0.0.1:{free_port()}/v1")
    with pytest.raises(StageError, match=r"failed on sample q0 \(order ab\) after 3 attempt"):
        run_distill(stage, StageContext("distill", tmp_path / "out"))
    assert (tmp_path / "out" / "answers.jsonl").read_text() == ""


def test_the_api_key_comes_from_the_named_variable(tmp_path: Path, fake: FakeOpenAI, monkeypatch) -> None:
    data = _write(tmp_path, [make_sample(0)])
    stage = _stage(data, fake.url, teacher={"api_key_env": "DISTILL_TEST_KEY"})
    monkeypatch.delenv("DISTILL_TEST_KEY", raising=False)
    with pytest.raises(StageError, match="DISTILL_TEST_KEY, which is not set"):
        run_distill(stage, StageContext("distill", tmp_path / "out"))
    monkeypatch.setenv("DISTILL_TEST_KEY", "sk-test")
    run_distill(stage, StageContext("distill", tmp_path / "out"))
    assert fake.headers[-1]["authorization"] == "Bearer sk-test"


def test_thinking_over_budget_is_trimmed_or_dropped(tmp_path: Path, fake: FakeOpenAI) -> None:
    data = _write(tmp_path, [make_sample(0, tag="LONG"), make_sample(1)])
    stats = run_distill(
        _stage(data, fake.url, max_thinking_tokens=8), StageContext("d", tmp_path / "a")
    ).metrics
    assert (stats["dropped"], stats["trimmed"], stats["traces"]) == (1, 0, 1)
    stage = _stage(data, fake.url, max_thinking_tokens=8, over_budget="trim")
    result = run_distill(stage, StageContext("d", tmp_path / "b"))
    assert (result.metrics["dropped"], result.metrics["trimmed"], result.metrics["traces"]) == (0, 1, 2)
    trimmed = read_samples(result.outputs["traces"])[0]
    assert (
        trimmed.metadata["thinking"] == "one two three four five six."
        and trimmed.metadata["thinking_trimmed"]
    )


def test_bad_configs_name_the_key() -> None:
    base = {"data": "x.jsonl", "teacher": {"kind": "openai", "base_url": "http://h/v1", "model_name": "m"}}
    cases = [
        ({"prompt": {"family": "cot", "hint": "positive"}}, "the teacher judges with the judge's own prompt"),
        ({"n": 4, "temperature": 0}, "need temperature > 0"),
        ({"teacher": {"kind": "openai", "model_name": "m"}}, "needs base_url"),
        ({"teacher": {"kind": "openai", "base_url": "h", "model_name": "m"}}, "must start with http"),
        ({"teacher": {**base["teacher"], "extra_body": {"n": 2}}}, "extra_body may not set"),
        (
            {
                "teacher": {"kind": "openai", "serve": {"model": "c", "max_new_tokens": 8}},
                "max_new_tokens": 64,
            },
            "would refuse every request",
        ),
        ({"teacher": {"kind": "gpt"}}, "teacher"),
    ]
    for over, message in cases:
        with pytest.raises(ValidationError, match=message):
            DistillStage(**{**base, **over})
    served = DistillStage(data="x", teacher={"kind": "openai", "serve": {"model": "c"}}, max_new_tokens=96)
    assert served.teacher.serve.max_new_tokens == 96
    assert json.loads(served.model_dump_json())["teacher"]["kind"] == "openai"


def test_the_command_line_mirrors_the_stage(tmp_path: Path, fake: FakeOpenAI, capsys) -> None:
    from judgerl.cli.main import main

    data = _write(tmp_path, [make_sample(0), make_sample(1, "b")])
    out = tmp_path / "out"
    args = ["distill", "--data", str(data), "--out", str(out), "--base-url", fake.url, "--model-name", "teacher",
            "--instruction", "compact", "--both-orders", "--max-new-tokens", "64"]  # fmt: skip
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "2 items (4 samples) -> 4 answers, 4 accepted (100.0%)" in printed and str(out) in printed
    assert {r["max_tokens"] for r in fake.requests} == {64} and len(read_samples(out / "traces.jsonl")) == 4
    assert main(["distill", "--data", str(data), "--teacher", "hf", "--base-url", fake.url]) == 2
    assert "takes no openai teacher flags" in capsys.readouterr().err
    assert (
        main(
            ["distill", "--data", str(data), "--out", str(out), "--base-url", "ftp://x", "--model-name", "m"]
        )
        == 2
    )
    assert "base_url must start with http" in capsys.readouterr().err


def test_max_items_asks_about_a_seeded_draw_not_the_files_head(tmp_path: Path, fake: FakeOpenAI) -> None:
    from judgerl.data_prep.subsample import subsample

    samples = [make_sample(i, "ab"[i % 2]) for i in range(10)]
    data = _write(tmp_path, samples)
    result = run_distill(
        _stage(data, fake.url, max_items=3), StageContext("distill", tmp_path / "out", seed=7)
    )
    asked = {r["messages"][-1]["content"].split("question ")[1].split()[0] for r in fake.requests}
    want, record = subsample(samples, 3, "random", seed=7)
    assert asked == {s.id[1:] for s in want} and asked != {"0", "1", "2"}
    assert result.metrics["subsample"] == record and record["mode"] == "random"
    first = _stage(data, fake.url, max_items=3, subsample="first")
    assert (
        "subsample" not in first.model_dump()
        and "subsample" in _stage(data, fake.url, max_items=3).model_dump()
    )

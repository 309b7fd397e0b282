"""A resumed evaluation reports the judging seconds of every attempt, and judges only what is missing."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from judgerl.core.jsonl import write_jsonl
from judgerl.core.stage import StageContext
from judgerl.core.types import JudgeSample
from judgerl.eval.judgebench.stage import JudgeBenchStage, run_judgebench
from judgerl.eval.stage import EvalStage, run_eval
from judgerl.eval.stage_clock import StageClock

from .test_judgebench import jb_row, write_judgebench

PAUSE = 0.3
VERDICT = "<think>x</think>Therefore, Response (a) is better, and the strength is [[2]]."


class Interrupted(RuntimeError):
    pass


class SlowJudge:
    """A generator taking PAUSE seconds per chunk that always answers (a); `fail_at` makes call N raise."""

    def __init__(self, fail_at: int | None = None) -> None:
        self.fail_at = fail_at
        self.calls = 0
        self.prompts = 0

    def generate(
        self, prompts: list[Any], spec: Any, progress: bool = True, desc: str = ""
    ) -> list[list[str]]:
        self.calls += 1
        time.sleep(PAUSE)
        if self.calls == self.fail_at:
            raise Interrupted("killed mid-stage")
        self.prompts += len(prompts)
        return [[VERDICT] for _ in prompts]


def test_a_resumed_eval_stage_reports_the_seconds_of_both_attempts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    samples = [
        JudgeSample(f"s{i}", "t", [{"role": "user", "content": f"q{i}"}], "x", "y", "a", -2)
        for i in range(70)
    ]
    data = tmp_path / "test.jsonl"
    write_jsonl(data, (s.to_dict() for s in samples))
    judges = iter([SlowJudge(fail_at=2), SlowJudge(), SlowJudge()])
    monkeypatch.setattr("judgerl.models.generation.make_generator", lambda *a, **k: next(judges))
    stage = EvalStage(model="unused", data=str(data))
    out = tmp_path / "eval"
    with pytest.raises(Interrupted):  # first chunk (one batch, 32 judgements) written, killed in the second
        run_eval(stage, StageContext("eval", out, resume=False))
    saved = json.loads((out / "predictions.partial.seconds.json").read_text())
    assert saved["attempts"] == 1 and PAUSE <= saved["seconds"] < 4 * PAUSE
    result = run_eval(stage, StageContext("eval", out, resume=True))
    m = json.loads((out / "metrics.json").read_text())
    assert m["judging_attempts"] == 2 and result.metrics["judging_attempts"] == 2
    # attempt 1's chunk (PAUSE) + attempt 2's four chunks (4 PAUSE)
    assert m["seconds"] >= round(2 * PAUSE, 1) - 0.05 and result.metrics["seconds"] == m["seconds"]
    assert m["overall"]["n_judgements"] == 140 and m["overall"]["pair_accuracy"] == 0.0
    assert not (out / "predictions.partial.seconds.json").exists()
    assert (
        run_eval(stage.model_copy(update={"max_samples": 3}), StageContext("eval", out, resume=False))
        is not None
    )
    assert json.loads((out / "metrics.json").read_text())["judging_attempts"] == 1  # a fresh start forgets


def test_a_resumed_judgebench_judges_only_what_is_missing_and_sums_seconds(tmp_path: Path) -> None:
    rows = [jb_row(f"p{i}", "livebench-math", "A>B" if i % 2 else "B>A") for i in range(70)]
    data = write_judgebench(tmp_path / "jb.jsonl", rows)
    stage = JudgeBenchStage(model="unused", data=str(data))
    out = tmp_path / "jb"
    with pytest.raises(Interrupted):
        run_judgebench(stage, StageContext("judgebench", out, resume=False), generator=SlowJudge(fail_at=2))
    assert len(list(out.glob("predictions.partial.*.seconds.json"))) == 1
    second = SlowJudge()
    result = run_judgebench(stage, StageContext("judgebench", out, resume=True), generator=second)
    assert second.prompts == 140 - 32  # the first batch of 32 was kept
    m = json.loads((out / "metrics.json").read_text())
    assert m["judging_attempts"] == 2 and m["seconds"] >= round(2 * PAUSE, 1) - 0.05
    # always (a): right in both orders never, right once in half the pairs -> each pair's vote is 0
    assert m["overall"] == 0.0 and m["pairwise_overall"]["single_accuracy"] == 0.5
    assert result.metrics["categories"] == {"math": 0.0} and not list(out.glob("predictions.partial.*"))


def test_clock_starts_afresh_without_resume_or_with_an_unreadable_record(tmp_path: Path) -> None:
    path = tmp_path / "clock.json"
    path.write_text(json.dumps({"seconds": 100.0, "attempts": 3}))
    clock = StageClock(path, resume=True)
    assert clock.attempt == 4 and clock.total() >= 100.0
    assert StageClock(path, resume=False).total() < 1 and not path.exists()
    path.write_text("{torn")
    clock = StageClock(path, resume=True)
    assert clock.attempt == 1 and clock.total() < 1
    clock.save()
    assert json.loads(path.read_text())["attempts"] == 1

"""A distill stage with a local (hf/vllm) teacher appends its answers after every batch by default, so an
interrupt (a Ctrl-C: KeyboardInterrupt from the generator) loses at most one batch."""

from __future__ import annotations

from pathlib import Path

import pytest

from judgerl.core.jsonl import read_jsonl
from judgerl.core.samples import write_samples
from judgerl.core.stage import StageContext
from judgerl.distill.config import DistillStage
from judgerl.distill.stage import run_distill
from judgerl.models import generation
from tests.interrupting import InterruptedJudge

from .conftest import make_sample


def test_local_teacher_answers_are_kept_batch_by_batch(tmp_path: Path, monkeypatch) -> None:
    data = tmp_path / "train.jsonl"
    write_samples(data, [make_sample(i) for i in range(10)])
    stage = DistillStage(data=str(data), teacher={"kind": "hf", "model": "scripted", "batch_size": 4})
    out = tmp_path / "distill"
    first = InterruptedJudge(stop_at=3)
    monkeypatch.setattr(generation, "make_generator", lambda *a, **k: first)
    with pytest.raises(KeyboardInterrupt):
        run_distill(stage, StageContext("distill", out, progress=False))
    assert first.calls == [4, 4] and len(read_jsonl(out / "answers.jsonl")) == 8
    rest = InterruptedJudge()
    monkeypatch.setattr(generation, "make_generator", lambda *a, **k: rest)
    stats = run_distill(stage, StageContext("distill", out, progress=False)).metrics
    assert rest.calls == [2] and (stats["resumed_jobs"], stats["asked_jobs"]) == (8, 2)

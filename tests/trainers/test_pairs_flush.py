"""The `pairs` stage appends its generations after every batch by default, so an interrupt (a Ctrl-C:
KeyboardInterrupt from the generator) loses at most one batch, and the rerun generates only the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from judgerl.core.jsonl import read_jsonl
from judgerl.core.samples import write_samples
from judgerl.core.stage import StageContext
from judgerl.data_prep.synthetic import make_synthetic_splits
from judgerl.models import generation
from judgerl.trainers.pair_construction import PARTIAL, PairsStage, run_pairs
from tests.interrupting import InterruptedJudge


def test_pairs_keep_every_finished_batch_when_interrupted(tmp_path: Path, monkeypatch) -> None:
    data = tmp_path / "train.jsonl"
    write_samples(data, make_synthetic_splits(10, 1, seed=5).train)
    stage = PairsStage(judge="scripted", data=str(data), mode="judge_only", samples_per_item=2, batch_size=4)
    out = tmp_path / "pairs"
    first = InterruptedJudge(stop_at=3)
    monkeypatch.setattr(generation, "make_generator", lambda *a, **k: first)
    with pytest.raises(KeyboardInterrupt):
        run_pairs(stage, StageContext("pairs", out, progress=False))
    assert first.calls == [4, 4] and len(read_jsonl(out / PARTIAL)) == 8
    rest = InterruptedJudge()
    monkeypatch.setattr(generation, "make_generator", lambda *a, **k: rest)
    run_pairs(stage, StageContext("pairs", out, progress=False))
    assert rest.calls == [2]  # the 10th item's batch: only what was missing

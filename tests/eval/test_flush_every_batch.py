"""An interrupt loses at most one batch: the eval stage and the benchmarks (JudgeBench, RewardBench v1
and v2) append finished judgements to their partial file after every batch (or `chunk_size`
prompts), and a rerun judges only the rest. A Ctrl-C is a KeyboardInterrupt raised by the judge."""

from __future__ import annotations

from pathlib import Path

import pytest

from judgerl.core.jsonl import read_jsonl
from judgerl.core.samples import write_samples
from judgerl.core.stage import StageContext
from judgerl.data_prep.synthetic import make_synthetic_splits
from judgerl.eval.judgebench.stage import JudgeBenchStage
from judgerl.eval.pair_benchmark import judge_pairs
from judgerl.eval.rewardbench.stage import RewardBenchStage, run_rewardbench
from judgerl.eval.stage import EvalStage, run_eval
from judgerl.models import generation
from judgerl.models.decoding_config import chunk_prompts
from tests.eval.test_rewardbench import write_v2_file
from tests.interrupting import InterruptedJudge


def _samples_file(tmp_path: Path, n: int = 10) -> Path:
    path = tmp_path / "test.jsonl"
    write_samples(path, make_synthetic_splits(1, n, seed=4).test)
    return path


def _use(monkeypatch: pytest.MonkeyPatch, judge: InterruptedJudge) -> None:
    monkeypatch.setattr(generation, "make_generator", lambda *a, **k: judge)


def test_eval_keeps_every_finished_batch_when_interrupted(tmp_path: Path, monkeypatch) -> None:
    stage = EvalStage(model="scripted", data=str(_samples_file(tmp_path)), batch_size=4)
    out = tmp_path / "eval"
    _use(monkeypatch, first := InterruptedJudge(stop_at=3))
    with pytest.raises(KeyboardInterrupt):
        run_eval(stage, StageContext("eval", out, progress=False))
    assert first.calls == [4, 4]  # one generate call per batch
    assert len(read_jsonl(out / "predictions.partial.jsonl")) == 8  # both finished batches kept
    _use(monkeypatch, second := InterruptedJudge())
    run_eval(stage, StageContext("eval", out, progress=False))
    assert sum(second.calls) == 12  # 20 judgements (10 samples, both orders), 8 of them kept
    assert len(read_jsonl(out / "predictions.jsonl")) == 20
    assert not (out / "predictions.partial.jsonl").exists()


def test_chunk_size_sets_how_many_are_judged_between_saves(tmp_path: Path, monkeypatch) -> None:
    stage = EvalStage(model="scripted", data=str(_samples_file(tmp_path)), batch_size=4, chunk_size=6)
    _use(monkeypatch, judge := InterruptedJudge(stop_at=3))
    with pytest.raises(KeyboardInterrupt):
        run_eval(stage, StageContext("eval", tmp_path / "eval", progress=False))
    assert judge.calls == [6, 6]
    assert len(read_jsonl(tmp_path / "eval" / "predictions.partial.jsonl")) == 12
    # how often judgements are saved is not part of the config hash
    assert (
        "chunk_size" not in stage.model_dump()
        and stage.model_dump() == EvalStage(model="scripted", data=stage.data, batch_size=4).model_dump()
    )


def test_judgebench_keeps_every_finished_batch(tmp_path: Path) -> None:
    samples = make_synthetic_splits(1, 10, seed=4).test
    stage = JudgeBenchStage(model="scripted", data="unused.jsonl", batch_size=4)
    ctx = StageContext("judgebench", tmp_path / "jb", progress=False)
    with pytest.raises(KeyboardInterrupt):
        judge_pairs(stage, ctx, samples, None, generator=InterruptedJudge(stop_at=4))
    (partial,) = (tmp_path / "jb").glob("predictions.partial.*.jsonl")
    assert len(read_jsonl(partial)) == 12
    rest = InterruptedJudge()
    run = judge_pairs(stage, ctx, samples, None, generator=rest)
    assert sum(rest.calls) == 8 and len(run.judgements) == 20


def test_rewardbench_v2_keeps_every_finished_batch(tmp_path: Path) -> None:
    stage = RewardBenchStage(model="scripted", data=str(write_v2_file(tmp_path / "rb2.jsonl")), version=2)
    stage = stage.model_copy(update={"batch_size": 4})
    with pytest.raises(KeyboardInterrupt):
        run_rewardbench(
            stage, StageContext("rb", tmp_path / "rb", progress=False), generator=InterruptedJudge(stop_at=2)
        )
    (partial,) = (tmp_path / "rb").glob("predictions.partial.*.jsonl")
    assert len(read_jsonl(partial)) == 4  # 12 prompts in batches of 4: the first batch kept


def test_vllm_gets_a_bigger_default_chunk() -> None:
    assert chunk_prompts(None, 4, "vllm") == 256 and chunk_prompts(None, 512, "vllm") == 512
    assert chunk_prompts(None, 4, "speculative") == 4 and chunk_prompts(3, 4, "vllm") == 3

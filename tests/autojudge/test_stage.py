"""The `autojudge` stage: decoder comparison on tiny models and its checks."""

from __future__ import annotations

import pytest
import torch

from judgerl.autojudge.stage import AutoJudgeStage, compare_decoders, run_autojudge
from judgerl.core.errors import StageError
from judgerl.core.samples import write_samples
from judgerl.core.stage import StageContext
from judgerl.data_prep.pair_filters import pair_filter_names
from judgerl.data_prep.synthetic import make_synthetic_splits
from judgerl.models.tiny import TinyModelSpec, build_tiny_model
from judgerl.models.tokenizer import train_tokenizer
from judgerl.stages import STAGE_KINDS


def _models(seed_b: int):
    tok = train_tokenizer([f"What is {a}+{b}? {a + b}" for a in range(30) for b in range(10)], vocab_size=300)
    spec = TinyModelSpec(hidden_size=32, layers=1, heads=2, vocab_size=300)
    return build_tiny_model(spec, tok, seed=0), build_tiny_model(spec, tok, seed=seed_b), tok


def test_compare_decoders_reports_every_decoder():
    target, draft, tok = _models(1)
    test = make_synthetic_splits(4, 2, seed=0).test
    always = lambda h: torch.ones(h.shape[0])  # noqa: E731  every mismatch important: judge == lossless
    stats, texts = compare_decoders(target, draft, tok, test, always, {"t": 0.5}, window=4, max_new_tokens=8)
    assert list(stats) == ["target", "speculative", "judge (t)", "draft only"]
    assert texts["speculative"] == texts["target"] == texts["judge (t)"]
    assert stats["speculative"]["same_as_target"] == 1.0 and stats["target"]["target_calls_per_token"] == 1.0
    assert all(0.0 <= s["accuracy"] <= 1.0 for s in stats.values())


def test_stage_is_registered_and_checks_the_tokenizer(tmp_path):
    assert STAGE_KINDS["autojudge"].config is AutoJudgeStage
    assert "autojudge" in pair_filter_names()  # named lazily in data_prep.pair_filters: no import needed
    target, _, tok = _models(1)
    other = train_tokenizer(["completely different text corpus"] * 20, vocab_size=300)
    for name, t in (("target", tok), ("draft", other)):
        target.save_pretrained(str(tmp_path / name))
        t.save_pretrained(str(tmp_path / name))
    write_samples(tmp_path / "train.jsonl", make_synthetic_splits(4, 1, seed=0).train)
    stage = AutoJudgeStage(
        target=str(tmp_path / "target"), draft=str(tmp_path / "draft"), train=str(tmp_path / "train.jsonl")
    )
    with pytest.raises(StageError, match="do not share a tokenizer"):
        run_autojudge(stage, StageContext(name="autojudge", out_dir=tmp_path / "aj"))

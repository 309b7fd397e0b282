"""Judge decoding and lossless speculative decoding reproduce the target's greedy output exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from judgerl.autojudge.classifier_file import LinearImportance, load_linear_importance
from judgerl.models.generation import HFGenerator, SamplingSpec, make_generator
from judgerl.models.generation.speculative import SpeculativeGenerator, make_speculative_generator
from judgerl.models.tiny import build_tiny_model

from .conftest import TINY_SPEC, sharpen

PROMPTS = [
    [{"role": "user", "content": "What is 12 + 7? Response (a) says 19."}],
    [{"role": "user", "content": "What is 40 + 33?"}],
    "The answer is 5",
]
SPEC = SamplingSpec(max_new_tokens=24, batch_size=1)


@pytest.fixture
def models(tiny_pair):
    target, tok = tiny_pair
    draft = build_tiny_model(TINY_SPEC, tok, seed=1)
    sharpen(draft, seed=1)
    # Make the draft agree with the target often: a perturbed copy of the target.
    draft.load_state_dict({k: v + 0.05 * torch.randn_like(v) for k, v in target.state_dict().items()})
    return target, draft, tok


def _always(p: float):
    return lambda h: torch.full((h.shape[0],), p)


def test_threshold_zero_and_lossless_equal_target_greedy(models):
    target, draft, tok = models
    reference = HFGenerator(target, tok).generate(PROMPTS, SPEC, progress=False)
    runs = [
        ("target", 1, {}),
        ("speculative", 1, {}),
        ("speculative", 5, {}),
        ("judge", 3, {"importance": _always(0.0), "threshold": 0.0}),
        ("judge", 5, {"importance": _always(0.5), "threshold": 0.5}),
    ]
    for mode, window, kwargs in runs:
        gen = SpeculativeGenerator(target, tok, draft=draft, mode=mode, window=window, **kwargs)
        assert gen.generate(PROMPTS, SPEC, progress=False) == reference, (mode, window)
        s = gen.stats.summary()
        assert s["prompts"] == 3 and s["generated"] > 0
        assert s["accepted_mismatches"] == 0
        if mode == "target":
            assert s["target_calls_per_token"] == 1.0
    # The perturbed draft agrees often: speculative decoding saves target calls.
    gen = SpeculativeGenerator(target, tok, draft=draft, mode="speculative", window=4)
    gen.generate(PROMPTS, SPEC, progress=False)
    assert gen.stats.summary()["target_calls_per_token"] < 1.0


def test_accepting_every_mismatch_follows_the_draft(models):
    target, draft, tok = models
    draft_greedy = HFGenerator(draft, tok).generate(PROMPTS, SPEC, progress=False)
    # A window covering the whole budget: one cycle per prompt, all drafted tokens kept, no target token.
    gen = SpeculativeGenerator(
        target, tok, draft=draft, mode="judge", window=32, importance=_always(0.0), threshold=1.0
    )
    assert gen.generate(PROMPTS, SPEC, progress=False) == draft_greedy
    assert gen.stats.cycles == 3 and gen.stats.accepted_mismatches > 0


def test_budget_and_sampling_refused(models):
    target, draft, tok = models
    gen = SpeculativeGenerator(target, tok, draft=draft, mode="speculative", window=8)
    ids = tok("The answer is", add_special_tokens=False)["input_ids"]
    assert len(gen.generate_ids(ids, 5)) <= 5
    with pytest.raises(ValueError, match="greedy only"):
        gen.generate(PROMPTS, SamplingSpec(temperature=0.7))
    with pytest.raises(ValueError, match="needs a draft"):
        SpeculativeGenerator(target, tok, mode="speculative")
    with pytest.raises(ValueError, match="importance"):
        SpeculativeGenerator(target, tok, draft=draft, mode="judge")


def test_linear_importance_load_errors(tmp_path):
    from safetensors.numpy import save_file

    with pytest.raises(FileNotFoundError, match="classifier.safetensors"):
        load_linear_importance(tmp_path)
    (tmp_path / "classifier.safetensors").write_bytes(b"not a safetensors file")
    (tmp_path / "classifier.json").write_text('{"threshold": 0.2, "setup": "DT"}')
    with pytest.raises(ValueError, match="not a readable safetensors"):
        load_linear_importance(tmp_path)
    save_file({"mean": np.zeros(3), "scale": np.ones(3)}, str(tmp_path / "classifier.safetensors"))
    with pytest.raises(ValueError, match="coef, intercept"):
        load_linear_importance(tmp_path)
    with pytest.raises(ValueError, match="expects 3 features"):
        LinearImportance(np.zeros(3), np.ones(3), np.ones(3), 0.0)(torch.zeros(1, 4))


def test_make_speculative_generator(tiny_checkpoint):
    with pytest.raises(ValueError, match="needs draft_path"):
        make_speculative_generator("speculative", str(tiny_checkpoint), device="cpu")
    with pytest.raises(ValueError, match="needs classifier"):
        make_speculative_generator(
            "judge", str(tiny_checkpoint), draft_path=str(tiny_checkpoint), device="cpu"
        )
    gen = make_generator(
        "speculative",
        str(tiny_checkpoint),
        draft_path=str(tiny_checkpoint),
        window=4,
        device="cpu",
        dtype="float32",
    )
    assert isinstance(gen, SpeculativeGenerator) and gen.mode == "speculative" and gen.window == 4
    out = gen.generate(PROMPTS[:1], SPEC, progress=False)
    # Draft == target: every drafted token is accepted.
    assert gen.stats.accepted == gen.stats.drafted
    assert out == HFGenerator(gen.target, gen.tokenizer).generate(PROMPTS[:1], SPEC, progress=False)

"""The "judge" generation backend: AutoJudge's classifier folder loaded into the speculative decoder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import save_file

from judgerl.autojudge.classifier_file import LinearImportance
from judgerl.autojudge.decoding import make_judge_generator
from judgerl.models.generation import GENERATORS, make_generator, stop_token_ids
from judgerl.models.generation.speculative import SpeculativeGenerator
from judgerl.models.tiny import TinyModelSpec, build_tiny_model
from judgerl.models.tokenizer import train_tokenizer

SPEC = TinyModelSpec(hidden_size=32, layers=1, heads=2, tie_embeddings=False, vocab_size=300)
DRAFT_SPEC = TinyModelSpec(hidden_size=16, layers=1, heads=2, tie_embeddings=False, vocab_size=300)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny target checkpoint, with a smaller draft on the same tokenizer in ../draft."""
    out = tmp_path_factory.mktemp("judge_decoding") / "checkpoint"
    tokenizer = train_tokenizer(
        [f"{i} + {i + 1} = {2 * i + 1}" for i in range(200)], vocab_size=SPEC.vocab_size
    )
    build_tiny_model(SPEC, tokenizer, seed=0).save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    build_tiny_model(DRAFT_SPEC, tokenizer, seed=1).save_pretrained(str(out.parent / "draft"))
    tokenizer.save_pretrained(str(out.parent / "draft"))
    return out


def _classifier(folder: Path, setup: str, threshold: float = 0.25) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    dim = SPEC.hidden_size + (DRAFT_SPEC.hidden_size if setup == "DD-DT" else 0)
    arrays = {"mean": np.zeros(dim), "scale": np.ones(dim), "coef": np.ones(dim), "intercept": np.zeros(1)}
    save_file(arrays, str(folder / "classifier.safetensors"))
    (folder / "classifier.json").write_text(json.dumps({"threshold": threshold, "setup": setup}))
    return folder


def test_judge_backend_is_named_lazily_in_models() -> None:
    assert GENERATORS.lazy_target("judge") == "judgerl.autojudge.decoding:make_judge_generator"
    assert GENERATORS.names() == ["hf", "judge", "openai", "speculative", "vllm"]


def test_judge_generator_loads_the_classifier_and_its_threshold(checkpoint: Path, tmp_path: Path) -> None:
    clf = _classifier(tmp_path / "dt", "DT", threshold=0.25)
    gen = make_generator("judge", str(checkpoint), draft_path=str(checkpoint), classifier=str(clf), window=3)
    assert isinstance(gen, SpeculativeGenerator)
    assert gen.mode == "judge" and gen.window == 3 and gen.threshold == 0.25
    assert isinstance(gen.importance, LinearImportance) and gen.importance.dim == SPEC.hidden_size
    override = make_judge_generator(
        str(checkpoint), draft_path=str(checkpoint), classifier=str(clf), threshold=0.5
    )
    assert override.threshold == 0.5


def test_judge_generator_errors(checkpoint: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="needs classifier"):
        make_judge_generator(str(checkpoint), draft_path=str(checkpoint))
    with pytest.raises(ValueError, match=r"setup 'DD' is not one of \('DT', 'DD-DT'\)"):
        make_judge_generator(
            str(checkpoint), draft_path=str(checkpoint), classifier=str(_classifier(tmp_path / "dd", "DD"))
        )
    # A DD-DT classifier fitted on another pair: its width does not match these hidden sizes.
    with pytest.raises(
        ValueError, match=r"takes 48 features, but setup 'DD-DT' of these models gives 32 \+ 32"
    ):
        make_judge_generator(
            str(checkpoint),
            draft_path=str(checkpoint),
            classifier=str(_classifier(tmp_path / "dd2", "DD-DT")),
        )
    with pytest.raises(ValueError, match="needs draft_path"):
        make_judge_generator(str(checkpoint), classifier=str(_classifier(tmp_path / "ok", "DT")))
    with pytest.raises(FileNotFoundError, match="classifier.safetensors"):
        make_judge_generator(
            str(checkpoint), draft_path=str(checkpoint), classifier=str(tmp_path / "missing")
        )


class RecordingImportance:
    """A classifier stand-in that records the feature rows it is given and returns a fixed P."""

    def __init__(self, dim: int, p: float) -> None:
        self.dim, self.p, self.rows = dim, p, []

    def __call__(self, hidden: torch.Tensor) -> torch.Tensor:
        self.rows.extend(hidden.clone())
        return torch.full((len(hidden),), self.p)


@torch.no_grad()
def _reference_dddt_rows(
    target, draft, tok, prompt: list[int], window: int, budget: int
) -> list[torch.Tensor]:
    """AutoJudge's DD-DT features of lossless decoding, without caches: for each drafted token d_j of a
    cycle, [the draft's, the target's] normed last hidden state at d_j given seq + d[:j+1]."""
    stops, seq, rows = set(stop_token_ids(tok, target)), list(prompt), []
    last = lambda m, ids: m.model(input_ids=torch.tensor([ids])).last_hidden_state[0, -1]  # noqa: E731
    while len(seq) - len(prompt) < budget:
        room = budget - (len(seq) - len(prompt))
        d: list[int] = []
        while len(d) < min(window, room) and not (d and d[-1] in stops):
            d.append(int(draft(input_ids=torch.tensor([seq + d])).logits[0, -1].argmax()))
        rows += [
            torch.cat([last(draft, seq + d[: j + 1]), last(target, seq + d[: j + 1])]) for j in range(len(d))
        ]
        greedy = target(input_ids=torch.tensor([seq + d])).logits[0, -(len(d) + 1) :].argmax(-1).tolist()
        a = next((j for j in range(len(d)) if d[j] != greedy[j]), len(d))
        new = d[:a] + ([greedy[a]] if not any(t in stops for t in d[:a]) and a < room else [])
        seq += new
        if any(t in stops for t in new):
            break
    return rows


def test_dddt_judge_decoding_feeds_the_seed_features(checkpoint: Path) -> None:
    """DD-DT features while decoding equal AutoJudge's (draft state at the drafted token, then the
    target's); the cost is one more draft forward per cycle; at threshold 0 the output is the target's."""
    from judgerl.models.loading import load_model_and_tokenizer

    target, tok = load_model_and_tokenizer(str(checkpoint))
    draft, _ = load_model_and_tokenizer(str(checkpoint.parent / "draft"))
    prompt = tok("3 + 4 =")["input_ids"]
    dim = SPEC.hidden_size + DRAFT_SPEC.hidden_size
    rec = RecordingImportance(dim, p=0.9)
    dddt = SpeculativeGenerator(target, tok, draft, "judge", 3, rec, threshold=0.0, setup="DD-DT")
    lossless = SpeculativeGenerator(target, tok, draft, "speculative", 3)
    out = dddt.generate_ids(prompt, 12)
    assert (
        out
        == lossless.generate_ids(prompt, 12)
        == SpeculativeGenerator(target, tok, mode="target").generate_ids(prompt, 12)
    )
    ref = _reference_dddt_rows(target, draft, tok, prompt, 3, 12)
    assert len(rec.rows) == len(ref) == dddt.stats.drafted > dddt.stats.cycles  # some cycles draft several
    np.testing.assert_allclose(torch.stack(rec.rows).numpy(), torch.stack(ref).numpy(), atol=1e-5)
    assert dddt.stats.cycles == lossless.stats.cycles
    assert dddt.stats.draft_calls == lossless.stats.draft_calls + dddt.stats.cycles
    # P(important) below the threshold accepts every drafted token, as in DT mode.
    accept_all = SpeculativeGenerator(
        target, tok, draft, "judge", 3, RecordingImportance(dim, p=0.0), threshold=0.5, setup="DD-DT"
    )
    accept_all.generate_ids(prompt, 12)
    assert accept_all.stats.accepted == accept_all.stats.drafted > 0
    with pytest.raises(ValueError, match="setup must be one of"):
        SpeculativeGenerator(target, tok, draft, "judge", 3, rec, setup="TT")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"takes 48 features, but setup 'DT' of these models gives 32 = 32"):
        SpeculativeGenerator(target, tok, draft, "judge", 3, rec, setup="DT")


def test_judge_backend_reads_a_dddt_classifier(checkpoint: Path, tmp_path: Path) -> None:
    draft = str(checkpoint.parent / "draft")
    clf = _classifier(tmp_path / "dddt", "DD-DT", threshold=0.3)
    gen = make_generator("judge", str(checkpoint), draft_path=draft, classifier=str(clf), window=2)
    assert isinstance(gen, SpeculativeGenerator) and gen.setup == "DD-DT" and gen.importance.dim == 48
    gen.generate_ids(gen.tokenizer("1 + 2 =")["input_ids"], 6)
    assert gen.stats.draft_calls == gen.stats.drafted + gen.stats.cycles

"""The "judge" generation backend: AutoJudge's classifier folder loaded into the speculative decoder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from judgerl.autojudge.classifier_file import LinearImportance
from judgerl.autojudge.decoding import make_judge_generator
from judgerl.models.generation import GENERATORS, make_generator
from judgerl.models.generation.speculative import SpeculativeGenerator
from judgerl.models.tiny import TinyModelSpec, build_tiny_model
from judgerl.models.tokenizer import train_tokenizer

SPEC = TinyModelSpec(hidden_size=32, layers=1, heads=2, tie_embeddings=False, vocab_size=300)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("judge_decoding") / "checkpoint"
    tokenizer = train_tokenizer(
        [f"{i} + {i + 1} = {2 * i + 1}" for i in range(200)], vocab_size=SPEC.vocab_size
    )
    build_tiny_model(SPEC, tokenizer, seed=0).save_pretrained(str(out))
    tokenizer.save_pretrained(str(out))
    return out


def _classifier(folder: Path, setup: str, threshold: float = 0.25) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    dim = SPEC.hidden_size
    arrays = {"mean": np.zeros(dim), "scale": np.ones(dim), "coef": np.ones(dim), "intercept": np.zeros(1)}
    save_file(arrays, str(folder / "classifier.safetensors"))
    (folder / "classifier.json").write_text(json.dumps({"threshold": threshold, "setup": setup}))
    return folder


def test_judge_backend_is_named_lazily_in_models() -> None:
    assert GENERATORS.lazy_target("judge") == "judgerl.autojudge.decoding:make_judge_generator"
    assert GENERATORS.names() == ["hf", "judge", "speculative", "vllm"]


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
    with pytest.raises(ValueError, match="needs a DT classifier"):
        make_judge_generator(
            str(checkpoint), draft_path=str(checkpoint), classifier=str(_classifier(tmp_path / "dd", "DD"))
        )
    with pytest.raises(ValueError, match="needs draft_path"):
        make_judge_generator(str(checkpoint), classifier=str(_classifier(tmp_path / "ok", "DT")))
    with pytest.raises(FileNotFoundError, match="classifier.safetensors"):
        make_judge_generator(
            str(checkpoint), draft_path=str(checkpoint), classifier=str(tmp_path / "missing")
        )

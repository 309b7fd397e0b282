"""The `autojudge` pair filter: importance of the token differences between chosen and rejected."""

from __future__ import annotations

import numpy as np
import pytest

from judgerl.autojudge.classifier import ImportanceClassifier
from judgerl.autojudge.pair_filter import importance_score, register
from judgerl.data_prep.pair_filters import apply_pair_filters, pair_filter_names, parse_pair_filters
from judgerl.models.loading import load_model_and_tokenizer
from judgerl.models.tiny import TinyModelSpec, build_tiny_model
from judgerl.models.tokenizer import train_tokenizer

HIDDEN = 32
PROMPT = [{"role": "user", "content": "What is 12+7?"}]
VERDICT = "<think>\n12+7=19\n</think>\n\nTherefore, Response (a) is better, and the strength is [[{k}]]."


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    out = tmp_path_factory.mktemp("aj") / "target"
    tok = train_tokenizer(
        [VERDICT.format(k=k) + f" What is {a}+7?" for k in (1, 2, 3) for a in range(20)], 300
    )
    model = build_tiny_model(
        TinyModelSpec(hidden_size=HIDDEN, layers=1, heads=2, vocab_size=300), tok, seed=0
    )
    model.save_pretrained(str(out))
    tok.save_pretrained(str(out))
    return out


def _classifier(tmp_path, intercept: float, threshold: float = 0.5) -> str:
    clf = ImportanceClassifier(np.zeros(HIDDEN), np.ones(HIDDEN), np.zeros(HIDDEN), intercept, threshold, 1.0)
    return str(clf.save(tmp_path / f"clf{intercept}"))


def test_score_counts_mismatches(checkpoint, tmp_path):
    target, tok = load_model_and_tokenizer(str(checkpoint), dtype="float32", device="cpu")
    clf = ImportanceClassifier.load(_classifier(tmp_path, 3.0))
    same = importance_score(target, tok, clf, PROMPT, VERDICT.format(k=2), VERDICT.format(k=2))
    assert same == (0.0, 0)
    score, n = importance_score(target, tok, clf, PROMPT, VERDICT.format(k=2), VERDICT.format(k=3))
    assert n == 1 and score == pytest.approx(1 / (1 + np.exp(-3.0)))


def test_filter_drops_unimportant_differences(checkpoint, tmp_path):
    assert register() == "autojudge" and "autojudge" in pair_filter_names()
    pairs = [
        {"id": "same", "prompt": PROMPT, "chosen": VERDICT.format(k=1), "rejected": VERDICT.format(k=1)},
        {"id": "diff", "prompt": PROMPT, "chosen": VERDICT.format(k=1), "rejected": VERDICT.format(k=3)},
    ]
    important = parse_pair_filters(
        [{"name": "autojudge", "model": str(checkpoint), "classifier": _classifier(tmp_path, 3.0)}]
    )
    res = apply_pair_filters(pairs, important)
    assert [p["id"] for p in res.kept] == ["diff"] and res.dropped == {"autojudge": 1}
    unimportant = _classifier(tmp_path, -3.0)
    res = apply_pair_filters(
        pairs,
        parse_pair_filters([{"name": "autojudge", "model": str(checkpoint), "classifier": unimportant}]),
    )
    assert res.kept == [] and "AutoJudge importance 0.047 < 0.500" in res.examples[1]["reason"]
    # An explicit min_importance overrides the saved threshold.
    spec = [
        {"name": "autojudge", "model": str(checkpoint), "classifier": unimportant, "min_importance": 0.01}
    ]
    assert [p["id"] for p in apply_pair_filters(pairs, parse_pair_filters(spec)).kept] == ["diff"]
    with pytest.raises(ValueError, match="unknown option 'threshold'"):
        parse_pair_filters([{"name": "autojudge", "model": "m", "classifier": "c", "threshold": 1}])

"""Probe training (grid search, layer sweep, grouped split) and the probe file (round trip, damage)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from judgerl.core.errors import DataError
from judgerl.probes.linear import LinearProbe, ProbeFileError, load_probe
from judgerl.probes.train import (
    TrainSpec,
    classification_metrics,
    grid_search,
    split_indices,
    to_linear_probe,
    train_probe,
)

META = {"aspect": "logicality", "model_id": "tiny", "pooling": "mean", "template": "aspect"}


def _data(n: int = 240, d: int = 12, shift: float = 2.0, seed: int = 0, classes: int = 2):
    """Gaussian blobs: class k is shifted along feature k; 60% of rows are class 0 (an imbalance)."""
    rng = np.random.default_rng(seed)
    p = [0.6] + [0.4 / (classes - 1)] * (classes - 1)
    y = rng.choice(classes, size=n, p=p)
    x = rng.normal(size=(n, d)).astype(np.float32)
    for k in range(1, classes):
        x[y == k, k - 1] += shift * 2
    groups = np.array([f"q{i // 4}" for i in range(n)])
    return x, y, groups


def test_separable_features_beat_majority_on_held_out_data() -> None:
    x, y, groups = _data()
    report = train_probe({3: x}, y, groups, TrainSpec(Cs=[0.01, 1.0], folds=3), META)
    test, majority = report.metrics["test"], report.metrics["majority"]
    assert report.metrics["n_test"] + report.metrics["n_train"] == len(y)
    assert majority["macro_f1"] < 0.45 and majority["roc_auc"] == 0.5
    assert test["accuracy"] >= majority["accuracy"] + 0.25
    assert test["macro_f1"] > 0.9 and test["roc_auc"] > 0.95
    assert report.probe.meta["layers"] == [3] and report.probe.meta["classifier"] == "logreg"
    assert "| 3 (best) |" in report.table() and "majority class" in report.table()


def test_layer_sweep_picks_the_informative_layer_by_cv() -> None:
    x, y, groups = _data(seed=1)
    noise = np.random.default_rng(5).normal(size=x.shape).astype(np.float32)
    report = train_probe({0: noise, 1: x, (0, 1): np.hstack([noise, x])}, y, groups, TrainSpec(folds=3), META)
    assert report.best_layer in (1, (0, 1))
    by_layer = {r["layer"]: r for r in report.metrics["layers"]}
    assert set(by_layer) == {"0", "1", "0+1"}
    assert by_layer["0"]["cv_macro_f1"] < 0.65 < by_layer["1"]["cv_macro_f1"]


def test_grouped_split_keeps_each_question_on_one_side() -> None:
    _, y, groups = _data(n=200)
    tr, te = split_indices(y, groups, 0.2, seed=0)
    assert not set(groups[tr]) & set(groups[te])
    assert 0.12 < len(te) / len(y) < 0.28
    assert abs(y[te].mean() - y[tr].mean()) < 0.15  # stratified
    tr2, te2 = split_indices(y, None, 0.25, seed=0)
    assert len(te2) == 50 and len(set(tr2) | set(te2)) == 200


def test_single_class_and_bad_specs_are_clear_errors() -> None:
    x, _, _ = _data(n=40)
    with pytest.raises(ValueError, match="single class"):
        train_probe({1: x}, np.zeros(40, dtype=int), None, TrainSpec(), META)
    with pytest.raises(ValueError, match="positive finite"):
        TrainSpec(Cs=[0.0])
    with pytest.raises(ValueError, match="2 feature rows for 40 labels|40 labels"):
        train_probe({1: x[:2]}, np.arange(40) % 2, None, TrainSpec(), META)


@pytest.mark.parametrize("classifier,classes", [("logreg", 2), ("svm", 2), ("logreg", 3), ("svm", 3)])
def test_save_load_round_trip_gives_identical_predictions(tmp_path, classifier, classes) -> None:
    x, y, _ = _data(classes=classes, seed=2)
    spec = TrainSpec(classifier=classifier, Cs=[0.1], folds=3)
    pipe, c, _ = grid_search(x, y, None, spec)
    probe = to_linear_probe(pipe, {**META, "layers": [2], "metrics": {"test": {"roc_auc": float("nan")}}})
    np.testing.assert_array_equal(probe.predict(x), pipe.predict(x))
    np.testing.assert_allclose(
        probe.decision_function(x), pipe.decision_function(x), atol=1e-5
    )  # sklearn keeps float32 inputs in float32
    if classifier == "logreg":
        np.testing.assert_allclose(probe.predict_proba(x), pipe.predict_proba(x), atol=1e-5)

    path = probe.save(tmp_path / "p.safetensors")
    loaded = load_probe(path)
    np.testing.assert_array_equal(loaded.predict(x), probe.predict(x))
    np.testing.assert_array_equal(loaded.score(x), probe.score(x))
    assert loaded.meta["classifier"] == classifier and loaded.meta["layers"] == [2]
    assert loaded.meta["metrics"]["test"]["roc_auc"] is None  # NaN is stored as null, not invalid JSON
    assert b"pickle" not in path.read_bytes() and path.read_bytes()[8:9] == b"{"
    lo, hi = loaded.score_range()
    assert np.all((loaded.score(x) >= lo) & (loaded.score(x) <= hi))


def _good_probe(tmp_path):
    probe = LinearProbe(
        np.zeros(3),
        np.ones(3),
        np.array([[1.0, 0.0, -1.0]]),
        np.array([0.5]),
        np.array([0, 1]),
        {**META, "layers": [1], "classifier": "logreg"},
    )
    return probe, probe.save(tmp_path / "good.safetensors")


def test_corrupted_or_incomplete_probe_files_give_clear_errors(tmp_path) -> None:
    from safetensors.numpy import save_file

    probe, good = _good_probe(tmp_path)
    raw = good.read_bytes()

    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(raw[: len(raw) - 7])
    with pytest.raises(
        ProbeFileError, match=r"truncated\.safetensors: not a readable safetensors probe file"
    ):
        load_probe(truncated)

    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x80\x04\x95 this was a pickle")
    with pytest.raises(ProbeFileError, match="garbage.safetensors: not a readable"):
        load_probe(garbage)

    with pytest.raises(ProbeFileError, match="missing.safetensors: no such probe file"):
        load_probe(tmp_path / "missing.safetensors")

    header = {"format": "judgerl-probe", "version": "1", "meta": json.dumps({**probe.meta})}
    arrays = {"mean": probe.mean, "scale": probe.scale, "coef": probe.coef, "intercept": probe.intercept}
    no_classes = tmp_path / "no_classes.safetensors"
    save_file(arrays, str(no_classes), metadata=header)
    with pytest.raises(ProbeFileError, match=r"no_classes.safetensors: missing array\(s\) \['classes'\]"):
        load_probe(no_classes)

    wrong_shape = tmp_path / "wrong_shape.safetensors"
    save_file(
        {**arrays, "classes": probe.classes, "coef": np.ones((1, 5))}, str(wrong_shape), metadata=header
    )
    with pytest.raises(
        ProbeFileError, match=r"wrong_shape.safetensors: coef has shape \(1, 5\); expected \(k, 3\)"
    ):
        load_probe(wrong_shape)

    bad_meta = tmp_path / "bad_meta.safetensors"
    save_file({**arrays, "classes": probe.classes}, str(bad_meta), metadata={**header, "meta": "{not json"})
    with pytest.raises(ProbeFileError, match="bad_meta.safetensors: metadata is not valid JSON"):
        load_probe(bad_meta)

    foreign = tmp_path / "foreign.safetensors"
    save_file({**arrays, "classes": probe.classes}, str(foreign))
    with pytest.raises(ProbeFileError, match="foreign.safetensors: header format is None"):
        load_probe(foreign)

    nan = tmp_path / "nan.safetensors"
    save_file(
        {**arrays, "classes": probe.classes, "mean": np.array([0.0, np.nan, 0.0])}, str(nan), metadata=header
    )
    with pytest.raises(ProbeFileError, match="mean holds NaN"):
        load_probe(nan)
    assert issubclass(ProbeFileError, DataError)  # the CLI prints it as "judgerl: error: ..."


def test_predict_rejects_features_of_the_wrong_width(tmp_path) -> None:
    probe, _ = _good_probe(tmp_path)
    with pytest.raises(ValueError, match=r"expects \(n, 3\) features, got \(2, 4\)"):
        probe.predict(np.zeros((2, 4)))


def test_classification_metrics_values() -> None:
    m = classification_metrics([0, 0, 1, 1], [0, 1, 1, 1], np.array([0.1, 0.6, 0.7, 0.9]))
    assert m == {"n": 4, "accuracy": 0.75, "macro_f1": 0.7333, "roc_auc": 1.0}
    assert classification_metrics([1, 1], [1, 1], np.array([0.2, 0.3]))["roc_auc"] is None

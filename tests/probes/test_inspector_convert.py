"""INSPECTOR's classifier pickles, saved the way it saves them (pickle.dump of {"model": GridSearchCV,
"metadata": ...}), convert into probe files that predict what sklearn predicts; any other class in a
file is refused before it runs."""

from __future__ import annotations

import json
import os
import pickle
import warnings
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from judgerl.cli.main import main
from judgerl.probes.inspector import convert_classifier, convert_folder, read_prompts
from judgerl.probes.linear import ProbeFileError, load_probe
from judgerl.probes.restricted_pickle import RefusedPickleError, allowed_names, read_restricted_pickle
from judgerl.probes.use import evaluate_samples, load_probes
from tests.probes.conftest import RESULTS_JSON, inspector_features

pytestmark = pytest.mark.filterwarnings("ignore:'penalty' was deprecated:FutureWarning")
PROMPT = "Rate the answer.\nQuestion:\n{question}\n\nAnswer:\n{prediction}\n\nReturn only the score.\n"


def _data(n_classes: int, seed: int = 0, n: int = 150, d: int = 12) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 2, (n_classes, d))
    y = rng.integers(0, n_classes, n)
    x = centers[y] + rng.normal(0, 1.5, (n, d)) + 5.0
    labels = y if n_classes == 2 else y + 1  # binary 0/1, multi 1..5 as INSPECTOR's
    return x, labels


def _search(kind: str, **svc: Any) -> GridSearchCV:
    """INSPECTOR's train_clf: StandardScaler + LogisticRegression or SVC(kernel="linear"), 5-fold f1_macro."""
    if kind == "lr":
        clf: Any = LogisticRegression(max_iter=2000, class_weight="balanced", solver="lbfgs")
        grid: dict[str, list[Any]] = {"clf__C": [0.01, 1.0], "clf__penalty": ["l2"]}
    else:
        clf = SVC(kernel="linear", class_weight="balanced", random_state=42, **svc)
        grid = {"clf__C": [0.01, 1.0]}
    return GridSearchCV(
        Pipeline([("scaler", StandardScaler()), ("clf", clf)]), grid, cv=5, scoring="f1_macro"
    )


def _save(
    search: Any, path: Path, layers: list[int], pool: str = "mean", protocol: int | None = None
) -> Path:
    """INSPECTOR's save_model_pickle: the search and its metadata in one pickle.dump."""
    metadata = {
        "llm": "Qwen/Qwen3-1.7B",
        "dimension": path.stem,
        "classification": "multi",
        "layers": layers,
        "pool": pool,
        "use_attn": False,
        "clf_name": "lr",
        "best_params": getattr(search, "best_params_", {}),
        "best_score": getattr(search, "best_score_", None),
        "timestamp": "2025-09-01T12:00:00",
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump({"model": search, "metadata": metadata}, f, protocol=protocol)
    return path


@pytest.mark.parametrize(
    ("kind", "n_classes", "svc", "protocol"),
    [
        ("lr", 2, {}, None),
        ("lr", 5, {}, None),
        ("svm", 2, {"probability": True}, None),
        ("svm", 5, {"probability": True}, None),
        ("svm", 4, {}, 5),
        ("svm", 3, {"break_ties": True}, 3),
    ],
)
def test_converted_classifier_predicts_what_sklearn_predicts(
    tmp_path, kind, n_classes, svc, protocol
) -> None:
    x, y = _data(n_classes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn 1.9 deprecates probability=True
        search = _search(kind, **svc).fit(x[:100], y[:100])
    path = _save(search, tmp_path / "logicality.pkl", layers=[14], protocol=protocol)
    probe = convert_classifier(path, prompt=PROMPT)
    assert probe.meta["classifier"] == {"lr": "logreg", "svm": "svm" if n_classes == 2 else "svm_ovo"}[kind]
    wide = np.vstack([x, np.random.default_rng(1).normal(5, 6, (500, x.shape[1]))])
    expected = search.predict(wide)
    assert len(set(expected.tolist())) == n_classes  # every class is predicted somewhere
    assert probe.predict(wide).tolist() == expected.tolist()
    if kind == "lr":
        assert np.allclose(probe.predict_proba(wide), search.predict_proba(wide), atol=1e-9)
    probe.save(tmp_path / "p.safetensors")
    assert load_probe(tmp_path / "p.safetensors").predict(wide).tolist() == expected.tolist()
    assert probe.meta["layers"] == [15] and probe.meta["inspector_layers"] == [14]
    assert probe.meta["template"] == "custom" and probe.meta["prompt"] == PROMPT
    assert probe.meta["aspect"] == "logicality" and probe.meta["model_id"] == "Qwen/Qwen3-1.7B"


def test_one_vs_rest_logistic_regression_probabilities_are_normalised_sigmoids() -> None:
    from judgerl.probes.linear import LinearProbe

    meta = {"classifier": "logreg", "multi_class": "ovr"}
    probe = LinearProbe(
        np.zeros(1), np.ones(1), np.array([[1.0], [0.0], [-1.0]]), np.zeros(3), np.array([1, 2, 3]), meta
    )
    s = 1 / (1 + np.exp(-np.array([2.0, 0.0, -2.0])))  # the three scores at x = 2
    assert np.allclose(probe.predict_proba(np.array([[2.0]]))[0], s / s.sum())
    assert probe.predict(np.array([[2.0], [-2.0]])).tolist() == [1, 3]


def test_svc_classes_first_seen_out_of_order_still_vote_like_libsvm(tmp_path) -> None:
    x, y = _data(5, seed=3)
    order = np.argsort(-y, kind="stable")  # class 5 first in the training data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search = _search("svm").fit(x[order], y[order])
    probe = convert_classifier(_save(search, tmp_path / "fluency.pkl", layers=[1]), prompt=PROMPT)
    grid = np.random.default_rng(2).normal(5, 5, (800, x.shape[1]))
    assert probe.predict(grid).tolist() == search.predict(grid).tolist()


def test_end_to_end_on_a_model_features_computed_inspectors_way(tiny_backbone, tmp_path) -> None:
    """A classifier fit on INSPECTOR-way features (its layer 1, its prompt) and converted predicts, through
    judgerl's extractor and evaluate_samples, exactly what sklearn predicts on those features."""
    rows = json.loads(RESULTS_JSON.read_text()) * 3
    rng = np.random.default_rng(0)
    rows = [
        {**r, "prediction": r["prediction"] + " " * int(rng.integers(0, 3)) + str(i)}
        for i, r in enumerate(rows)
    ]
    texts = [
        PROMPT.replace("{question}", r["question"]).replace("{prediction}", r["prediction"]) for r in rows
    ]
    feats = inspector_features(tiny_backbone, texts, layer=1)
    y = np.array([1 + (i % 5) for i in range(len(rows))])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search = GridSearchCV(
            Pipeline([("scaler", StandardScaler()), ("clf", LogisticRegression(max_iter=2000))]),
            {"clf__C": [1.0]},
            cv=2,
            scoring="f1_macro",
        ).fit(feats, y)
    _save(search, tmp_path / "clfs" / "informativeness.pkl", layers=[1])
    (tmp_path / "prompts.json").write_text(json.dumps({"informativeness": PROMPT}))
    written = convert_folder(
        tmp_path / "clfs",
        tmp_path / "probes",
        read_prompts(tmp_path / "prompts.json"),
        model=str(tiny_backbone),
    )
    assert list(written) == ["informativeness"]
    scored = evaluate_samples(rows, load_probes(tmp_path / "probes"), progress=False)
    assert [r["informativeness"] for r in scored] == search.predict(feats).tolist()


class _RunsACommand:
    """What a hostile pickle looks like: unpickling it calls os.system."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def test_any_other_class_is_refused_without_running_it(tmp_path) -> None:
    marker = tmp_path / "ran"
    hostile = tmp_path / "hostile.pkl"
    hostile.write_bytes(pickle.dumps({"model": _RunsACommand(marker), "metadata": {}}))
    with pytest.raises(
        RefusedPickleError, match=r"hostile.pkl: refused: it names (posix|os)\.system, which is not one"
    ):
        convert_classifier(hostile)
    assert not marker.exists()  # os.system never ran
    hostile.write_bytes(pickle.dumps(eval) + b"")  # a bare builtin
    with pytest.raises(RefusedPickleError, match=r"builtins\.eval"):
        read_restricted_pickle(hostile)

    x, y = _data(2)
    forest = Pipeline([("scaler", StandardScaler()), ("clf", RandomForestClassifier(n_estimators=2))]).fit(
        x, y
    )
    path = _save(forest, tmp_path / "forest.pkl", layers=[3])
    with pytest.raises(
        RefusedPickleError,
        match=r"sklearn\.ensemble\._forest\.RandomForestClassifier.*nothing in the file was run",
    ):
        convert_classifier(path)

    search = _search("lr").fit(x, y)
    joblib.dump({"model": search, "metadata": {}}, tmp_path / "joblib.pkl")
    with pytest.raises(
        RefusedPickleError, match=r"joblib\.numpy_pickle\.NumpyArrayWrapper.*save it again with pickle\.dump"
    ):
        convert_classifier(tmp_path / "joblib.pkl")
    assert "sklearn.svm._classes.SVC" in allowed_names() and "os.system" not in allowed_names()


def test_readable_but_unusable_files_are_named(tmp_path) -> None:
    x, y = _data(3)
    rbf = GridSearchCV(
        Pipeline([("scaler", StandardScaler()), ("clf", SVC(kernel="rbf"))]),
        {"clf__C": [1.0]},
        cv=2,
        scoring="f1_macro",
    )
    with pytest.raises(ProbeFileError, match="SVC kernel 'rbf' is not linear"):
        convert_classifier(_save(rbf.fit(x, y), tmp_path / "rbf.pkl", layers=[2]))
    search = _search("lr").fit(x, y)
    path = _save(search, tmp_path / "a.pkl", layers=[2], pool="concat")
    with pytest.raises(ProbeFileError, match="pooling 'concat' is not one judgerl computes the same way"):
        convert_classifier(path)
    (tmp_path / "cut.pkl").write_bytes(_save(search, tmp_path / "b.pkl", layers=[2]).read_bytes()[:-40])
    with pytest.raises(ProbeFileError, match="cut.pkl: not a readable INSPECTOR classifier pickle"):
        convert_classifier(tmp_path / "cut.pkl")
    with pytest.raises(ProbeFileError, match="lacks the placeholder"):
        convert_classifier(tmp_path / "b.pkl", prompt="Question: {question}")


def test_cli_convert(tmp_path, capsys) -> None:
    x, y = _data(2)
    for aspect in ("fluency", "logicality"):
        _save(_search("lr").fit(x, y), tmp_path / "clfs" / f"{aspect}.pkl", layers=[4])
    (tmp_path / "prompts.json").write_text(json.dumps({"fluency": PROMPT}))
    args = ["probe", "convert", "--inspector", str(tmp_path / "clfs"), "--out", str(tmp_path / "out")]
    assert main([*args, "--prompts", str(tmp_path / "prompts.json")]) == 2
    assert "has no prompt for 'logicality'" in capsys.readouterr().err
    (tmp_path / "prompts.json").write_text(json.dumps({"fluency": PROMPT, "logicality": PROMPT}))
    assert main([*args, "--prompts", str(tmp_path / "prompts.json")]) == 0
    assert sorted(load_probes(tmp_path / "out")) == ["fluency", "logicality"]
    assert main([*args, "--judgerl-prompt"]) == 0
    assert load_probes(tmp_path / "out")["fluency"].meta["template"] == "aspect"
    (tmp_path / "bad").mkdir()
    assert (
        main(
            [
                "probe",
                "convert",
                "--inspector",
                str(tmp_path / "bad"),
                "--out",
                str(tmp_path / "o"),
                "--judgerl-prompt",
            ]
        )
        == 2
    )
    assert "no INSPECTOR classifier (*.pkl) file here" in capsys.readouterr().err

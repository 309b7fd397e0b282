"""Probe training: StandardScaler + logistic regression or linear SVM, k-fold grid search on macro-F1.

One held-out split (stratified; grouped when groups are given, so all answers to a question land
on one side) is set aside first. The C grid and, in a layer sweep, the layer are chosen by
cross-validation on the training part only; the held-out part is scored once per layer for the
report, never used to choose.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator

from judgerl.core.config import StrictModel
from judgerl.probes.linear import LinearProbe

DEFAULT_CS = [1e-3, 1e-2, 1e-1, 1.0]
LayerKey = int | tuple[int, ...]


def layer_list(key: LayerKey) -> list[int]:
    """The layers a sweep key stands for.

    >>> layer_list((2, 4)), layer_list(3)
    ([2, 4], [3])
    """
    return list(key) if isinstance(key, tuple) else [int(key)]


def layer_label(key: LayerKey) -> str:
    """A sweep key for tables and JSON.

    >>> layer_label((2, 4)), layer_label(3)
    ('2+4', '3')
    """
    return "+".join(str(la) for la in layer_list(key))


class TrainSpec(StrictModel):
    """How a probe is fit: classifier, C grid, folds, held-out fraction, seed.

    >>> TrainSpec(classifier="svm").Cs
    [0.001, 0.01, 0.1, 1.0]
    """

    classifier: Literal["logreg", "svm"] = "logreg"
    Cs: list[float] = Field(default_factory=lambda: list(DEFAULT_CS), min_length=1)
    folds: int = Field(5, ge=2)
    test_size: float = Field(0.2, gt=0.0, lt=1.0)
    seed: int = 0
    max_iter: int = Field(5000, ge=10)

    @field_validator("Cs")
    @classmethod
    def _positive(cls, v: list[float]) -> list[float]:
        if any(not (c > 0 and math.isfinite(c)) for c in v):
            raise ValueError(f"every C must be a positive finite number, got {v}")
        return v


def split_indices(
    y: Sequence[int], groups: Sequence[str] | None, test_size: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Stratified (and grouped, when `groups` is given) train / held-out index arrays.

    Usage: train_idx, test_idx = split_indices(y, questions, 0.2, seed=0)
    """
    from sklearn.model_selection import StratifiedGroupKFold, train_test_split

    y_arr = np.asarray(y)
    idx = np.arange(len(y_arr))
    if groups is None:
        tr, te = train_test_split(idx, test_size=test_size, stratify=y_arr, random_state=seed)
        return np.sort(tr), np.sort(te)
    n_splits = max(2, round(1 / test_size))
    splitter = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    tr, te = next(splitter.split(idx, y_arr, np.asarray(groups)))
    return np.sort(tr), np.sort(te)


def _estimator(spec: TrainSpec) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    if spec.classifier == "logreg":
        clf = LogisticRegression(class_weight="balanced", max_iter=spec.max_iter, random_state=spec.seed)
    else:
        clf = LinearSVC(class_weight="balanced", max_iter=spec.max_iter, random_state=spec.seed)
    return Pipeline([("scaler", StandardScaler()), ("clf", clf)])


def _cv(spec: TrainSpec, y: np.ndarray, groups: np.ndarray | None) -> Any:
    from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

    folds = min(spec.folds, int(np.bincount(np.unique(y, return_inverse=True)[1]).min()))
    if folds < 2:
        raise ValueError(
            f"need at least 2 examples of every class for cross-validation, got counts {np.unique(y, return_counts=True)}"
        )
    if groups is None:
        return StratifiedKFold(n_splits=folds, shuffle=True, random_state=spec.seed)
    return StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=spec.seed)


def grid_search(
    x: np.ndarray, y: Sequence[int], groups: Sequence[str] | None, spec: TrainSpec
) -> tuple[Any, float, float]:
    """Choose C by k-fold macro-F1 and refit on all of x: (fitted pipeline, best C, its CV macro-F1).

    Usage: pipe, C, cv_f1 = grid_search(x_train, y_train, groups_train, TrainSpec())
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import GridSearchCV

    y_arr = np.asarray(y)
    g = None if groups is None else np.asarray(groups)
    search = GridSearchCV(
        _estimator(spec), {"clf__C": list(spec.Cs)}, scoring="f1_macro", cv=_cv(spec, y_arr, g), refit=True
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(x, y_arr, groups=g)
    return search.best_estimator_, float(search.best_params_["clf__C"]), float(search.best_score_)


def to_linear_probe(pipeline: Any, meta: dict[str, Any]) -> LinearProbe:
    """Copy a fitted StandardScaler + linear classifier pipeline into plain arrays.

    Usage: probe = to_linear_probe(pipe, {"aspect": "logicality", ...})
    """
    scaler, clf = pipeline.named_steps["scaler"], pipeline.named_steps["clf"]
    classifier = "svm" if type(clf).__name__ == "LinearSVC" else "logreg"
    return LinearProbe(
        mean=np.asarray(scaler.mean_, dtype=np.float64),
        scale=np.asarray(scaler.scale_, dtype=np.float64),
        coef=np.asarray(clf.coef_, dtype=np.float64),
        intercept=np.asarray(clf.intercept_, dtype=np.float64).reshape(-1),
        classes=np.asarray(clf.classes_, dtype=np.int64),
        meta={**meta, "classifier": classifier},
    )


def _none_if_nan(x: float) -> float | None:
    return None if math.isnan(x) else round(float(x), 4)


def classification_metrics(
    y_true: Sequence[int], y_pred: Sequence[int], scores: np.ndarray | None
) -> dict[str, Any]:
    """accuracy, macro-F1 and ROC-AUC (one-vs-rest for several classes; None when undefined).

    >>> classification_metrics([0, 1, 1, 0], [0, 1, 0, 0], np.array([0.1, 0.9, 0.4, 0.2]))
    {'n': 4, 'accuracy': 0.75, 'macro_f1': 0.7333, 'roc_auc': 1.0}
    """
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    yt, yp = np.asarray(y_true), np.asarray(y_pred)
    auc = float("nan")
    if scores is not None and len(np.unique(yt)) > 1:
        try:
            auc = (
                roc_auc_score(yt, scores)
                if scores.ndim == 1
                else roc_auc_score(yt, scores, multi_class="ovr")
            )
        except ValueError:  # a class absent from the held-out part: AUC is undefined
            auc = float("nan")
    return {
        "n": len(yt),
        "accuracy": _none_if_nan(accuracy_score(yt, yp)),
        "macro_f1": _none_if_nan(f1_score(yt, yp, average="macro", zero_division=0)),
        "roc_auc": _none_if_nan(auc),
    }


def majority_metrics(y_train: Sequence[int], y_test: Sequence[int]) -> dict[str, Any]:
    """The majority-class baseline: always predict the training majority (ROC-AUC 0.5).

    >>> majority_metrics([1, 1, 0], [1, 0])["accuracy"]
    0.5
    """
    values, counts = np.unique(np.asarray(y_train), return_counts=True)
    majority = values[counts.argmax()]
    pred = np.full(len(y_test), majority)
    out = classification_metrics(y_test, pred, None)
    out["roc_auc"] = 0.5
    return out


def probe_scores(probe: LinearProbe, x: np.ndarray) -> np.ndarray:
    """Scores for ROC-AUC: the positive-class probability (binary) or all class probabilities.

    Usage: roc_auc_score(y_test, probe_scores(probe, x_test))
    """
    proba = probe.predict_proba(x)
    return proba[:, 1] if probe.binary else proba


@dataclass
class LayerResult:
    """One layer (or tuple of concatenated layers) of a sweep: chosen C, CV macro-F1, held-out metrics."""

    layer: LayerKey
    C: float
    cv_macro_f1: float
    test: dict[str, Any]
    probe: LinearProbe

    def row(self) -> dict[str, Any]:
        """JSON-ready summary (no arrays)."""
        return {
            "layer": layer_label(self.layer),
            "C": self.C,
            "cv_macro_f1": round(self.cv_macro_f1, 4),
            "test": self.test,
        }


@dataclass
class ProbeReport:
    """A trained probe (the chosen layer's), its metrics and the whole layer sweep."""

    probe: LinearProbe
    layers: list[LayerResult]
    best_layer: LayerKey
    metrics: dict[str, Any]

    def table(self) -> str:
        """A markdown table: one row per layer (best marked) and the majority baseline."""
        lines = [
            "| layer | C | CV macro-F1 | accuracy | macro-F1 | ROC-AUC |",
            "|---|---|---|---|---|---|",
        ]
        for r in self.layers:
            mark = " (best)" if r.layer == self.best_layer else ""
            t = r.test
            lines.append(
                f"| {layer_label(r.layer)}{mark} | {r.C:g} | {r.cv_macro_f1:.3f} | {t['accuracy']} | {t['macro_f1']} | {t['roc_auc']} |"
            )
        m = self.metrics["majority"]
        lines.append(f"| majority class | - | - | {m['accuracy']} | {m['macro_f1']} | {m['roc_auc']} |")
        return "\n".join(lines)


def train_probe(
    features: dict[LayerKey, np.ndarray],
    y: Sequence[int],
    groups: Sequence[str] | None,
    spec: TrainSpec,
    meta: dict[str, Any],
) -> ProbeReport:
    """Sweep layers (one feature matrix per layer): fit each by grid search, pick by CV macro-F1.

    A key is a layer, or a tuple of layers whose features were concatenated in that order.
    `meta` is stored in the probe (aspect, model_id, pooling, template, ...); layers and the
    metrics are added here. A tie in CV macro-F1 goes to the earlier key.

    Usage: report = train_probe({3: x3, 6: x6}, y, questions, TrainSpec(), {"aspect": "is_correct", ...})
    """
    if not features:
        raise ValueError("train_probe needs features for at least one layer")
    y_arr = np.asarray(y)
    n = len(y_arr)
    for layer, x in features.items():
        if x.shape[0] != n:
            raise ValueError(f"layer {layer}: {x.shape[0]} feature rows for {n} labels")
    if len(np.unique(y_arr)) < 2:
        raise ValueError(
            f"labels hold a single class ({np.unique(y_arr).tolist()}); a probe needs two or more"
        )
    tr, te = split_indices(y_arr, groups, spec.test_size, spec.seed)
    g_arr = None if groups is None else np.asarray(groups)
    g_tr = None if g_arr is None else g_arr[tr]
    results = []
    for layer, x in features.items():
        pipe, c, cv_f1 = grid_search(x[tr], y_arr[tr], g_tr, spec)
        probe = to_linear_probe(pipe, {**meta, "layers": layer_list(layer)})
        test = classification_metrics(y_arr[te], probe.predict(x[te]), probe_scores(probe, x[te]))
        results.append(LayerResult(layer, c, cv_f1, test, probe))
    best = max(results, key=lambda r: r.cv_macro_f1)  # max keeps the first of equal keys
    metrics = {
        "n_train": len(tr),
        "n_test": len(te),
        "class_counts": {str(k): int(v) for k, v in zip(*np.unique(y_arr, return_counts=True), strict=True)},
        "best_layer": layer_label(best.layer),
        "C": best.C,
        "cv_macro_f1": round(best.cv_macro_f1, 4),
        "test": best.test,
        "majority": majority_metrics(y_arr[tr], y_arr[te]),
        "layers": [r.row() for r in results],
    }
    best.probe.meta.update({"metrics": metrics, "spec": spec.model_dump()})
    return ProbeReport(best.probe, results, best.layer, metrics)

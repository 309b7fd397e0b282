"""INSPECTOR's released classifiers converted, once, into judgerl probe files (never run as pickles).

INSPECTOR (Representation-as-a-judge) releases one pickle per aspect under
`{gsm8k,math,gpqa}_{binary,multi}_clfs/<aspect>.pkl`, each `pickle.dump`-ed as
{"model": GridSearchCV, "metadata": {llm, dimension, classification, layers, pool, use_attn, ...}};
the search's best estimator is a StandardScaler + LogisticRegression, or + SVC(kernel="linear"),
one-vs-one for more than two classes. `judgerl.probes.restricted_pickle` reads such a file as inert
records; this module turns them into a `LinearProbe` that predicts what the original predicts on the
same features:

- layers: INSPECTOR's layer l is hidden_states[l + 1]; the probe stores hidden_states indices;
- logistic regression: its coefficients as they are (softmax over classes, or OvR for liblinear);
- SVC: the primal weights of the linear kernel, w = dual coefficients x support vectors, per
  pair of classes for one-vs-one, voting as libsvm votes (`svm_ovo` in judgerl.probes.linear);
- the prompt: INSPECTOR's probes read its own prompt text, which judgerl does not ship. Give a
  prompts file, {aspect: text with {question} and {prediction}}, written in your INSPECTOR
  checkout (see docs/seeds/inspector.md), or ask for judgerl's aspect prompt explicitly (its
  features differ from the ones the classifier was fit on).

    judgerl probe convert --inspector gsm8k_binary_clfs --prompts inspector_prompts.json --out runs/inspector_gsm8k
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from judgerl.core.logging import get_logger
from judgerl.probes.aspects import check_custom_prompt
from judgerl.probes.linear import LinearProbe, ProbeFileError
from judgerl.probes.restricted_pickle import (
    ArrayRecord,
    PickledObject,
    ScalarRecord,
    read_restricted_pickle,
)

log = get_logger("judgerl.probe")
POOLS = ("mean", "last", "min", "max")  # INSPECTOR's "concat" is [min, max, mean], not judgerl's concat


def _array(obj: PickledObject, key: str, where: str) -> np.ndarray:
    value = obj.get(key)
    if not isinstance(value, ArrayRecord):
        raise ProbeFileError(f"{where}: {obj.name} has no array {key!r} (is it fitted?)")
    try:
        return value.values()
    except ValueError as e:
        raise ProbeFileError(f"{where}: {obj.name}.{key}: {e}") from None


def _plain(value: Any) -> Any:
    """Metadata values as JSON: recorded numpy scalars unwrapped, arrays and objects named."""
    if isinstance(value, ScalarRecord):
        return _plain(value.value())
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(type(value).__name__)


def _estimator(package: Any, where: str) -> tuple[PickledObject, dict[str, Any]]:
    """The fitted pipeline and INSPECTOR's metadata of a package (or of a bare search / pipeline)."""
    metadata: dict[str, Any] = {}
    model = package
    if isinstance(package, dict):
        if "model" not in package:
            raise ProbeFileError(f"{where}: a dict without 'model' (keys: {sorted(map(str, package))})")
        model, metadata = package["model"], package.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise ProbeFileError(f"{where}: 'metadata' is {type(metadata).__name__}, expected a dict")
    if isinstance(model, PickledObject) and model.name == "GridSearchCV":
        best = model.get("best_estimator_")
        if best is None:
            raise ProbeFileError(f"{where}: the GridSearchCV was not refit (no best_estimator_)")
        model = best
    if not (isinstance(model, PickledObject) and model.name == "Pipeline"):
        raise ProbeFileError(
            f"{where}: expected a StandardScaler + classifier Pipeline, got {type(model).__name__}"
        )
    return model, metadata


def _steps(pipeline: PickledObject, where: str) -> tuple[PickledObject, PickledObject]:
    steps = pipeline.get("steps")
    if not (
        isinstance(steps, list)
        and len(steps) == 2
        and all(isinstance(s, tuple) and len(s) == 2 for s in steps)
    ):
        raise ProbeFileError(f"{where}: expected two pipeline steps (scaler, classifier)")
    scaler, clf = steps[0][1], steps[1][1]
    if not (isinstance(scaler, PickledObject) and scaler.name == "StandardScaler"):
        raise ProbeFileError(f"{where}: the first step is not a StandardScaler")
    if not (isinstance(clf, PickledObject) and clf.name in ("LogisticRegression", "SVC")):
        raise ProbeFileError(f"{where}: the second step is not a LogisticRegression or SVC")
    return scaler, clf


def _scaler(scaler: PickledObject, where: str) -> tuple[np.ndarray, np.ndarray]:
    n = scaler.get("n_features_in_")
    mean = _array(scaler, "mean_", where) if scaler.get("with_mean", True) else None
    scale = _array(scaler, "scale_", where) if scaler.get("with_std", True) else None
    width = next((a.shape[0] for a in (mean, scale) if a is not None), n)
    if not isinstance(width, int):
        raise ProbeFileError(f"{where}: StandardScaler holds neither mean_, scale_ nor n_features_in_")
    return (
        np.zeros(width) if mean is None else mean.astype(np.float64),
        np.ones(width) if scale is None else scale.astype(np.float64),
    )


def one_vs_one_weights(
    dual_coef: np.ndarray, n_support: np.ndarray, support_vectors: np.ndarray
) -> np.ndarray:
    """Primal weights (k(k-1)/2, d) of a linear one-vs-one SVC, pairs in libsvm order (0,1), (0,2), ...

    Row j-1 of the dual coefficients holds the class-i support vectors' weights against class j,
    row i the class-j ones' against class i (libsvm's layout).

    Usage: w = one_vs_one_weights(svc_state["dual_coef_"], svc_state["_n_support"], svc_state["support_vectors_"])
    """
    k = dual_coef.shape[0] + 1
    starts = np.concatenate([[0], np.cumsum(n_support)])
    rows = []
    for i in range(k):
        for j in range(i + 1, k):
            si, sj = slice(starts[i], starts[i + 1]), slice(starts[j], starts[j + 1])
            rows.append(dual_coef[j - 1, si] @ support_vectors[si] + dual_coef[i, sj] @ support_vectors[sj])
    return np.vstack(rows)


def _classifier(clf: PickledObject, where: str) -> dict[str, Any]:
    """coef, intercept, classes and the probe metadata of a LogisticRegression or linear SVC."""
    classes = _array(clf, "classes_", where)
    if classes.dtype.kind not in "iub":
        raise ProbeFileError(f"{where}: classes {classes.tolist()} are not integers")
    classes = classes.astype(np.int64)
    if clf.name == "LogisticRegression":
        ovr = clf.get("multi_class") == "ovr" or (
            clf.get("multi_class") in ("auto", "deprecated", None) and clf.get("solver") == "liblinear"
        )
        meta = {"classifier": "logreg"} | ({"multi_class": "ovr"} if ovr and len(classes) > 2 else {})
        coef = _array(clf, "coef_", where)
        return {
            "coef": coef,
            "intercept": _array(clf, "intercept_", where).reshape(-1),
            "classes": classes,
            **meta,
        }
    if clf.get("kernel") != "linear":
        raise ProbeFileError(
            f"{where}: SVC kernel {clf.get('kernel')!r} is not linear; a linear probe cannot hold it"
        )
    if clf.get("_sparse"):
        raise ProbeFileError(f"{where}: an SVC fit on sparse input is not read")
    sv = _array(clf, "support_vectors_", where)
    dual = _array(clf, "dual_coef_", where)  # sklearn's sign (flipped for two classes), as its coef_ uses
    intercept = _array(clf, "intercept_", where).reshape(-1)
    if len(classes) == 2:
        return {"coef": dual @ sv, "intercept": intercept, "classes": classes, "classifier": "svm"}
    n_support = clf.get("_n_support", clf.get("n_support_"))
    if not isinstance(n_support, ArrayRecord):
        raise ProbeFileError(f"{where}: SVC has no _n_support")
    try:
        counts = n_support.values().astype(np.int64)
    except ValueError as e:
        raise ProbeFileError(f"{where}: SVC._n_support: {e}") from None
    if counts.sum() != sv.shape[0] or dual.shape != (len(classes) - 1, sv.shape[0]):
        raise ProbeFileError(
            f"{where}: SVC support vectors {sv.shape}, dual_coef_ {dual.shape} and n_support disagree"
        )
    return {
        "coef": one_vs_one_weights(dual, counts, sv),
        "intercept": intercept,
        "classes": classes,
        "classifier": "svm_ovo",
        "break_ties": bool(clf.get("break_ties", False)) and clf.get("decision_function_shape") == "ovr",
    }


def convert_classifier(
    path: str | os.PathLike[str],
    prompt: str | None = None,
    model: str | None = None,
    aspect: str | None = None,
) -> LinearProbe:
    """One INSPECTOR classifier file as a LinearProbe, read without running it.

    `prompt` is INSPECTOR's prompt for this aspect with {question} and {prediction} (None:
    judgerl's aspect prompt, which the classifier was not fit on); `model` overrides the
    metadata's llm; `aspect` its dimension.

    Usage: probe = convert_classifier("gsm8k_binary_clfs/logicality.pkl", prompt=prompts["logicality"])
    """
    where = str(path)
    pipeline, metadata = _estimator(read_restricted_pickle(path), where)
    scaler, clf = _steps(pipeline, where)
    mean, scale = _scaler(scaler, where)
    parts = _classifier(clf, where)
    if metadata.get("use_attn"):
        raise ProbeFileError(
            f"{where}: it reads attention-entropy features (use_attn), which judgerl does not compute"
        )
    pool = metadata.get("pool", "mean")
    if pool not in POOLS:
        raise ProbeFileError(
            f"{where}: pooling {pool!r} is not one judgerl computes the same way ({', '.join(POOLS)})"
        )
    layers = metadata.get("layers")
    if not (isinstance(layers, list) and layers and all(isinstance(la, int) and la >= 0 for la in layers)):
        raise ProbeFileError(
            f"{where}: metadata 'layers' must be a list of INSPECTOR layer numbers, got {layers!r}"
        )
    name = aspect or metadata.get("dimension") or Path(path).stem
    model_id = model or metadata.get("llm")
    if not model_id:
        raise ProbeFileError(f"{where}: the metadata names no model (llm); give one")
    binary = len(parts["classes"]) == 2
    meta: dict[str, Any] = {
        "aspect": str(name),
        "model_id": str(model_id),
        "layers": [la + 1 for la in layers],  # INSPECTOR's l is hidden_states[l + 1]
        "inspector_layers": list(layers),
        "pooling": pool,
        "template": "aspect" if prompt is None else "custom",
        "max_length": None,  # the model's context: INSPECTOR cuts only at the tokenizer's limit
        "threshold": 4 if binary else None,  # INSPECTOR's binary label is score > 3
        **{k: v for k, v in parts.items() if k not in ("coef", "intercept", "classes")},
        "source": {
            "format": "inspector-pickle",
            "file": Path(path).name,
            "sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest(),
            "sklearn_version": clf.get("_sklearn_version"),
            "metadata": _plain(metadata),
        },
    }
    if prompt is not None:
        try:
            meta["prompt"] = check_custom_prompt(prompt, f"the prompt for {name!r}")
        except ValueError as e:
            raise ProbeFileError(f"{where}: {e}") from None
    probe = LinearProbe(
        mean,
        scale,
        parts["coef"].astype(np.float64),
        parts["intercept"].astype(np.float64),
        parts["classes"],
        meta,
    )
    probe.check(where)
    return probe


def read_prompts(path: str | os.PathLike[str]) -> dict[str, str]:
    """A prompts file: a JSON object {aspect: prompt with {question} and {prediction}}.

    Usage: prompts = read_prompts("inspector_prompts.json")
    """
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ProbeFileError(f"{path}: not a readable JSON prompts file ({e})") from None
    if not isinstance(doc, dict):
        raise ProbeFileError(f"{path}: expected a JSON object {{aspect: prompt}}, got {type(doc).__name__}")
    try:
        return {str(k): check_custom_prompt(v, f"{path}: prompt {k!r}") for k, v in doc.items()}
    except ValueError as e:
        raise ProbeFileError(str(e)) from None


def convert_folder(
    source: str | os.PathLike[str],
    out: str | os.PathLike[str],
    prompts: dict[str, str] | None = None,
    model: str | None = None,
) -> dict[str, Path]:
    """Convert one classifier file or every `*.pkl` in a folder into `<out>/<aspect>.safetensors`.

    `prompts` None uses judgerl's aspect prompt (and says so); otherwise every aspect needs its
    prompt. Returns {aspect: probe file}.

    Usage: convert_folder("gsm8k_binary_clfs", "runs/inspector", read_prompts("inspector_prompts.json"))
    """
    src = Path(source)
    files = sorted(src.glob("*.pkl")) if src.is_dir() else [src]
    if not files or not files[0].is_file():
        raise ProbeFileError(f"{src}: no INSPECTOR classifier (*.pkl) file here")
    written: dict[str, Path] = {}
    for f in files:
        probe = convert_classifier(f, None, model)
        if prompts is not None:
            if probe.aspect not in prompts:
                raise ProbeFileError(
                    f"{f}: the prompts file has no prompt for {probe.aspect!r} (has {sorted(prompts)})"
                )
            probe = convert_classifier(f, prompts[probe.aspect], model)
        target = Path(out) / f"{probe.aspect}.safetensors"
        if probe.aspect in written:
            raise ProbeFileError(f"{f}: a second classifier for {probe.aspect!r} in {src}")
        target.parent.mkdir(parents=True, exist_ok=True)
        written[probe.aspect] = probe.save(target)
        log.info(
            f"{f.name} -> {target}: {probe.meta['classifier']}, classes {probe.classes.tolist()}, "
            f"hidden_states {probe.meta['layers']} (INSPECTOR layers {probe.meta['inspector_layers']}), "
            f"pool {probe.meta['pooling']}, prompt {probe.meta['template']}"
        )
    if prompts is None:
        log.warning(
            "no prompts file: the probes read judgerl's aspect prompt, not the INSPECTOR prompt "
            "their classifiers were fit on, so their features (and predictions) differ"
        )
    return written

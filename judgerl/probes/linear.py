"""A trained linear probe as plain arrays: scaler mean/scale, coefficients, intercept, classes.

Saved as one safetensors file whose header carries the JSON metadata (model id, layers,
pooling, aspect, template, metrics). Never a pickle: loading a pickle runs arbitrary code, the
INSPECTOR seed's classifiers are pickles (judgerl.probes.inspector converts them, without running
them). A damaged file raises ProbeFileError naming the file and what is wrong with it.

Classifiers: "logreg" and "svm" (one row of coefficients for two classes, one per class for
more; the largest score wins), and "svm_ovo", a multi-class SVC as libsvm fits it (one row per
pair of classes (0, 1), (0, 2), ..., (k-2, k-1); each pair votes for its first class when its
score is > 0, else for its second; the most votes win, the first class on a tie).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from judgerl.core.errors import DataError
from judgerl.core.jsonl import atomic_path

FORMAT = "judgerl-probe"
FORMAT_VERSION = 1
ARRAYS = ("mean", "scale", "coef", "intercept", "classes")
REQUIRED_META = ("aspect", "model_id", "layers", "pooling", "template", "classifier")
CLASSIFIERS = ("logreg", "svm", "svm_ovo")


def pair_count(k: int) -> int:
    """Rows of a one-vs-one probe with k classes.

    >>> pair_count(5)
    10
    """
    return k * (k - 1) // 2


def ovo_votes(z: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Votes and summed confidences (n, k) of one-vs-one scores z (n, k(k-1)/2), pairs in libsvm order.

    >>> votes, _ = ovo_votes(np.array([[1.0, -1.0, 2.0]]), 3); votes.tolist()
    [[1.0, 1.0, 1.0]]
    """
    votes = np.zeros((z.shape[0], k))
    confidence = np.zeros((z.shape[0], k))
    pair = 0
    for i in range(k):
        for j in range(i + 1, k):
            first = z[:, pair] > 0
            votes[first, i] += 1
            votes[~first, j] += 1
            confidence[:, i] += z[:, pair]
            confidence[:, j] -= z[:, pair]
            pair += 1
    return votes, confidence


class ProbeFileError(DataError):
    """A probe file is missing, truncated, foreign or inconsistent; the message names the file."""


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _softmax(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - x.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


@dataclass
class LinearProbe:
    """StandardScaler + a linear classifier, as arrays. Binary probes have one row of `coef`.

    `meta` holds aspect, model_id, layers, pooling, template, classifier (logreg | svm),
    max_length and metrics.

    >>> p = LinearProbe(np.zeros(2), np.ones(2), np.array([[1.0, -1.0]]), np.array([0.0]),
    ...                 np.array([0, 1]), {"classifier": "logreg"})
    >>> p.predict(np.array([[2.0, 1.0], [0.0, 3.0]])).tolist()
    [1, 0]
    """

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    classes: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n_features(self) -> int:
        """The feature width the probe expects."""
        return int(self.mean.shape[0])

    @property
    def aspect(self) -> str:
        """The aspect (or label column) this probe predicts."""
        return str(self.meta.get("aspect", ""))

    @property
    def binary(self) -> bool:
        """True for a two-class probe (one row of coefficients)."""
        return self.coef.shape[0] == 1

    @property
    def one_vs_one(self) -> bool:
        """True for a multi-class SVC kept as libsvm's one-vs-one pairs."""
        return self.meta.get("classifier") == "svm_ovo"

    def _ovr_scores(self, z: np.ndarray) -> np.ndarray:
        """sklearn's one-vs-rest view of one-vs-one scores: votes plus confidences squeezed into
        (-1/3, 1/3), so a confidence never outweighs a vote."""
        votes, confidence = ovo_votes(z, len(self.classes))
        return votes + confidence / (3 * (np.abs(confidence) + 1))

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        """Linear scores: (n,) for a binary probe (> 0 means classes[1]), else (n, k).

        Usage: probe.decision_function(features)
        """
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != self.n_features:
            raise ValueError(f"probe {self.aspect!r} expects (n, {self.n_features}) features, got {x.shape}")
        z = (x - self.mean) / self.scale @ self.coef.T + self.intercept
        return z[:, 0] if self.binary else z

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predicted class labels (values from `classes`). Usage: probe.predict(features)."""
        z = self.decision_function(x)
        if self.one_vs_one:
            if self.meta.get("break_ties"):
                idx = self._ovr_scores(z).argmax(axis=1)
            else:
                idx = ovo_votes(z, len(self.classes))[0].argmax(axis=1)  # argmax: the first of equal votes
        else:
            idx = (z > 0).astype(int) if self.binary else z.argmax(axis=1)
        return self.classes[idx]

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Class probabilities (n, k): logistic regression's own (softmax, or normalised sigmoids for a
        one-vs-rest fit, meta multi_class "ovr"); for an SVM a sigmoid/softmax of its margins (for
        one-vs-one, of sklearn's one-vs-rest scores): monotone, not calibrated.

        Usage: probe.predict_proba(features)
        """
        z = self.decision_function(x)
        if self.one_vs_one:
            return _softmax(self._ovr_scores(z))
        if self.meta.get("multi_class") == "ovr" and not self.binary:
            p = _sigmoid(z)  # a one-vs-rest logistic regression (sklearn's liblinear / multi_class="ovr")
            return p / p.sum(axis=1, keepdims=True)
        if self.binary:
            p = _sigmoid(z)
            return np.stack([1.0 - p, p], axis=1)
        return _softmax(z)

    def score(self, x: np.ndarray) -> np.ndarray:
        """One number per row: P(classes[1]) for a binary probe, else the expected class value.

        Usage: probe.score(features) -> e.g. the probability that a solution is correct
        """
        proba = self.predict_proba(x)
        if self.binary:
            return proba[:, 1]
        return proba @ self.classes.astype(np.float64)

    def score_range(self) -> tuple[float, float]:
        """The range `score` lies in: (0, 1) for a binary probe, else (min class, max class)."""
        if self.binary:
            return 0.0, 1.0
        return float(self.classes.min()), float(self.classes.max())

    def check(self, where: str = "probe") -> None:
        """Raise ProbeFileError if the arrays or metadata do not fit together. Usage: probe.check(path)."""
        d = self.n_features
        problems = []
        if self.mean.ndim != 1 or self.scale.shape != (d,):
            problems.append(
                f"mean has shape {self.mean.shape} and scale {self.scale.shape}; expected ({d},) both"
            )
        if self.coef.ndim != 2 or self.coef.shape[1] != d:
            problems.append(f"coef has shape {self.coef.shape}; expected (k, {d})")
        k = self.coef.shape[0] if self.coef.ndim == 2 else -1
        if self.intercept.shape != (k,):
            problems.append(f"intercept has shape {self.intercept.shape}; expected ({k},)")
        if self.one_vs_one:
            n = self.classes.shape[0] if self.classes.ndim == 1 else -1
            if n < 3 or k != pair_count(n):
                problems.append(
                    f"a one-vs-one probe with classes of shape {self.classes.shape} needs "
                    f"{pair_count(max(n, 0))} coef rows (one per pair, 3 or more classes), has {k}"
                )
        else:
            n_classes = 2 if k == 1 else k
            if self.classes.shape != (n_classes,):
                problems.append(
                    f"classes has shape {self.classes.shape}; expected ({n_classes},) for {k} coef rows"
                )
        for name in ARRAYS:
            arr = getattr(self, name)
            if arr.size and not np.all(np.isfinite(arr)):
                problems.append(f"{name} holds NaN or infinite values")
        if self.scale.size and np.any(self.scale == 0):
            problems.append("scale holds zeros")
        missing = [k for k in REQUIRED_META if k not in self.meta]
        if missing:
            problems.append(f"metadata lacks {missing}")
        elif self.meta["classifier"] not in CLASSIFIERS:
            problems.append(f"metadata classifier {self.meta['classifier']!r} is not one of {CLASSIFIERS}")
        if problems:
            raise ProbeFileError(f"{where}: " + "; ".join(problems))

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the probe as one safetensors file (arrays + JSON header), atomically.

        Usage: probe.save("runs/probe/logicality.safetensors")
        """
        from safetensors.numpy import save_file

        self.check(str(path))
        tensors = {name: np.ascontiguousarray(getattr(self, name)) for name in ARRAYS}
        tensors["classes"] = tensors["classes"].astype(np.int64)
        for name in ("mean", "scale", "coef", "intercept"):
            tensors[name] = tensors[name].astype(np.float64)
        meta = {
            "format": FORMAT,
            "version": str(FORMAT_VERSION),
            "meta": json.dumps(_plain(self.meta), allow_nan=False),
        }
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp), metadata=meta)
        return Path(path)


def _plain(obj: Any) -> Any:
    """Metadata as strict JSON values: numpy scalars and arrays unwrapped, NaN and infinities as null."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if isinstance(obj, np.generic):
        return _plain(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    return str(obj)


def load_probe(path: str | os.PathLike[str]) -> LinearProbe:
    """Read a probe file written by `LinearProbe.save`; ProbeFileError says what is wrong otherwise.

    Usage: probe = load_probe("runs/probe/logicality.safetensors")
    """
    from safetensors import safe_open

    p = Path(path)
    if not p.is_file():
        raise ProbeFileError(f"{p}: no such probe file")
    try:
        with safe_open(str(p), framework="numpy") as f:
            header = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 - safe_open has no __iter__
    except Exception as e:  # safetensors raises its own error types for truncated or foreign files
        raise ProbeFileError(
            f"{p}: not a readable safetensors probe file ({type(e).__name__}: {e}); "
            "it may be truncated or not a probe - retrain or copy it again"
        ) from None
    if header.get("format") != FORMAT:
        raise ProbeFileError(f"{p}: header format is {header.get('format')!r}, expected {FORMAT!r}")
    if header.get("version") != str(FORMAT_VERSION):
        raise ProbeFileError(
            f"{p}: probe format version {header.get('version')!r}; this judgerl reads {FORMAT_VERSION}"
        )
    missing = [a for a in ARRAYS if a not in tensors]
    if missing:
        raise ProbeFileError(f"{p}: missing array(s) {missing} (has {sorted(tensors)})")
    try:
        meta = json.loads(header.get("meta", ""))
    except json.JSONDecodeError as e:
        raise ProbeFileError(f"{p}: metadata is not valid JSON ({e})") from None
    if not isinstance(meta, dict):
        raise ProbeFileError(f"{p}: metadata must be a JSON object, got {type(meta).__name__}")
    probe = LinearProbe(**{a: tensors[a] for a in ARRAYS}, meta=meta)
    probe.check(str(p))
    return probe

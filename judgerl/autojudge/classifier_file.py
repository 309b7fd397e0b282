"""The AutoJudge classifier's file format: classifier.safetensors (mean, scale, coef, intercept) plus
classifier.json (threshold, setup, ...), and `LinearImportance`, the scorer judge decoding calls.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

CLASSIFIER_ARRAYS = "classifier.safetensors"
CLASSIFIER_META = "classifier.json"
ARRAY_KEYS = ("mean", "scale", "coef", "intercept")


class LinearImportance:
    """P(important) = sigmoid(((h - mean) / scale) @ coef + intercept): a scaled logistic regression.

    >>> f = LinearImportance(np.zeros(2), np.ones(2), np.array([1.0, 0.0]), 0.0)
    >>> [round(float(p), 3) for p in f(torch.tensor([[0.0, 5.0], [100.0, 0.0]]))]
    [0.5, 1.0]
    """

    def __init__(self, mean: np.ndarray, scale: np.ndarray, coef: np.ndarray, intercept: float) -> None:
        if not (mean.shape == scale.shape == coef.shape) or mean.ndim != 1:
            raise ValueError(
                f"classifier arrays must be 1-d of one length, got mean {mean.shape}, "
                f"scale {scale.shape}, coef {coef.shape}"
            )
        self.mean = torch.as_tensor(mean, dtype=torch.float64)
        self.scale = torch.as_tensor(scale, dtype=torch.float64)
        self.coef = torch.as_tensor(coef, dtype=torch.float64)
        self.intercept = float(intercept)

    @property
    def dim(self) -> int:
        """The feature dimension the classifier expects."""
        return int(self.coef.shape[0])

    def __call__(self, hidden: torch.Tensor) -> torch.Tensor:
        """P(important) for each row of `hidden` ([k, dim]). Usage: probs = f(hidden)."""
        if hidden.shape[-1] != self.dim:
            raise ValueError(f"importance classifier expects {self.dim} features, got {hidden.shape[-1]}")
        z = ((hidden.double().cpu() - self.mean) / self.scale) @ self.coef + self.intercept
        return torch.sigmoid(z)


def load_linear_importance(directory: str | Path) -> tuple[LinearImportance, dict[str, Any]]:
    """Load a saved classifier folder (classifier.safetensors + classifier.json): (scorer, metadata).

    Usage: scorer, meta = load_linear_importance("runs/autojudge/classifier"); meta["threshold"]
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    d = Path(directory)
    arrays_path, meta_path = d / CLASSIFIER_ARRAYS, d / CLASSIFIER_META
    for p in (arrays_path, meta_path):
        if not p.is_file():
            raise FileNotFoundError(
                f"AutoJudge classifier: {p} not found (save it with ImportanceClassifier.save)"
            )
    try:
        arrays = load_file(str(arrays_path))
    except (SafetensorError, OSError, ValueError) as err:
        raise ValueError(
            f"AutoJudge classifier: {arrays_path} is not a readable safetensors file: {err}"
        ) from err
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"AutoJudge classifier: {meta_path} is not valid JSON: {err}") from err
    missing = [k for k in ARRAY_KEYS if k not in arrays]
    if missing:
        raise ValueError(f"AutoJudge classifier: {arrays_path} lacks array(s) {', '.join(missing)}")
    scorer = LinearImportance(
        arrays["mean"], arrays["scale"], arrays["coef"], float(arrays["intercept"].ravel()[0])
    )
    return scorer, meta

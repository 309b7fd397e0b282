"""Calibration of a judge's verdict confidence: expected calibration error and a reliability diagram."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from judgerl.core.jsonl import atomic_path


def reliability_bins(
    confidences: Sequence[float], correct: Sequence[bool], bins: int = 10
) -> list[dict[str, Any]]:
    """Equal-width confidence bins over [0, 1]: count, mean confidence and accuracy of each non-empty bin.

    >>> reliability_bins([0.55, 0.95, 0.92], [True, True, False], bins=2)
    [{'low': 0.5, 'high': 1.0, 'count': 3, 'confidence': 0.8067, 'accuracy': 0.6667}]
    """
    if len(confidences) != len(correct):
        raise ValueError(f"{len(confidences)} confidences but {len(correct)} outcomes")
    groups: list[list[tuple[float, bool]]] = [[] for _ in range(bins)]
    for c, ok in zip(confidences, correct, strict=True):
        if not 0.0 <= c <= 1.0:
            raise ValueError(f"confidence {c} is outside [0, 1]")
        groups[min(int(c * bins), bins - 1)].append((c, bool(ok)))
    out = []
    for i, group in enumerate(groups):
        if group:
            out.append(
                {
                    "low": round(i / bins, 4),
                    "high": round((i + 1) / bins, 4),
                    "count": len(group),
                    "confidence": round(sum(c for c, _ in group) / len(group), 4),
                    "accuracy": round(sum(ok for _, ok in group) / len(group), 4),
                }
            )
    return out


def expected_calibration_error(
    confidences: Sequence[float], correct: Sequence[bool], bins: int = 10
) -> float:
    """ECE: the count-weighted mean |accuracy - confidence| over equal-width bins (0 for no input).

    >>> expected_calibration_error([0.9, 0.9, 0.6, 0.6], [True, False, True, True], bins=10)
    0.4
    """
    n = len(confidences)
    if n == 0:
        return 0.0
    rows = reliability_bins(confidences, correct, bins)
    return round(sum(r["count"] * abs(r["accuracy"] - r["confidence"]) for r in rows) / n, 4)


def calibration_metrics(
    confidences: Sequence[float], correct: Sequence[bool], bins: int = 10
) -> dict[str, Any]:
    """ECE, mean confidence, accuracy and the bins, for metrics.json.

    Usage: metrics["calibration"] = calibration_metrics([0.8, 0.6], [True, False])
    """
    n = len(confidences)
    return {
        "ece": expected_calibration_error(confidences, correct, bins),
        "mean_confidence": round(sum(confidences) / n, 4) if n else 0.0,
        "accuracy": round(sum(map(bool, correct)) / n, 4) if n else 0.0,
        "n": n,
        "bins": reliability_bins(confidences, correct, bins),
    }


def plot_reliability(calibration: dict[str, Any], path: str | os.PathLike[str], title: str = "") -> None:
    """A reliability diagram PNG (accuracy per confidence bin against the diagonal), written atomically.

    Usage: plot_reliability(metrics["calibration"], "runs/x/eval/reliability.png", "eval_base")
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.2, 4.2))
    ax = fig.add_subplot()
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect calibration")
    for b in calibration["bins"]:
        ax.bar(
            b["low"],
            b["accuracy"],
            width=b["high"] - b["low"],
            align="edge",
            color="tab:blue",
            alpha=0.7,
            edgecolor="k",
        )
    ax.plot(
        [b["confidence"] for b in calibration["bins"]],
        [b["accuracy"] for b in calibration["bins"]],
        "o-",
        color="tab:orange",
        label="mean confidence",
    )
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.set_title(f"{title} ECE {calibration['ece']:.3f} (n={calibration['n']})".strip())
    ax.legend(loc="upper left", fontsize=8)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)

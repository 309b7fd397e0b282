"""Training curves from a TRL log history: first/last-quarter summaries and a reward plot (PNG).

Shared by the GRPO stages (judge and policy), so each writes the same summary and picture.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from judgerl.core.jsonl import atomic_path


def curve_summary(history: Sequence[dict[str, Any]], key: str = "reward", window: float = 0.25) -> dict:
    """Mean of `key` over the first and the last `window` of its logged points, and their count.

    >>> curve_summary([{"reward": v} for v in (0.1, 0.2, 0.7, 0.8)], window=0.5)
    {'points': 4, 'first': 0.15, 'last': 0.75, 'rise': 0.6}
    """
    values = [float(h[key]) for h in history if key in h and h[key] is not None]
    if not values:
        return {"points": 0, "first": None, "last": None, "rise": None}
    n = max(1, int(len(values) * window))
    first, last = sum(values[:n]) / n, sum(values[-n:]) / n
    return {
        "points": len(values),
        "first": round(first, 4),
        "last": round(last, 4),
        "rise": round(last - first, 4),
    }


def moving_average(values: Sequence[float], window: int) -> list[float]:
    """Trailing mean over up to `window` points (shorter at the start).

    >>> moving_average([1, 2, 3, 4], 2)
    [1.0, 1.5, 2.5, 3.5]
    """
    out = []
    for i in range(len(values)):
        part = values[max(0, i - window + 1) : i + 1]
        out.append(sum(part) / len(part))
    return out


def plot_reward_curve(
    history: Sequence[dict[str, Any]], path: str | Path, keys: Sequence[str], title: str = "GRPO reward"
) -> Path:
    """Plot each key's logged values against the step into a PNG (matplotlib Agg, atomic write).

    Usage: plot_reward_curve(trainer.state.log_history, "reward_curve.png", ["reward"])
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4), dpi=100)
    ax = fig.add_subplot()
    for i, key in enumerate(keys):
        points = [(h["step"], h[key]) for h in history if key in h and h[key] is not None and "step" in h]
        if not points:
            continue
        steps, values = [p[0] for p in points], [p[1] for p in points]
        ax.plot(steps, values, marker=".", alpha=0.6 if i == 0 else 0.4, label=key)
        if i == 0 and len(values) >= 6:
            window = max(3, len(values) // 5)
            ax.plot(steps, moving_average(values, window), color="black", label=f"{key} (mean of {window})")
    ax.set_xlabel("step")
    ax.set_ylabel("mean reward")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(loc="lower right", fontsize=8)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return Path(path)


def reward_keys(
    history: Sequence[dict[str, Any]], total: str = "reward", prefix: str = "rewards/"
) -> list[str]:
    """The logged reward-mean keys: the weighted total first, then each reward's mean.

    >>> reward_keys([{"reward": 0.5, "rewards/strength/mean": 0.5, "rewards/strength/std": 0.1}])
    ['reward', 'rewards/strength/mean']
    """
    keys = {k for h in history for k in h}
    parts = sorted(k for k in keys if k.startswith(prefix) and k.endswith("/mean"))
    return ([total] if total in keys else []) + parts

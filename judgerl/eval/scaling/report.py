"""What a `scaling` run writes: `points.json` (every point with the run's inputs), the markdown
table of delta vs k and vs T, and the two PNG plots.

    write_scaling_outputs(sweep, report, {"points": ..., "table": ..., "plot_k": ..., "plot_T": ...}, title)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from judgerl.core.jsonl import write_json, write_text_atomic
from judgerl.eval.scaling.candidates import CandidateLoad, PromptCandidates
from judgerl.eval.scaling.theory import DeltaPoint

PERFECT = "perfect judge (-pass@k)"
TIE_RULE_TEXT = {
    "share": "T = 0: tied maxima share the selection equally",
    "first": "T = 0: the first of the tied maxima is selected (the Demystifying seed's argmax)",
}


@dataclass
class ScalingSweep:
    """What a scaling run measured: every point, the curves (judge specs, with their noise levels)
    in order, the (k, T) grid, the cut each plot is drawn at, the a + b/k^2 fits by curve, and the
    T = 0 tie rule."""

    points: list[DeltaPoint]
    judges: list[str]
    ks: list[int]
    Ts: list[float]
    plot_T: float
    plot_k: int
    theory: dict[str, tuple[float, float]] = field(default_factory=dict)
    tie_rule: str = "share"

    @property
    def curves(self) -> list[str]:
        """The judges with a curve: the specs, then the perfect judge when its points were added.

        Usage: names = sweep.curves
        """
        return [*self.judges, PERFECT] if any(p.judge == PERFECT for p in self.points) else list(self.judges)


def T_label(T: float) -> str:
    """A temperature as written in tables and JSON: "inf" for the uniform limit.

    >>> T_label(0.5), T_label(math.inf)
    ('0.5', 'inf')

    Usage: T_label(stage.plot_T)
    """
    return "inf" if math.isinf(T) else f"{T:g}"


def scaling_table(
    points: list[DeltaPoint], judges: list[str], ks: list[int], Ts: list[float], plot_T: float, plot_k: int
) -> str:
    """Two markdown tables: delta vs k at `plot_T` and delta vs T at `plot_k` (mean +- standard error).

    Usage: print(scaling_table(points, ["oracle:0.1"], [1, 2], [0.0, 1.0], 0.0, 2))
    """
    at = {(p.judge, p.k, p.T): p for p in points}

    def cell(j: str, k: int, T: float) -> str:
        p = at.get((j, k, 0.0 if j == PERFECT else T))
        return "-" if p is None or p.n_prompts == 0 else f"{p.mean:.3f} ± {p.sem:.3f}"

    lines = [
        f"delta (minus the expected accuracy of the selected answer; lower is better) at T = {T_label(plot_T)}, "
        "mean ± standard error over prompts",
        "",
        "| judge | " + " | ".join(f"k={k}" for k in ks) + " |",
        "|---|" + "---|" * len(ks),
    ]
    lines += [f"| {j} | " + " | ".join(cell(j, k, plot_T) for k in ks) + " |" for j in judges]
    lines += [
        "",
        f"delta at k = {plot_k}",
        "",
        "| judge | " + " | ".join(f"T={T_label(T)}" for T in Ts) + " |",
        "|---|" + "---|" * len(Ts),
    ]
    lines += [f"| {j} | " + " | ".join(cell(j, plot_k, T) for T in Ts) + " |" for j in judges if j != PERFECT]
    return "\n".join(lines)


def short_label(spec: str, width: int = 40) -> str:
    """A judge spec short enough for a legend: a long model path keeps its last two parts.

    >>> short_label("pairwise:runs/scaling_gsm8k_judge/model/checkpoint")
    'pairwise:.../model/checkpoint'

    Usage: label = short_label(spec)
    """
    kind, _, arg = spec.partition(":")
    if len(spec) <= width or kind not in ("generative", "prm", "pairwise") or "/" not in arg:
        return spec
    return f"{kind}:.../{'/'.join(Path(arg).parts[-2:])}"


def plot_delta_vs_k(
    path: str | Path,
    points: list[DeltaPoint],
    judges: list[str],
    T: float,
    title: str = "",
    theory: dict[str, tuple[float, float]] | None = None,
) -> Path:
    """PNG of delta against k at temperature T, one line per judge (band: +-1 standard error).

    `theory` maps a judge to the (a, b) of an a + b/k^2 fit, drawn dashed.
    Usage: plot_delta_vs_k("delta_vs_k.png", points, ["oracle:0"], T=0.0)
    """
    # The perfect judge's -pass@k is a T = 0 curve; it is drawn at every T as the floor.
    keep = lambda p: p.T == T or p.judge == PERFECT  # noqa: E731
    return _plot(path, points, judges, "k", keep, f"T = {T_label(T)}", title, theory)


def plot_delta_vs_T(
    path: str | Path, points: list[DeltaPoint], judges: list[str], k: int, title: str = ""
) -> Path:
    """PNG of delta against T at k candidates, one line per judge (band: +-1 standard error).

    Usage: plot_delta_vs_T("delta_vs_T.png", points, ["oracle:0"], k=4)
    """
    return _plot(path, points, judges, "T", lambda p: p.k == k, f"k = {k}", title, None)


def _plot(
    path: str | Path,
    points: list[DeltaPoint],
    judges: list[str],
    axis: str,
    keep: Any,
    fixed: str,
    title: str,
    theory: dict[str, tuple[float, float]] | None,
) -> Path:
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from judgerl.core.jsonl import atomic_path

    fig = Figure(figsize=(7, 4.5), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    finite_T = [p.T for p in points if not math.isinf(p.T)]
    for j in judges:
        pts = sorted(
            (p for p in points if p.judge == j and keep(p) and p.n_prompts > 0),
            key=lambda p: getattr(p, axis),
        )
        if axis == "T":
            pts = [p for p in pts if not math.isinf(p.T)]
        if not pts:
            continue
        x = np.array([getattr(p, axis) for p in pts], dtype=float)
        y = np.array([p.mean for p in pts])
        e = np.array([p.sem for p in pts])
        style = {"linestyle": ":", "color": "black"} if j == PERFECT else {}
        (line,) = ax.plot(x, y, marker="o", label=short_label(j), **style)
        ax.fill_between(x, y - e, y + e, alpha=0.15, color=line.get_color())
        if theory and j in theory:
            a, b = theory[j]
            xs = np.linspace(x.min(), x.max(), 100)
            ax.plot(
                xs,
                a + b / xs**2,
                linestyle="--",
                color=line.get_color(),
                alpha=0.7,
                label=f"{short_label(j)}: a + b/k² fit",
            )
    ax.set_xlabel("k (candidates per prompt)" if axis == "k" else "T (selection temperature)")
    ax.set_ylabel("δ = −E[accuracy of the selected answer]")
    ax.set_title(f"{title + ': ' if title else ''}δ vs {axis} at {fixed}")
    if axis == "k":
        ax.set_xticks(sorted({p.k for p in points}))
    elif finite_T and max(finite_T) > 0:
        ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    return Path(path)


def points_report(
    load: CandidateLoad,
    items: list[PromptCandidates],
    sweep: ScalingSweep,
    judges_info: list[dict[str, Any]],
    repeats: int,
    seed: int,
) -> dict[str, Any]:
    """The content of `points.json`: the candidates read, the grid, each judge's scoring record,
    the fits and every point.

    Usage: report = points_report(load, load.items, sweep, judges_info, repeats=32, seed=0)
    """
    correct = [p.correctness for p in items]
    pool_sizes = [p.pool_size for p in items]
    return {
        "candidates": {
            "source": load.source,
            "prompts": len(items),
            "skipped_rows": load.skipped,
            **load.info,
        },
        "pool_size": {
            "min": min(pool_sizes),
            "max": max(pool_sizes),
            "mean": round(sum(pool_sizes) / len(items), 3),
        },
        "mean_accuracy": sum(sum(c) for c in correct) / sum(pool_sizes),
        "k": sweep.ks,
        "T": [T_label(T) if math.isinf(T) else T for T in sweep.Ts],
        "repeats": repeats,
        "seed": seed,
        "tie_rule": TIE_RULE_TEXT.get(sweep.tie_rule, sweep.tie_rule),
        "std": "over prompts, ddof=1; sem = std / sqrt(n_prompts)",
        "judges": judges_info,
        "theory_fits": {j: {"a": a, "b": b, "form": "a + b / k^2"} for j, (a, b) in sweep.theory.items()},
        "points": [p.to_dict() for p in sweep.points],
    }


def write_scaling_outputs(
    sweep: ScalingSweep, report: dict[str, Any], paths: Mapping[str, Path], title: str = ""
) -> None:
    """Write `report` to paths["points"], the table to paths["table"] and the delta-vs-k and
    delta-vs-T plots to paths["plot_k"] and paths["plot_T"] (every file atomically).

    Usage: write_scaling_outputs(sweep, report, {k: ctx.path(v) for k, v in OUTPUTS.items()}, "gsm8k")
    """
    write_json(paths["points"], report)
    table = scaling_table(sweep.points, sweep.curves, sweep.ks, sweep.Ts, sweep.plot_T, sweep.plot_k)
    write_text_atomic(paths["table"], table + "\n")
    plot_delta_vs_k(paths["plot_k"], sweep.points, sweep.curves, sweep.plot_T, title, sweep.theory or None)
    plot_delta_vs_T(paths["plot_T"], sweep.points, sweep.judges, sweep.plot_k, title)

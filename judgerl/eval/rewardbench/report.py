"""RewardBench reports: the leaderboard's results JSON, a markdown table and one bar chart per section.

The results JSON has the shape the official generative scripts write and the leaderboard reads
(allenai/reward-bench `scripts/run_generative.py` and `scripts/run_generative_v2.py`, saved by
`save_to_hub` as `results/eval-set/<model>.json`, dumped with indent=4 and sorted keys): the keys
"model", "model_type" ("Generative RM"), "chat_template" (null: the model's own template), plus
one key per subset holding its score in [0, 1]. The leaderboard computes sections and the overall
score from these subset scores itself (v1: `calculate_scores_per_section` with EXAMPLE_COUNTS).
A classifier reward model's file says "Seq. Classifier" as `scripts/run_rm.py` does.

The judge metrics (position bias; in both orders also pair accuracy, agreement and the accuracy
among position-consistent examples) go to a file beside it, `leaderboard_judge.json`, never into the
results JSON: the leaderboard's loader (`analysis/utils.py` `load_results`) averages every column but
model, model_type and chat_template, so any added number would move its average.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from judgerl.core.jsonl import atomic_path, write_text_atomic
from judgerl.eval.metrics import METRIC_NAMES, POSITION_NAMES, by_order_pct, signed_pct
from judgerl.eval.rewardbench.scoring import V1_SECTIONS, V2_SUBSETS

MODEL_TYPE = "Generative RM"
CLASSIFIER_MODEL_TYPE = "Seq. Classifier"
BOTH_ORDER_COLUMNS = ("single_accuracy", "pair_accuracy", "agreement")
JUDGE_KEYS = (*METRIC_NAMES, *POSITION_NAMES, "tie_rate")


def leaderboard_results(
    model: str, subset_scores: Mapping[str, float | None], model_type: str = MODEL_TYPE
) -> dict[str, Any]:
    """The leaderboard's results dict: model, model_type, chat_template and one score per subset.

    >>> leaderboard_results("me/judge", {"math-prm": 0.5, "hep-go": None})
    {'model': 'me/judge', 'model_type': 'Generative RM', 'chat_template': None, 'math-prm': 0.5}

    Usage: write_leaderboard_json(path, leaderboard_results(model_name, subset_scores))
    """
    out: dict[str, Any] = {"model": model, "model_type": model_type, "chat_template": None}
    out.update({k: float(v) for k, v in subset_scores.items() if v is not None})
    return out


def write_leaderboard_json(path: str | os.PathLike[str], results: Mapping[str, Any]) -> Path:
    """Write results as the official scripts do (indent 4, sorted keys), atomically.

    Usage: write_leaderboard_json("runs/rb/leaderboard.json", leaderboard_results(model, scores))
    """
    return write_text_atomic(path, json.dumps(dict(results), indent=4, sort_keys=True) + "\n")


def judge_metrics_file(metrics: Mapping[str, Any], model_type: str = MODEL_TYPE) -> dict[str, Any] | None:
    """The judge metrics of a v1 run, overall and per subset, for `leaderboard_judge.json` (None for v2).

    Usage: write_leaderboard_json("runs/rb/leaderboard_judge.json", judge_metrics_file(metrics))
    """
    if metrics.get("version") != 1:
        return None
    overall = metrics.get("pairwise_overall") or metrics.get("position_overall") or {}
    out: dict[str, Any] = {
        "model": metrics.get("model"),
        "model_type": model_type,
        "protocol": metrics.get("protocol"),
        **{k: overall[k] for k in JUDGE_KEYS if k in overall},
    }
    out["subsets"] = {
        name: {k: sub[k] for k in JUDGE_KEYS if k in sub} for name, sub in metrics.get("subsets", {}).items()
    }
    return out


def _pct(x: Any) -> str:
    return "-" if x is None else f"{100 * float(x):.1f}"


def _head(both: bool, v1: bool) -> list[str]:
    head = ["", "score", "n", "parse fail"]
    if both:
        head += ["single acc", "pair acc", "agreement", "consistent acc", "(a) ab/ba"]
    return head + (["pos bias"] if v1 else [])


def _position_cells(m: Mapping[str, Any], both: bool, v1: bool) -> list[str]:
    cells = [_pct(m.get("consistent_accuracy")), by_order_pct(dict(m))] if both else []
    return cells + ([signed_pct(m.get("position_bias"))] if v1 else [])


def _subset_row(name: str, sub: Mapping[str, Any] | None, both: bool, v1: bool, indent: str = "  ") -> str:
    width = len(_head(both, v1))
    if sub is None:
        cells = [f"{indent}{name}", "missing"] + ["-"] * (width - 2)
    else:
        cells = [f"{indent}{name}", _pct(sub.get("accuracy")), str(sub.get("n", "-"))]
        cells.append(_pct(sub.get("parse_failure_rate")))
        if both:
            cells += [_pct(sub.get(k)) for k in BOTH_ORDER_COLUMNS]
        cells += _position_cells(sub, both, v1)
    return "| " + " | ".join(cells) + " |"


def rewardbench_table(metrics: Mapping[str, Any]) -> str:
    """A markdown table of a RewardBench metrics dict: overall, each section and its subsets (percent);
    v1 adds the position bias (the share of verdicts for (a) minus the share of chosen-in-(a), in points)
    and, in both orders, the accuracy among position-consistent examples and the (a) share per order.

    Sections with a missing subset show their partial score marked "partial" and list what is missing.
    Usage: print(rewardbench_table(read_json("runs/rb/metrics.json")))
    """
    both = metrics.get("protocol") == "both-orders"
    v1 = metrics["version"] == 1
    head = _head(both, v1)
    title = (
        f"RewardBench v{metrics['version']} ({metrics['protocol']}), {metrics.get('model', '')}, "
        f"seed {metrics.get('order_seed')}"
    )
    lines = [
        title,
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|",
    ]
    pad = ["-"] * (len(head) - 2)
    subsets: Mapping[str, Any] = metrics.get("subsets", {})
    overall = metrics.get("overall")
    if overall is None and metrics.get("partial_overall") is not None:
        shown = f"{_pct(metrics['partial_overall'])} (partial)"
    else:
        shown = _pct(overall) if overall is not None else "- (incomplete)"
    overall_row = ["**overall**", shown, *pad]
    position = metrics.get("pairwise_overall") or metrics.get("position_overall")
    if v1 and position:  # the judge's position metrics over every example
        cells = _position_cells(position, both, v1)
        overall_row[len(head) - len(cells) :] = cells
    lines.append("| " + " | ".join(overall_row) + " |")
    if v1:
        for name, sec in metrics["sections"].items():
            if sec["score"] is not None:
                score = _pct(sec["score"])
            elif sec["partial_score"] is not None:
                score = f"{_pct(sec['partial_score'])} (partial)"
            else:
                score = "missing"
            lines.append("| " + " | ".join([f"**{name}**", score, *pad]) + " |")
            for s in V1_SECTIONS[name]:
                lines.append(_subset_row(s, subsets.get(s), both, v1))
        extra = metrics.get("extra_subsets") or []
        if extra:
            lines.append("| " + " | ".join(["*not in any section*", "", *pad]) + " |")
            lines.extend(_subset_row(s, subsets.get(s), both, v1) for s in extra)
    else:
        names = list(V2_SUBSETS) + list(metrics.get("extra_subsets") or [])
        lines.extend(_subset_row(s, subsets.get(s), both, v1) for s in names)
    missing = metrics.get("missing_subsets") or []
    if missing:
        lines += ["", f"missing subsets ({len(missing)}): {', '.join(missing)}"]
    return "\n".join(lines)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _bar_chart(
    path: Path, title: str, names: list[str], values: list[float | None], line: float | None, line_label: str
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(4.0, 0.9 * len(names) + 1.5), 3.6))
    try:
        heights = [0.0 if v is None else 100 * v for v in values]
        bars = ax.bar(
            range(len(names)), heights, color=["#bbbbbb" if v is None else "#4c72b0" for v in values]
        )
        for bar, v in zip(bars, values, strict=True):
            label = "missing" if v is None else f"{100 * v:.1f}"
            ax.annotate(
                label,
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=8,
            )
        if line is not None:
            ax.axhline(100 * line, color="#c44e52", linestyle="--", linewidth=1, label=line_label)
            ax.legend(loc="lower right", fontsize=8)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, rotation=30, ha="right", fontsize=8)
        ax.set_ylim(0, 105)
        ax.set_ylabel("score (%)")
        ax.set_title(title, fontsize=10)
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=100)
    finally:
        plt.close(fig)
    return path


def plot_sections(metrics: Mapping[str, Any], out_dir: str | os.PathLike[str]) -> list[Path]:
    """One bar chart PNG per section (v1: Chat, Chat Hard, Safety, Reasoning; v2: one of its six
    subsets) of subset scores, with the section score as a dashed line; missing subsets are grey.

    Usage: plot_sections(metrics, "runs/rb/plots")  # -> [plots/chat.png, plots/chat-hard.png, ...]
    """
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    subsets: Mapping[str, Any] = metrics.get("subsets", {})

    def score(name: str) -> float | None:
        sub = subsets.get(name)
        return None if sub is None else sub.get("accuracy")

    written = []
    if metrics["version"] == 1:
        for name, sec in metrics["sections"].items():
            names = list(V1_SECTIONS[name])
            line = sec["score"] if sec["score"] is not None else sec["partial_score"]
            label = "section score" if sec["score"] is not None else "partial section score"
            written.append(
                _bar_chart(
                    folder / f"{_slug(name)}.png",
                    f"RewardBench v1: {name}",
                    names,
                    [score(n) for n in names],
                    line,
                    label,
                )
            )
    else:
        names = list(V2_SUBSETS)
        line = (
            metrics.get("overall") if metrics.get("overall") is not None else metrics.get("partial_overall")
        )
        written.append(
            _bar_chart(
                folder / "rewardbench-2.png",
                "RewardBench 2",
                names,
                [score(n) for n in names],
                line,
                "overall" if metrics.get("overall") is not None else "partial overall",
            )
        )
    return written

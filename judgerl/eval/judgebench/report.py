"""The JudgeBench table: overall and each category, accuracy beside the both-orders metrics (percent)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from judgerl.data_prep.sources.judgebench import CATEGORIES
from judgerl.eval.pair_benchmark import pct

COLUMNS = ("single_accuracy", "pair_accuracy", "agreement", "parse_failure_rate")
_HEAD = ["", "accuracy", "pairs", "single acc", "pair acc", "agreement", "parse fail"]


def _row(name: str, m: Mapping[str, Any]) -> str:
    cells = [name, pct(m.get("accuracy")), str(m.get("n", "-"))] + [pct(m.get(k)) for k in COLUMNS]
    return "| " + " | ".join(cells) + " |"


def judgebench_table(metrics: Mapping[str, Any]) -> str:
    """A markdown table of a JudgeBench metrics dict; a category without pairs reads "missing".

    Usage: print(judgebench_table(read_json("runs/jb/metrics.json")))
    """
    lines = [
        f"JudgeBench ({metrics.get('protocol')}), {metrics.get('model', '')}",
        "",
        "| " + " | ".join(_HEAD) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(_HEAD) - 1)) + "|",
        _row(
            "**overall**",
            {"accuracy": metrics["overall"], "n": metrics["n_pairs"]} | metrics["pairwise_overall"],
        ),
    ]
    categories: Mapping[str, Any] = metrics["categories"]
    for name in [*CATEGORIES, *(c for c in categories if c not in CATEGORIES)]:
        if name in categories:
            lines.append(_row(f"  {name}", categories[name]))
        else:
            lines.append("| " + " | ".join([f"  {name}", "missing", "0"] + ["-"] * len(COLUMNS)) + " |")
    return "\n".join(lines)

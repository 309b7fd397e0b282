"""The JudgeBench table: overall and each category, accuracy beside the both-orders metrics (percent),
position bias, and ties where the judge spec reads them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from judgerl.data_prep.sources.judgebench import CATEGORIES
from judgerl.eval.metrics import POSITION_HEAD, position_cells
from judgerl.eval.pair_benchmark import pct

COLUMNS = ("single_accuracy", "pair_accuracy", "agreement")
_HEAD = ["", "accuracy", "pairs", "single acc", "pair acc", "agreement", *POSITION_HEAD, "parse fail"]


def _row(name: str, m: Mapping[str, Any], ties: bool) -> str:
    cells = [name, pct(m.get("accuracy")), str(m.get("n", "-"))] + [pct(m.get(k)) for k in COLUMNS]
    cells += position_cells(dict(m))
    cells.append(pct(m.get("parse_failure_rate")))
    if ties:
        cells.append(pct(m.get("tie_rate", 0.0)))
    return "| " + " | ".join(cells) + " |"


def judgebench_table(metrics: Mapping[str, Any]) -> str:
    """A markdown table of a JudgeBench metrics dict; a category without pairs reads "missing".

    A "ties" column appears when the judge gave tie verdicts (each scores 0 in the official vote);
    pairs whose label was a tie (not pairable, never judged) are counted below the table.

    Usage: print(judgebench_table(read_json("runs/jb/metrics.json")))
    """
    categories: Mapping[str, Any] = metrics["categories"]
    ties = "tie_rate" in metrics["pairwise_overall"]
    head = _HEAD + (["ties"] if ties else [])
    lines = [
        f"JudgeBench ({metrics.get('protocol')}), {metrics.get('model', '')}",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|",
        _row(
            "**overall**",
            {"accuracy": metrics["overall"], "n": metrics["n_pairs"]} | metrics["pairwise_overall"],
            ties,
        ),
    ]
    for name in [*CATEGORIES, *(c for c in categories if c not in CATEGORIES)]:
        if name in categories:
            lines.append(_row(f"  {name}", categories[name], ties))
        else:
            lines.append("| " + " | ".join([f"  {name}", "missing", "0"] + ["-"] * (len(head) - 3)) + " |")
    if metrics.get("n_not_pairable"):
        lines += ["", f"rows not scored (a tie label, not pairable): {metrics['n_not_pairable']}"]
    if metrics.get("note"):  # scoring: classifier
        lines += ["", str(metrics["note"])]
    return "\n".join(lines)

"""The RM-Bench table: easy / normal / hard / average overall and per domain, with the both-orders
metrics, position bias and parse failures (%)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from judgerl.data_prep.sources.rmbench import DOMAINS
from judgerl.eval.metrics import POSITION_HEAD, position_cells
from judgerl.eval.pair_benchmark import pct

_LEVELS = ("easy", "normal", "hard", "average")
_PAIRWISE = ("pair_accuracy", "agreement")
_HEAD = ["", *_LEVELS, "prompts", "pair acc", "agreement", *POSITION_HEAD, "parse fail"]


def _row(name: str, m: Mapping[str, Any], n: Any, ties: bool) -> str:
    cells = [name, *(pct(m.get(k)) for k in _LEVELS), str(n), *(pct(m.get(k)) for k in _PAIRWISE)]
    cells += [*position_cells(dict(m)), pct(m.get("parse_failure_rate"))]
    if ties:
        cells.append(pct(m.get("tie_rate", 0.0)))
    return "| " + " | ".join(cells) + " |"


def rmbench_table(metrics: Mapping[str, Any]) -> str:
    """A markdown table of an RM-Bench metrics dict; a domain without prompts reads "missing"; a "ties"
    column appears when the judge gave tie verdicts.

    Usage: print(rmbench_table(read_json("runs/rmb/metrics.json")))
    """
    overall = {k: metrics.get(k) for k in _LEVELS} | metrics["pairwise_overall"]
    ties = "tie_rate" in metrics["pairwise_overall"]
    head = _HEAD + (["ties"] if ties else [])
    lines = [
        f"RM-Bench ({metrics.get('protocol')}), {metrics.get('model', '')}",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|",
        _row("**overall**", overall, metrics["n_prompts"], ties),
    ]
    domains: Mapping[str, Any] = metrics["domains"]
    for name in [*DOMAINS, *(d for d in domains if d not in DOMAINS)]:
        if name in domains:
            lines.append(_row(f"  {name}", domains[name], domains[name]["n"], ties))
        else:
            rest = ["-"] * (len(head) - 6)
            lines.append("| " + " | ".join([f"  {name}", "missing", *["-"] * 3, "0", *rest]) + " |")
    incomplete = metrics.get("incomplete_prompts") or []
    if incomplete:
        lines += [
            "",
            f"prompts left out, a pair not judged ({len(incomplete)}): {', '.join(incomplete[:10])}",
        ]
    if metrics.get("note"):  # scoring: classifier
        lines += ["", str(metrics["note"])]
    return "\n".join(lines)

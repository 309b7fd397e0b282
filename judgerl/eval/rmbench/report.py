"""The RM-Bench table: easy / normal / hard / average overall and per domain, with parse failures (%)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from judgerl.data_prep.sources.rmbench import DOMAINS
from judgerl.eval.pair_benchmark import pct

_LEVELS = ("easy", "normal", "hard", "average")
_PAIRWISE = ("pair_accuracy", "agreement", "parse_failure_rate")
_HEAD = ["", *_LEVELS, "prompts", "pair acc", "agreement", "parse fail"]


def _row(name: str, m: Mapping[str, Any], n: Any) -> str:
    cells = [name, *(pct(m.get(k)) for k in _LEVELS), str(n), *(pct(m.get(k)) for k in _PAIRWISE)]
    return "| " + " | ".join(cells) + " |"


def rmbench_table(metrics: Mapping[str, Any]) -> str:
    """A markdown table of an RM-Bench metrics dict; a domain without prompts reads "missing".

    Usage: print(rmbench_table(read_json("runs/rmb/metrics.json")))
    """
    overall = {k: metrics.get(k) for k in _LEVELS} | metrics["pairwise_overall"]
    lines = [
        f"RM-Bench ({metrics.get('protocol')}), {metrics.get('model', '')}",
        "",
        "| " + " | ".join(_HEAD) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(_HEAD) - 1)) + "|",
        _row("**overall**", overall, metrics["n_prompts"]),
    ]
    domains: Mapping[str, Any] = metrics["domains"]
    for name in [*DOMAINS, *(d for d in domains if d not in DOMAINS)]:
        if name in domains:
            lines.append(_row(f"  {name}", domains[name], domains[name]["n"]))
        else:
            lines.append("| " + " | ".join([f"  {name}", "missing", *["-"] * 3, "0", *["-"] * 3]) + " |")
    incomplete = metrics.get("incomplete_prompts") or []
    if incomplete:
        lines += [
            "",
            f"prompts left out, a pair not judged ({len(incomplete)}): {', '.join(incomplete[:10])}",
        ]
    return "\n".join(lines)

"""Pairwise judge metrics over both answer orders, per subset and overall."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from judgerl.core.types import Judgement

METRIC_NAMES = ("single_accuracy", "pair_accuracy", "agreement", "parse_failure_rate", "strength_accuracy")


def _flip(choice: str | None) -> str | None:
    return {"a": "b", "b": "a", "tie": "tie"}.get(choice) if choice is not None else None


def _group_metrics(judgements: list[Judgement]) -> dict[str, Any]:
    by_item: dict[str, dict[str, Judgement]] = defaultdict(dict)
    for j in judgements:
        by_item[j.sample_id][j.order] = j
    pairs = [(v["ab"], v["ba"]) for v in by_item.values() if "ab" in v and "ba" in v]
    n = len(judgements)
    with_strength = [j for j in judgements if j.correct and j.strength is not None]
    out: dict[str, Any] = {
        "n_judgements": n,
        "n_items": len(by_item),
        "n_pairs": len(pairs),
        "single_accuracy": sum(j.correct for j in judgements) / n if n else None,
        "parse_failure_rate": sum(not j.verdict.ok for j in judgements) / n if n else None,
        "pair_accuracy": sum(a.correct and b.correct for a, b in pairs) / len(pairs) if pairs else None,
        # same underlying response chosen in both orders (position-consistent), right or wrong
        "agreement": (
            sum(a.verdict.ok and a.verdict.choice == _flip(b.verdict.choice) for a, b in pairs) / len(pairs)
            if pairs
            else None
        ),
        "strength_accuracy": (
            sum(j.verdict.strength == abs(j.strength) for j in with_strength) / len(with_strength)
            if with_strength
            else None
        ),
    }
    ties = sum(j.verdict.choice == "tie" for j in judgements)
    if ties:  # only where the judge spec reads ties, so older metrics files keep their keys
        out["tie_rate"] = ties / n
    return out


def _credit(j: Judgement, counting: Any) -> float:
    if j.correct:
        return 1.0
    if not j.verdict.ok:
        return counting.unparsed_credit
    return counting.tie_credit if j.verdict.choice == "tie" else 0.0


def _counted(judgements: list[Judgement], counting: Any) -> dict[str, Any]:
    by_item: dict[str, dict[str, Judgement]] = defaultdict(dict)
    for j in judgements:
        by_item[j.sample_id][j.order] = j
    pairs = [(v["ab"], v["ba"]) for v in by_item.values() if "ab" in v and "ba" in v]
    n = len(judgements)

    def agree(a: Judgement, b: Judgement) -> bool:
        if not a.verdict.ok and not b.verdict.ok:
            return counting.both_unparsed_agree
        return a.verdict.ok and a.verdict.choice == _flip(b.verdict.choice)

    return {
        "n_judgements": n,
        "single_accuracy": sum(_credit(j, counting) for j in judgements) / n if n else None,
        "pair_accuracy": sum(a.correct and b.correct for a, b in pairs) / len(pairs) if pairs else None,
        "agreement": sum(agree(a, b) for a, b in pairs) / len(pairs) if pairs else None,
        "parse_failure_rate": sum(not j.verdict.ok for j in judgements) / n if n else None,
    }


def counted_metrics(judgements: list[Judgement], counting: Any) -> dict[str, Any]:
    """The pairwise metrics as a judge spec's counting rules count them (RewardBench's 0.5 credit for an
    unreadable verdict or a tie, Think-J's agreement of a pair unreadable in both orders), overall and
    per subset, reported beside judgerl's own.

    Usage: metrics["as_counted"] = counted_metrics(judgements, spec.counting)
    """
    by_subset: dict[str, list[Judgement]] = defaultdict(list)
    for j in judgements:
        by_subset[j.subset or "all"].append(j)
    return {
        "rules": counting.model_dump(mode="json"),
        "overall": _counted(judgements, counting),
        "subsets": {name: _counted(js, counting) for name, js in sorted(by_subset.items())},
    }


def pairwise_metrics(judgements: list[Judgement], counting: Any = None) -> dict[str, Any]:
    """Single accuracy (over every verdict), pair accuracy (right in both orders), agreement
    (same response chosen in both orders), parse-failure rate and strength accuracy (among right
    verdicts with a known strength), overall and per subset; the tie rate where ties were read.
    With a judge spec's `counting` rules that differ from judgerl's, `as_counted` holds the same
    metrics as those rules count them.

    Usage: metrics = pairwise_metrics(judgements, spec.counting); metrics["overall"]["pair_accuracy"]
    """
    by_subset: dict[str, list[Judgement]] = defaultdict(list)
    for j in judgements:
        by_subset[j.subset or "all"].append(j)
    out = {
        "overall": _group_metrics(judgements),
        "subsets": {name: _group_metrics(js) for name, js in sorted(by_subset.items())},
    }
    if counting is not None and not counting.is_default:
        out["as_counted"] = counted_metrics(judgements, counting)
    return out


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def metrics_table(rows: dict[str, dict[str, Any]], title: str = "") -> str:
    """A markdown table, one row per name, of the headline metrics (percent); a "ties" column appears
    when any row read ties.

    Usage: print(metrics_table({"base": m1["overall"], "sft": m2["overall"]}))
    """
    ties = any("tie_rate" in m for m in rows.values())
    head = ["", "single acc", "pair acc", "agreement", "parse fail", "strength acc"]
    head += ["ties"] if ties else []
    head.append("judgements")
    lines = [f"{title}\n" if title else ""]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
    for name, m in rows.items():
        cells = [name] + [_pct(m.get(k)) for k in METRIC_NAMES[:2]]
        cells += [
            _pct(m.get("agreement")),
            _pct(m.get("parse_failure_rate")),
            _pct(m.get("strength_accuracy")),
        ]
        if ties:
            cells.append(_pct(m.get("tie_rate", 0.0)))
        cells.append(str(m.get("n_judgements", "-")))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines).lstrip("\n")

"""Pairwise judge metrics over both answer orders, per subset and overall: accuracy, position
consistency and position bias, parse failures, ties."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from judgerl.core.types import Judgement

METRIC_NAMES = ("single_accuracy", "pair_accuracy", "agreement", "parse_failure_rate", "strength_accuracy")
# how far position, not content, decides (see `position_metrics`); reported beside METRIC_NAMES
POSITION_NAMES = (
    "consistent_accuracy",
    "first_position_rate",
    "first_position_label_rate",
    "position_bias",
    "first_position_rate_ab",
    "first_position_rate_ba",
)


def _flip(choice: str | None) -> str | None:
    return {"a": "b", "b": "a", "tie": "tie"}.get(choice) if choice is not None else None


def _share(hits: int, total: int) -> float | None:
    return hits / total if total else None


def _pairs(judgements: list[Judgement]) -> list[tuple[Judgement, Judgement]]:
    by_item: dict[str, dict[str, Judgement]] = defaultdict(dict)
    for j in judgements:
        by_item[j.sample_id][j.order] = j
    return [(v["ab"], v["ba"]) for v in by_item.values() if "ab" in v and "ba" in v]


def _consistent(a: Judgement, b: Judgement) -> bool:
    return a.verdict.ok and a.verdict.choice == _flip(b.verdict.choice)


def position_metrics(judgements: list[Judgement]) -> dict[str, float | None]:
    """How far the answer position decides the verdict. Over the verdicts that chose (a) or (b):

    - `first_position_rate`: the share that chose (a), the first position shown;
    - `first_position_label_rate`: the share whose label is (a) (what a right judge would pick);
    - `position_bias`: their difference, positive when the judge favours (a) beyond the labels;
    - `first_position_rate_ab` / `_ba`: the share choosing (a) in each order (None for an order not judged);
    - `consistent_accuracy`: among items judged in both orders whose two verdicts name the same
      response (position-consistent), the share where it is the right one. (Pair accuracy is the
      share of all items that are both consistent and right.)

    >>> from judgerl.core.types import Verdict
    >>> js = [Judgement("1", "ab", "", Verdict("a"), "a"), Judgement("1", "ba", "", Verdict("a"), "b")]
    >>> m = position_metrics(js)
    >>> m["first_position_rate"], m["position_bias"], m["consistent_accuracy"]
    (1.0, 0.5, None)

    Usage: position_metrics(judgements)["position_bias"]
    """
    placed = [j for j in judgements if j.verdict.choice in ("a", "b")]
    out: dict[str, float | None] = {}
    pairs = _pairs(judgements)
    consistent = [a for a, b in pairs if _consistent(a, b)]
    out["consistent_accuracy"] = _share(sum(a.correct for a in consistent), len(consistent))
    first = _share(sum(j.verdict.choice == "a" for j in placed), len(placed))
    label = _share(sum(j.label == "a" for j in placed), len(placed))
    out["first_position_rate"] = first
    out["first_position_label_rate"] = label
    out["position_bias"] = None if first is None or label is None else first - label
    for order in ("ab", "ba"):
        shown = [j for j in placed if j.order == order]
        out[f"first_position_rate_{order}"] = _share(sum(j.verdict.choice == "a" for j in shown), len(shown))
    return out


def _group_metrics(judgements: list[Judgement]) -> dict[str, Any]:
    pairs = _pairs(judgements)
    n = len(judgements)
    with_strength = [j for j in judgements if j.correct and j.strength is not None]
    out: dict[str, Any] = {
        "n_judgements": n,
        "n_items": len({j.sample_id for j in judgements}),
        "n_pairs": len(pairs),
        "single_accuracy": sum(j.correct for j in judgements) / n if n else None,
        "parse_failure_rate": sum(not j.verdict.ok for j in judgements) / n if n else None,
        "pair_accuracy": sum(a.correct and b.correct for a, b in pairs) / len(pairs) if pairs else None,
        # same underlying response chosen in both orders (position-consistent), right or wrong
        "agreement": sum(_consistent(a, b) for a, b in pairs) / len(pairs) if pairs else None,
        "strength_accuracy": (
            sum(j.verdict.strength == abs(j.strength) for j in with_strength) / len(with_strength)
            if with_strength
            else None
        ),
    }
    out.update(position_metrics(judgements))
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
    pairs = _pairs(judgements)
    n = len(judgements)

    def agree(a: Judgement, b: Judgement) -> bool:
        if not a.verdict.ok and not b.verdict.ok:
            return counting.both_unparsed_agree
        return _consistent(a, b)

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


def signed_pct(x: float | None) -> str:
    """A signed difference of fractions in percentage points, "-" for None. Usage: signed_pct(0.125) -> '+12.5'"""
    return "-" if x is None else f"{100 * x:+.1f}"


def by_order_pct(m: dict[str, Any]) -> str:
    """The first-position shares of the two orders as "ab/ba" percents. Usage: by_order_pct(m) -> '75.0/50.0'"""
    return "/".join(_pct(m.get(f"first_position_rate_{o}")) for o in ("ab", "ba"))


POSITION_HEAD = ["consistent acc", "(a) ab/ba", "pos bias"]


def position_cells(m: dict[str, Any]) -> list[str]:
    """The table cells of POSITION_HEAD for one metrics dict (percent; the bias in signed points).

    Usage: cells += position_cells(metrics["overall"])
    """
    return [_pct(m.get("consistent_accuracy")), by_order_pct(m), signed_pct(m.get("position_bias"))]


def metrics_table(rows: dict[str, dict[str, Any]], title: str = "") -> str:
    """A markdown table, one row per name, of the headline metrics (percent): accuracy, agreement, the
    accuracy among position-consistent items, the share of verdicts for (a) in each order and the
    position bias (that share minus the labels' share, in points); a "ties" column appears when any
    row read ties.

    Usage: print(metrics_table({"base": m1["overall"], "sft": m2["overall"]}))
    """
    ties = any("tie_rate" in m for m in rows.values())
    head = ["", "single acc", "pair acc", "agreement", *POSITION_HEAD, "parse fail", "strength acc"]
    head += ["ties"] if ties else []
    head.append("judgements")
    lines = [f"{title}\n" if title else ""]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|")
    for name, m in rows.items():
        cells = [name] + [_pct(m.get(k)) for k in ("single_accuracy", "pair_accuracy", "agreement")]
        cells += position_cells(m)
        cells += [_pct(m.get("parse_failure_rate")), _pct(m.get("strength_accuracy"))]
        if ties:
            cells.append(_pct(m.get("tie_rate", 0.0)))
        cells.append(str(m.get("n_judgements", "-")))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines).lstrip("\n")

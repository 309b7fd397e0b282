"""RewardBench v1 protocols: the official single seeded order and Think-J's both orders, scored.

- "official": the leaderboard's generative protocol. Each example is judged once; whether the
  chosen response is shown as (a) or (b) is a coin drawn per example id (`official_layout`).
  A right verdict scores 1, a wrong one 0, an unreadable one 0.5.
- "both-orders": each example is judged with the chosen response as (a) and as (b); single and
  pair accuracy, agreement and parse failures per subset and section, plus `accuracy` = the mean
  official score over both orders.
"""

from __future__ import annotations

from typing import Any

from judgerl.core.types import Judgement, JudgeSample
from judgerl.data_prep.sources.base import flip_positions, seeded_flip
from judgerl.eval.metrics import METRIC_NAMES, POSITION_NAMES, pairwise_metrics, position_metrics
from judgerl.eval.pairwise import judgement_row
from judgerl.eval.rewardbench.data import canonical_pairs
from judgerl.eval.rewardbench.scoring import (
    V1_UNPARSEABLE_SCORE,
    official_pair_score,
    subset_means,
    v1_sections,
)
from judgerl.judge_spec.parser import thinking_of


def official_layout(samples: list[JudgeSample], seed: int) -> list[JudgeSample]:
    """The official protocol's single order per example: chosen in (b) when the seeded coin says so.

    The coin is sha256(seed, id): the same seed gives the same layout in any batch size or order.
    Usage: laid_out = official_layout(canonical, seed=0)
    """
    canonical, _ = canonical_pairs(samples)
    return [flip_positions(s) if seeded_flip(seed, s.id) else s for s in canonical]


def prediction_row(j: Judgement, protocol: str, tie_score: float = V1_UNPARSEABLE_SCORE) -> dict[str, Any]:
    """The predictions.jsonl row of one v1 judgement: the judgement, its official score and thinking.

    Usage: rows = [prediction_row(j, "official") for j in judgements]
    """
    row = judgement_row(j)
    row.update(
        protocol=protocol,
        score=official_pair_score(j.verdict.choice, j.label, tie_score),
        thinking=thinking_of(j.completion),
    )
    return row


def score_official(judgements: list[Judgement], tie_score: float = V1_UNPARSEABLE_SCORE) -> dict[str, Any]:
    """Per-subset official scores (1 / 0 / 0.5 unreadable), parse-failure rates and position bias (the
    share of verdicts for (a) against the seeded coin's share of chosen-in-(a)), plus sections;
    `position_overall` holds the position metrics over every example.

    `tie_score` is what a tie earns (0.5 for a generative judge; a classifier's equal scores earn 0).

    Usage: scores = score_official(judgements)  # judgements from the official layout, one per example
    """
    subsets = subset_means(
        (j.subset, official_pair_score(j.verdict.choice, j.label, tie_score)) for j in judgements
    )
    for name, sub in subsets.items():
        js = [j for j in judgements if j.subset == name]
        sub["parse_failure_rate"] = sum(not j.verdict.ok for j in js) / len(js)
        ties = sum(j.verdict.choice == "tie" for j in js)
        if ties:  # a judge spec that reads ties: the official script scores each 0.5
            sub["tie_rate"] = ties / len(js)
        sub.update(_position(js))
    out = {"subsets": subsets} | v1_sections({k: v["accuracy"] for k, v in subsets.items()})
    out["position_overall"] = _position(judgements)
    return out


def _position(judgements: list[Judgement]) -> dict[str, Any]:
    # one order per example: a consistent accuracy needs both orders, so it is left out
    out = position_metrics(judgements)
    out.pop("consistent_accuracy")
    return out


def _sections_by_metric(subsets: dict[str, dict[str, Any]], metrics: tuple[str, ...]) -> dict[str, Any]:
    by_metric = {}
    for metric in metrics:
        secs = v1_sections({k: v[metric] for k, v in subsets.items()})
        by_metric[metric] = {
            "overall": secs["overall"],
            **{
                n: s["score"] if s["score"] is not None else s["partial_score"]
                for n, s in secs["sections"].items()
            },
        }
    return by_metric


def score_both_orders(
    judgements: list[Judgement], counting: Any = None, tie_score: float = V1_UNPARSEABLE_SCORE
) -> dict[str, Any]:
    """Think-J metrics per subset (single/pair accuracy, agreement, parse failures, strength accuracy,
    position bias and the accuracy among position-consistent examples),
    `accuracy` = mean official score over both orders, and sections for every metric. With a judge
    spec's `counting` rules other than judgerl's (e.g. Think-J's: a pair unreadable in both orders
    agrees), `as_counted` holds the same sections as those rules count them, beside judgerl's.

    Usage: scores = score_both_orders(judgements, spec.counting)  # judgements in both orders
    """
    pairwise = pairwise_metrics(judgements, counting)
    expected = subset_means(
        (j.subset, official_pair_score(j.verdict.choice, j.label, tie_score)) for j in judgements
    )
    subsets: dict[str, dict[str, Any]] = {}
    for name, sub in expected.items():
        pm = pairwise["subsets"][name]
        subsets[name] = {"accuracy": sub["accuracy"], "n": pm["n_items"]}
        subsets[name].update({k: pm[k] for k in (*METRIC_NAMES, *POSITION_NAMES)})
        if "tie_rate" in pm:
            subsets[name]["tie_rate"] = pm["tie_rate"]
    out = {"subsets": subsets} | v1_sections({k: v["accuracy"] for k, v in subsets.items()})
    out["sections_by_metric"] = _sections_by_metric(subsets, METRIC_NAMES[:4])
    out["pairwise_overall"] = pairwise["overall"]
    if "as_counted" in pairwise:
        counted = pairwise["as_counted"]
        out["as_counted"] = {
            "rules": counted["rules"],
            "sections_by_metric": _sections_by_metric(counted["subsets"], METRIC_NAMES[:4]),
            "overall": counted["overall"],
        }
    return out

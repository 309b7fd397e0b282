"""JudgeBench's scores, written from the rules of the JudgeBench paper's official script.

Each pair is judged in both orders; the second decision is flipped back; each decision scores +1
when it equals the label, -1 when it equals the opposite, 0 for a tie or an unreadable verdict
(utils/metrics.py `compute_final_metrics` in ScalerLab/JudgeBench);
the pair is right when the sum is positive (in one order: when its verdict is right). Accuracy
is the fraction of right pairs per category (the `source` prefix: mmlu-pro = knowledge,
livebench-reasoning, livebench-math, livecodebench = coding) and over every pair.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from judgerl.core.types import Judgement
from judgerl.data_prep.sources.judgebench import CATEGORIES
from judgerl.eval.metrics import METRIC_NAMES, POSITION_NAMES, pairwise_metrics
from judgerl.eval.pair_benchmark import pair_votes


def _accuracy(won: list[bool]) -> float | None:
    return sum(won) / len(won) if won else None


def judgebench_scores(judgements: list[Judgement]) -> dict[str, Any]:
    """`overall` and per-category `accuracy` (JudgeBench's pair rule), with the pairwise metrics beside it
    (accuracy, agreement, position bias, parse failures; the tie rate where the judge spec reads ties).

        A category without pairs is listed in `missing_categories` (its accuracy is not 0, it is unknown);
        a source outside the four categories counts in `overall` and under "other".

        Usage: scores = judgebench_scores(judgements); scores["categories"]["knowledge"]["accuracy"]
    """
    votes = pair_votes(judgements)
    category_of = {j.sample_id: j.subset for j in judgements}
    won: dict[str, list[bool]] = defaultdict(list)
    for sample_id, vote in votes.items():
        won[category_of[sample_id]].append(vote > 0)
    pairwise = pairwise_metrics(judgements)
    names = [c for c in CATEGORIES if c in won] + sorted(set(won) - set(CATEGORIES))
    categories: dict[str, dict[str, Any]] = {}
    for name in names:
        sub = pairwise["subsets"][name]
        categories[name] = {"accuracy": _accuracy(won[name]), "n": len(won[name])}
        categories[name].update({k: sub[k] for k in (*METRIC_NAMES, *POSITION_NAMES)})
        if "tie_rate" in sub:
            categories[name]["tie_rate"] = sub["tie_rate"]
    return {
        "overall": _accuracy([v > 0 for v in votes.values()]),
        "n_pairs": len(votes),
        "categories": categories,
        "missing_categories": [c for c in CATEGORIES if c not in won],
        "pairwise_overall": pairwise["overall"],
    }

"""RewardBench v2: the four-way ranking prompt (correct response in a seeded slot) or one rating per
response, and their scores (the Ties subset is always rated and scored as officially)."""

from __future__ import annotations

import hashlib
from typing import Any

from judgerl.data_prep.sources.rewardbench import RewardBench2Item
from judgerl.eval.rewardbench.scoring import (
    TIES_INVALID_RATING,
    choice_score,
    ratings_score,
    subset_means,
    ties_score,
    v2_overall,
)
from judgerl.judge_spec.multi_parser import parse_choice, parse_rating
from judgerl.judge_spec.multi_prompts import render_ranking_messages, render_rating_messages
from judgerl.models.generation.base import Messages


def seeded_slot(seed: int, key: str, n: int) -> int:
    """A deterministic slot in 0..n-1 for one item (sha256 of seed and id).

    >>> seeded_slot(0, "item-1", 4) == seeded_slot(0, "item-1", 4)
    True

    Usage: slot = seeded_slot(order_seed, item.id, 4)
    """
    digest = hashlib.sha256(f"{seed}\x1f{key}\x1fslot".encode()).digest()
    return int.from_bytes(digest[:8], "big") % n


def ranking_layout(item: RewardBench2Item, seed: int) -> tuple[list[str], int]:
    """(responses in prompt order, index of the correct one) for the four-way prompt.

    As the official script: the first correct response and the first three incorrect ones; the
    correct response, first in line, trades places with the response in the seeded slot.

    >>> item = RewardBench2Item("x", [{"role": "user", "content": "q"}], ["c"], ["r0", "r1", "r2"], "Math")
    >>> responses, slot = ranking_layout(item, 0)
    >>> responses[slot], sorted(responses)
    ('c', ['c', 'r0', 'r1', 'r2'])

    Usage: responses, correct = ranking_layout(item, seed=0)
    """
    options = [item.chosen[0], *item.rejected[:3]]
    slot = seeded_slot(seed, item.id, len(options))
    options[0], options[slot] = options[slot], options[0]
    return options, slot


def v2_requests(
    items: list[RewardBench2Item], mode: str, seed: int, instruction: str
) -> list[tuple[str, Messages]]:
    """Every prompt to generate for v2: (key, messages); keys "<id>|rank" or "<id>|rate|<i>".

    Usage: requests = v2_requests(items, "four-way", seed=0, instruction="full")
    """
    out: list[tuple[str, Messages]] = []
    for item in items:
        if mode == "four-way" and not item.is_ties:
            responses, _ = ranking_layout(item, seed)
            out.append(
                (f"{item.id}|rank", render_ranking_messages(item.conversation, responses, instruction))
            )
            continue
        for i, response in enumerate(item.responses):
            messages = render_rating_messages(
                item.conversation, response, ties=item.is_ties, instruction=instruction
            )
            out.append((f"{item.id}|rate|{i}", messages))
    return out


def score_v2(
    items: list[RewardBench2Item], completions: dict[str, str], mode: str, seed: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Scores per subset (Ties: the official Ties score), overall, and one prediction row per item.

    Usage: scores, rows = score_v2(items, {key: completion}, "four-way", seed=0)
    """
    rows: list[dict[str, Any]] = []
    ties_rows: list[tuple[str, int, list[float]]] = []
    results: list[tuple[str, float]] = []
    failures: dict[str, list[bool]] = {}
    for item in items:
        row: dict[str, Any] = {"id": item.id, "subset": item.subset}
        if mode == "four-way" and not item.is_ties:
            responses, slot = ranking_layout(item, seed)
            text = completions[f"{item.id}|rank"]
            v = parse_choice(text, n_options=len(responses))
            score = choice_score(v.index, slot, len(responses))
            row.update(
                kind="ranking",
                correct=slot,
                choice=v.index,
                reason=v.reason,
                score=score,
                completion=text,
                thinking=v.thinking,
            )
            failures.setdefault(item.subset, []).append(not v.ok)
            results.append((item.subset, score))
        else:
            texts = [completions[f"{item.id}|rate|{i}"] for i in range(len(item.responses))]
            parsed = [parse_rating(t) for t in texts]
            ratings = [p.rating for p in parsed]
            row.update(
                kind="ratings",
                num_correct=item.num_correct,
                ratings=ratings,
                reasons=[p.reason for p in parsed],
                completions=texts,
                thinking=[p.thinking for p in parsed],
            )
            failures.setdefault(item.subset, []).extend(not p.ok for p in parsed)
            if item.is_ties:
                ties_rows.append(
                    (item.id, item.num_correct, [TIES_INVALID_RATING if r is None else r for r in ratings])
                )
            else:
                score = ratings_score(ratings, correct_index=0)
                row["score"] = score
                results.append((item.subset, score))
        rows.append(row)
    rates = {name: sum(flags) / len(flags) if flags else None for name, flags in failures.items()}
    return _summary(results, ties_rows, rates), rows


def score_v2_rewards(
    items: list[RewardBench2Item], rewards: dict[str, list[float]]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Scores per subset and overall from one reward per response (a classifier reward model's), as the
    official `scripts/run_v2.py`: outside Ties the correct response must score highest (1/number tied
    at the top), Ties by the official Ties score; one prediction row per item.

    Usage: scores, rows = score_v2_rewards(items, {item.id: [reward of each of item.responses]})
    """
    rows: list[dict[str, Any]] = []
    results: list[tuple[str, float]] = []
    ties_rows: list[tuple[str, int, list[float]]] = []
    for item in items:
        scores = rewards[item.id]
        row: dict[str, Any] = {"id": item.id, "subset": item.subset, "kind": "rewards"}
        row.update(num_correct=item.num_correct, rewards=scores)
        if item.is_ties:
            ties_rows.append((item.id, item.num_correct, scores))
        else:
            row["score"] = ratings_score(scores, correct_index=0)
            results.append((item.subset, row["score"]))
        rows.append(row)
    return _summary(results, ties_rows, None), rows


def _summary(
    results: list[tuple[str, float]],
    ties_rows: list[tuple[str, int, list[float]]],
    failure_rates: dict[str, float | None] | None,
) -> dict[str, Any]:
    """Subset means, the Ties score and the overall; `failure_rates` per subset (None: a reward is always
    read, so every rate is 0)."""
    subsets: dict[str, dict[str, Any]] = dict(subset_means(results))
    out: dict[str, Any] = {}
    if ties_rows:
        ties = ties_score(ties_rows)
        subsets["Ties"] = {"accuracy": ties["score"], "n": len(ties_rows)}
        out["ties"] = ties
    for name, sub in subsets.items():
        sub["parse_failure_rate"] = 0.0 if failure_rates is None else failure_rates.get(name)
    out["subsets"] = dict(sorted(subsets.items()))
    out.update(v2_overall({k: v["accuracy"] for k, v in subsets.items()}))
    return out

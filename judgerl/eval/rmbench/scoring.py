"""RM-Bench's scores, written from the rules of the RM-Bench paper's official computation.

For each prompt a 3x3 matrix M[i][j] = 1 when chosen response i beats rejected response j
(styles ordered concise, detailed plain, detailed markdown), else 0. A generative judge "beats"
by the pair vote of `judgerl.eval.pair_benchmark` (+1 / -1 / 0 per judged order, won when the sum
is positive: in one order a tie or an unreadable verdict never wins, as a reward model's equal
scores do not).
hard = the mean of the upper-right triangle (i < j: the chosen response is less formatted than
the rejected one), normal = the mean of the diagonal, easy = the mean of the lower-left
triangle (i > j); each is averaged over prompts, per domain and over every prompt. `average` is
the mean of all nine cells, (easy + normal + hard) / 3.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from judgerl.core.types import Judgement
from judgerl.data_prep.sources.rmbench import DOMAINS, STYLES
from judgerl.eval.metrics import METRIC_NAMES, POSITION_NAMES, pairwise_metrics
from judgerl.eval.pair_benchmark import pair_votes

Matrix = list[list[float]]
LEVELS: tuple[str, str, str] = ("easy", "normal", "hard")
_N = len(STYLES)


def level_scores(matrix: Matrix) -> dict[str, float]:
    """easy (i > j), normal (i == j) and hard (i < j) means of one 3x3 matrix, and the mean of all nine.

    >>> level_scores([[1, 0, 0], [1, 1, 0], [1, 1, 0]])
    {'easy': 1.0, 'normal': 0.6666666666666666, 'hard': 0.0, 'average': 0.5555555555555556}

    Usage: level_scores(prompt_matrix)["hard"]
    """
    cells = [(i, j) for i in range(_N) for j in range(_N)]
    lower = [matrix[i][j] for i, j in cells if i > j]
    diag = [matrix[i][i] for i in range(_N)]
    upper = [matrix[i][j] for i, j in cells if i < j]
    return {
        "easy": sum(lower) / len(lower),
        "normal": sum(diag) / len(diag),
        "hard": sum(upper) / len(upper),
        "average": sum(matrix[i][j] for i, j in cells) / len(cells),
    }


def prompt_matrices(
    judgements: list[Judgement], metadata: Mapping[str, Mapping[str, Any]]
) -> tuple[dict[str, tuple[str, Matrix]], list[str]]:
    """Each prompt's (domain, M) from the judgements' pair votes, and the prompts missing a cell.

    `metadata` maps a sample id to its sample's metadata (prompt_id, domain, chosen_style,
    rejected_style, as `load_rmbench` writes it). A prompt with a cell that was not judged is
    left out of every score and returned in the second list.

    Usage: matrices, incomplete = prompt_matrices(judgements, {s.id: s.metadata for s in samples})
    """
    cells: dict[str, dict[tuple[int, int], float]] = defaultdict(dict)
    domain: dict[str, str] = {}
    for sample_id, vote in pair_votes(judgements).items():
        meta = metadata[sample_id]
        prompt = str(meta["prompt_id"])
        i, j = STYLES.index(meta["chosen_style"]), STYLES.index(meta["rejected_style"])
        cells[prompt][(i, j)] = 1.0 if vote > 0 else 0.0
        domain[prompt] = str(meta["domain"])
    complete, incomplete = {}, []
    for prompt, got in cells.items():
        if len(got) < _N * _N:
            incomplete.append(prompt)
            continue
        complete[prompt] = (domain[prompt], [[got[(i, j)] for j in range(_N)] for i in range(_N)])
    return complete, incomplete


def _mean_matrix(matrices: list[Matrix]) -> Matrix:
    return [[sum(m[i][j] for m in matrices) / len(matrices) for j in range(_N)] for i in range(_N)]


def rmbench_scores(judgements: list[Judgement], metadata: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """easy / normal / hard / average overall and per domain (with its mean 3x3 matrix and the
    pairwise metrics of its judgements: accuracy, agreement, position bias, parse failures, ties);
    domains without prompts are listed in `missing_domains`.

    Usage: scores = rmbench_scores(judgements, {s.id: s.metadata for s in samples}); scores["hard"]
    """
    matrices, incomplete = prompt_matrices(judgements, metadata)
    by_domain: dict[str, list[Matrix]] = defaultdict(list)
    for domain, matrix in matrices.values():
        by_domain[domain].append(matrix)
    pairwise = pairwise_metrics(judgements)
    names = [d for d in DOMAINS if d in by_domain] + sorted(set(by_domain) - set(DOMAINS))
    domains: dict[str, dict[str, Any]] = {}
    for name in names:
        mean = _mean_matrix(by_domain[name])
        domains[name] = {**level_scores(mean), "n": len(by_domain[name]), "matrix": mean}
        sub = pairwise["subsets"][name]
        domains[name].update({k: sub[k] for k in (*METRIC_NAMES, *POSITION_NAMES)})
        if "tie_rate" in sub:
            domains[name]["tie_rate"] = sub["tie_rate"]
    every = [m for _, m in matrices.values()]
    overall = level_scores(_mean_matrix(every)) if every else dict.fromkeys((*LEVELS, "average"))
    return {
        **overall,
        "n_prompts": len(every),
        "matrix": _mean_matrix(every) if every else None,
        "domains": domains,
        "missing_domains": [d for d in DOMAINS if d not in by_domain],
        "incomplete_prompts": incomplete,
        "pairwise_overall": pairwise["overall"],
    }

"""Which N rows a stage keeps when it is told to keep N: a seeded random draw (the default), the same
draw stratified by subset, or the first N in file order (only when asked).

The draw ranks each row (or group of rows, e.g. an RM-Bench prompt's nine pairs) by sha256 of the
seed and its id, so it is reproducible and independent of row order and batching; the kept rows keep
their file order. Stratified: each subset gets its share of N by largest remainder, drawn the same
way inside the subset. One helper for the prep stage (`max_train` / `max_test`), the `eval` stage and
`judgerl eval --max-samples`, and the rewardbench, judgebench and rmbench stages (`max_samples`).

    kept, record = subsample(samples, 40, "stratified", seed=0)   # record: what was kept, for the manifest
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, Literal, TypeVar

T = TypeVar("T")
SubsampleMode = Literal["random", "stratified", "first"]
DEFAULT_SUBSAMPLE: SubsampleMode = "random"
SUBSAMPLE_MODES: tuple[str, ...] = ("random", "stratified", "first")


def _rank(seed: int, key: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}\x1f{key}\x1fsubsample".encode()).digest()[:8], "big")


def _quotas(sizes: dict[str, int], n: int) -> dict[str, int]:
    """Each stratum's share of n, proportional to its size, by largest remainder (ties: larger, then name)."""
    total = sum(sizes.values())
    exact = {s: n * size / total for s, size in sizes.items()}
    quota = {s: int(x) for s, x in exact.items()}
    left = n - sum(quota.values())
    for s in sorted(sizes, key=lambda s: (-(exact[s] - quota[s]), -sizes[s], s))[:left]:
        quota[s] += 1
    return quota


def subsample(
    rows: Sequence[T],
    n: int | None,
    mode: str = DEFAULT_SUBSAMPLE,
    seed: int = 0,
    *,
    key: Callable[[T], str] = lambda r: str(r.id),  # type: ignore[attr-defined]
    group: Callable[[T], str] | None = None,
    stratum: Callable[[T], str] = lambda r: str(r.subset or "all"),  # type: ignore[attr-defined]
    unit: str = "rows",
) -> tuple[list[T], dict[str, Any] | None]:
    """`n` rows of `rows` (all with n None) in file order, and a record of the draw (None when n is None).

    `mode`: "random" (seeded by `seed`, a row's rank is sha256(seed, key(row))), "stratified" (each
    `stratum` gets its proportional share, drawn likewise) or "first" (the first n, the old
    behaviour). With `group`, n counts groups (all rows of a kept group are kept, e.g. an RM-Bench
    prompt); `unit` names what n counts in the record.

    >>> from types import SimpleNamespace as R
    >>> rows = [R(id=str(i), subset="x" if i < 8 else "y") for i in range(10)]
    >>> [r.id for r in subsample(rows, 3, "first")[0]]
    ['0', '1', '2']
    >>> kept, record = subsample(rows, 5, "stratified", seed=0)
    >>> sorted(record["subsets"].items()), record["of"]
    ([('x', 4), ('y', 1)], 10)

    Usage: kept, record = subsample(samples, stage.max_samples, stage.subsample, ctx.seed)
    """
    if mode not in SUBSAMPLE_MODES:
        raise ValueError(f"subsample: expected one of {', '.join(SUBSAMPLE_MODES)}, got {mode!r}")
    if n is None:
        return list(rows), None
    if n < 1:
        raise ValueError(f"subsample: the number of {unit} to keep must be at least 1, got {n}")
    # a unit is a row (its rank hashes its key, so the draw ignores row order) or a group of rows
    unit_of: list[Any] = [group(r) if group else i for i, r in enumerate(rows)]
    first_row: dict[Any, T] = {}
    for u, r in zip(unit_of, rows, strict=True):
        first_row.setdefault(u, r)
    units = list(first_row)
    hash_key = {u: str(u) if group else key(first_row[u]) for u in units}
    stratum_of = {u: stratum(r) for u, r in first_row.items()}
    picked = _pick(units, hash_key, min(n, len(units)), mode, seed, stratum_of)
    kept = [r for u, r in zip(unit_of, rows, strict=True) if u in picked]
    record: dict[str, Any] = {"mode": mode, "n": len(picked), "of": len(units), "unit": unit}
    if mode != "first":
        record["seed"] = seed
    record["subsets"] = dict(sorted(Counter(stratum_of[u] for u in picked).items()))
    return kept, record


def _pick(
    units: list[Any], hash_key: dict[Any, str], n: int, mode: str, seed: int, stratum_of: dict[Any, str]
) -> set[Any]:
    if mode == "first" or n == 0:
        return set(units[:n])
    position = {u: i for i, u in enumerate(units)}
    ranked = sorted(units, key=lambda u: (_rank(seed, hash_key[u]), position[u]))
    if mode == "random":
        return set(ranked[:n])
    quota = _quotas(dict(Counter(stratum_of[u] for u in units)), n)
    kept: set[Any] = set()
    for u in ranked:
        if quota[stratum_of[u]] > 0:
            quota[stratum_of[u]] -= 1
            kept.add(u)
    return kept


def drop_unused_subsample(data: Any, key: str, counts: Sequence[str]) -> Any:
    """Leave a stage's `key` (its subsample mode) out of its dump where the dump then means what it did
    before the key existed: no count is set (nothing is drawn), or the mode is "first" (the first N,
    the old meaning). A seeded draw stays in the dump, so a stage that now draws other rows gets a new
    config hash and is not skipped with results of the first N. Usage: inside a `model_serializer`.

    >>> drop_unused_subsample({"max_samples": 40, "subsample": "first"}, "subsample", ["max_samples"])
    {'max_samples': 40}
    >>> drop_unused_subsample({"max_samples": 40, "subsample": "random"}, "subsample", ["max_samples"])
    {'max_samples': 40, 'subsample': 'random'}
    """
    unused = isinstance(data, dict) and all(data.get(c) is None for c in counts)
    if isinstance(data, dict) and key in data and (unused or data[key] == "first"):
        data.pop(key)
    return data

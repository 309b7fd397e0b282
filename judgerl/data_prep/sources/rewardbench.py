"""RewardBench v1 and v2 (allenai/reward-bench, allenai/reward-bench-2): by hub name or from local files.

v1 (`allenai/reward-bench`, split `filtered`, 2,985 rows): columns prompt, chosen, chosen_model,
rejected, rejected_model, subset, id. Each row becomes one pairwise JudgeSample with the chosen
response in (a) (label 'a'): the evaluation protocol, not the loader, decides the positions. A
pair whose two responses are identical is kept (the leaderboard scores it too).

v2 (`allenai/reward-bench-2`, split `test`, 1,865 rows): chosen and rejected are LISTS of
responses, plus num_correct and subset. A row does not fit the pairwise JudgeSample, so it
becomes a `RewardBench2Item`; `load_rewardbench2_pairs` expands rows into every (correct,
incorrect) pair for pairwise use. In the Ties subset the id names the prompt variant and the
prompt it belongs to ("ref:12" / "tied:12"): the official Ties score pairs the two variants of a
prompt by that id, so a Ties row with another id shape is a malformed row.

In both versions `prompt` is a string (one user turn) or, in local files, a list of
{role, content} messages ending with a user turn (a multi-turn conversation).
A local .jsonl/.json/.parquet file is read directly; anything else is handed to
`datasets.load_dataset(path, split=split)` (a hub id, or a local dataset folder).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from judgerl.core.errors import DataError
from judgerl.core.types import JudgeSample
from judgerl.data_prep.sources.base import (
    ROW_ERRORS,
    BadRow,
    LoadResult,
    OnBadRow,
    as_conversation,
    as_text,
    check_on_bad_row,
    convert_rows,
    describe_error,
    log,
    make_pair,
    user_turn,
)
from judgerl.data_prep.sources.readers import read_rows

V1_HUB = "allenai/reward-bench"
V1_SPLIT = "filtered"
V2_HUB = "allenai/reward-bench-2"
V2_SPLIT = "test"
V1_COLUMNS: tuple[str, ...] = (
    "prompt",
    "chosen",
    "chosen_model",
    "rejected",
    "rejected_model",
    "subset",
    "id",
)
V2_COLUMNS: tuple[str, ...] = ("id", "prompt", "chosen", "rejected", "num_correct", "subset")
TIES_SUBSET = "Ties"
_TIES_ID = re.compile(r"^(ref|tied):(\d+)$")


def rewardbench_conversation(prompt: Any) -> list[dict[str, str]]:
    """Chat messages from a RewardBench prompt: a string (one user turn) or a list of messages.

    >>> rewardbench_conversation("Hi?")
    [{'role': 'user', 'content': 'Hi?'}]
    >>> len(rewardbench_conversation([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
    ...                               {"role": "user", "content": "c"}]))
    3
    """
    if isinstance(prompt, str):
        return user_turn(prompt)
    return as_conversation(prompt)


def read_rewardbench_rows(path: str | os.PathLike[str], split: str, **load_kwargs: Any) -> Iterable[Any]:
    """The raw rows of a local .jsonl/.json/.parquet file, or of `datasets.load_dataset(path, split=split)`.

    Usage: rows = read_rewardbench_rows("allenai/reward-bench", "filtered")
    """
    file = Path(path)
    if file.is_file():
        if load_kwargs:
            raise ValueError(f"{file}: dataset options {sorted(load_kwargs)} apply only to hub names")
        return read_rows(file)
    if not isinstance(path, str) or not path:
        raise ValueError(f"RewardBench data must be a local file or a dataset name, got {path!r}")
    if path.endswith((".jsonl", ".json", ".parquet")):
        raise ValueError(f"RewardBench data file {path} does not exist")

    import datasets  # lazy: importing datasets is slow and only hub sources need it

    return datasets.load_dataset(path, split=split, **load_kwargs)


def _check_subsets(subsets: Sequence[str] | None) -> set[str] | None:
    if subsets is None:
        return None
    if isinstance(subsets, str) or not all(isinstance(s, str) for s in subsets):
        raise ValueError(f"subsets must be a list of subset names, got {subsets!r}")
    return set(subsets)


def _keep_subsets(rows: list[Any], wanted: set[str] | None, subset_of: Any, source: str) -> list[Any]:
    """The rows in the wanted subsets (all when None); a requested subset with no rows is logged."""
    if wanted is None:
        return rows
    absent = sorted(wanted - {subset_of(x) for x in rows})
    if absent:
        log.warning("%s: requested subset(s) %s have no rows", source, absent)
    return [x for x in rows if subset_of(x) in wanted]


def v1_row_fn(source: str) -> Any:
    """Row function for v1 rows: chosen in (a), label 'a'; models and the row index in metadata.

    Usage: convert_rows("reward-bench", rows, v1_row_fn("reward-bench"))
    """

    def row_fn(index: int, row: Any) -> JudgeSample:
        if not isinstance(row, dict):
            raise TypeError(f"row must be an object, got {type(row).__name__}")
        metadata: dict[str, Any] = {"row": index}
        metadata.update(
            {k: row[k] for k in ("chosen_model", "rejected_model") if isinstance(row.get(k), str)}
        )
        subset = as_text(row["subset"], "subset")
        if not subset:
            raise ValueError("subset must be a non-empty string")
        return make_pair(
            sample_id=str(row["id"]),
            source=source,
            conversation=rewardbench_conversation(row["prompt"]),
            chosen=as_text(row["chosen"], "chosen"),
            rejected=as_text(row["rejected"], "rejected"),
            chosen_first=True,
            subset=subset,
            metadata=metadata,
        )

    return row_fn


def load_rewardbench(
    path: str | os.PathLike[str] = V1_HUB,
    split: str = V1_SPLIT,
    subsets: Sequence[str] | None = None,
    on_bad_row: OnBadRow = "stop",
    source_name: str = "reward-bench",
    **load_kwargs: Any,
) -> LoadResult:
    """RewardBench v1 as JudgeSamples (chosen in (a)), from the hub or a local file in its columns.

    `subsets` keeps only the named subsets (a requested subset with no rows is logged).
    Source kind "rewardbench": {"kind": "rewardbench", "path": "rb.parquet"}.

    Usage: load_rewardbench()                       # allenai/reward-bench, split filtered
           load_rewardbench("rb_v1.jsonl", subsets=["math-prm"])
    """
    check_on_bad_row(on_bad_row)
    wanted = _check_subsets(subsets)
    rows = read_rewardbench_rows(path, split, **load_kwargs)
    result = convert_rows(source_name, rows, v1_row_fn(source_name), on_bad_row)
    result.samples = _keep_subsets(result.samples, wanted, lambda s: s.subset, result.source)
    return result


@dataclass(frozen=True)
class RewardBench2Item:
    """One RewardBench 2 row: a prompt, its correct responses and its incorrect ones.

    `num_correct` equals len(chosen). Outside Ties there is one correct response and (usually)
    three incorrect ones: the best-of-4 task. In Ties, `tie_kind` ('ref' or 'tied') and
    `tie_prompt` come from the id ("tied:12").

    >>> item = RewardBench2Item("7", [{"role": "user", "content": "q"}], ["good"], ["b1", "b2", "b3"], "Math")
    >>> item.responses, item.num_correct
    (['good', 'b1', 'b2', 'b3'], 1)
    """

    id: str
    conversation: list[dict[str, str]]
    chosen: list[str]
    rejected: list[str]
    subset: str
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.chosen or not self.rejected:
            raise ValueError(
                f"a RewardBench 2 row needs at least one chosen and one rejected response, "
                f"got {len(self.chosen)} and {len(self.rejected)}"
            )
        for name, texts in (("chosen", self.chosen), ("rejected", self.rejected)):
            for i, text in enumerate(texts):
                if not isinstance(text, str):
                    raise ValueError(f"{name}[{i}] must be a string, got {type(text).__name__}")
        if not self.conversation or self.conversation[-1].get("role") != "user":
            raise ValueError("conversation must be a non-empty list of messages ending with a user turn")
        if self.subset == TIES_SUBSET and not _TIES_ID.match(self.id):
            raise ValueError(f"a Ties row's id must look like 'ref:N' or 'tied:N', got {self.id!r}")

    @property
    def num_correct(self) -> int:
        """How many of `responses` (the first ones) are correct."""
        return len(self.chosen)

    @property
    def responses(self) -> list[str]:
        """All responses, correct ones first (the order the Ties score reads them in)."""
        return [*self.chosen, *self.rejected]

    @property
    def is_ties(self) -> bool:
        """True for a row of the Ties subset."""
        return self.subset == TIES_SUBSET

    @property
    def tie_kind(self) -> str | None:
        """'ref' or 'tied' for a Ties row, else None."""
        m = _TIES_ID.match(self.id) if self.is_ties else None
        return m.group(1) if m else None

    @property
    def tie_prompt(self) -> int | None:
        """The prompt number a Ties row belongs to, else None."""
        m = _TIES_ID.match(self.id) if self.is_ties else None
        return int(m.group(2)) if m else None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict. Usage: json.dumps(item.to_dict())."""
        return asdict(self)


@dataclass
class RewardBench2LoadResult:
    """RewardBench 2 items plus the rows that were skipped (index, reason).

    >>> RewardBench2LoadResult("reward-bench-2").summary()
    'reward-bench-2: 0 rows, 0 skipped'
    """

    source: str
    items: list[RewardBench2Item] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.items)

    def summary(self) -> str:
        """One line for a log: "reward-bench-2: 1865 rows, 0 skipped"."""
        return f"{self.source}: {len(self.items)} rows, {len(self.skipped)} skipped"


def _text_list(value: Any, name: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ValueError(f"{name} must be a list of strings, got {type(value).__name__}")
    return [as_text(v, f"{name}[{i}]") for i, v in enumerate(value)]


def v2_item_from_row(index: int, row: Any) -> RewardBench2Item:
    """A RewardBench2Item from a v2 row; raises ValueError/KeyError/TypeError on a malformed row.

    Usage: v2_item_from_row(0, {"id": "1", "prompt": "q", "chosen": ["a"], "rejected": ["b"],
                                "num_correct": 1, "subset": "Focus"})
    """
    if not isinstance(row, dict):
        raise TypeError(f"row must be an object, got {type(row).__name__}")
    chosen = _text_list(row["chosen"], "chosen")
    rejected = _text_list(row["rejected"], "rejected")
    num_correct = row.get("num_correct", len(chosen))
    if isinstance(num_correct, bool) or not isinstance(num_correct, int) or num_correct != len(chosen):
        raise ValueError(f"num_correct is {num_correct!r} but chosen holds {len(chosen)} responses")
    subset = as_text(row["subset"], "subset")
    if not subset:
        raise ValueError("subset must be a non-empty string")
    metadata: dict[str, Any] = {"row": index}
    if isinstance(row.get("models"), (list, tuple)):
        metadata["models"] = [str(m) for m in row["models"]]
    return RewardBench2Item(
        id=str(row["id"]),
        conversation=rewardbench_conversation(row["prompt"]),
        chosen=chosen,
        rejected=rejected,
        subset=subset,
        metadata=metadata,
    )


def load_rewardbench2(
    path: str | os.PathLike[str] = V2_HUB,
    split: str = V2_SPLIT,
    subsets: Sequence[str] | None = None,
    on_bad_row: OnBadRow = "stop",
    source_name: str = "reward-bench-2",
    **load_kwargs: Any,
) -> RewardBench2LoadResult:
    """RewardBench 2 rows as RewardBench2Items, from the hub or a local file in its columns.

    A malformed row stops the load with a DataError naming the row (or, with on_bad_row="skip",
    is listed in `skipped`); a repeated id is malformed too.

    Usage: load_rewardbench2()                      # allenai/reward-bench-2, split test
           load_rewardbench2("rb2.parquet", subsets=["Ties"])
    """
    check_on_bad_row(on_bad_row)
    wanted = _check_subsets(subsets)
    result = RewardBench2LoadResult(source_name)
    seen: dict[str, int] = {}
    for index, row in enumerate(read_rewardbench_rows(path, split, **load_kwargs)):
        try:
            if isinstance(row, BadRow):
                raise DataError(row.reason)
            item = v2_item_from_row(index, row)
            if item.id in seen:
                raise DataError(f"duplicate id {item.id!r} (first seen at row {seen[item.id]})")
        except ROW_ERRORS as exc:
            reason = describe_error(exc)
            if on_bad_row == "stop":
                raise DataError(
                    f"{source_name}: row {index}: {reason} (set on_bad_row: skip to skip bad rows)"
                ) from exc
            result.skipped.append((index, reason))
            continue
        seen[item.id] = index
        result.items.append(item)
    if result.skipped:
        log.warning(
            "%s: skipped %d bad rows; first: row %d: %s",
            source_name,
            len(result.skipped),
            *result.skipped[0],
        )
    result.items = _keep_subsets(result.items, wanted, lambda i: i.subset, source_name)
    return result


def load_rewardbench2_pairs(
    path: str | os.PathLike[str] = V2_HUB,
    split: str = V2_SPLIT,
    subsets: Sequence[str] | None = None,
    on_bad_row: OnBadRow = "stop",
    source_name: str = "reward-bench-2",
    **load_kwargs: Any,
) -> LoadResult:
    """RewardBench 2 as pairwise JudgeSamples: every (correct, incorrect) pair of a row, chosen in (a).

    Ids look like "<row id>/c0-r2" (correct 0 against incorrect 2); the row id is kept in
    metadata["item_id"]. Source kind "rewardbench2": {"kind": "rewardbench2", "path": "rb2.jsonl"}.

    Usage: load_rewardbench2_pairs("rb2.parquet", subsets=["Focus"])
    """
    loaded = load_rewardbench2(path, split, subsets, on_bad_row, source_name, **load_kwargs)
    result = LoadResult(source_name, skipped=list(loaded.skipped))
    for item in loaded.items:
        for i, chosen in enumerate(item.chosen):
            for j, rejected in enumerate(item.rejected):
                result.samples.append(
                    make_pair(
                        sample_id=f"{item.id}/c{i}-r{j}",
                        source=source_name,
                        conversation=item.conversation,
                        chosen=chosen,
                        rejected=rejected,
                        subset=item.subset,
                        metadata={"item_id": item.id, "chosen_index": i, "rejected_index": j},
                    )
                )
    return result

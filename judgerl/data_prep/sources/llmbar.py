"""LLMBar (Zeng et al., 2023): instruction-following pairs in LLMBar's own format, from a file or a folder.

A row is `input` (the instruction), `output_1`, `output_2` and `label` (1 or 2: the better output),
the format of LLMBar's whole Dataset/ tree (Natural, Adversarial, the processed sets, the case
studies). The subset of a file is RewardBench's name for it when it is one of the five files
RewardBench names (`Natural.json` -> `llmbar-natural`, ...), else its path under the folder
without the suffix, a last `dataset` part dropped (`LLMBar/Adversarial/Neighbor/dataset.json` ->
`LLMBar/Adversarial/Neighbor`); a single file that is not one of the five takes its stem (or, for
`dataset.json`, its folder's name).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from judgerl.core.errors import DataError
from judgerl.core.types import JudgeSample
from judgerl.data_prep.sources.base import (
    LoadResult,
    OnBadRow,
    RowFn,
    as_text,
    check_on_bad_row,
    convert_rows,
    user_turn,
)
from judgerl.data_prep.sources.readers import data_files, read_rows

SOURCE = "llmbar"
# RewardBench subset name -> LLMBar file, in RewardBench's order
LLMBAR_FILES: dict[str, str] = {
    "llmbar-natural": "Natural.json",
    "llmbar-adver-neighbor": "Adversarial_Neighbor.json",
    "llmbar-adver-GPTInst": "Adversarial_GPTInst.json",
    "llmbar-adver-GPTOut": "Adversarial_GPTOut.json",
    "llmbar-adver-manual": "Adversarial_Manual.json",
}


def parse_llmbar_label(value: Any) -> str:
    """LLMBar's label (1 or 2: which output is better) as 'a' or 'b'. Usage: parse_llmbar_label(2) -> 'b'."""
    if isinstance(value, bool):
        raise ValueError(f"label must be 1 or 2, got {value!r}")
    if value in (1, "1"):
        return "a"
    if value in (2, "2"):
        return "b"
    raise ValueError(f"label must be 1 or 2, got {value!r}")


def llmbar_subset(file: Path, root: Path | None = None) -> str:
    """The subset name of an LLMBar-format file (see the module docstring).

    >>> llmbar_subset(Path("x/Natural.json")), llmbar_subset(Path("d/CaseStudy/Negation/dataset.json"), Path("d"))
    ('llmbar-natural', 'CaseStudy/Negation')
    """
    for subset, file_name in LLMBAR_FILES.items():
        if file.name == file_name:
            return subset
    if root is None or file == root:
        return file.parent.name if file.stem == "dataset" and file.parent.name else file.stem
    parts = list(file.relative_to(root).with_suffix("").parts)
    if len(parts) > 1 and parts[-1] == "dataset":
        parts.pop()
    return "/".join(parts)


def load_llmbar(
    dir_path: str | os.PathLike[str] | None = None,
    subsets: Sequence[str] | None = None,
    on_bad_row: OnBadRow = "stop",
    *,
    path: str | os.PathLike[str] | None = None,
) -> LoadResult:
    """Load LLMBar-format pairs from a file or a folder (`path`, or `dir_path` as before).

    A folder's files are read recursively: RewardBench's five files first, in its order, then the
    others sorted. `subsets` keeps only the named subsets (see `llmbar_subset`); naming one that
    is not there is an error listing those found. output_1 becomes response (a), output_2
    response (b); strength is unknown (None). Ids look like "llmbar-natural-0007" (subset name +
    row index in its file); a skipped row's reason names its file.

    Usage: load_llmbar("/work/shared/data/llmbar", subsets=["llmbar-natural"])
           load_llmbar(path="Dataset/CaseStudy/Negation/dataset.json")
    """
    check_on_bad_row(on_bad_row)
    if (dir_path is None) == (path is None):
        raise ValueError("load_llmbar: give the file or folder once, as `path` (or `dir_path`)")
    root = Path(path if path is not None else dir_path)  # type: ignore[arg-type]
    if not root.exists():
        raise DataError(f"{SOURCE}: {root}: no such file or folder")
    files = data_files(root)
    named = {f.name: f for f in files if f.parent == root and f.name in LLMBAR_FILES.values()}
    ordered = [named[n] for n in LLMBAR_FILES.values() if n in named]
    ordered += [f for f in files if f not in ordered]
    by_subset = {llmbar_subset(f, root if root.is_dir() else None): f for f in ordered}
    wanted = list(by_subset) if subsets is None else list(subsets)
    unknown = [s for s in wanted if s not in by_subset]
    if unknown:
        raise ValueError(f"unknown LLMBar subset(s) {unknown}; found under {root}: {list(by_subset)}")
    result = LoadResult(SOURCE)
    for subset in wanted:
        file = by_subset[subset]
        label = str(file.relative_to(root)) if root.is_dir() else file.name
        part = convert_rows(f"{SOURCE}/{label}", read_rows(file), llmbar_row_fn(subset, label), on_bad_row)
        result.extend(part, prefix=label)
    return result


def llmbar_row_fn(subset: str, file_name: str) -> RowFn:
    """Row function of LLMBar-format rows of one file (ids "<subset>-<row index>"). Usage: llmbar_row_fn("x", "x.json")."""

    def row_fn(index: int, row: Any) -> JudgeSample:
        if not isinstance(row, dict):
            raise TypeError(f"row must be an object, got {type(row).__name__}")
        return JudgeSample(
            id=f"{subset}-{index:04d}",
            source=SOURCE,
            conversation=user_turn(row["input"]),
            response_a=as_text(row["output_1"], "output_1"),
            response_b=as_text(row["output_2"], "output_2"),
            label=parse_llmbar_label(row["label"]),
            strength=None,
            subset=subset,
            metadata={"file": file_name, "row": index},
        )

    return row_fn

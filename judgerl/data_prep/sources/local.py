"""Local files and folders (.jsonl, .json, .parquet, .csv) into JudgeSample rows, in a detected or mapped format.

Without a column mapping each file's format is detected from its columns (formats.FORMATS: LLMBar,
RewardBench v1/v2, TRL's preference formats, HelpSteer2, Skywork, hh-rlhf, JudgeBench, RM-Bench,
Think-J's alpaca, DPO and inference files, verl rows, judgerl's own rows, ...) or forced with
`format`; with `columns` the file's columns are mapped to judgerl's fields (columns.py). A folder
is read file by file (recursively, sorted); an id repeated in another file is a bad row like one
repeated within a file. A .json file read as JSON Lines is named in the result's notes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from judgerl.core.errors import DataError
from judgerl.data_prep.sources.base import LoadResult, OnBadRow, check_on_bad_row, convert_rows
from judgerl.data_prep.sources.columns import StrengthSign, mapped_row_fn
from judgerl.data_prep.sources.formats import AUTO, FORMATS, FormatOptions, detect_format, load_format
from judgerl.data_prep.sources.readers import SUFFIXES, data_files, read_file_rows, read_rows

LOCAL_SUFFIXES: tuple[str, ...] = SUFFIXES
MAPPED = "mapped"

__all__ = ["LOCAL_SUFFIXES", "MAPPED", "load_local", "read_rows"]


def load_local(
    path: str | os.PathLike[str],
    columns: Mapping[str, str] | None = None,
    on_bad_row: OnBadRow = "stop",
    source_name: str | None = None,
    *,
    label: str | None = None,
    swap_seed: int | None = None,
    format: str = AUTO,
    label_map: Mapping[Any, str] | None = None,
    strength_map: Mapping[Any, int] | None = None,
    strength_sign: StrengthSign = "signed",
) -> LoadResult:
    """Load judge samples from a local file or folder, in a detected, named or mapped format.

    `format` is "auto" (detect each file's format from its columns), a name in formats.FORMATS,
    or "judgerl". `columns` maps judgerl fields to file columns instead (see
    columns.MAPPABLE_FIELDS): `question` (a string, one user turn) or `conversation` (messages),
    `response_a`, `response_b`, and the label as a column (read through `label_map` when given)
    or as the constant `label`; a strength column is read through `strength_map` and
    `strength_sign`. For a chosen/rejected file map response_a to chosen, response_b to rejected
    and pass label="a"; `swap_seed` then flips each row's positions by a seeded per-row hash so
    about half the labels become 'b' (a detected chosen/rejected format does so with seed 0
    unless told otherwise). `source_name` defaults to the format's source or the file's stem.
    `result.formats` names each file's format.

    Usage: load_local("prefs.parquet", {"question": "prompt", "response_a": "chosen",
                                        "response_b": "rejected"}, label="a", swap_seed=0)
           load_local("LLMBar/Dataset")               # every file, format detected
    """
    check_on_bad_row(on_bad_row)
    mapping_keys = label is not None or label_map is not None or strength_map is not None
    if columns is None and mapping_keys:
        raise ValueError("label, label_map and strength_map need a column mapping (columns=...)")
    if columns is not None and format not in (AUTO, MAPPED):
        raise ValueError(f"give either a format ({format!r}) or a column mapping (columns=...), not both")
    if format not in (AUTO, MAPPED, *FORMATS):
        raise ValueError(f"unknown format {format!r}; known formats: {', '.join([AUTO, *FORMATS])}")
    root = Path(path)
    files = data_files(root)
    folder = root if root.is_dir() else None
    options = FormatOptions(on_bad_row, source_name, swap_seed, swap_seed is not None, folder)
    result = LoadResult(source_name or root.stem)
    seen: dict[str, str] = {}
    for file in files:
        where = str(file.relative_to(folder)) if folder is not None else file.name
        read = read_file_rows(file)
        rows = read.rows
        if columns is not None:
            name = MAPPED
            row_fn = mapped_row_fn(
                columns,
                source_name or file.stem,
                label=label,
                swap_seed=swap_seed,
                label_map=label_map,
                strength_map=strength_map,
                strength_sign=strength_sign,
            )
            part = convert_rows(source_name or file.stem, rows, row_fn, on_bad_row)
        else:
            name = detect_format(rows, str(file)) if format == AUTO else format
            part = load_format(name, file, rows, options)
        part.formats = {str(file): name}
        if read.note:
            part.notes.append(f"{where}: {read.note}")
        if len(files) == 1:
            result.source = part.source
        _check_ids_across_files(part, where, seen, on_bad_row)
        result.extend(part, prefix=where if folder is not None else "")
    return result


def _check_ids_across_files(part: LoadResult, where: str, seen: dict[str, str], on_bad_row: OnBadRow) -> None:
    """Drop (or, with "stop", refuse) samples whose id an earlier file of the same folder already used."""
    kept = []
    for position, sample in enumerate(part.samples):
        if sample.id in seen and seen[sample.id] != where:
            reason = f"duplicate id {sample.id!r} (first seen in {seen[sample.id]})"
            if on_bad_row == "stop":
                raise DataError(
                    f"{where}: sample {position}: {reason} (set on_bad_row: skip to skip bad rows)"
                )
            part.skipped.append((position, reason))
            continue
        seen[sample.id] = where
        kept.append(sample)
    part.samples = kept

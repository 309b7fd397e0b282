"""The row files probes read and write: a JSON list (INSPECTOR's layout), JSONL, parquet or CSV.

INSPECTOR's scripts read and write one JSON list of {question, prediction} objects
(`Meta-Llama-3-8B-Instruct_gsm8k_results.json`); judgerl's own files are JSONL. Files with a
known suffix are read by the one file reader (`judgerl.data_prep.sources.readers.read_rows`,
which also reads a `.json` file of JSON lines); a file with any other suffix is told apart by its
first character ('[' a JSON list, else JSON lines). Output follows the suffix of the path written:
`.json` gives a JSON list (what INSPECTOR's quick_eval writes), anything else JSON lines.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from judgerl.core.errors import DataError
from judgerl.core.jsonl import read_jsonl, write_json, write_jsonl
from judgerl.data_prep.sources.base import BadRow
from judgerl.data_prep.sources.readers import SUFFIXES, read_rows


def _first_char(file: Path) -> str:
    with open(file, "rb") as f:
        head = f.read(4096)
    return head.decode("utf-8-sig", errors="replace").lstrip()[:1]


def read_raw_rows(path: str | os.PathLike[str]) -> list[Any]:
    """The rows of a JSON list, JSONL, parquet or CSV file; an unreadable JSONL line is a `BadRow`.

    Usage: rows = read_raw_rows("Meta-Llama-3-8B-Instruct_gsm8k_results.json")
    """
    file = Path(path)
    if not file.is_file():
        raise DataError(f"{file}: no such file")
    if file.suffix.lower() in SUFFIXES:
        return read_rows(file)  # a .json holding JSON lines is read as JSON lines there
    try:
        if _first_char(file) == "[":
            return list(json.loads(file.read_text(encoding="utf-8-sig")))
        return read_jsonl(file)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{file}: neither a JSON list nor JSON lines ({exc})") from None


def read_sample_rows(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The rows of a data file as objects; a row that is not an object is a DataError naming it.

    Usage: samples = read_sample_rows("results.json")  # a JSON list or JSON lines
    """
    rows = read_raw_rows(path)
    for i, row in enumerate(rows):
        if isinstance(row, BadRow):
            raise DataError(f"{path}: row {i}: {row.reason}")
        if not isinstance(row, dict):
            raise DataError(f"{path}: row {i}: expected an object, got {type(row).__name__}")
    return rows


def write_sample_rows(path: str | os.PathLike[str], rows: Iterable[dict[str, Any]]) -> int:
    """Write rows atomically: a JSON list when `path` ends in .json, else JSON lines; returns the count.

    Usage: write_sample_rows("results_scored.json", scored)
    """
    if Path(path).suffix.lower() == ".json":
        items = list(rows)
        write_json(path, items)
        return len(items)
    return write_jsonl(path, rows)

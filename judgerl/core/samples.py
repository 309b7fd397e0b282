"""Reading and writing JudgeSample JSONL files (judgerl's hand-off format between stages)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from judgerl.core.errors import DataError
from judgerl.core.jsonl import write_jsonl
from judgerl.core.types import JudgeSample


def _rows(path: Path) -> Iterable[tuple[int, Any]]:
    """(line number, parsed JSON) of each non-blank line; DataError for bytes or text that is not JSON."""
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below; opening errors are reported as one line
    except OSError as e:
        raise DataError(f"{path}: cannot be read ({e.strerror or e})") from None
    with f:
        for number, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as e:
                raise DataError(
                    f"{path}: line {number} is not UTF-8 text (byte {e.start} of the line: {e.reason}); "
                    "expected JSON lines of judge samples"
                ) from None
            if not line.strip():
                continue
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(
                    f"{path}: line {number} is not JSON ({e.msg} at column {e.colno}); expected one judge "
                    "sample per line"
                ) from None


def read_samples(path: str | os.PathLike[str], unique: bool = False) -> list[JudgeSample]:
    """Read JudgeSample rows; a malformed row raises DataError naming the file and row index (and
    line): a missing file or folder, bytes that are not UTF-8, a line that is not JSON, a row that is
    not a judge sample. With `unique` a sample id given twice in the same answer order is an error
    too (an evaluation scores each item once; training files may repeat an item with other traces).

    Usage: samples = read_samples("runs/quickstart/data/test.jsonl", unique=True)
    """
    p = Path(path)
    if not p.exists():
        raise DataError(f"{path}: no such file (did the stage that writes it run?)")
    if p.is_dir():
        raise DataError(f"{path}: is a folder; expected a JSONL file of judge samples")
    samples: list[JudgeSample] = []
    first_row: dict[tuple[str, str], int] = {}
    for i, (line, row) in enumerate(_rows(p)):
        try:
            sample = JudgeSample.from_dict(row)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise DataError(f"{path}: row {i} (line {line}) is not a judge sample: {e}") from e
        key = (sample.id, sample.order)
        if unique and key in first_row:
            raise DataError(
                f"{path}: row {i} (line {line}) repeats sample id {sample.id!r} in order {sample.order!r} "
                f"(first in row {first_row[key]}); expected each id once per answer order"
            )
        first_row.setdefault(key, i)
        samples.append(sample)
    return samples


def write_samples(path: str | os.PathLike[str], samples: Iterable[JudgeSample]) -> int:
    """Write JudgeSample rows atomically; returns the count. Usage: write_samples("x.jsonl", samples)."""
    return write_jsonl(path, (s.to_dict() for s in samples))

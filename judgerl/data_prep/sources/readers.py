"""Raw rows from local files (.jsonl, .json, .parquet, .csv) and folders of them.

A JSONL line that cannot be read (invalid UTF-8, not JSON, cut off at the end of the file) becomes
a `BadRow` naming its line, so a loader reports it by index under its skip/stop policy instead of
failing the whole file. A UTF-8 byte-order mark at the start of a file is ignored. A whole-file
format (.json, .parquet, .csv) that cannot be read is a `DataError` naming the file (and, for
JSON, the line and column).

A `.json` file that is really JSON Lines (one object per line, as RewardBench's `filtered.json`
is stored where Think-J reads it) is read as JSON Lines: `read_file_rows` says so in its `note`
(and a warning is logged), so a loader can report how the file was read.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from judgerl.core.errors import DataError
from judgerl.data_prep.sources.base import BadRow, log

SUFFIXES: tuple[str, ...] = (".jsonl", ".json", ".parquet", ".csv")
_BOM = b"\xef\xbb\xbf"
JSON_LINES_NOTE = "read as JSON Lines (the .json file holds one JSON object per line, not one JSON document)"


@dataclass(frozen=True)
class FileRows:
    """The raw rows of one file, and a note when it was read otherwise than its suffix says ('' if not)."""

    rows: list[Any]
    note: str = ""


def read_rows(path: str | os.PathLike[str]) -> list[Any]:
    """The raw rows of one .jsonl, .json (a list, or {"data": [...]}, or JSON Lines), .parquet or .csv file.

    Usage: rows = read_rows("pairs.parquet")
    """
    return read_file_rows(path).rows


def read_file_rows(path: str | os.PathLike[str]) -> FileRows:
    """`read_rows` with the note of how the file was read (a .json file of JSON Lines says so).

    Usage: read = read_file_rows("filtered.json"); print(read.note or "read as its suffix says")
    """
    file = Path(path)
    if not file.is_file():
        raise DataError(f"{file}: no such file")
    suffix = file.suffix.lower()
    if suffix == ".jsonl":
        return FileRows(_jsonl_rows(file.read_bytes()))
    if suffix == ".json":
        return _read_json(file)
    if suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            return FileRows(pq.read_table(file).to_pylist())
        except (pa.ArrowException, OSError) as exc:
            raise DataError(f"{file}: not a readable parquet file ({exc})") from exc
    if suffix == ".csv":
        return FileRows(_read_csv(file))
    raise DataError(f"{file}: unsupported file type {suffix!r}; use one of {list(SUFFIXES)}")


def data_files(path: str | os.PathLike[str]) -> list[Path]:
    """The data files a path names: the file itself, or every file with a known suffix under a folder.

    Files under a folder are listed recursively in sorted order (hidden files skipped). A folder
    without any is a DataError. Usage: for f in data_files("Dataset/"): ...
    """
    root = Path(path)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise DataError(f"{root}: no such file or folder")
    found = sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix.lower() in SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    if not found:
        raise DataError(f"{root}: no data files ({', '.join(SUFFIXES)}) in this folder")
    return found


def _jsonl_rows(raw: bytes) -> list[Any]:
    if raw.startswith(_BOM):
        raw = raw[len(_BOM) :]
    rows: list[Any] = []
    lines = raw.split(b"\n")
    last = len(lines)
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            rows.append(BadRow(f"line {line_no} is not valid UTF-8 (byte {exc.start} of the line)"))
            continue
        try:
            rows.append(json.loads(text))
        except json.JSONDecodeError as exc:
            cut = " (the file ends inside it: a truncated last line?)" if line_no == last else ""
            rows.append(BadRow(f"line {line_no} is not valid JSON ({exc.msg}){cut}"))
    return rows


def _decode(file: Path) -> str:
    raw = file.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(f"{file}: not valid UTF-8 at byte {exc.start}") from exc


def _read_json(file: Path) -> FileRows:
    text = _decode(file)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        if _is_json_lines(text, exc):
            log.warning("%s: %s", file, JSON_LINES_NOTE)
            return FileRows(_jsonl_rows(file.read_bytes()), JSON_LINES_NOTE)
        raise DataError(
            f"{file}: not valid JSON at line {exc.lineno}, column {exc.colno} ({exc.msg})"
        ) from exc
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        return FileRows(data["data"])
    if isinstance(data, list):
        return FileRows(data)
    raise DataError(f'{file}: expected a JSON list of objects or {{"data": [...]}}')


def _is_json_lines(text: str, error: json.JSONDecodeError) -> bool:
    """True when the text is one JSON object, a line break, then more: JSON Lines, not a broken document.

    A broken line further down is then that line's bad row, reported by the JSON Lines reader.
    """
    if error.msg != "Extra data":
        return False
    head = text[: error.pos]  # the first value and the whitespace after it
    if "\n" not in head[len(head.rstrip()) :]:
        return False
    try:
        return isinstance(json.loads(head), dict)
    except json.JSONDecodeError:
        return False


def _read_csv(file: Path) -> list[Any]:
    import io

    import pyarrow as pa
    import pyarrow.csv as pa_csv

    # decoded here so a bad byte is reported with its offset; pyarrow infers the column types
    data = io.BytesIO(_decode(file).encode("utf-8"))
    try:
        return pa_csv.read_csv(data).to_pylist()
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataError(f"{file}: not a readable CSV file ({exc})") from exc

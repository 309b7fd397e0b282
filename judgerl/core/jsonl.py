"""Atomic file writes and JSON/JSONL IO."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], durable: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it over `path` only if the block succeeds.

    `durable` flushes the new file to disk before the rename, so that a power cut leaves the old
    file or the new one, never a torn one (for manifests; it costs a disk flush per write).

    >>> with atomic_path("out.json") as tmp: tmp.write_text("{}")  # doctest: +SKIP
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; a finished file gets the usual mode
    try:
        yield tmp
        if durable:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text_atomic(path: str | os.PathLike[str], text: str, durable: bool = False) -> Path:
    """Write `text` to `path` atomically (flushed to disk first when `durable`).

    Usage: write_text_atomic("a.txt", "hi")
    """
    with atomic_path(path, durable) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_json(path: str | os.PathLike[str], obj: Any, durable: bool = False) -> Path:
    """Write `obj` as indented JSON, atomically (flushed to disk first when `durable`).

    Usage: write_json("m.json", {"a": 1})
    """
    return write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n", durable)


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file. Usage: read_json("m.json")."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write_jsonl(path: str | os.PathLike[str], rows: Iterable[dict[str, Any]]) -> int:
    """Write rows as JSON lines, atomically; returns the row count. Usage: write_jsonl("x.jsonl", rows)."""
    n = 0
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
            n += 1
    return n


def read_jsonl(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read JSON lines (blank lines ignored). Usage: rows = read_jsonl("x.jsonl")."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                rows.append(json.loads(line))
    return rows


def read_appended(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read a JSONL file that a resumable job appends to, cutting off a torn last line.

    A job killed mid-write leaves a last line without its newline (or cut inside the JSON); that
    line is removed from the file, so the next append starts on a clean line, and the row is
    simply produced again. An unreadable line anywhere else is corruption: ValueError with its
    byte offset. A missing file reads as no rows.

    Usage: done = {r["id"]: r for r in read_appended("runs/x/partial.jsonl")}
    """
    p = Path(path)
    if not p.exists():
        return []
    raw = p.read_bytes()
    rows: list[dict[str, Any]] = []
    good_end = 0
    for line in raw.splitlines(keepends=True):
        try:
            if not line.endswith(b"\n"):
                raise ValueError("no newline")
            if line.strip():
                rows.append(json.loads(line))
        except ValueError:
            if good_end + len(line) < len(raw):
                raise ValueError(f"{p}: unreadable line at byte {good_end} (not the last line)") from None
            with open(p, "r+b") as f:
                f.truncate(good_end)
            break
        good_end += len(line)
    return rows

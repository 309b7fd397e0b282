"""answers.jsonl: the teacher's raw answers, one line per finished (sample, order), appended as they come.

A rerun reads the file and asks the teacher only for what is missing. A line cut by a crash (no
newline, or not JSON) can only be the last one: it is detected, reported and kept aside in
answers.torn.txt, and that one job is asked again; an unreadable line elsewhere is corruption
and stops the stage (judgerl.core.jsonl.read_appended).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from judgerl.core.errors import StageError
from judgerl.core.jsonl import read_appended
from judgerl.core.types import JudgeSample

TORN_SUFFIX = ".torn.txt"


@dataclass
class Finished:
    """What an earlier attempt left: rows by (index, order), and the torn last line if there was one."""

    rows: dict[tuple[int, str], dict[str, Any]] = field(default_factory=dict)
    torn: str | None = None


def torn_tail(path: Path) -> str | None:
    """The last line of `path` when a crash cut it (no newline, or not JSON), else None.

    Usage: if torn_tail(p): log.warning("a torn line")
    """
    if not path.exists():
        return None
    raw = path.read_bytes()
    if not raw:
        return None
    if not raw.endswith(b"\n"):
        return raw.rsplit(b"\n", 1)[-1].decode("utf-8", errors="replace")
    last = raw[:-1].rsplit(b"\n", 1)[-1]
    if not last.strip():
        return None
    try:
        json.loads(last)
    except ValueError:
        return last.decode("utf-8", errors="replace")
    return None


def read_finished(path: Path, samples: list[JudgeSample]) -> Finished:
    """The finished jobs in `path` (checked against `samples`); a torn last line is cut off and kept aside.

    Usage: finished = read_finished(ctx.path("answers.jsonl"), samples)
    """
    torn = torn_tail(path)
    if torn is not None:
        with open(path.with_name(path.name + TORN_SUFFIX), "a", encoding="utf-8") as aside:
            aside.write(torn + "\n")
    try:
        rows = read_appended(path)
    except ValueError as err:
        raise StageError(f"distill: {err}: delete the stage folder to start afresh") from err
    finished = Finished(torn=torn)
    for row in rows:
        index, order = int(row["index"]), str(row["order"])
        if index >= len(samples) or samples[index].id != row["id"]:
            raise StageError(
                f"distill: {path} holds answers for sample {row['id']!r} at index {index}, which the "
                "stage's data does not have there: it was written for other data; delete it to start afresh"
            )
        finished.rows[(index, order)] = row
    return finished


class AnswerLog:
    """Appends one JSON line per finished job, flushed and fsynced, starting on a clean line.

    Usage:
        with AnswerLog(ctx.path("answers.jsonl")) as log:
            log.append({"index": 0, "order": "ab", "id": "x", "answers": [...]})
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: Any = None

    def __enter__(self) -> AnswerLog:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - closed in __exit__
        if self._file.tell() > 0:
            self._file.seek(self._file.tell() - 1)
            if self._file.read(1) != "\n":
                self._file.write("\n")
        return self

    def append(self, row: dict[str, Any]) -> None:
        """Write `row` as one line and make it durable. Usage: answer_log.append(row)"""
        self._file.write(json.dumps(row, ensure_ascii=False) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._file.close()

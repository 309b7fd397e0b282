"""Atomic JSON/JSONL IO and the reader of append-only, resumable JSONL files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from judgerl.core.jsonl import read_appended, read_jsonl, write_jsonl


def test_read_appended_cuts_a_torn_last_line_so_appends_continue_cleanly(tmp_path: Path) -> None:
    p = tmp_path / "partial.jsonl"
    assert read_appended(p) == []
    write_jsonl(p, [{"i": 0}, {"i": 1}])
    with open(p, "a") as f:
        f.write('{"i": 2, "text": "cut')
    assert read_appended(p) == [{"i": 0}, {"i": 1}]
    with open(p, "a") as f:  # what a resumed job does next
        f.write(json.dumps({"i": 2}) + "\n")
    assert read_jsonl(p) == [{"i": 0}, {"i": 1}, {"i": 2}]
    # complete JSON without its newline is torn too (the write was cut before the newline)
    with open(p, "a") as f:
        f.write('{"i": 3}')
    assert [r["i"] for r in read_appended(p)] == [0, 1, 2] and p.read_text().endswith('{"i": 2}\n')


def test_read_appended_refuses_corruption_before_the_last_line(tmp_path: Path) -> None:
    p = tmp_path / "partial.jsonl"
    p.write_text('{"i": 0}\n{"i": oops}\n{"i": 2}\n')
    with pytest.raises(ValueError, match="unreadable line at byte 9 \\(not the last line\\)"):
        read_appended(p)
    assert p.read_text().count("\n") == 3  # nothing was cut

"""Files as users have them: broken JSON, a cut last line, a BOM, invalid UTF-8, odd ids and cells.

Each defect is a counted bad row with its index (on_bad_row: skip) or a DataError naming the row
(stop), never a JSONDecodeError, a KeyError or a value silently judged as the string "None".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from judgerl.core.errors import DataError
from judgerl.core.types import JudgeSample
from judgerl.data_prep.sources import load_local
from judgerl.data_prep.sources.readers import read_rows


def _row(i: int, **changes: Any) -> dict[str, Any]:
    row = JudgeSample(
        f"s{i}", "mine", [{"role": "user", "content": f"q{i}?"}], f"A{i}", f"B{i}", "a"
    ).to_dict()
    row.update(changes)
    return row


def _jsonl(path: Path, rows: list[Any], tail: bytes = b"") -> Path:
    body = b"".join(json.dumps(r).encode() + b"\n" for r in rows)
    path.write_bytes(body + tail)
    return path


def test_malformed_json_line_is_a_counted_bad_row(tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path / "d.jsonl", [_row(0)], b'{"id": "s1", oops}\n' + json.dumps(_row(2)).encode() + b"\n"
    )
    result = load_local(path, on_bad_row="skip")
    assert [s.id for s in result.samples] == ["s0", "s2"]
    assert result.skipped[0][0] == 1 and "line 2 is not valid JSON" in result.skipped[0][1]
    with pytest.raises(DataError, match=r"d: row 1: line 2 is not valid JSON"):
        load_local(path)


def test_a_truncated_last_line_is_named(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "d.jsonl", [_row(0), _row(1)], json.dumps(_row(2)).encode()[:25])
    result = load_local(path, on_bad_row="skip")
    assert len(result) == 2 and result.skipped[0][0] == 2
    assert "truncated last line" in result.skipped[0][1]


def test_a_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    jsonl = _jsonl(tmp_path / "d.jsonl", [_row(0)])
    jsonl.write_bytes(b"\xef\xbb\xbf" + jsonl.read_bytes())
    assert load_local(jsonl).samples[0].id == "s0"
    as_json = tmp_path / "d.json"
    as_json.write_bytes(b"\xef\xbb\xbf" + json.dumps([_row(0)]).encode())
    assert load_local(as_json).samples[0].id == "s0"


def test_invalid_utf8_is_a_bad_row_with_its_index(tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path / "d.jsonl", [_row(0)], b'{"id": "s1", "x": "\xff\xfe"}\n' + json.dumps(_row(2)).encode()
    )
    result = load_local(path, on_bad_row="skip")
    assert [s.id for s in result.samples] == ["s0", "s2"]
    assert result.skipped == [(1, "line 2 is not valid UTF-8 (byte 19 of the line)")]
    whole = tmp_path / "d.json"
    whole.write_bytes(b'[{"id": "\xff"}]')
    with pytest.raises(DataError, match="not valid UTF-8 at byte 9"):
        read_rows(whole)


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"id": None}, "id must be a non-empty string or an integer, got None"),
        ({"id": ["x"]}, "id must be a non-empty string or an integer, got ['x']"),
        ({"id": {"k": 1}}, "id must be a non-empty string or an integer"),
        ({"id": True}, "id must be a non-empty string or an integer, got True"),
        ({"response_a": None}, "response_a must be a string, got None"),
        ({"response_b": 2}, "response_b must be a string, got 2"),
        ({"conversation": [{"role": "user"}]}, "conversation message 0 needs a string 'content', got None"),
        (
            {"conversation": [{"role": "user", "content": 5}]},
            "conversation message 0 needs a string 'content'",
        ),
        ({"conversation": "q?"}, "conversation must be a list of messages"),
    ],
    ids=[
        "null-id",
        "list-id",
        "dict-id",
        "bool-id",
        "null-response",
        "int-response",
        "no-content",
        "int-content",
        "string-conversation",
    ],
)
def test_cells_are_never_coerced_to_strings(bad: dict[str, Any], reason: str, tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "d.jsonl", [_row(0), _row(1, **bad)])
    result = load_local(path, on_bad_row="skip")
    assert [s.id for s in result.samples] == ["s0"]
    assert result.skipped[0][0] == 1 and reason in result.skipped[0][1]


def test_an_int_id_is_kept_as_its_digits(tmp_path: Path) -> None:
    assert load_local(_jsonl(tmp_path / "d.jsonl", [_row(0, id=7)])).samples[0].id == "7"


def test_duplicate_ids_are_errors_within_and_across_files(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "d.jsonl", [_row(0), _row(1), _row(2), _row(1)])
    with pytest.raises(DataError, match=r"row 3: duplicate id 's1' \(first seen at row 1\)"):
        load_local(path)
    result = load_local(path, on_bad_row="skip")
    assert [s.id for s in result.samples] == ["s0", "s1", "s2"] and [i for i, _ in result.skipped] == [3]
    folder = tmp_path / "many"
    folder.mkdir()
    _jsonl(folder / "a.jsonl", [_row(0)])
    _jsonl(folder / "b.jsonl", [_row(1), _row(0)])
    with pytest.raises(DataError, match=r"b.jsonl: sample 1: duplicate id 's0' \(first seen in a.jsonl\)"):
        load_local(folder)
    both = load_local(folder, on_bad_row="skip")
    assert [s.id for s in both.samples] == ["s0", "s1"] and both.skipped == [
        (1, "b.jsonl: duplicate id 's0' (first seen in a.jsonl)")
    ]


def test_an_empty_folder_and_a_missing_path_are_clear(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no data files"):
        load_local(tmp_path)
    with pytest.raises(DataError, match="no such file or folder"):
        load_local(tmp_path / "nope")

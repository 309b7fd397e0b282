"""Issue 25 item 11: `read_samples` reports a file that is not JSON lines of judge samples in one line
naming the file and the line, and (for an evaluation) an id given twice in one answer order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from judgerl.core.errors import DataError
from judgerl.core.samples import read_samples, write_samples
from judgerl.data_prep.synthetic import make_synthetic_splits


@pytest.fixture
def rows(tmp_path: Path) -> list[str]:
    path = tmp_path / "good.jsonl"
    write_samples(path, make_synthetic_splits(3, 0, seed=1).train)
    return path.read_text().splitlines(keepends=True)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe garbage\n", r"line 1 is not UTF-8 text \(byte 0"),
        (b"\n{not json\n", r"line 2 is not JSON \(Expecting property name"),
        (b"[1, 2]\n", r"row 0 \(line 1\) is not a judge sample"),
        (b'{"id": "x"}\n', r"row 0 \(line 1\) is not a judge sample"),
    ],
)
def test_unreadable_files_are_one_line_data_errors(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    with pytest.raises(DataError, match=message) as err:
        read_samples(path)
    assert str(path) in str(err.value) and "\n" not in str(err.value)


def test_a_folder_or_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="is a folder; expected a JSONL file"):
        read_samples(tmp_path)
    with pytest.raises(DataError, match="no such file"):
        read_samples(tmp_path / "nope.jsonl")


def test_duplicate_ids_are_an_error_only_where_asked(tmp_path: Path, rows: list[str]) -> None:
    path = tmp_path / "dup.jsonl"
    swapped = json.loads(rows[0]) | {"metadata": {"order": "ba"}}
    path.write_text("".join(rows) + "\n" + json.dumps(swapped) + "\n" + rows[0])
    assert len(read_samples(path)) == 5  # training files may hold an item twice (several traces)
    with pytest.raises(
        DataError, match=r"row 4 \(line 6\) repeats sample id .* in order 'ab' \(first in row 0\)"
    ):
        read_samples(path, unique=True)
    path.write_text("".join(rows) + json.dumps(swapped) + "\n")  # the other order is another judgement
    assert [s.order for s in read_samples(path, unique=True)] == ["ab", "ab", "ab", "ba"]
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + "".join(rows).encode())
    assert len(read_samples(bom)) == 3

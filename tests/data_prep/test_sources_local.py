"""load_local: judgerl JSONL, .json and .parquet files, column mappings, seeded swaps, bad rows."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from judgerl.core.errors import DataError
from judgerl.core.jsonl import write_jsonl
from judgerl.core.types import JudgeSample
from judgerl.data_prep.sources import load_local

CHOSEN_REJECTED = {"question": "prompt", "response_a": "chosen", "response_b": "rejected"}


def _samples(n: int = 6) -> list[JudgeSample]:
    out = []
    for i in range(n):
        label = "a" if i % 2 == 0 else "b"
        strength = None if i % 3 == 0 else (-(i % 3) if label == "a" else i % 3)
        conv = [{"role": "user", "content": f"q{i}?"}]
        if i == 1:
            conv = [
                {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "hello"},
                {"role": "user", "content": "q1?"},
            ]
        out.append(JudgeSample(f"s{i}", "mine", conv, f"A{i}", f"B{i}", label, strength, "sub", {"k": i}))
    return out


def _chosen_rejected_rows(n: int) -> list[dict]:
    return [{"prompt": f"question {i}?", "chosen": f"good {i}", "rejected": f"bad {i}"} for i in range(n)]


def _write(path: Path, rows: list[dict]) -> Path:
    if path.suffix == ".jsonl":
        write_jsonl(path, rows)
    elif path.suffix == ".json":
        path.write_text(json.dumps(rows), encoding="utf-8")
    else:
        pq.write_table(pa.Table.from_pylist(rows), path)
    return path


@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".parquet"])
def test_judgerl_format_round_trips(tmp_path, suffix):
    samples = _samples()
    path = _write(tmp_path / f"mine{suffix}", [s.to_dict() for s in samples])
    result = load_local(path)
    assert result.samples == samples
    assert result.summary() == "mine: 6 rows, 0 skipped"


def test_json_data_wrapper_and_default_source(tmp_path):
    rows = [s.to_dict() for s in _samples(2)]
    for row in rows:
        del row["source"]
    path = tmp_path / "wrapped.json"
    path.write_text(json.dumps({"data": rows}), encoding="utf-8")
    result = load_local(path)
    assert [s.source for s in result.samples] == ["wrapped", "wrapped"]
    assert load_local(path, source_name="other").samples[0].source == "other"


@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".parquet"])
def test_chosen_rejected_mapping_with_constant_label(tmp_path, suffix):
    path = _write(tmp_path / f"prefs{suffix}", _chosen_rejected_rows(5))
    result = load_local(path, CHOSEN_REJECTED, label="a")
    assert [s.label for s in result.samples] == ["a"] * 5
    first = result.samples[0]
    assert first.conversation == [{"role": "user", "content": "question 0?"}]
    assert (first.id, first.response_a, first.response_b) == ("prefs-00000", "good 0", "bad 0")


def test_swap_seed_randomises_positions_deterministically(tmp_path):
    path = _write(tmp_path / "prefs.parquet", _chosen_rejected_rows(200))
    result = load_local(path, CHOSEN_REJECTED, label="a", swap_seed=7)
    labels = [s.label for s in result.samples]
    assert 70 < labels.count("b") < 130
    for s in result.samples:
        winner = s.response_a if s.label == "a" else s.response_b
        assert winner.startswith("good")
    again = load_local(path, CHOSEN_REJECTED, label="a", swap_seed=7)
    assert again.samples == result.samples
    other = load_local(path, CHOSEN_REJECTED, label="a", swap_seed=8)
    assert [s.label for s in other.samples] != labels


def test_mapping_with_label_strength_conversation_and_id_columns(tmp_path):
    rows = [
        {
            "uid": 10,
            "msgs": [{"role": "user", "content": "q?"}],
            "x": "A",
            "y": "B",
            "winner": "B",
            "g": 2,
            "cat": "math",
        },
        {
            "uid": 11,
            "msgs": [{"role": "user", "content": "r?"}],
            "x": "A",
            "y": "B",
            "winner": "a",
            "g": None,
            "cat": "chat",
        },
    ]
    path = _write(tmp_path / "m.parquet", rows)
    columns = {
        "id": "uid",
        "conversation": "msgs",
        "response_a": "x",
        "response_b": "y",
        "label": "winner",
        "strength": "g",
        "subset": "cat",
    }
    result = load_local(path, columns)
    assert [(s.id, s.label, s.strength, s.subset) for s in result.samples] == [
        ("10", "b", 2, "math"),
        ("11", "a", None, "chat"),
    ]


def test_bad_rows_skip_and_stop(tmp_path):
    rows = _chosen_rejected_rows(5)
    del rows[1]["chosen"]
    rows[3]["prompt"] = ""
    path = _write(tmp_path / "bad.jsonl", rows)
    with path.open("a", encoding="utf-8") as f:
        f.write("\n{not json\n")
    result = load_local(path, CHOSEN_REJECTED, on_bad_row="skip", label="a")
    assert len(result) == 3
    assert [i for i, _ in result.skipped] == [1, 3, 5]
    assert result.skipped[0][1] == "missing field 'chosen'"
    assert "line 7 is not valid JSON" in result.skipped[2][1]
    with pytest.raises(DataError, match=r"bad: row 1: missing field 'chosen'"):
        load_local(path, CHOSEN_REJECTED, label="a")


def test_strength_that_disagrees_with_label_is_a_bad_row(tmp_path):
    rows = [s.to_dict() for s in _samples(3)]
    rows[2]["strength"] = 2  # label 'a' needs a negative strength
    rows[0]["strength"] = 1.5
    path = _write(tmp_path / "s.jsonl", rows)
    result = load_local(path, on_bad_row="skip")
    assert [i for i, _ in result.skipped] == [0, 2]
    assert "strength" in result.skipped[0][1] and "label" in result.skipped[1][1]


def test_conversation_must_end_with_user_turn(tmp_path):
    row = _samples(1)[0].to_dict()
    row["conversation"] = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "x"}]
    path = _write(tmp_path / "c.jsonl", [row])
    with pytest.raises(DataError, match="row 0: .*user turn"):
        load_local(path)


def test_mapping_errors_are_clear(tmp_path):
    path = _write(tmp_path / "p.jsonl", _chosen_rejected_rows(1))
    with pytest.raises(ValueError, match="not both or neither"):
        load_local(path, CHOSEN_REJECTED)
    with pytest.raises(ValueError, match="unknown judgerl field"):
        load_local(path, {**CHOSEN_REJECTED, "prompt": "prompt"}, label="a")
    with pytest.raises(ValueError, match="exactly one of 'question' or 'conversation'"):
        load_local(path, {"response_a": "chosen", "response_b": "rejected"}, label="a")


def test_file_errors(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_local(tmp_path / "missing.jsonl")
    (tmp_path / "x.txt").write_text("a,b\n")
    with pytest.raises(DataError, match="unsupported file type"):
        load_local(tmp_path / "x.txt")
    (tmp_path / "d.json").write_text('{"rows": []}')
    with pytest.raises(DataError, match="expected a JSON list"):
        load_local(tmp_path / "d.json")

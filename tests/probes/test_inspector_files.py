"""INSPECTOR's file layout: a JSON list of {question, prediction} scores and filters like JSON lines."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from judgerl.cli.main import main
from judgerl.core.errors import DataError
from judgerl.core.jsonl import read_jsonl
from judgerl.probes.linear import LinearProbe
from judgerl.probes.rows import read_sample_rows, write_sample_rows
from tests.probes.conftest import RESULTS_JSON


def write_random_probe(backbone: Path, out: Path, aspect: str = "ok") -> Path:
    """A binary probe with seeded random weights on the tiny backbone's block 2 (plain template)."""
    rng = np.random.default_rng(0)
    probe = LinearProbe(
        mean=np.zeros(32),
        scale=np.ones(32),
        coef=rng.standard_normal((1, 32)),
        intercept=np.array([0.0]),
        classes=np.array([0, 1]),
        meta={
            "aspect": aspect,
            "model_id": str(backbone),
            "layers": [2],
            "pooling": "mean",
            "template": "plain",
            "classifier": "logreg",
            "max_length": None,
        },
    )
    probe.save(out / f"{aspect}.safetensors")
    return out


def test_a_json_list_reads_like_json_lines(tmp_path) -> None:
    rows = read_sample_rows(RESULTS_JSON)
    assert len(rows) == 6 and rows[0]["id"] == 0 and rows[0]["question"].startswith("A baker")
    as_lines = tmp_path / "results.jsonl"
    as_lines.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert read_sample_rows(as_lines) == rows
    misnamed = tmp_path / "lines.json"  # JSON lines saved under .json
    shutil.copy(as_lines, misnamed)
    assert read_sample_rows(misnamed) == rows
    no_suffix = tmp_path / "results"
    shutil.copy(RESULTS_JSON, no_suffix)
    assert read_sample_rows(no_suffix) == rows
    (tmp_path / "bad.jsonl").write_text('{"question": "q", "prediction": "p"}\n{"question": \n')
    with pytest.raises(DataError, match=r"bad.jsonl: row 1: line 2 is not valid JSON"):
        read_sample_rows(tmp_path / "bad.jsonl")
    (tmp_path / "numbers.json").write_text("[1, 2]")
    with pytest.raises(DataError, match="row 0: expected an object, got int"):
        read_sample_rows(tmp_path / "numbers.json")
    assert write_sample_rows(tmp_path / "out.json", rows) == 6
    assert json.loads((tmp_path / "out.json").read_text()) == rows  # .json is written as a JSON list
    write_sample_rows(tmp_path / "out.jsonl", rows)
    assert read_jsonl(tmp_path / "out.jsonl") == rows


def test_probe_score_reads_inspectors_results_json(tiny_backbone, tmp_path, capsys) -> None:
    probes = write_random_probe(tiny_backbone, tmp_path / "probes")
    out = tmp_path / "results_scored.json"
    assert (
        main(["probe", "score", "--probes", str(probes), "--data", str(RESULTS_JSON), "--out", str(out)]) == 0
    )
    assert "scored 6 rows" in capsys.readouterr().out
    scored = json.loads(out.read_text())
    original = json.loads(RESULTS_JSON.read_text())
    assert [{k: r[k] for k in original[0]} for r in scored] == original  # every field kept, in order
    assert all(
        0.0 <= r["ok_score"] <= 1.0 and r["ok"] in (0, 1) and r["total_score"] == r["ok_score"]
        for r in scored
    )
    jsonl = tmp_path / "results.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in original))
    assert (
        main(
            [
                "probe",
                "score",
                "--probes",
                str(probes),
                "--data",
                str(jsonl),
                "--out",
                str(tmp_path / "s.jsonl"),
            ]
        )
        == 0
    )
    assert [r["ok_score"] for r in read_jsonl(tmp_path / "s.jsonl")] == [r["ok_score"] for r in scored]

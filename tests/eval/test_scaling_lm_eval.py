"""lm-evaluation-harness samples files as scaling candidates: read with no mapping, one filter's
rows, generations from `resps`, the reference from the doc, a `{k}` placeholder for one run per k.

The fixture (tests/eval/fixtures/lm_eval/gsm8k_k{2,3}/<model>/samples_gsm8k_cot_self_consistency_<date>.jsonl)
is in lm-eval's layout: 3 made-up GSM8K-style docs x 2 filters ("score-first", "maj@all"), with
2 and 3 generations per doc in `resps[0]`. By hand, judgerl's answer order ("last") marks the
k = 3 generations [1, 0, 1], [1, 0, 0], [1, 0, 1]; the seed's ("first") marks [1, 0, 0], [1, 1, 0],
[1, 0, 1] (doc 0's third generation has no "The answer is", so its first number, 16, is read;
doc 1's second states 3 and then computes 4).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from judgerl.cli.main import main
from judgerl.core.errors import DataError, RecipeError
from judgerl.core.stage import StageContext
from judgerl.eval.scaling.candidates import file_sha256
from judgerl.eval.scaling.lm_eval_samples import (
    generations,
    looks_like_samples_file,
    read_lm_eval_samples,
    task_of,
)
from judgerl.eval.scaling.stage import PERFECT, ScalingStage, lm_eval_pattern, run_scaling

FIXTURES = Path(__file__).parent / "fixtures" / "lm_eval"
PATTERN = str(FIXTURES / "gsm8k_k{k}" / "**" / "samples_*.jsonl")
K3_FILE = next((FIXTURES / "gsm8k_k3").rglob("samples_*.jsonl"))
LAST = [[1.0, 0.0, 1.0], [1.0, 0.0, 0.0], [1.0, 0.0, 1.0]]
FIRST = [[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [1.0, 0.0, 1.0]]


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _write(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_the_fixture_is_in_lm_evals_layout() -> None:
    rows = _rows(K3_FILE)
    assert len(rows) == 6 and [r["filter"] for r in rows] == ["score-first"] * 3 + ["maj@all"] * 3
    for r in rows:
        assert {
            "doc_id",
            "doc",
            "target",
            "arguments",
            "resps",
            "filtered_resps",
            "filter",
            "metrics",
        } <= set(r)
        assert {"doc_hash", "prompt_hash", "target_hash", "exact_match"} <= set(r)
        assert len(r["resps"]) == 1 and len(r["resps"][0]) == 3 and "####" in r["doc"]["answer"]
    assert looks_like_samples_file(K3_FILE) and task_of(K3_FILE) == "gsm8k_cot_self_consistency"


def test_a_samples_file_loads_with_no_mapping_through_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = file_sha256(K3_FILE)
    out = tmp_path / "out"
    argv = ["scaling", "--candidates", str(K3_FILE), "--judge", "oracle:0", "--k", "1,2,3", "--T", "0,inf"]
    assert main([*argv, "--out", str(out)]) == 0
    assert "| oracle:0 |" in capsys.readouterr().out
    report = json.loads((out / "points.json").read_text())
    cands = report["candidates"]
    # one filter's rows: 3 docs, not one per doc and filter (6) as the seed would count them
    assert cands["format"] == "lm-eval-samples" and cands["prompts"] == 3
    (record,) = cands["files"].values()
    assert record["filter"] == "score-first" and record["filters_found"] == ["score-first", "maj@all"]
    assert record["sha256"] == before == file_sha256(K3_FILE)
    by = {(p["judge"], p["k"], p["T"]): p["mean"] for p in report["points"]}
    assert by[("oracle:0", 1, 0.0)] == pytest.approx(-5 / 9)  # the pools' mean accuracy, (2 + 1 + 2) / 9
    assert by[("oracle:0", 3, "inf")] == pytest.approx(-5 / 9)
    assert by[("oracle:0", 3, 0.0)] == by[(PERFECT, 3, 0.0)] == pytest.approx(-1.0)
    assert not (out / "candidates.jsonl").exists()  # the samples file is only read


def test_generations_doc_reference_and_filter_choice() -> None:
    load = read_lm_eval_samples(str(K3_FILE))
    assert [i.id for i in load.items] == [f"gsm8k_cot_self_consistency/{d}" for d in range(3)]
    assert [i.correctness for i in load.items] == LAST
    assert [i.reference for i in load.items] == ["18", "3", "70000"]
    first = load.items[0]
    row = _rows(K3_FILE)[0]
    assert first.prompt == row["doc"]["question"] and first.candidates == row["resps"][0]
    assert first.metadata["filter"] == "score-first" and first.metadata["filtered_resps"] == ["18"]
    maj = read_lm_eval_samples(str(K3_FILE), filter="maj@all")
    assert [i.candidates for i in maj.items] == [i.candidates for i in load.items]
    assert {i.metadata["filter"] for i in maj.items} == {"maj@all"}
    seed_order = read_lm_eval_samples(str(K3_FILE), answer_extraction="first")
    assert [i.correctness for i in seed_order.items] == FIRST
    with pytest.raises(
        DataError, match=r"no rows of filter 'maj@64'; filters found: \['score-first', 'maj@all'\]"
    ):
        read_lm_eval_samples(str(K3_FILE), filter="maj@64")


def test_the_k_placeholder_reads_one_run_per_k(tmp_path: Path) -> None:
    stage = ScalingStage(candidates=PATTERN, judges=["oracle:0"], k=[2, 3], T=[0.0, float("inf")])
    run_scaling(stage, StageContext("s", tmp_path / "out", progress=False))
    report = json.loads((tmp_path / "out" / "points.json").read_text())
    assert report["candidates"]["prompts"] == 6 and len(report["candidates"]["files"]) == 2
    by = {(p["judge"], p["k"], p["T"]): p for p in report["points"]}
    # k = 2 reads the k2 run only: pools [1, 0] x 3, uniform accuracy 1/2, best-of-2 perfect
    assert by[("oracle:0", 2, "inf")]["mean"] == pytest.approx(-0.5)
    assert by[("oracle:0", 3, "inf")]["mean"] == pytest.approx(-5 / 9)
    assert by[(PERFECT, 2, 0.0)]["mean"] == pytest.approx(-1.0) and by[("oracle:0", 2, 0.0)]["n_prompts"] == 3
    with pytest.raises(DataError, match=r"no lm-eval samples file matches .*gsm8k_k4.* \(k = 4\)"):
        run_scaling(
            stage.model_copy(update={"k": [3, 4]}), StageContext("s", tmp_path / "o2", progress=False)
        )


def test_candidates_strings_that_name_lm_eval_samples(tmp_path: Path) -> None:
    plain = _write(tmp_path / "c.jsonl", [{"prompt": "q", "candidates": ["a"], "correctness": [1]}])
    assert lm_eval_pattern(str(K3_FILE)) == str(K3_FILE) and lm_eval_pattern(PATTERN) == PATTERN
    assert lm_eval_pattern(f"lm-eval:{K3_FILE}") == str(K3_FILE)
    assert lm_eval_pattern(str(plain)) is None and lm_eval_pattern("gsm8k:x.jsonl") is None
    odd = _write(tmp_path / "cands[1].jsonl", [{"prompt": "q", "candidates": ["a"], "correctness": [1]}])
    assert lm_eval_pattern(str(odd)) is None  # a file named like a glob is still a candidates file
    stage = ScalingStage(candidates=str(plain), lm_eval_filter="score-first", judges=["oracle:0"], k=[1])
    with pytest.raises(RecipeError, match="lm_eval_filter 'score-first' applies to lm-eval samples"):
        run_scaling(stage, StageContext("s", tmp_path / "out", progress=False))


def test_bad_rows_are_reported_with_file_and_row_or_counted(tmp_path: Path) -> None:
    rows = _rows(K3_FILE)
    bad = [dict(rows[0]), dict(rows[1], resps=[["a"], ["b"]]), dict(rows[2], doc={"answer": "#### 3"})]
    path = _write(tmp_path / "run" / "samples_mytask_2025-01-01T00-00-00.000000.jsonl", bad)
    with pytest.raises(DataError, match=r"row 1: resps holds 2 requests; expected one generate_until"):
        read_lm_eval_samples(str(path))
    load = read_lm_eval_samples(str(path), on_bad_row="skip")
    assert [i.id for i in load.items] == ["mytask/0"] and [i for i, _ in load.skipped] == [1, 2]
    assert "doc has no string 'question'" in load.skipped[1][1] and str(path) in load.skipped[1][1]
    # the same task's docs in two matched files (two runs in one folder) are repeated docs, not new prompts
    for date in ("2025-01-01", "2025-02-01"):
        _write(tmp_path / "twice" / f"samples_mytask_{date}T00-00-00.000000.jsonl", rows[:2])
    with pytest.raises(DataError, match=r"row 0: doc 'mytask/0' is also in .*2025-01-01"):
        read_lm_eval_samples(str(tmp_path / "twice" / "samples_*.jsonl"))
    twice = read_lm_eval_samples(str(tmp_path / "twice" / "*.jsonl"), on_bad_row="skip")
    assert len(twice.items) == 2 and [i for i, _ in twice.skipped] == [0, 1]
    assert generations(["x", "y"]) == ["x", "y"]
    for value, msg in (([], "non-empty list"), ([[]], "as strings"), ([["a", 3]], "as strings")):
        with pytest.raises(ValueError, match=msg):
            generations(value)

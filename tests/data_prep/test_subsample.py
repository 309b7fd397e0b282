"""Seeded subsets: the draw itself, where stages use it, what they record, and the config hashes it keeps."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from pathlib import Path

import pytest

from judgerl.core.samples import read_samples, write_samples
from judgerl.core.stage import StageContext
from judgerl.data_prep.sources.llmbar import load_llmbar
from judgerl.data_prep.stage import PrepStage, run_prep
from judgerl.data_prep.subsample import subsample
from judgerl.data_prep.synthetic import make_synthetic_splits
from judgerl.eval.judgebench.stage import JudgeBenchStage
from judgerl.eval.rewardbench.stage import RewardBenchStage
from judgerl.eval.stage import EvalStage

LLMBAR = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "llmbar"


def _samples(n: int = 40, subsets: tuple[str, ...] = ("x", "y")):
    base = make_synthetic_splits(1, n, seed=5).test
    return [dataclasses.replace(s, subset=subsets[i * len(subsets) // n]) for i, s in enumerate(base)]


def test_random_draw_is_seeded_independent_of_row_order_and_keeps_file_order() -> None:
    rows = _samples()
    kept, record = subsample(rows, 10, "random", seed=3)
    assert len(kept) == 10 and record == {
        "mode": "random",
        "n": 10,
        "of": 40,
        "unit": "rows",
        "seed": 3,
        "subsets": dict(sorted(Counter(s.subset for s in kept).items())),
    }
    assert [s.id for s in kept] == [s.id for s in rows if s in kept]  # file order kept
    again, _ = subsample(rows[::-1], 10, "random", seed=3)
    assert {s.id for s in again} == {s.id for s in kept}  # the rank hashes the id, not the position
    other, _ = subsample(rows, 10, "random", seed=4)
    assert {s.id for s in other} != {s.id for s in kept}
    assert [s.id for s in subsample(rows, 10, "first")[0]] == [s.id for s in rows[:10]]
    assert subsample(rows, 100, "random")[0] == rows and subsample(rows, None) == (rows, None)


def test_stratified_draw_gives_each_subset_its_share_by_largest_remainder() -> None:
    rows = _samples(40, ("a", "b", "c", "d"))[:31]  # a 10, b 10, c 10, d 1
    kept, record = subsample(rows, 6, "stratified", seed=0)
    # exact shares 1.94, 1.94, 1.94, 0.19: floors 1, 1, 1, 0, then the three largest remainders
    assert record["subsets"] == {"a": 2, "b": 2, "c": 2} and len(kept) == 6


def test_the_first_rows_of_llmbar_are_all_natural_a_stratified_draw_is_not() -> None:
    if not LLMBAR.is_dir():
        pytest.skip("the shared LLMBar files are not beside the repository")
    rows = load_llmbar(str(LLMBAR)).samples
    first, _ = subsample(rows, 6, "first")
    assert {s.subset for s in first} == {"llmbar-natural"}  # the issue: a 6-item eval saw one subset
    _, record = subsample(rows, 6, "stratified", seed=0)
    assert len(record["subsets"]) == 5 and sum(record["subsets"].values()) == 6


def test_bad_mode_and_count_are_errors() -> None:
    with pytest.raises(ValueError, match="subsample: expected one of random, stratified, first, got 'top'"):
        subsample(_samples(), 3, "top")
    with pytest.raises(ValueError, match="at least 1, got 0"):
        subsample(_samples(), 0)


def test_prep_draws_max_train_and_max_test_and_records_the_draw(tmp_path: Path) -> None:
    data = tmp_path / "rows.jsonl"
    write_samples(data, _samples(40, ("u", "v")))
    stage = PrepStage(
        source={"kind": "local", "path": str(data)},
        test_fraction=0.5,
        max_train=6,
        max_test=4,
        subsample="stratified",
    )
    result = run_prep(stage, StageContext("data", tmp_path / "data", seed=1))
    train, test = read_samples(result.outputs["train"]), read_samples(result.outputs["test"])
    assert (len(train), len(test)) == (6, 4) and {s.subset for s in train} == {"u", "v"}
    drawn = result.metrics["subsample"]
    assert drawn["train"]["mode"] == "stratified" and drawn["train"]["seed"] == 1 and drawn["test"]["n"] == 4
    stats = json.loads((tmp_path / "data" / "stats.json").read_text())
    assert stats["subsample"] == drawn
    first = run_prep(
        stage.model_copy(update={"subsample": "first"}), StageContext("data", tmp_path / "first", seed=1)
    )
    every = run_prep(
        stage.model_copy(update={"max_train": None, "max_test": None}),
        StageContext("d", tmp_path / "all", seed=1),
    )
    assert read_samples(first.outputs["train"]) == read_samples(every.outputs["train"])[:6]
    assert "subsample" not in every.metrics


@pytest.mark.parametrize(
    ("config", "counts"),
    [
        (
            lambda **kw: PrepStage(source={"kind": "synthetic", "n_train": 4, "n_test": 2}, **kw),
            ("max_train",),
        ),
        (lambda **kw: EvalStage(model="m", data="t.jsonl", **kw), ("max_samples",)),
        (lambda **kw: JudgeBenchStage(model="m", data="jb.jsonl", **kw), ("max_samples",)),
        (lambda **kw: RewardBenchStage(model="m", **kw), ("max_samples",)),
    ],
)
def test_the_key_enters_the_dump_only_where_it_changes_the_rows(config, counts) -> None:
    count = {counts[0]: 5}
    assert "subsample" not in config().model_dump()  # nothing drawn: the hash of before the key
    assert "subsample" not in config(subsample="stratified").model_dump()
    assert "subsample" not in config(**count, subsample="first").model_dump()  # the old meaning
    assert config(**count).model_dump()["subsample"] == "random"  # other rows than before: a new hash
    assert config(**count, subsample="stratified").model_dump()["subsample"] == "stratified"

"""load_hub presets through datasets' own "json"/"parquet" builders on local files (no network), and load_source."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from judgerl.core.errors import DataError
from judgerl.data_prep.sources import (
    HH_STRENGTH_THRESHOLDS,
    PRESETS,
    SOURCE_LOADERS,
    LoadResult,
    load_hub,
    load_source,
)
from judgerl.data_prep.sources.presets import hh_strength, split_hh_dialogue

pytest.importorskip("datasets")


def _jsonl(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def _parquet(path: Path, rows: list[dict]) -> str:
    pq.write_table(pa.Table.from_pylist(rows), path)
    return str(path)


def _hub(tmp_path: Path, builder: str, files: str, **kwargs) -> LoadResult:
    return load_hub(builder, "train", data_files=files, cache_dir=str(tmp_path / "hf-cache"), **kwargs)


def _winner(sample) -> str:
    return sample.response_a if sample.label == "a" else sample.response_b


def test_preset_table_is_complete():
    assert set(PRESETS) == {
        "helpsteer2-preference",
        "skywork-preference",
        "hh-rlhf",
        "hh-rlhf-strength",
        "reward-bench",
    }


def test_helpsteer2_preference(tmp_path):
    rows = [
        {
            "split": "train",
            "prompt": f"q{g}",
            "response_1": "r1",
            "response_2": "r2",
            "preference_strength": g,
        }
        for g in (-3, -1, 0, 2, 3)
    ]
    rows.append(
        {
            "split": "validation",
            "prompt": "Hi<extra_id_1>Assistant\nHello!<extra_id_1>User\nTell me more",
            "response_1": "r1",
            "response_2": "r2",
            "preference_strength": -2,
        }
    )
    result = _hub(tmp_path, "json", _jsonl(tmp_path / "hs2.jsonl", rows), preset="helpsteer2-preference")
    assert [(s.label, s.strength) for s in result.samples] == [
        ("a", -3),
        ("a", -1),
        ("b", 2),
        ("b", 3),
        ("a", -2),
    ]
    assert all((s.response_a, s.response_b) == ("r1", "r2") for s in result.samples)
    assert result.not_pairable == [(2, "tie")]
    assert result.samples[-1].conversation == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Tell me more"},
    ]
    assert result.samples[-1].metadata["split"] == "validation"
    assert result.summary() == "helpsteer2-preference: 5 rows, 0 skipped, 1 not pairable"


def test_helpsteer2_out_of_range_strength_is_a_bad_row(tmp_path):
    rows = [{"prompt": "q", "response_1": "a", "response_2": "b", "preference_strength": 5}]
    files = _jsonl(tmp_path / "hs2.jsonl", rows)
    with pytest.raises(DataError, match=r"row 0: strength must be in"):
        _hub(tmp_path, "json", files, preset="helpsteer2-preference")


def _skywork_row(i: int) -> dict:
    history = [{"role": "user", "content": f"question {i}"}]
    if i % 5 == 0:
        history += [{"role": "assistant", "content": "earlier"}, {"role": "user", "content": "follow-up"}]
    return {
        "chosen": [*history, {"role": "assistant", "content": f"good {i}"}],
        "rejected": [*history, {"role": "assistant", "content": f"bad {i}"}],
        "source": "magpie" if i % 2 else "wildguard",
    }


def test_skywork_preference_parquet(tmp_path):
    rows = [_skywork_row(i) for i in range(40)]
    rows[3]["rejected"][0] = {"role": "user", "content": "another question"}
    files = _parquet(tmp_path / "sky.parquet", rows)
    result = _hub(tmp_path, "parquet", files, preset="skywork-preference", on_bad_row="skip")
    assert len(result) == 39
    assert result.skipped == [(3, "chosen and rejected differ before the final assistant turn")]
    labels = Counter(s.label for s in result.samples)
    assert labels["a"] > 8 and labels["b"] > 8
    assert all(_winner(s).startswith("good") for s in result.samples)
    first = result.samples[0]
    assert [m["role"] for m in first.conversation] == ["user", "assistant", "user"]
    assert first.subset == "wildguard"
    again = _hub(tmp_path, "parquet", files, preset="skywork-preference", on_bad_row="skip")
    assert again.samples == result.samples
    kept = _hub(tmp_path, "parquet", files, preset="skywork-preference", on_bad_row="skip", swap_seed=None)
    assert {s.label for s in kept.samples} == {"a"}


def _hh(*turns: str) -> str:
    roles = ["Human", "Assistant"]
    return "".join(f"\n\n{roles[i % 2]}: {t}" for i, t in enumerate(turns))


def test_hh_rlhf(tmp_path):
    rows = [
        {
            "chosen": _hh("Hi", "Hello", f"Question {i}?", f"good {i}"),
            "rejected": _hh("Hi", "Hello", f"Question {i}?", f"bad {i}"),
        }
        for i in range(20)
    ]
    rows.append({"chosen": _hh("q", "same"), "rejected": _hh("q", "same")})
    rows.append({"chosen": _hh("q", "x"), "rejected": _hh("other q", "y")})
    rows.append({"chosen": "no turns here", "rejected": _hh("q", "y")})
    files = _jsonl(tmp_path / "hh.jsonl", rows)
    result = _hub(tmp_path, "json", files, preset="hh-rlhf", on_bad_row="skip")
    assert len(result) == 20
    assert result.not_pairable == [(20, "identical responses")]
    assert [i for i, _ in result.skipped] == [21, 22]
    sample = result.samples[0]
    assert sample.conversation == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "Question 0?"},
    ]
    assert _winner(sample) == "good 0"
    assert {s.label for s in result.samples} == {"a", "b"}
    with pytest.raises(DataError, match="hh-rlhf: row 21: chosen and rejected differ"):
        _hub(tmp_path, "json", files, preset="hh-rlhf")


def test_split_hh_dialogue_keeps_empty_final_answer():
    assert split_hh_dialogue("\n\nHuman: hi\n\nAssistant:") == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": ""},
    ]


def test_hh_strength_thresholds():
    low, high = HH_STRENGTH_THRESHOLDS
    assert [hh_strength(d) for d in (0.0, low - 0.01, low, -(high - 0.01), high, -10.0)] == [1, 1, 2, 2, 3, 3]


def test_hh_rlhf_strength(tmp_path):
    diffs = [0.2, -0.7, 1.0, 2.5, 4.0]
    rows = [
        {
            "chosen": ["Hi", "Hello", f"Question {i}?", f"good {i}"],
            "rejected": ["Hi", "Hello", f"Question {i}?", f"bad {i}"],
            "mean preference difference": d,
            "std preference difference": 0.1,
        }
        for i, d in enumerate(diffs)
    ]
    files = _jsonl(tmp_path / "hhs.jsonl", rows)
    result = _hub(tmp_path, "json", files, preset="hh-rlhf-strength")
    assert [s.abs_strength for s in result.samples] == [hh_strength(d) for d in diffs] == [1, 2, 2, 3, 3]
    for sample, d in zip(result.samples, diffs, strict=True):
        assert _winner(sample).startswith("good")
        assert (sample.strength < 0) == (sample.label == "a")
        assert sample.metadata["preference_difference"] == d
        assert [m["role"] for m in sample.conversation] == ["user", "assistant", "user"]


def test_hh_rlhf_strength_accepts_hh_strings(tmp_path):
    rows = [{"chosen": _hh("q", "good"), "rejected": _hh("q", "bad"), "mean preference difference": 1.9}]
    result = _hub(tmp_path, "json", _jsonl(tmp_path / "hhs.jsonl", rows), preset="hh-rlhf-strength")
    assert result.samples[0].abs_strength == 3


def test_reward_bench_parquet(tmp_path):
    rows = [
        {
            "prompt": f"p{i}",
            "chosen": f"good {i}",
            "chosen_model": "gpt-4",
            "rejected": f"bad {i}",
            "rejected_model": "llama",
            "subset": "llmbar-natural" if i % 2 else "math-prm",
            "id": 1000 + i,
        }
        for i in range(30)
    ]
    files = _parquet(tmp_path / "rb.parquet", rows)
    result = _hub(tmp_path, "parquet", files, preset="reward-bench", swap_seed=1)
    assert [s.id for s in result.samples] == [str(1000 + i) for i in range(30)]
    assert Counter(s.subset for s in result.samples) == {"llmbar-natural": 15, "math-prm": 15}
    assert all(_winner(s).startswith("good") for s in result.samples)
    assert {s.label for s in result.samples} == {"a", "b"}
    assert result.samples[0].metadata["chosen_model"] == "gpt-4"


def test_column_mapping_through_hub(tmp_path):
    rows = [{"q": f"q{i}", "c": f"good {i}", "r": f"bad {i}"} for i in range(10)]
    files = _jsonl(tmp_path / "cr.jsonl", rows)
    columns = {"question": "q", "response_a": "c", "response_b": "r"}
    result = _hub(tmp_path, "json", files, columns=columns, label="a", source_name="mine")
    assert len(result) == 10 and {s.source for s in result.samples} == {"mine"}
    assert all(_winner(s).startswith("good") for s in result.samples)


def test_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="unknown hub preset"):
        load_hub("json", "train", preset="helpsteer3")
    with pytest.raises(ValueError, match="not both"):
        load_hub("json", "train", preset="hh-rlhf", columns={"question": "q"})


def test_load_source_hub_and_local(tmp_path):
    rows = [{"prompt": "p", "chosen": "c", "rejected": "r", "subset": "s", "id": 1}]
    files = _jsonl(tmp_path / "rb.jsonl", rows)
    spec = {
        "kind": "hub",
        "name": "json",
        "split": "train",
        "preset": "reward-bench",
        "data_files": files,
        "cache_dir": str(tmp_path / "hf-cache"),
    }
    assert load_source(spec).samples[0].id == "1"
    local = load_source(
        {
            "kind": "local",
            "path": files,
            "columns": {"question": "prompt", "response_a": "chosen", "response_b": "rejected"},
            "label": "a",
        }
    )
    assert local.samples[0].response_a == "c"


def test_load_source_errors():
    with pytest.raises(
        ValueError, match=r"unknown source kind 'nope'; known kinds: \['gsm8k', 'hub', 'judgebench', 'llmbar'"
    ):
        load_source({"kind": "nope"})
    with pytest.raises(ValueError, match="needs a 'kind'"):
        load_source({"path": "x"})
    with pytest.raises(ValueError, match=r"source.colums: unknown key"):
        load_source({"kind": "local", "path": "x.jsonl", "colums": {}})
    with pytest.raises(ValueError, match=r"source.path: required key is missing"):
        load_source({"kind": "llmbar"})
    with pytest.raises(ValueError, match=r"source.n_test = 0: Input should be greater than or equal to 1"):
        load_source({"kind": "synthetic", "n_test": 0})
    SOURCE_LOADERS.add("fake", lambda n=1: LoadResult("fake"))
    try:
        assert load_source({"kind": "fake", "n": 2}).summary() == "fake: 0 rows, 0 skipped"
        with pytest.raises(ValueError, match=r"source kind 'fake' got unknown option\(s\) \['m'\]"):
            load_source({"kind": "fake", "m": 2})
    finally:
        SOURCE_LOADERS.remove("fake")
    with pytest.raises(ValueError, match="source kind 'local' is already registered"):
        SOURCE_LOADERS.add("local", lambda path: LoadResult("other"))

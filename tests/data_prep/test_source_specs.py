"""Typed source specs: a malformed `source:` mapping is a recipe error naming its key, at validation time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from judgerl.core.errors import RecipeError
from judgerl.core.stage import StageContext
from judgerl.core.types import JudgeSample
from judgerl.data_prep.sources.specs import SOURCE_SPECS, LocalSpec, parse_source_spec
from judgerl.data_prep.stage import PrepStage, run_prep
from judgerl.recipe import validate_recipe


def _recipe(source: Any, **stage: Any) -> dict[str, Any]:
    return {"name": "t", "run_dir": "runs/t", "stages": {"data": {"kind": "prep", "source": source, **stage}}}


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            {"kind": "synthetic", "n_test": 0},
            "stages.data.source.n_test = 0: Input should be greater than or equal to 1",
        ),
        ({"kind": "synthetic", "n_tests": 5}, "stages.data.source.n_tests: unknown key (value 5)"),
        ({"kind": "local"}, "stages.data.source.path: required key is missing"),
        (
            {"kind": "local", "path": "x.jsonl", "format": "csvv"},
            "stages.data.source.format = 'csvv': Value error, unknown format",
        ),
        (
            {"kind": "local", "path": "x", "label_map": {1: "first"}},
            "stages.data.source.label_map.1 = 'first'",
        ),
        (
            {"kind": "local", "path": "x", "columns": {"question": "q", "response_a": "a"}, "label": "a"},
            "Value error, columns must map ['response_b']",
        ),
        (
            {"kind": "hub", "name": "n", "split": "train", "preset": "nope"},
            "stages.data.source.preset = 'nope'",
        ),
        (
            {"kind": "llmbar", "path": "d", "subsets": "llmbar-natural"},
            "stages.data.source.subsets = 'llmbar-natural'",
        ),
        (
            {"kind": "gsm8k", "path": "f", "pairs_per_question": 0},
            "stages.data.source.pairs_per_question = 0",
        ),
        ({"kind": "webscrape"}, "stages.data.source.kind = 'webscrape': Input should be 'gsm8k', 'hub'"),
        ({"path": "x"}, "stages.data.source.kind: required key is missing"),
        ("synthetic", "stages.data.source = 'synthetic': Value error, a source must be a mapping"),
        (
            {"kind": "judgebench", "path": "j.jsonl", "on_bad_row": "ignore"},
            "stages.data.source.on_bad_row = 'ignore'",
        ),
    ],
)
def test_recipe_validation_names_the_bad_source_key(source: Any, message: str) -> None:
    with pytest.raises(RecipeError) as err:
        validate_recipe(_recipe(source))
    assert message in str(err.value)


def test_test_source_is_typed_too() -> None:
    with pytest.raises(RecipeError, match=r"stages.data.test_source.n_test = -1"):
        validate_recipe(_recipe({"kind": "synthetic"}, test_source={"kind": "synthetic", "n_test": -1}))


def test_a_valid_spec_is_kept_as_written() -> None:
    source = {"kind": "llmbar", "dir_path": "data/llmbar", "subsets": ["llmbar-natural"]}
    stage = validate_recipe(_recipe(source)).stages["data"]
    assert stage.source == source
    assert parse_source_spec(source).loader_options() == {
        "path": "data/llmbar",
        "subsets": ["llmbar-natural"],
    }


def test_every_registered_kind_has_a_spec() -> None:
    from judgerl.data_prep.sources import SOURCE_LOADERS

    assert set(SOURCE_LOADERS.names()) == set(SOURCE_SPECS.names())
    assert LocalSpec(
        path="x",
        label_map={1: "a", 2: "b"},
        columns={"question": "q", "response_a": "a", "response_b": "b", "label": "w"},
    ).label_map == {1: "a", 2: "b"}


def test_validate_command_reports_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from judgerl.cli.main import main

    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(_recipe({"kind": "synthetic", "n_train": 10, "n_test": 0})))
    assert main(["validate", str(path)]) == 2
    assert "stages.data.source.n_test = 0" in capsys.readouterr().err


def test_prep_names_the_detected_format_and_counts_skips(tmp_path: Path) -> None:
    rows = [{"input": f"q{i}", "output_1": "x", "output_2": "y", "label": 1 + i % 2} for i in range(6)]
    rows[2]["label"] = 3
    data = tmp_path / "mine.json"
    data.write_text(json.dumps(rows))
    stage = PrepStage(source={"kind": "local", "path": str(data)}, on_bad_row="skip", test_fraction=0.3)
    result = run_prep(stage, StageContext("data", tmp_path / "out", seed=1))
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["source"]["formats"] == {str(data): "llmbar"}
    assert stats["source"]["skipped_examples"] == [
        {"index": 2, "reason": "mine.json: label must be 1 or 2, got 3"}
    ]
    assert result.metrics["format"] == "llmbar" and result.metrics["skipped"] == 1
    assert result.metrics["train_rows"] + result.metrics["test_rows"] == 5
    first = JudgeSample.from_dict(json.loads((tmp_path / "out" / "train.jsonl").read_text().splitlines()[0]))
    assert first.subset == "mine" and first.source == "llmbar"

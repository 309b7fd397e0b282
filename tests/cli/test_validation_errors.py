"""The one pydantic error formatter, in its two forms, and the command-line errors it writes."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import Field, ValidationError, model_validator

from judgerl.cli.main import main
from judgerl.core.config import StrictModel, format_validation_error
from judgerl.core.errors import RecipeError


class Cfg(StrictModel):
    lr: float
    steps: int = Field(1, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _no_none(cls, data: Any) -> Any:
        if data is None:
            raise ValueError("give a mapping")
        return data


def _error(**kwargs: Any) -> ValidationError:
    with pytest.raises(ValidationError) as e:
        Cfg.model_validate(kwargs or None)
    return e.value


def test_plain_form_names_each_location() -> None:
    err = _error(lr="fast", steps=0, lrr=1)
    assert format_validation_error(err) == (
        "lr: Input should be a valid number, unable to parse string as a number; "
        "steps: Input should be greater than or equal to 1; lrr: Extra inputs are not permitted"
    )
    assert format_validation_error(_error(steps=2), "stages.sft") == "stages.sft.lr: Field required"
    assert format_validation_error(_error()) == "input: Value error, give a mapping"


def test_recipe_form_shows_values_and_names_unknown_and_missing_keys() -> None:
    err = _error(lr="fast", lrr=1)
    assert format_validation_error(err, "stages.sft", values=True) == (
        "stages.sft.lr = 'fast': Input should be a valid number, unable to parse string as a number; "
        "stages.sft.lrr: unknown key (value 1)"
    )
    assert format_validation_error(_error(steps=3), values=True) == "lr: required key is missing"
    assert (
        format_validation_error(_error(), "stages.x", values=True)
        == "stages.x = None: Value error, give a mapping"
    )


def test_recipe_header_errors_carry_no_stray_dot() -> None:
    from judgerl.recipe import validate_recipe

    with pytest.raises(RecipeError) as e:
        validate_recipe(
            {"name": "t", "run_dir": "r", "seed": "x", "bogus": 1, "stages": {"d": {"kind": "prep"}}},
            "r.yaml",
        )
    assert "recipe r.yaml: seed = 'x': " in str(e.value) and "; bogus: unknown key (value 1)" in str(e.value)


def test_commands_report_config_errors_with_exit_code_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scaling", "--candidates", "c.jsonl", "--judge", "oracle:0", "--k", "0"]) == 2
    assert "judgerl scaling: k: Value error, every k must be >= 1, got [0]" in capsys.readouterr().err
    assert main(["eval", "--model", "m", "--data", "t.jsonl", "--max-new-tokens", "0"]) == 2
    assert (
        "judgerl eval: max_new_tokens: Input should be greater than or equal to 1" in capsys.readouterr().err
    )
    assert main(["eval", "rewardbench", "--model", "m", "--tensor-parallel-size", "0"]) == 2
    err = capsys.readouterr().err
    assert "judgerl eval rewardbench: tensor_parallel_size: Input should be greater than or equal to 1" in err

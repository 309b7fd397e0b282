"""Flags derived from a typed config: names, types, choices, switches, aliases, defaults and the way back."""

from __future__ import annotations

import argparse
from typing import Any, Literal

import pytest
from pydantic import Field

from judgerl.cli.config_flags import add_config_flags, comma_list, config_values
from judgerl.core.config import StrictModel


class Toy(StrictModel):
    kind: Literal["toy"] = "toy"
    model: str
    max_new_tokens: int = Field(512, ge=1, description="tokens per completion")
    temperature: float | None = None
    mode: Literal["fast", "slow"] = "fast"
    version: Literal[1, 2] = 1
    k: list[int] = Field(default_factory=lambda: [1, 2, 4])
    judges: list[str] = Field(default_factory=lambda: ["oracle:0"])
    theory: bool = False
    plots: bool = True
    both_orders: bool = True
    plot_T: float | None = None


def _parser(**kwargs: Any) -> tuple[argparse.ArgumentParser, list[str]]:
    p = argparse.ArgumentParser(prog="toy")
    return p, add_config_flags(p, Toy, **kwargs)


def test_every_field_but_kind_becomes_a_typed_flag_and_comes_back_as_config_keys() -> None:
    p, fields = _parser(negated={"both_orders": "--one-order"})
    assert fields == [f for f in Toy.model_fields if f != "kind"]
    args = p.parse_args(
        ["--model", "m", "--max-new-tokens", "8", "--temperature", "0.5", "--mode", "slow", "--version", "2"]
        + ["--k", "1, 3", "--theory", "--no-plots", "--one-order", "--plot-T", "inf"]
    )
    values = config_values(args, fields)
    assert values == {
        "model": "m",
        "max_new_tokens": 8,
        "temperature": 0.5,
        "mode": "slow",
        "version": 2,
        "k": [1, 3],
        "theory": True,
        "plots": False,
        "both_orders": False,
        "plot_T": float("inf"),
    }
    stage = Toy(**values)
    assert stage.judges == ["oracle:0"] and stage.both_orders is False


def test_unset_flags_leave_the_config_default_and_defaults_true_carries_it() -> None:
    p, fields = _parser()
    args = p.parse_args(["--model", "m"])
    assert config_values(args, fields) == {"model": "m"}
    assert Toy(**config_values(args, fields)).k == [1, 2, 4]
    p, fields = _parser(defaults=True)
    values = config_values(p.parse_args(["--model", "m"]), fields)
    assert values == {
        "model": "m",
        "max_new_tokens": 512,
        "mode": "fast",
        "version": 1,
        "k": [1, 2, 4],
        "judges": ["oracle:0"],
        "theory": False,
        "plots": True,
        "both_orders": True,
    }


def test_choices_types_and_required_are_enforced_by_argparse(capsys: pytest.CaptureFixture[str]) -> None:
    p, _ = _parser()
    for argv, needle in (
        ([], "the following arguments are required: --model"),
        (["--model", "m", "--mode", "medium"], "invalid choice: 'medium'"),
        (["--model", "m", "--version", "3"], "invalid choice: 3"),
        (["--model", "m", "--max-new-tokens", "many"], "invalid int value: 'many'"),
        (["--model", "m", "--k", "1,x"], "invalid comma-separated int value: '1,x'"),
    ):
        with pytest.raises(SystemExit) as e:
            p.parse_args(argv)
        assert e.value.code == 2
        assert needle in capsys.readouterr().err, argv


def test_help_texts_aliases_repeatable_and_required_overrides() -> None:
    p, fields = _parser(
        fields=["judges", "max_new_tokens", "mode", "theory"],
        help={"judges": "judge specs, comma-separated"},
        aliases={"judges": ["--judge"]},
        required={"judges"},
        repeatable={"judges"},
    )
    assert fields == ["judges", "max_new_tokens", "mode", "theory"]
    text = p.format_help()
    assert "--judges JUDGES, --judge JUDGES" in text and "judge specs, comma-separated" in text
    assert "tokens per completion" in text  # the field's description
    assert "default: fast" in text  # no help and no description: the default
    args = p.parse_args(["--judge", "oracle:0,oracle:0.5", "--judges", "http:u"])
    assert args.judges == ["oracle:0", "oracle:0.5", "http:u"]  # repeated values add up
    with pytest.raises(SystemExit):
        p.parse_args([])  # judges was made required


def test_choices_override_exclude_and_unknown_or_unflaggable_fields() -> None:
    p, fields = _parser(fields=["model", "mode"], exclude={"model"}, choices={"mode": ["fast"]})
    assert fields == ["mode"]
    with pytest.raises(SystemExit):
        p.parse_args(["--mode", "slow"])

    class Nested(StrictModel):
        data: dict[str, Any] = Field(default_factory=dict)

    with pytest.raises(TypeError, match=r"Nested.data: .* has no flag form"):
        add_config_flags(argparse.ArgumentParser(), Nested)
    with pytest.raises(TypeError, match="Toy has no field 'nope'"):
        add_config_flags(argparse.ArgumentParser(), Toy, ["nope"])


def test_comma_list_reads_floats_and_drops_blanks() -> None:
    assert comma_list(float)("0, 0.5,,inf") == [0.0, 0.5, float("inf")]
    assert comma_list(str)(" a ,b") == ["a", "b"]

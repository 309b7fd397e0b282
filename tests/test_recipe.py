"""Recipe loading: overrides, interpolation and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from judgerl.core.errors import RecipeError
from judgerl.recipe import apply_overrides, load_recipe, parse_override, validate_recipe

BASE = {
    "name": "t",
    "run_dir": "runs/t",
    "seed": 1,
    "vars": {"steps": 7},
    "stages": {
        "data": {"kind": "prep", "source": {"kind": "synthetic", "n_train": 10, "n_test": 4}},
        "model": {"kind": "tiny_model", "data": "${stages.data.train}", "hidden_size": 32, "layers": 1},
        "sft": {
            "kind": "sft",
            "model": "${stages.model.checkpoint}",
            "data": "${stages.data.train}",
            "max_steps": "${vars.steps}",
            "lr": "1e-3",
        },
        "eval": {"kind": "eval", "model": "${stages.sft.checkpoint}", "data": "${stages.data.test}"},
    },
}


def _write(tmp_path: Path, raw: dict) -> Path:
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def test_interpolation_resolves_stage_outputs_and_vars(tmp_path: Path) -> None:
    recipe = load_recipe(_write(tmp_path, BASE))
    sft = recipe.stages["sft"]
    assert sft.model == str(Path("runs/t/model/checkpoint"))
    assert sft.data == str(Path("runs/t/data/train.jsonl"))
    assert sft.max_steps == 7 and sft.lr == pytest.approx(1e-3)
    assert recipe.dependencies("sft") == ["data", "model"]
    assert recipe.stages["eval"].prompt == recipe.header.prompt


def test_overrides_set_nested_keys_and_parse_values(tmp_path: Path) -> None:
    recipe = load_recipe(_write(tmp_path, BASE), ["stages.sft.lr=2e-5", "seed=9", "run_dir=elsewhere"])
    assert recipe.stages["sft"].lr == pytest.approx(2e-5)
    assert recipe.header.seed == 9
    assert recipe.stages["sft"].model == str(Path("elsewhere/model/checkpoint"))
    assert parse_override("stages.sft.lora={r: 4}") == (["stages", "sft", "lora"], {"r": 4})


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        (["stages.sft.lrr=1"], "stages.sft.lrr: unknown key"),
        (["stages.sft.lr=fast"], "stages.sft.lr = 'fast'"),
        (["stages.sft.batch_size=0"], "stages.sft.batch_size = 0"),
        (["stages.sftt.lr=1"], "stages.sftt: no such stage"),
        (["stages.sft.data=${stages.dat.train}"], "names stage 'dat', which the recipe does not define"),
        (["stages.model.data=${stages.sft.checkpoint}"], "does not run before 'model'"),
        (["stages.sft.data=${stages.data.checkpoint}"], "a 'prep' stage has no output 'checkpoint'"),
        (["stages.sft.kind=sfft"], "stages.sft.kind: 'sfft' is not a stage kind"),
        (["stages.sft.max_steps=${vars.nope}"], "names a key the recipe does not have"),
        (["lr"], "expected KEY=VALUE"),
        (["seed=x"], "seed = 'x'"),
    ],
)
def test_errors_name_the_file_key_and_value(tmp_path: Path, overrides: list[str], needle: str) -> None:
    path = _write(tmp_path, BASE)
    with pytest.raises(RecipeError) as err:
        load_recipe(path, overrides)
    assert needle in str(err.value)
    if not overrides[0].startswith("lr"):
        assert str(path) in str(err.value)


def test_self_reference_is_reported_as_a_cycle() -> None:
    raw = apply_overrides(BASE, ["vars.a=${vars.b}", "vars.b=${vars.a}", "stages.sft.max_steps=${vars.a}"])
    with pytest.raises(RecipeError, match="cycle"):
        validate_recipe(raw)


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match="no such file"):
        load_recipe(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("stages: [unclosed")
    with pytest.raises(RecipeError, match="not valid YAML"):
        load_recipe(bad)


def test_extends_merges_a_base_recipe_and_appends_stages(tmp_path: Path) -> None:
    _write(tmp_path, BASE)
    child = tmp_path / "child.yaml"
    child.write_text(
        "extends: r.yaml\nname: child\nstages:\n  sft: {lr: 5e-4}\n"
        "  eval2: {kind: eval, model: '${stages.sft.checkpoint}', data: '${stages.data.test}'}\n"
    )
    recipe = load_recipe(child)
    assert recipe.name == "child" and list(recipe.stages) == ["data", "model", "sft", "eval", "eval2"]
    assert recipe.stages["sft"].lr == pytest.approx(5e-4) and recipe.stages["sft"].max_steps == 7
    loop = tmp_path / "loop.yaml"
    loop.write_text("extends: loop.yaml\n")
    with pytest.raises(RecipeError, match="extends itself"):
        load_recipe(loop)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("name: t\nrun_dir: r\nname: u\nstages: {}\n", "line 3, column 1: duplicate key 'name' (first given at line 1)"),
        ("a: &a [x, x, x, x, x, x, x, x, x, x]\n"
         + "".join(f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n" for p, c in zip("abcdef", "bcdefg", strict=True)),
         "expands to more than 100,000 values"),
        ("vars: " + "[" * 600 + "]" * 600 + "\n", "nest"),
        ("stages:\n  s: {kind: [sft]}\nname: t\nrun_dir: r\n", "stages.s.kind: ['sft'] is not a stage kind"),
        ("stages:\n  e.v: {kind: prep, source: {kind: synthetic}}\nname: t\nrun_dir: r\n", "stages.'e.v': not a valid stage name"),
        ("stages:\n  1: {kind: prep, source: {kind: synthetic}}\nname: t\nrun_dir: r\n", "stages.1: not a valid stage name"),
        ("extends: .\n", "extends: recipe"),
        ("extends: " + "x" * 5000 + "\n", "extends: recipe"),
    ],
)  # fmt: skip
def test_malformed_recipe_files_are_one_line_errors(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(text)
    with pytest.raises(RecipeError) as err:
        load_recipe(path)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_undecodable_bytes_and_folders_are_errors(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_bytes(b"name: t\nrun_dir: \xff\n")
    with pytest.raises(RecipeError, match="not UTF-8 text \\(byte 17, line 2"):
        load_recipe(path)
    with pytest.raises(RecipeError, match="is a folder, not a recipe file \\(recipes in it: r.yaml\\)"):
        load_recipe(tmp_path)


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        (["stages.sft.model=${stages.model.checkpoint"], "stages.sft.model: '${stages.model.checkpoint': a '${'"),
        (["stages.sft.lr=.inf"], "stages.sft.lr = inf: expected a finite number"),
        (["stages.sft.lr=.nan"], "stages.sft.lr = nan: expected a finite number"),
        (["stages.sft.lr=1.0e999"], "stages.sft.lr = inf: expected a finite number"),
        (["stages.sft.max_steps=1180591620717411303424"], "stages.sft.max_steps = 1180591620717411303424: out of range"),
        (["stages.data.source.seed=-1"], "stages.data.source.seed = -1: a seed must be an integer from 0 to 2**32-1"),
        (["seed=-1"], "seed = -1: Input should be greater than or equal to 0"),
        ([f"seed={2**70}"], "seed = 1180591620717411303424: Input should be less than or equal to 4294967295"),
        (["vars.a={b: 1}", "stages.sft.model=x${vars.a}"], "${vars.a} is a dict; only a whole value"),
        (["vars.x={a: 1, a: 2}"], "duplicate key 'a'"),
    ],
)  # fmt: skip
def test_values_that_would_fail_at_run_time_are_rejected(
    tmp_path: Path, overrides: list[str], needle: str
) -> None:
    with pytest.raises(RecipeError) as err:
        load_recipe(_write(tmp_path, BASE), overrides)
    assert needle in str(err.value)


def test_limits_leave_legitimate_recipes_alone(tmp_path: Path) -> None:
    text = yaml.safe_dump(BASE, sort_keys=False).replace(
        "vars:\n", "vars:\n  d: &d {a: 1}\n  more: {<<: *d, b: 2}\n", 1
    )
    path = tmp_path / "r.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    recipe = load_recipe(
        path, ["seed=4294967295", "stages.sft.lr=1.0e-300", "stages.eval.max_samples=9007199254740992"]
    )
    assert recipe.header.seed == 2**32 - 1 and recipe.raw["vars"]["more"] == {"a": 1, "b": 2}
    assert recipe.stages["sft"].lr == 1e-300 and recipe.stages["eval"].max_samples == 2**53

"""Finding recipes: an existing path wins, else a shipped recipe by name, from any folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from judgerl.core.errors import RecipeError
from judgerl.core.recipe_files import (
    resolve_extends,
    resolve_recipe_path,
    resolve_shipped_references,
    shipped_file,
    shipped_recipe_names,
    shipped_recipes_dir,
)
from judgerl.recipe import load_recipe

REPO = Path(__file__).resolve().parents[2]


def test_the_checkout_reads_the_root_recipes_folder() -> None:
    assert shipped_recipes_dir() == REPO / "recipes"
    names = shipped_recipe_names()
    assert "quickstart.yaml" in names and "think_j/qwen2.5-7b.yaml" in names
    assert not any(n.startswith(("accelerate/", "deepspeed/")) for n in names)  # launcher configs


@pytest.mark.parametrize(
    "name", ["quickstart", "quickstart.yaml", "recipes/quickstart.yaml", "./recipes/quickstart"]
)
def test_a_shipped_name_resolves_from_any_folder(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve_recipe_path(name) == REPO / "recipes" / "quickstart.yaml"


def test_a_dotted_name_is_not_taken_for_a_suffix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve_recipe_path("think_j/qwen2.5-7b") == REPO / "recipes" / "think_j" / "qwen2.5-7b.yaml"
    assert load_recipe("think_j/qwen2.5-7b").name == "think_j-qwen2.5-7b"


def test_inside_the_checkout_the_path_stays_relative(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    assert resolve_recipe_path("quickstart") == Path("recipes/quickstart.yaml")


def test_a_path_that_exists_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "quickstart").write_text("mine")
    assert resolve_recipe_path("quickstart") == Path("quickstart")
    (tmp_path / "recipes").mkdir()
    (tmp_path / "recipes" / "quickstart.yaml").write_text("mine too")
    assert resolve_recipe_path("recipes/quickstart.yaml") == Path("recipes/quickstart.yaml")


def test_an_unknown_name_says_so_and_suggests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RecipeError, match="no shipped recipe of that name; did you mean quickstart.yaml"):
        resolve_recipe_path("quickstrt")
    with pytest.raises(RecipeError, match="judgerl ls"):
        load_recipe("no-such-recipe-anywhere")


def test_a_name_cannot_climb_out_of_the_shipped_folder() -> None:
    assert shipped_file("../pyproject.toml") is None and shipped_file("think_j/../../README.md") is None
    assert shipped_file("/etc/hostname") is None and shipped_file("") is None
    assert shipped_file("deepspeed/zero3.json") == REPO / "recipes" / "deepspeed" / "zero3.json"
    assert shipped_file("a\0b") is None and shipped_file("x" * 5000) is None
    assert resolve_shipped_references({"k": "recipes/\0" + "x" * 5000}) == {"k": "recipes/\0" + "x" * 5000}
    with pytest.raises(RecipeError, match="no such file"):
        resolve_recipe_path("bad\0name")


def test_extends_falls_back_to_a_shipped_recipe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    mine = tmp_path / "mine.yaml"
    mine.write_text("extends: quickstart.yaml\nname: mine\nstages:\n  sft: {max_steps: 3}\n")
    assert resolve_extends("quickstart.yaml", mine) == REPO / "recipes" / "quickstart.yaml"
    recipe = load_recipe(mine)
    assert recipe.name == "mine" and recipe.stages["sft"].max_steps == 3 and "eval_sft" in recipe.stages
    (tmp_path / "quickstart.yaml").write_text("name: local\nrun_dir: r\nstages: {data: {kind: prep}}\n")
    assert resolve_extends("quickstart.yaml", mine) == tmp_path / "quickstart.yaml"  # the local one wins
    assert resolve_extends("nothing.yaml", mine) == tmp_path / "nothing.yaml"  # reported by the reader


def test_shipped_config_paths_resolve_only_where_they_would_not_exist(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = {"a": "recipes/deepspeed/zero3.json", "b": ["recipes/nope.json", "data/x.jsonl"], "c": {"d": 1}}
    monkeypatch.chdir(REPO)
    assert resolve_shipped_references({**raw})["a"] == "recipes/deepspeed/zero3.json"
    monkeypatch.chdir(tmp_path)
    out = resolve_shipped_references({**raw})
    assert out["a"] == str(REPO / "recipes" / "deepspeed" / "zero3.json")
    assert out["b"] == ["recipes/nope.json", "data/x.jsonl"] and out["c"] == {"d": 1}
    recipe = load_recipe("think_j/qwen2.5-32b")
    assert (
        Path(recipe.stages["dpo"].deepspeed).is_file() and Path(recipe.stages["dpo"].deepspeed).is_absolute()
    )

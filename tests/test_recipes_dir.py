"""Every shipped recipe under recipes/ loads and validates."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from judgerl.recipe import load_recipe

RECIPES = sorted(
    p
    for p in (Path(__file__).resolve().parents[1] / "recipes").rglob("*.yaml")
    if isinstance(yaml.safe_load(p.read_text()), dict) and "stages" in yaml.safe_load(p.read_text())
)


def test_there_are_recipes() -> None:
    assert any(p.name == "quickstart.yaml" for p in RECIPES)


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_recipe_validates(path: Path) -> None:
    recipe = load_recipe(path)
    assert recipe.stages, f"{path} has no stages"
    assert recipe.header.description.strip(), f"{path} needs a one-line description for `judgerl ls`"


def test_every_file_under_recipes_is_shipped_by_the_package_data_globs() -> None:
    """pyproject.toml ships recipes/**/*.yaml and **/*.json as judgerl.recipes; anything else would be lost."""
    root = Path(__file__).resolve().parents[1] / "recipes"
    other = [p for p in root.rglob("*") if p.is_file() and p.suffix not in (".yaml", ".json")]
    assert other == [], f"not shipped in the wheel (add a glob to pyproject.toml's package-data): {other}"


def test_every_recipes_path_a_shipped_file_names_is_shipped() -> None:
    """Recipes name launcher configs as recipes/...: each must exist, so a copy or a run elsewhere finds it."""
    import re

    root = Path(__file__).resolve().parents[1] / "recipes"
    named = {
        (p.relative_to(root).as_posix(), m.group(0))
        for p in root.rglob("*")
        if p.is_file()
        for m in re.finditer(r"(?<![\w./-])recipes/[\w./-]+\.(?:yaml|yml|json)", p.read_text())
    }
    assert named, "the paper-scale recipes name their DeepSpeed configs"
    missing = [(f, ref) for f, ref in named if not (root.parent / ref).is_file()]
    assert missing == []

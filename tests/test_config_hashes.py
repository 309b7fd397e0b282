"""Config hashes stay what they were: a finished stage of an earlier recipe is not rerun because judgerl
gained a key. The hashes were recorded before judge specs existed (tests/fixtures/config_hashes.json);
a change that must move one is listed in docs/recipes.md and re-recorded on purpose."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from judgerl.pipeline import config_hash
from judgerl.recipe import load_recipe

REPO = Path(__file__).resolve().parents[1]
RECORDED = json.loads((REPO / "tests" / "fixtures" / "config_hashes.json").read_text())["hashes"]


def _hashes(path: Path) -> dict[str, str]:
    recipe = load_recipe(str(path))
    hashes: dict[str, str] = {}
    for name in recipe.stages:
        hashes[name] = config_hash(recipe, name, hashes)
    return hashes


@pytest.mark.parametrize("recipe", sorted(RECORDED))
def test_every_stage_keeps_its_recorded_config_hash(recipe: str) -> None:
    assert _hashes(REPO / recipe) == RECORDED[recipe]


def test_a_judge_spec_enters_the_hash_by_content(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text("extends: mtbench\nname: mine\n")
    base = (REPO / "tests" / "fixtures" / "every_stage_kind.yaml").read_text()
    recipe = tmp_path / "r.yaml"
    recipe.write_text(base + f"judge_spec: {spec}\n")
    first = _hashes(recipe)
    assert first["eval"] != RECORDED["tests/fixtures/every_stage_kind.yaml"]["eval"]
    spec.write_text("extends: mtbench\nname: mine\nverdict: {ties: false}\n")
    second = _hashes(recipe)
    assert second["eval"] != first["eval"] and second["data"] == first["data"]  # prep takes no spec

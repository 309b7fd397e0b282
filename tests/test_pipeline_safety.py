"""Issue 16 items 1-3: the pipeline removes only its own stage folders, never trusts a torn manifest
or a damaged output, and keeps a finished folder until the stage's new run finishes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import judgerl.pipeline as pipeline
from judgerl.core.errors import RecipeError, StageError
from judgerl.core.jsonl import read_json, read_jsonl
from judgerl.core.seeding import seed_everything
from judgerl.core.stage_folders import move_aside, remove_stage_folder
from judgerl.pipeline import run_recipe, run_stage
from judgerl.recipe import load_recipe

SYNTHETIC = {"kind": "synthetic", "n_train": 8, "n_test": 4}


def _recipe(tmp_path: Path, **stages: dict) -> Path:
    raw = {
        "name": "safety",
        "run_dir": str(tmp_path / "run"),
        "stages": stages or {"data": {"kind": "prep", "source": SYNTHETIC}},
    }
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def _statuses(outcomes: list) -> dict[str, str]:
    return {o.name: o.status for o in outcomes}


@pytest.mark.parametrize("name", ["/some/dir", "", "..", ".", "e.v", "a/b", "-x", "x" * 65])
def test_unsafe_stage_names_are_rejected_at_validation(tmp_path: Path, name: str) -> None:
    path = _recipe(tmp_path, **{name: {"kind": "prep", "source": SYNTHETIC}})
    with pytest.raises(RecipeError, match="not a valid stage name"):
        load_recipe(path)


def test_the_pipeline_never_removes_a_folder_outside_its_stage_folder(tmp_path: Path) -> None:
    recipe = load_recipe(_recipe(tmp_path))
    outside = tmp_path / "precious"
    (outside / "keep").mkdir(parents=True)
    (outside / "manifest.json").write_text(json.dumps({"config_hash": "x", "status": "complete"}))
    # a stage name that escapes the run folder, as if validation had let it through
    recipe.stages = {str(outside): recipe.stages["data"]}
    recipe.raw = {**recipe.raw, "stages": {str(outside): recipe.raw["stages"]["data"]}}
    with pytest.raises(StageError, match="refusing to move"):
        run_stage(recipe, str(outside), force=True)
    assert (outside / "keep").is_dir()
    run = recipe.run_dir
    with pytest.raises(StageError, match="refusing to remove"):
        remove_stage_folder(run, "data", run)  # the run folder itself
    with pytest.raises(StageError, match="refusing to remove"):
        remove_stage_folder(run, "..", run / "..")


def test_a_folder_that_is_not_a_stage_folder_is_never_moved_or_removed(tmp_path: Path) -> None:
    recipe = load_recipe(_recipe(tmp_path))
    mine = recipe.stage_dir("data")
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("mine")
    with pytest.raises(StageError, match="no manifest.json, so it is not a judgerl stage folder"):
        run_recipe(recipe)
    assert (mine / "notes.txt").read_text() == "mine"
    # a symlinked stage folder loses only the link
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "manifest.json").write_text("{}")
    (mine / "notes.txt").unlink()
    mine.rmdir()
    mine.symlink_to(target)
    move_aside(recipe.run_dir, "data")
    remove_stage_folder(recipe.run_dir, "data", recipe.run_dir / ".data.previous")
    assert (target / "manifest.json").exists() and not mine.exists()


@pytest.mark.parametrize("cut", ["half", "not-a-mapping"])
def test_a_torn_manifest_is_an_error_that_says_how_to_redo_the_stage(tmp_path: Path, cut: str) -> None:
    path = _recipe(tmp_path)
    recipe = load_recipe(path)
    run_recipe(recipe)
    manifest = recipe.stage_dir("data") / "manifest.json"
    text = manifest.read_text()
    manifest.write_text(text[: len(text) // 2] if cut == "half" else "[1, 2]")
    with pytest.raises(StageError) as err:
        run_recipe(load_recipe(path))
    assert str(manifest) in str(err.value) and f"judgerl run {path} --only data" in str(err.value)
    assert (recipe.stage_dir("data") / "train.jsonl").exists()  # nothing was removed
    # the advice works: --only reruns the stage, and the folder it replaced is gone once it finished
    assert _statuses(run_recipe(load_recipe(path), only="data")) == {"data": "ran"}
    assert read_json(manifest)["status"] == "complete"
    assert not (recipe.run_dir / ".data.previous").exists()


def test_a_damaged_output_of_a_finished_stage_is_an_error_not_a_skip(tmp_path: Path) -> None:
    path = _recipe(tmp_path)
    recipe = load_recipe(path)
    run_recipe(recipe)
    train = recipe.stage_dir("data") / "train.jsonl"
    lines = train.read_text().splitlines(keepends=True)
    assert len(lines) == 8
    train.write_text("".join(lines[:4]))
    with pytest.raises(StageError, match=r"train.jsonl has .* bytes.*4 rows where 8 were written") as err:
        run_recipe(load_recipe(path))
    assert "--only data" in str(err.value)
    # same size, other content: the checksum tells
    train.write_text("".join(lines[:7]) + lines[7].replace('"', "'"))
    with pytest.raises(StageError, match="train.jsonl changed since the stage finished"):
        run_recipe(load_recipe(path))
    (recipe.stage_dir("data") / "test.jsonl").unlink()
    with pytest.raises(StageError, match="test.jsonl is missing"):
        run_recipe(load_recipe(path))
    run_recipe(load_recipe(path), only="data")
    assert len(read_jsonl(train)) == 8
    assert _statuses(run_recipe(load_recipe(path))) == {"data": "skipped"}


def test_a_finished_folder_waits_aside_until_the_new_run_finishes(tmp_path: Path) -> None:
    path = _recipe(tmp_path)
    run_recipe(load_recipe(path))
    run = tmp_path / "run"
    before = (run / "data" / "train.jsonl").read_text()
    bad = ["stages.data.source={kind: local, path: " + str(tmp_path / "missing.jsonl") + "}"]
    with pytest.raises(StageError, match="stage 'data' \\(prep\\) failed"):
        run_recipe(load_recipe(path, bad))
    assert (run / ".data.previous" / "train.jsonl").read_text() == before
    assert read_json(run / "data" / "manifest.json")["status"] == "failed"
    # a second failing attempt keeps the same finished copy aside
    with pytest.raises(StageError):
        run_recipe(load_recipe(path, bad), only="data")
    assert (run / ".data.previous" / "train.jsonl").read_text() == before
    # back to the finished config: the finished folder is put back, nothing reruns
    assert _statuses(run_recipe(load_recipe(path))) == {"data": "skipped"}
    assert (run / "data" / "train.jsonl").read_text() == before and not (run / ".data.previous").exists()
    # a new config that finishes replaces the folder, and only then is the old one removed
    assert _statuses(run_recipe(load_recipe(path, ["stages.data.source.n_train=5"]))) == {"data": "ran"}
    assert len(read_jsonl(run / "data" / "train.jsonl")) == 5 and not (run / ".data.previous").exists()


def test_seeding_is_checked_and_a_seeding_failure_is_the_stage_failing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for seed in (-1, 2**32, 2**70):
        with pytest.raises(ValueError, match="expected an integer from 0 to 2\\*\\*32-1"):
            seed_everything(seed)
    path = _recipe(tmp_path)
    for seed in ("-1", str(2**70)):
        with pytest.raises(RecipeError, match="seed = "):
            load_recipe(path, [f"seed={seed}"])

    def broken(seed: int) -> None:
        raise ValueError("no seeding today")

    monkeypatch.setattr(pipeline, "seed_everything", broken)
    with pytest.raises(StageError, match="no seeding today"):
        run_recipe(load_recipe(path))
    assert read_json(tmp_path / "run" / "data" / "manifest.json")["status"] == "failed"

"""Issue 16 items 1-3: the pipeline removes only its own stage folders, never trusts a torn manifest
or a damaged output, and keeps a finished folder until the stage's new run finishes."""

from __future__ import annotations

import contextlib
import errno
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import judgerl.data_prep.stage as prep_stage
import judgerl.pipeline as pipeline
from judgerl.cli.main import main
from judgerl.core.errors import RecipeError, StageError
from judgerl.core.jsonl import read_json, read_jsonl
from judgerl.core.run_lock import lock_path
from judgerl.core.seeding import seed_everything
from judgerl.core.stage import StageContext, StageResult
from judgerl.core.stage_folders import move_aside, remove_stage_folder
from judgerl.pipeline import run_recipe, run_stage
from judgerl.recipe import load_recipe

REPO = Path(__file__).resolve().parents[1]
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


def _no_space(*args: object, **kwargs: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device", "manifest.json")


def test_a_full_disk_at_stage_start_is_one_line_and_leaves_the_manifest_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _recipe(tmp_path)
    run_recipe(load_recipe(path))
    manifest = tmp_path / "run" / "data" / "manifest.json"
    before = manifest.read_text()
    monkeypatch.setattr(pipeline, "write_json", _no_space)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["run", str(path), "stages.data.source.n_train=5"])
    assert code == 2 and err.getvalue().count("\n") == 1 and "Traceback" not in err.getvalue()
    assert "stage 'data' could not start: no space left on device writing manifest.json" in err.getvalue()
    # the finished folder waits aside with its manifest whole; nothing torn is left anywhere
    assert (tmp_path / "run" / ".data.previous" / "manifest.json").read_text() == before
    assert not manifest.exists() and list((tmp_path / "run").rglob("*.tmp")) == []
    monkeypatch.undo()  # space again: the old config finds its finished folder, the new one runs
    assert _statuses(run_recipe(load_recipe(path))) == {"data": "skipped"}
    assert manifest.read_text() == before


def test_a_full_disk_inside_a_stage_is_one_line_even_when_the_manifest_cannot_be_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _recipe(tmp_path)
    real_write_json = pipeline.write_json

    def full_after_start(target: Path, obj: dict, durable: bool = False) -> Path:
        if obj.get("status") != "running":
            _no_space()
        return real_write_json(target, obj, durable)

    def stage_fills_the_disk(config: object, ctx: StageContext) -> StageResult:
        raise OSError(errno.ENOSPC, "No space left on device", str(ctx.path("predictions.jsonl")))

    monkeypatch.setattr(pipeline, "write_json", full_after_start)
    monkeypatch.setattr(prep_stage, "run_prep", stage_fills_the_disk)  # the entry is looked up by name
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["run", str(path)])
    line = err.getvalue()
    assert code == 2 and line.count("\n") == 1 and "Traceback" not in line, line
    assert (
        "stage 'data' (prep) stopped: no space left on device writing" in line and "predictions.jsonl" in line
    )
    assert "its manifest still reads 'running'" in line and "rerun the same command to resume" in line
    assert read_json(tmp_path / "run" / "data" / "manifest.json")["status"] == "running"  # readable
    # once there is space again, the same command resumes the stage and finishes it
    monkeypatch.undo()
    assert _statuses(run_recipe(load_recipe(path))) == {"data": "ran"}
    assert read_json(tmp_path / "run" / "data" / "manifest.json")["attempts"] == 2


def test_ctrl_c_in_a_stage_is_one_line_exit_130_and_the_stage_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _recipe(tmp_path)

    def interrupted(config: object, ctx: StageContext) -> StageResult:
        raise KeyboardInterrupt

    monkeypatch.setattr(prep_stage, "run_prep", interrupted)
    for args, hint in (
        (["run", str(path)], "rerun the same command to resume"),
        (["run", str(path), "--only", "data"], f"resume it with: judgerl stage {path} data"),
    ):
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = main(args)
        assert code == 130 and err.getvalue() == f"judgerl: interrupted in stage 'data' (SIGINT); {hint}\n"
        manifest = read_json(tmp_path / "run" / "data" / "manifest.json")
        assert (manifest["status"], manifest["error"]) == ("failed", "interrupted (SIGINT)")
    assert lock_path(tmp_path / "run").read_text() == ""
    monkeypatch.undo()
    outcome = run_recipe(load_recipe(path))[0]
    assert outcome.status == "ran" and outcome.manifest["resume"] is True


SLOW_STAGE = """import sys, time
import judgerl.data_prep.stage as prep
def slow(config, ctx):  # a stage that is still running when the signal comes
    print("sleeping", file=sys.stderr, flush=True)
    time.sleep(120)
prep.run_prep = slow
from judgerl.cli.main import main
sys.exit(main(["run", sys.argv[1]]))
"""


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_signal_to_a_real_run_is_one_line_and_the_manifest_says_interrupted(
    tmp_path: Path, sig: signal.Signals, code: int
) -> None:
    path = _recipe(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_STAGE, str(path)],
        stderr=subprocess.PIPE, text=True, env=env, start_new_session=True,
    )  # fmt: skip
    assert proc.stderr is not None
    for line in proc.stderr:  # the stage is running: its folder and running manifest are there
        if line == "sleeping\n":
            break
    os.killpg(proc.pid, sig)  # as Ctrl-C does: the whole process group
    rest = proc.stderr.read()
    proc.wait(timeout=60)
    assert proc.returncode == code
    assert rest == f"judgerl: interrupted in stage 'data' ({sig.name}); rerun the same command to resume\n"
    manifest = read_json(tmp_path / "run" / "data" / "manifest.json")
    assert (manifest["status"], manifest["error"]) == ("failed", f"interrupted ({sig.name})")
    assert lock_path(tmp_path / "run").read_text() == ""


def test_a_signal_a_library_swallows_still_stops_the_run_after_the_stage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _recipe(
        tmp_path, data={"kind": "prep", "source": SYNTHETIC}, second={"kind": "prep", "source": SYNTHETIC}
    )
    real_run_prep = prep_stage.run_prep

    def swallowing(config: object, ctx: StageContext) -> StageResult:
        try:  # as a bare `except:` in a library does while the signal arrives
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
        except BaseException:  # noqa: BLE001, S110
            pass
        return real_run_prep(config, ctx)

    monkeypatch.setattr(prep_stage, "run_prep", swallowing)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["run", str(path)])
    assert code == 143 and err.getvalue() == (
        "judgerl: interrupted in stage 'data' (SIGTERM); rerun the same command to resume\n"
    )
    assert read_json(tmp_path / "run" / "data" / "manifest.json")["status"] == "complete"  # it did finish
    assert not (tmp_path / "run" / "second").exists()  # and nothing after it started

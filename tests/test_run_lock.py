"""Issue 25 item 1: one `judgerl run` / `judgerl stage` per run_dir at a time. A second run is refused
with one line naming the holder's PID and host; reading commands need no lock; a lock left by a dead
holder is taken over with a warning; the ranks of a launched stage run under their parent's lock."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from judgerl.cli.main import main
from judgerl.core.errors import StageError
from judgerl.core.run_lock import HOLDER_ENV, held_by_parent, lock_path, run_dir_lock
from judgerl.pipeline import run_launched_stage, run_recipe
from judgerl.recipe import load_recipe

REPO = Path(__file__).resolve().parents[1]
SYNTHETIC = {"kind": "synthetic", "n_train": 8, "n_test": 4}
HOLD = "import sys; from judgerl.core.run_lock import run_dir_lock\nwith run_dir_lock(sys.argv[1], 'judgerl run held.yaml'):\n    print('held', flush=True); sys.stdin.read()\n"


def _recipe(tmp_path: Path, n_train: int = 8) -> Path:
    raw = {
        "name": "locked",
        "run_dir": str(tmp_path / "run"),
        "stages": {"data": {"kind": "prep", "source": {**SYNTHETIC, "n_train": n_train}}},
    }
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@contextlib.contextmanager
def _holder(run_dir: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the run_dir's lock until the block ends."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    env.pop(HOLDER_ENV, None)
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(run_dir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        yield proc
    finally:
        proc.communicate("", timeout=30)


def _main(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, out.getvalue(), err.getvalue()


def test_a_second_run_on_a_locked_run_dir_is_refused_in_one_line(tmp_path: Path) -> None:
    recipe = _recipe(tmp_path)
    with _holder(tmp_path / "run") as holder:
        code, _, err = _main(["run", str(recipe)])
        assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
        assert f"PID {holder.pid} on host {socket.gethostname()}" in err
        assert "judgerl run held.yaml" in err and f"kill {holder.pid}" in err and "wait" in err
        code, _, err = _main(["stage", str(recipe), "data"])
        assert code == 2 and f"PID {holder.pid}" in err
        assert not (tmp_path / "run" / "data").exists()  # nothing was started
        # reading commands take no lock
        assert _main(["validate", str(recipe)])[0] == 0
        assert _main(["run", str(recipe), "--dry-run"])[0] == 0
    code, _, err = _main(["run", str(recipe)])  # the holder is gone: the run goes on
    assert code == 0, err
    assert lock_path(tmp_path / "run").read_text() == ""  # released cleanly: nothing to take over


@pytest.mark.slow
def test_two_real_runs_with_different_configs_one_is_refused(tmp_path: Path) -> None:
    recipe = _recipe(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    env.pop(HOLDER_ENV, None)
    with _holder(tmp_path / "run") as holder:
        done = subprocess.run(
            [sys.executable, "-m", "judgerl", "run", str(recipe), "stages.data.source.n_train=9"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("judgerl: error: run_dir") and done.stderr.count("\n") == 1
        assert f"PID {holder.pid}" in done.stderr and "Traceback" not in done.stderr


def test_a_lock_left_by_a_dead_process_is_taken_over_with_a_warning(tmp_path: Path, caplog) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = lock_path(tmp_path / "run")
    lock.parent.mkdir(parents=True)
    record = {
        "pid": dead.pid,
        "host": socket.gethostname(),
        "command": "judgerl run old.yaml",
        "started_at": "x",
    }
    lock.write_text(json.dumps(record))
    with caplog.at_level(logging.WARNING, logger="judgerl.lock"):
        outcomes = run_recipe(load_recipe(_recipe(tmp_path)))
    assert [o.status for o in outcomes] == ["ran"]
    assert f"PID {dead.pid}" in caplog.text and "no longer running" in caplog.text
    assert lock.read_text() == ""


def test_a_lock_record_from_another_host_is_not_taken_over(tmp_path: Path) -> None:
    lock = lock_path(tmp_path / "run")
    lock.parent.mkdir(parents=True)
    lock.write_text(json.dumps({"pid": 1, "host": "elsewhere.example", "command": "judgerl run x.yaml"}))
    with pytest.raises(StageError, match="PID 1 on host elsewhere.example.*delete the lock file"):
        run_recipe(load_recipe(_recipe(tmp_path)))
    assert not (tmp_path / "run" / "data").exists()


def test_a_planted_link_as_the_lock_file_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("keep")
    (tmp_path / "run").mkdir()
    lock_path(tmp_path / "run").symlink_to(outside)
    with pytest.raises(StageError, match="symbolic link"):
        run_recipe(load_recipe(_recipe(tmp_path)))
    assert outside.read_text() == "keep"


def test_the_lock_is_reentrant_and_passed_to_launched_ranks(tmp_path: Path, monkeypatch) -> None:
    recipe = load_recipe(_recipe(tmp_path))
    with run_dir_lock(recipe.run_dir, "outer"):
        assert os.environ[HOLDER_ENV] == str(lock_path(recipe.run_dir))
        assert [o.status for o in run_recipe(recipe)] == ["ran"]  # the same process: no deadlock
    assert HOLDER_ENV not in os.environ
    # a rank started under another process's lock runs under it; without the variable it is refused
    monkeypatch.setenv("RANK", "0")
    with _holder(recipe.run_dir):
        with pytest.raises(StageError, match="in use by PID"):
            run_launched_stage(recipe, "data", force=True)
        monkeypatch.setenv(HOLDER_ENV, str(lock_path(recipe.run_dir)))
        assert held_by_parent(recipe.run_dir)
        assert run_launched_stage(recipe, "data", force=True).status == "ran"
    # the variable left over from a holder that is gone: the rank takes the lock itself
    assert not held_by_parent(recipe.run_dir)
    assert run_launched_stage(recipe, "data", force=True).status == "ran"

"""`judgerl validate` on a generated corpus of malformed recipes: never a traceback, never an invalid
recipe accepted, every error one paragraph that names the key (issue 16 items 7, 8 and 10)."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from recipe_corpus import Case, base_recipes, corpus, source_cases

from judgerl.cli.main import main

REPO = Path(__file__).resolve().parents[1]


def _validate(case: Case, folder: Path) -> tuple[int | None, str, str]:
    """Write the case under `folder` and run `judgerl validate` on it in-process: (code, stderr, crash)."""
    folder.mkdir(parents=True)
    for name, data in case.files.items():
        (folder / name).write_bytes(data)
    target = folder / (case.recipe or next(iter(case.files)))
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(["validate", str(target), *case.overrides])
    except SystemExit as e:  # argparse's own usage error is not a crash
        return int(e.code or 0), err.getvalue(), ""
    except BaseException as e:  # noqa: BLE001 - any escape is the bug this test looks for
        return None, err.getvalue(), f"{type(e).__name__}: {str(e)[:300]}"
    return code, err.getvalue(), ""


def _problem(case: Case, code: int | None, stderr: str, crash: str) -> str | None:
    if crash or "Traceback" in stderr:
        return f"{case.name}: traceback ({crash or stderr[-300:]})"
    if case.invalid and code == 0:
        return f"{case.name}: accepted"
    if code not in (0, 2):
        return f"{case.name}: exit code {code}"
    if code == 2:
        message = stderr.strip()
        if not message.startswith("judgerl: error:") or "\n\n" in message or len(message) > 6000:
            return f"{case.name}: not a one-paragraph error: {message[:300]!r}"
        if case.needle and case.needle not in message:
            return f"{case.name}: error does not name {case.needle!r}: {message[:400]!r}"
    return None


def test_the_corpus_is_large_and_covers_every_class() -> None:
    cases = corpus()
    invalid = [c for c in cases if c.invalid]
    assert len(invalid) >= 2000
    classes = {c.name.split("/")[0] for c in invalid}
    assert {
        "stage-name", "kind", "number", "seed", "seed-override", "bytes", "unterminated", "deep-block",
        "deep-flow", "laughs", "laughs-interpolation", "duplicate-top", "duplicate-stage", "extends",
        "folder", "source", "override", "structure", "reference",
        # issue 25 item 11: accepted once, failing only when the stage started
        "nested-source", "scheduler", "dtype", "heads", "empty-path", "empty-run-dir", "empty-stages",
    } <= classes  # fmt: skip
    assert len({c.name for c in cases}) == len(cases)


@pytest.mark.slow
def test_validate_never_crashes_and_rejects_every_invalid_recipe(tmp_path: Path) -> None:
    cases = [c for c in corpus() if not c.name.startswith("source/")]
    start = time.time()
    problems = []
    for i, case in enumerate(cases):
        code, stderr, crash = _validate(case, tmp_path / str(i))
        problem = _problem(case, code, stderr, crash)
        if problem:
            problems.append(problem)
    assert problems == [], f"{len(problems)} of {len(cases)} cases:\n" + "\n".join(problems[:40])
    assert time.time() - start < 120  # the billion-laughs and deep cases are rejected quickly


@pytest.mark.parametrize("case", list(source_cases(base_recipes())), ids=lambda c: c.name)
def test_invalid_source_mappings_are_rejected(tmp_path: Path, case: Case) -> None:
    code, stderr, crash = _validate(case, tmp_path / "case")
    assert _problem(case, code, stderr, crash) is None


def test_a_few_real_subprocess_runs(tmp_path: Path) -> None:
    by_name = {c.name: c for c in corpus()}
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    for name in (
        "laughs/small",
        "bytes/small/0",
        "folder/small",
        "deep-flow/small/5000",
        "stage-name/small/0",
    ):
        case = by_name[name]
        folder = tmp_path / name.replace("/", "_")
        folder.mkdir()
        for file, data in case.files.items():
            (folder / file).write_bytes(data)
        target = folder / (case.recipe or next(iter(case.files)))
        start = time.time()
        done = subprocess.run(
            [sys.executable, "-m", "judgerl", "validate", str(target)],
            capture_output=True,
            text=True,
            cwd=REPO,
            env=env,
            timeout=120,
        )
        assert done.returncode == 2, (name, done.stderr)
        assert "Traceback" not in done.stderr and done.stderr.startswith("judgerl: error:"), done.stderr
        assert case.needle in done.stderr
        assert time.time() - start < 60

"""`judgerl --help`, `judgerl ls` and `judgerl validate` import neither torch nor transformers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# runs `python -m judgerl ARGS` in-process, then prints which heavy modules it imported
WRAPPER = """
import contextlib, io, json, runpy, sys
sys.argv = ["judgerl", *sys.argv[1:]]
with contextlib.redirect_stdout(io.StringIO()):
    try:
        runpy.run_module("judgerl", run_name="__main__", alter_sys=True)
    except SystemExit as e:
        code = e.code
print(json.dumps({"code": code, "heavy": sorted(m for m in ("torch", "transformers") if m in sys.modules)}))
"""


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["ls"],
        ["validate", str(REPO / "recipes" / "quickstart.yaml")],
        ["serve", "--help"],
        ["publish", "--help"],
    ],
    ids=["help", "ls", "validate", "serve-help", "publish-help"],
)
def test_light_commands_import_no_torch(argv: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, *argv],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report == {"code": 0, "heavy": []}, f"`judgerl {' '.join(argv)}` imported {report['heavy']}"


def test_help_builds_no_command_arguments() -> None:
    """The top-level help lists the commands without building their flags (or importing their stages)."""
    from judgerl.cli.main import build_parser

    parser = build_parser()
    assert "scaling" in parser.format_help()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert all(p._build is not None for p in sub.choices.values())  # none built yet

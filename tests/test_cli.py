"""The command line: help, --version, ls, validate (shipped names and errors), a closed stdout."""

from __future__ import annotations

from pathlib import Path

import pytest

from judgerl.cli.main import main


def test_help_lists_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for cmd in ("run", "validate", "ls", "eval", "stage"):
        assert cmd in out


def test_ls_shows_recipes_with_descriptions(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ls", str(Path(__file__).resolve().parents[1] / "recipes")]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("quickstart.yaml"))
    assert "CPU" in line


def test_ls_and_validate_find_the_shipped_recipes_from_any_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["ls"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = [x.split()[0] for x in lines if x.strip() and not x.startswith("(")]
    assert "quickstart.yaml" in names and "think_j/qwen2.5-7b.yaml" in names
    assert "shipped recipes in " + str(Path(__file__).resolve().parents[1] / "recipes") in lines[-1]
    for name in ("quickstart", "quickstart.yaml", "think_j/qwen2.5-7b"):
        assert main(["validate", name]) == 0
        assert ": valid recipe" in capsys.readouterr().out
    assert main(["validate", "quickstrt"]) == 2
    assert "did you mean quickstart.yaml" in capsys.readouterr().err


def test_version_prints_the_installed_version_without_torch() -> None:
    import importlib.metadata
    import subprocess
    import sys

    probe = (
        "import sys\nfrom judgerl.cli.main import main\ntry:\n    main(['--version'])\n"
        "except SystemExit as e:\n    print(e.code, sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    first, last = done.stdout.splitlines()[0], done.stdout.splitlines()[-1]
    assert first.startswith(f"judgerl {importlib.metadata.version('judgerl')} from "), (
        done.stdout + done.stderr
    )
    assert last == "0 []"


def test_validate_reports_a_bad_key_with_exit_code_2(
    tiny_recipe: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(tiny_recipe)]) == 0
    assert "valid recipe 'quickstart'" in capsys.readouterr().out
    assert main(["validate", str(tiny_recipe), "stages.sft.epochz=3"]) == 2
    err = capsys.readouterr().err
    assert "stages.sft.epochz: unknown key" in err and str(tiny_recipe) in err


def test_a_closed_stdout_ends_quietly() -> None:
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[1]
    # the reader exits before judgerl writes a byte, so every write meets a closed pipe
    cmd = f"{sys.executable} -m judgerl validate {repo / 'recipes' / 'policy_with_judge.yaml'} | true"
    done = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True, timeout=120)
    assert "BrokenPipeError" not in done.stderr and done.returncode == 0, done.stderr

"""Issue 25 item 9: the commands that printed a traceback for a missing model folder, an unreachable
hub id or an empty benchmark file print one line naming the path or id and what was expected."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from judgerl.cli.main import main
from judgerl.core.logging import get_logger
from judgerl.core.samples import write_samples
from judgerl.data_prep.synthetic import make_synthetic_splits
from judgerl.models.tiny import TinyModelSpec, make_tiny_judge

pytestmark = pytest.mark.usefixtures("one_torch_thread")

get_logger()  # judgerl's log handler keeps the stderr it is made with: make it now, not inside a test


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    # judgerl's log handler may hold an earlier test's closed stderr: Python then reports that on stderr
    err = re.sub(r"--- Logging error ---\n.*?\nArguments: [^\n]*\n", "", capsys.readouterr().err, flags=re.S)
    lines = [x for x in err.splitlines() if x.startswith("judgerl: ")]  # not log lines or progress bars
    assert len(lines) == 1 and lines[0].startswith("judgerl: error: ") and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize(
    "argv",
    [
        ["eval", "judgebench", "--model", "/nope/model", "--data", "x.jsonl"],
        ["eval", "rmbench", "--model", "/nope/model", "--data", "x.json"],
        ["eval", "--model", "/nope/model"],
        ["distill", "--teacher", "hf", "--model", "/nope/model"],
    ],
)
def test_a_missing_model_folder_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    data = tmp_path / "d.jsonl"
    write_samples(data, make_synthetic_splits(2, 0, seed=0).train)
    if "--data" not in argv:
        argv = [*argv, "--data", str(data)]
    assert main([*argv, "--out", str(tmp_path / "out")]) == 2
    line = _one_line(capsys)
    assert "'/nope/model': model path '/nope/model' does not exist" in line  # not "Repo id must be ..."
    assert "expected a checkpoint folder or a hub id" in line


def test_an_unreachable_hub_id_is_one_line_for_the_benchmarks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # read once, at import
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    for command in ("rmbench", "judgebench"):
        argv = ["eval", command, "--model", "judgerl-tests/no-such-judge", "--data", "x.jsonl"]
        assert main([*argv, "--out", str(tmp_path / command)]) == 2
        assert _one_line(capsys).startswith(
            "judgerl: error: cannot load the judge model 'judgerl-tests/no-such-judge'"
        )


def test_an_empty_benchmark_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = make_tiny_judge(
        tmp_path / "m", ["a b c 1 2 3"] * 20, TinyModelSpec(hidden_size=32, layers=1, heads=2)
    )
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    for command, what in (("judgebench", "no pairs in"), ("rmbench", "no prompts in")):
        argv = [
            "eval",
            command,
            "--model",
            str(model),
            "--data",
            str(empty),
            "--out",
            str(tmp_path / command),
        ]
        assert main(argv) == 2
        line = _one_line(capsys)
        assert f"{command}: {what} {empty}" in line and "expected" in line

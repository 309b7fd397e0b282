"""`judgerl cp`: a shipped recipe copied to edit runs where it lands; nothing is overwritten silently."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from judgerl.cli.cp import plan_copy
from judgerl.cli.main import main

REPO = Path(__file__).resolve().parents[2]


def test_cp_then_dry_run_from_another_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["cp", "quickstart", "X.yaml"]) == 0
    assert (tmp_path / "X.yaml").read_text() == (REPO / "recipes" / "quickstart.yaml").read_text()
    assert main(["run", "X.yaml", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "copied quickstart.yaml -> X.yaml" in out and "recipe X.yaml (quickstart)" in out
    assert out.rstrip().endswith("no problems found")


def test_cp_refuses_to_overwrite_without_force(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "quickstart.yaml").write_text("my edits\n")
    assert main(["cp", "quickstart"]) == 2
    assert "refusing to overwrite quickstart.yaml (pass --force" in capsys.readouterr().err
    assert (tmp_path / "quickstart.yaml").read_text() == "my edits\n"
    assert main(["cp", "quickstart", "--force"]) == 0
    assert yaml.safe_load((tmp_path / "quickstart.yaml").read_text())["name"] == "quickstart"
    assert main(["cp", "quickstrt"]) == 2 and "no shipped recipe" in capsys.readouterr().err


def test_cp_brings_the_extends_chain_and_the_deepspeed_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "exp").mkdir()
    assert main(["cp", "think_j/qwen2.5-32b", "exp/big"]) == 0
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert written == [
        "exp/big.yaml",
        "exp/deepspeed/zero2.json",
        "exp/deepspeed/zero3.json",
        "exp/deepspeed/zero3_offload.json",
        "exp/qwen2.5-7b-dpo.yaml",
        "exp/qwen2.5-7b.yaml",
    ]
    text = (tmp_path / "exp" / "big.yaml").read_text()
    assert "extends: qwen2.5-7b.yaml" in text and "deepspeed: exp/deepspeed/zero3.json" in text
    assert "recipes/" not in "".join(p.read_text() for p in (tmp_path / "exp").glob("*.yaml"))
    shipped = json.loads((REPO / "recipes" / "deepspeed" / "zero3.json").read_text())
    assert json.loads((tmp_path / "exp" / "deepspeed" / "zero3.json").read_text()) == shipped
    capsys.readouterr()
    main(["run", "exp/big.yaml", "--dry-run"])
    out = capsys.readouterr().out
    for stage in ("sft", "critic", "dpo"):
        assert f"stages.{stage}.deepspeed" not in out  # every config file exists where the copy landed
    assert "input deepspeed: exp/deepspeed/zero3_offload.json (exists)" in out


def test_an_accelerate_config_brings_the_deepspeed_file_it_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    plan = plan_copy("accelerate/zero3_8gpu.yaml", str(tmp_path / "launch"))
    assert [c.target for c in plan] == [tmp_path / "launch.yaml", tmp_path / "deepspeed" / "zero3.json"]
    assert yaml.safe_load(plan[0].text)["deepspeed_config"]["deepspeed_config_file"] == "deepspeed/zero3.json"

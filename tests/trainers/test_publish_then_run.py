"""`judgerl publish --dry-run` leaves the run it publishes intact: the next `judgerl run` skips every stage.

Before the card was staged outside the stage folder, publish rewrote `sft/checkpoint/README.md` and
the next run stopped with "stage 'sft' finished earlier, but its folder ... no longer holds what it
wrote: checkpoint/README.md has N bytes".
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from judgerl.cli.main import main

pytestmark = pytest.mark.slow


def test_publish_dry_run_then_run_skips_every_stage(tiny_recipe: Path, tmp_path: Path, capsys) -> None:
    recipe = tiny_recipe
    raw = yaml.safe_load(recipe.read_text())
    del raw["stages"]["eval_base"]  # eval_sft stays: its metrics make the published card differ
    raw["stages"]["sft"].update(max_steps=2, save_steps=2)
    recipe.write_text(yaml.safe_dump(raw, sort_keys=False))
    run = tmp_path / "run"
    assert main(["run", str(recipe)]) == 0
    card = (run / "sft" / "checkpoint" / "README.md").read_bytes()
    finished = json.loads((run / "sft" / "manifest.json").read_text())

    assert main(["publish", str(run / "sft"), "--repo", "org/quick", "--dry-run"]) == 0
    capsys.readouterr()
    assert main(["run", str(recipe), "--dry-run"]) == 0
    assert "no problems found" in capsys.readouterr().out
    assert main(["run", str(recipe)]) == 0, capsys.readouterr().err  # every stage skipped: nothing retrains
    assert json.loads((run / "sft" / "manifest.json").read_text()) == finished  # skipped, not rerun
    assert (run / "sft" / "checkpoint" / "README.md").read_bytes() == card
    staged = (run / ".publish" / "sft" / "README.md").read_text()
    assert "Stages: model (tiny_model) -> sft (sft)" in staged and "| eval_sft (test) |" in staged
    assert "## Judge spec" in staged  # the judge_spec.json the sft stage saved with its checkpoint

    # the card and lineage.json are written when the stage finishes, and recorded with its files
    assert {"checkpoint/README.md", "checkpoint/lineage.json"} <= set(finished["files"])
    lineage = json.loads((run / "sft" / "checkpoint" / "lineage.json").read_text())
    assert lineage["chain"] == ["model (tiny_model)", "sft (sft)"] and lineage["trained"] is True

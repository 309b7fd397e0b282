"""A disk cache of pooled hidden-state features, keyed by model, layer, pooling and text hash.

Layout under the cache folder:

    index.json                      {"version": 1, "shards": {NAME: {"model": KEY, "arrays": [...], "texts": [...]}}}
    shards/NAME.safetensors         one float32 matrix per "L{layer}.{pooling}", rows in the order of "texts"

Shards are written first and the index after (both atomically), so an interrupted extraction
leaves only finished shards behind and resumes from them. A shard that the index names but that
cannot be read is reported and recomputed, never trusted.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from judgerl.core.jsonl import atomic_path, write_json
from judgerl.core.logging import get_logger

log = get_logger("judgerl.probe")
INDEX_VERSION = 1


def text_hash(text: str) -> str:
    """The cache key of one input text (sha256, 32 hex digits).

    >>> text_hash("2+2?")[:8]
    '30ad2052'
    """
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def array_name(layer: int, pooling: str) -> str:
    """The tensor name of one (layer, pooling) in a shard.

    >>> array_name(3, "mean")
    'L3.mean'
    """
    return f"L{layer}.{pooling}"


class FeatureCache:
    """Pooled features on disk; `lookup` returns what is there, `store` adds a shard.

    Usage: cache = FeatureCache("runs/probe/cache"); hits = cache.lookup(key, 3, "mean", hashes)
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.index_path = self.root / "index.json"
        self._shards: dict[str, dict[str, object]] = {}
        self._loaded: dict[str, dict[str, np.ndarray]] = {}
        self._read_index()

    def _read_index(self) -> None:
        if not self.index_path.exists():
            self._shards = {}
            return
        try:
            doc = json.loads(self.index_path.read_text(encoding="utf-8"))
            if doc.get("version") != INDEX_VERSION or not isinstance(doc.get("shards"), dict):
                raise ValueError(f"expected version {INDEX_VERSION} with a 'shards' mapping")
            self._shards = doc["shards"]
        except (OSError, ValueError, AttributeError) as e:
            log.warning(f"feature cache {self.index_path} is unreadable ({e}); starting an empty index")
            self._shards = {}

    def _shard_arrays(self, name: str) -> dict[str, np.ndarray] | None:
        if name not in self._loaded:
            from safetensors.numpy import load_file

            path = self.root / "shards" / f"{name}.safetensors"
            try:
                self._loaded[name] = load_file(str(path))
            except Exception as e:  # a truncated or foreign file: recompute instead of trusting it
                log.warning(f"feature cache shard {path} is unreadable ({e}); its rows will be recomputed")
                self._shards.pop(name, None)
                return None
        return self._loaded[name]

    def lookup(
        self, model_key: str, layer: int, pooling: str, hashes: Iterable[str]
    ) -> dict[str, np.ndarray]:
        """The cached feature vector of each text hash that is present (missing hashes are absent).

        Usage: hits = cache.lookup(model_key, 3, "mean", [text_hash(t) for t in texts])
        """
        wanted = set(hashes)
        found: dict[str, np.ndarray] = {}
        arr = array_name(layer, pooling)
        for name, entry in list(self._shards.items()):
            if entry.get("model") != model_key or arr not in entry.get("arrays", []):
                continue
            rows = [(i, h) for i, h in enumerate(entry.get("texts", [])) if h in wanted and h not in found]
            if not rows:
                continue
            arrays = self._shard_arrays(name)
            if arrays is None or arr not in arrays:
                continue
            for i, h in rows:
                found[h] = arrays[arr][i]
        return found

    def store(self, model_key: str, hashes: list[str], arrays: dict[str, np.ndarray]) -> str:
        """Write one shard (rows aligned with `hashes`) and add it to the index; returns its name.

        Usage: cache.store(model_key, hashes, {"L3.mean": matrix, "L3.max": matrix2})
        """
        from safetensors.numpy import save_file

        for key, value in arrays.items():
            if value.shape[0] != len(hashes):
                raise ValueError(f"array {key} has {value.shape[0]} rows for {len(hashes)} texts")
        name = uuid.uuid4().hex
        path = self.root / "shards" / f"{name}.safetensors"
        path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in arrays.items()}
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp))
        # Merge with whatever another process may have indexed meanwhile, then replace atomically.
        self._read_index()
        self._shards[name] = {"model": model_key, "arrays": sorted(arrays), "texts": list(hashes)}
        write_json(self.index_path, {"version": INDEX_VERSION, "shards": self._shards})
        self._loaded[name] = tensors
        return name

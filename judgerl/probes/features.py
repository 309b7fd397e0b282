"""Pooled hidden states of any Hugging Face model (causal LM or encoder), batched and cached.

Features never depend on batch size or padding side: pooling masks padding (the INSPECTOR seed
averaged over pad tokens too, so its training and inference features differed), and position ids
are computed from the attention mask, so a left-padded causal model sees the same positions as an
unpadded one. Everything runs in float32.

Layers are numbered as `hidden_states` is indexed: 0 is the embedding output, l the output of
block l. INSPECTOR numbers blocks from 0 (its layer l is hidden_states[l + 1]); give
`numbering="inspector"` to `resolve_layers` to use its numbers. Texts are cut at `max_length`
tokens, by default the model's context; every cut is counted and logged, never silent.
"""

from __future__ import annotations

import hashlib
import inspect
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import AutoModel, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from judgerl.core.logging import get_logger
from judgerl.probes.cache import FeatureCache, array_name, text_hash
from judgerl.probes.truncation import Truncation

log = get_logger("judgerl.probe")

Pooling = Literal["mean", "last", "min", "max", "concat"]
LayerNumbering = Literal["hidden_states", "inspector"]
LAYER_NUMBERINGS: tuple[str, ...] = ("hidden_states", "inspector")
POOLINGS: tuple[str, ...] = ("mean", "last", "min", "max", "concat")
BASE_POOLINGS: tuple[str, ...] = ("mean", "last", "min", "max")
# A shard is written after this many new texts: an interrupted run loses at most this much work.
FLUSH_EVERY = 512


def check_pooling(pooling: str) -> str:
    """Return `pooling` if known, else raise ValueError listing the choices.

    >>> check_pooling("mean")
    'mean'
    """
    if pooling not in POOLINGS:
        raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}; got {pooling!r}")
    return pooling


def resolve_layer_spec(
    layers: int | str | Sequence[int | str], num_layers: int, numbering: LayerNumbering = "hidden_states"
) -> list[int]:
    """hidden_states indices of a layer spec for a model of `num_layers` blocks (see
    `FeatureExtractor.resolve_layers`); duplicates dropped, order kept.

    >>> resolve_layer_spec([0, -1, "middle"], 6), resolve_layer_spec([0, 5, -1], 6, "inspector")
    ([0, 6, 3], [1, 6])
    """
    if numbering not in LAYER_NUMBERINGS:
        raise ValueError(f"layer numbering must be one of {', '.join(LAYER_NUMBERINGS)}; got {numbering!r}")
    items: Sequence[int | str] = [layers] if isinstance(layers, (int, str)) else layers
    seed = numbering == "inspector"
    n = num_layers
    out: list[int] = []
    for item in items:
        if item == "all":
            out.extend(range(1 if seed else 0, n + 1))
            continue
        if item == "middle":
            out.append(n // 2)
            continue
        try:
            layer = int(item)
        except (TypeError, ValueError):
            raise ValueError(f"layer {item!r}: expected an int, 'all' or 'middle'") from None
        if seed:
            if not -n <= layer <= n - 1:
                raise ValueError(
                    f"INSPECTOR layer {layer} is out of range for a {n}-block model (0..{n - 1} or -1..-{n})"
                )
            out.append(layer + 1 if layer >= 0 else layer % (n + 1))
            continue
        if not -(n + 1) <= layer <= n:
            raise ValueError(f"layer {layer} is out of range for a {n}-block model (0..{n} or -1..-{n + 1})")
        out.append(layer % (n + 1))
    return list(dict.fromkeys(out))


def pool_hidden(hidden: torch.Tensor, mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """Pool token states (batch, tokens, hidden) over the tokens where `mask` is 1.

    mean / min / max ignore padding; last takes the last non-pad token; concat is
    [mean, last, min, max] side by side (4 x hidden).

    >>> h = torch.tensor([[[1.0], [3.0], [100.0]]]); m = torch.tensor([[1, 1, 0]])
    >>> [pool_hidden(h, m, p).item() for p in ("mean", "last", "min", "max")]
    [2.0, 3.0, 1.0, 3.0]
    """
    check_pooling(pooling)
    if pooling == "concat":
        return torch.cat([pool_hidden(hidden, mask, p) for p in BASE_POOLINGS], dim=-1)
    keep = mask.bool().unsqueeze(-1)
    if pooling == "mean":
        # where() rather than multiplication: a NaN in a masked position must not leak in.
        total = torch.where(keep, hidden, torch.zeros_like(hidden)).sum(dim=1)
        return total / mask.sum(dim=1, keepdim=True).clamp(min=1).to(hidden.dtype)
    if pooling == "min":
        return torch.where(keep, hidden, torch.full_like(hidden, float("inf"))).amin(dim=1)
    if pooling == "max":
        return torch.where(keep, hidden, torch.full_like(hidden, float("-inf"))).amax(dim=1)
    positions = torch.arange(1, mask.shape[1] + 1, device=mask.device)
    last = (mask.long() * positions).argmax(dim=1)
    return hidden[torch.arange(hidden.shape[0], device=hidden.device), last]


def _fingerprint(model_id: str) -> str:
    """For a local checkpoint folder, a hash of its config and weight files' names, sizes and times."""
    folder = Path(os.path.expanduser(model_id))
    if not folder.is_dir():
        return "hub"
    h = hashlib.sha256()
    for f in sorted(folder.iterdir()):
        if f.is_file() and (f.suffix in (".safetensors", ".bin", ".json")):
            st = f.stat()
            h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()[:16]


def load_encoder(
    model_id: str | os.PathLike[str], device: str = "cpu", trust_remote_code: bool = False
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load any model as its bare backbone (AutoModel: no LM head) in float32, and its tokenizer.

    A local folder loads with no network; a hub id loads through the usual cache.

    Usage: model, tok = load_encoder("runs/quickstart/sft/checkpoint")
    """
    path = os.path.expanduser(str(model_id))
    local = os.path.isdir(path)
    if not local and (path.startswith((".", "/", "~")) or path.count("/") > 1):
        raise FileNotFoundError(f"model path {path!r} does not exist")
    source = path if local else str(model_id)
    tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code)
    model = AutoModel.from_pretrained(source, dtype=torch.float32, trust_remote_code=trust_remote_code)
    return model.to(device).eval(), tokenizer


def model_context(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> int:
    """The longest input `model` takes: its config's max_position_embeddings, else the tokenizer's
    model_max_length when that is a real limit; ValueError when neither says.

    Usage: FeatureExtractor(..., max_length=model_context(model, tok))
    """
    cfg = getattr(model.config, "text_config", None) or model.config
    for key in ("max_position_embeddings", "n_positions", "max_sequence_length"):
        value = getattr(cfg, key, None)
        if isinstance(value, int) and value > 0:
            return value
    limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(limit, int) and 0 < limit < 10**7:  # transformers' "no limit" is a huge sentinel
        return limit
    raise ValueError(
        f"cannot tell the context length of {type(model).__name__}: its config has no "
        "max_position_embeddings and its tokenizer no model_max_length; give max_length"
    )


@dataclass
class FeatureExtractor:
    """Hidden-state features of one model: `extract(texts, layers, pooling)` -> {layer: (n, d) float32}.

    Layer 0 is the embedding output and layer L the last block's output (the `hidden_states`
    convention); negative layers count from the end. `model_id` names the model in the cache key;
    a local folder's weights are fingerprinted too, so a retrained checkpoint never hits old rows.
    `max_length` None means the model's context (`model_context`); texts longer than max_length
    tokens are cut, counted in `last_truncation` / `truncation` and logged as a warning.

    Usage: fx = FeatureExtractor.load("path/to/model", cache_dir="runs/cache"); fx.extract(texts, [3], "mean")
    """

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    model_id: str
    max_length: int | None = None
    batch_size: int = 16
    padding_side: Literal["left", "right"] = "right"
    cache_dir: str | None = None
    _cache: FeatureCache | None = field(default=None, init=False, repr=False)
    last_truncation: Truncation = field(default_factory=Truncation, init=False)
    truncation: Truncation = field(default_factory=Truncation, init=False)

    def __post_init__(self) -> None:
        if self.max_length is None:
            self.max_length = model_context(self.model, self.tokenizer)
        if self.max_length < 1 or self.batch_size < 1:
            raise ValueError(
                f"max_length and batch_size must be >= 1, got {self.max_length}, {self.batch_size}"
            )
        if self.padding_side not in ("left", "right"):
            raise ValueError(f"padding_side must be 'left' or 'right', got {self.padding_side!r}")
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token or self.tokenizer.unk_token
        if self.tokenizer.pad_token is None:
            raise ValueError(f"tokenizer of {self.model_id!r} has no pad, eos or unk token to pad with")
        self.model = self.model.float().eval()
        if self.cache_dir is not None:
            self._cache = FeatureCache(self.cache_dir)
        self.model_key = f"{self.model_id}|{_fingerprint(self.model_id)}|max_length={self.max_length}"

    @classmethod
    def load(
        cls,
        model_id: str | os.PathLike[str],
        device: str = "cpu",
        trust_remote_code: bool = False,
        **kwargs: Any,
    ) -> FeatureExtractor:
        """Load `model_id` with `load_encoder` and wrap it. Usage: FeatureExtractor.load("ckpt", batch_size=8)."""
        model, tokenizer = load_encoder(model_id, device=device, trust_remote_code=trust_remote_code)
        return cls(model=model, tokenizer=tokenizer, model_id=str(model_id), **kwargs)

    @property
    def num_layers(self) -> int:
        """Number of transformer blocks; valid layers are 0..num_layers (0 = embeddings)."""
        cfg = self.model.config
        cfg = getattr(cfg, "text_config", None) or cfg
        return int(cfg.num_hidden_layers)

    def resolve_layers(
        self, layers: int | str | Sequence[int | str], numbering: LayerNumbering = "hidden_states"
    ) -> list[int]:
        """Normalise a layer spec to hidden_states indices: an int (negative from the end), "all",
        "middle", or a list of those.

        With `numbering="inspector"` the ints are INSPECTOR's block numbers (0..L-1, its l is
        hidden_states[l + 1]) and "all" means the L blocks without the embeddings.

        Usage: fx.resolve_layers([-1, "middle"]) -> [6, 3] for a 6-block model
        """
        return resolve_layer_spec(layers, self.num_layers, numbering)

    def _backbone(self) -> Any:
        if getattr(self.model.config, "is_encoder_decoder", False):
            return self.model.get_encoder()
        return self.model

    def _forward(self, encodings: list[dict[str, list[int]]], layers: list[int]) -> dict[str, np.ndarray]:
        self.tokenizer.padding_side = self.padding_side
        batch = self.tokenizer.pad(encodings, padding=True, return_tensors="pt")
        device = next(self.model.parameters()).device
        batch = {k: v.to(device) for k, v in batch.items()}
        mask = batch["attention_mask"]
        backbone = self._backbone()
        params = inspect.signature(backbone.forward).parameters
        if "position_ids" in params:
            batch["position_ids"] = (mask.long().cumsum(dim=1) - 1).clamp(min=0)
        if "use_cache" in params:
            batch["use_cache"] = False
        with torch.inference_mode():
            out = backbone(**batch, output_hidden_states=True)
        states = getattr(out, "hidden_states", None)
        if states is None:
            raise ValueError(f"model {self.model_id!r} returned no hidden_states")
        arrays: dict[str, np.ndarray] = {}
        for layer in layers:
            h = states[layer].float()
            for pooling in BASE_POOLINGS:
                arrays[array_name(layer, pooling)] = pool_hidden(h, mask, pooling).cpu().numpy()
        return arrays

    def _tokenize(self, texts: list[str]) -> list[dict[str, list[int]]]:
        """Encodings of `texts`, each cut at max_length tokens; the cuts are counted in last_truncation."""
        assert self.max_length is not None
        # Uncut first, to count what max_length cuts; the long ones are encoded again with the
        # tokenizer's own truncation, which keeps its special tokens (e.g. a final [SEP]).
        enc = self.tokenizer(texts, truncation=False, padding=False, verbose=False)
        rows = [{k: enc[k][i] for k in enc} for i in range(len(texts))]
        lengths = [len(r["input_ids"]) for r in rows]
        long = [i for i, n in enumerate(lengths) if n > self.max_length]
        if long:
            cut = self.tokenizer(
                [texts[i] for i in long], truncation=True, max_length=self.max_length, padding=False
            )
            for j, i in enumerate(long):
                rows[i] = {k: cut[k][j] for k in cut}
        for i, row in enumerate(rows):
            if not row["input_ids"]:
                raise ValueError(f"text #{i} has no tokens (empty text?): {texts[i][:60]!r}")
        self.last_truncation = Truncation(len(texts), len(long), max(lengths, default=0))
        self.truncation.add(self.last_truncation)
        if long:
            log.warning(
                f"{self.model_id}: {len(long)} of {len(texts)} texts are longer than max_length "
                f"{self.max_length} tokens and were cut (longest {self.last_truncation.longest}); "
                "raise max_length (default: the model's context) to keep them whole"
            )
        return rows

    def extract(
        self,
        texts: Sequence[str],
        layers: int | str | Sequence[int | str],
        pooling: str = "mean",
        progress: bool = True,
        desc: str = "features",
    ) -> dict[int, np.ndarray]:
        """Pooled features per layer: {layer: float32 array (len(texts), d)}, rows in input order.

        Cached rows are read back; the rest are computed in length-sorted batches (a tqdm bar)
        and written to the cache every FLUSH_EVERY texts. `last_truncation` counts the texts cut
        at max_length (cached ones too).

        Usage: feats = fx.extract(["q + answer", ...], layers="all", pooling="mean")
        """
        check_pooling(pooling)
        layer_list = self.resolve_layers(layers)
        parts = list(BASE_POOLINGS) if pooling == "concat" else [pooling]
        texts = [str(t) for t in texts]
        hashes = [text_hash(t) for t in texts]
        unique = list(dict.fromkeys(hashes))
        by_hash = dict(zip(hashes, texts, strict=True))
        got: dict[str, dict[str, np.ndarray]] = {array_name(la, p): {} for la in layer_list for p in parts}
        if self._cache is not None:
            for la in layer_list:
                for p in parts:
                    got[array_name(la, p)] = self._cache.lookup(self.model_key, la, p, unique)
        # Every text is tokenized, cached or not, so that each run counts and reports its truncation.
        encoded = dict(zip(unique, self._tokenize([by_hash[h] for h in unique]), strict=True))
        todo = [h for h in unique if any(h not in g for g in got.values())]
        if todo:
            self._compute(todo, encoded, layer_list, got, progress, desc)
        out: dict[int, np.ndarray] = {}
        for la in layer_list:
            cols = [np.stack([got[array_name(la, p)][h] for h in hashes]) for p in parts]
            out[la] = np.concatenate(cols, axis=1).astype(np.float32, copy=False)
        return out

    def _compute(
        self,
        todo: list[str],
        encoded: dict[str, dict[str, list[int]]],
        layers: list[int],
        got: dict[str, dict[str, np.ndarray]],
        progress: bool,
        desc: str,
    ) -> None:
        encodings = [encoded[h] for h in todo]
        # Longest first: similar lengths share a batch (little padding) and memory peaks early.
        order = sorted(range(len(todo)), key=lambda i: -len(encodings[i]["input_ids"]))
        pending_hashes: list[str] = []
        pending: dict[str, list[np.ndarray]] = {}
        with tqdm(total=len(todo), desc=desc, disable=not progress, unit="text") as bar:
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                arrays = self._forward([encodings[i] for i in idx], layers)
                batch_hashes = [todo[i] for i in idx]
                for name, value in arrays.items():
                    pending.setdefault(name, []).append(value)
                    if name in got:
                        got[name].update(zip(batch_hashes, value, strict=True))
                pending_hashes.extend(batch_hashes)
                if self._cache is not None and len(pending_hashes) >= FLUSH_EVERY:
                    self._flush(pending_hashes, pending)
                    pending_hashes, pending = [], {}
                bar.update(len(idx))
        if self._cache is not None and pending_hashes:
            self._flush(pending_hashes, pending)

    def _flush(self, hashes: list[str], pending: dict[str, list[np.ndarray]]) -> None:
        assert self._cache is not None
        self._cache.store(self.model_key, hashes, {k: np.concatenate(v) for k, v in pending.items()})

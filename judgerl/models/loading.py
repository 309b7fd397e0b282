"""Load a model and tokenizer from a local folder, a hub id or a LoRA adapter; save checkpoints atomically."""

from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Literal

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)
from transformers.integrations import is_deepspeed_zero3_enabled

from judgerl.core.logging import get_logger
from judgerl.models.chat_templates import apply_default_template

log = get_logger(__name__)

DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}
ADAPTER_CONFIG = "adapter_config.json"
HEADS = {"causal_lm": AutoModelForCausalLM, "sequence_classification": AutoModelForSequenceClassification}


def is_peft_model(model: Any) -> bool:
    """True when `model` is a peft PeftModel (e.g. LoRA-wrapped). Usage: if is_peft_model(m): ..."""
    try:
        from peft import PeftModel
    except ImportError:  # pragma: no cover - peft is a dependency
        return False
    return isinstance(model, PeftModel)


def _looks_local(path_or_id: str) -> bool:
    """A hub id is `name` or `org/name`; anything else that names a path is meant to be local."""
    p = path_or_id
    return (
        p.startswith((".", "/", "~")) or "\\" in p or p.count("/") > 1 or p.endswith("/") or os.path.isabs(p)
    )


def model_source(path_or_id: str) -> tuple[str, bool]:
    """(path or hub id, is_local): FileNotFoundError for a local-looking path that is missing,
    ValueError for a file where a checkpoint folder is expected. Nothing is loaded.

    Usage: source, is_local = model_source("runs/quickstart/sft/checkpoint")
    """
    expanded = os.path.expanduser(str(path_or_id))
    if os.path.exists(expanded):
        if not os.path.isdir(expanded):
            raise ValueError(f"model path {expanded!r} is a file; expected a checkpoint folder")
        return expanded, True
    if _looks_local(str(path_or_id)):
        raise FileNotFoundError(f"model path {expanded!r} does not exist")
    return str(path_or_id), False


def _resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available")
    return torch.device(device)


def _resolve_dtype(dtype: str, device: torch.device) -> torch.dtype | str:
    if dtype == "auto":
        # Half precision on CPU is slow and partly unsupported: keep float32 there.
        return torch.float32 if device.type == "cpu" else "auto"
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of auto, {', '.join(DTYPES)}; got {dtype!r}")
    return DTYPES[dtype]


def _has_tokenizer(folder: str) -> bool:
    return any(os.path.isfile(os.path.join(folder, f)) for f in ("tokenizer.json", "tokenizer_config.json"))


def _load_tokenizer(source: str, trust_remote_code: bool) -> PreTrainedTokenizerBase:
    tok = AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code)
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def _apply_adapter(model: PreTrainedModel, adapter: str, merge: bool) -> PreTrainedModel:
    from peft import PeftModel

    model = PeftModel.from_pretrained(model, adapter)
    if merge:
        model = model.merge_and_unload()
    return model


def load_model_and_tokenizer(
    path_or_id: str | os.PathLike[str],
    dtype: str = "auto",
    device: str = "auto",
    lora_adapter: str | os.PathLike[str] | None = None,
    merge_lora: bool = True,
    trust_remote_code: bool = False,
    chat_template: str | None = None,
    head: Literal["causal_lm", "sequence_classification"] = "causal_lm",
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load a causal LM and its tokenizer (left padding, pad token set) ready for generation; with
    `head="sequence_classification"` a sequence-classification model (a reward model's score head).

    `path_or_id` is a checkpoint folder, a hub id, or a peft adapter folder (holding
    adapter_config.json): then its base model is loaded and the adapter applied (merged
    when `merge_lora`). `lora_adapter` applies one more adapter on top. dtype "auto" keeps
    the checkpoint's dtype on GPU and uses float32 on CPU. `chat_template` (a built-in name or a
    Jinja file, judgerl.models.chat_templates) is given to a tokenizer that has none of its own.

    Usage: model, tok = load_model_and_tokenizer("runs/quickstart/sft/checkpoint", device="cpu")
    """
    source, is_local = model_source(str(path_or_id))
    dev = _resolve_device(device)
    torch_dtype = _resolve_dtype(dtype, dev)

    adapter_dir: str | None = None
    base = source
    if is_local and os.path.isfile(os.path.join(source, ADAPTER_CONFIG)):
        adapter_dir = source
        with open(os.path.join(source, ADAPTER_CONFIG), encoding="utf-8") as f:
            base = json.load(f).get("base_model_name_or_path") or ""
        if not base:
            raise ValueError(f"adapter folder {source!r} names no base_model_name_or_path")
        base, _ = model_source(base)

    log.info(f"loading model {base} ({torch_dtype}, {dev})")
    # device_map places the weights straight on the device (no full copy in host memory first).
    # Under a registered ZeRO-3 config transformers loads each rank's shard itself (no device_map).
    placement = {} if is_deepspeed_zero3_enabled() else {"device_map": str(dev)}
    model = HEADS[head].from_pretrained(
        base, dtype=torch_dtype, trust_remote_code=trust_remote_code, **placement
    )
    if adapter_dir is not None:
        model = _apply_adapter(model, adapter_dir, merge_lora)
    extra_adapter: str | None = None
    if lora_adapter is not None:
        extra_adapter, _ = model_source(str(lora_adapter))
        model = _apply_adapter(model, extra_adapter, merge_lora)
    model.eval()

    # An adapter folder saved with its tokenizer wins (it may have added tokens); else the base's.
    adapters = [a for a in (extra_adapter, adapter_dir) if a is not None]
    tok_source = next((a for a in adapters if _has_tokenizer(a)), base)
    tokenizer = _load_tokenizer(tok_source, trust_remote_code)
    apply_default_template(tokenizer, chat_template)
    gen_cfg = getattr(model, "generation_config", None)
    if gen_cfg is not None and gen_cfg.pad_token_id is None:
        gen_cfg.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def _swap_into_place(tmp: Path, target: Path) -> None:
    """Rename `tmp` to `target`; an existing `target` is kept aside until the rename succeeded."""
    old: Path | None = None
    if target.exists():
        old = target.with_name(f".{target.name}.{os.getpid()}.old")
        if old.exists():
            shutil.rmtree(old)
        os.replace(target, old)
    try:
        os.replace(tmp, target)
    except BaseException:
        if old is not None:
            os.replace(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def merged_copy(model: Any, state_dict: dict[str, torch.Tensor]) -> PreTrainedModel:
    """A plain model with `model`'s LoRA adapter merged, rebuilt on the CPU from a full `state_dict`.

    For a peft model whose own parameters are partitioned (DeepSpeed ZeRO-3): a fresh base model
    of the same config gets the same adapter, loads the gathered weights (every key must match)
    and is merged by peft. Under ZeRO-3 call it inside `trainers.saving.zero3_init_disabled()`.

    Usage: merged = merged_copy(peft_model, gathered_state_dict)
    """
    from peft import get_peft_model

    base = model.get_base_model()
    dtype = next(iter(state_dict.values())).dtype
    fresh = AutoModelForCausalLM.from_config(copy.deepcopy(base.config), dtype=dtype)
    name = model.active_adapter
    fresh = get_peft_model(fresh, copy.deepcopy(model.peft_config[name]), adapter_name=name)
    result = fresh.load_state_dict(state_dict, strict=False)
    tied = set(getattr(fresh, "_tied_weights_keys", None) or [])
    missing = [k for k in result.missing_keys if not any(k.endswith(t) for t in tied)]
    if missing or result.unexpected_keys:
        raise ValueError(
            f"gathered weights do not fit the model: missing {missing[:5]}, unexpected {result.unexpected_keys[:5]}"
        )
    merged = fresh.merge_and_unload()
    merged.generation_config = copy.deepcopy(base.generation_config)
    merged.config.name_or_path = base.config.name_or_path
    return merged


def save_checkpoint(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase | None,
    out_dir: str | os.PathLike[str],
    merge_lora: bool = True,
    state_dict: dict[str, torch.Tensor] | None = None,
    extra_files: dict[str, str] | None = None,
) -> Path:
    """Save `model` (+ tokenizer) as a HF checkpoint folder, atomically (temp sibling, then rename).

    A peft model is merged into its base on a copy when `merge_lora` (the in-memory model
    keeps its adapter), else saved as an adapter folder. `state_dict` replaces the model's own
    weights in the file (the gathered weights of a ZeRO-3 model, whose own are partitioned;
    `trainers.saving.save_trained` merges such a LoRA model first). `extra_files` (name -> text,
    e.g. README.md) are written into the folder. An existing `out_dir` is replaced.

    Usage: save_checkpoint(model, tok, "runs/x/sft/checkpoint")
    """
    target = Path(out_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    to_save = model
    if merge_lora and is_peft_model(model):
        if state_dict is not None:
            raise ValueError("merge the LoRA model first (merged_copy), then save it without state_dict")
        to_save = copy.deepcopy(model).merge_and_unload()
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        if state_dict is None:
            to_save.save_pretrained(str(tmp))
        else:
            to_save.save_pretrained(str(tmp), state_dict=state_dict)
        if tokenizer is not None:
            tokenizer.save_pretrained(str(tmp))
        for name, text in (extra_files or {}).items():
            (tmp / name).write_text(text, encoding="utf-8")
        _swap_into_place(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target

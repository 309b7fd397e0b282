"""Save a trained model from every rank: gather DeepSpeed ZeRO-3 shards, merge LoRA, write on rank 0.

Under ZeRO-3 each rank holds only a slice of every parameter (rank 0's own tensors have shape
(0,)), so `save_pretrained` on rank 0's model writes empty tensors. The full weights come from
the engine's collective gather (accelerate's `get_state_dict`, what transformers'
`Trainer.save_model` uses; it needs `stage3_gather_16bit_weights_on_model_save: true`): every rank
takes part, rank 0 receives them on the CPU and writes the checkpoint folder. A LoRA model to be
merged is rebuilt on rank 0's CPU from those weights and merged there (`models.loading.merged_copy`).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from judgerl.core.errors import StageError
from judgerl.core.logging import get_logger

log = get_logger("judgerl.saving")
GATHER_KEY = "stage3_gather_16bit_weights_on_model_save"


def is_zero3(trainer: Any) -> bool:
    """True when the trainer runs under DeepSpeed ZeRO stage 3 (parameters partitioned across ranks).

    Usage: if is_zero3(trainer): ...
    """
    if not getattr(trainer, "is_deepspeed_enabled", False):
        return False
    config = trainer.accelerator.state.deepspeed_plugin.deepspeed_config
    return int(config.get("zero_optimization", {}).get("stage", 0)) == 3


def check_deepspeed_config(path: str | None) -> None:
    """Fail before training when a ZeRO-3 config would not let the final checkpoint gather its weights.

    Usage: check_deepspeed_config(stage.deepspeed)
    """
    if path is None:
        return
    try:
        config = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise StageError(f"deepspeed: {path} does not exist") from e
    except json.JSONDecodeError as e:
        raise StageError(f"deepspeed: {path} is not valid JSON: {e}") from e
    zero = config.get("zero_optimization") or {}
    if int(zero.get("stage", 0)) == 3 and zero.get(GATHER_KEY) is False:
        raise StageError(
            f"deepspeed: {path} is ZeRO-3 with zero_optimization.{GATHER_KEY} = false; the saved checkpoint "
            "would hold no weights. Set it to true (every rank then gathers the full weights for rank 0 to write)"
        )


def single_process_world(deepspeed: str | None) -> None:
    """Give an in-process DeepSpeed stage (no launcher) a one-process world to start.

    Without RANK/WORLD_SIZE/MASTER_* DeepSpeed looks for MPI instead; a launcher sets them, so this
    sets them only when none is there (a free loopback port).

    Usage: single_process_world(stage.deepspeed)
    """
    if deepspeed is None or "WORLD_SIZE" in os.environ:
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    defaults = {"RANK": "0", "LOCAL_RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "127.0.0.1"}
    for key, value in {**defaults, "MASTER_PORT": str(port)}.items():
        os.environ.setdefault(key, value)


@contextlib.contextmanager
def zero3_init_disabled() -> Iterator[None]:
    """Build models normally (not partitioned by `deepspeed.zero.Init`) inside the block.

    transformers partitions every model it builds while a ZeRO-3 config is registered; a model
    that rank 0 alone builds (the LoRA merge) must not be partitioned, or it would wait for the
    other ranks forever. transformers offers unset/set of that registration; the registered object
    is read from its module so that it can be put back.

    Usage: with zero3_init_disabled(): model = AutoModelForCausalLM.from_config(cfg)
    """
    from transformers.integrations import deepspeed as hf_deepspeed

    registered = hf_deepspeed._hf_deepspeed_config_weak_ref
    hf_deepspeed.unset_hf_deepspeed_config()
    try:
        yield
    finally:
        hf_deepspeed._hf_deepspeed_config_weak_ref = registered


def gathered_state_dict(trainer: Any) -> dict[str, Any] | None:
    """The full state dict of a ZeRO-3 model on rank 0 (None on the other ranks). Call on EVERY rank.

    Usage: state = gathered_state_dict(trainer)
    """
    try:
        return trainer.accelerator.get_state_dict(trainer.model_wrapped)
    except ValueError as e:  # accelerate: stage3_gather_16bit_weights_on_model_save is false
        raise StageError(f"cannot gather the ZeRO-3 weights for the checkpoint: {e}") from e


def save_trained(
    trainer: Any,
    tokenizer: Any,
    out_dir: str | Path,
    merge_lora: bool = True,
    extra_files: dict[str, str] | None = None,
) -> Path | None:
    """Save the trainer's model as a HF checkpoint folder. Call on EVERY rank; rank 0 writes.

    Without ZeRO-3 rank 0 saves its own (complete) model; under ZeRO-3 every rank first takes
    part in gathering the weights. A LoRA model is merged unless `merge_lora` is false (then the
    adapter folder is written). `extra_files` (name -> text, e.g. the model card) are written into
    the folder before it is moved into place. Returns the folder on rank 0, None elsewhere.

    Usage: save_trained(trainer, tokenizer, ctx.path("checkpoint"), merge_lora=stage.merge_lora)
    """
    from judgerl.models.loading import save_checkpoint

    if not is_zero3(trainer):
        if not trainer.is_world_process_zero():
            return None
        return save_checkpoint(trainer.model, tokenizer, out_dir, merge_lora, extra_files=extra_files)
    try:
        return _save_zero3(trainer, tokenizer, Path(out_dir), merge_lora, extra_files)
    finally:
        # the stage is done with ZeRO-3: a later stage of the same process must load models whole
        from transformers.integrations import unset_hf_deepspeed_config

        unset_hf_deepspeed_config()


def _save_zero3(
    trainer: Any, tokenizer: Any, out_dir: Path, merge_lora: bool, extra_files: dict[str, str] | None
) -> Path | None:
    from judgerl.models.loading import is_peft_model, merged_copy, save_checkpoint

    state = gathered_state_dict(trainer)
    if not trainer.is_world_process_zero():
        return None
    if not state:
        raise StageError("the ZeRO-3 gather returned no weights on rank 0")
    model = trainer.accelerator.unwrap_model(trainer.model)
    if is_peft_model(model) and merge_lora:
        log.info("merging the LoRA adapter into the gathered ZeRO-3 weights on rank 0 (CPU)")
        with zero3_init_disabled():
            merged = merged_copy(model, state)
        return save_checkpoint(merged, tokenizer, out_dir, merge_lora=False, extra_files=extra_files)
    return save_checkpoint(
        model, tokenizer, out_dir, merge_lora=False, state_dict=state, extra_files=extra_files
    )

"""The callback every judgerl trainer adds: training stops on a non-finite loss or gradient norm.

Left alone, TRL trains on after a NaN or inf: transformers logs the loss of such a step as the
window's average (`logging_nan_inf_filter`), every weight turns NaN, and the stage ends "complete"
with a final loss of 0.0, which reads as perfect training. With this callback the stage fails
instead, naming the step and the last finite loss, and no checkpoint with non-finite weights is
ever written: the gradients are checked before each optimizer step (so the weights are never
updated with them), the logged loss and gradient norm before each save that follows a log, and
the weights themselves before any other save and at the end of training. Under DeepSpeed, whose
engine keeps the gradients, the logged values and the weights are what is checked. A recipe keeps
TRL's behaviour with `on_nonfinite: continue` (judgerl.trainers.common.TrainingKeys).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from transformers import TrainerCallback

from judgerl.core.errors import StageError


class NonFiniteTraining(StageError):
    """Training met a NaN or inf; `details` (step, what, last finite loss) go into the manifest."""

    def __init__(self, message: str, details: dict[str, Any]) -> None:
        super().__init__(message)
        self.details = details


def _finite(value: Any) -> bool:
    return value is None or math.isfinite(float(value))


def _tensors_finite(tensors: list[torch.Tensor]) -> bool:
    """True when no element is NaN or inf: a sum is non-finite exactly then (summed in float32, without
    a float32 copy of a half-precision tensor), and one `.item()` waits for the device once."""
    if not tensors:
        return True
    device = tensors[0].device
    sums = torch.stack([t.detach().sum(dtype=torch.float32).to(device) for t in tensors])
    return bool(torch.isfinite(sums).all().item())


def _weights(model: Any) -> list[torch.Tensor]:
    # a ZeRO-3 parameter keeps this rank's shard in ds_tensor (its .data is empty)
    return [getattr(p, "ds_tensor", p) for p in model.parameters() if getattr(p, "ds_tensor", p).numel()]


class NonFiniteGuard(TrainerCallback):
    """Raises NonFiniteTraining (a StageError) the moment a loss, gradient or weight is not finite.

    Usage: trainer.add_callback(NonFiniteGuard("sft"))
    """

    def __init__(self, stage: str) -> None:
        self.stage = stage

    def _last_loss(self, state: Any) -> tuple[float | None, int | None]:
        for entry in reversed(state.log_history):
            if "loss" in entry and _finite(entry["loss"]):
                return float(entry["loss"]), entry.get("step")
        return None, None

    def _stop(self, state: Any, step: int, what: str) -> NonFiniteTraining:
        loss, at = self._last_loss(state)
        last = (
            f"the last finite loss was {loss:.4g} (logged at step {at})"
            if loss is not None
            else "no finite loss was logged before it"
        )
        return NonFiniteTraining(
            f"stage {self.stage!r}: training stopped at step {step}: {what}; {last}. Nothing non-finite was "
            "saved. Lower the learning rate (lr) or max_grad_norm, or check the data; `on_nonfinite: "
            "continue` keeps TRL's behaviour of training on",
            {"step": step, "nonfinite": what, "last_finite_loss": loss, "last_finite_loss_step": at},
        )

    def on_pre_optimizer_step(
        self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any
    ) -> None:
        """Before the weights are updated: the (clipped) gradients must be finite."""
        if model is None:
            return
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        if not _tensors_finite(grads):
            raise self._stop(state, state.global_step + 1, "the gradient norm is not finite (nan or inf)")

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        """Before the save that follows a log: the logged loss and gradient norm must be finite."""
        for key in ("loss", "grad_norm"):
            value = (logs or {}).get(key)
            if isinstance(value, (int, float)) and not _finite(value):
                raise self._stop(state, state.global_step, f"the logged {key} is {value}")

    def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        """Before a checkpoint is saved: the weights must be finite."""
        if control.should_save and model is not None and not _tensors_finite(_weights(model)):
            raise self._stop(state, state.global_step, "the weights are not finite")

    def on_train_end(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        """Before the stage saves its checkpoint: the weights must be finite."""
        if model is not None and not _tensors_finite(_weights(model)):
            raise self._stop(state, state.global_step, "the weights are not finite")

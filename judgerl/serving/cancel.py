"""Stopping a running batch once every request in it has given up (timed out or disconnected).

The batcher runs `Generator.generate` in a worker thread, where an asyncio cancellation cannot
reach. For a transformers model (the HF and speculative backends) a StoppingCriteria that reads a
`threading.Event` ends `model.generate` at the next token; the Generator protocol has no hook for
it, so for the length of one call the criterion is added to the model's `generate` as an instance
attribute (generation calls never overlap, so no other caller sees it). A backend without a
transformers model (vLLM's offline engine) runs its batch to the end; the context check and
`max_new_tokens` bound how long that takes.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any


def _hf_model(generator: Any) -> Any | None:
    for name in ("model", "target"):
        model = getattr(generator, name, None)
        if model is not None and callable(getattr(model, "generate", None)) and hasattr(model, "config"):
            return model
    return None


@contextlib.contextmanager
def stops_when(generator: Any, event: threading.Event) -> Iterator[bool]:
    """Within the block, the generator's transformers `generate` stops once `event` is set.

    Yields True when the generator can be stopped that way, False when it runs to the end.
    Usage: with stops_when(generator, batch_cancelled): generator.generate(prompts, spec)
    """
    model = _hf_model(generator)
    if model is None:
        yield False
        return
    from transformers import StoppingCriteria, StoppingCriteriaList

    class _Cancelled(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            import torch

            return torch.full(
                (input_ids.shape[0],), event.is_set(), dtype=torch.bool, device=input_ids.device
            )

    original = model.generate

    def generate(*args: Any, **kwargs: Any) -> Any:
        criteria = StoppingCriteriaList(kwargs.pop("stopping_criteria", None) or [])
        criteria.append(_Cancelled())
        return original(*args, stopping_criteria=criteria, **kwargs)

    model.generate = generate
    try:
        yield True
    finally:
        del model.generate

"""Log-probabilities of candidate continuations of one context: the prefix runs once, each candidate on a copy
of its KV cache, and only the logits of the scored positions are computed (a 262k-entry LM head over a
whole prompt would cost more than the model)."""

from __future__ import annotations

import copy
import inspect
from typing import Any

import torch


def _cache_kwarg(model: Any) -> str:
    # transformers 5.24 renamed `past_key_values` to `cache` (the old name is deprecated)
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def _common_prefix(seqs: list[list[int]]) -> int:
    n = min(len(s) for s in seqs)
    for i in range(n):
        if any(s[i] != seqs[0][i] for s in seqs[1:]):
            return i
    return n


def continuation_token_ids(
    tokenizer: Any, context: str, continuations: list[str], add_special_tokens: bool = False
) -> tuple[list[list[int]], int]:
    """The token ids of each `context + continuation` (tokenized whole) and how many leading tokens all
    of them share: the scored span of each starts there (ValueError when they cannot be compared).

    Usage: seqs, shared = continuation_token_ids(tok, prompt, ["Response (a).", "Response (b)."])
    """
    if len(continuations) < 2:
        raise ValueError("continuation_logprobs needs at least two continuations to compare")
    seqs = [tokenizer(context + c, add_special_tokens=add_special_tokens)["input_ids"] for c in continuations]
    if len({tuple(s) for s in seqs}) < len(seqs):
        raise ValueError(f"continuations tokenize identically: {continuations}")
    shared = _common_prefix(seqs)
    if any(len(s) == shared for s in seqs):
        raise ValueError(f"one continuation is a prefix of another: {continuations}")
    if shared == 0:
        raise ValueError("the context is empty after tokenization: nothing to condition the continuations on")
    return [list(s) for s in seqs], shared


@torch.inference_mode()
def continuation_logprobs(
    model: Any, tokenizer: Any, context: str, continuations: list[str], add_special_tokens: bool = False
) -> list[float]:
    """Sum of token log-probabilities of each `context + continuation`, beyond the tokens all of them share.

    Every text is tokenized whole (so tokens that merge across the boundary are handled), and the
    scored span of each starts where the candidates first differ from one another, so all of them
    are conditioned on the same tokens: differences of the returned values are exact log-odds.

    Usage: la, lb = continuation_logprobs(model, tok, prompt, ["Response (a) is better.", "Response (b) is better."])
    """
    seqs, shared = continuation_token_ids(tokenizer, context, continuations, add_special_tokens)
    device = next(model.parameters()).device
    prefix = torch.tensor([seqs[0][:shared]], device=device)
    out = model(input_ids=prefix, use_cache=True, logits_to_keep=1)
    first = torch.log_softmax(out.logits[0, -1].float(), dim=-1)
    cache_kwarg = _cache_kwarg(model)
    cache = getattr(out, "cache", None) or out.past_key_values
    scores = []
    for seq in seqs:
        rest = seq[shared:]
        total = float(first[rest[0]])
        if len(rest) > 1:
            step = model(
                input_ids=torch.tensor([rest[:-1]], device=device),
                use_cache=True,
                **{cache_kwarg: copy.deepcopy(cache)},
            )
            logp = torch.log_softmax(step.logits[0].float(), dim=-1)
            total += float(logp[torch.arange(len(rest) - 1), torch.tensor(rest[1:])].sum())
        scores.append(total)
    return scores

"""Hidden-state features at mined mismatches: the last layer after the final norm
(`output_hidden_states[-1]`, which transformers ties to the normed `last_hidden_state`; see
`capture_outputs(tie_last_hidden_states=True)` in transformers/utils/output_capturing.py) at
position p of the sequence prompt + completion[:p] + draft token, from the draft and the target.

Setups: "DD-DT" concatenates draft and target features; "DT" is the target's alone (the one judge
decoding gets for free, since the target computes it while verifying; DD-DT costs judge decoding one
more draft forward per cycle, see judgerl.models.generation.speculative).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from transformers import PreTrainedModel

# The setups are the judge decoder's too (it computes the same features while decoding).
from judgerl.models.generation.speculative import FEATURE_SETUPS as SETUPS
from judgerl.models.generation.speculative import FeatureSetup as Setup


@dataclass
class MismatchDataset:
    """Features X [n, d], labels y [n] (1 = important) and groups [n] (the item id of each row)."""

    X: np.ndarray
    y: np.ndarray
    groups: np.ndarray


def mismatch_sequences(records: list[dict[str, Any]]) -> tuple[list[list[int]], list[int], list[str]]:
    """For each mismatch: prompt + final[:p] + draft token, its label and its item id.

    Later swaps only touch positions after p, so final[:p] is the context the mismatch was mined in.

    >>> rec = {"id": "q", "prompt_ids": [1, 2], "final_ids": [5, 6, 7],
    ...        "mismatches": [{"position": 1, "important": True, "target_token": 6, "draft_token": 9}]}
    >>> mismatch_sequences([rec])
    ([[1, 2, 5, 9]], [1], ['q'])
    """
    seqs, labels, groups = [], [], []
    for r in records:
        for m in r["mismatches"]:
            p = int(m["position"])
            seqs.append(list(r["prompt_ids"]) + list(r["final_ids"][:p]) + [int(m["draft_token"])])
            labels.append(int(bool(m["important"])))
            groups.append(str(r["id"]))
    return seqs, labels, groups


@torch.inference_mode()
def last_token_hidden(model: PreTrainedModel, seqs: list[list[int]], batch_size: int = 16) -> np.ndarray:
    """Last-layer (normed) hidden state at the final token of each sequence: [n, hidden] float32.

    Right padding with an attention mask keeps each real token's positions and values unchanged.

    Usage: H = last_token_hidden(target, [[1, 2, 3], [4, 5]])
    """
    hidden = model.config.hidden_size
    if not seqs:
        return np.zeros((0, hidden), dtype=np.float32)
    model.eval()
    pad = model.config.pad_token_id or 0
    out = np.zeros((len(seqs), hidden), dtype=np.float32)
    for start in range(0, len(seqs), batch_size):
        batch = seqs[start : start + batch_size]
        width = max(len(s) for s in batch)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for i, s in enumerate(batch):
            ids[i, : len(s)] = torch.tensor(s)
            mask[i, : len(s)] = 1
        res = model(
            input_ids=ids.to(model.device), attention_mask=mask.to(model.device), output_hidden_states=True
        )
        last = res.hidden_states[-1]
        idx = torch.tensor([len(s) - 1 for s in batch], device=last.device)
        out[start : start + len(batch)] = (
            last[torch.arange(len(batch), device=last.device), idx].float().cpu().numpy()
        )
    return out


def mismatch_features(
    records: list[dict[str, Any]],
    target: PreTrainedModel,
    draft: PreTrainedModel | None = None,
    setup: Setup = "DT",
    batch_size: int = 16,
) -> MismatchDataset:
    """Features of every mined mismatch in `records` for `setup` ("DT" or "DD-DT" = [draft, target]).

    Usage: ds = mismatch_features(records, target, draft, setup="DD-DT"); ds.X.shape
    """
    if setup not in SETUPS:
        raise ValueError(f"feature setup must be one of {SETUPS}, got {setup!r}")
    if setup == "DD-DT" and draft is None:
        raise ValueError("setup 'DD-DT' needs the draft model")
    seqs, labels, groups = mismatch_sequences(records)
    parts = [last_token_hidden(target, seqs, batch_size)]
    if setup == "DD-DT":
        assert draft is not None
        parts.insert(0, last_token_hidden(draft, seqs, batch_size))
    return MismatchDataset(
        X=np.concatenate(parts, axis=1),
        y=np.asarray(labels, dtype=np.int64),
        groups=np.asarray(groups, dtype=object).astype(str),
    )

"""TRL's preference dataset formats as row functions (https://huggingface.co/docs/trl/dataset_formats).

- "trl-standard": `prompt`, `chosen`, `rejected` strings (explicit prompt).
- "trl-conversational": `prompt` a list of messages ending with the user's turn, `chosen` and
  `rejected` lists of one assistant message each (explicit prompt).
- "trl-conversational-implicit": `chosen` and `rejected` whole dialogues (message lists) that share
  every turn but the last assistant one (implicit prompt), as Skywork-Reward-Preference stores them.

The chosen response goes to (a) or (b) by a seeded per-row hash (`swap_seed`; None keeps it in
(a)). A row's `id` is kept when it has one; otherwise ids are "<source>-<row index>". A pair whose
two responses are identical is listed as not pairable. A conversational row's prompt messages
(the `prompt` column, or the turns the two dialogues share) are kept as written in
metadata["prompt_messages"].
"""

from __future__ import annotations

import dataclasses
from typing import Any, cast

from judgerl.core.types import JudgeSample, sample_id
from judgerl.data_prep.sources.base import RowFn, as_conversation, as_text, user_turn
from judgerl.data_prep.sources.presets import preference_pair, skywork_preference


def _row_id(source: str, index: int, row: dict[str, Any]) -> str:
    return sample_id(row["id"]) if "id" in row else f"{source}-{index:06d}"


def _assistant_reply(value: Any, name: str) -> str:
    """The text of a completion given as a list of one assistant message."""
    if not isinstance(value, list) or len(value) != 1 or not isinstance(value[0], dict):
        raise ValueError(f"{name} must be a list of one assistant message")
    message = value[0]
    if message.get("role") != "assistant":
        raise ValueError(f"{name} must be an assistant message, got role {message.get('role')!r}")
    return as_text(message.get("content"), f"{name} content")


def _object(row: Any) -> dict[str, Any]:
    if not isinstance(row, dict):
        raise TypeError(f"row must be an object, got {type(row).__name__}")
    return row


def trl_standard(source: str, swap_seed: int | None) -> RowFn:
    """Rows of TRL's standard explicit-prompt preference format. Usage: trl_standard("prefs", 0)."""

    def row_fn(index: int, row: Any) -> JudgeSample:
        row = _object(row)
        return preference_pair(
            source,
            swap_seed,
            _row_id(source, index, row),
            user_turn(row["prompt"]),
            as_text(row["chosen"], "chosen"),
            as_text(row["rejected"], "rejected"),
        )

    return row_fn


def trl_conversational(source: str, swap_seed: int | None) -> RowFn:
    """Rows of TRL's conversational explicit-prompt preference format. Usage: trl_conversational("prefs", 0)."""

    def row_fn(index: int, row: Any) -> JudgeSample:
        row = _object(row)
        prompt = as_conversation(row["prompt"])
        return preference_pair(
            source,
            swap_seed,
            _row_id(source, index, row),
            prompt,
            _assistant_reply(row["chosen"], "chosen"),
            _assistant_reply(row["rejected"], "rejected"),
            metadata={"prompt_messages": [dict(m) for m in prompt]},
        )

    return row_fn


def trl_conversational_implicit(source: str, swap_seed: int | None) -> RowFn:
    """Rows of TRL's conversational implicit-prompt format (the Skywork preset's reading).

    Usage: trl_conversational_implicit("prefs", 0)
    """
    read = skywork_preference(source, swap_seed)

    def row_fn(index: int, row: Any) -> JudgeSample:
        sample = cast(JudgeSample, read(index, row))  # the preset makes one sample per row
        prompt = [dict(m) for m in sample.conversation]  # the shared turns, as the file wrote them
        return dataclasses.replace(sample, metadata={**sample.metadata, "prompt_messages": prompt})

    return row_fn

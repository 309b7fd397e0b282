"""verl RL parquet rows as judge samples: Think-J's GRPO files and judgerl's own verl export.

A row (verl's RLHFDataset layout, Think-J's verl/examples/data_preprocess/skywork.py):

    data_source   a name ("skywork/skywork-reward-preference-80k-v0.2", "judgerl/<source>")
    prompt        the judge's chat messages, the last user turn a rendered judge prompt
    ability       "judge"
    reward_model  {style: "rule", ground_truth: ...}
    extra_info    {split, index, ...}

The question and the two responses are read from the last user message's
"[The Start of ...]" blocks (as in Think-J's alpaca rows). The label (and strength) come from
`ground_truth`, read the way the reward that trains on the file reads it:

- a signed integer (or its string) when the prompt asks for a strength ("... the strength is
  [[k]]"): Think-J's reward_strength, negative for (a), positive for (b), |g| the strength;
- 1 (a) or 2 (b) when it does not: Think-J's reward_cot reads the choice skywork.py writes;
- {label, strength} (strength 0 = unknown): judgerl's own export (trainers/verl_export.py).

The prompt messages as written go to metadata["prompt_messages"], `data_source` and
`extra_info` to metadata too. Ids are "<source>-<row index>".
"""

from __future__ import annotations

import re
from numbers import Integral
from typing import Any

from judgerl.core.types import LABELS, JudgeSample
from judgerl.data_prep.sources.base import RowFn, user_turn
from judgerl.data_prep.sources.columns import parse_strength
from judgerl.data_prep.sources.thinkj import read_judge_prompt

COLUMNS: tuple[str, ...] = ("data_source", "prompt", "ability", "reward_model", "extra_info")
STRENGTH_ASKED = "strength is [["  # in Think-J's strength prompt and judgerl's strength family alike
_INTEGER = re.compile(r"\s*[+-]?[0-9]{1,6}\s*")


def prompt_messages(value: Any) -> list[dict[str, str]]:
    """The {role, content} messages of a verl `prompt` cell, as written; ValueError for anything else.

    >>> prompt_messages([{"role": "user", "content": "q"}])
    [{'role': 'user', 'content': 'q'}]
    """
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError("prompt must be a non-empty list of chat messages")
    messages = []
    for i, message in enumerate(value):
        if (
            not isinstance(message, dict)
            or not isinstance(message.get("role"), str)
            or not isinstance(message.get("content"), str)
        ):
            raise ValueError(f"prompt message {i} must be {{role: str, content: str}}")
        messages.append({"role": message["role"], "content": message["content"]})
    return messages


def _signed(value: Any) -> int | None:
    """An integer from an int cell or its string; None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INTEGER.fullmatch(value):
        return int(value)
    return None


def read_ground_truth(value: Any, asks_strength: bool) -> tuple[str, int | None]:
    """(label, signed strength or None) from a verl ground truth (module docstring).

    >>> read_ground_truth(-2, True), read_ground_truth(1, False), read_ground_truth({"label": "b", "strength": 0}, False)
    (('a', -2), ('a', None), ('b', None))
    """
    if isinstance(value, dict):
        label = value.get("label")
        if not isinstance(label, str) or label.strip().lower() not in LABELS:
            raise ValueError(f"ground_truth must hold a 'label' 'a' or 'b', got {value!r:.80}")
        strength = parse_strength(value.get("strength"))
        return label.strip().lower(), strength or None
    number = _signed(value)
    if number is None:
        raise ValueError(f"ground_truth must be an integer or {{label, strength}}, got {value!r:.80}")
    if asks_strength:
        if not 1 <= abs(number) <= 3:
            raise ValueError(
                f"ground_truth {number} is not a signed strength (-3..-1: (a) better, 1..3: (b) better), "
                "which the strength prompt of this row asks for"
            )
        return ("a" if number < 0 else "b"), number
    if number not in (1, 2):
        raise ValueError(
            f"ground_truth {number} is not a choice (1: (a), 2: (b)); the prompt asks for no strength, "
            "so it is read as Think-J's reward_cot reads it"
        )
    return ("a" if number == 1 else "b"), None


def verl_rows(source: str, swap_seed: int | None = None) -> RowFn:
    """Row function of verl RL rows (module docstring); `swap_seed` is unused (the prompt fixes the order).

    Usage: convert_rows("train", rows, verl_rows("train"))
    """

    def row_fn(index: int, row: Any) -> JudgeSample:
        if not isinstance(row, dict):
            raise TypeError(f"row must be an object, got {type(row).__name__}")
        messages = prompt_messages(row["prompt"])
        users = [m["content"] for m in messages if m["role"] == "user"]
        if not users:
            raise ValueError("prompt has no user message")
        question, reference, responses = read_judge_prompt(users[-1])
        reward_model = row["reward_model"]
        if not isinstance(reward_model, dict) or "ground_truth" not in reward_model:
            raise ValueError("reward_model must be an object with a 'ground_truth'")
        asks_strength = any(STRENGTH_ASKED in m["content"] for m in messages)
        label, strength = read_ground_truth(reward_model["ground_truth"], asks_strength)
        metadata: dict[str, Any] = {"prompt_messages": messages}
        if reference is not None:
            metadata["reference"] = reference
        for key in ("data_source", "extra_info"):
            if row.get(key) is not None:
                metadata[key] = row[key]
        return JudgeSample(
            id=f"{source}-{index:06d}",
            source=source,
            conversation=user_turn(question),
            response_a=responses[0],
            response_b=responses[1],
            label=label,  # type: ignore[arg-type]
            strength=strength,
            metadata=metadata,
        )

    return row_fn

"""Row conversions for the preference datasets judgerl trains and evaluates on (used by `load_hub`).

Each preset is a factory `(source, swap_seed) -> row function`. `swap_seed` places the chosen
response in (a) or (b) by a seeded per-row hash; None keeps chosen in (a).

- "helpsteer2-preference": nvidia/HelpSteer2 preference file. Columns prompt, response_1,
  response_2, preference_strength (signed -3..3, negative: response_1 better). response_1 is (a)
  and the strength is kept as is (no swap: the file's order is already random); 0 is a tie and
  is listed as not pairable with reason "tie". A multi-turn prompt, whose turns the file joins
  with "<extra_id_1>User\\n" / "<extra_id_1>Assistant\\n", becomes a chat conversation.
- "skywork-preference": Skywork-Reward-Preference. chosen and rejected are message lists: the
  last (assistant) message is the response, the earlier messages the conversation (they must be
  the same on both sides). The dataset's `source` column becomes the subset.
- "hh-rlhf": Anthropic/hh-rlhf. chosen and rejected are strings of "\\n\\nHuman: ..." /
  "\\n\\nAssistant: ..." turns; the final assistant turn is the response, the turns before it
  (the same on both sides) the conversation.
- "hh-rlhf-strength": hh-rlhf-strength-cleaned (Secrets of RLHF II). As hh-rlhf (chosen and
  rejected may also be lists of turn strings, the last being the response), plus the column
  "mean preference difference" (a reward-model ensemble's mean score gap, chosen minus
  rejected). The human label decides the winner; |difference| is bucketed into strength 1..3
  by HH_STRENGTH_THRESHOLDS; the signed difference is kept in metadata.
- "reward-bench": allenai/reward-bench. Columns prompt, chosen, rejected, subset, id; the id is
  kept, chosen_model/rejected_model go to metadata.

A pair whose two responses are identical is listed as not pairable ("identical responses").
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from judgerl.core.types import JudgeSample
from judgerl.data_prep.sources.base import (
    NotPairable,
    RowFn,
    as_conversation,
    as_text,
    make_pair,
    seeded_flip,
    user_turn,
)
from judgerl.data_prep.sources.columns import parse_strength

# |mean preference difference| below 0.5 -> strength 1, below 1.5 -> 2, else 3. Read as a
# Bradley-Terry gap, 0.5 and 1.5 are win probabilities of about 62% and 82%: "slightly better",
# "better", "much better". The seed does not publish its thresholds; these are ours.
HH_STRENGTH_THRESHOLDS: tuple[float, float] = (0.5, 1.5)
HH_STRENGTH_COLUMN = "mean preference difference"

_HH_TURN = re.compile(r"\n\n(Human|Assistant):")
_HS2_TURN = re.compile(r"<extra_id_1>(User|Assistant)\n")
_ROLES = {"Human": "user", "User": "user", "Assistant": "assistant"}


def hh_strength(diff: float) -> int:
    """Bucket a mean preference difference into strength 1..3 by |diff|. Usage: hh_strength(-2.0) -> 3."""
    low, high = HH_STRENGTH_THRESHOLDS
    size = abs(diff)
    return 1 if size < low else 2 if size < high else 3


def split_hh_dialogue(text: Any) -> list[dict[str, str]]:
    """Chat messages from an hh-rlhf string ("\\n\\nHuman: ...\\n\\nAssistant: ...").

    Usage: split_hh_dialogue("\\n\\nHuman: hi\\n\\nAssistant: hello")
    """
    text = as_text(text, "dialogue")
    parts = _HH_TURN.split(text)
    if parts[0].strip():
        raise ValueError("dialogue has text before the first Human/Assistant turn")
    if len(parts) < 3:
        raise ValueError("dialogue has no Human/Assistant turns")
    return [
        {"role": _ROLES[role], "content": content.strip()}
        for role, content in zip(parts[1::2], parts[2::2], strict=True)
    ]


def split_helpsteer2_prompt(prompt: Any) -> list[dict[str, str]]:
    """Chat messages from a HelpSteer2 prompt (turns joined by "<extra_id_1>User\\n"/"Assistant\\n").

    Usage: split_helpsteer2_prompt("Hi<extra_id_1>Assistant\\nHello<extra_id_1>User\\nMore?")
    """
    prompt = as_text(prompt, "prompt")
    parts = _HS2_TURN.split(prompt)
    messages = [{"role": "user", "content": parts[0]}]
    messages += [{"role": _ROLES[r], "content": c} for r, c in zip(parts[1::2], parts[2::2], strict=True)]
    return as_conversation(messages) if len(messages) > 1 else user_turn(prompt)


def preference_pair(
    source: str,
    swap_seed: int | None,
    sample_id: str,
    conversation: list[dict[str, str]],
    chosen: str,
    rejected: str,
    strength: int | None = None,
    subset: str = "",
    metadata: dict[str, Any] | None = None,
) -> JudgeSample:
    """A chosen/rejected pair placed by a seeded per-row coin (`swap_seed`; None: chosen in (a)).

    Identical responses are not pairable. Usage: preference_pair("s", 0, "id1", conv, "good", "bad")
    """
    if chosen == rejected:
        raise NotPairable("identical responses")
    return make_pair(
        sample_id=sample_id,
        source=source,
        conversation=conversation,
        chosen=chosen,
        rejected=rejected,
        chosen_first=swap_seed is None or not seeded_flip(swap_seed, sample_id),
        strength=strength,
        subset=subset,
        metadata=metadata,
    )


def _split_final_response(
    chosen: list[dict[str, str]], rejected: list[dict[str, str]]
) -> tuple[list[dict[str, str]], str, str]:
    """(conversation, chosen response, rejected response) from two full dialogues."""
    for name, dialogue in (("chosen", chosen), ("rejected", rejected)):
        if len(dialogue) < 2 or dialogue[-1]["role"] != "assistant":
            raise ValueError(f"{name} must end with an assistant turn after at least one user turn")
    if chosen[:-1] != rejected[:-1]:
        raise ValueError("chosen and rejected differ before the final assistant turn")
    return as_conversation(chosen[:-1]), chosen[-1]["content"], rejected[-1]["content"]


def _messages(value: Any, name: str) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise ValueError(f"{name} must be a non-empty list of messages")
    out = []
    for m in value:
        if (
            not isinstance(m, dict)
            or not isinstance(m.get("role"), str)
            or not isinstance(m.get("content"), str)
        ):
            raise ValueError(f"{name} messages need string 'role' and 'content'")
        out.append({"role": m["role"], "content": m["content"]})
    return out


def _turn_list(value: Any, name: str) -> list[dict[str, str]]:
    """hh-rlhf-strength's list of turn strings: the last is the assistant's, roles alternate backwards."""
    if isinstance(value, str):
        return split_hh_dialogue(value)
    if not isinstance(value, list) or not value or not all(isinstance(t, str) for t in value):
        raise ValueError(f"{name} must be an hh-rlhf string or a non-empty list of strings")
    n = len(value)
    return [
        {"role": "assistant" if (n - 1 - i) % 2 == 0 else "user", "content": t} for i, t in enumerate(value)
    ]


def helpsteer2_preference(source: str, swap_seed: int | None) -> RowFn:
    """Preset "helpsteer2-preference" (see the module docstring). Usage: PRESETS["helpsteer2-preference"]("hs2", None)."""

    def row_fn(index: int, row: dict[str, Any]) -> JudgeSample:
        g = parse_strength(row["preference_strength"])
        if g is None:
            raise ValueError("preference_strength is missing")
        if g == 0:
            raise NotPairable("tie")
        return JudgeSample(
            id=f"{source}-{index:06d}",
            source=source,
            conversation=split_helpsteer2_prompt(row["prompt"]),
            response_a=as_text(row["response_1"], "response_1"),
            response_b=as_text(row["response_2"], "response_2"),
            label="a" if g < 0 else "b",
            strength=g,
            subset="",
            metadata={"split": row["split"]} if isinstance(row.get("split"), str) else {},
        )

    return row_fn


def skywork_preference(source: str, swap_seed: int | None) -> RowFn:
    """Preset "skywork-preference" (see the module docstring). Usage: PRESETS["skywork-preference"]("sky", 0)."""

    def row_fn(index: int, row: dict[str, Any]) -> JudgeSample:
        conversation, chosen, rejected = _split_final_response(
            _messages(row["chosen"], "chosen"), _messages(row["rejected"], "rejected")
        )
        subset = row.get("source")
        return preference_pair(
            source,
            swap_seed,
            f"{source}-{index:06d}",
            conversation,
            chosen,
            rejected,
            subset=subset if isinstance(subset, str) else "",
        )

    return row_fn


def hh_rlhf(source: str, swap_seed: int | None) -> RowFn:
    """Preset "hh-rlhf" (see the module docstring). Usage: PRESETS["hh-rlhf"]("hh", 0)."""

    def row_fn(index: int, row: dict[str, Any]) -> JudgeSample:
        conversation, chosen, rejected = _split_final_response(
            split_hh_dialogue(row["chosen"]), split_hh_dialogue(row["rejected"])
        )
        return preference_pair(source, swap_seed, f"{source}-{index:06d}", conversation, chosen, rejected)

    return row_fn


def hh_rlhf_strength(source: str, swap_seed: int | None) -> RowFn:
    """Preset "hh-rlhf-strength" (see the module docstring). Usage: PRESETS["hh-rlhf-strength"]("hhs", 0)."""

    def row_fn(index: int, row: dict[str, Any]) -> JudgeSample:
        diff = row[HH_STRENGTH_COLUMN]
        if isinstance(diff, bool) or not isinstance(diff, (int, float)) or not math.isfinite(diff):
            raise ValueError(f"{HH_STRENGTH_COLUMN!r} must be a finite number, got {diff!r}")
        conversation, chosen, rejected = _split_final_response(
            _turn_list(row["chosen"], "chosen"), _turn_list(row["rejected"], "rejected")
        )
        return preference_pair(
            source,
            swap_seed,
            f"{source}-{index:06d}",
            conversation,
            chosen,
            rejected,
            strength=hh_strength(diff),
            metadata={"preference_difference": float(diff)},
        )

    return row_fn


def reward_bench(source: str, swap_seed: int | None) -> RowFn:
    """Preset "reward-bench" (see the module docstring). Usage: PRESETS["reward-bench"]("reward-bench", 0)."""

    def row_fn(index: int, row: dict[str, Any]) -> JudgeSample:
        metadata = {k: row[k] for k in ("chosen_model", "rejected_model") if isinstance(row.get(k), str)}
        return preference_pair(
            source,
            swap_seed,
            str(row["id"]),
            user_turn(row["prompt"]),
            as_text(row["chosen"], "chosen"),
            as_text(row["rejected"], "rejected"),
            subset=as_text(row["subset"], "subset"),
            metadata=metadata,
        )

    return row_fn


PRESETS: dict[str, Callable[[str, int | None], RowFn]] = {
    "helpsteer2-preference": helpsteer2_preference,
    "skywork-preference": skywork_preference,
    "hh-rlhf": hh_rlhf,
    "hh-rlhf-strength": hh_rlhf_strength,
    "reward-bench": reward_bench,
}

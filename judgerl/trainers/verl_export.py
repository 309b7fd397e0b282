"""What verl reads from judgerl: parquet in verl's RL row schema, and a reward module file.

A row (verl `RLHFDataset`, `data.prompt_key=prompt`, reward manager inputs):

    data_source   "judgerl/<source>" (verl's reward_fn_key; logged per source)
    prompt        the judge's chat messages, from the shared renderer
    ability       "judge"
    reward_model  {style: "rule", ground_truth: {label: "a"|"b", strength: signed int, 0 = unknown}}
    extra_info    {sample_id, order, index, split}

The reward module defines `compute_score(data_source, solution_str, ground_truth, extra_info)`
from `judgerl.rewards.adapters.to_verl` with the recipe's rewards and weights, so verl scores
exactly as the TRL adapter does.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from judgerl.core.jsonl import atomic_path, write_text_atomic
from judgerl.judge_spec.spec import JudgeSpec
from judgerl.rewards.registry import parse_reward_specs

ABILITY = "judge"
REWARD_FUNCTION = "compute_score"


def verl_row(row: dict[str, Any], index: int, split: str, source: str = "judgerl") -> dict[str, Any]:
    """One verl row from a GRPO row (`data_prep.grpo_data.grpo_row`).

    >>> r = verl_row({"prompt": [{"role": "user", "content": "q"}], "sample_id": "x", "order": "ba",
    ...               "label": "b", "strength": 2, "subset": "s"}, 7, "train")
    >>> r["reward_model"], r["extra_info"]["order"], r["extra_info"]["index"]
    ({'style': 'rule', 'ground_truth': {'label': 'b', 'strength': 2}}, 'ba', 7)
    """
    return {
        "data_source": f"judgerl/{row.get('subset') or source}",
        "prompt": [{"role": m["role"], "content": m["content"]} for m in row["prompt"]],
        "ability": ABILITY,
        "reward_model": {
            "style": "rule",
            "ground_truth": {"label": str(row["label"]), "strength": int(row.get("strength") or 0)},
        },
        "extra_info": {
            "sample_id": str(row["sample_id"]),
            "order": str(row["order"]),
            "index": int(index),
            "split": split,
        },
    }


def write_verl_parquet(
    rows: Sequence[dict[str, Any]], path: str | os.PathLike[str], split: str, source: str = "judgerl"
) -> int:
    """Write GRPO rows as a verl parquet file, atomically; returns the row count.

    Usage: write_verl_parquet(grpo_rows(samples, spec).rows, "train.parquet", "train")
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not rows:
        raise ValueError(f"no rows to write to {path}")
    table = pa.Table.from_pylist([verl_row(r, i, split, source) for i, r in enumerate(rows)])
    with atomic_path(path) as tmp:
        pq.write_table(table, str(tmp))
    return len(rows)


def reward_module_source(rewards: Any, judge_spec: JudgeSpec | None = None) -> str:
    """The text of a reward module for verl's `reward.custom_reward_function` (rewards validated first);
    the judge spec the rewards read verdicts by is embedded as JSON.

    >>> "compute_score = to_verl(REWARDS, judge_spec=JUDGE_SPEC)" in reward_module_source(["strength"])
    True
    """
    specs = parse_reward_specs(rewards)
    listed = [{"name": s.name, "weight": s.weight, **s.kwargs} for s in specs]
    embedded = None if judge_spec is None else judge_spec.model_dump(mode="json")
    return (
        '"""verl reward module written by judgerl (trainers/verl_export.py); regenerated on every run.\n\n'
        "verl loads it from reward.custom_reward_function.path and calls\n"
        f"{REWARD_FUNCTION}(data_source, solution_str, ground_truth, extra_info) per completion.\n"
        '"""\n\n'
        "import json\n\n"
        "from judgerl.rewards.adapters import to_verl, to_verl_batch\n\n"
        f"REWARDS = {listed!r}\n"
        f"JUDGE_SPEC = json.loads({json.dumps(json.dumps(embedded))})\n"
        f"{REWARD_FUNCTION} = to_verl(REWARDS, judge_spec=JUDGE_SPEC)\n"
        f"{REWARD_FUNCTION}_batch = to_verl_batch(REWARDS, judge_spec=JUDGE_SPEC)\n"
    )


def write_reward_module(
    rewards: Any, path: str | os.PathLike[str], judge_spec: JudgeSpec | None = None
) -> Path:
    """Write the reward module file atomically. Usage: write_reward_module(stage.rewards, "reward_fn.py", spec)."""
    return write_text_atomic(path, reward_module_source(rewards, judge_spec))

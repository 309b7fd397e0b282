"""The items of tests/autojudge/data/important_tokens_small.pt: a hand-written file in AutoJudge's
mined important-token layout (`torch.save` of a list of dicts), token ids below 300 so the tests'
tiny models can encode them.

Each of the 10 questions has a 6-token prompt and an 8-token completion (positions are absolute in
`current_response`) and two mismatches: an important one at position 8 (the target token stays in
`current_response`) and an unimportant one at position 11 (the draft token was kept).

Rebuild the file with: python tests/autojudge/autojudge_pt_fixture.py
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

FIXTURE = Path(__file__).parent / "data" / "important_tokens_small.pt"
N_ITEMS = 10


def fixture_items() -> list[dict[str, Any]]:
    """The list of dicts the fixture file holds. Usage: torch.save(fixture_items(), path)."""
    items = []
    for i in range(N_ITEMS):
        current = [1, 10 + i, 21, 31, 41, 51, 61, 71, 100 + i, 110, 120, 200 + i, 130, 2]
        items.append(
            {
                "changed_token_indices": [(8, True, 100 + i, 150 + i), (11, False, 160 + i, 200 + i)],
                "colored_tokens": f"item {i}",
                "draft_answer": torch.tensor([[130 + i % 2]]),
                "target_answer": torch.tensor([[130]]),
                "current_response": torch.tensor([current]),
                "target_float_ans": 5.0,
                "draft_float_ans": 5.0 + i % 2,
                "target_ans_is_none": False,
                "draft_ans_is_none": False,
                "id": i,
            }
        )
    return items


if __name__ == "__main__":
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    torch.save(fixture_items(), FIXTURE)
    print(f"wrote {FIXTURE} ({FIXTURE.stat().st_size} bytes)")

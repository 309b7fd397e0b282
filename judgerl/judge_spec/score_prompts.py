"""The instruction texts of judgerl's 0-10 pointwise score prompt (the built-in `score` and
`score-compact` specs in judge_spec/presets.py; rendered by judge_spec/render.py `score_prompt`).

The inference-time-scaling analysis (docs/algorithms.md section 5) scores each sampled answer on its
own and selects by softmax(score / T). Its judge protocol is short on purpose: prompt, greedy
decoding, the number the spec's verdict format reads, clamped to [0, 10].
"""

from __future__ import annotations

SCORE_MIN, SCORE_MAX = 0.0, 10.0

SCORE_INSTRUCTIONS = {
    "full": (
        "Please act as an impartial judge and score the solution below to the question. Check each step "
        "of the reasoning and the final answer. Reply with a single number from 0 (wrong) to 10 (certainly "
        "right) and nothing else."
    ),
    "compact": "Score the solution from 0 (wrong) to 10 (right). Reply with the number only.",
}

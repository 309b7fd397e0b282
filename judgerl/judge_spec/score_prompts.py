"""The pointwise 0-10 score prompt: a judge rates one candidate solution for selection (best-of-k).

The inference-time-scaling analysis (docs/algorithms.md section 5) scores each sampled answer on its
own and selects by softmax(score / T). Its judge protocol is short on purpose: prompt, greedy
decoding, the first number of the reply, clamped to [0, 10] (`judgerl.judge_spec.score_parser`).
"""

from __future__ import annotations

from typing import Literal

ScoreInstruction = Literal["full", "compact"]
SCORE_MIN, SCORE_MAX = 0.0, 10.0

_FULL = (
    "Please act as an impartial judge and score the solution below to the question. Check each step "
    "of the reasoning and the final answer. Reply with a single number from 0 (wrong) to 10 (certainly "
    "right) and nothing else."
)
_COMPACT = "Score the solution from 0 (wrong) to 10 (right). Reply with the number only."


def render_score_user_turn(question: str, solution: str, instruction: ScoreInstruction = "full") -> str:
    """The judge's user message asking for a 0-10 score of `solution` to `question`.

    >>> text = render_score_user_turn("2+2?", "2+2=4\\n#### 4", "compact")
    >>> text.splitlines()[0]
    'Score the solution from 0 (wrong) to 10 (right). Reply with the number only.'
    >>> "[The Start of Solution]\\n2+2=4\\n#### 4\\n[The End of Solution]" in text
    True
    """
    if instruction not in ("full", "compact"):
        raise ValueError(f"score instruction must be 'full' or 'compact', got {instruction!r}")
    head = _FULL if instruction == "full" else _COMPACT
    return "\n\n".join(
        [
            head,
            f"[The Start of User Question]\n{question}\n[The End of User Question]",
            f"[The Start of Solution]\n{solution}\n[The End of Solution]",
        ]
    )


def render_score_messages(
    question: str, solution: str, instruction: ScoreInstruction = "full"
) -> list[dict[str, str]]:
    """The chat messages of a 0-10 score request (one user turn).

    >>> render_score_messages("q", "s")[0]["role"]
    'user'
    """
    return [{"role": "user", "content": render_score_user_turn(question, solution, instruction)}]

"""The verdict sentences a judge writes, and the thinking-trace layout around them.

One place defines what a verdict looks like; the renderer, the SFT trace builder and the
parser in `judgerl.judge_spec.parser` all read these constants, so they cannot disagree.
"""

from __future__ import annotations

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
STRENGTH_WORDS = {1: "slightly better", 2: "better", 3: "much better"}


def verdict_sentence(choice: str, strength: int | None = None) -> str:
    """The final verdict sentence.

    >>> verdict_sentence("a", 2)
    'Therefore, Response (a) is better, and the strength is [[2]].'
    >>> verdict_sentence("b")
    'Therefore, Response (b) is better.'
    """
    if choice not in ("a", "b"):
        raise ValueError(f"choice must be 'a' or 'b', got {choice!r}")
    if strength is None:
        return f"Therefore, Response ({choice}) is better."
    if strength not in STRENGTH_WORDS:
        raise ValueError(f"strength must be 1, 2 or 3, got {strength!r}")
    return f"Therefore, Response ({choice}) is better, and the strength is [[{strength}]]."


def format_trace(thinking: str | None, choice: str, strength: int | None = None) -> str:
    """A judge completion: an optional thinking block, then the verdict sentence.

    >>> format_trace("check", "b", 1)
    '<think>\\ncheck\\n</think>\\n\\nTherefore, Response (b) is better, and the strength is [[1]].'
    """
    sentence = verdict_sentence(choice, strength)
    if thinking is None:
        return sentence
    return f"{THINK_OPEN}\n{thinking.strip()}\n{THINK_CLOSE}\n\n{sentence}"

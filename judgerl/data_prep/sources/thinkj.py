"""Think-J's alpaca files (LLaMA-Factory `instruction` / `input` / `output` rows) as judge samples with traces.

Think-J released its SFT data (e.g. skywork707) as alpaca rows: `instruction` is a rendered judge
prompt, with the question and both responses between markers ("[The Start of User Question]" ...
"[The End of User Question]", "[The Start of Response (a)]" or "[The Start of Assistant A's
Answer]" ...), and `output` is the judgement, "<think>...</think>" then the verdict sentence
("Therefore, Response (a) is better[, and the strength is [[k]]]."). Each row becomes a judge
sample whose label (and strength, when given) is the verdict's, with the trace in
metadata["thinking"] written for the order shown (metadata["thinking_order"] = "ab"), as the SFT
trace code reads it. A block whose name holds "question" or "instruction" is the question, one
holding "reference" a reference answer (kept in metadata); the other two blocks, in order, are
responses (a) and (b). The prompt as the row wrote it (`system`, then `instruction` + `input` as
the user turn) is kept in metadata["prompt_messages"]. Parsing is linear in the text's length.
"""

from __future__ import annotations

import re
from typing import Any

from judgerl.core.types import JudgeSample
from judgerl.data_prep.sources.base import RowFn, as_text, user_turn
from judgerl.judge_spec.verdicts import THINK_CLOSE, THINK_OPEN

SOURCE = "thinkj"
MARKER = "[The Start of "
# names are short and on one line, so each match attempt reads a bounded stretch of text
_BLOCK = re.compile(r"\[The (Start|End) of ([^\]\n]{1,120})\]")
_VERDICT = re.compile(r"Response \(([ab])\) is (?:slightly |much )?better", re.IGNORECASE)
_STRENGTH = re.compile(r"\[\[([1-3])\]\]")


def prompt_blocks(text: str) -> list[tuple[str, str]]:
    """The (name, content) blocks between "[The Start of NAME]" and "[The End of NAME]", in order.

    A block opened again before it closes keeps its first opening; an end without a start is ignored.

    >>> prompt_blocks("[The Start of Question]\\nq\\n[The End of Question] [The Start of Response (a)]x[The End of Response (a)]")
    [('Question', 'q'), ('Response (a)', 'x')]
    """
    opened: dict[str, tuple[int, int]] = {}  # name -> (order of opening, content start)
    blocks: list[tuple[int, str, str]] = []
    for n, match in enumerate(_BLOCK.finditer(text)):
        kind, name = match.group(1), match.group(2).strip()
        if kind == "Start":
            opened.setdefault(name, (n, match.end()))
        elif name in opened:
            order, start = opened.pop(name)
            blocks.append((order, name, text[start : match.start()].strip("\n")))
    return [(name, content) for _, name, content in sorted(blocks)]


def split_judgement(output: str) -> tuple[str, str, int | None]:
    """(thinking, label, unsigned strength or None) of a Think-J judgement; ValueError without a verdict.

    Without a <think> block the text before the verdict sentence is the thinking.

    >>> split_judgement("<think>\\ncheck\\n</think>\\n\\nTherefore, Response (b) is better, and the strength is [[2]].")
    ('check', 'b', 2)
    """
    close = output.rfind(THINK_CLOSE)
    if close >= 0:
        opening = output.find(THINK_OPEN)
        start = opening + len(THINK_OPEN) if 0 <= opening < close else 0
        thinking, final = output[start:close], output[close + len(THINK_CLOSE) :]
    else:
        thinking, final = "", output
    verdict = None
    for found in _VERDICT.finditer(final):  # the last verdict sentence counts
        verdict = found
    if verdict is None:
        raise ValueError("output has no verdict sentence ('Therefore, Response (a) is better.')")
    if close < 0:
        thinking = final[: verdict.start()].removesuffix("Therefore, ").strip()
    strength = _STRENGTH.search(final, verdict.end())
    return thinking.strip(), verdict.group(1).lower(), int(strength.group(1)) if strength else None


def read_judge_prompt(text: str) -> tuple[str, str | None, list[str]]:
    """(question, reference or None, [response a, response b]) from a rendered judge prompt's blocks.

    ValueError unless the prompt holds a question block and exactly two response blocks.

    >>> read_judge_prompt("[The Start of User Question]q[The End of User Question]"
    ...                   "[The Start of Response (a)]x[The End of Response (a)]"
    ...                   "[The Start of Response (b)]y[The End of Response (b)]")
    ('q', None, ['x', 'y'])
    """
    question, reference, responses = None, None, []
    for name, content in prompt_blocks(text):
        lowered = name.lower()
        if "reference" in lowered:
            reference = content
        elif "question" in lowered or "instruction" in lowered:
            question = content if question is None else question
        else:
            responses.append(content)
    if question is None or len(responses) != 2:
        raise ValueError(
            f"instruction must hold a question block and two response blocks ({MARKER}...]), "
            f"found {'a' if question is not None else 'no'} question and {len(responses)} responses"
        )
    return question, reference, responses


def alpaca_prompt(row: dict[str, Any]) -> tuple[str, list[dict[str, str]]]:
    """(user text, prompt messages as written) of a LLaMA-Factory alpaca row: `system`, `instruction`, `input`.

    The user turn is the instruction, then the input on a new line when there is one (as
    LLaMA-Factory joins them); a non-empty `system` comes first as a system message.

    >>> alpaca_prompt({"system": "Be fair.", "instruction": "Judge.", "input": ""})[1]
    [{'role': 'system', 'content': 'Be fair.'}, {'role': 'user', 'content': 'Judge.'}]
    """
    prompt = as_text(row["instruction"], "instruction")
    extra = row.get("input")
    if isinstance(extra, str) and extra:
        prompt = f"{prompt}\n{extra}"
    system = row.get("system")
    if system is not None and not isinstance(system, str):
        raise ValueError(f"system must be a string, got {type(system).__name__}")
    messages = [{"role": "system", "content": system}] if system else []
    return prompt, [*messages, {"role": "user", "content": prompt}]


def judgement_sample(
    source: str, sample_id: str, prompt: str, judgement: str, prompt_messages: list[dict[str, str]]
) -> JudgeSample:
    """The judge sample of a rendered judge prompt and a judgement of it (label and strength the verdict's).

    The thinking goes to metadata["thinking"] for the order shown; `prompt_messages` (the prompt
    as the file wrote it) to metadata["prompt_messages"].
    Usage: judgement_sample("skywork707", "skywork707-000000", row["instruction"], row["output"], messages)
    """
    question, reference, responses = read_judge_prompt(prompt)
    thinking, label, strength = split_judgement(judgement)
    metadata: dict[str, Any] = {"thinking_order": "ab"}
    if thinking:
        metadata["thinking"] = thinking
    if reference is not None:
        metadata["reference"] = reference
    if "Given that" in prompt:
        metadata["critic_prompt"] = True
    metadata["prompt_messages"] = prompt_messages
    return JudgeSample(
        id=sample_id,
        source=source,
        conversation=user_turn(question),
        response_a=responses[0],
        response_b=responses[1],
        label=label,  # type: ignore[arg-type]
        strength=None if strength is None else (-strength if label == "a" else strength),
        metadata=metadata,
    )


def thinkj_alpaca(source: str, swap_seed: int | None = None) -> RowFn:
    """Row function of Think-J alpaca rows (see the module docstring); `swap_seed` is unused (the trace fixes the order).

    Usage: convert_rows("skywork707", rows, thinkj_alpaca("skywork707"))
    """

    def row_fn(index: int, row: Any) -> JudgeSample:
        if not isinstance(row, dict):
            raise TypeError(f"row must be an object, got {type(row).__name__}")
        prompt, messages = alpaca_prompt(row)
        output = as_text(row["output"], "output")
        return judgement_sample(source, f"{source}-{index:06d}", prompt, output, messages)

    return row_fn

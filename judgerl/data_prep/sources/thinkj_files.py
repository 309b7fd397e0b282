"""Think-J's inference input and DPO files as judge samples.

- "thinkj-infer" (`<dataset>-infer.json`, what Think-J's judge and critic inference read): a JSON
  list of {instruction, response1, response2, better}, `instruction` the raw question and `better`
  1 (response1) or 2 (response2). Each row becomes a sample in the file's order, label 'a' for 1
  and 'b' for 2 ("1", 1.0 read the same). A `strength` column, where a file has one, is read as a
  size 1..3 whose sign follows `better` (a signed value must agree with it); without one the
  strength is unknown. Think-J judges each row in both orders; judgerl's evaluation does too.
- "thinkj-dpo" (`<dataset>-<model>-judgement.json`, written by Think-J's create_judgement_pairs for
  LLaMA-Factory DPO): a JSON list of {system, instruction, chosen, rejected}, `instruction` a
  rendered judge prompt and `chosen`/`rejected` two judgements of it. As judge samples each row
  is read like a Think-J alpaca row whose output is the chosen judgement: the question and the
  responses from the prompt's blocks, the label (and strength) from the chosen verdict, its
  thinking in metadata; `system` + `instruction` as written go to metadata["prompt_messages"].
  As DPO pairs the same file is read by `judgerl.data_prep.pairs.read_pairs`.
"""

from __future__ import annotations

from typing import Any

from judgerl.core.types import JudgeSample
from judgerl.data_prep.sources.base import RowFn, as_text, user_turn
from judgerl.data_prep.sources.columns import parse_label, parse_strength
from judgerl.data_prep.sources.thinkj import MARKER, alpaca_prompt, judgement_sample

INFER_COLUMNS: tuple[str, ...] = ("instruction", "response1", "response2", "better")
DPO_COLUMNS: tuple[str, ...] = ("instruction", "chosen", "rejected")
_BETTER = {"1": "a", "2": "b"}  # map_key-normalised values of `better`


def is_thinkj_dpo_row(row: Any) -> bool:
    """True when `row` has Think-J's DPO columns and its instruction is a rendered judge prompt.

    >>> is_thinkj_dpo_row({"instruction": "[The Start of User Question]...", "chosen": "x", "rejected": "y"})
    True
    """
    if not isinstance(row, dict) or not set(DPO_COLUMNS) <= set(row):
        return False
    instruction = row.get("instruction")
    return isinstance(instruction, str) and MARKER in instruction


def _infer_strength(row: dict[str, Any], label: str) -> int | None:
    value = parse_strength(row.get("strength"))
    if value is None or value == 0:
        return None
    if value < 0 and label == "b":
        raise ValueError(f"strength {value} says response1 is better but better is 2")
    size = abs(value)
    if size > 3:
        raise ValueError(f"strength must be 1, 2 or 3 (or its signed form), got {value}")
    return -size if label == "a" else size


def thinkj_infer(source: str, swap_seed: int | None = None) -> RowFn:
    """Row function of Think-J `*-infer.json` rows (module docstring); `swap_seed` is unused (the file's order is kept).

    Usage: convert_rows("helpsteer2", rows, thinkj_infer("helpsteer2"))
    """

    def row_fn(index: int, row: Any) -> JudgeSample:
        if not isinstance(row, dict):
            raise TypeError(f"row must be an object, got {type(row).__name__}")
        try:
            label = parse_label(row["better"], _BETTER)
        except ValueError:
            raise ValueError(
                f"better must be 1 (response1) or 2 (response2), got {row['better']!r}"
            ) from None
        return JudgeSample(
            id=f"{source}-{index:06d}",
            source=source,
            conversation=user_turn(row["instruction"]),
            response_a=as_text(row["response1"], "response1"),
            response_b=as_text(row["response2"], "response2"),
            label=label,  # type: ignore[arg-type]
            strength=_infer_strength(row, label),
        )

    return row_fn


def dpo_row_sample(source: str, index: int, row: Any) -> JudgeSample:
    """The judge sample of one Think-J DPO row (module docstring); ValueError/KeyError for a row that does not fit.

    Usage: sample = dpo_row_sample("helpsteer2-dpo", 0, row)
    """
    if not isinstance(row, dict):
        raise TypeError(f"row must be an object, got {type(row).__name__}")
    prompt, messages = alpaca_prompt(row)
    chosen = as_text(row["chosen"], "chosen")
    as_text(row["rejected"], "rejected")
    try:
        return judgement_sample(source, f"{source}-{index:06d}", prompt, chosen, messages)
    except ValueError as err:
        if "verdict" in str(err):
            raise ValueError(f"chosen {err}") from None
        raise


def thinkj_dpo(source: str, swap_seed: int | None = None) -> RowFn:
    """Row function of Think-J DPO rows as judge samples (module docstring); `swap_seed` is unused.

    Usage: convert_rows("helpsteer2-dpo", rows, thinkj_dpo("helpsteer2-dpo"))
    """
    return lambda index, row: dpo_row_sample(source, index, row)

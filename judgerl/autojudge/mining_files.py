"""Mining files in either layout: judgerl's appended JSONL (`mining.jsonl`) or AutoJudge's own
important-token file (`important_tokens.pt`, written by the authors' `find_important_tokens*.py`
with `torch.save`), detected by content.

AutoJudge's file is a list of dicts, one per question: `changed_token_indices` (one
`(position, important, target token, draft token)` tuple per mismatch, the position counted in the
whole sequence, prompt included), `current_response` (the final sequence, prompt + completion, a
`[1, L]` tensor), the answers (`target_answer` / `draft_answer` as answer-span token tensors for
GSM8K, `target_score` / `draft_score` for LiveCodeBench) and `id`. It is read with
`torch.load(weights_only=True)`, which builds only lists, dicts, tuples, numbers, strings and
tensors and never runs code from the file; a file that needs more is refused with a one-line
error naming the object it holds.

The file does not store where the prompt ends, so a converted record keeps the whole sequence as
`final_ids` (with `prompt_ids` empty) and the positions as they are: the feature context of a
mismatch, prompt + final[:p] + draft token, is then exactly `current_response[:p] + [draft]`, the
sequence AutoJudge's `calc_hiddens.py` encodes at p.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from judgerl.core.errors import DataError
from judgerl.core.logging import get_logger

log = get_logger(__name__)

ZIP_MAGIC = b"PK\x03\x04"  # torch.save's default (zip) format
PICKLE_MAGIC = b"\x80"  # torch.save's legacy format (and plain pickles, which a weights-only load refuses)
_GLOBAL_RE = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")
_UNPICKLER_RE = re.compile(r"WeightsUnpickler error:\s*([^\n]+)")


def _head(path: str | Path, n: int = 64) -> bytes:
    with open(path, "rb") as f:
        return f.read(n)


def is_torch_file(path: str | Path) -> bool:
    """True when `path` starts like a `torch.save` file (zip or legacy pickle), not like JSONL.

    Usage: is_torch_file("output/important_tokens.pt")
    """
    head = _head(path, 4)
    return head.startswith(ZIP_MAGIC) or head.startswith(PICKLE_MAGIC)


def load_torch_file(path: str | Path) -> Any:
    """`torch.load(path, weights_only=True)` on the CPU; anything it refuses is a one-line DataError.

    Usage: items = load_torch_file("output/important_tokens.pt")
    """
    import pickle

    import torch

    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        found = _GLOBAL_RE.search(str(err))
        if found:
            raise DataError(
                f"{path}: holds a {found.group(1)} object, which a weights-only torch.load refuses (it "
                "could run code); judgerl reads lists, dicts, tuples, numbers, strings and tensors only"
            ) from None
        detail = _UNPICKLER_RE.search(str(err))
        reason = detail.group(1) if detail else "refused by the weights-only unpickler"
        raise DataError(f"{path}: not a readable torch.save file: {reason}") from None
    except (RuntimeError, OSError, EOFError, ValueError) as err:
        text = str(err).strip()
        first = text.split(". ")[0].splitlines()[0][:200] if text else type(err).__name__
        raise DataError(f"{path}: not a readable torch.save file: {first}") from None


def _int(value: Any, where: str) -> int:
    """A Python int from an int, a bool or a one-element integer tensor."""
    if hasattr(value, "numel") and value.numel() == 1 and not value.is_floating_point():
        return int(value.item())
    if isinstance(value, bool | int):
        return int(value)
    raise DataError(f"{where}: expected an integer, got {type(value).__name__} {value!r:.60}")


def _ids(value: Any, where: str) -> list[int]:
    """A token-id list from a [1, L] or [L] integer tensor, or a list of ints."""
    if hasattr(value, "dim"):
        if value.is_floating_point() or value.dim() > 2 or (value.dim() == 2 and value.shape[0] != 1):
            raise DataError(
                f"{where}: expected integer token ids of shape [1, L] or [L], "
                f"got a {value.dtype} tensor of shape {list(value.shape)}"
            )
        return [int(t) for t in value.reshape(-1).tolist()]
    if isinstance(value, list | tuple):
        return [_int(t, where) for t in value]
    raise DataError(f"{where}: expected token ids (a tensor or a list), got {type(value).__name__}")


def _answer(item: dict[str, Any], who: str, where: str) -> Any:
    """The item's answer as AutoJudge compares it: answer-span token ids (GSM8K) or a test score (LCB)."""
    if item.get(f"{who}_answer") is not None:
        return _ids(item[f"{who}_answer"], f"{where} {who}_answer")
    if item.get(f"{who}_score") is not None:
        return _int(item[f"{who}_score"], f"{where} {who}_score")
    return None


def record_from_autojudge(item: Any, index: int, path: str | Path = "") -> dict[str, Any]:
    """One AutoJudge item (a dict of the mined-token file) as a judgerl mining record.

    The mismatch positions stay absolute (the prompt is folded into `final_ids`); each one is
    checked against `current_response`, which holds the target token at an important mismatch and
    the draft token at an unimportant one (AutoJudge kept the swap), so a file of another layout
    fails here with the item and the position rather than producing wrong features.

    >>> import torch
    >>> rec = record_from_autojudge({"id": 7, "current_response": torch.tensor([[1, 2, 9, 4]]),
    ...     "changed_token_indices": [(2, False, 3, 9), (3, True, 4, 5)]}, 0)
    >>> rec["id"], rec["prompt_ids"], rec["final_ids"], [m["position"] for m in rec["mismatches"]]
    ('7', [], [1, 2, 9, 4], [2, 3])
    """
    where = f"{path} item {index}"
    if not isinstance(item, dict):
        raise DataError(f"{where}: expected a dict per question, got {type(item).__name__}")
    missing = [k for k in ("changed_token_indices", "current_response") if k not in item]
    if missing:
        raise DataError(
            f"{where}: lacks {', '.join(missing)} (an AutoJudge important-token item has "
            "changed_token_indices and current_response)"
        )
    final = _ids(item["current_response"], f"{where} current_response")
    mismatches = []
    for j, entry in enumerate(item["changed_token_indices"]):
        at = f"{where} changed_token_indices[{j}]"
        if not isinstance(entry, list | tuple) or len(entry) != 4:
            raise DataError(
                f"{at}: expected (position, important, target token, draft token), got {entry!r:.80}"
            )
        pos, important, target_tok, draft_tok = (_int(v, at) for v in entry)
        if not 0 < pos < len(final):
            raise DataError(f"{at}: position {pos} is outside current_response (length {len(final)})")
        kept = target_tok if important else draft_tok
        if final[pos] != kept:
            raise DataError(
                f"{at}: current_response[{pos}] is {final[pos]}, expected the "
                f"{'target' if important else 'draft'} token {kept} (positions must be absolute "
                "indices into current_response)"
            )
        mismatches.append(
            {
                "position": pos,
                "important": bool(important),
                "target_token": target_tok,
                "draft_token": draft_tok,
            }
        )
    responses = item.get("responses") or []  # kept only with --keep_responses; [0] is the target's greedy
    first = responses[0] if responses else None
    first = first[0] if isinstance(first, tuple) else first
    target_answer = _answer(item, "target", where)
    return {
        "id": item["id"]
        if isinstance(item.get("id"), str)
        else str(_int(item.get("id", index), f"{where} id")),
        "prompt_ids": [],
        "reference_ids": [] if first is None else _ids(first, f"{where} responses[0]"),
        "final_ids": final,
        "target_answer": target_answer,
        "draft_answer": _answer(item, "draft", where),
        "final_answer": target_answer,  # only answer-keeping swaps were applied
        "mismatches": mismatches,
    }


def read_autojudge_file(path: str | Path) -> list[dict[str, Any]]:
    """Read AutoJudge's important-token file (`torch.save` of a list of dicts) as mining records.

    Items marked `skip` (AutoJudge's own `calc_hiddens.py` drops them too) are skipped, counted
    and logged. A dict with a `data` list (a per-process checkpoint of `calc_hiddens.py`) is read
    as that list.

    Usage: records = read_autojudge_file("output/important_tokens.pt")
    """
    data = load_torch_file(path)
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list):
        raise DataError(
            f"{path}: expected a list of AutoJudge important-token dicts, got {type(data).__name__}"
        )
    records, skipped = [], 0
    for i, item in enumerate(data):
        if isinstance(item, dict) and "skip" in item:
            skipped += 1
            continue
        records.append(record_from_autojudge(item, i, path))
    if skipped:
        log.warning("%s: skipped %d of %d items marked 'skip'", path, skipped, len(data))
    return records


def read_mining_file(path: str | Path) -> list[dict[str, Any]]:
    """Mining records from judgerl's mining.jsonl or AutoJudge's important-token .pt file (detected).

    Usage: records = read_mining_file("output/important_tokens.pt")
    """
    from judgerl.autojudge.mining import read_records

    p = Path(path)
    if not p.is_file():
        raise DataError(f"mining file {p} not found")
    if is_torch_file(p):
        return read_autojudge_file(p)
    head = _head(p).lstrip()
    if head and not head.startswith(b"{"):
        # Not JSONL either: refuse before read_records, which would cut a "torn last line" off the file.
        raise DataError(
            f"{p}: neither a judgerl mining.jsonl (JSON lines) nor an AutoJudge torch.save file "
            f"(starts with {head[:8]!r})"
        )
    return read_records(p)

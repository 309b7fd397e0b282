"""What every source loader shares: the result type, row conversion with bad-row policy, pair helpers."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from judgerl.core.errors import DataError
from judgerl.core.types import JudgeSample

OnBadRow = Literal["skip", "stop"]
ON_BAD_ROW_CHOICES: tuple[str, str] = ("skip", "stop")
# Errors a malformed row raises inside a row function; anything else is a bug and propagates.
ROW_ERRORS: tuple[type[BaseException], ...] = (
    KeyError,
    ValueError,
    TypeError,
    IndexError,
    AttributeError,
    DataError,
)
_WARN_FIRST = 5

log = logging.getLogger("judgerl.data")

RowFn = Callable[[int, Any], "JudgeSample | list[JudgeSample]"]


@dataclass(frozen=True)
class BadRow:
    """A placeholder for a row a reader could not even parse (e.g. a broken JSONL line).

    `convert_rows` treats it as a malformed row with `reason`, under the same skip/stop policy.
    """

    reason: str


class NotPairable(Exception):
    """Raised by a row function for a well-formed row that yields no pair (a tie, no correct/incorrect pair).

    Such rows are counted in `LoadResult.not_pairable`, never in `skipped`, and never stop a run.
    """


@dataclass
class LoadResult:
    """The samples a source produced, plus every row it did not turn into a sample and why.

    `skipped` holds malformed rows (index, reason); `not_pairable` holds well-formed rows that
    cannot become a pair (ties, a question with no correct/incorrect solution pair). `formats`
    names the format each file was read as (file -> format), for loaders that detect it.

    >>> LoadResult("llmbar").summary()
    'llmbar: 0 rows, 0 skipped'
    """

    source: str
    samples: list[JudgeSample] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    not_pairable: list[tuple[int, str]] = field(default_factory=list)
    formats: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.samples)

    def summary(self) -> str:
        """One line for a log: "llmbar: 419 rows, 0 skipped" (plus the not-pairable count and notes when any)."""
        text = f"{self.source}: {len(self.samples)} rows, {len(self.skipped)} skipped"
        if self.not_pairable:
            text += f", {len(self.not_pairable)} not pairable"
        if self.notes:
            text += f" ({'; '.join(self.notes)})"
        return text

    def extend(self, other: LoadResult, prefix: str = "") -> None:
        """Append another result's rows; `prefix` marks where its skipped/not-pairable indices count from.

        Usage: total.extend(part, prefix="Natural.json")
        """
        tag = f"{prefix}: " if prefix else ""
        self.samples.extend(other.samples)
        self.skipped.extend((i, f"{tag}{reason}") for i, reason in other.skipped)
        self.not_pairable.extend((i, f"{tag}{reason}") for i, reason in other.not_pairable)
        self.formats.update(other.formats)
        self.notes.extend(other.notes)


def check_on_bad_row(on_bad_row: str) -> None:
    """Raise ValueError unless `on_bad_row` is "skip" or "stop". Usage: check_on_bad_row(spec_value)."""
    if on_bad_row not in ON_BAD_ROW_CHOICES:
        raise ValueError(f"on_bad_row must be one of {list(ON_BAD_ROW_CHOICES)}, got {on_bad_row!r}")


def describe_error(exc: BaseException) -> str:
    """A short reason for a row error. Usage: describe_error(KeyError("label")) -> "missing field 'label'"."""
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}" if exc.args else "missing field"
    return str(exc) or type(exc).__name__


def convert_rows(
    source: str,
    rows: Iterable[Any],
    row_fn: RowFn,
    on_bad_row: OnBadRow = "stop",
) -> LoadResult:
    """Turn raw rows into JudgeSamples with `row_fn(index, row)`; bad rows are recorded or stop the load.

    `row_fn` returns one sample or a list of samples, raises NotPairable for a well-formed row
    without a pair, and raises one of ROW_ERRORS for a malformed row. With on_bad_row="skip" a
    malformed row lands in `skipped` (and a warning is logged); with "stop" a DataError names the
    source, the row index and the reason. A repeated sample id is a malformed row too.

    Usage: result = convert_rows("mydata", rows, lambda i, r: JudgeSample.from_dict(r), "skip")
    """
    check_on_bad_row(on_bad_row)
    result = LoadResult(source)
    seen: dict[str, int] = {}
    for index, row in enumerate(rows):
        try:
            if isinstance(row, BadRow):
                raise DataError(row.reason)
            produced = row_fn(index, row)
            samples = produced if isinstance(produced, list) else [produced]
            row_ids: set[str] = set()
            for sample in samples:
                if sample.id in seen or sample.id in row_ids:
                    first = seen.get(sample.id, index)
                    raise DataError(f"duplicate id {sample.id!r} (first seen at row {first})")
                row_ids.add(sample.id)
        except NotPairable as exc:
            result.not_pairable.append((index, str(exc)))
            continue
        except ROW_ERRORS as exc:
            reason = describe_error(exc)
            if on_bad_row == "stop":
                raise DataError(
                    f"{source}: row {index}: {reason} (set on_bad_row: skip to skip bad rows)"
                ) from exc
            result.skipped.append((index, reason))
            continue
        for sample in samples:
            seen[sample.id] = index
        result.samples.extend(samples)
    if result.skipped:
        first = ", ".join(str(i) for i, _ in result.skipped[:_WARN_FIRST])
        more = ", ..." if len(result.skipped) > _WARN_FIRST else ""
        log.warning(
            "%s: skipped %d bad rows (indices %s%s); first reason: %s",
            source,
            len(result.skipped),
            first,
            more,
            result.skipped[0][1],
        )
    return result


def seeded_flip(seed: int, key: str) -> bool:
    """A deterministic coin flip for one row: the same (seed, key) always gives the same answer.

    A per-row hash (not a global RNG) keeps a row's position stable when rows are filtered or
    reordered, and across processes (unlike Python's salted `hash`).

    >>> seeded_flip(0, "row-1") == seeded_flip(0, "row-1")
    True
    """
    digest = hashlib.sha256(f"{seed}\x1f{key}".encode()).digest()
    return bool(digest[0] & 1)


def make_pair(
    *,
    sample_id: str,
    source: str,
    conversation: list[dict[str, str]],
    chosen: str,
    rejected: str,
    chosen_first: bool = True,
    strength: int | None = None,
    subset: str = "",
    metadata: dict[str, Any] | None = None,
) -> JudgeSample:
    """A JudgeSample from a chosen/rejected pair; `strength` is unsigned (1..3) or None.

    `chosen_first=False` puts the chosen response in position (b); label and strength sign follow.
    Usage: make_pair(sample_id="x", source="s", conversation=conv, chosen=c, rejected=r, chosen_first=False)
    """
    if strength is not None and not (isinstance(strength, int) and 1 <= strength <= 3):
        raise ValueError(f"strength must be an unsigned int in 1..3 here, got {strength!r}")
    meta = dict(metadata or {})
    meta["chosen_position"] = "a" if chosen_first else "b"
    return JudgeSample(
        id=sample_id,
        source=source,
        conversation=conversation,
        response_a=chosen if chosen_first else rejected,
        response_b=rejected if chosen_first else chosen,
        label="a" if chosen_first else "b",
        strength=None if strength is None else (-strength if chosen_first else strength),
        subset=subset,
        metadata=meta,
    )


def flip_positions(sample: JudgeSample) -> JudgeSample:
    """The same sample with the responses exchanged (label and strength follow).

    Unlike `JudgeSample.swapped`, this does not mark the order as 'ba': it is how a source lays
    out its pair, not the second order of an evaluation. Usage: flip_positions(sample).
    """
    meta = dict(sample.metadata)
    if "chosen_position" in meta:
        meta["chosen_position"] = "b" if meta["chosen_position"] == "a" else "a"
    else:
        meta["position_flipped"] = not meta.get("position_flipped", False)
    return dataclasses.replace(
        sample,
        response_a=sample.response_b,
        response_b=sample.response_a,
        label="b" if sample.label == "a" else "a",
        strength=None if sample.strength is None else -sample.strength,
        metadata=meta,
    )


def user_turn(text: Any) -> list[dict[str, str]]:
    """A single-user-turn conversation from a question string. Usage: user_turn("2+2?")."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"question must be a non-empty string, got {_preview(text)}")
    return [{"role": "user", "content": text}]


def as_conversation(value: Any) -> list[dict[str, str]]:
    """Validate a list of chat messages ({role, content} strings) and return plain-dict copies.

    Usage: as_conversation([{"role": "user", "content": "hi"}])
    """
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError(f"conversation must be a non-empty list of messages, got {_preview(value)}")
    messages = []
    for i, message in enumerate(value):
        if not isinstance(message, dict):
            raise ValueError(f"conversation message {i} is not an object: {_preview(message)}")
        role, content = message.get("role"), message.get("content")
        if not isinstance(role, str) or not isinstance(content, str):
            raise ValueError(f"conversation message {i} needs string 'role' and 'content'")
        messages.append({"role": role, "content": content})
    if messages[-1]["role"] != "user":
        raise ValueError(f"conversation must end with a user turn, ends with {messages[-1]['role']!r}")
    return messages


def as_text(value: Any, what: str) -> str:
    """`value` if it is a string, else ValueError naming `what`. Usage: as_text(row["chosen"], "chosen")."""
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string, got {_preview(value)}")
    return value


def _preview(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."

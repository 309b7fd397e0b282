"""Row functions for tabular rows: judgerl's own row format, or a mapping of judgerl fields to columns.

A mapped label column is read as 'a'/'b' (any case), or through a `label_map` of cell values
({1: a, 2: b}, {"A>B": a, "B>A": b}, {output_1: a, output_2: b}); a mapped strength column as a
signed int, or through a `strength_map`, and with `strength_sign: unsigned` as a size 1..3 whose
sign follows the label. Map keys match cells by value: 1, 1.0 and "1" are the same key, and
string keys match in any case.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any, Literal

from judgerl.core.types import LABELS, JudgeSample, sample_id
from judgerl.data_prep.sources.base import (
    RowFn,
    as_conversation,
    as_text,
    flip_positions,
    seeded_flip,
    user_turn,
)

# judgerl field -> what the mapped file column must hold
MAPPABLE_FIELDS: dict[str, str] = {
    "id": "any scalar (default: '<source>-<row index>')",
    "question": "a string, becomes a single user turn",
    "conversation": "a list of {role, content} messages ending with a user turn",
    "response_a": "a string",
    "response_b": "a string",
    "label": "'a' or 'b' (case-insensitive), or any values given a label_map",
    "strength": "a signed int in -3..3 (negative: (a) better), or null; or values given a strength_map",
    "subset": "a string",
    "metadata": "an object",
}


StrengthSign = Literal["signed", "unsigned"]
_INTEGRAL = re.compile(r"^\s*[+-]?\d{1,18}(\.0*)?\s*$")


def map_key(value: Any) -> str:
    """The key a cell value matches in a label or strength map: 1, 1.0 and "1" are "1"; text is lower-cased.

    >>> map_key(2.0), map_key("2.0"), map_key(" A>B "), map_key("output_1")
    ('2', '2', 'a>b', 'output_1')
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(f"{value!r} cannot be a label or strength value")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str) and _INTEGRAL.match(value):
        return str(int(float(value)))
    if isinstance(value, (str, float)):
        return str(value).strip().lower()
    raise ValueError(f"{type(value).__name__} {value!r} cannot be a label or strength value")


def normalize_map(mapping: Mapping[Any, Any], what: str) -> dict[str, Any]:
    """A value map keyed by `map_key`; two keys that match the same cells must agree.

    Usage: normalize_map({1: "a", 2: "b"}, "label_map")
    """
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        k = map_key(key)
        if k in out and out[k] != value:
            raise ValueError(f"{what}: keys matching {k!r} map to both {out[k]!r} and {value!r}")
        out[k] = value
    return out


def parse_label(value: Any, label_map: Mapping[str, str] | None = None) -> str:
    """'a' or 'b' from a label cell: through `label_map` (normalized by `normalize_map`), else 'a'/'b' in any case.

    Usage: parse_label(" A "), parse_label(2, {"1": "a", "2": "b"})
    """
    if label_map is not None:
        key = map_key(value)
        if key not in label_map:
            raise ValueError(f"label {value!r} is not a key of label_map (keys: {sorted(label_map)})")
        return label_map[key]
    if isinstance(value, str) and value.strip().lower() in LABELS:
        return value.strip().lower()
    raise ValueError(f"label must be 'a' or 'b' (give a label_map for other values), got {value!r}")


def mapped_strength(
    value: Any, label: str, strength_map: Mapping[str, int] | None = None, sign: StrengthSign = "signed"
) -> int | None:
    """A strength cell as the signed strength of a sample with `label` (None: unknown).

    Usage: mapped_strength(2, "a", sign="unsigned") -> -2
    """
    if strength_map is not None and value is not None:
        key = map_key(value)
        if key not in strength_map:
            raise ValueError(
                f"strength {value!r} is not a key of strength_map (keys: {sorted(strength_map)})"
            )
        value = strength_map[key]
    strength = parse_strength(value)
    if strength is None or sign == "signed":
        return strength
    if not 1 <= strength <= 3:
        raise ValueError(f"an unsigned strength must be 1, 2 or 3, got {strength}")
    return -strength if label == "a" else strength


def parse_strength(value: Any) -> int | None:
    """A signed strength from a cell: int, integral float, or null/NaN (unknown). Usage: parse_strength(-2.0).

    Range and agreement with the label are checked by JudgeSample itself.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool):
        raise ValueError(f"strength must be an int in -3..3, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise ValueError(f"strength must be an int in -3..3, got {value!r}")


def check_columns(
    columns: Mapping[str, str], label: str | None, label_map: Mapping[str, str] | None = None
) -> None:
    """Raise ValueError unless `columns` (judgerl field -> column) plus a constant `label` is complete.

    Usage: check_columns({"question": "prompt", "response_a": "chosen", "response_b": "rejected"}, "a")
    """
    unknown = sorted(set(columns) - set(MAPPABLE_FIELDS))
    if unknown:
        raise ValueError(f"unknown judgerl field(s) {unknown} in columns; known: {sorted(MAPPABLE_FIELDS)}")
    if ("question" in columns) == ("conversation" in columns):
        raise ValueError("columns must map exactly one of 'question' or 'conversation'")
    missing = [f for f in ("response_a", "response_b") if f not in columns]
    if missing:
        raise ValueError(f"columns must map {missing}")
    if ("label" in columns) == (label is not None):
        raise ValueError(
            "give the label either as a column (columns['label']) or as a constant (label='a'), not both or neither"
        )
    if label is not None:
        parse_label(label)
    if label_map is not None:
        if "label" not in columns:
            raise ValueError("label_map needs a label column (columns['label'])")
        bad = {k: v for k, v in label_map.items() if v not in LABELS}
        if bad:
            raise ValueError(f"label_map values must be 'a' or 'b', got {bad}")


def judgerl_row_fn(source: str, swap_seed: int | None = None) -> RowFn:
    """Row function for judgerl's own JSONL row format (JudgeSample.to_dict). Usage: judgerl_row_fn("mydata").

    A row without a `source` gets `source`. With `swap_seed`, each row's positions are flipped
    by a seeded per-id coin (label and strength follow).
    """

    def row_fn(index: int, row: Any) -> JudgeSample:
        if not isinstance(row, dict):
            raise TypeError(f"row must be an object, got {type(row).__name__}")
        row = {**row, "strength": parse_strength(row.get("strength"))}
        if not row.get("source"):
            row["source"] = source
        sample = JudgeSample.from_dict(row)
        as_conversation(sample.conversation)
        for field in ("response_a", "response_b"):
            as_text(row[field], field)
        return _maybe_flip(sample, swap_seed)

    return row_fn


def mapped_row_fn(
    columns: Mapping[str, str],
    source: str,
    label: str | None = None,
    swap_seed: int | None = None,
    *,
    label_map: Mapping[Any, str] | None = None,
    strength_map: Mapping[Any, int] | None = None,
    strength_sign: StrengthSign = "signed",
) -> RowFn:
    """Row function for rows whose columns are named by `columns` (judgerl field -> column name).

    `label` is a constant label when the file has no label column (a chosen/rejected file mapped
    as response_a=chosen, response_b=rejected uses label="a"); with `swap_seed` each row's
    positions are flipped by a seeded per-id coin so not every label is 'a'. `label_map` and
    `strength_map` read other label and strength values (see the module docstring).

    Usage: mapped_row_fn({"question": "prompt", "response_a": "chosen", "response_b": "rejected"}, "mine", label="a", swap_seed=0)
    """
    labels = None if label_map is None else normalize_map(label_map, "label_map")
    strengths = None if strength_map is None else normalize_map(strength_map, "strength_map")
    check_columns(columns, label, labels)
    if strengths is not None and "strength" not in columns:
        raise ValueError("strength_map needs a strength column (columns['strength'])")
    mapping = dict(columns)

    def row_fn(index: int, row: Any) -> JudgeSample:
        if not isinstance(row, dict):
            raise TypeError(f"row must be an object, got {type(row).__name__}")

        def cell(field: str) -> Any:
            name = mapping[field]
            if name not in row:
                raise KeyError(name)
            return row[name]

        if "question" in mapping:
            conversation = user_turn(cell("question"))
        else:
            conversation = as_conversation(cell("conversation"))
        metadata = cell("metadata") if "metadata" in mapping else {}
        if metadata is None:
            metadata = {}
        if not isinstance(metadata, dict):
            raise ValueError(f"metadata must be an object, got {type(metadata).__name__}")
        chosen_label = parse_label(cell("label"), labels) if "label" in mapping else parse_label(label)
        strength = None
        if "strength" in mapping:
            strength = mapped_strength(cell("strength"), chosen_label, strengths, strength_sign)
        sample = JudgeSample(
            id=sample_id(cell("id")) if "id" in mapping else f"{source}-{index:05d}",
            source=source,
            conversation=conversation,
            response_a=as_text(cell("response_a"), "response_a"),
            response_b=as_text(cell("response_b"), "response_b"),
            label=chosen_label,  # type: ignore[arg-type]
            strength=strength,
            subset=as_text(cell("subset"), "subset") if "subset" in mapping else "",
            metadata=dict(metadata),
        )
        return _maybe_flip(sample, swap_seed)

    return row_fn


def _maybe_flip(sample: JudgeSample, swap_seed: int | None) -> JudgeSample:
    if swap_seed is not None and seeded_flip(swap_seed, sample.id):
        return flip_positions(sample)
    return sample

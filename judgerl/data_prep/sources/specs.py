"""Typed source specs: one pydantic model per source kind, validated when a recipe is validated.

A recipe names a source as a mapping with a `kind` (`{kind: synthetic, n_train: 4000}`). The
`SourceMapping` field type checks it against its kind's model as the recipe loads (so
`n_test: 0` is reported as `stages.data.source.n_test` by `judgerl validate`, not by a failing
stage) and keeps the mapping as written; `load_source` validates it again and passes the keys
that were given to the kind's loader. Importing this module loads no torch and no datasets.
A recipe names kinds that have a spec model (register a new kind's model with
`SOURCE_SPECS.add(kind, Model)` beside its loader); `load_source` checks a kind registered with a
loader only against the loader's signature.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)

from judgerl.core.config import StrictModel
from judgerl.core.registry import Registry
from judgerl.data_prep.sources.base import OnBadRow
from judgerl.data_prep.sources.columns import StrengthSign, check_columns, normalize_map
from judgerl.data_prep.sources.formats import AUTO, FORMATS
from judgerl.data_prep.sources.local import MAPPED
from judgerl.data_prep.sources.presets import PRESETS
from judgerl.data_prep.sources.rewardbench import V1_HUB, V1_SPLIT, V2_HUB, V2_SPLIT

Label = Literal["a", "b"]
MapKey = str | int | float


class SourceSpec(StrictModel):
    """The keys every source spec has: its `kind`. Loaders get the other keys that were given."""

    kind: str

    def loader_options(self) -> dict[str, Any]:
        """The loader's keyword arguments: the keys given (by field name) plus any extra options.

        Usage: SOURCE_LOADERS[spec.kind](**spec.loader_options())
        """
        options = self.model_dump(exclude_unset=True, exclude={"kind"})
        options.update(self.model_extra or {})
        return options


class SyntheticSpec(SourceSpec):
    """`synthetic`: the built-in addition task. `seed` defaults to the recipe's seed in a `prep` stage."""

    kind: Literal["synthetic"] = "synthetic"
    n_train: int = Field(4000, ge=1)
    n_test: int = Field(200, ge=1)
    seed: int | None = None
    split: Literal["train", "test"] = "train"


class _FileSpec(SourceSpec):
    on_bad_row: OnBadRow = "stop"


class LocalSpec(_FileSpec):
    """`local`: a file or folder in a detected (`format: auto`), named, or mapped (`columns`) format."""

    kind: Literal["local"] = "local"
    path: str = Field(min_length=1)
    format: str = AUTO
    label: Label | None = None
    label_map: dict[MapKey, Label] | None = None
    strength_map: dict[MapKey, int] | None = None
    columns: dict[str, str] | None = None  # after label and label_map: its check reads them
    strength_sign: StrengthSign = "signed"
    swap_seed: int | None = None
    source_name: str | None = None

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if value not in (AUTO, MAPPED, *FORMATS):
            raise ValueError(f"unknown format {value!r}; expected one of: {', '.join([AUTO, *FORMATS])}")
        return value

    @field_validator("strength_map")
    @classmethod
    def _strengths_in_range(cls, value: dict[MapKey, int] | None) -> dict[MapKey, int] | None:
        bad = {k: v for k, v in (value or {}).items() if not -3 <= v <= 3 or v == 0}
        if bad:
            raise ValueError(f"strength_map values must be in -3..-1 or 1..3, got {bad}")
        return value

    @field_validator("columns")
    @classmethod
    def _mapping_is_complete(
        cls, value: dict[str, str] | None, info: ValidationInfo
    ) -> dict[str, str] | None:
        if value is None:
            return value
        if info.data.get("format", AUTO) not in (AUTO, MAPPED):
            raise ValueError(f"give either format ({info.data['format']!r}) or columns, not both")
        label_map = info.data.get("label_map")
        check_columns(
            value,
            info.data.get("label"),
            None if label_map is None else normalize_map(label_map, "label_map"),
        )
        return value

    @model_validator(mode="after")
    def _mapping_keys_need_columns(self) -> LocalSpec:
        if self.columns is None and (self.label, self.label_map, self.strength_map) != (None, None, None):
            raise ValueError("label, label_map and strength_map need a column mapping (columns)")
        return self


class LLMBarSpec(_FileSpec):
    """`llmbar`: a file or folder of LLMBar-format files (`path`, or `dir_path` as before)."""

    kind: Literal["llmbar"] = "llmbar"
    path: str = Field(min_length=1, validation_alias=AliasChoices("path", "dir_path"))
    subsets: list[str] | None = None


class GSM8KSpec(_FileSpec):
    """`gsm8k`: OpenAI's GSM8K example_model_solutions.jsonl, correct vs incorrect solutions."""

    kind: Literal["gsm8k"] = "gsm8k"
    path: str = Field(min_length=1)
    pairs_per_question: int = Field(1, ge=1)
    seed: int = 0


class HubSpec(_FileSpec):
    """`hub`: a Hugging Face dataset by a preset or a column mapping; other keys go to `datasets.load_dataset`."""

    model_config = ConfigDict(extra="allow", validate_assignment=True)
    kind: Literal["hub"] = "hub"
    name: str = Field(min_length=1)
    split: str = Field(min_length=1)
    preset: Literal[tuple(PRESETS)] | None = None  # type: ignore[valid-type]
    label: Label | None = None
    columns: dict[str, str] | None = None
    swap_seed: int | None = 0
    source_name: str | None = None

    @field_validator("columns")
    @classmethod
    def _mapping_is_complete(
        cls, value: dict[str, str] | None, info: ValidationInfo
    ) -> dict[str, str] | None:
        if value is not None:
            check_columns(value, info.data.get("label"))
        return value

    @model_validator(mode="after")
    def _preset_or_mapping(self) -> HubSpec:
        if self.preset is not None and (self.columns is not None or self.label is not None):
            raise ValueError("give either a preset or a column mapping (columns/label), not both")
        return self


class RewardBenchSpec(_FileSpec):
    """`rewardbench`: RewardBench v1 from the hub or a local file; other keys go to `datasets.load_dataset`."""

    model_config = ConfigDict(extra="allow", validate_assignment=True)
    kind: Literal["rewardbench"] = "rewardbench"
    path: str = Field(V1_HUB, min_length=1)
    split: str = Field(V1_SPLIT, min_length=1)
    subsets: list[str] | None = None
    source_name: str = "reward-bench"


class RewardBench2Spec(RewardBenchSpec):
    """`rewardbench2`: RewardBench 2 as pairs (every correct against every incorrect response)."""

    kind: Literal["rewardbench2"] = "rewardbench2"  # type: ignore[assignment]
    path: str = Field(V2_HUB, min_length=1)
    split: str = Field(V2_SPLIT, min_length=1)
    source_name: str = "reward-bench-2"


class JudgeBenchSpec(_FileSpec):
    """`judgebench`: a JudgeBench file (pair_id, question, response_A, response_B, label A>B|B>A)."""

    kind: Literal["judgebench"] = "judgebench"
    path: str = Field(min_length=1)


class RMBenchSpec(_FileSpec):
    """`rmbench`: an RM-Bench file (id, prompt, chosen and rejected of three responses, domain)."""

    kind: Literal["rmbench"] = "rmbench"
    path: str = Field(min_length=1)


class _AnySpec(SourceSpec):
    """A kind registered without a spec model: its options are checked against the loader when it loads."""

    model_config = ConfigDict(extra="allow")


SOURCE_SPECS: Registry[type[SourceSpec]] = Registry("source spec")
for _spec in (
    SyntheticSpec,
    LocalSpec,
    LLMBarSpec,
    GSM8KSpec,
    HubSpec,
    RewardBenchSpec,
    RewardBench2Spec,
    JudgeBenchSpec,
    RMBenchSpec,
):
    SOURCE_SPECS.add(_spec.model_fields["kind"].default, _spec)


def parse_source_spec(value: Any, extra_kinds: tuple[str, ...] = ()) -> SourceSpec:
    """The typed spec of a source mapping; a pydantic ValidationError names the bad key (`n_test`, `kind`).

    `extra_kinds` are kinds registered without a spec model (accepted as they are).

    Usage: spec = parse_source_spec({"kind": "synthetic", "n_test": 50})
    """
    if isinstance(value, SourceSpec):
        return value
    if not isinstance(value, Mapping):
        raise ValueError(f"a source must be a mapping with a 'kind', got {value!r}")
    kind = value.get("kind")
    if kind in SOURCE_SPECS:
        return SOURCE_SPECS[kind].model_validate(dict(value))
    if kind in extra_kinds:
        return _AnySpec.model_validate(dict(value))
    known = tuple(sorted({*SOURCE_SPECS.names(), *extra_kinds}))
    kinds = create_model("SourceKind", __config__=ConfigDict(extra="allow"), kind=(Literal[known], ...))
    kinds.model_validate(dict(value))  # raises with the location `kind`
    raise AssertionError("unreachable: an unknown kind fails the validation above")


def _checked_mapping(value: Any) -> Any:
    parse_source_spec(value)
    return dict(value)


# A stage key holding a source mapping: validated against its kind's spec, kept as written.
SourceMapping = Annotated[dict[str, Any], BeforeValidator(_checked_mapping)]


def _path_or_mapping(value: Any) -> Any:
    if isinstance(value, Mapping):
        return _checked_mapping(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a file path or a source mapping with a 'kind', got {value!r}")
    return value


# A stage key that is a file path or a source mapping (the `data` of eval, rewardbench, distill): a
# mapping is validated against its kind's spec, errors named by the mapping's own keys.
PathOrSource = Annotated[str | dict[str, Any], BeforeValidator(_path_or_mapping)]

"""The judge spec: how a judge is spoken to (prompt), how its verdict is read (verdict format), and how a
reading becomes a reward or counts in a benchmark (rules). One typed object, validated when loaded,
saved as `judge_spec.json` beside every judge checkpoint (docs/judge_specs.md).

Torch-free and light: recipe validation imports it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from judgerl.core.config import StrictModel
from judgerl.judge_spec.templates import Template, parse_blocks

Mode = Literal["pairwise", "pointwise"]
PAIRWISE_FIELDS = frozenset({"question", "response_a", "response_b", "reference", "hint", "winner", "loser"})
POINTWISE_FIELDS = frozenset({"question", "response", "reference"})
HINT_FIELDS = frozenset({"winner", "loser"})
SPEC_VERSION = 1

# a verdict format preset fills the keys a user leaves out
_FORMAT_PRESETS: dict[str, dict[str, Any]] = {
    # judgerl's lenient reader (judge_spec/parser.py): the last verdict sentence after </think>
    "judgerl": {"region": "after_think", "match": "last"},
    # MT-Bench / RewardBench style: [[A]], [[B]], [[C]] for a tie
    "mtbench": {
        "pattern": r"\[\[(?P<choice>[ABC])\]\]",
        "choices": {"a": ["A"], "b": ["B"], "tie": ["C"]},
        "ties": True,
        "sentences": {"a": "[[A]]", "b": "[[B]]", "tie": "[[C]]"},
    },
    # Think-J's own strict reading of its strength verdict (its GRPO reward): the exact sentence,
    # the first match anywhere in the completion, the strength in double brackets
    "thinkj": {
        "pattern": r"Therefore, Response \((?P<choice>[ab])\) is better, and the strength is "
        r"\[\[(?P<strength>\d+)\]\]\.",
        "region": "anywhere",
        "match": "first",
        "strength": "required",
        "sentences": {
            "a": "Therefore, Response (a) is better, and the strength is [[{strength}]].",
            "b": "Therefore, Response (b) is better, and the strength is [[{strength}]].",
        },
    },
    # a 0-10 score in its slot: the last non-empty line is the number ("8", "Score: 8", "[[8]]", "8/10")
    "score": {
        "pattern": r"(?i)^\s*(?:score\s*[:=]?\s*)?(?:\[\[\s*)?(?P<score>[+-]?\d{1,6}(?:\.\d{1,6})?)"
        r"(?:\s*/\s*10)?(?:\s*\]\])?\s*\.?\s*$",
        "slot": "last_line",
    },
    # the seed's (Demystifying) reading: the first number anywhere after </think> - an echoed
    # number in the reply becomes the score, so it is not judgerl's default
    "first_number": {"pattern": r"(?P<score>[+-]?\d{1,6}(?:\.\d{1,6})?)", "match": "first"},
}
FORMATS = (*_FORMAT_PRESETS, "pattern")
_SCORE_FORMATS = ("score", "first_number")


class PromptTemplate(StrictModel):
    """The prompt: an optional system message and a user turn with named fields.

    `user` is one string or a list of blocks joined by `separator`; a block whose fields all render
    empty is left out. `critic_user` is the user turn of a hinted (critic) prompt; without it the
    critic gets `user` with `{hint}` filled from `hint` ({winner} / {loser}: the label names of
    `labels`). `aliases` renames fields (a Think-J template's `{instruction}` is `question`). `raw`
    sends the text without a chat template (system, then user, joined by `separator`); `truncate`
    cuts a field to its first N characters.
    """

    system: str | None = None
    user: str | list[str]
    critic_user: str | list[str] | None = None
    separator: str = "\n\n"
    hint: str = (
        "Given that Response ({winner}) is better than Response ({loser}), explain why and give your verdict."
    )
    labels: dict[str, str] = Field(default_factory=lambda: {"a": "a", "b": "b"})
    aliases: dict[str, str] = Field(default_factory=dict)
    raw: bool = False
    truncate: dict[str, int] = Field(default_factory=dict)

    @field_validator("labels")
    @classmethod
    def _two_labels(cls, value: dict[str, str]) -> dict[str, str]:
        if set(value) != {"a", "b"}:
            raise ValueError(f"labels must name exactly 'a' and 'b', got {sorted(value)}")
        return value

    @field_validator("truncate")
    @classmethod
    def _positive_lengths(cls, value: dict[str, int]) -> dict[str, int]:
        bad = {k: v for k, v in value.items() if v < 1}
        if bad:
            raise ValueError(f"truncate lengths must be >= 1 character, got {bad}")
        return value

    def known_fields(self, mode: Mode) -> frozenset[str]:
        """Field names a template of this mode may use, aliases included. Usage: p.known_fields("pairwise")"""
        base = PAIRWISE_FIELDS if mode == "pairwise" else POINTWISE_FIELDS
        return base | frozenset(self.aliases)

    def check(self, mode: Mode) -> None:
        """Parse every template against the mode's fields (ValueError names the template and field)."""
        base = PAIRWISE_FIELDS if mode == "pairwise" else POINTWISE_FIELDS
        bad_alias = {k: v for k, v in self.aliases.items() if v not in base}
        if bad_alias:
            raise ValueError(
                f"aliases must point at fields of a {mode} prompt ({', '.join(sorted(base))}): {bad_alias}"
            )
        bad_cut = sorted(set(self.truncate) - base)
        if bad_cut:
            raise ValueError(f"truncate names unknown field(s) {bad_cut} (fields: {', '.join(sorted(base))})")
        known = self.known_fields(mode)
        for where, text in (("system", self.system), ("user", self.user), ("critic_user", self.critic_user)):
            if text is None:
                continue
            try:
                parse_blocks(text, known)
            except ValueError as e:
                raise ValueError(f"prompt.{where}: {e}") from None
        try:
            Template.parse(self.hint, HINT_FIELDS)
        except ValueError as e:
            raise ValueError(f"prompt.hint: {e}") from None
        if mode == "pointwise" and self.critic_user is not None:
            raise ValueError("prompt.critic_user: a pointwise prompt has no critic form")


class VerdictFormat(StrictModel):
    """How a completion is read. `format` names a preset (judgerl, mtbench, thinkj, score, first_number)
    or `pattern` (your own RE2 pattern with (?P<choice>), (?P<strength>), (?P<score>) groups); the
    preset fills every key you leave out.

    `region`: after the last `</think>` or anywhere; `match`: which match counts (last, first, or
    choice_order: the first verdict of `choices` found anywhere, as RewardBench's script reads);
    `choices`: the group texts of each verdict; `ties`: whether a tie is a verdict; `strength`: none,
    optional or required, valid in `strength_range`; `score_range` and `out_of_range` (clamp or
    fail) for scores; `slot`: where a score may stand (the whole region or its last line);
    `sentences`: the verdict texts a judge writes (SFT targets, log-probability candidates), with
    `{strength}`; `thinking`: the judge reasons in <think>...</think> before its verdict.
    """

    format: Literal["judgerl", "mtbench", "thinkj", "score", "first_number", "pattern"] = "judgerl"
    pattern: str | None = None
    choices: dict[str, list[str]] = Field(default_factory=lambda: {"a": ["a", "A"], "b": ["b", "B"]})
    region: Literal["after_think", "anywhere"] = "after_think"
    match: Literal["last", "first", "choice_order"] = "last"
    ties: bool = False
    strength: Literal["none", "optional", "required"] = "optional"
    strength_range: tuple[int, int] = (1, 3)
    score_range: tuple[float, float] = (0.0, 10.0)
    out_of_range: Literal["clamp", "fail"] = "clamp"
    slot: Literal["region", "last_line"] = "region"
    sentences: dict[str, str] | None = None
    thinking: bool = True

    @model_validator(mode="before")
    @classmethod
    def _fill_preset(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("format", "judgerl") in _FORMAT_PRESETS:
            return {**_FORMAT_PRESETS[data.get("format", "judgerl")], **data}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> VerdictFormat:
        from judgerl.judge_spec.patterns import VerdictPattern

        if self.format == "judgerl":
            if self.pattern is not None:
                raise ValueError(
                    "format: judgerl reads with judgerl's own parser; give format: pattern for a pattern"
                )
            return self
        if not self.pattern:
            raise ValueError(
                "format: pattern needs a `pattern` (RE2, with a (?P<choice>...) or (?P<score>...) group)"
            )
        unknown = sorted(set(self.choices) - {"a", "b", "tie"})
        if unknown or not {"a", "b"} <= set(self.choices):
            raise ValueError(
                f"choices must name 'a' and 'b' (and 'tie' if ties are read), got {sorted(self.choices)}"
            )
        if self.ties and "tie" not in self.choices:
            raise ValueError("ties: true needs a 'tie' entry in choices (the text that means a tie)")
        order = [self.choices[k] for k in ("a", "b", "tie") if k in self.choices]
        compiled = VerdictPattern(self.pattern, self.match, order)
        groups = set(compiled.compiled.groupindex)
        if self.is_score:
            if "score" not in groups:
                raise ValueError(f"format {self.format}: the pattern needs a (?P<score>...) group")
        elif "choice" not in groups:
            raise ValueError(
                "the pattern needs a (?P<choice>...) group (or a (?P<score>...) group for a score format)"
            )
        if self.strength == "required" and "strength" not in groups and not self.is_score:
            raise ValueError("strength: required needs a (?P<strength>...) group in the pattern")
        lo, hi = self.score_range
        if lo > hi:
            raise ValueError(f"score_range is empty: {lo} > {hi}")
        return self

    @property
    def is_score(self) -> bool:
        """True for a pointwise score format (a score group, no choice). Usage: fmt.is_score"""
        if self.format in _SCORE_FORMATS:
            return True
        return self.format == "pattern" and self.pattern is not None and "(?P<score>" in self.pattern

    @property
    def wants_strength(self) -> bool:
        """True when a verdict must carry a strength. Usage: fmt.wants_strength"""
        return self.strength == "required"


class RewardRules(StrictModel):
    """How a reading becomes a reward. judgerl's defaults pay 0.5 for a right verdict whose strength is
    missing or out of range; Think-J's `reward_strength` pays 0 when the strength is missing (its
    pattern needs [[k]]) and 0.5 when it is out of range (`rules: thinkj`)."""

    wrong: float = 0.0
    unparsed: float = 0.0
    tie: float = 0.0
    missing_strength: float = 0.5
    invalid_strength: float = 0.5
    strength_span: float = Field(8.0, gt=0)


class CountingRules(StrictModel):
    """How a benchmark counts readings beside judgerl's own numbers: credit for an unreadable verdict and
    for a tie (RewardBench's official generative script: 0.5 each), and whether a pair unreadable in both
    orders counts as agreeing (Think-J's RewardBench script)."""

    name: str = "judgerl"
    unparsed_credit: float = Field(0.0, ge=0, le=1)
    tie_credit: float = Field(0.0, ge=0, le=1)
    both_unparsed_agree: bool = False

    @property
    def is_default(self) -> bool:
        """True for judgerl's own counting (nothing to report beside it). Usage: rules.is_default"""
        return self.unparsed_credit == 0 and self.tie_credit == 0 and not self.both_unparsed_agree


RULE_PRESETS: dict[str, dict[str, Any]] = {
    "judgerl": {},
    "thinkj": {"missing_strength": 0.0},
}
COUNTING_PRESETS: dict[str, dict[str, Any]] = {
    "judgerl": {"name": "judgerl"},
    "thinkj": {"name": "thinkj", "both_unparsed_agree": True},
    "rewardbench": {"name": "rewardbench", "unparsed_credit": 0.5, "tie_credit": 0.5},
}


def _preset_or_mapping(value: Any, presets: dict[str, dict[str, Any]], what: str) -> Any:
    if isinstance(value, str):
        if value not in presets:
            raise ValueError(f"unknown {what} preset {value!r} (presets: {', '.join(presets)})")
        return dict(presets[value])
    return value


class JudgeSpec(StrictModel):
    """One judge's dialect: prompt, verdict format, reward rules and counting rules.

    >>> from judgerl.judge_spec.presets import builtin_spec
    >>> builtin_spec("mtbench").verdict.ties
    True
    """

    version: int = SPEC_VERSION
    name: str = "custom"
    description: str = ""
    mode: Mode = "pairwise"
    prompt: PromptTemplate
    verdict: VerdictFormat = Field(default_factory=VerdictFormat)
    reward: RewardRules = Field(default_factory=RewardRules)
    counting: CountingRules = Field(default_factory=CountingRules)

    @field_validator("reward", mode="before")
    @classmethod
    def _reward_preset(cls, value: Any) -> Any:
        return _preset_or_mapping(value, RULE_PRESETS, "reward")

    @field_validator("counting", mode="before")
    @classmethod
    def _counting_preset(cls, value: Any) -> Any:
        return _preset_or_mapping(value, COUNTING_PRESETS, "counting")

    @model_validator(mode="after")
    def _check(self) -> JudgeSpec:
        if self.version != SPEC_VERSION:
            raise ValueError(
                f"version {self.version} is not supported (this judgerl reads version {SPEC_VERSION})"
            )
        self.prompt.check(self.mode)
        if (self.mode == "pointwise") != self.verdict.is_score:
            want = "a score format (score, first_number, or a pattern with (?P<score>...))"
            if self.mode == "pairwise":
                want = "a verdict format with a choice (judgerl, mtbench, thinkj, or a pattern with (?P<choice>...))"
            raise ValueError(f"a {self.mode} spec needs {want}; got format {self.verdict.format!r}")
        return self

    @property
    def wants_strength(self) -> bool:
        """True when the verdict must carry a strength. Usage: spec.wants_strength"""
        return self.verdict.wants_strength

    @property
    def wants_thinking(self) -> bool:
        """True when the judge reasons before its verdict. Usage: spec.wants_thinking"""
        return self.verdict.thinking

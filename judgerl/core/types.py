"""The judge-sample schema and the parsed verdict every stage shares."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Label = Literal["a", "b"]
LABELS: tuple[str, str] = ("a", "b")
Choice = Literal["a", "b", "tie"]  # a verdict may be a tie where the judge spec reads ties
MAX_STRENGTH = 3
# how a judge's verdict is read: parsed from the text it generates, or by comparing the
# log-probabilities of the verdict texts (judgerl.models.logprob_judge)
Scoring = Literal["generate", "logprob"]


def check_scoring(value: str, backend: str, endpoint: Any = None) -> str:
    """A `scoring` key: logprob needs the hf backend (it reads the model's logits), or the openai
    backend with `endpoint.tokenizer` (the server's prompt log-probabilities).

    >>> check_scoring("logprob", "vllm")
    Traceback (most recent call last):
    ...
    ValueError: scoring: 'logprob' needs backend: hf or openai, got backend: vllm

    Usage: check_scoring(stage.scoring, stage.backend, stage.endpoint)   # in a model validator
    """
    if value != "logprob":
        return value
    if backend not in ("hf", "openai"):
        raise ValueError(f"scoring: 'logprob' needs backend: hf or openai, got backend: {backend}")
    if endpoint is not None and not getattr(endpoint, "tokenizer", None):
        raise ValueError(
            "scoring: logprob over an endpoint needs endpoint.tokenizer (the served model's tokenizer, "
            "a folder or hub id) to render the prompt and count its tokens"
        )
    return value


@dataclass(frozen=True)
class JudgeSample:
    """One pairwise judging item.

    `conversation` holds the question as chat messages (the last one is the user's turn).
    `strength` is signed in [-3, 3] (HelpSteer2-Preference convention): negative means (a)
    is better, positive means (b); its magnitude is the target strength. None is unknown.

    >>> s = JudgeSample("x1", "synthetic", [{"role": "user", "content": "2+2?"}], "4", "5", "a", -2)
    >>> s.swapped().label, s.swapped().strength
    ('b', 2)
    """

    id: str
    source: str
    conversation: list[dict[str, str]]
    response_a: str
    response_b: str
    label: Label
    strength: int | None = None
    subset: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.label not in LABELS:
            raise ValueError(f"label must be 'a' or 'b', got {self.label!r}")
        if self.strength is not None:
            if not isinstance(self.strength, int) or isinstance(self.strength, bool):
                raise ValueError(f"strength must be an int in [-3, 3] or None, got {self.strength!r}")
            if not (1 <= abs(self.strength) <= MAX_STRENGTH):
                raise ValueError(f"strength must be in [-3, -1] or [1, 3], got {self.strength}")
            expected = "a" if self.strength < 0 else "b"
            if expected != self.label:
                raise ValueError(
                    f"strength {self.strength} says ({expected}) is better but label is {self.label!r}"
                )
        if not self.conversation or self.conversation[-1].get("role") != "user":
            raise ValueError("conversation must be a non-empty list of messages ending with a user turn")

    @property
    def question(self) -> str:
        """The last user turn: the question being judged."""
        return self.conversation[-1]["content"]

    @property
    def abs_strength(self) -> int | None:
        """The unsigned target strength (1..3), or None when unknown."""
        return None if self.strength is None else abs(self.strength)

    @property
    def order(self) -> str:
        """'ab' for the original order, 'ba' when the responses were swapped."""
        return str(self.metadata.get("order", "ab"))

    def swapped(self) -> JudgeSample:
        """The same item with the responses in the other order (label and strength follow)."""
        meta = dict(self.metadata)
        if self.order == "ab":
            meta["order"] = "ba"
        else:
            meta.pop("order", None)
        return JudgeSample(
            id=self.id,
            source=self.source,
            conversation=self.conversation,
            response_a=self.response_b,
            response_b=self.response_a,
            label="b" if self.label == "a" else "a",
            strength=None if self.strength is None else -self.strength,
            subset=self.subset,
            metadata=meta,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the JSONL row format judgerl writes)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> JudgeSample:
        """Inverse of `to_dict`; raises ValueError/KeyError/TypeError on a malformed row.

        Nothing is coerced to a string: an id must be a non-empty string or an int, the responses
        strings, and every message an object with string `role` and `content`.
        """
        return cls(
            id=sample_id(row["id"]),
            source=_optional_text(row.get("source"), "source"),
            conversation=[_message(i, m) for i, m in enumerate(_listed(row["conversation"]))],
            response_a=_text(row["response_a"], "response_a"),
            response_b=_text(row["response_b"], "response_b"),
            label=row["label"],
            strength=row.get("strength"),
            subset=_optional_text(row.get("subset"), "subset"),
            metadata=_mapping(row.get("metadata"), "metadata"),
        )


def sample_id(value: Any) -> str:
    """A sample id from a cell: a non-empty string, or an int (not a bool); anything else is ValueError.

    >>> sample_id(7), sample_id("x-1")
    ('7', 'x-1')
    """
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        raise ValueError(f"id must be a non-empty string or an integer, got {_short(value)}")
    return str(value)


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string, got {_short(value)}")
    return value


def _optional_text(value: Any, what: str) -> str:
    return "" if value is None else _text(value, what)


def _mapping(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be an object, got {_short(value)}")
    return dict(value)


def _listed(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"conversation must be a list of messages, got {_short(value)}")
    return value


def _message(index: int, message: Any) -> dict[str, str]:
    if not isinstance(message, dict):
        raise ValueError(f"conversation message {index} is not an object: {_short(message)}")
    for key in ("role", "content"):
        if not isinstance(message.get(key), str):
            raise ValueError(
                f"conversation message {index} needs a string {key!r}, got {_short(message.get(key))}"
            )
    return dict(message)


@dataclass(frozen=True)
class Verdict:
    """A parsed verdict: which response won (or "tie", where the judge spec reads ties) and with what
    strength, or why parsing failed.

    >>> Verdict(choice="a", strength=2).ok
    True
    """

    choice: Choice | None
    strength: int | None = None
    reason: str = ""
    thinking: str = ""

    @property
    def ok(self) -> bool:
        """True when a verdict was found."""
        return self.choice is not None


@dataclass(frozen=True)
class Judgement:
    """A judge's completion for one sample in one order, with its parsed verdict."""

    sample_id: str
    order: str
    completion: str
    verdict: Verdict
    label: Label
    strength: int | None = None
    subset: str = ""

    @property
    def correct(self) -> bool:
        """True when the parsed verdict matches the label."""
        return self.verdict.choice == self.label

"""Request and response schemas of the judge server, with the size limits every field obeys.

Unknown keys are rejected (a typo such as `respones_a` is a 422 naming the key, not a silent
default), and types are strict: `true` is not a number and `"yes"` not a boolean. Strings and
lists are capped so one request cannot hold the batcher hostage.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from judgerl.serving.errors import ServeError, validation_message

MAX_TEXT_CHARS = 32_000  # one question or response
MAX_TURNS = 64  # messages in a conversation
MAX_ITEMS = 256  # items in one /get_reward request
MAX_BODY_BYTES = 2_000_000  # the whole request body (checked before parsing)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Message(_Strict):
    """One chat message. Usage: Message(role="user", content="What is 2+2?")."""

    role: Literal["system", "user", "assistant"]
    content: str = Field(max_length=MAX_TEXT_CHARS)


class JudgeRequest(_Strict):
    """POST /v1/judge: a question (or a conversation ending with a user turn) and two responses.

    `both_orders: true` judges the pair as given and swapped in one request (BothOrdersResponse).

    >>> JudgeRequest(question="2+2?", response_a="4", response_b="5").messages()[-1]["content"]
    '2+2?'
    """

    question: str | None = Field(default=None, min_length=1, max_length=MAX_TEXT_CHARS)
    conversation: list[Message] | None = Field(default=None, min_length=1, max_length=MAX_TURNS)
    response_a: str = Field(max_length=MAX_TEXT_CHARS)
    response_b: str = Field(max_length=MAX_TEXT_CHARS)
    both_orders: bool = False

    @model_validator(mode="after")
    def _one_question(self) -> JudgeRequest:
        if (self.question is None) == (self.conversation is None):
            raise ValueError("give exactly one of 'question' or 'conversation'")
        if self.conversation is not None and self.conversation[-1].role != "user":
            raise ValueError("'conversation' must end with a user turn")
        return self

    def messages(self) -> list[dict[str, str]]:
        """The question as chat messages."""
        if self.conversation is not None:
            return [m.model_dump() for m in self.conversation]
        return [{"role": "user", "content": self.question or ""}]

    def swapped(self) -> JudgeRequest:
        """The same pair with response_a and response_b exchanged.

        >>> JudgeRequest(question="q", response_a="x", response_b="y").swapped().response_a
        'y'
        """
        return self.model_copy(update={"response_a": self.response_b, "response_b": self.response_a})


class JudgeResponse(_Strict):
    """The judge's verdict: `verdict` a|b (tie where the judge spec reads ties; None when unparseable),
    `strength` 1..3 or None.

    A server with `--scoring logprob` adds `logprob`: the verdict sentences' log-probabilities
    (`a`, `b`), the `confidence` of the chosen one and the `margin` between them.
    """

    verdict: Literal["a", "b", "tie"] | None
    strength: int | None
    thinking: str
    parsed: bool
    parse_error: str
    completion: str
    logprob: dict[str, Any] | None = Field(default=None, exclude_if=lambda v: v is None)


class BothOrdersResponse(_Strict):
    """POST /v1/judge with `both_orders: true`: the pair judged as given and swapped.

    `orders[0]` is the pair as given, `orders[1]` swapped (its verdict names the slots it was
    shown). `agree` is whether the two verdicts pick the same response (None unless both parsed);
    `verdict` is that response in the request's labels when they agree, else None.

    >>> a = JudgeResponse(verdict="a", strength=None, thinking="", parsed=True, parse_error="", completion="")
    >>> BothOrdersResponse.of(a, a.model_copy(update={"verdict": "b"})).verdict
    'a'
    """

    verdict: Literal["a", "b", "tie"] | None
    agree: bool | None
    orders: list[JudgeResponse]

    @classmethod
    def of(cls, given: JudgeResponse, swapped: JudgeResponse) -> BothOrdersResponse:
        """Both judgements of a pair, and whether (and on which response) they agree."""
        if given.verdict is None or swapped.verdict is None:
            return cls(verdict=None, agree=None, orders=[given, swapped])
        back = {"a": "b", "b": "a"}.get(swapped.verdict, swapped.verdict)  # in the request's labels
        agree = given.verdict == back
        return cls(verdict=given.verdict if agree else None, agree=agree, orders=[given, swapped])


class ScoreRequest(_Strict):
    """POST /v1/score: a response scored 0-10 alone, or against `reference` by the pairwise judge.

    >>> ScoreRequest(question="2+2?", response="4", reference="4").mode
    'reference'
    """

    question: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    response: str = Field(max_length=MAX_TEXT_CHARS)
    reference: str | None = Field(default=None, max_length=MAX_TEXT_CHARS)

    @property
    def mode(self) -> str:
        """'reference' (pairwise against the reference, both orders) or 'pointwise' (0-10 prompt)."""
        return "pointwise" if self.reference is None else "reference"


class ScoreResponse(_Strict):
    """A 0-10 score (None when no judgement could be read) with how it was obtained."""

    score: float | None
    mode: Literal["pointwise", "reference"]
    parsed: bool
    parse_error: str
    details: list[JudgeResponse] | None = None
    completion: str | None = None


def strip_tokens(text: str, tokens: Iterable[str]) -> str:
    """`text` without any run of `tokens` (e.g. a tokenizer's pad and eos strings) at either end.

    Linear in the length of `text`.

    >>> strip_tokens("<pad><pad>Q: 2+2? A: 4</s><pad>", ["<pad>", "</s>"])
    'Q: 2+2? A: 4'
    """
    marks = [t for t in tokens if t]
    start, end, moved = 0, len(text), True
    while moved:
        moved = False
        for t in marks:
            if text.startswith(t, start, end):
                start, moved = start + len(t), True
            if end - start >= len(t) and text.endswith(t, start, end):
                end, moved = end - len(t), True
    return text[start:end]


class RewardRequest(_Strict):
    """POST /get_reward (OpenRLHF remote RM): `query` = prompt + response texts, `prompts` the prompts.

    `prompts` may be left out, as OpenRLHF's first remote-RM client sent only `{"query": [...]}`:
    each query (prompt and response in one text) is then scored as one response. `labels`
    (optional) are reference answers: each response is then judged against its label.

    >>> RewardRequest(query=["Q: 2+2? A: 4"], prompts=["Q: 2+2? A:"]).responses()
    [' 4']
    >>> RewardRequest(query=["Q: 2+2? A: 4"]).responses()
    ['Q: 2+2? A: 4']
    """

    # OpenRLHF sends exactly these keys; unknown ones are still rejected
    query: list[str] = Field(min_length=1, max_length=MAX_ITEMS)
    prompts: list[str] | None = Field(default=None, min_length=1, max_length=MAX_ITEMS)
    labels: list[str | None] | None = Field(default=None, max_length=MAX_ITEMS)

    @model_validator(mode="after")
    def _aligned(self) -> RewardRequest:
        n = len(self.query)
        if self.prompts is not None and len(self.prompts) != n:
            raise ValueError(f"'prompts' has {len(self.prompts)} items for {n} queries")
        if self.labels is not None and len(self.labels) != n:
            raise ValueError(f"'labels' has {len(self.labels)} items for {n} queries")
        for name, values in (("query", self.query), ("prompts", self.prompts), ("labels", self.labels)):
            for i, v in enumerate(values or []):
                if v is not None and len(v) > 2 * MAX_TEXT_CHARS:
                    raise ValueError(f"'{name}'[{i}] has {len(v)} characters (limit {2 * MAX_TEXT_CHARS})")
        for i, (q, p) in enumerate(zip(self.query, self.prompts or [], strict=False)):
            if not q.startswith(p):
                raise ValueError(
                    f"query[{i}] does not start with prompts[{i}]: cannot split off the response"
                )
        return self

    def responses(self) -> list[str]:
        """Each query with its prompt cut off (the policy's response); the whole query without prompts."""
        if self.prompts is None:
            return list(self.query)
        return [q[len(p) :] for q, p in zip(self.query, self.prompts, strict=True)]

    def score_requests(self, strip: Iterable[str] = ()) -> list[ScoreRequest]:
        """One ScoreRequest per query (its response stripped of `strip` tokens at both ends); ServeError
        422 naming the item when one is over a ScoreRequest's limits.

        Usage: items = req.score_requests([tokenizer.pad_token, tokenizer.eos_token])
        """
        marks = list(strip)
        prompts = self.prompts or [""] * len(self.query)
        labels = self.labels or [None] * len(self.query)
        out = []
        for i, (p, r, label) in enumerate(zip(prompts, self.responses(), labels, strict=True)):
            try:
                response = strip_tokens(r, marks)
                out.append(ScoreRequest(question=p or "(no prompt)", response=response, reference=label))
            except ValidationError as err:
                message, _ = validation_message(list(err.errors()))
                raise ServeError(422, f"query[{i}]: {message}", param=f"query[{i}]") from None
        return out


class RewardResponse(_Strict):
    """OpenRLHF's reply shape: `rewards` (0-1 per query), `scores` (the same), `extra_logs`."""

    rewards: list[float]
    scores: list[float]
    extra_logs: dict[str, list[float]]

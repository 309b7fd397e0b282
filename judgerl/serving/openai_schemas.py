"""Request schema of the OpenAI-protocol endpoint `POST /v1/chat/completions` (the fields judgerl serves).

Accepted: model, messages (system / developer / user / assistant; content a string or a list of
text parts), max_tokens (or max_completion_tokens), temperature, top_p, n, stop, stream, seed,
user, and `logprobs: false` or `null` (which some clients send by default; `true` is refused).
Anything else - tools, logprobs, images, penalties - is refused with a 400 that names the field,
rather than silently ignored. Types are strict, as OpenAI's schema states them: `max_tokens: true`
or `stream: "yes"` is a 400, not a 1 or a True.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from judgerl.serving.schemas import MAX_TEXT_CHARS, MAX_TURNS

MAX_CHOICES = 16  # n
MAX_STOPS = 4  # OpenAI's own limit on `stop`


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class TextPart(_Strict):
    """One part of a message's content list; only text is served. Usage: TextPart(type="text", text="hi")"""

    type: Literal["text"]
    text: str = Field(max_length=MAX_TEXT_CHARS)


class ChatMessage(_Strict):
    """One chat message. Usage: ChatMessage(role="user", content="2+2?").text()"""

    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] = Field(max_length=MAX_TEXT_CHARS)
    name: str | None = Field(default=None, max_length=64)

    def text(self) -> str:
        """The content as one string (text parts joined)."""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content)

    def as_template_message(self) -> dict[str, str]:
        """The message as the chat template takes it (`developer` is OpenAI's newer name for `system`)."""
        return {"role": "system" if self.role == "developer" else self.role, "content": self.text()}


class ChatCompletionRequest(_Strict):
    """POST /v1/chat/completions.

    >>> ChatCompletionRequest(model="judge", messages=[{"role": "user", "content": "hi"}], stop="\\n").stops()
    ['\\n']
    """

    model: str = Field(min_length=1, max_length=512)
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_TURNS)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    n: int = Field(default=1, ge=1, le=MAX_CHOICES)
    stop: str | list[str] | None = None
    stream: bool = False
    seed: int | None = Field(default=None, ge=0, lt=2**63)
    user: str | None = Field(default=None, max_length=256)
    logprobs: bool | None = None

    @field_validator("logprobs")
    @classmethod
    def _no_logprobs(cls, value: bool | None) -> bool | None:
        if value:
            raise ValueError("log-probabilities are not served; send false or leave it out")
        return value

    @field_validator("stop")
    @classmethod
    def _stops(cls, value: str | list[str] | None) -> str | list[str] | None:
        stops = [value] if isinstance(value, str) else value or []
        if len(stops) > MAX_STOPS:
            raise ValueError(f"at most {MAX_STOPS} stop sequences, got {len(stops)}")
        if any(not s or len(s) > 256 for s in stops):
            raise ValueError("each stop sequence must be 1 to 256 characters")
        return value

    @model_validator(mode="after")
    def _one_length(self) -> ChatCompletionRequest:
        both = self.max_tokens is not None and self.max_completion_tokens is not None
        if both and self.max_tokens != self.max_completion_tokens:
            raise ValueError("max_tokens and max_completion_tokens disagree; give one")
        return self

    def stops(self) -> list[str]:
        """The stop sequences as a list."""
        return [self.stop] if isinstance(self.stop, str) else list(self.stop or [])

    def length(self) -> int | None:
        """The completion length asked for (max_tokens or max_completion_tokens), None if neither."""
        return self.max_tokens if self.max_tokens is not None else self.max_completion_tokens

"""Prompt templates with named fields: `{question}`, `{response_a}`, ... and `{{` / `}}` for literal braces.

A template is a string or a list of blocks joined by a separator; a block whose fields all render
empty (no hint, no reference) is left out, so one template serves the judge and the critic, with
and without a reference. Only the field names a spec declares are accepted: an unknown `{name}`,
an unclosed `{` or a stray `}` is an error when the spec is loaded, not when a prompt is rendered.
Parsing and rendering are linear in the template's length (one scan, no regular expression).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

Part = tuple[bool, str]  # (is_field, literal text or field name)


@dataclass(frozen=True)
class Template:
    """A parsed template: literal text and field references, in order.

    >>> t = Template.parse("Q: {question} {{x}}", {"question"})
    >>> t.render({"question": "2+2?"})
    'Q: 2+2? {x}'
    >>> t.fields
    ('question',)
    """

    parts: tuple[Part, ...]

    @classmethod
    def parse(cls, text: str, known: set[str] | frozenset[str]) -> Template:
        """Parse `text`, accepting only fields in `known`; ValueError names the problem and its position.

        Usage: Template.parse(spec_text, {"question", "response_a", "response_b"})
        """
        parts: list[Part] = []
        literal: list[str] = []
        i, n = 0, len(text)
        while i < n:
            ch = text[i]
            if ch == "{":
                if i + 1 < n and text[i + 1] == "{":
                    literal.append("{")
                    i += 2
                    continue
                close = text.find("}", i + 1)
                name = text[i + 1 : close] if close >= 0 else ""
                if close < 0 or "{" in name:
                    raise ValueError(f"unclosed '{{' at character {i} (write '{{{{' for a literal brace)")
                if name not in known:
                    raise ValueError(
                        f"unknown field {{{name}}} at character {i} (fields: {', '.join(sorted(known))}; "
                        "write '{{' and '}}' for literal braces)"
                    )
                if literal:
                    parts.append((False, "".join(literal)))
                    literal = []
                parts.append((True, name))
                i = close + 1
            elif ch == "}":
                if i + 1 < n and text[i + 1] == "}":
                    literal.append("}")
                    i += 2
                    continue
                raise ValueError(f"stray '}}' at character {i} (write '}}}}' for a literal brace)")
            else:
                nxt = min((p for p in (text.find("{", i), text.find("}", i)) if p >= 0), default=n)
                literal.append(text[i:nxt])
                i = nxt
        if literal:
            parts.append((False, "".join(literal)))
        return cls(tuple(parts))

    @property
    def fields(self) -> tuple[str, ...]:
        """The field names used, in order of first use. Usage: template.fields"""
        seen: dict[str, None] = {}
        for is_field, value in self.parts:
            if is_field:
                seen.setdefault(value, None)
        return tuple(seen)

    def render(self, values: Mapping[str, str]) -> str:
        """The text with every field replaced by its value (a missing value is KeyError).

        Usage: template.render({"question": q})
        """
        return "".join(values[v] if is_field else v for is_field, v in self.parts)

    def all_fields_empty(self, values: Mapping[str, str]) -> bool:
        """True when the template has fields and every one renders empty. Usage: block.all_fields_empty(v)"""
        names = self.fields
        return bool(names) and all(not values.get(name) for name in names)


def parse_blocks(text: str | Sequence[str], known: set[str] | frozenset[str]) -> tuple[Template, ...]:
    """A template given as one string or a list of blocks, parsed block by block.

    >>> [b.fields for b in parse_blocks(["{hint}", "Q: {question}"], {"hint", "question"})]
    [('hint',), ('question',)]
    """
    blocks = [text] if isinstance(text, str) else list(text)
    out = []
    for k, block in enumerate(blocks):
        try:
            out.append(Template.parse(block, known))
        except ValueError as e:
            where = f"block {k}: " if len(blocks) > 1 else ""
            raise ValueError(f"{where}{e}") from None
    return tuple(out)


def render_blocks(blocks: Sequence[Template], values: Mapping[str, str], separator: str) -> str:
    """The blocks rendered and joined by `separator`, leaving out blocks whose fields are all empty.

    >>> bs = parse_blocks(["Judge.", "{hint}", "Q: {question}"], {"hint", "question"})
    >>> render_blocks(bs, {"hint": "", "question": "2+2?"}, "\\n\\n")
    'Judge.\\n\\nQ: 2+2?'
    """
    return separator.join(b.render(values) for b in blocks if not b.all_fields_empty(values))

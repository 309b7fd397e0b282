"""The five ROSCOE aspect prompts that a probe reads a (question, prediction) pair through.

Each prompt gives the evaluator's role, the aspect's definition, a 1-5 rubric, the question, the
response and "Return only the score.". The probe never generates: it reads the hidden states of
this prompt, so the same renderer must serve training and scoring (the template name is saved
in every probe file). The labelling variant asks a strong judge for a justification and a score.
"""

from __future__ import annotations

import re
from typing import Literal

ASPECTS: tuple[str, ...] = (
    "semantic_consistency",
    "logicality",
    "informativeness",
    "fluency",
    "factuality",
)
Template = Literal["aspect", "plain", "custom"]
TEMPLATES: tuple[str, ...] = ("aspect", "plain", "custom")
PLACEHOLDERS: tuple[str, str] = ("{question}", "{prediction}")
_PLACEHOLDER = re.compile(r"\{question\}|\{prediction\}")

ASPECT_DEFINITIONS: dict[str, tuple[str, str]] = {
    "semantic_consistency": (
        "Semantic consistency",
        "the response stays faithful to the problem. It uses the quantities, entities and conditions "
        "the question gives, and never changes, drops or invents any of them.",
    ),
    "logicality": (
        "Logicality",
        "every step follows validly from the question and the earlier steps. No step contradicts "
        "another, and the final answer follows from the reasoning.",
    ),
    "informativeness": (
        "Informativeness",
        "the response shows the intermediate steps a reader needs to verify it, instead of jumping "
        "to an answer or filling space with text that adds nothing.",
    ),
    "fluency": (
        "Fluency",
        "the response is readable, grammatical and clearly organised. Judge only the writing here, "
        "not whether the answer is right.",
    ),
    "factuality": (
        "Factuality",
        "every claim in the response is true: calculations give the stated results, and statements "
        "about the question or the world are correct.",
    ),
}

RUBRIC = """5 - no problem at all with respect to {name}
4 - a minor problem that does not change the outcome
3 - clear problems in some steps
2 - serious problems in most steps
1 - fails {name} entirely"""

PROBE_ENDING = "Return only the score."
LABEL_ENDING = "Give a one-sentence justification, then write the score alone on the last line as: Score: N"


def check_aspect(aspect: str) -> str:
    """Return `aspect` if it is one of the five ROSCOE aspects, else raise ValueError naming them.

    >>> check_aspect("fluency")
    'fluency'
    """
    if aspect not in ASPECT_DEFINITIONS:
        raise ValueError(f"unknown aspect {aspect!r}; the aspects are {', '.join(ASPECTS)}")
    return aspect


def aspect_prompt(question: str, prediction: str, aspect: str, ending: str = PROBE_ENDING) -> str:
    """Render one aspect's evaluation prompt for a (question, prediction) pair.

    >>> p = aspect_prompt("What is 2+2?", "2+2=4. The answer is 4.", "logicality")
    >>> p.splitlines()[1], p.splitlines()[-1]
    ('Rate the response below on one aspect: Logicality.', 'Return only the score.')
    """
    name, definition = ASPECT_DEFINITIONS[check_aspect(aspect)]
    return (
        "You are an expert evaluator of step-by-step solutions to problems.\n"
        f"Rate the response below on one aspect: {name}.\n"
        f"{name} means that {definition}\n\n"
        f"Scores:\n{RUBRIC.format(name=name.lower())}\n\n"
        f"Question:\n{question}\n\n"
        f"Response:\n{prediction}\n\n"
        f"{ending}"
    )


def labelling_prompt(question: str, prediction: str, aspect: str) -> str:
    """The prompt a strong judge answers to label one aspect (justification, then `Score: N`).

    >>> labelling_prompt("Q?", "A.", "fluency").endswith("Score: N")
    True
    """
    return aspect_prompt(question, prediction, aspect, ending=LABEL_ENDING)


def check_custom_prompt(prompt: object, where: str = "prompt") -> str:
    """Return `prompt` if it is a string holding both {question} and {prediction}, else raise ValueError.

    >>> check_custom_prompt("Q: {question}\\nA: {prediction}")
    'Q: {question}\\nA: {prediction}'
    """
    if not isinstance(prompt, str):
        raise ValueError(
            f"{where} must be a string with {PLACEHOLDERS[0]} and {PLACEHOLDERS[1]}, got {prompt!r:.60}"
        )
    missing = [p for p in PLACEHOLDERS if p not in prompt]
    if missing:
        raise ValueError(f"{where} lacks the placeholder(s) {', '.join(missing)}: {prompt[:80]!r}")
    return prompt


def fill_custom_prompt(prompt: str, question: str, prediction: str) -> str:
    """`prompt` with {question} and {prediction} replaced in one pass (a response that itself holds
    "{question}" is left as written; linear in the text).

    >>> fill_custom_prompt("Q: {question} A: {prediction}", "2+2?", "{question} 4")
    'Q: 2+2? A: {question} 4'
    """
    values = {PLACEHOLDERS[0]: question, PLACEHOLDERS[1]: prediction}
    return _PLACEHOLDER.sub(lambda m: values[m.group(0)], prompt)


def probe_text(
    question: str, prediction: str, aspect: str, template: str = "aspect", prompt: str | None = None
) -> str:
    """The text whose hidden states a probe reads.

    "aspect" renders the ROSCOE prompt (the aspect must be one of the five); "plain" is the
    question and the response separated by a blank line, for single-column probes such as
    `is_correct`, whose name is not an aspect; "custom" fills `prompt`, a text with {question}
    and {prediction} saved in the probe (a converted INSPECTOR classifier reads INSPECTOR's own
    prompt, which the user supplies).

    >>> probe_text("What is 2+2?", "4", "is_correct", "plain")
    'What is 2+2?\\n\\n4'
    """
    if template == "aspect":
        return aspect_prompt(question, prediction, aspect)
    if template == "plain":
        return f"{question}\n\n{prediction}"
    if template == "custom":
        return fill_custom_prompt(
            check_custom_prompt(prompt, f"the prompt of probe {aspect!r}"), question, prediction
        )
    raise ValueError(f"template must be one of {', '.join(TEMPLATES)}; got {template!r}")

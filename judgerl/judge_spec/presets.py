"""The built-in judge specs: judgerl's prompt families as presets, an MT-Bench-style pairwise judge with
ties, and the 0-10 pointwise scorer.

`strength`, `cot`, `direct` (and their `-compact` forms) render exactly what the recipe's
`prompt: {family, instruction}` shorthand rendered before judge specs existed (the renders recorded
in tests/fixtures/family_prompts.json), so a checkpoint trained then is read the same way. Prompt text of other projects is not shipped:
bring it as a spec file (docs/judge_specs.md).
"""

from __future__ import annotations

from functools import lru_cache

from judgerl.judge_spec.families import COMPACT_INSTRUCTIONS, FAMILIES, FULL_INSTRUCTIONS, PromptSpec
from judgerl.judge_spec.score_prompts import SCORE_INSTRUCTIONS
from judgerl.judge_spec.spec import JudgeSpec

DEFAULT_SPEC = "strength"
_PAIR_BLOCKS = [
    "{hint}",
    "[The Start of User Question]\n{question}\n[The End of User Question]",
    "[The Start of Response (a)]\n{response_a}\n[The End of Response (a)]",
    "[The Start of Response (b)]\n{response_b}\n[The End of Response (b)]",
]
_MTBENCH_SYSTEM = (
    "You are an impartial judge. Read the user question and the two assistants' answers, compare them for "
    "helpfulness, relevance, accuracy and detail, and ignore their order, length and names. Explain your "
    'comparison briefly, then give your final verdict on its own line: "[[A]]" if assistant A is better, '
    '"[[B]]" if assistant B is better, "[[C]]" if they are equally good.'
)
_MTBENCH_USER = (
    "[User Question]\n{question}\n\n[The Start of Assistant A's Answer]\n{response_a}\n[The End of Assistant "
    "A's Answer]\n\n[The Start of Assistant B's Answer]\n{response_b}\n[The End of Assistant B's Answer]"
)
_MTBENCH_HINT = "You are told that Assistant {winner} is better than Assistant {loser}; explain why, then give your verdict."
_SCORE_BLOCKS = [
    "[The Start of User Question]\n{question}\n[The End of User Question]",
    "[The Start of Solution]\n{response}\n[The End of Solution]",
]


def _family_spec(family: str, instruction: str) -> JudgeSpec:
    text = (FULL_INSTRUCTIONS if instruction == "full" else COMPACT_INSTRUCTIONS)[family]
    name = family if instruction == "full" else f"{family}-compact"
    strength = {"strength": "required", "cot": "optional", "direct": "optional"}[family]
    return JudgeSpec.model_validate(
        {
            "name": name,
            "description": f"judgerl's {family} prompt ({instruction} instruction), read by judgerl's parser",
            "prompt": {"user": [text, *_PAIR_BLOCKS]},
            "verdict": {"format": "judgerl", "strength": strength, "thinking": family != "direct"},
        }
    )


def _builtin() -> dict[str, JudgeSpec]:
    specs = {}
    for family in FAMILIES:
        for instruction in ("full", "compact"):
            spec = _family_spec(family, instruction)
            specs[spec.name] = spec
    specs["mtbench"] = JudgeSpec.model_validate(
        {
            "name": "mtbench",
            "description": "an MT-Bench-style pairwise judge: [[A]], [[B]], [[C]] for a tie (judgerl's wording)",
            "prompt": {
                "system": _MTBENCH_SYSTEM,
                "user": _MTBENCH_USER,
                "critic_user": [_MTBENCH_USER, "{hint}"],
                "hint": _MTBENCH_HINT,
                "labels": {"a": "A", "b": "B"},
            },
            "verdict": {"format": "mtbench", "thinking": False},
        }
    )
    for instruction, head in SCORE_INSTRUCTIONS.items():
        name = "score" if instruction == "full" else "score-compact"
        specs[name] = JudgeSpec.model_validate(
            {
                "name": name,
                "description": f"judgerl's 0-10 pointwise score prompt ({instruction} instruction)",
                "mode": "pointwise",
                "prompt": {"user": [head, *_SCORE_BLOCKS]},
                "verdict": {"format": "score", "thinking": False},
            }
        )
    return specs


@lru_cache(maxsize=1)
def _specs() -> dict[str, JudgeSpec]:
    return _builtin()


def builtin_names() -> list[str]:
    """The names of the built-in specs. Usage: judgerl's --judge-spec help lists them."""
    return list(_specs())


def builtin_spec(name: str) -> JudgeSpec:
    """A copy of a built-in spec; KeyError lists the names.

    >>> builtin_spec("strength-compact").verdict.wants_strength
    True
    """
    specs = _specs()
    if name not in specs:
        raise KeyError(f"no built-in judge spec {name!r} (built in: {', '.join(specs)})")
    return specs[name].model_copy(deep=True)


def spec_for_prompt(prompt: PromptSpec) -> JudgeSpec:
    """The built-in spec the `prompt: {family, instruction}` shorthand stands for (its hint is a role,
    not part of the spec).

    >>> spec_for_prompt(PromptSpec("cot", instruction="compact")).name
    'cot-compact'
    """
    return builtin_spec(prompt.family if prompt.instruction == "full" else f"{prompt.family}-compact")

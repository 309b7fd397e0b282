"""Every parser of model text runs in linear time: adversarial inputs up to 100k characters, a time
bound per call, and the rewritten patterns read short texts exactly as the old ones did."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from judgerl.data_prep.answers import extract_answer
from judgerl.judge_spec import multi_parser, parser
from judgerl.judge_spec.files import spec_from_mapping
from judgerl.judge_spec.multi_parser import parse_choice, parse_rating
from judgerl.judge_spec.parser import parse_verdict
from judgerl.judge_spec.presets import builtin_spec
from judgerl.judge_spec.reading import read, read_score
from judgerl.judge_spec.score_parser import parse_score
from judgerl.probes import labelling
from judgerl.rewards import functions
from judgerl.rewards.functions import is_well_formed

BOUND_S = 0.5  # generous: the benchmark (bench/parser_speed.py) measures < 50 ms at 100k characters

PARSERS: dict[str, Callable[[str], object]] = {
    "verdict": parse_verdict,
    "verdict_strength": lambda t: parse_verdict(t, require_strength=True),
    "choice": parse_choice,
    "rating": parse_rating,
    "score": parse_score,
    "well_formed": is_well_formed,
    "label_score": labelling.parse_score,
    "answer": extract_answer,
}
# the judge specs' readers: every preset, and user patterns a backtracking engine would take
# quadratic or exponential time on (RE2 keeps them linear; each match rule is a fixed number of searches)
_NASTY = {
    "last": r"(?P<choice>[ab])(?:.*Z)?",
    "first": r"(?:(?:a|a)*)+(?P<choice>[b])",
    "choice_order": r"Response \((?P<choice>[ab])\)(?:\s*,?\s*)*is better, and the strength is \[\[(?P<strength>\d+)",
}
for _name in ("mtbench", "strength", "score"):
    _spec = builtin_spec(_name)
    PARSERS[f"spec:{_name}"] = (
        (lambda t, sp=_spec: read_score(sp.verdict, t))
        if _spec.mode == "pointwise"
        else (lambda t, sp=_spec: read(sp, t))
    )
PARSERS["spec:thinkj"] = (
    lambda t, sp=spec_from_mapping({"extends": "strength", "verdict": {"format": "thinkj"}}): read(sp, t)
)
for _match, _pattern in _NASTY.items():
    _user = spec_from_mapping(
        {
            "extends": "strength",
            "verdict": {"format": "pattern", "pattern": _pattern, "match": _match, "strength": "optional"},
        }
    )
    PARSERS[f"user pattern ({_match})"] = lambda t, sp=_user: read(sp, t)
HEADS = [
    "Therefore, Response (a) is better, and the strength",
    "Therefore",
    "Response (",
    "Response (b) is better, strength is [",
    "Response (a) is better [[",
    "<think>x</think>1",
    "<think>a</think>Response (a) is better",
    "Score:",
    "#### ",
    "",
]
FILLERS = [
    " ",
    "\t",
    "\n",
    " *",
    "[[",
    "9",
    "1,",
    "<think>",
    "</think>",
    "<think><think></think>",
    "Therefore, ",
]
FILLERS += ["Therefore, Response (a) is ", "strength is ", "[[ ", "response (a)", ". "]
FILLERS += ["a", "aaab", "[[A]] ", "Response (a)  , ,", "Score: 8\n"]
TAILS = ["x", ".", "", "]]", "2]]", " is better", "</think>", "[[C]]", "Z"]


@pytest.fixture(scope="module", autouse=True)
def _warm() -> None:
    """First calls import lazily (math-verify pulls in sympy: ~1 s once); time only the parsing."""
    for fn in PARSERS.values():
        fn("<think>x</think> #### 7. Therefore, Response (a) is better, strength [[2]]. Score: 4 \\boxed{1}")
        fn(
            "Therefore, Response (a) is better, and the strength is x"
        )  # no "####": the answer reaches math-verify


def _timed(fn: Callable[[str], object], text: str) -> float:
    t0 = time.perf_counter()
    fn(text)
    return time.perf_counter() - t0


adversarial = st.builds(
    lambda head, filler, size, tail: head + filler * (size // len(filler)) + tail,
    st.sampled_from(HEADS),
    st.sampled_from(FILLERS),
    st.integers(1_000, 100_000),
    st.sampled_from(TAILS),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(adversarial)
def test_every_parser_is_fast_on_adversarial_text(text):
    slow = {name: t for name, fn in PARSERS.items() if (t := _timed(fn, text)) > BOUND_S}
    assert not slow, f"{slow} on {text[:60]!r}... ({len(text)} chars)"


@pytest.mark.parametrize("spaces", [800, 1_600, 100_000])
def test_the_reported_inputs_are_fast_and_read_right(spaces) -> None:
    text = "Therefore, Response (a) is better, and the strength" + " " * spaces + "x"
    assert _timed(parse_verdict, text) < BOUND_S
    assert (
        parse_verdict(text).choice == "a"
        and parse_verdict(text, require_strength=True).reason == "strength missing"
    )
    rating = "<think>x</think>1" + " " * (spaces * 12) + "x"
    assert _timed(parse_rating, rating) < BOUND_S and parse_rating(rating).reason == "no rating"
    assert parse_rating("<think>x</think>" + " " * spaces + "9 " + " " * spaces + ".").rating == 9


OLD = {  # the patterns before the rewrite (backtracking), for equivalence on short texts
    "verdict": re.compile(
        r"(?:therefore\s*,?\s*)?response\s*(?:\(\s*([ab])\s*\)|([ab])\b)\s*is\s+(?:slightly\s+|much\s+)?better",
        re.IGNORECASE,
    ),
    "unbracketed": re.compile(r"strength\s*(?:is|of|:|=)?\s*\[?\s*([+-]?\d+)", re.IGNORECASE),
    "strict": re.compile(
        r"(?:therefore\s*,\s*)?response\s*\(\s*[ab]\s*\)\s*is\s+better"
        r"(?P<strength>\s*,?\s*and\s+the\s+strength\s+is\s*\[\[\s*[1-3]\s*\]\])?\s*\.?",
        re.IGNORECASE,
    ),
    "label": re.compile(r"score\s*[:=]\s*\**\s*([1-5])\b", re.IGNORECASE),
    "trailing": re.compile(r"(?<![\d.])([+-]?\d{1,6})\s*\.?\s*$"),
}
PIECES = ["Therefore", ",", " ", "  ", "\n", "response", "Response", "(", ")", "a", "b", "A", "is", "better"]
PIECES += [
    "much",
    "and the strength is",
    "strength",
    ":",
    "=",
    "of",
    "[",
    "[[",
    "]]",
    "2",
    "-3",
    "7",
    ".",
    "*",
]
PIECES += ["score", "Score", "4", "x"]
short = st.lists(st.sampled_from(PIECES), max_size=24).map("".join)


@settings(max_examples=400, deadline=None)
@given(short)
def test_rewritten_patterns_read_short_texts_as_before(text):
    def spans(pattern: re.Pattern[str], s: str) -> list[tuple[tuple[int, int], tuple[str | None, ...]]]:
        return [(m.span(), m.groups()) for m in pattern.finditer(s)]

    assert spans(parser._VERDICT_RE, text) == spans(OLD["verdict"], text)
    assert spans(parser._UNBRACKETED_RE, text) == spans(OLD["unbracketed"], text)
    assert spans(labelling._SCORE, text) == spans(OLD["label"], text)
    new, old = functions._STRICT_SENTENCE.fullmatch(text), OLD["strict"].fullmatch(text)
    assert (new is None, new and new.group("strength")) == (old is None, old and old.group("strength"))
    stripped = text.strip()
    old_trailing = OLD["trailing"].search(stripped)
    new_trailing = multi_parser._TRAILING_INT_RE.search(multi_parser._trailing(text))
    assert (old_trailing and old_trailing.group(1)) == (new_trailing and new_trailing.group(1))

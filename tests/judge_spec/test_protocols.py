"""The seeds' and benchmarks' own rules as judge specs, beside judgerl's: Think-J's strength reward and
RewardBench counting, and RewardBench's official generative reading (checked against the released wheel)."""

from __future__ import annotations

import ast
import random
import re
import zipfile

import pytest

from judgerl.core.types import Judgement, JudgeSample, Verdict
from judgerl.eval.metrics import pairwise_metrics
from judgerl.eval.rewardbench.scoring import official_pair_score
from judgerl.judge_spec.files import spec_from_mapping
from judgerl.judge_spec.presets import builtin_spec
from judgerl.judge_spec.reading import read
from judgerl.judge_spec.render import judge_prompt
from judgerl.rewards.functions import strength_reward
from tests.eval.test_rewardbench_constants import WHEEL
from tests.judge_spec.test_spec import THINKJ_LAYOUT

V = "Therefore, Response ({}) is better, and the strength is [[{}]]."
# (completion, signed label strength g, Think-J's reward_strength by its rule, judgerl's default reward).
# Think-J: the FIRST exact match of its bracketed sentence anywhere (case-sensitive, comma, period);
# no match 0, wrong 0, right 1 - ||g| - k| / 8, right with k outside 1..3 0.5. Worked out by hand.
TABLE = [
    (V.format("a", 2), -2, 1.0, 1.0),
    (V.format("a", 3), -2, 0.875, 0.875),
    (V.format("a", 1), -2, 0.875, 0.875),
    ("<think>b is wrong</think>\n\n" + V.format("b", 2), -2, 0.0, 0.0),
    ("Therefore, Response (a) is better.", -2, 0.0, 0.5),  # right, no [[k]]: Think-J pays nothing
    (V.format("a", 7), -2, 0.5, 0.5),
    (V.format("a", 0), -2, 0.5, 0.5),
    (V.format("a", 2).lower(), -2, 0.0, 1.0),  # lowercase
    (V.format("A", 2), -2, 0.0, 1.0),  # (A)
    ("Therefore, Response (a) is better, and the strength is [[ 2 ]].", -2, 0.0, 1.0),
    ("Therefore Response (a) is better, and the strength is [[2]].", -2, 0.0, 1.0),  # no comma
    (V.format("a", 2)[:-1], -2, 0.0, 1.0),  # no period
    ("Therefore, Response (a) is better and the strength is [[2]].", -2, 0.0, 1.0),
    ("<think>" + V.format("b", 1) + "</think>\n" + V.format("a", 2), -2, 0.0, 1.0),  # first match anywhere
    (V.format("a", 2) + " Wait. " + V.format("b", 2), -2, 1.0, 0.0),  # Think-J: first; judgerl: last
    ("Response (a) is better, and the strength is [[2]].", -2, 0.0, 1.0),  # no "Therefore,"
    ("Therefore, Response (a) is much better, and the strength is [[3]].", -2, 0.0, 0.875),
    ("Therefore, Response (a) is better, and the strength is 2.", -2, 0.0, 1.0),  # unbracketed
    (V.format("a", 2), 3, 0.0, 0.0),
    (V.format("b", 3), 3, 1.0, 1.0),
    (V.format("b", 1), 3, 0.75, 0.75),
    (V.format("b", 12), 3, 0.5, 0.5),
    ("", -2, 0.0, 0.0),
    ("I think both are fine.", -2, 0.0, 0.0),
    ("<think>unclosed " + V.format("a", 2), -2, 1.0, 0.0),  # Think-J reads inside the thinking too
    (V.format("a", 2) + V.format("a", 1), -2, 1.0, 0.875),
    ("Therefore, Response (a) is better, and the strength is [[-2]].", -2, 0.0, 0.5),
    ("Therefore, Response (a) is better, and the strength is [[2.5]].", -2, 0.0, 0.5),
    (V.format("a", 2) + " (Response (b) is worse.)", -2, 1.0, 1.0),
    ("Therefore, Response (a) is better, and the strength is [[2]] .", -2, 0.0, 1.0),
    ("Therefore, Response (a) is better, and the strength is [[03]].", -2, 0.875, 0.875),
]


def _sample(g: int) -> JudgeSample:
    return JudgeSample("x", "t", [{"role": "user", "content": "q"}], "r1", "r2", "a" if g < 0 else "b", g)


@pytest.mark.parametrize(("completion", "g", "thinkj", "judgerl"), TABLE)
def test_a_think_j_spec_pays_think_js_reward_and_judgerls_default_keeps_its_own(
    completion: str, g: int, thinkj: float, judgerl: float
) -> None:
    spec = spec_from_mapping(THINKJ_LAYOUT)
    assert strength_reward(_sample(g), completion, judge_spec=spec).score == pytest.approx(thinkj)
    assert strength_reward(_sample(g), completion).score == pytest.approx(judgerl)


def test_the_table_has_the_disagreements_the_docs_report() -> None:
    differ = [c for c, _, t, j in TABLE if t != j]
    assert len(TABLE) == 31 and len(differ) == 17  # docs/judge_specs.md and docs/rewards.md cite these counts


def _judgement(sid: str, order: str, choice: str | None, label: str) -> Judgement:
    return Judgement(sid, order, "", Verdict(choice), label)  # type: ignore[arg-type]


def test_counting_rules_report_think_j_and_rewardbench_numbers_beside_judgerls() -> None:
    judgements = [
        _judgement("1", "ab", None, "a"),
        _judgement("1", "ba", None, "b"),  # unreadable in both orders
        _judgement("2", "ab", "a", "a"),
        _judgement("2", "ba", "b", "b"),
        _judgement("3", "ab", "tie", "a"),
        _judgement("3", "ba", "tie", "b"),
    ]
    plain = pairwise_metrics(judgements, builtin_spec("strength").counting)
    assert "as_counted" not in plain
    assert plain["overall"]["agreement"] == pytest.approx(2 / 3)  # the tie pair agrees with itself
    assert plain["overall"]["tie_rate"] == pytest.approx(2 / 6)
    thinkj = pairwise_metrics(judgements, spec_from_mapping(THINKJ_LAYOUT).counting)["as_counted"]["overall"]
    assert thinkj["agreement"] == 1.0 and thinkj["single_accuracy"] == pytest.approx(2 / 6)
    rb = spec_from_mapping({"extends": "mtbench", "counting": "rewardbench"}).counting
    counted = pairwise_metrics(judgements, rb)["as_counted"]["overall"]
    assert counted["single_accuracy"] == pytest.approx((2 + 4 * 0.5) / 6)  # 0.5 per unreadable or tie
    assert [official_pair_score(c, "a") for c in ("a", "b", None, "tie")] == [1.0, 0.0, 0.5, 0.5]


def _official_process_judgement():  # type: ignore[no-untyped-def]
    """`process_judgement` of the released rewardbench wheel's generative.py, compiled from its source."""
    if not WHEEL.exists():
        pytest.fail(f"the released rewardbench wheel is missing at {WHEEL} (make test downloads it)")
    with zipfile.ZipFile(WHEEL) as wheel:
        source = wheel.read("rewardbench/generative.py").decode("utf-8")
    node = next(
        n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name == "process_judgement"
    )
    namespace: dict = {"re": re}
    exec(compile(ast.Module([node], []), "generative.py", "exec"), namespace)  # noqa: S102 - the wheel's own code
    return namespace["process_judgement"]


def test_rewardbenchs_official_reading_is_the_mtbench_format_read_in_choice_order_anywhere() -> None:
    official = _official_process_judgement()
    spec = spec_from_mapping(
        {"extends": "mtbench", "verdict": {"region": "anywhere", "match": "choice_order", "ties": False}}
    )
    pieces = ["[[A]]", "[[B]]", "[[C]]", "[[D]]", "text", "<think>", "</think>", "[[a]]", "[A]", "\n"]
    rng = random.Random(0)
    for _ in range(500):
        text = " ".join(rng.choice(pieces) for _ in range(rng.randint(0, 6)))
        want = {"A": "a", "B": "b"}.get(official(text, None))
        assert read(spec, text).choice == want, text


def test_rewardbenchs_own_mtbench_prompt_from_the_wheel_is_a_spec_a_user_can_bring() -> None:
    with zipfile.ZipFile(WHEEL) as wheel:
        source = wheel.read("rewardbench/generative.py").decode("utf-8")
    values = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            if node.targets[0].id == "prompt_v2":
                values["system"] = ast.literal_eval(node.value)
            if node.targets[0].id == "MTBENCH_V2":
                template = next(
                    v
                    for k, v in zip(node.value.keys, node.value.values, strict=True)
                    if k.value == "prompt_template"
                )
                values["user"] = ast.literal_eval(template)
    spec = spec_from_mapping(
        {
            "name": "rewardbench-pair-v2",
            "prompt": {**values, "aliases": {"answer_a": "response_a", "answer_b": "response_b"}},
            "verdict": {"format": "mtbench", "region": "anywhere", "match": "choice_order", "ties": False},
            "counting": "rewardbench",
        }
    )
    sample = JudgeSample("1", "t", [{"role": "user", "content": "Name a prime."}], "7", "8", "a")
    system, user = judge_prompt(spec, sample)
    assert system["content"] == values["system"]
    assert user["content"] == values["user"].format(question="Name a prime.", answer_a="7", answer_b="8")

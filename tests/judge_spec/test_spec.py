"""The judge spec: templates, presets, files, verdict formats and their errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from judgerl.core.types import JudgeSample
from judgerl.judge_spec.families import PromptSpec
from judgerl.judge_spec.files import (
    SPEC_FILE,
    JudgeSpecError,
    checkpoint_spec,
    load_spec,
    resolve_spec,
    save_spec,
    spec_from_mapping,
)
from judgerl.judge_spec.presets import builtin_names, builtin_spec, spec_for_prompt
from judgerl.judge_spec.reading import read, read_score
from judgerl.judge_spec.render import judge_prompt, score_prompt
from judgerl.judge_spec.templates import Template
from judgerl.judge_spec.writing import completion_text, verdict_candidates, verdict_text

SAMPLE = JudgeSample("q1", "t", [{"role": "user", "content": "What is 2+2?"}], "4", "5", "a", -2)
MULTI = JudgeSample(
    "q2",
    "t",
    [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "2+2?"},
    ],
    "4",
    "22",
    "b",
    3,
    metadata={"reference": "4"},
)

# a Think-J-layout template written for this test: a system message, the question and response blocks
# first, the instruction after them, the critic's hint inside the instruction, Think-J's field names
THINKJ_LAYOUT = {
    "name": "thinkj-layout",
    "prompt": {
        "system": "You are a careful judge of two assistants' answers.",
        "user": (
            "[The Start of User Question]\n{instruction}\n[The End of User Question]\n\n"
            "[The Start of Response (a)]\n{response1}\n[The End of Response (a)]\n\n"
            "[The Start of Response (b)]\n{response2}\n[The End of Response (b)]\n\n"
            "Explain first, then end with 'Therefore, Response (a/b) is better, and the strength is [[k]].'"
        ),
        "critic_user": (
            "[The Start of User Question]\n{instruction}\n[The End of User Question]\n\n"
            "[The Start of Response (a)]\n{response1}\n[The End of Response (a)]\n\n"
            "[The Start of Response (b)]\n{response2}\n[The End of Response (b)]\n\n"
            "{hint} Then end with 'Therefore, Response (a/b) is better, and the strength is [[k]].'"
        ),
        "hint": "Knowing that Response ({winner}) beats Response ({loser}), explain why.",
        "aliases": {"instruction": "question", "response1": "response_a", "response2": "response_b"},
    },
    "verdict": {"format": "thinkj"},
    "reward": "thinkj",
    "counting": "thinkj",
}


RECORDED = json.loads((Path(__file__).parents[1] / "fixtures" / "family_prompts.json").read_text())


@pytest.mark.parametrize(
    "case",
    RECORDED["pairwise"],
    ids=lambda c: "-".join(c[k] for k in ("sample", "order", "family", "instruction", "hint")),
)
def test_the_builtin_family_specs_render_exactly_what_the_prompt_shorthand_rendered_before_specs(
    case: dict,
) -> None:
    # the renders were recorded from judgerl's renderer before judge specs existed (commit e8be8cf)
    samples = {row["id"]: JudgeSample.from_dict(row) for row in RECORDED["samples"]}
    sample = samples[case["sample"]] if case["order"] == "ab" else samples[case["sample"]].swapped()
    spec = spec_for_prompt(PromptSpec(case["family"], case["hint"], case["instruction"]))
    assert judge_prompt(spec, sample, case["hint"]) == case["messages"]


def test_the_builtin_score_specs_render_the_score_prompt() -> None:
    for case in RECORDED["score"]:
        name = "score" if case["instruction"] == "full" else "score-compact"
        assert score_prompt(builtin_spec(name), case["question"], case["solution"]) == case["messages"]
    assert set(builtin_names()) >= {"strength", "cot-compact", "direct", "mtbench", "score"}


def test_templates_name_their_errors_and_keep_literal_braces() -> None:
    assert Template.parse('{{"a": {question}}}', {"question"}).render({"question": "x"}) == '{"a": x}'
    with pytest.raises(ValueError, match=r"unknown field \{answer\} at character 3 \(fields: question"):
        Template.parse("Q: {answer}", {"question"})
    with pytest.raises(ValueError, match="unclosed '\\{' at character 0"):
        Template.parse("{question", {"question"})
    with pytest.raises(ValueError, match="stray '\\}' at character 1"):
        Template.parse("a} b", {"question"})
    with pytest.raises(JudgeSpecError, match=r"judge_spec: .*prompt.user: block 1: unknown field \{resp\}"):
        spec_from_mapping({"prompt": {"user": ["{question}", "{resp}"]}})


def test_a_think_j_layout_template_renders_blocks_first_then_the_instruction_with_its_system_message() -> (
    None
):
    spec = spec_from_mapping(THINKJ_LAYOUT)
    system, user = judge_prompt(spec, SAMPLE)
    assert system == {"role": "system", "content": "You are a careful judge of two assistants' answers."}
    content = user["content"]
    assert content.startswith("[The Start of User Question]\nWhat is 2+2?\n[The End of User Question]")
    assert content.index("[The Start of Response (b)]\n5") < content.index("Explain first")
    critic = judge_prompt(spec, SAMPLE, "negative")[1]["content"]
    assert "Knowing that Response (b) beats Response (a), explain why. Then end with" in critic
    assert judge_prompt(spec, SAMPLE.swapped(), "positive")[1]["content"].count("Response (b) beats") == 1


def test_blocks_whose_fields_are_empty_are_left_out_and_reference_truncate_raw_work() -> None:
    spec = spec_from_mapping(
        {
            "prompt": {
                "user": [
                    "Judge.",
                    "Reference: {reference}",
                    "Q: {question}",
                    "A: {response_a} | B: {response_b}",
                ],
                "truncate": {"question": 4},
                "raw": True,
                "separator": "\n",
            }
        }
    )
    assert judge_prompt(spec, SAMPLE) == "Judge.\nQ: What\nA: 4 | B: 5"  # no reference: its block is left out
    assert judge_prompt(spec, MULTI).startswith("Judge.\nReference: 4\nQ: User")
    with pytest.raises(ValueError, match="no \\{hint\\} field and no critic_user"):
        judge_prompt(spec, SAMPLE, "positive")


def test_a_demystifying_layout_scorer_is_raw_text_with_cut_fields() -> None:
    # the seed's layout (its own wording is not shipped): raw text, fields cut to fixed lengths
    spec = spec_from_mapping(
        {
            "mode": "pointwise",
            "prompt": {
                "user": "[Q] {question}\n[A] {response}\n[Final]",
                "raw": True,
                "truncate": {"question": 10, "response": 6},
            },
            "verdict": {"format": "first_number"},
        }
    )
    assert score_prompt(spec, "Janet has 16 ducks and eats three.", "She sells 9 eggs") == (
        "[Q] Janet has \n[A] She se\n[Final]"
    )
    assert read_score(spec.verdict, " 7\n").value == 7.0


def test_spec_files_load_by_name_path_or_mapping_and_errors_name_the_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "judge.yaml"
    path.write_text("extends: mtbench\nname: mine\nverdict: {ties: false}\n")
    spec = load_spec(str(path))
    assert (spec.name, spec.verdict.ties, spec.prompt.system) == (
        "mine",
        False,
        builtin_spec("mtbench").prompt.system,
    )
    assert load_spec("direct").wants_thinking is False
    (tmp_path / "bad.yaml").write_text(
        "prompt: {user: '{question}'}\nverdict: {format: pattern, pattern: 'x'}\n"
    )
    with pytest.raises(JudgeSpecError, match=r"bad.yaml.*needs a \(\?P<choice>"):
        load_spec(str(tmp_path / "bad.yaml"))
    (tmp_path / "typo.yaml").write_text("prompt: {user: '{question}'}\nverdcit: {}\n")
    with pytest.raises(JudgeSpecError, match=r"typo.yaml.verdcit: unknown key"):
        load_spec(str(tmp_path / "typo.yaml"))
    with pytest.raises(JudgeSpecError, match="no such file"):
        load_spec(str(tmp_path / "missing.yaml"))
    with pytest.raises(JudgeSpecError, match="neither a built-in spec"):
        load_spec("strenght")
    with pytest.raises(JudgeSpecError, match=r"extends = 'nope': not a built-in spec"):
        spec_from_mapping({"extends": "nope"})
    with pytest.raises(JudgeSpecError, match="not a valid RE2 pattern"):
        spec_from_mapping(
            {"prompt": {"user": "{question}"}, "verdict": {"format": "pattern", "pattern": "(?P<choice>a"}}
        )
    with pytest.raises(JudgeSpecError, match="a pointwise spec needs a score format"):
        spec_from_mapping({"mode": "pointwise", "prompt": {"user": "{question} {response}"}})


def test_a_checkpoint_carries_its_spec_and_consumers_resolve_explicit_then_saved_then_default(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    assert checkpoint_spec(ckpt) is None
    with caplog.at_level("INFO", logger="judgerl.judge_spec"):
        assert resolve_spec(None, None, ckpt, "t1").name == "strength"
    assert "has no judge_spec.json; using judgerl's default spec 'strength'" in caplog.text
    save_spec(builtin_spec("mtbench"), ckpt)
    assert json.loads((ckpt / SPEC_FILE).read_text())["verdict"]["format"] == "mtbench"
    assert resolve_spec(None, None, ckpt, "t2") == builtin_spec("mtbench")
    caplog.clear()
    with caplog.at_level("WARNING", logger="judgerl.judge_spec"):
        chosen = resolve_spec(None, PromptSpec("cot"), ckpt, "t3")
    assert chosen.name == "cot"
    assert "carries judge spec 'mtbench'" in caplog.text and "prompt gives 'cot'" in caplog.text
    (ckpt / SPEC_FILE).write_text("{not json")
    with pytest.raises(JudgeSpecError, match="not valid YAML/JSON"):
        resolve_spec(None, None, ckpt, "t4")  # a torn spec is an error, never a silent default


def test_mtbench_reads_ties_and_the_match_rule_decides_which_verdict_counts() -> None:
    spec = builtin_spec("mtbench")
    assert [read(spec, t).choice for t in ("[[A]]", "x [[B]]", "They tie. [[C]]", "[[D]]", "")] == [
        "a",
        "b",
        "tie",
        None,
        None,
    ]
    text = "<think>maybe [[B]]</think> At first [[A]], on reflection [[B]]"
    first = spec_from_mapping({"extends": "mtbench", "verdict": {"match": "first", "region": "anywhere"}})
    order = spec_from_mapping(
        {"extends": "mtbench", "verdict": {"match": "choice_order", "region": "anywhere"}}
    )
    assert (read(spec, text).choice, read(first, text).choice, read(order, text).choice) == ("b", "b", "a")
    no_ties = spec_from_mapping({"extends": "mtbench", "verdict": {"ties": False}})
    assert read(no_ties, "[[C]]").reason == "tie is not a verdict in this spec"
    assert read(spec, "<think>unfinished [[A]]").reason == "unclosed thinking block"


def test_a_user_pattern_reads_choice_and_strength_with_its_own_labels() -> None:
    spec = spec_from_mapping(
        {
            "prompt": {"user": "{question} {response_a} {response_b}"},
            "verdict": {
                "format": "pattern",
                "pattern": r"\[RESULT\]\s*(?P<choice>[AB12])(?:\s*\((?P<strength>\d+)\))?",
                "choices": {"a": ["A", "1"], "b": ["B", "2"]},
                "strength": "optional",
            },
        }
    )
    assert (read(spec, "Feedback... [RESULT] B (2)").choice, read(spec, "[RESULT] B (2)").strength) == (
        "b",
        2,
    )
    assert (
        read(spec, "[RESULT] 1").choice == "a"
        and read(spec, "[RESULT] A (9)").reason == "strength out of range: 9"
    )
    assert read(spec, "no result").reason == "no verdict sentence"


def test_scores_are_read_in_their_slot_so_an_echoed_answer_is_not_a_score() -> None:
    fmt = builtin_spec("score").verdict
    assert [
        read_score(fmt, t).value for t in ("8", "Score: 7/10", "[[9]].", "<think>1, 2</think>\n6", "12")
    ] == [
        8.0,
        7.0,
        9.0,
        6.0,
        10.0,
    ]
    for echo in ("The answer is 4.", "2+2 = 4, so 4", "4 out of 5 steps are right"):
        assert (read_score(fmt, echo).value, read_score(fmt, echo).reason) == (None, "no number")
    seed = spec_from_mapping(
        {"extends": "score", "verdict": {"format": "first_number", "slot": "region"}}
    ).verdict
    assert read_score(seed, "The answer is 4.").value == 4.0  # the seed's reading pays the echo
    strict = spec_from_mapping({"extends": "score", "verdict": {"out_of_range": "fail"}}).verdict
    assert read_score(strict, "12").reason == "score out of range: 12"


def test_the_spec_writes_its_own_verdicts_for_sft_targets_and_logprob_candidates() -> None:
    assert (
        verdict_text(builtin_spec("strength"), "b", 3)
        == "Therefore, Response (b) is better, and the strength is [[3]]."
    )
    assert completion_text(builtin_spec("mtbench"), "weigh", "tie") == "[[C]]"  # mtbench does not think
    thinkj = spec_from_mapping(THINKJ_LAYOUT)
    assert completion_text(thinkj, "check", "a", 2).endswith(
        "Therefore, Response (a) is better, and the strength is [[2]]."
    )
    assert len(verdict_candidates(thinkj)) == 6 and len(verdict_candidates(builtin_spec("mtbench"))) == 3
    bare = spec_from_mapping({"extends": "mtbench", "verdict": {"sentences": None}})
    with pytest.raises(ValueError, match=r"has no verdict.sentences\['a'\]"):
        verdict_text(bare, "a")

"""The Demystifying seed's rules as options, each on a hand-computed case, and judgerl's defaults
unchanged: the T = 0 tie rule, judge noise on any judge, PRM step splitting, the answer order of the
seed-format HTTP body. (The answer order itself is tested in tests/data_prep/test_answers.py, the
lm-eval reader in test_scaling_lm_eval.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from judgerl.cli.main import main
from judgerl.core.errors import DataError
from judgerl.core.stage import StageContext
from judgerl.eval.scaling.candidates import PromptCandidates
from judgerl.eval.scaling.judges import HTTPJudge, register_score_hook, split_steps
from judgerl.eval.scaling.judges.noise import NOISE_STREAM, _key_int, add_judge_noise, noisy_curve_name
from judgerl.eval.scaling.stage import ScalingStage, judge_options, run_scaling
from judgerl.eval.scaling.theory import delta, selection_weights, sweep

FIXTURE = next((Path(__file__).parent / "fixtures" / "lm_eval" / "gsm8k_k3").rglob("samples_*.jsonl"))


@register_score_hook("seed_rules_constant")
def constant(prompt: str, candidates: list[str]) -> list[float]:
    return [5.0] * len(candidates)


@register_score_hook("seed_rules_fixed")
def fixed(prompt: str, candidates: list[str]) -> list[float]:
    return [2.0, 5.0, 9.5][: len(candidates)]


@register_score_hook("seed_rules_big")
def big(prompt: str, candidates: list[str]) -> list[float]:
    return [12.0] * len(candidates)


def _points(out: Path) -> dict:
    report = json.loads((out / "points.json").read_text())
    return {(p["judge"], p["k"], p["T"]): p["mean"] for p in report["points"]} | {"report": report}


# ---------------------------------------------------------------- T = 0 ties


def test_tie_rule_on_the_hand_case() -> None:
    # two answers tied at the top, the first right: shared, the selection is right half the time
    assert delta([[5.0, 5.0]], [[1, 0]], 0).mean == -0.5
    assert delta([[5.0, 5.0]], [[1, 0]], 0, tie_rule="first").mean == -1.0
    assert delta([[5.0, 5.0]], [[0, 1]], 0, tie_rule="first").mean == 0.0
    # only T = 0 has ties to break; T > 0 is the same softmax under both rules
    assert selection_weights([5.0, 5.0], 1.0, "first").tolist() == [0.5, 0.5]
    with pytest.raises(ValueError, match=r"tie rule must be one of \['share', 'first'\], got 'last'"):
        sweep("j", [[1.0]], [[1]], ["q"], [1], [0.0], tie_rule="last")  # type: ignore[arg-type]


def test_tie_rule_through_the_stage_on_lm_eval_samples(tmp_path: Path) -> None:
    """A judge that always ties: "share" gives the pools' mean accuracy; "first" the first generation's."""
    base = dict(candidates=str(FIXTURE), judges=["hook:seed_rules_constant"], k=[2, 3], T=[0.0])
    for rule in ("share", "first"):
        run_scaling(ScalingStage(**base, tie_rule=rule), StageContext("s", tmp_path / rule, progress=False))
    share, first = _points(tmp_path / "share"), _points(tmp_path / "first")
    j = "hook:seed_rules_constant"
    assert share[(j, 3, 0.0)] == pytest.approx(-5 / 9) and share[(j, 2, 0.0)] == pytest.approx(-5 / 9)
    # correctness [1,0,1], [1,0,0], [1,0,1]: every first generation is right
    assert first[(j, 3, 0.0)] == pytest.approx(-1.0)
    # k = 2, subsets (0,1), (0,2), (1,2) in index order: firsts 0, 0, 1 -> 2/3 right in every doc
    assert first[(j, 2, 0.0)] == pytest.approx(-2 / 3)
    assert first["report"]["tie_rule"].startswith("T = 0: the first of the tied maxima")
    assert share["report"]["tie_rule"] == "T = 0: tied maxima share the selection equally"


# ---------------------------------------------------------------- judge noise on any judge


def test_judge_noise_is_the_seeds_formula_seeded_per_prompt() -> None:
    item = PromptCandidates("q", "2+2?", ["4", "5", "6"], [1.0, 0.0, 0.0])
    rewards = [[2.0, 5.0, 9.5]]
    assert add_judge_noise(rewards, [item], 0.0) == rewards  # eps = 0: the judge as it is
    z = np.random.default_rng([7, NOISE_STREAM, _key_int(item.key)]).standard_normal(3)
    (noisy,) = add_judge_noise(rewards, [item], 0.1, seed=7)
    assert noisy == pytest.approx(np.clip(np.array(rewards[0]) + 10 * 0.1 * z, 0, 10).tolist())
    assert add_judge_noise(rewards, [item], 0.1, seed=7) == [noisy]  # seeded: the same again
    assert add_judge_noise(rewards, [item], 0.1, seed=8) != [noisy]
    clamped = add_judge_noise([[10.0, 0.0, 10.0]], [item], 5.0, seed=0)[0]
    assert all(x in (0.0, 10.0) for x in clamped)  # 10*5*z is far outside [0, 10] for these z
    with pytest.raises(DataError, match=r"hook:x scores lie in \[12, 12\], outside the 0-10 scale"):
        add_judge_noise([[12.0, 12.0, 12.0]], [item], 0.1, judge="hook:x")
    assert (
        noisy_curve_name("hook:x", 0.0) == "hook:x" and noisy_curve_name("hook:x", 0.5) == "hook:x+noise:0.5"
    )


def test_judge_noise_on_a_hook_judge_through_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    argv = ["scaling", "--candidates", str(FIXTURE), "--judge", "hook:seed_rules_fixed,oracle:0"]
    assert main([*argv, "--k", "3", "--T", "0", "--judge-noise", "0,0.05", "--out", str(out)]) == 0
    points = _points(out)
    # without noise the fixed judge always takes the third generation: right in docs 0 and 2
    assert points[("hook:seed_rules_fixed", 3, 0.0)] == pytest.approx(-2 / 3)
    # eps = 0.05 moves each score by 0.5 * z: the order 2 < 5 < 9.5 holds for every |z| < 3
    assert points[("hook:seed_rules_fixed+noise:0.05", 3, 0.0)] == pytest.approx(-2 / 3)
    assert ("oracle:0+noise:0.05", 3, 0.0) in points
    (info, _) = points["report"]["judges"]
    assert info["noise"] == [0.0, 0.05] and info["reused_prompts"] == 0
    big = [*argv[:3], "--judge", "hook:seed_rules_big", "--k", "3", "--judge-noise", "0.1"]
    assert main([*big, "--out", str(out)]) == 2
    assert "outside the 0-10 scale" in capsys.readouterr().err
    assert main([*argv, "--judge-noise", "0,-1", "--out", str(out)]) == 2
    assert "every noise level must be a finite number >= 0" in capsys.readouterr().err


# ---------------------------------------------------------------- PRM steps

SOLUTION = (
    "Tom has 3 red marbles.\nHe buys 4 blue ones.\nSo he has 3 + 4 = 7 marbles.\n"
    "He gives away 2, leaving 7 - 2 = 5.\nThe answer is 5."
)


def test_prm_steps_on_the_hand_case() -> None:
    assert len(split_steps(SOLUTION)) == 5  # judgerl: its lines
    assert split_steps(SOLUTION, "equals") == [  # the seed: a step ends with a sentence holding "="
        "Tom has 3 red marbles. He buys 4 blue ones. So he has 3 + 4 = 7 marbles.",
        "He gives away 2, leaving 7 - 2 = 5.",
        "The answer is 5.",
    ]
    # the seed cuts at every period, a decimal point too: "2.5" comes back as "2. 5"
    assert split_steps("It costs 2.5 dollars = 250 cents. So 2 * 2.5 = 5.", "equals") == [
        "It costs 2. 5 dollars = 250 cents.",
        "So 2 * 2. 5 = 5.",
    ]
    assert split_steps("", "equals") == [""] and split_steps("no equation here", "equals") == [
        "no equation here"
    ]
    with pytest.raises(ValueError, match=r"PRM step rule must be one of \['lines', 'equals'\]"):
        split_steps("x", "sentences")  # type: ignore[arg-type]


def test_prm_judge_renders_the_chosen_steps(tmp_path: Path) -> None:
    from judgerl.eval.scaling.judges import PRMJudge
    from judgerl.models.tokenizer import train_tokenizer

    tok = train_tokenizer([SOLUTION] * 20, vocab_size=200)
    tok.add_tokens(["<extra_0>"], special_tokens=True)

    class Model:
        config = type("C", (), {"pad_token_id": 0})()

        def eval(self):
            return self

    lines, equals = PRMJudge(Model(), tok), PRMJudge(Model(), tok, step_rule="equals")
    assert lines.render("q", SOLUTION).count("<extra_0>") == 5
    assert equals.render("q", SOLUTION).count("<extra_0>") == 3
    assert "steps" not in lines.fingerprint() and equals.fingerprint()["steps"] == "equals"
    with pytest.raises(ValueError, match="PRM step rule"):
        PRMJudge(Model(), tok, step_rule="bogus")  # type: ignore[arg-type]


def test_seed_rule_flags_are_validated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["scaling", "--candidates", str(FIXTURE), "--judge", "oracle:0", "--out", str(tmp_path)]
    for flag, value in (("--tie-rule", "last"), ("--prm-steps", "sentences"), ("--answer-extraction", "x")):
        with pytest.raises(SystemExit):
            main([*argv, flag, value])
        assert "invalid choice" in capsys.readouterr().err
    with pytest.raises(ValueError, match="tie_rule"):
        ScalingStage(candidates="c.jsonl", tie_rule="last")  # type: ignore[arg-type]
    defaults = ScalingStage(candidates="c.jsonl")
    assert (defaults.tie_rule, defaults.answer_extraction, defaults.prm_steps, defaults.judge_noise) == (
        "share",
        "last",
        "lines",
        [0.0],
    )
    seed = ScalingStage(candidates="c.jsonl", prm_steps="equals", answer_extraction="first")
    options = judge_options(seed, seed=0, progress=False)  # what the prm: and http: judges are built with
    assert (options.prm_steps, options.answer_extraction) == ("equals", "first")


# ---------------------------------------------------------------- HTTP seed body


def test_seed_format_http_body_reads_the_final_answer_in_the_chosen_order() -> None:
    text = "The answer is 18. Then 2 * 8 = 16"
    assert HTTPJudge("http://127.0.0.1:9/score").body("q", text)["final_answer"] == "16"
    seed = HTTPJudge("http://127.0.0.1:9/score", answer_extraction="first")
    assert seed.body("q", text)["final_answer"] == "18" and seed.fingerprint()["answer_extraction"] == "first"
    assert "answer_extraction" not in HTTPJudge("http://127.0.0.1:9/score").fingerprint()

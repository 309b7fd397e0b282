"""Policy GRPO with a served judge: policy rows, config checks, server lifecycle, a short real run,
policy SFT and the exact-match policy evaluation."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from judgerl.core.errors import StageError
from judgerl.core.jsonl import read_json, read_jsonl
from judgerl.core.samples import write_samples
from judgerl.core.stage import StageContext
from judgerl.data_prep.policy_data import answer_correct, policy_rows, policy_sft_rows
from judgerl.data_prep.synthetic import make_synthetic_splits, synthetic_sft_trace
from judgerl.eval.policy_eval import PolicyEvalStage, accuracy_metrics, run_policy_eval
from judgerl.judge_spec.families import PromptSpec
from judgerl.models.tiny import TinyModelSpec, make_tiny_judge
from judgerl.recipe import load_recipe
from judgerl.serving.process import JudgeServerProcess
from judgerl.stages import STAGE_KINDS
from judgerl.trainers.policy_grpo import JudgeServerSpec, PolicyGRPOStage, policy_reward_funcs
from judgerl.trainers.sft import SFTStage, run_sft
from tests.prompts import user_text

REPO = Path(__file__).resolve().parents[2]
SPEC = PromptSpec("strength", instruction="compact")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 1-layer random model (used as policy and as judge) and 12 synthetic judge samples."""
    root = tmp_path_factory.mktemp("policy")
    samples = make_synthetic_splits(12, 2, seed=5).train
    texts = [user_text(s, SPEC) + synthetic_sft_trace(s) for s in samples]
    model = make_tiny_judge(
        root / "model", texts, TinyModelSpec(hidden_size=32, layers=1, heads=2, vocab_size=300)
    )
    data = root / "train.jsonl"
    write_samples(data, samples)
    return model, data


class Recorded:
    """A JudgeServerProcess factory that keeps every server it made (to check they were stopped)."""

    def __init__(self) -> None:
        self.servers: list[JudgeServerProcess] = []

    def __call__(self, *args, **kwargs) -> JudgeServerProcess:
        server = JudgeServerProcess(*args, **kwargs)
        self.servers.append(server)
        return server


def _stage(model: Path, data: Path, **over) -> PolicyGRPOStage:
    base = dict(
        model=str(model),
        data=str(data),
        prompt=SPEC,
        judge_server={"model": str(model), "max_new_tokens": 8, "device": "cpu", "threads": 1},
        num_generations=2,
        batch_size=4,
        max_steps=2,
        max_completion_length=6,
        lr=1e-3,
        logging_steps=1,
        save_steps=2,
    )
    return PolicyGRPOStage(**{**base, **over})


def test_policy_rows_hold_the_question_and_the_true_sum() -> None:
    samples = make_synthetic_splits(5, 0, seed=2).train
    built = policy_rows(samples + [samples[0].swapped()])  # the swapped copy is the same question
    assert len(built.rows) == 5 and built.skipped == [(samples[0].id, "question already seen")]
    for s, row in zip(samples, built.rows, strict=True):
        total = s.metadata["x"] + s.metadata["y"]
        assert row == {
            "id": s.id,
            "prompt": [{"role": "user", "content": f"What is {s.metadata['x']}+{s.metadata['y']}?"}],
            "reference": f"The sum is {total}.",
            "answer": str(total),
            "rejected": (s.response_b if s.label == "a" else s.response_a),
        }
        assert row["rejected"] != row["reference"] and row["rejected"].startswith("The sum is ")
    sft = policy_sft_rows(built.rows[:1])
    assert sft[0]["completion"] == [{"role": "assistant", "content": built.rows[0]["reference"]}]
    assert sft[0]["prompt"] == built.rows[0]["prompt"]
    mixed = policy_sft_rows(built.rows[:2], with_rejected=True)
    assert [m["completion"][0]["content"] for m in mixed] == [
        built.rows[0]["reference"],
        built.rows[0]["rejected"],
        built.rows[1]["reference"],
        built.rows[1]["rejected"],
    ]


def test_exact_match_and_accuracy() -> None:
    row = {"reference": "The sum is 105.", "answer": "105"}
    assert answer_correct("The sum is 105.", row) and answer_correct("105", row)
    assert not answer_correct("The sum is 150.", row) and not answer_correct("The sum is", row)
    assert answer_correct(" yes ", {"reference": "yes", "answer": None})
    rows = [row, row, {"reference": "The sum is 7.", "answer": "7"}]
    assert accuracy_metrics(rows, ["The sum is 105.", "The sum is 15.", "seven"]) == {
        "n": 3,
        "correct": 1,
        "accuracy": 0.3333,
        "answered": 0.6667,
    }


def test_stage_config_checks_rewards_urls_batches_and_prompt() -> None:
    ok = PolicyGRPOStage(model="p", data="d", judge_server={"model": "j"})
    assert ok.rewards == [{"name": "remote_judge", "weight": 1.0}]
    assert ok.judge_server.cli_args(SPEC)[-4:] == ["--prompt", "strength", "--instruction", "compact"]
    with pytest.raises(ValidationError, match=r"rewards \['strength'\] score judgements, not policy answers"):
        PolicyGRPOStage(model="p", data="d", judge_server={"model": "j"}, rewards=["strength"])
    with pytest.raises(ValidationError, match="remote_judge needs a judge: set judge_server"):
        PolicyGRPOStage(model="p", data="d")
    with pytest.raises(ValidationError, match="names url 'http://h:1' while judge_server serves"):
        PolicyGRPOStage(
            model="p",
            data="d",
            judge_server={"model": "j"},
            rewards=[{"name": "remote_judge", "url": "http://h:1"}],
        )
    with pytest.raises(
        ValidationError, match="= 6 completions per generation must be a multiple of num_generations = 4"
    ):
        PolicyGRPOStage(model="p", data="d", judge_server={"model": "j"}, batch_size=6, num_generations=4)
    with pytest.raises(ValidationError, match="judge prompt must be one of"):
        PolicyGRPOStage(
            model="p", data="d", judge_server={"model": "j"}, prompt=PromptSpec("strength", hint="positive")
        )
    with pytest.raises(ValidationError, match="judge_server.max_batch"):
        PolicyGRPOStage(model="p", data="d", judge_server={"model": "j", "max_batch": 0})
    assert JudgeServerSpec(model="j", threads=2).env() == {"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"}
    external = PolicyGRPOStage(model="p", data="d", rewards=[{"name": "remote_judge", "url": "http://h:1"}])
    assert external.judge_server is None


def test_reward_funcs_take_the_served_url_and_the_options() -> None:
    funcs, weights = policy_reward_funcs(
        [{"name": "remote_judge", "weight": 0.5, "timeout": 7.0, "retries": 1}], "http://127.0.0.1:9", 48
    )
    client = funcs[0].client
    assert weights == [0.5] and client.concurrency == 48
    assert (client.url, client.timeout, client.retries) == ("http://127.0.0.1:9", 7.0, 1)
    funcs, _ = policy_reward_funcs([{"name": "remote_judge", "url": "http://other:8"}], "http://127.0.0.1:9")
    assert funcs[0].client.url == "http://other:8"
    with pytest.raises(ValueError, match="no url given and no judge server started"):
        policy_reward_funcs([{"name": "remote_judge"}], None)


def test_judge_server_without_a_factory_is_an_error(tmp_path: Path) -> None:
    from judgerl.trainers.policy_grpo import run_policy_grpo

    stage = PolicyGRPOStage(model="p", data="d", judge_server={"model": "j"})
    with pytest.raises(StageError, match="no server_factory"):
        run_policy_grpo(stage, StageContext("policy_grpo", tmp_path))


def test_sft_target_judge_keeps_its_config_hash_fields() -> None:
    judge = SFTStage(model="m", data="d").model_dump(mode="json")
    assert "target" not in judge  # finished judge SFT stages keep their hash
    assert SFTStage(model="m", data="d", target="policy").model_dump(mode="json")["target"] == "policy"


@pytest.mark.slow
def test_server_is_stopped_when_training_fails(tiny, tmp_path, monkeypatch) -> None:
    import trl

    def boom(self, *args, **kwargs):
        raise RuntimeError("boom inside training")

    monkeypatch.setattr(trl.GRPOTrainer, "train", boom)
    model, data = tiny
    factory = Recorded()
    from judgerl.trainers.policy_grpo import run_policy_grpo

    with pytest.raises(RuntimeError, match="boom inside training"):
        run_policy_grpo(_stage(model, data), StageContext("policy_grpo", tmp_path, progress=False), factory)
    (server,) = factory.servers
    assert server.proc is not None and server.proc.poll() is not None  # started, then stopped
    assert "serving" in (tmp_path / "judge_server.log").read_text()


@pytest.mark.slow
def test_short_run_with_a_served_judge_writes_a_checkpoint_and_logs_the_reward(tiny, tmp_path) -> None:
    model, data = tiny
    factory = Recorded()
    kind = STAGE_KINDS["policy_grpo"]
    assert kind.run.keywords["server_factory"] is JudgeServerProcess  # the wiring judgerl.stages does
    stage = _stage(model, data)
    result = kind.run.func(
        stage, StageContext("policy_grpo", tmp_path, progress=False), server_factory=factory
    )
    (server,) = factory.servers
    assert server.proc.poll() is not None  # stopped after success
    assert (tmp_path / "checkpoint" / "config.json").is_file()
    history = read_json(tmp_path / "log_history.json")
    rewards = [h["rewards/remote_judge/mean"] for h in history if "rewards/remote_judge/mean" in h]
    assert len(rewards) == 2 and all(0.0 <= r <= 1.0 for r in rewards)
    assert all(0.0 <= h["answer_match"] <= 1.0 for h in history if "answer_match" in h)
    curve = read_json(tmp_path / "reward_curve.json")
    assert [p["step"] for p in curve] == [1, 2] and {"reward", "answer_match"} <= set(curve[0])
    assert (tmp_path / "reward_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    m = result.metrics
    assert m["steps"] == 2 and m["train_prompts"] == 12 and m["reward_curve"]["points"] == 2
    # 2 steps x 4 completions, each judged against its reference in both orders
    assert m["judge_server"]["judgements"] == 16
    assert m["judge_server"]["requests"]["/v1/score"] == {"200": 8}


@pytest.mark.slow
def test_policy_sft_and_eval_on_the_tiny_model(tiny, tmp_path) -> None:
    model, data = tiny
    sft = run_sft(
        SFTStage(model=str(model), data=str(data), target="policy", max_steps=2, batch_size=4, max_length=64),
        StageContext("policy_sft", tmp_path / "sft", progress=False),
    )
    assert sft.metrics["train_rows"] == 12 and sft.metrics["steps"] == 2
    result = run_policy_eval(
        PolicyEvalStage(model=sft.outputs["checkpoint"], data=str(data), max_samples=5, max_new_tokens=6),
        StageContext("policy_eval", tmp_path / "eval", progress=False),
    )
    preds = list(read_jsonl(tmp_path / "eval" / "predictions.jsonl"))
    assert len(preds) == 5 and {"id", "question", "answer", "completion", "correct"} <= set(preds[0])
    assert result.metrics["n"] == 5 and result.metrics["correct"] == sum(p["correct"] for p in preds)
    assert read_json(tmp_path / "eval" / "metrics.json")["accuracy"] == result.metrics["accuracy"]
    # a mixed policy is taught both answers of each question; sampled evaluation counts every answer
    mixed = run_sft(
        SFTStage(
            model=str(model), data=str(data), target="policy_mixed", max_steps=1, batch_size=4, max_length=64
        ),
        StageContext("policy_sft", tmp_path / "mixed", progress=False),
    )
    assert mixed.metrics["train_rows"] == 24
    sampled = run_policy_eval(
        PolicyEvalStage(
            model=mixed.outputs["checkpoint"],
            data=str(data),
            max_samples=5,
            max_new_tokens=6,
            temperature=1.0,
            samples=3,
        ),
        StageContext("policy_eval", tmp_path / "sampled", seed=1, progress=False),
    )
    rows = list(read_jsonl(tmp_path / "sampled" / "predictions.jsonl"))
    assert len(rows) == 15 and [r["id"] for r in rows[:3]] == [rows[0]["id"]] * 3
    assert sampled.metrics["n"] == 15 and sampled.metrics["questions"] == 5
    assert sampled.metrics["correct"] == sum(r["correct"] for r in rows)
    with pytest.raises(ValidationError, match="samples = 3 needs temperature > 0"):
        PolicyEvalStage(model="m", data="d", samples=3)


def test_policy_with_judge_recipe_wires_judge_policy_and_evals() -> None:
    recipe = load_recipe(REPO / "recipes" / "policy_with_judge.yaml")
    names = list(recipe.stages)
    assert names.index("sft") < names.index("policy_sft") < names.index("policy_mix")
    assert names.index("policy_mix") < names.index("policy_eval_before") < names.index("policy_grpo")
    assert names.index("policy_grpo") < names.index("policy_eval_after")
    grpo = recipe.stages["policy_grpo"]
    assert grpo.judge_server.model == str(recipe.stage_dir("sft") / "checkpoint")
    assert grpo.model == str(recipe.stage_dir("policy_mix") / "checkpoint")
    assert grpo.prompt == PromptSpec("strength", instruction="compact")  # the judge's training prompt
    assert recipe.stages["policy_sft"].target == "policy"
    assert recipe.stages["policy_mix"].model == str(recipe.stage_dir("policy_sft") / "checkpoint")
    assert recipe.stages["policy_mix"].target == "policy_mixed"
    # before and after are measured alike: sampled at GRPO's temperature, and greedy
    for when in ("before", "after"):
        sampled, greedy = recipe.stages[f"policy_eval_{when}"], recipe.stages[f"policy_greedy_{when}"]
        assert (sampled.temperature, sampled.samples, greedy.temperature) == (grpo.temperature, 4, 0.0)
    after = recipe.stages["policy_eval_after"]
    assert after.model == str(recipe.stage_dir("policy_grpo") / "checkpoint")
    assert (
        after.data == recipe.stages["policy_eval_before"].data == str(recipe.stage_dir("data") / "test.jsonl")
    )

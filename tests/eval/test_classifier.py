"""Classifier reward models as judges (`scoring: classifier`): a tiny Qwen2ForSequenceClassification built
here scores responses as RewardBench renders them; the eval, JudgeBench and RewardBench stages put its
verdicts in the same tables as a generative judge's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import AutoConfig, AutoTokenizer, Qwen2ForSequenceClassification

import judgerl.eval.classifier as classifier_module
from judgerl.cli.main import main
from judgerl.core.samples import write_samples
from judgerl.core.stage import StageContext
from judgerl.core.types import JudgeSample
from judgerl.eval.classifier import ClassifierScorer, classifier_rows, load_classifier
from judgerl.eval.judgebench.stage import JudgeBenchStage, run_judgebench
from judgerl.eval.rewardbench.scoring import V1_SUBSETS
from judgerl.eval.rewardbench.stage import OUTPUTS, RewardBenchStage, run_rewardbench
from judgerl.eval.stage import EvalStage, run_eval
from judgerl.models.tiny import TinyModelSpec, make_tiny_judge

from .test_judgebench import jb_row, write_judgebench
from .test_rewardbench import MARK, write_v1_file, write_v2_file

pytestmark = pytest.mark.usefixtures("one_torch_thread")

SPEC = TinyModelSpec(
    hidden_size=32, layers=1, heads=2, intermediate_size=64, vocab_size=300, max_position=256
)


@pytest.fixture(scope="module")
def tiny_classifier(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(a tiny sequence-classification reward model, the causal LM it was shaped from)."""
    root = tmp_path_factory.mktemp("classifier")
    texts = ["which answer is right? the sum is 12, no it is 13 or maybe 14"] * 20
    causal = make_tiny_judge(root / "causal", texts, SPEC, seed=0)
    config = AutoConfig.from_pretrained(causal)
    config.num_labels = 1
    config.architectures = ["Qwen2ForSequenceClassification"]
    torch.manual_seed(0)
    model = Qwen2ForSequenceClassification(config)
    model.save_pretrained(root / "rm")
    AutoTokenizer.from_pretrained(causal).save_pretrained(root / "rm")
    return root / "rm", causal


def _samples(n: int = 6) -> list[JudgeSample]:
    q = [{"role": "user", "content": "the sum is?"}]
    return [
        JudgeSample(
            f"s{i}", "t", q, f"the sum is {12 + i}", "no" * (i + 1), "a" if i % 2 else "b", subset="x"
        )
        for i in range(n)
    ]


class FakeScorer:
    """Scores a response by how often it holds MARK (and `fixed` for chosen texts, to force ties)."""

    def __init__(self, fixed: dict[str, float] | None = None) -> None:
        self.calls: list[int] = []
        self.fixed = fixed or {}

    def score(self, conversations, desc=""):
        self.calls.append(len(conversations))
        texts = [c[-1]["content"] for c in conversations]
        return [self.fixed.get(t, float(t.count(MARK))) for t in texts]


def test_responses_are_rendered_with_the_chat_template_as_rewardbench_does(tiny_classifier) -> None:
    scorer = load_classifier(str(tiny_classifier[0]))
    messages = [{"role": "user", "content": "the sum is?"}, {"role": "assistant", "content": "12"}]
    text = scorer.tokenizer.apply_chat_template(messages, tokenize=False)
    assert text.endswith("<|im_start|>assistant\n12<|im_end|>\n")
    assert scorer._encode(messages) == scorer.tokenizer(text)["input_ids"]
    long = [messages[0], {"role": "assistant", "content": "no " * 400}]
    assert len(scorer._encode(long)) == 256  # left-truncated to the model's context


def test_batched_scores_equal_one_forward_pass_each(tiny_classifier) -> None:
    scorer = load_classifier(str(tiny_classifier[0]), batch_size=3)
    conversations = [
        [{"role": "user", "content": "the sum is?"}, {"role": "assistant", "content": "12 " * k}]
        for k in range(1, 6)
    ]
    batched = scorer.score(conversations)
    for conversation, value in zip(conversations, batched, strict=True):
        ids = torch.tensor([scorer._encode(conversation)])
        alone = scorer.model(input_ids=ids).logits[0, 0].item()
        assert value == pytest.approx(alone, abs=1e-5)  # left padding changed nothing
    assert len(set(batched)) == 5


def test_a_checkpoint_without_a_classification_head_is_refused(tiny_classifier) -> None:
    with pytest.raises(ValueError, match="needs a sequence-classification checkpoint .* is Qwen2ForCausalLM"):
        load_classifier(str(tiny_classifier[1]))
    with pytest.raises(ValueError, match="num_labels 2"):
        model = Qwen2ForSequenceClassification(AutoConfig.from_pretrained(tiny_classifier[1], num_labels=2))
        ClassifierScorer(model, AutoTokenizer.from_pretrained(tiny_classifier[1]))


def test_both_orders_give_the_same_verdict_by_construction_and_equal_scores_tie() -> None:
    q = [{"role": "user", "content": "q"}]
    samples = [
        JudgeSample("1", "t", q, f"good {MARK}", "bad", "a"),
        JudgeSample("2", "t", q, "bad", f"good {MARK}", "b"),
        JudgeSample("3", "t", q, "same", "also same", "a"),  # equal scores
    ]
    scorer = FakeScorer()
    rows = classifier_rows(scorer, samples)
    assert scorer.calls == [6]  # each response scored once; the swapped order reuses the scores
    assert [(r["sample_id"], r["order"], r["verdict"]["choice"], r["correct"]) for r in rows] == [
        ("1", "ab", "a", True),
        ("1", "ba", "b", True),
        ("2", "ab", "b", True),
        ("2", "ba", "a", True),
        ("3", "ab", "tie", False),
        ("3", "ba", "tie", False),
    ]
    assert (
        rows[1]["classifier"] == {"a": 0.0, "b": 1.0}
        and rows[1]["completion"] == "score (a) 0.0000, score (b) 1.0000"
    )


def test_eval_stage_and_cli_score_a_real_tiny_classifier(tiny_classifier, tmp_path: Path, capsys) -> None:
    data = tmp_path / "test.jsonl"
    write_samples(data, _samples())
    stage = EvalStage(model=str(tiny_classifier[0]), data=str(data), scoring="classifier", batch_size=4)
    result = run_eval(stage, StageContext("eval_rm", tmp_path / "out", seed=0))
    m = json.loads(Path(result.outputs["metrics"]).read_text())
    over = m["overall"]
    assert (m["scoring"], m["judge_spec"], over["n_judgements"], over["parse_failure_rate"]) == (
        "classifier",
        None,
        12,
        0.0,
    )
    assert over["agreement"] == 1.0 and over["position_bias"] == 0.0  # by construction
    assert over["pair_accuracy"] == over["single_accuracy"]
    table = Path(result.outputs["table"]).read_text()
    assert "both orders give the same verdict by construction" in table and "| consistent acc |" in table
    rows = [json.loads(x) for x in Path(result.outputs["predictions"]).read_text().splitlines()]
    scores = load_classifier(str(tiny_classifier[0])).score(
        [[*s.conversation, {"role": "assistant", "content": s.response_a}] for s in _samples()[:1]]
    )
    assert rows[0]["classifier"]["a"] == pytest.approx(scores[0], abs=1e-5)
    # the CLI: --scoring classifier, and a stratified draw recorded in data.json
    out = tmp_path / "cli"
    argv = ["eval", "--model", str(tiny_classifier[0]), "--data", str(data), "--out", str(out)]
    assert main([*argv, "--scoring", "classifier", "--max-samples", "4", "--subsample", "stratified"]) == 0
    printed = capsys.readouterr().out
    assert "kept 4 of 6 samples (stratified, seed 0; x 4)" in printed and "by construction" in printed
    report = json.loads((out / "data.json").read_text())
    assert report["subsample"]["mode"] == "stratified" and report["judged"] == 4
    assert json.loads((out / "metrics.json").read_text())["overall"]["n_items"] == 4


def test_judgebench_stage_with_a_classifier(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(classifier_module, "load_classifier", lambda *a, **k: FakeScorer())
    rows = [jb_row("k1", "mmlu-pro-law", response_A=f"A {MARK}"), jb_row("k2", "livecodebench", "B>A")]
    stage = JudgeBenchStage(
        model="rm", data=str(write_judgebench(tmp_path / "jb.jsonl", rows)), scoring="classifier"
    )
    result = run_judgebench(stage, StageContext("jb", tmp_path / "out", seed=0))
    m = json.loads(Path(result.outputs["metrics"]).read_text())
    # k1: (a) holds the mark, right in both orders; k2: equal scores, a tie in both orders scores 0
    assert m["overall"] == 0.5 and m["scoring"] == "classifier" and m["judge_spec"] is None
    assert m["pairwise_overall"]["tie_rate"] == 0.5 and m["pairwise_overall"]["agreement"] == 1.0
    assert "by construction" in Path(result.outputs["table"]).read_text()


def test_rewardbench_v1_and_v2_with_a_classifier(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(classifier_module, "load_classifier", lambda *a, **k: FakeScorer())
    stage = RewardBenchStage(
        model="rm", data=str(write_v1_file(tmp_path / "rb.jsonl")), scoring="classifier", plots=False
    )
    result = run_rewardbench(stage, StageContext("rb", tmp_path / "v1", seed=0))
    m = json.loads((tmp_path / "v1" / OUTPUTS["metrics"]).read_text())
    # "blank" rows (no mark on either side) tie: the classifier rule scores them 0, not the generative 0.5
    assert m["subsets"]["alpacaeval-easy"]["accuracy"] == 0.5 and m["prompt"] == {"scoring": "classifier"}
    board = json.loads((tmp_path / "v1" / OUTPUTS["leaderboard"]).read_text())
    assert board["model_type"] == "Seq. Classifier" and set(board) == {
        "model",
        "model_type",
        "chat_template",
        *V1_SUBSETS,
    }
    assert result.metrics["position_bias"] == 0.0
    stage = RewardBenchStage(
        model="rm", version=2, data=str(write_v2_file(tmp_path / "rb2.jsonl")), scoring="classifier"
    )
    run_rewardbench(stage.model_copy(update={"plots": False}), StageContext("rb2", tmp_path / "v2", seed=0))
    m = json.loads((tmp_path / "v2" / OUTPUTS["metrics"]).read_text())
    acc = {k: v["accuracy"] for k, v in m["subsets"].items()}
    # f2: an incorrect response holds the mark; p1: four equal scores, 1/4 (1/number tied at the top)
    assert (acc["Factuality"], acc["Precise IF"], acc["Math"], acc["Focus"]) == (0.5, 0.25, 1.0, 1.0)
    assert m["protocol"] == "classifier" and m["n_generated"] == 4 * 6 + 3 + 3
    assert not (tmp_path / "v2" / "leaderboard_judge.json").exists()  # no pairs: no judge metrics

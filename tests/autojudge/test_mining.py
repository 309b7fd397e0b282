"""Mining (Algorithm 1) on a scripted toy whose important/unimportant mismatches are known in advance."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from judgerl.autojudge import mining
from judgerl.autojudge.checkers import GSM8KChecker, VerdictChecker, get_checker, register_checker
from judgerl.autojudge.mining import MiningItem, mine, mine_item, mining_summary, read_records
from judgerl.core.errors import DataError

EOS, VOCAB, PROMPT = 0, 16, [1, 2, 3]
FILLER = [5, 6, 7, 8]


def target_rule(done: list[int]) -> int:
    """Filler by position, then an answer that depends only on the token at position 1, then EOS."""
    if len(done) < len(FILLER):
        return FILLER[len(done)]
    if len(done) == len(FILLER):
        return 11 if done[1] == 9 else 10
    return EOS


def draft_rule(done: list[int]) -> int:
    """Like the target, but it writes 9 at positions 1 (changes the answer) and 3 (does not)."""
    return 9 if len(done) in (1, 3) else target_rule(done)


class ScriptedLM(torch.nn.Module):
    """A causal LM whose argmax follows `rule(completion so far)`; the KV cache stores the token ids."""

    def __init__(self, rule) -> None:
        super().__init__()
        self.rule = rule
        self.config = SimpleNamespace(vocab_size=VOCAB, hidden_size=4, pad_token_id=0)
        self.generation_config = SimpleNamespace(eos_token_id=EOS)
        self.calls = 0

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    def forward(self, input_ids, past_key_values=None, use_cache=False, output_hidden_states=False, **_):
        self.calls += 1
        past: list[int] = []
        if past_key_values is not None and past_key_values.get_seq_length() > 0:
            past = past_key_values.layers[0].keys[0, 0, :, 0].long().tolist()
        new = input_ids[0].tolist()
        if past_key_values is not None:
            k = torch.tensor(new, dtype=torch.float32).view(1, 1, -1, 1)
            past_key_values.update(k, k.clone(), 0)
        context = past + new
        logits = torch.zeros(1, len(new), VOCAB)
        for i in range(len(new)):
            upto = context[: len(past) + i + 1]
            logits[0, i, self.rule(upto[len(PROMPT) :])] = 1.0
        return SimpleNamespace(logits=logits, hidden_states=None)


class FakeTokenizer:
    eos_token_id = EOS
    chat_template = "{{ messages[-1]['content'] }}"  # what apply_chat_template below renders

    def get_vocab(self):
        return {str(i): i for i in range(VOCAB)}

    def decode(self, ids, skip_special_tokens=True):
        return " ".join(str(i) for i in ids if not (skip_special_tokens and i == EOS))

    def apply_chat_template(self, messages, tokenize=False, add_generation_prompt=True):
        return messages[-1]["content"]

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": list(PROMPT)}


def test_scripted_labels_are_known():
    rec = mine_item(
        ScriptedLM(draft_rule), ScriptedLM(target_rule), FakeTokenizer(), PROMPT, GSM8KChecker(), 16
    )
    assert rec["reference_ids"] == [5, 6, 7, 8, 10, EOS]
    assert rec["target_answer"] == "10" and rec["draft_answer"] == "11"
    assert rec["mismatches"] == [
        {"position": 1, "important": True, "target_token": 6, "draft_token": 9},
        {"position": 3, "important": False, "target_token": 8, "draft_token": 9},
    ]
    # The unimportant swap is kept, the important one is not.
    assert rec["final_ids"] == [5, 6, 7, 9, 10, EOS]
    assert rec["final_answer"] == "10"


def test_max_mismatches_and_budget():
    rec = mine_item(
        ScriptedLM(draft_rule),
        ScriptedLM(target_rule),
        FakeTokenizer(),
        PROMPT,
        GSM8KChecker(),
        16,
        max_mismatches=1,
    )
    assert len(rec["mismatches"]) == 1 and rec["final_ids"] == rec["reference_ids"]
    short = mine_item(
        ScriptedLM(draft_rule), ScriptedLM(target_rule), FakeTokenizer(), PROMPT, GSM8KChecker(), 3
    )
    assert short["reference_ids"] == [5, 6, 7] and short["target_answer"] == "7"


def test_mine_resumes_and_skips_finished_items(tmp_path, monkeypatch):
    out = tmp_path / "mining.jsonl"
    items = [MiningItem(i, [{"role": "user", "content": "q"}]) for i in ("a", "b", "c")]
    args = (ScriptedLM(draft_rule), ScriptedLM(target_rule), FakeTokenizer())
    first = mine(*args, items[:2], GSM8KChecker(), out, max_new_tokens=16, progress=False)
    assert [r["id"] for r in first] == ["a", "b"]
    # An interrupted append leaves a torn last line: it is cut off and that item is mined again.
    with open(out, "a") as f:
        f.write('{"id": "c", "prompt_')
    calls = []
    real = mining.mine_item
    monkeypatch.setattr(mining, "mine_item", lambda *a, **k: calls.append(1) or real(*a, **k))
    allrec = mine(*args, items, GSM8KChecker(), out, max_new_tokens=16, progress=False)
    assert len(calls) == 1 and [r["id"] for r in allrec] == ["a", "b", "c"]
    assert [r["id"] for r in read_records(out)] == ["a", "b", "c"]
    s = mining_summary(allrec)
    assert s["mismatches"] == 6 and s["important_share"] == 0.5 and s["draft_agrees_with_target"] == 0.0
    with pytest.raises(Exception, match="unique ids"):
        mine(*args, [items[0], items[0]], GSM8KChecker(), out, progress=False)


def test_read_records_rejects_corruption_in_the_middle(tmp_path):
    p = tmp_path / "m.jsonl"
    p.write_text('{"id": "a"}\nnot json\n{"id": "b"}\n')
    with pytest.raises(DataError, match="unreadable line at byte 12"):
        read_records(p)


def test_checkers():
    c = get_checker("synthetic")
    good = "<think>x</think>\nTherefore, Response (a) is better, and the strength is [[3]]."
    assert isinstance(c, VerdictChecker) and c.extract(good) == "a:3"
    assert get_checker("verdict").extract(good) == "a"
    g = GSM8KChecker()
    assert g.extract("first 12 then #### 1,234") == "1234" and g.same("1234", "1234.0")
    register_checker("last_word", lambda: SimpleNamespace(extract=lambda t: t.split()[-1], same=str.__eq__))
    assert get_checker("last_word").extract("a b") == "b"
    with pytest.raises(ValueError, match="unknown answer checker"):
        get_checker("nope")


def test_mining_real_tiny_models_keeps_its_invariants():
    from judgerl.models.tiny import TinyModelSpec, build_tiny_model
    from judgerl.models.tokenizer import train_tokenizer

    tok = train_tokenizer([f"What is {a}+{b}? {a + b}" for a in range(30) for b in range(10)], vocab_size=300)
    spec = TinyModelSpec(hidden_size=32, layers=1, heads=2, vocab_size=300)
    target, draft = build_tiny_model(spec, tok, seed=0), build_tiny_model(spec, tok, seed=1)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():  # unit-scale weights: a default-init tiny model repeats one token forever
        for model in (target, draft):
            for p in model.parameters():
                if p.dim() == 2:
                    p.copy_(torch.randn(p.shape, generator=gen) * p.shape[1] ** -0.5 * 3)
    prompt = tok("What is 12+7?", add_special_tokens=False)["input_ids"]
    rec = mine_item(draft, target, tok, prompt, GSM8KChecker(), max_new_tokens=10)
    positions = [m["position"] for m in rec["mismatches"]]
    assert positions == sorted(set(positions)) and rec["mismatches"]
    for m in rec["mismatches"]:
        assert m["draft_token"] != m["target_token"]
        # Later swaps only touch later positions: the final sequence holds each kept decision.
        assert rec["final_ids"][m["position"]] == (m["target_token"] if m["important"] else m["draft_token"])
    assert rec["final_answer"] == rec["target_answer"] or not rec["mismatches"][-1]["important"]


def _sharp_tiny_pair():
    from judgerl.models.tiny import TinyModelSpec, build_tiny_model
    from judgerl.models.tokenizer import train_tokenizer

    tok = train_tokenizer([f"What is {a}+{b}? {a + b}" for a in range(30) for b in range(10)], vocab_size=300)
    spec = TinyModelSpec(hidden_size=32, layers=1, heads=2, vocab_size=300)
    target, draft = build_tiny_model(spec, tok, seed=0), build_tiny_model(spec, tok, seed=1)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in target.parameters():
            if p.dim() == 2:
                p.copy_(torch.randn(p.shape, generator=gen) * p.shape[1] ** -0.5 * 3)
        # The draft: a perturbed copy of the target, so that some swaps keep the answer.
        draft.load_state_dict({k: v + 0.3 * torch.randn_like(v) for k, v in target.state_dict().items()})
    return target, draft, tok


def test_batched_mining_equals_unbatched(tmp_path):
    target, draft, tok = _sharp_tiny_pair()
    questions = [
        f"What is {a}+{b}?" for a, b in [(12, 7), (3, 4), (25, 9), (1, 1), (17, 2), (8, 30), (29, 5)]
    ]
    items = [MiningItem(f"q{i}", q) for i, q in enumerate(questions)]  # raw strings: different lengths
    checker = GSM8KChecker()
    full = None
    for max_mm in (None, 2):
        one = mine(draft, target, tok, items, checker, tmp_path / f"one{max_mm}.jsonl", 12, max_mm, False)
        many = mine(
            draft,
            target,
            tok,
            items,
            checker,
            tmp_path / f"many{max_mm}.jsonl",
            12,
            max_mm,
            False,
            batch_size=3,
        )
        assert many == one
        assert len(read_records(tmp_path / f"many{max_mm}.jsonl")) == len(items)
        full = full or one
    assert full is not None and sum(len(r["mismatches"]) for r in full) >= 7
    assert {m["important"] for r in full for m in r["mismatches"]} == {True, False}
    # Resume: a batched rerun over a partly mined file mines only the missing items.
    path = tmp_path / "resume.jsonl"
    mine(draft, target, tok, items[:4], checker, path, 12, None, False, batch_size=3)
    allrec = mine(draft, target, tok, items, checker, path, 12, None, False, batch_size=3)
    assert allrec == full
    with pytest.raises(ValueError, match="batch_size"):
        mine(draft, target, tok, items, checker, path, batch_size=0)

"""Gemma's real tokenizer on a tiny random Gemma3 model: template, special tokens, padding, truncation, stopping.

The tokenizer is read from the GGUF file once per session (the slow part); every test then runs in seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from judgerl.models.chat_templates import GEMMA_TEMPLATE
from judgerl.models.generation import SamplingSpec, render_prompts, stop_token_ids
from judgerl.models.generation.hf import HFGenerator
from judgerl.models.loading import load_model_and_tokenizer

pytestmark = pytest.mark.slow  # the session fixture reads the 262k-token vocabulary from GGUF (12-40 s)

BOS, EOS, PAD, START, END = 2, 1, 0, 105, 106
PROMPTS = [
    [{"role": "user", "content": "Which is larger, 7 or 12? Answer briefly."}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}],
]


@pytest.fixture
def gemma_pair(tiny_gemma: Path):
    return load_model_and_tokenizer(str(tiny_gemma), dtype="float32", device="cpu")


def test_imported_folder_carries_the_template_and_fixed_stop_tokens(tiny_gemma: Path) -> None:
    gen = json.loads((tiny_gemma / "generation_config.json").read_text())
    assert gen["eos_token_id"] == [EOS, END] and gen["pad_token_id"] == PAD
    manifest = json.loads((tiny_gemma.parent / "import.json").read_text())["metrics"]
    assert manifest["stop_tokens"] == ["<eos>", "<end_of_turn>"] and manifest["chat_template"] == "gemma"


def test_rendered_prompt_has_one_bos_and_single_turn_tokens(gemma_pair) -> None:
    _, tok = gemma_pair
    assert tok.chat_template == GEMMA_TEMPLATE
    text = render_prompts(tok, PROMPTS[1:])[0]
    assert text == "<bos><start_of_turn>user\nBe brief.\n\n2+2?<end_of_turn>\n<start_of_turn>model\n"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert ids[0] == BOS and ids.count(BOS) == 1 and ids.count(START) == 2 and ids.count(END) == 1
    assert tok.decode(ids[-3:]) == "<start_of_turn>model\n"


def test_left_padded_batches_generate_what_single_prompts_do(gemma_pair) -> None:
    model, tok = gemma_pair
    assert tok.padding_side == "left" and tok.pad_token_id == PAD
    gen = HFGenerator(model, tok)
    spec = SamplingSpec(max_new_tokens=6)
    batched = gen.generate(PROMPTS, spec, progress=False)
    single = [gen.generate([p], spec, progress=False)[0] for p in PROMPTS]
    assert batched == single and all(len(c[0]) > 0 for c in batched)


def _always(model: torch.nn.Module, token: int) -> None:
    """Make every next-token prediction `token` (a biased LM head)."""
    head = torch.nn.Linear(model.config.hidden_size, model.config.vocab_size, bias=True)
    with torch.no_grad():
        head.weight.zero_()
        head.bias.zero_()
        head.bias[token] = 10.0
    model.lm_head = head


def test_generation_stops_at_end_of_turn_not_only_at_eos(gemma_pair) -> None:
    model, tok = gemma_pair
    assert stop_token_ids(tok, model) == [EOS, END]
    _always(model, END)
    gen = HFGenerator(model, tok)
    batch = tok(render_prompts(tok, PROMPTS[:1]), add_special_tokens=False, return_tensors="pt")
    out = model.generate(
        **batch, generation_config=gen._generation_config(SamplingSpec(max_new_tokens=20), 1)
    )
    assert out.shape[1] - batch["input_ids"].shape[1] == 1 and out[0, -1] == END
    assert gen.generate(PROMPTS[:1], SamplingSpec(max_new_tokens=20), progress=False) == [[""]]
    model.generation_config.eos_token_id = EOS  # Gemma's base config: <end_of_turn> alone does not stop it
    tok.chat_template = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    assert stop_token_ids(tok, model) == [EOS]


def test_prompt_completion_sft_rows_train_and_truncate_without_generation_markers(
    gemma_pair, tmp_path: Path
) -> None:
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    model, tok = gemma_pair
    tok.chat_template = GEMMA_TEMPLATE.replace("{%- generation %}", "").replace("{%- endgeneration %}", "")
    tok.padding_side = "right"
    medium, long = "Compare the two answers carefully. " * 8, "Compare the two answers carefully. " * 30
    pairs = [("2+2?", "a"), (medium, "b"), (long, "b")]
    rows = [
        {
            "prompt": [{"role": "user", "content": q}],
            "completion": [{"role": "assistant", "content": f"Therefore, Response ({c}) is better."}],
        }
        for q, c in pairs
    ]
    args = SFTConfig(
        output_dir=str(tmp_path), max_steps=2, per_device_train_batch_size=2, max_length=64, use_cpu=True,
        bf16=False, report_to=[], logging_steps=1, save_strategy="no", dataloader_pin_memory=False,
    )  # fmt: skip
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tok)
    data = trainer.train_dataset
    # TRL cuts rows at max_length from the end and drops a row whose prompt alone fills it (no loss left)
    assert len(data) == 2 and [len(r["input_ids"]) for r in data][1] == 64
    for row in data:
        assert row["input_ids"][0] == BOS and row["input_ids"].count(BOS) == 1
    targets = [
        tok.decode([t for t, y in zip(r["input_ids"], r["labels"], strict=True) if y != -100]) for r in data
    ]
    assert (
        targets[0] == "Therefore, Response (a) is better.<end_of_turn>\n"
    )  # the loss covers the completion only
    assert len(targets[1]) > 0 and "Therefore, Response (b) is better.<end_of_turn>\n".startswith(targets[1])
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert len(losses) == 2 and all(torch.isfinite(torch.tensor(losses)))


def test_logprob_scores_past_the_sliding_window_equal_a_plain_forward(gemma_pair) -> None:
    from judgerl.judge_spec.presets import builtin_spec
    from judgerl.judge_spec.writing import verdict_candidates
    from judgerl.models.scoring import continuation_logprobs

    model, tok = gemma_pair  # sliding_window 32: the prompt below is several windows long
    text = render_prompts(tok, [[{"role": "user", "content": "Which answer is right? " * 20}]])[0]
    sentences = [c[2] for c in verdict_candidates(builtin_spec("strength"))]
    scores = continuation_logprobs(model, tok, text, sentences)
    seqs = [tok(text + s, add_special_tokens=False)["input_ids"] for s in sentences]
    shared = next(i for i in range(len(seqs[0])) if len({tuple(s[: i + 1]) for s in seqs}) > 1)
    assert shared > 3 * model.config.sliding_window
    with torch.no_grad():
        for seq, got in zip(seqs, scores, strict=True):
            logp = torch.log_softmax(model(input_ids=torch.tensor([seq])).logits[0, :-1].float(), dim=-1)
            want = logp[torch.arange(len(seq) - 1), torch.tensor(seq[1:])][shared - 1 :].sum()
            assert got == pytest.approx(float(want), abs=1e-3)

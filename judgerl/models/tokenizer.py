"""A byte-level BPE tokenizer trained locally, with one token per digit and a ChatML template."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
from transformers import PreTrainedTokenizerFast

from judgerl.models.chat_templates import CHATML_TEMPLATE

PAD_TOKEN = "<|pad|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
ENDOFTEXT = "<|endoftext|>"
SPECIAL_TOKENS: tuple[str, ...] = (PAD_TOKEN, IM_START, IM_END, ENDOFTEXT)

# Qwen2's pre-tokenizer regex. AutoTokenizer rebuilds a qwen2 checkpoint's tokenizer as Qwen2Tokenizer
# (NFC + this Split + ByteLevel), whatever tokenizer.json says; training under the same pipeline
# makes the reloaded tokenizer identical. `\p{N}` alone already isolates every digit.
QWEN2_SPLIT_REGEX = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""


def _empty_bpe() -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_SPLIT_REGEX), behavior="isolated", invert=False),
            # A no-op after the split above, kept so that digit isolation never rests on a regex alone.
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    # trim_offsets=False keeps every character mapped to a token (the assistant mask relies on it).
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


def train_tokenizer(
    texts: Iterable[str], vocab_size: int = 1024, out_dir: Path | str | None = None
) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer (digits split, ChatML special tokens and template).

    Pre-tokenization is Qwen2's (NFC, Qwen2 split regex, one token per digit, ByteLevel), so
    AutoTokenizer reloads it identically from a qwen2 or llama checkpoint folder. The vocabulary holds the 256 byte symbols, the four special tokens and up to
    `vocab_size` entries in all; a small corpus may yield fewer. pad is `<|pad|>`,
    eos is `<|im_end|>`, there is no bos (as in Qwen2). Saved with `save_pretrained`
    when `out_dir` is given.

    Usage: tok = train_tokenizer(["What is 12 + 7?", ...], vocab_size=400, out_dir="ckpt")
    """
    tok = _empty_bpe()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(iter(texts), trainer)
    hf_tok = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token=PAD_TOKEN,
        eos_token=IM_END,
        bos_token=None,
        unk_token=None,
        additional_special_tokens=[IM_START, ENDOFTEXT],
        chat_template=CHATML_TEMPLATE,
    )
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        hf_tok.save_pretrained(str(out_dir))
    return hf_tok

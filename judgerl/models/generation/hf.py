"""The Hugging Face generation backend: left-padded, length-sorted batches through `model.generate`."""

from __future__ import annotations

from typing import Any

import torch
from tqdm.auto import tqdm
from transformers import GenerationConfig, PreTrainedModel, PreTrainedTokenizerBase

from judgerl.models.generation.base import Prompts, SamplingSpec, render_prompts, stop_token_ids
from judgerl.models.loading import load_model_and_tokenizer


class HFGenerator:
    """Left-padded, length-sorted batched generation with `model.generate` (KV cache on).

    Usage: HFGenerator(model, tok).generate([[{"role": "user", "content": "2+2?"}]], SamplingSpec())
    """

    def __init__(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> None:
        self.model = model
        self.tokenizer = tokenizer
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token

    def _generation_config(self, spec: SamplingSpec, n: int) -> GenerationConfig:
        cfg = dict(
            max_new_tokens=spec.max_new_tokens,
            eos_token_id=stop_token_ids(self.tokenizer, self.model),
            pad_token_id=self.tokenizer.pad_token_id,
            use_cache=True,
            num_return_sequences=n,
        )
        # Unset fields are filled from the checkpoint's generation_config.json (e.g. Qwen's
        # repetition_penalty 1.05): pin the ones that would make HF and vLLM disagree.
        cfg.update(repetition_penalty=1.0)
        if spec.greedy:
            # Unused when greedy; these are HF's neutral values, which keep its flag validation quiet.
            cfg.update(do_sample=False, temperature=1.0, top_p=1.0, top_k=50)
        else:
            cfg.update(do_sample=True, temperature=spec.temperature, top_p=spec.top_p, top_k=spec.top_k)
        return GenerationConfig(**cfg)

    @torch.inference_mode()
    def generate(
        self, prompts: Prompts, spec: SamplingSpec, progress: bool = True, desc: str = "generating"
    ) -> list[list[str]]:
        """Return `spec.n` completions for each prompt (new text, special tokens skipped), in input order.

        Greedy decoding computes one completion and repeats it n times (they would be equal).

        Usage: outs = gen.generate(prompts, SamplingSpec(temperature=0.7, n=4)); outs[i][j]
        """
        if not prompts:
            return []
        self.model.eval()
        texts = render_prompts(self.tokenizer, prompts)
        add_special = [isinstance(p, str) for p in prompts]
        encoded = [
            self.tokenizer(t, add_special_tokens=a)["input_ids"]
            for t, a in zip(texts, add_special, strict=True)
        ]
        # Longest first: similar lengths share a batch (less padding) and an OOM shows up at once.
        order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
        n_gen = 1 if spec.greedy else spec.n
        gen_cfg = self._generation_config(spec, n_gen)
        device = next(self.model.parameters()).device
        results: list[list[str]] = [[] for _ in prompts]
        with (
            torch.random.fork_rng(devices=[device] if device.type == "cuda" else []),
            tqdm(total=len(prompts), desc=desc, disable=not progress) as bar,
        ):
            torch.manual_seed(spec.seed)
            for start in range(0, len(order), spec.batch_size):
                idx = order[start : start + spec.batch_size]
                batch = self.tokenizer.pad(
                    {"input_ids": [encoded[i] for i in idx]},
                    padding=True,
                    padding_side="left",
                    return_tensors="pt",
                ).to(device)
                out = self.model.generate(**batch, generation_config=gen_cfg)
                new_tokens = out[:, batch["input_ids"].shape[1] :]
                decoded = self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)
                for k, i in enumerate(idx):
                    group = decoded[k * n_gen : (k + 1) * n_gen]
                    results[i] = group * spec.n if spec.greedy else group
                bar.update(len(idx))
        return results


def make_hf_generator(model_path: str, **kwargs: Any) -> HFGenerator:
    """Load the checkpoint at `model_path` (kwargs go to `load_model_and_tokenizer`) into an `HFGenerator`.

    Usage: gen = make_hf_generator("runs/quickstart/sft/checkpoint", device="cpu")
    """
    model, tokenizer = load_model_and_tokenizer(model_path, **kwargs)
    return HFGenerator(model, tokenizer)

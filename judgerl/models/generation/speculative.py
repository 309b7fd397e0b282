"""Speculative generation backends: target-only greedy, lossless speculative decoding and AutoJudge
judge decoding (docs/algorithms.md section 3), behind the same `Generator` interface as `HFGenerator`.

Each cycle the draft proposes up to `window` tokens greedily (KV cache), the target scores them in
one forward pass (KV cache) and the longest acceptable prefix is kept, followed by the target's own
token. A drafted token is acceptable when it equals the target's argmax (lossless) or, in judge
mode, when the importance classifier says P(important) < threshold. The classifier is a plain
callable over last-layer hidden states (after the final norm) at the drafted tokens: the target's
(setup "DT", computed by the verifying pass anyway) or the draft's and the target's concatenated
(setup "DD-DT"; the draft's state at a drafted token is the one it computes when that token is fed
back to draft the next one, so only the window's last token costs one more draft forward per
cycle). `judgerl.autojudge.classifier_file.LinearImportance` is the one AutoJudge saves; the
"judge" backend is built by `judgerl.autojudge.decoding.make_judge_generator`.

Greedy decoding only, one prompt at a time (batch size 1 keeps float32 outputs exact).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
from tqdm.auto import tqdm
from transformers import DynamicCache, PreTrainedModel, PreTrainedTokenizerBase

from judgerl.models.generation.base import Prompts, SamplingSpec, render_prompts, stop_token_ids

Mode = Literal["target", "speculative", "judge"]
FeatureSetup = Literal["DT", "DD-DT"]
FEATURE_SETUPS: tuple[str, ...] = ("DT", "DD-DT")
ImportanceFn = Callable[[torch.Tensor], torch.Tensor]


@dataclass
class DecodingStats:
    """Counters over all prompts a generator has decoded (reset with `reset()`)."""

    prompts: int = 0
    generated: int = 0
    cycles: int = 0
    drafted: int = 0
    accepted: int = 0
    accepted_mismatches: int = 0
    target_calls: int = 0
    draft_calls: int = 0
    wall_s: float = 0.0

    def summary(self) -> dict[str, float]:
        """Totals plus accepted draft tokens per cycle, target calls per generated token, tokens/s.

        >>> DecodingStats(generated=10, cycles=2, accepted=8, target_calls=2, wall_s=1.0).summary()["accepted_per_cycle"]
        4.0
        """
        out: dict[str, float] = asdict(self)
        out["accepted_per_cycle"] = self.accepted / self.cycles if self.cycles else 0.0
        out["tokens_per_cycle"] = self.generated / self.cycles if self.cycles else 0.0
        out["target_calls_per_token"] = self.target_calls / self.generated if self.generated else 0.0
        out["tokens_per_s"] = self.generated / self.wall_s if self.wall_s else 0.0
        return out


def _crop(cache: DynamicCache, length: int) -> None:
    """Keep the first `length` positions of `cache` (Cache.crop takes minus the count to drop)."""
    extra = cache.get_seq_length() - length
    if extra > 0:
        cache.crop(-extra)


def _forward(model: PreTrainedModel, ids: list[int], cache: DynamicCache, hidden: bool) -> Any:
    inp = torch.tensor([ids], dtype=torch.long, device=model.device)
    return model(input_ids=inp, past_key_values=cache, use_cache=True, output_hidden_states=hidden)


def _check_feature_dim(importance: Any, setup: str, target: PreTrainedModel, draft: PreTrainedModel) -> None:
    """A classifier that declares its input size (`dim`) must match the hidden sizes of `setup`."""
    dim = getattr(importance, "dim", None)
    sizes = (
        [draft.config.hidden_size, target.config.hidden_size]
        if setup == "DD-DT"
        else [target.config.hidden_size]
    )
    if dim is not None and dim != sum(sizes):
        parts = " + ".join(str(n) for n in sizes)
        raise ValueError(
            f"the importance classifier takes {dim} features, but setup {setup!r} of these models gives "
            f"{parts} = {sum(sizes)}: fit the classifier on this draft/target pair with that setup"
        )


class SpeculativeGenerator:
    """Greedy target decoding, optionally sped up by a draft: mode "target", "speculative" or "judge".

    `setup` names the classifier's features in judge mode: "DT" (the target's hidden state) or
    "DD-DT" (the draft's, then the target's).

    Usage: gen = SpeculativeGenerator(target, tok, draft=draft, mode="judge", window=16,
    importance=scorer, threshold=0.3); gen.generate(prompts, SamplingSpec(max_new_tokens=150))
    """

    def __init__(
        self,
        target: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        draft: PreTrainedModel | None = None,
        mode: Mode = "speculative",
        window: int = 16,
        importance: ImportanceFn | None = None,
        threshold: float = 0.0,
        setup: FeatureSetup = "DT",
    ) -> None:
        if mode not in ("target", "speculative", "judge"):
            raise ValueError(f"mode must be 'target', 'speculative' or 'judge', got {mode!r}")
        if mode != "target" and draft is None:
            raise ValueError(f"mode {mode!r} needs a draft model")
        if mode == "judge" and importance is None:
            raise ValueError("mode 'judge' needs an importance classifier (a callable over hidden states)")
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        if draft is not None and draft.config.vocab_size != target.config.vocab_size:
            raise ValueError(
                f"draft and target must share a tokenizer: vocab sizes {draft.config.vocab_size} "
                f"and {target.config.vocab_size}"
            )
        if setup not in FEATURE_SETUPS:
            raise ValueError(f"setup must be one of {FEATURE_SETUPS}, got {setup!r}")
        if mode == "judge" and draft is not None:
            _check_feature_dim(importance, setup, target, draft)
        self.target, self.draft, self.tokenizer = target, draft, tokenizer
        self.mode, self.window, self.importance, self.threshold = mode, window, importance, threshold
        self.setup = setup
        self.stats = DecodingStats()

    def reset(self) -> None:
        """Zero the decoding counters. Usage: gen.reset()."""
        self.stats = DecodingStats()

    @torch.inference_mode()
    def generate_ids(self, prompt_ids: list[int], max_new_tokens: int) -> list[int]:
        """Greedy-decode new token ids after `prompt_ids` (stop token included when reached).

        Usage: new = gen.generate_ids(tok("2+2=")["input_ids"], 32)
        """
        if not prompt_ids:
            raise ValueError("prompt_ids must not be empty")
        stops = set(stop_token_ids(self.tokenizer, self.target))
        start = time.perf_counter()
        out = (
            self._target_only(prompt_ids, max_new_tokens, stops)
            if self.mode == "target"
            else self._speculative(prompt_ids, max_new_tokens, stops)
        )
        self.stats.wall_s += time.perf_counter() - start
        self.stats.prompts += 1
        self.stats.generated += len(out)
        return out

    def _target_only(self, prompt: list[int], budget: int, stops: set[int]) -> list[int]:
        cache, new, feed = DynamicCache(), [], list(prompt)
        while len(new) < budget:
            logits = _forward(self.target, feed, cache, False).logits
            self.stats.target_calls += 1
            tok = int(logits[0, -1].argmax())
            new.append(tok)
            self.stats.cycles += 1
            if tok in stops:
                break
            feed = [tok]
        return new

    def _speculative(self, prompt: list[int], budget: int, stops: set[int]) -> list[int]:
        assert self.draft is not None
        seq = list(prompt)
        t_cache, d_cache = DynamicCache(), DynamicCache()
        t_len = d_len = 0  # tokens of `seq` held in each cache; seq[-1] is never in the target cache
        n_prompt = len(prompt)
        judge = self.mode == "judge"
        draft_features = judge and self.setup == "DD-DT"
        while len(seq) - n_prompt < budget:
            room = budget - (len(seq) - n_prompt)
            drafted: list[int] = []
            draft_rows: list[torch.Tensor] = []  # DD-DT: the draft's state at each drafted token
            feed = seq[d_len:]
            for i in range(min(self.window, room)):
                step = _forward(self.draft, feed, d_cache, draft_features)
                self.stats.draft_calls += 1
                if draft_features and i > 0:  # this pass was fed drafted[i - 1]
                    draft_rows.append(step.hidden_states[-1][0, -1])
                tok = int(step.logits[0, -1].argmax())
                drafted.append(tok)
                if tok in stops:
                    break
                feed = [tok]
            d_len = len(seq) + len(drafted) - 1  # the last drafted token was never fed
            if draft_features:  # ... except to give its hidden state: one more draft pass
                step = _forward(self.draft, drafted[-1:], d_cache, True)
                self.stats.draft_calls += 1
                draft_rows.append(step.hidden_states[-1][0, -1])
                d_len += 1
            out = _forward(self.target, seq[t_len:] + drafted, t_cache, judge)
            self.stats.target_calls += 1
            k = len(drafted)
            # Row j of the last k+1 rows predicts the slot of drafted[j] (row k: the bonus slot).
            greedy = out.logits[0, -(k + 1) :].argmax(-1).tolist()
            probs = None
            if judge:
                assert self.importance is not None
                features = out.hidden_states[-1][0, -k:]
                if draft_features:
                    draft_part = torch.stack(draft_rows).to(features.device, features.dtype)
                    features = torch.cat([draft_part, features], dim=-1)
                probs = torch.as_tensor(self.importance(features)).reshape(-1).tolist()
            accepted = 0
            for j, tok in enumerate(drafted):
                if tok == greedy[j]:
                    accepted += 1
                elif probs is not None and probs[j] < self.threshold:
                    accepted += 1
                    self.stats.accepted_mismatches += 1
                else:
                    break
            new = drafted[:accepted]
            hit_stop = any(t in stops for t in new)
            if not hit_stop and len(new) < room:
                new.append(int(greedy[accepted]))
            self.stats.cycles += 1
            self.stats.drafted += k
            self.stats.accepted += accepted
            t_len = len(seq) + accepted
            _crop(t_cache, t_len)
            d_len = min(d_len, len(seq) + accepted)
            _crop(d_cache, d_len)
            seq.extend(new)
            if any(t in stops for t in new):
                break
        return seq[n_prompt:]

    def generate(
        self, prompts: Prompts, spec: SamplingSpec, progress: bool = True, desc: str = "generating"
    ) -> list[list[str]]:
        """Greedy completions (repeated `spec.n` times), in input order; sampling specs are refused.

        Usage: outs = gen.generate([[{"role": "user", "content": "2+2?"}]], SamplingSpec())
        """
        if not spec.greedy:
            raise ValueError(
                f"{self.mode} decoding is greedy only: set temperature 0 (got {spec.temperature})"
            )
        self.target.eval()
        if self.draft is not None:
            self.draft.eval()
        texts = render_prompts(self.tokenizer, prompts)
        results: list[list[str]] = []
        for text, p in tqdm(list(zip(texts, prompts, strict=True)), desc=desc, disable=not progress):
            ids = self.tokenizer(text, add_special_tokens=isinstance(p, str))["input_ids"]
            new = self.generate_ids(ids, spec.max_new_tokens)
            results.append([self.tokenizer.decode(new, skip_special_tokens=True)] * spec.n)
        return results


def make_speculative_generator(
    mode: Mode,
    model_path: str,
    draft_path: str | None = None,
    window: int = 16,
    importance: ImportanceFn | None = None,
    threshold: float = 0.0,
    setup: FeatureSetup = "DT",
    **load_kwargs: Any,
) -> SpeculativeGenerator:
    """Load target (and draft) checkpoints and build a `SpeculativeGenerator`.

    In judge mode `importance` is the classifier callable over the features of `setup` (AutoJudge's
    `make_judge_generator` loads one from its folder); extra kwargs go to `load_model_and_tokenizer`
    (dtype, device).

    Usage: gen = make_speculative_generator("speculative", "runs/q/sft/checkpoint", draft_path="runs/d")
    """
    from judgerl.models.loading import load_model_and_tokenizer

    target, tokenizer = load_model_and_tokenizer(model_path, **load_kwargs)
    draft = None
    if mode != "target":
        if not draft_path:
            raise ValueError(
                f"generator kind {mode!r} needs draft_path (a draft checkpoint sharing the tokenizer)"
            )
        draft, _ = load_model_and_tokenizer(draft_path, **load_kwargs)
    if mode == "judge" and importance is None:
        raise ValueError(
            "generator kind 'judge' needs classifier (a folder saved by ImportanceClassifier.save)"
        )
    return SpeculativeGenerator(target, tokenizer, draft, mode, window, importance, threshold, setup)


def make_lossless_generator(model_path: str, **kwargs: Any) -> SpeculativeGenerator:
    """The "speculative" backend: lossless speculative decoding (kwargs: draft_path, window, dtype, device).

    Usage: gen = make_lossless_generator("runs/q/sft/checkpoint", draft_path="runs/d", window=8)
    """
    return make_speculative_generator("speculative", model_path, **kwargs)

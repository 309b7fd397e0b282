"""Hidden-state features: pooling by hand, batch-size and padding-side invariance, layers, the disk cache."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertModel

from judgerl.models.tiny import TinyModelSpec, build_tiny_model
from judgerl.models.tokenizer import train_tokenizer
from judgerl.probes.cache import FeatureCache
from judgerl.probes.features import FeatureExtractor, check_pooling, pool_hidden

TEXTS = [
    "What is 47 + 38? The sum is 85.",
    "ok",
    "Janet has 16 eggs, eats 3 and bakes 4, so she sells 9 eggs for 18 dollars in all.",
    "7",
    "The answer is 12 because 3 times 4 is 12.",
]


def _corpus(n: int = 120) -> list[str]:
    rng = random.Random(0)
    return [
        f"What is {rng.randint(0, 99)} + {rng.randint(0, 99)}? The answer is {rng.randint(0, 199)}."
        for _ in range(n)
    ]


@pytest.fixture(scope="module")
def tokenizer():
    return train_tokenizer(_corpus() + TEXTS, vocab_size=300)


def _causal(tokenizer):
    model = build_tiny_model(
        TinyModelSpec(hidden_size=32, layers=2, heads=2, intermediate_size=64), tokenizer, 0
    )
    return model.model  # the bare backbone, as AutoModel loads it


def _encoder(tokenizer):
    torch.manual_seed(0)
    cfg = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        pad_token_id=tokenizer.pad_token_id,
    )
    return BertModel(cfg).eval()


@pytest.fixture(params=["causal", "encoder"])
def backbone(request, tokenizer):
    return _causal(tokenizer) if request.param == "causal" else _encoder(tokenizer)


def test_pool_hidden_by_hand_masks_padding_on_either_side() -> None:
    h = torch.tensor(
        [
            [[1.0, -2.0], [3.0, 4.0], [50.0, 50.0]],  # right-padded: last position is padding
            [[-90.0, 90.0], [2.0, 0.0], [4.0, -6.0]],  # left-padded: first position is padding
        ]
    )
    m = torch.tensor([[1, 1, 0], [0, 1, 1]])
    assert pool_hidden(h, m, "mean").tolist() == [[2.0, 1.0], [3.0, -3.0]]
    assert pool_hidden(h, m, "last").tolist() == [[3.0, 4.0], [4.0, -6.0]]
    assert pool_hidden(h, m, "min").tolist() == [[1.0, -2.0], [2.0, -6.0]]
    assert pool_hidden(h, m, "max").tolist() == [[3.0, 4.0], [4.0, 0.0]]
    assert pool_hidden(h, m, "concat").shape == (2, 8)
    with pytest.raises(ValueError, match="pooling must be one of"):
        check_pooling("cls")


def test_mean_pooling_equals_hand_average_of_unpadded_run(tokenizer) -> None:
    model = _causal(tokenizer)
    fx = FeatureExtractor(model, tokenizer, "tiny", batch_size=5, padding_side="left")
    feats = fx.extract(TEXTS, [1, 2], "mean", progress=False)
    for i, text in enumerate(TEXTS):
        ids = tokenizer(text, return_tensors="pt")
        with torch.no_grad():
            states = model(**ids, output_hidden_states=True).hidden_states
        for layer in (1, 2):
            by_hand = states[layer][0].mean(dim=0).numpy()
            np.testing.assert_allclose(feats[layer][i], by_hand, atol=1e-5)


@pytest.mark.parametrize("pooling", ["mean", "last", "min", "max", "concat"])
def test_features_do_not_depend_on_batch_size_or_padding_side(backbone, tokenizer, pooling) -> None:
    ref = FeatureExtractor(backbone, tokenizer, "m", batch_size=1, padding_side="right")
    base = ref.extract(TEXTS, "all", pooling, progress=False)
    assert set(base) == {0, 1, 2} and base[2].shape == (len(TEXTS), 32 * (4 if pooling == "concat" else 1))
    for batch_size in (2, 5):
        for side in ("left", "right"):
            fx = FeatureExtractor(backbone, tokenizer, "m", batch_size=batch_size, padding_side=side)
            got = fx.extract(TEXTS, "all", pooling, progress=False)
            for layer in base:
                np.testing.assert_allclose(
                    got[layer], base[layer], atol=2e-5, err_msg=f"bs={batch_size} {side}"
                )
    # the rows really differ between texts (the invariance above is not the invariance of a constant)
    assert np.abs(base[2][0] - base[2][2]).max() > 1e-3


def test_left_padding_without_position_ids_would_differ(tokenizer) -> None:
    """Guards the reason position ids are passed: with absolute positions (BERT, GPT-2) a left-padded
    row is read at shifted positions unless they are derived from the attention mask."""
    model = _encoder(tokenizer)
    tokenizer.padding_side = "left"
    batch = tokenizer(TEXTS[:2], padding=True, return_tensors="pt")
    with torch.no_grad():
        shifted = model(**batch, output_hidden_states=True).hidden_states[2][1, -1]
        alone = model(**tokenizer(TEXTS[1:2], return_tensors="pt"), output_hidden_states=True).hidden_states[
            2
        ][0, -1]
    assert not torch.allclose(shifted, alone, atol=1e-3)
    fx = FeatureExtractor(model, tokenizer, "m", batch_size=2, padding_side="left")
    np.testing.assert_allclose(
        fx.extract(TEXTS[:2], 2, "last", progress=False)[2][1], alone.numpy(), atol=2e-5
    )


def test_layer_specs(tokenizer) -> None:
    fx = FeatureExtractor(_causal(tokenizer), tokenizer, "m")
    assert fx.num_layers == 2
    assert fx.resolve_layers("all") == [0, 1, 2]
    assert fx.resolve_layers([-1, "middle", 2]) == [2, 1]
    with pytest.raises(ValueError, match="out of range for a 2-block model"):
        fx.resolve_layers(3)
    with pytest.raises(ValueError, match="expected an int, 'all' or 'middle'"):
        fx.resolve_layers(["first"])
    with pytest.raises(ValueError, match="text #1 has no tokens"):
        fx.extract(["fine", ""], 1, progress=False)


def test_cache_round_trip_and_keys(tmp_path, tokenizer, monkeypatch) -> None:
    model = _causal(tokenizer)
    fx = FeatureExtractor(model, tokenizer, "tiny-a", batch_size=2, cache_dir=str(tmp_path / "c"))
    first = fx.extract(TEXTS, [1, 2], "concat", progress=False)
    assert (tmp_path / "c" / "index.json").is_file()
    assert len(list((tmp_path / "c" / "shards").glob("*.safetensors"))) == 1

    calls = []
    fresh = FeatureExtractor(model, tokenizer, "tiny-a", batch_size=3, cache_dir=str(tmp_path / "c"))
    monkeypatch.setattr(fresh, "_forward", lambda enc, layers: calls.append(len(enc)) or {})
    again = fresh.extract(list(reversed(TEXTS)) + [TEXTS[0]], [2, 1], "mean", progress=False)
    assert calls == []  # everything came from the cache, mean included (all poolings are stored)
    np.testing.assert_array_equal(again[2][0], first[2][len(TEXTS) - 1][:32])
    np.testing.assert_array_equal(again[1][-1], first[1][0][:32])

    # another model id, another max_length or another layer are cache misses
    other = FeatureExtractor(model, tokenizer, "tiny-b", cache_dir=str(tmp_path / "c"))
    assert FeatureCache(tmp_path / "c").lookup(other.model_key, 2, "mean", []) == {}
    monkeypatch.undo()
    layer0 = fresh.extract(TEXTS[:2], [0], "mean", progress=False)
    assert layer0[0].shape == (2, 32)


def test_unreadable_cache_shard_is_recomputed_not_trusted(tmp_path, tokenizer) -> None:
    model = _causal(tokenizer)
    fx = FeatureExtractor(model, tokenizer, "tiny", cache_dir=str(tmp_path))
    good = fx.extract(TEXTS, [1], "mean", progress=False)[1]
    shard = next((tmp_path / "shards").glob("*.safetensors"))
    shard.write_bytes(shard.read_bytes()[:40])  # truncated by a crash or a full disk
    fx2 = FeatureExtractor(model, tokenizer, "tiny", cache_dir=str(tmp_path))
    np.testing.assert_allclose(fx2.extract(TEXTS, [1], "mean", progress=False)[1], good, atol=1e-6)

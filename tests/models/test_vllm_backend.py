"""vLLM is GPU-only: these tests stop at its boundary (sampling kwargs, error message, a stand-in engine)."""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass

import pytest

from judgerl.models.generation import SamplingSpec, make_generator
from judgerl.models.generation.vllm import VLLMGenerator, build_vllm_sampling_kwargs


def test_greedy_kwargs():
    kw = build_vllm_sampling_kwargs(
        SamplingSpec(max_new_tokens=64, n=4, top_p=0.5, top_k=3), stop_token_ids=[7, 7]
    )
    assert kw == {
        "n": 1,  # greedy completions are identical: one is computed and repeated
        "temperature": 0.0,
        "top_p": 1.0,
        "top_k": -1,
        "max_tokens": 64,
        "seed": 0,
        "skip_special_tokens": True,
        "stop_token_ids": [7],
    }


def test_sampling_kwargs():
    kw = build_vllm_sampling_kwargs(SamplingSpec(temperature=0.8, top_p=0.9, top_k=0, n=8, seed=3))
    assert (kw["n"], kw["temperature"], kw["top_p"], kw["top_k"], kw["seed"]) == (8, 0.8, 0.9, -1, 3)
    assert "stop_token_ids" not in kw
    assert build_vllm_sampling_kwargs(SamplingSpec(temperature=1.0, top_k=20))["top_k"] == 20


def test_missing_vllm_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # makes `import vllm` raise ImportError
    with pytest.raises(ImportError, match=r"pip install judgerl\[vllm\]` on a GPU machine"):
        VLLMGenerator("some/model")
    with pytest.raises(ImportError, match="GPU"):
        make_generator("vllm", "some/model")


@dataclass
class _Completion:
    text: str


class _FakeLLM:
    """Stands in for vllm.LLM: echoes what it was asked so the wiring can be checked."""

    tokenizer = None

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.calls = []

    def get_tokenizer(self):
        return self.tokenizer

    def generate(self, inputs, params, use_tqdm=True):
        self.calls.append((inputs, params))
        return [
            types.SimpleNamespace(outputs=[_Completion(f"{i}:{j}") for j in range(params["n"])])
            for i, _ in enumerate(inputs)
        ]


def test_generator_wiring_with_a_stand_in_engine(monkeypatch, tiny_pair):
    _, tok = tiny_pair
    fake = types.ModuleType("vllm")
    fake.LLM = type("LLM", (_FakeLLM,), {"tokenizer": tok})
    fake.SamplingParams = dict
    monkeypatch.setitem(sys.modules, "vllm", fake)

    gen = VLLMGenerator("ckpt", tensor_parallel_size=2, seed=5)
    assert gen.llm.kwargs["tensor_parallel_size"] == 2 and gen.llm.kwargs["model"] == "ckpt"
    prompts = [[{"role": "user", "content": "2 + 2?"}], "raw text"]
    assert gen.generate(prompts, SamplingSpec(n=2), progress=False) == [["0:0", "0:0"], ["1:0", "1:0"]]
    assert gen.generate(prompts, SamplingSpec(n=2, temperature=1.0), progress=False) == [
        ["0:0", "0:1"],
        ["1:0", "1:1"],
    ]
    inputs, params = gen.llm.calls[0]
    expected_ids = tok.apply_chat_template(prompts[0], add_generation_prompt=True)["input_ids"]
    assert inputs == [{"prompt_token_ids": expected_ids}, "raw text"]
    assert params["stop_token_ids"] == [tok.convert_tokens_to_ids("<|im_end|>")]

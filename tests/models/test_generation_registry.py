"""The generation package: base types without torch, backends built by name, unknown names refused."""

from __future__ import annotations

import subprocess
import sys

import pytest

from judgerl.models.generation import GENERATORS, make_generator


def test_base_types_and_the_factory_import_no_torch() -> None:
    code = (
        "import sys\n"
        "from judgerl.models.generation import SamplingSpec, make_generator, render_prompts\n"
        "assert SamplingSpec(temperature=0).greedy\n"
        "print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_backends_resolve_by_name_and_unknown_kinds_list_the_known_ones() -> None:
    from judgerl.models.generation.hf import make_hf_generator
    from judgerl.models.generation.speculative import make_lossless_generator

    assert GENERATORS.get("hf") is make_hf_generator
    assert GENERATORS.get("speculative") is make_lossless_generator
    with pytest.raises(ValueError, match=r"one of hf, judge, openai, speculative, vllm, got 'onnx'"):
        make_generator("onnx", "nowhere")

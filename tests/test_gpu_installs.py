"""The GPU installs resolve for linux x86_64, checked on a CPU machine from package metadata alone.

uv (a dev dependency, from PyPI) resolves each install the way pip would on a GPU machine
(`uv pip compile --python-platform x86_64-manylinux_2_28 --python-version 3.11`), reading wheel
metadata from PyPI without downloading a CUDA wheel:

- the main environment, `.[dev,deepspeed,serve]` held by constraints.txt (what `make test` installs);
- `.[deepspeed,serve,vllm]` (`make gpu-setup`): it resolves, its vLLM is one TRL supports, and it keeps
  torch, transformers, TRL and the rest of the training stack at the main environment's versions (a
  vllm that caps transformers would silently move it under TRL);
- `.venv-verl` as `make verl-env` builds it, on a GPU machine (verl with its vLLM rollout) and on a CPU
  one, from the Makefile's own lines.

A range that cannot resolve fails here, so it fails `make test` and CI. Needs PyPI (pypi.org and
files.pythonhosted.org) and nothing else; without uv the tests skip, except under CI, where they fail.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from functools import cache
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
PLATFORM = ["--python-platform", "x86_64-manylinux_2_28", "--python-version", "3.11"]
MAIN_EXTRAS = ("dev", "deepspeed", "serve")
GPU_EXTRAS = ("deepspeed", "serve", "vllm")
# what TRL trains with: installing vLLM must leave every one of these where the main environment has it
TRAINING_STACK = (
    "torch",
    "transformers",
    "trl",
    "peft",
    "accelerate",
    "datasets",
    "tokenizers",
    "safetensors",
    "huggingface-hub",
    "deepspeed",
)
_NETWORK = re.compile(
    r"(?i)failed to fetch|error sending request|dns error|connection (refused|reset)|timed out"
)


def _uv() -> str:
    try:
        import uv  # the PyPI package of the uv binary

        return uv.find_uv_bin()
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
    if found is None:
        message = "uv is not installed (a dev dependency: pip install uv)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@cache
def _compile(*args: str) -> dict[str, str]:
    """`uv pip compile ARGS` for linux x86_64 / Python 3.11: {canonical name: version}."""
    cmd = [_uv(), "pip", "compile", "--quiet", "--no-header", "--no-annotate", *PLATFORM, *args]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        if _NETWORK.search(done.stderr) and not os.environ.get("CI"):
            pytest.skip(f"PyPI not reachable: {done.stderr.strip()[:300]}")
        pytest.fail(f"{shlex.join(cmd[1:])} does not resolve:\n{done.stderr}")
    pins = {}
    for line in done.stdout.splitlines():
        name, sep, version = line.strip().partition("==")
        if sep:
            pins[canonicalize_name(name.split("[")[0])] = version.split(";")[0].strip()
    return pins


def _project(*extras: str) -> dict[str, str]:
    args = [arg for extra in extras for arg in ("--extra", extra)]
    return _compile("pyproject.toml", *args, "-c", "constraints.txt")


def _makefile_words(name: str) -> list[str]:
    """The words of a `NAME := ...` line of the Makefile (so the test resolves what make installs)."""
    match = re.search(rf"^{name}\s*[:?]?=\s*(.+)$", (REPO / "Makefile").read_text(), re.M)
    assert match, f"the Makefile has no {name} line"
    return shlex.split(match.group(1))


def _requirements(tmp_path: Path, name: str, lines: list[str]) -> str:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_the_main_environment_resolves_with_the_pinned_torch() -> None:
    pins = _project(*MAIN_EXTRAS)
    torch = next(
        line for line in (REPO / "constraints.txt").read_text().splitlines() if line.startswith("torch==")
    )
    assert pins["torch"] == torch.split("==")[1]
    assert {"transformers", "trl", "peft", "deepspeed", "fastapi", "uv"} <= set(pins)


def test_the_vllm_extra_is_supported_by_trl_and_moves_nothing_under_it() -> None:
    main, gpu = _project(*MAIN_EXTRAS), _project(*GPU_EXTRAS)
    trl_wants = next(
        Requirement(r) for r in metadata.requires("trl") or [] if r.startswith("vllm") and "extra" in r
    )
    if gpu["trl"] == metadata.version(
        "trl"
    ):  # the installed TRL's own range (the resolver held the resolved one)
        assert trl_wants.specifier.contains(gpu["vllm"]), (gpu["vllm"], str(trl_wants.specifier))
    moved = {n: (main[n], gpu[n]) for n in TRAINING_STACK if n in main and main[n] != gpu.get(n)}
    assert not moved, f"installing .[vllm] would move these from the main environment's versions: {moved}"


def test_the_verl_environment_has_a_rollout_engine_on_a_gpu_machine(tmp_path: Path) -> None:
    gpu = _compile(
        _requirements(tmp_path, "verl_gpu.txt", _makefile_words("VERL_GPU") + _makefile_words("VERL_NEEDS"))
    )
    assert "vllm" in gpu, "verl 0.9.1's rollout is vllm / sglang / trtllm: the GPU environment needs one"
    assert Requirement(_makefile_words("VERL_GPU")[0]).specifier.contains(gpu["verl"])
    cpu = _compile(
        _requirements(tmp_path, "verl_cpu.txt", _makefile_words("VERL_CORE") + _makefile_words("VERL_NEEDS")),
        "-c",
        "constraints.txt",
    )
    assert "vllm" not in cpu and cpu["torch"] == _project(*MAIN_EXTRAS)["torch"]

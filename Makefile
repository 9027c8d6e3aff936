# `make test` and `make demo` work on a fresh machine: they create .venv, install the CPU build of
# torch first (so pip does not pull a multi-GB CUDA build), then this package with its extras.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH_SPEC ?= torch==2.13.0
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

# One distribution per embedded model, built from models/<name>/ (docs/packaging.md).
MODEL_DISTS := $(wildcard models/*/pyproject.toml)
MODEL_DIRS := $(patsubst %/pyproject.toml,%,$(MODEL_DISTS))

.PHONY: install test test-slow test-nightly demo bench figures wheels clean

# The model distributions are installed from the tree first (editable: the weights stay where they
# are), so that `-e ".[all]"` finds its model requirements satisfied and pip never asks the index.
$(VENV)/.installed: pyproject.toml $(MODEL_DISTS)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH_SPEC)" || $(PY) -m pip install -q "torch>=2.1"
	$(PY) -m pip install -q "setuptools>=77"
	$(PY) -m pip install -q --no-deps --no-build-isolation $(foreach d,$(MODEL_DIRS),-e ./$(d))
	$(PY) -m pip install -q -e ".[all]"
	touch $@

install: $(VENV)/.installed

test: install
	$(PY) -m pytest -q

test-slow: install
	$(PY) -m pip install -q -e ".[ray]"
	$(PY) -m pytest -q -m slow

# Property-based tests with the long hypothesis profile: 1,000 random examples per splitter property,
# 500 per engine property (measured: 9.5 minutes on 2 loaded CPU cores).
test-nightly: install
	HYPOTHESIS_PROFILE=nightly $(PY) -m pytest -q tests/test_properties.py

demo: install
	$(PY) examples/langchain_rag.py
	$(PY) examples/llama_index_rag.py

# The embedded model's figures in docs/models.md, its model card and benchmarks/results-default-model.md,
# from one `text-pruner-rag eval --suite dev --limit 300` run (reads the raw data in DATA_ROOT; about 30 min on
# 2 loaded CPU cores). FIGURES_ARGS=--reuse rewrites them from the existing results without a run.
DATA_ROOT ?= ../shared/data/raw
figures: install
	nice -n 10 $(PY) benchmarks/default_model_figures.py --data-dir $(DATA_ROOT) $(FIGURES_ARGS)

# Every release file into dist/: the code wheel (no weights) and one wheel per model, each built from
# its folder with stale build/ folders removed first (setuptools would reuse them).
wheels: install
	rm -rf dist build models/*/build
	$(PY) -m pip wheel -q --no-deps --no-build-isolation -w dist . $(foreach d,$(MODEL_DIRS),./$(d))
	rm -rf build models/*/build
	ls -l dist

clean:
	rm -rf $(VENV) build dist *.egg-info models/*/build models/*/*.egg-info

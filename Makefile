# Every target creates .venv and installs the workspace first (a fresh machine has nothing).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Every installable distribution: the toolkit packages and the example plugin packages.
PACKAGE_DIRS := $(patsubst %/pyproject.toml,%,$(wildcard packages/*/pyproject.toml examples/*/pyproject.toml))
STAMP := $(VENV)/.installed
PYTEST := $(BIN)/python -m pytest
JOBS ?= 2

.PHONY: install test bench lint demo clean gpu-check

install: $(STAMP)

# One pip command: the pinned torch trio, test tools and every package editable.
$(STAMP): requirements/dev.txt $(addsuffix /pyproject.toml,$(PACKAGE_DIRS))
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
		-r requirements/dev.txt $(addprefix -e ,$(PACKAGE_DIRS))
	touch $(STAMP)

test: $(STAMP)
	$(PYTEST) -q

bench: $(STAMP)
	$(PYTEST) -q -o python_files='bench_*.py' --benchmark-enable --benchmark-only \
		--benchmark-columns=min,mean,median,rounds $(wildcard packages/*/benchmarks benchmarks)

lint: $(STAMP)
	$(BIN)/ruff check .

demo: $(STAMP)
	$(BIN)/pgs demo runs/demo

# On a CUDA machine: gpu tests, 512x512 rasterizer and training-step benchmarks, pgs eval FPS and a
# short real-clip training -> .benchmarks/gpu_check/gpu_check.json (exit 2 without CUDA).
gpu-check: $(STAMP)
	bash scripts/gpu_check.sh

clean:
	rm -rf $(VENV) runs .pytest_cache .benchmarks

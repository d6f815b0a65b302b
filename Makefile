# Two commands do all the set-up on a fresh machine:
#   make run   – build the default experiment if needed and serve the explorable (the other
#                pairs and the network are built in the background; `make stop` ends that)
#   make test  – install everything the tests need (venv, Chromium) and run them
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SHARED_MNIST := $(abspath ../shared/data/mnist)
export TILTING_MNIST_DIR ?= $(if $(wildcard $(SHARED_MNIST)/SHA256SUMS),$(SHARED_MNIST),)

.PHONY: run stop test venv browser precompute bench clean

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

# First run: the 2-vs-3 path and the toy problem (seconds), then the server starts at once. One
# background process (at lower priority, in its own session so that `make stop` ends all of it)
# builds the small network and then the other 44 pairs, logging to $(BUILD_LOG); the server
# picks up each bundle as its link appears. Valid bundles are kept, so re-running `make run`
# rebuilds nothing and a stopped build resumes where it was.
BUILD_LOG := artifacts/build.log
BUILD_PID := artifacts/.build.pid
PORT ?= 8000
run: $(STAMP)
	@mkdir -p artifacts
	@ls artifacts | grep -q -- '-2-3$$' || $(BIN)/tilting precompute --pair 2 3
	@[ -e artifacts/toy ] || $(BIN)/tilting precompute --toy
	@if kill -0 "$$(cat $(BUILD_PID) 2>/dev/null)" 2>/dev/null; then \
	  echo "The background build (pid $$(cat $(BUILD_PID))) is still running; its log: $(BUILD_LOG)."; \
	else \
	  echo "Building the network and the other pairs in the background; log: $(BUILD_LOG); stop: make stop."; \
	  $$(command -v setsid) nice sh -c 'date -u +"== %FT%TZ make run: background build =="; \
	    [ -e artifacts/network-mnist ] || $(BIN)/tilting precompute --network --quiet; \
	    $(BIN)/tilting precompute --all-pairs' >>$(BUILD_LOG) 2>&1 </dev/null & \
	  echo $$! >$(BUILD_PID); \
	fi
	$(BIN)/tilting serve --workers 2 --port $(PORT)

# Stop the background build of `make run` (bundles already written stay; the next `make run` resumes).
stop:
	@pid="$$(cat $(BUILD_PID) 2>/dev/null)"; \
	if [ -n "$$pid" ] && kill -0 "$$pid" 2>/dev/null; then \
	  kill -TERM "-$$pid" 2>/dev/null || kill -TERM "$$pid"; rm -f $(BUILD_PID); \
	  echo "Stopped the background build (pid $$pid); the next make run resumes it."; \
	else echo "No background build is running."; fi

# pytest exits 5 when it collects nothing: that is not a failure of the code.
test: $(STAMP) browser
	@$(BIN)/python -m pytest -q $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc = 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

# Each benchmark prints its figure beside a baseline measured in the same run (see benchmarks/RESULTS.md).
BENCHMARKS := solver_bench all_pairs_bench api_load browser_bench soak reliability
bench: $(STAMP) browser
	set -e; for b in $(BENCHMARKS); do $(BIN)/python -m benchmarks.$$b; done

clean: stop
	rm -rf $(VENV) artifacts test-artifacts

# burstlab: `make demo` runs the main job, `make test` runs every test (what CI runs).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo bench test lint stack clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/burstlab demo
	$(BIN)/burstlab run

bench: $(BIN)/.installed
	$(BIN)/python benchmarks/generator_lag.py

stack: $(BIN)/.installed
	$(BIN)/burstlab stack up

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Two workers, each running one test module at a time (a module's stack fixtures stay on one worker);
# the tests mostly wait on services, so two at once nearly halve the time on 2 cores.
TEST_WORKERS ?= 2

test: $(BIN)/.installed lint
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache *.egg-info

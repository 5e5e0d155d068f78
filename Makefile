# burstlab: `make demo` runs the main job, `make test` runs every test (what CI runs).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo bench test test-newest test-compose lint stack lock clean

# The venv installs exactly what was tested: the lock's versions, checked against its hashes
# (burstlab's own build backend included, so the editable install fetches nothing unlocked).
LOCK := requirements/dev.txt

$(BIN)/.installed: pyproject.toml $(LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/pip install --quiet --no-build-isolation --no-deps -e .
	touch $@

# Refresh the locks to the newest versions pyproject.toml's ranges allow (uv: fast, and its
# output is a plain requirements file with hashes that pip installs). Run the tests after it.
COMPILE = $(BIN)/uv pip compile pyproject.toml requirements/build.in --universal \
	--python-version 3.11 --generate-hashes --upgrade --quiet --custom-compile-command "make lock"

lock: $(BIN)/.installed
	$(COMPILE) --extra dev -o requirements/dev.txt
	$(COMPILE) -o requirements/runtime.txt

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
	@echo "== the lock's versions ($(VENV), the whole suite):"
	@$(BIN)/burstlab versions

# The dependency-fault tests (broker and store restarts and crashes on both brokers, killed
# connections, worker supervision) again, in a fresh venv resolved to the newest versions the
# ranges allow: an upstream release that breaks recovery fails here before it reaches a user.
NEWEST ?= .venv-newest

test-newest:
	rm -rf $(NEWEST)
	$(PYTHON) -m venv $(NEWEST)
	$(NEWEST)/bin/pip install --quiet --upgrade --upgrade-strategy eager -e '.[dev]'
	@echo "== the newest allowed versions ($(NEWEST), the dependency-fault tests):"
	@$(NEWEST)/bin/burstlab versions
	$(NEWEST)/bin/pytest -n $(TEST_WORKERS) --dist loadfile -m dependency_faults
	@echo "== the newest allowed versions, as tested above:"
	@$(NEWEST)/bin/burstlab versions

# The compose suite: docker-compose.yml built and run for real (tests/compose), on the engine that
# answers, or a private dockerd started and stopped by the suite (Debian: docker.io, mmdebstrap).
# Images the registry cannot give are built from Debian's packages (burstlab compose base-images).
# One stack at a time, so no -n: the stacks' figures are the machine's alone.
test-compose: $(BIN)/.installed
	$(BIN)/pytest -m compose tests/compose

clean:
	rm -rf $(VENV) $(NEWEST) .pytest_cache .ruff_cache .mypy_cache *.egg-info

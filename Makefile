# execsvc: `make run` (paper session on the bundled sample day) and `make test` (lint, types, tests).
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run replay test lint typecheck pytest bench fuzz soak clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	rm -rf artifacts/run
	$(PY) -m execsvc run --config configs/dev.yaml --mode paper --ticks data/sample/ticks.jsonl.gz --speed 2000 \
		--strategy execsvc.strategies.samples:MovingAverageCross --strategy execsvc.strategies.samples:MeanReversion \
		--journal-dir artifacts/run/journal --control-port 8080 --exit-at-end

replay: $(STAMP)
	mkdir -p artifacts/replay
	$(PY) -m execsvc replay --config configs/dev.yaml --ticks data/sample/ticks.jsonl.gz \
		--strategy execsvc.strategies.samples:MovingAverageCross \
		--strategy execsvc.strategies.samples:MeanReversion \
		--journal-dir artifacts/replay/journal --overwrite \
		--report artifacts/replay/report.json --html artifacts/replay/report.html

test: lint typecheck pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check execsvc tests scripts bench
	$(VENV)/bin/ruff format --check execsvc tests scripts bench

typecheck: $(STAMP)
	$(VENV)/bin/mypy execsvc

pytest: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider

bench: $(STAMP)
	$(PY) -m bench

# the property tests on fresh random examples (`make test` draws the same ones every run);
# FUZZ_RUNS rounds, each a new draw; a failure is kept in .hypothesis/ and replays first next time
fuzz: $(STAMP)
	for run in $$(seq $(or $(FUZZ_RUNS),3)); do HYPOTHESIS_PROFILE=fuzz $(PY) -m pytest -q -p no:cacheprovider tests/property || exit 1; done

# a kill -9 campaign against the invariants (about a minute; not part of `make test`)
soak: $(STAMP)
	$(PY) -m scripts.soak --rounds $(or $(ROUNDS),30) --live-rounds $(or $(LIVE_ROUNDS),10) --seed $(or $(SEED),1)

clean:
	rm -rf $(VENV) artifacts .mypy_cache .ruff_cache .pytest_cache

# netlab: the two commands a newcomer needs are `make demo` and `make test`.
VENV    ?= .venv
PY      := $(VENV)/bin/python
NETLAB  := $(VENV)/bin/netlab
STAMP   := $(VENV)/.installed
OUT     ?= demo-out

.PHONY: setup system-deps demo test lint unit bench notebooks clean

setup: system-deps $(STAMP)

system-deps:
	@bash .ci/system-deps.sh

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: setup
	OUT=$(OUT) bash .ci/demo.sh

lint: setup
	$(VENV)/bin/ruff check netlab tests benchmarks
	$(VENV)/bin/mypy

unit: setup
	$(VENV)/bin/pytest -q
	$(VENV)/bin/pytest -q scenarios --netlab-backend sim
	@if [ "$$(id -u)" -eq 0 ]; then $(VENV)/bin/pytest -q scenarios --netlab-backend kernel; \
	elif [ -n "$$CI" ]; then echo "CI must run the scenarios on the kernel backend (needs root)"; exit 1; \
	else echo "note: not root, scenarios ran on the simulated backend only"; fi

test: lint unit

notebooks: setup
	$(VENV)/bin/jupyter lab --notebook-dir=notebooks $(if $(filter 0,$(shell id -u)),--allow-root)

bench: setup
	$(PY) benchmarks/bench_model.py

clean:
	rm -rf $(VENV) $(OUT) .mypy_cache .ruff_cache .pytest_cache .hypothesis

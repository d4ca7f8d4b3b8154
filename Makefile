# The two commands a user needs are `make demo` and `make test`; both build .venv on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
FIXTURES ?= ../shared/fixtures
BENCH ?= ../shared/bench

.PHONY: install demo test lint fmt typecheck check test-all bench build clean readme

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[tests,dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(PY) -m timeback_caliper.demo

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m ruff check timeback_caliper tests examples
	$(PY) -m ruff format --check timeback_caliper tests examples

fmt: $(STAMP)
	$(PY) -m ruff format timeback_caliper tests examples
	$(PY) -m ruff check --fix timeback_caliper tests examples

typecheck: $(STAMP)
	$(PY) -m mypy --strict timeback_caliper

check: lint typecheck test

# The suite on every python3.10..3.13 found on PATH or in pyenv, each in its own venv.
test-all:
	@set -e; found=0; for v in 3.10 3.11 3.12 3.13; do \
	  py=""; root=$$(pyenv root 2>/dev/null || true); \
	  for cand in "$$(command -v python$$v || true)" $$root/versions/$$v*/bin/python$$v; do \
	    if [ -n "$$cand" ] && [ -x "$$cand" ] && "$$cand" -c 'import sys' >/dev/null 2>&1; then py="$$cand"; break; fi; \
	  done; \
	  if [ -n "$$py" ]; then \
	    found=1; echo "== Python $$v ($$py)"; \
	    $(MAKE) --no-print-directory test PYTHON="$$py" VENV=.venv-$$v; \
	  else echo "== Python $$v: not found, skipped"; fi; \
	done; test $$found = 1

# Our micro-benchmarks, the outbox and memory benchmarks; see README "Performance" for the side-by-side harness.
bench: $(STAMP)
	$(PY) tests/bench_micro.py
	$(PY) tests/bench_outbox.py --rounds 3
	$(PY) tests/bench_memory.py

# Fill README.md's pasted sections from docs/*.md (tests check they match).
readme: $(STAMP)
	$(PY) -m tests.readme_tool

build: $(STAMP)
	$(PY) -m pip wheel --no-deps -w dist .

clean:
	rm -rf .venv .venv-3.* dist build *.egg-info .pytest_cache .mypy_cache .ruff_cache

# Two commands for a fresh machine:
#   make demo   - set up a virtualenv and run the demo (stamp, leak, trace)
#   make test   - set up a virtualenv (and, as root, Chromium and PostgreSQL) and run the test suite
#   make typecheck - mypy over watermark, tracer, ledger, synthetic, agent (CI runs it after the tests)
#   make docs   - build the documentation (API reference, gallery, guides) into docs/_build/html, warnings as errors
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test typecheck bench viewer docs setup clean

$(VENV)/.installed-%: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[$*]"
	touch $@

setup: $(VENV)/.installed-test

demo: $(VENV)/.installed-demo
	$(PY) examples/demo.py

test: $(VENV)/.installed-test
	source scripts/test-services.sh && $(PY) -m pytest -q

typecheck: $(VENV)/.installed-test
	$(PY) -m mypy

bench: $(VENV)/.installed-bench
	$(PY) -m benchmarks.core

viewer: $(VENV)/.installed-viewer
	$(PY) -m examples.emr_viewer

docs: $(VENV)/.installed-docs
	$(PY) -m sphinx -W --keep-going -b html docs docs/_build/html

clean:
	rm -rf $(VENV) build *.egg-info

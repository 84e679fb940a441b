# papseg: the two commands (see README.md)
#   make book   set up, execute every notebook with papermill (profile: default), render the book
#   make test   set up (venv, chromium), run ruff and the whole test suite
#   make lab    install the clone editable into the venv, register the kernel "papseg",
#               start JupyterLab on notebooks/ (LAB=setup: set up only; LAB_ARGS: options)
# Other targets: make help
SHELL := /bin/bash
.ONESHELL:
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PROFILE ?= default
JOBS ?= 2
PYTEST_ARGS ?= -n 2
# The venv path is computed once, and only by targets that need it (after `env` succeeded).
VENV = $(eval VENV := $$(shell scripts/env.sh))$(VENV)
PY = $(VENV)/bin/python
LINT_PATHS = $(wildcard papseg_utils tests notebooks benchmarks scripts)
export PYTHONPATH := $(CURDIR)$(if $(PYTHONPATH),:$(PYTHONPATH))
export HF_HUB_OFFLINE ?= 1
export NO_ALBUMENTATIONS_UPDATE := 1
export MPLBACKEND := Agg
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: help env browser mathjax notebooks html book test lab lint format lock lock-env clean

help:
	@echo "make book       execute every notebook (PROFILE=$(PROFILE), JOBS=$(JOBS)) and render _build/html"
	@echo "make test       ruff + the whole pytest suite (sets up the venv and chromium if needed)"
	@echo "make lab        JupyterLab on notebooks/ (editable install, kernel \"papseg\"; Ctrl-C twice stops it)"
	@echo "                LAB=setup: the set-up only;  LAB_ARGS=\"--no-browser --port 8890\": JupyterLab options"
	@echo "make notebooks  only execute the notebooks into build/executed/"
	@echo "make html       only render the book from build/executed/"
	@echo "make lint       ruff check + format --check;  make format: apply them"
	@echo "make lock       regenerate requirements/lock.txt and environment.yml (network: PyPI)"
	@echo "make clean      remove build/ and _build/"

env:
	@scripts/env.sh >/dev/null

browser:
	@scripts/ensure_chromium.sh

mathjax:
	@scripts/ensure_mathjax.sh >/dev/null

notebooks: env
	$(PY) -m papseg_utils run --profile $(PROFILE) -j $(JOBS)

html: env mathjax
	$(PY) -m papseg_utils book

book: env mathjax
	$(PY) -m papseg_utils run --profile $(PROFILE) -j $(JOBS)
	$(PY) -m papseg_utils book

lint: env
	$(PY) -m ruff check $(LINT_PATHS)
	$(PY) -m ruff format --check $(LINT_PATHS)

format: env
	$(PY) -m ruff format $(LINT_PATHS)
	$(PY) -m ruff check --fix $(LINT_PATHS)

test: env browser mathjax lint
	$(PY) -m pytest $(PYTEST_ARGS)

# Interactive: the kernels get neither the Makefile's HF_HUB_OFFLINE (a user's own is kept)
# nor MPLBACKEND (scripts/lab.sh drops it).
lab:
	$(if $(filter file,$(origin HF_HUB_OFFLINE)),unset HF_HUB_OFFLINE)
	$(if $(filter setup,$(LAB)),export PAPSEG_LAB_SETUP_ONLY=1)
	exec scripts/lab.sh $(LAB_ARGS)

lock:
	scripts/lock.sh

lock-env:
	scripts/lock.sh --env-only

clean:
	rm -rf _build build

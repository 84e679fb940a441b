# papseg: the two commands (see README.md)
#   make book   set up, execute every notebook with papermill (profile: default), render the book
#   make test   set up, run ruff and the whole test suite
SHELL := /bin/bash
.ONESHELL:
.SHELLFLAGS := -eu -o pipefail -c

PROFILE ?= default
JOBS ?= 2
VENV = $(shell scripts/env.sh)
PY = $(VENV)/bin/python
export PYTHONPATH := $(CURDIR)$(if $(PYTHONPATH),:$(PYTHONPATH))
export HF_HUB_OFFLINE ?= 1
export NO_ALBUMENTATIONS_UPDATE := 1
export MPLBACKEND := Agg
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: env book notebooks html test lint format browser clean

env:
	@scripts/env.sh >/dev/null

browser:
	@scripts/ensure_chromium.sh

notebooks: env
	$(PY) -m papseg_utils run --profile $(PROFILE) -j $(JOBS)

html: env
	$(PY) -m papseg_utils book

book: notebooks html

lint: env
	$(PY) -m ruff check papseg_utils tests notebooks scripts benchmarks
	$(PY) -m ruff format --check papseg_utils tests notebooks scripts benchmarks

format: env
	$(PY) -m ruff format papseg_utils tests notebooks scripts benchmarks
	$(PY) -m ruff check --fix papseg_utils tests notebooks scripts benchmarks

test: env browser lint
	$(PY) -m pytest -n 2

clean:
	rm -rf _build build

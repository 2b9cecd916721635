# Two commands do all the set-up:  `make report`  and  `make test`.
# Both are idempotent: the virtual environment is (re)installed only when
# pyproject.toml changes, and `build` reuses the cached data set and model.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
REPORT_ARGS ?= --images 30

.PHONY: report test install clean-report help

help:
	@echo "make report   create $(VENV), install reportgen, build the demo report into report/"
	@echo "make test     install the test dependencies, lint (ruff) and run the test suite"

$(PY):
	$(PYTHON) -m venv $(VENV)

# Editable install: the package, its dependencies and the `reportgen` console script.
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $@

install: $(VENV)/.installed

report: $(VENV)/.installed
	$(VENV)/bin/reportgen build $(REPORT_ARGS) --out report

# Test extras plus the system tools the browser and PDF tests drive
# (Debian's chromium and poppler-utils), installed once.
$(VENV)/.test-installed: $(VENV)/.installed
	$(PY) -m pip install --quiet -e '.[test]'
	@if ! command -v chromium >/dev/null || ! command -v pdftoppm >/dev/null; then \
		echo "installing chromium and poppler-utils (Debian packages) for the report tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium poppler-utils >/dev/null; \
	fi
	touch $@

test: $(VENV)/.test-installed
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q

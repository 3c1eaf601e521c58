# Two commands matter: `make demo` and `make test`. Both create .venv on first use and
# reinstall only when pyproject.toml changes.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install lint test test-fast demo dev bench e2e clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[local,demo,dev,arrow,polars,dg]"
	touch $(STAMP)

install: $(STAMP)

# Lint first: ruff over the tree, mypy strict on the client, the frames and the public API
# (configured in pyproject.toml).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# The README's Python blocks run too (pytest-markdown-docs, against a local server: tests/docs/).
test: lint
	$(BIN)/python -m pytest --markdown-docs README.md
	$(BIN)/python -m pytest -n 2 --dist loadfile

test-fast: install
	$(BIN)/python -m pytest --markdown-docs README.md
	$(BIN)/python -m pytest -n 2 --dist loadfile -m "not slow"

demo: install
	$(BIN)/python scripts/demo.py

dev: install
	$(BIN)/python scripts/dev.py

bench: install
	$(BIN)/python -m bench

# The demo as a person sees it in the Dagster UI, checked in headless Chromium through Playwright
# (apt-get installs Chromium when missing); screenshots in .e2e/screenshots/. Beside it, the same
# checks on a broken copy of the demo must fail (lines labelled [e2e-broken]). The two run side by
# side, and both must pass. `make e2e E2E_FLAGS=--update-docs-images` also rewrites the README
# images in docs/ (a plain run leaves the working tree clean).
E2E_FLAGS ?=
e2e: install
	@$(BIN)/python scripts/e2e.py $(E2E_FLAGS) & pid=$$!; trap 'kill $$pid 2>/dev/null' EXIT; \
	$(BIN)/python scripts/e2e_broken.py; broken=$$?; \
	wait $$pid; demo=$$?; trap - EXIT; \
	echo "make e2e: demo checks exit $$demo, broken-copy checks exit $$broken (0 is a pass)"; \
	test $$demo -eq 0 && test $$broken -eq 0

# Everything local: the venv, the local server's data, Dagster homes, DuckDB files, saved state.
clean:
	rm -rf $(VENV) .local-posthog .dagster_home data .e2e demo_defs/.local_defs_state

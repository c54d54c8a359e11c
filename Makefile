# Two commands do everything on a fresh machine with Python 3.11 and pip:
#   make report   simulate the default world, score, validate, write reports
#   make test     run the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STATE := $(abspath $(VENV)/state)

# Keep Jupyter, IPython and matplotlib from writing under $HOME.
export MPLCONFIGDIR := $(STATE)/matplotlib
export IPYTHONDIR := $(STATE)/ipython
export JUPYTER_CONFIG_DIR := $(STATE)/jupyter/config
export JUPYTER_DATA_DIR := $(STATE)/jupyter/data
export JUPYTER_RUNTIME_DIR := $(STATE)/jupyter/runtime
export JUPYTER_PLATFORM_DIRS := 1

.PHONY: report test lab install lint clean

report: $(STAMP)
	$(BIN)/healthlab run

test: $(STAMP)
	$(BIN)/python -m pytest

lab: $(STAMP)
	$(BIN)/pip install -q '.[lab]' && $(BIN)/jupyter lab notebooks/

lint: $(STAMP)
	$(BIN)/ruff check healthlab tests benchmarks && $(BIN)/ruff format --check healthlab tests benchmarks

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,spark]'
	touch $(STAMP)

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis

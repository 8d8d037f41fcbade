# Maeum — the two everyday commands are `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export NO_PROXY := 127.0.0.1,localhost
export no_proxy := 127.0.0.1,localhost

.PHONY: setup run test bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test,keyless]'
	touch $(STAMP)

run: setup
	$(BIN)/maeum run

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python bench/bench_classifier.py
	$(BIN)/python bench/bench_bot.py
	MAEUM_MODEL_PATH=model/transformer $(BIN)/python bench/bench_bot.py --quick --ladders no-limit

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache

# The two set-up commands: `make run` (pipeline on the bundled sample into ./data) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export GX_ANALYTICS_ENABLED := false
export PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS := 180

.PHONY: install browser postgres run test check lint typecheck pytest evaluate bench lock clean

CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	# a migrated Prefect database that each CLI run's temporary server starts from (flows/temporary_server.py)
	$(BIN)/python -c "from flows.temporary_server import template_database; template_database()"
	touch $(STAMP)

install: $(STAMP)

# Debian's chromium renders the Data Docs in a browser test (network off); installed once if missing.
$(CHROMIUM):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium

# Debian's Noto CJK fonts: Chinese text in the browser tests' screenshots renders as text, not boxes.
CJK_FONT := /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc
$(CJK_FONT):
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq fonts-noto-cjk

browser: $(CHROMIUM) $(CJK_FONT)

# Debian's PostgreSQL: the Prefect server tests start a database cluster of their own with it (127.0.0.1).
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postgresql; }

run: install
	$(BIN)/python -m warehouse run --source sample/landing --root data

test: install browser postgres check

check: lint typecheck pytest

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy warehouse schemas flows

pytest:
	$(BIN)/python -m pytest -q

evaluate:
	$(BIN)/python -m warehouse evaluate --gold sample/gold/dev.jsonl --root data

bench: install
	$(BIN)/python benchmarks/bench_pipeline.py
	$(BIN)/python benchmarks/bench_long.py
	$(BIN)/python benchmarks/bench_hostile.py

lock:
	$(BIN)/python -m pip freeze --exclude-editable > requirements.lock

clean:
	rm -rf data .pytest_cache .mypy_cache .ruff_cache

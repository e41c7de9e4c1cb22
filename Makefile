# gapbook: two commands on a fresh machine (python3, pip and make are all it needs).
#   make book   execute every chapter offline and build the HTML book -> _build/html/index.html
#   make test   gapkit unit tests + every chapter in the CI profile + the HTML build + browser check
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.gapbook-installed
BOOK_PROFILE ?= offline
export PYTHONHASHSEED := 0
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1
# caches (embeddings, trained stand-in models) live in the build folder unless you choose otherwise
export GAPKIT_CACHE ?= $(CURDIR)/_build/cache
# published real embeddings (gapkit.datasets.load_published_embeddings) from ../shared/data when it is
# there (CI: shared/ is copied beside the clone), so no chapter or test downloads them
ifneq ($(wildcard ../shared/data),)
export GAPKIT_DATA ?= $(abspath ../shared/data)
endif

.PHONY: book test venv chromium student clean bench

venv: $(STAMP)

# Exact pins (CI and local builds) from requirements-lock.txt, then gapkit itself, editable.
$(STAMP): requirements-lock.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "Installing the pinned environment into $(VENV) (first time: a few minutes)..."
	@$(PY) -m pip install -q --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
	@$(PY) -m pip install -q -r requirements-lock.txt > $(VENV)/pip.log 2>&1 || (grep -v '^WARNING: Location' $(VENV)/pip.log; exit 1)
	@$(PY) -m pip install -q --no-deps --no-build-isolation -e . > $(VENV)/pip-gapkit.log 2>&1 || (cat $(VENV)/pip-gapkit.log; exit 1)
	@touch $@

book: venv
	$(PY) scripts/book.py execute --profile $(BOOK_PROFILE)
	$(PY) scripts/book.py html

test: venv chromium
	$(PY) -m pytest -q -m "not gpu" --ignore=tests/test_site.py tests
	$(PY) scripts/book.py execute --profile ci
	$(PY) scripts/colab_sim.py all
	$(PY) scripts/book.py html
	$(PY) scripts/book.py student --check
	GAPBOOK_SITE=_build/html $(PY) -m pytest -q tests/test_site.py tests/test_published.py::test_executed_chapters_show_the_real_model_sections

# Debian's Chromium and its driver for the browser test (installed here if missing; needs root or sudo).
chromium:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  SUDO=$$(test "$$(id -u)" = 0 || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; }

student: venv
	$(PY) scripts/book.py student

bench: venv
	$(PY) benchmarks/bench_geometry.py
	$(PY) benchmarks/bench_sweep.py
	$(PY) benchmarks/bench_cli_out_of_core.py   # gapkit report on two memory-mapped 1,000,000 x 512 files (4 GB in /tmp)
	$(PY) benchmarks/bench_embed_distributed.py # gapkit embed: one process against torchrun --nproc_per_node=2 (rows/s)

# Tag v<gapkit version> and publish _build/html to the published branch of REMOTE (scripts/book.py release):
#   make release REMOTE=git@github.com:gapbook/gapbook.git [RELEASE_FLAGS="--skip-build --dry-run"]
.PHONY: release
release: venv
	@test -n "$(REMOTE)" || { echo 'usage: make release REMOTE=<git url or path> [RELEASE_FLAGS="--skip-build --dry-run"]' >&2; exit 2; }
	$(PY) scripts/book.py release --remote "$(REMOTE)" --profile $(BOOK_PROFILE) $(RELEASE_FLAGS)

clean:
	rm -rf _build student

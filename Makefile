# Two commands do all the set-up on a fresh machine:
#   make run   -- bootstrap .venv and run the default workflow end to end
#   make test  -- bootstrap .venv and run the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
# torch is pinned exactly so pip takes the local CPU build instead of a multi-GB CUDA download;
# pyproject keeps the open range torch>=2.4 for users with their own torch.
TORCH_PIN ?= torch==2.13.0
STAMP := $(VENV)/.installed
CORES ?= all
# The HTCondor executor plugin warns at every Snakemake start when no pool config exists.
export CONDOR_CONFIG ?= /dev/null

.PHONY: run test lint venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_PIN)"
	$(BIN)/python -m pip install --quiet -e ".[dev,cluster,pythia]"
	touch $(STAMP)

run: $(STAMP)
	PATH="$(BIN):$$PATH" $(BIN)/snakemake --snakefile Snakefile --configfile config/config.yaml \
		--profile profiles/default --cores $(CORES)

test: $(STAMP)
	PATH="$(BIN):$$PATH" $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check src workflow/scripts tests benchmarks
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/ruff format --check src workflow/scripts tests benchmarks
	PATH="$(BIN):$$PATH" $(BIN)/snakemake --lint --cores 1

clean:
	rm -rf results .snakemake

# Two commands do all the set-up on a fresh machine:
#   make run     -- bootstrap .venv from requirements/run.lock and run the default workflow
#   make test    -- bootstrap .venv from requirements/test.lock and run the test suite
# and a few more:
#   make report  -- the HTML report of the last run: results/report.html
#   make dag     -- the job graph: results/dag.svg (needs Graphviz's dot)
#   make lint    -- ruff, snakefmt and snakemake --lint
#   make venv-full -- .venv with everything in requirements/test.lock (cluster plugins, Pythia)
#   make lock    -- regenerate requirements/*.lock (needs the network)
# snakemake lives in .venv: the targets call it there. To call it yourself:
#   source .venv/bin/activate
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
# torch is installed first and on its own, pinned exactly: where pip is set up with a local
# CPU build (the project's machines) it takes that instead of a multi-GB CUDA download;
# elsewhere it takes PyPI's build (on Linux the CUDA build, for GPUs). The lock files hold
# everything else and no torch line, so installing them never replaces this torch.
# pyproject keeps the open range torch>=2.4 for users with their own torch.
TORCH_PIN ?= torch==2.13.0
RUN_LOCK := requirements/run.lock
TEST_LOCK := requirements/test.lock
# One stamp per lock: `make run` installs the base dependencies only, `make test` adds the
# dev and cluster extras (and pythia where its wheel exists).
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
CORES ?= all
SNAKEMAKE = PATH="$(BIN):$$PATH" $(BIN)/snakemake --snakefile workflow/Snakefile \
	--configfile config/config.yaml --profile profiles/default --cores $(CORES)
# The HTCondor executor plugin warns at every Snakemake start when no pool config exists.
export CONDOR_CONFIG ?= /dev/null

.PHONY: run test lint venv venv-full report dag lock clean

define ACTIVATE_NOTE
snakemake and the genhep tools are in $(VENV), not on your PATH: to call them yourself,
  source $(VENV)/bin/activate
endef

define RUN_DONE
The default run is done. Its results are under results/:
  results/evaluation/leaderboard.md       every generator family scored side by side
  results/cathode/summary.md              the CATHODE anomaly search (max SIC per method)
  results/amplification/amplification.md  the amplification study
  results/evaluation/, results/models/    plots, metrics, trained models
The HTML report: make report, then open results/report.html in a browser
  (xdg-open results/report.html on Linux, open results/report.html on macOS).
$(ACTIVATE_NOTE)
endef

define REPORT_DONE
Report written: results/report.html. Open it in a browser:
  xdg-open results/report.html    (Linux)
  open results/report.html        (macOS)
On a remote machine copy it first: scp HOST:$(CURDIR)/results/report.html .
$(ACTIVATE_NOTE)
endef

define DAG_DONE
The job graph: results/dag.svg (open it in a browser); its DOT text: results/dag.dot.
$(ACTIVATE_NOTE)
endef

define DAG_NO_DOT
Graphviz's dot is not on PATH, so results/dag.svg was not drawn; the graph's DOT text is in
results/dag.dot. Install Graphviz (Debian/Ubuntu: sudo apt-get install graphviz; macOS: brew
install graphviz; conda: conda install -c conda-forge graphviz) and run make dag again.
$(ACTIVATE_NOTE)
endef

export ACTIVATE_NOTE RUN_DONE REPORT_DONE DAG_DONE DAG_NO_DOT

# $(call install,LOCK): what `make run` and `make test` run once per lock (and again when the
# lock or pyproject.toml changes). The lock pins every package with its sha256 hashes; --no-deps
# installs exactly that set, and pip check proves it consistent with the pinned torch, but
# for one known conflict (KNOWN_CONFLICT): wasserstein 1.1.0, which energyflow imports, pins
# numpy<2 in its metadata; its compiled EMD does not load under numpy 2, and genhep never
# calls it (energyflow's EFPs are pure Python; tests/test_clouds_efp.py runs them).
KNOWN_CONFLICT := ^wasserstein 1\.1\.0 has requirement numpy<2
PIP_CHECK = $(BIN)/python -m pip check | grep -v -e '$(KNOWN_CONFLICT)' -e '^No broken requirements' | { ! grep .; }
define install
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
		echo "genhep needs Python >= 3.11 (snakemake >= 8.20 does); this is $$($(PYTHON) -V)."; \
		echo "Name another interpreter: make $(MAKECMDGOALS) PYTHON=python3.11"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH_PIN)"
	$(BIN)/python -m pip install --quiet --no-deps --require-hashes -r $(1)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(PIP_CHECK)
	touch $@
endef

venv: $(RUN_STAMP)

# The cluster profiles' executor plugins and the pythia source need test.lock's extras.
venv-full: $(TEST_STAMP)

$(RUN_STAMP): $(RUN_LOCK) pyproject.toml
	$(call install,$(RUN_LOCK))

$(TEST_STAMP): $(TEST_LOCK) pyproject.toml
	$(call install,$(TEST_LOCK))

run: $(RUN_STAMP)
	$(SNAKEMAKE)
	@printf '\n%s\n' "$$RUN_DONE"

report: $(RUN_STAMP)
	$(SNAKEMAKE) --report results/report.html
	@printf '\n%s\n' "$$REPORT_DONE"

# The job graph as DOT text (results/dag.dot), drawn as results/dag.svg where Graphviz is.
dag: $(RUN_STAMP)
	@mkdir -p results
	$(SNAKEMAKE) --dag > results/dag.dot
	@if command -v dot >/dev/null 2>&1; then \
		dot -Tsvg results/dag.dot -o results/dag.svg && \
		printf '\n%s\n' "$$DAG_DONE"; \
	else \
		printf '\n%s\n' "$$DAG_NO_DOT"; \
	fi

test: $(TEST_STAMP)
	PATH="$(BIN):$$PATH" $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(TEST_STAMP)
	$(BIN)/ruff check src workflow/scripts tests benchmarks
	$(BIN)/snakefmt --check workflow/Snakefile workflow/rules
	$(BIN)/ruff format --check src workflow/scripts tests benchmarks
	PATH="$(BIN):$$PATH" $(BIN)/snakemake --lint --cores 1

# The locks are compiled by uv (pinned below, in a venv of its own) for every platform and
# Python >= 3.11 at once (--universal), with sha256 hashes, as
#   uv pip compile pyproject.toml --universal --generate-hashes --no-emit-package torch \
#       --constraint <torch-cpu.txt: TORCH_PIN+cpu> --find-links <CPU torch wheels> \
#       --output-file requirements/run.lock
#   uv pip compile pyproject.toml requirements/test.in --extra dev --extra cluster \
#       (same options) --constraint requirements/run.lock --output-file requirements/test.lock
# torch is resolved as its CPU build, so the CUDA runtime packages (nvidia-*, triton) stay out
# of the locks (a CUDA torch brings its own), and --no-emit-package torch leaves torch's line
# out while keeping its dependencies. test.lock is constrained by run.lock, so it holds the
# same pins plus the test extras. uv keeps the versions already in the locks where it can;
# `make lock LOCK_ARGS=--upgrade` moves everything to the newest releases.
UV_VERSION := 0.13.9
LOCK_VENV ?= .venv-lock
# Where the resolver finds the CPU build of torch: a local wheel folder where the machine has
# one (/opt/wheels on the project's machines), else PyTorch's CPU index.
TORCH_CPU_WHEELS ?= $(or $(wildcard /opt/wheels),https://download.pytorch.org/whl/cpu/torch/)
UV_COMPILE = $(LOCK_VENV)/bin/uv pip compile --universal --generate-hashes --quiet \
	--no-emit-package torch --constraint $(LOCK_VENV)/torch-cpu.txt \
	--find-links $(TORCH_CPU_WHEELS) --custom-compile-command "make lock" $(LOCK_ARGS)

lock:
	test -x $(LOCK_VENV)/bin/uv || { $(PYTHON) -m venv $(LOCK_VENV) && \
		$(LOCK_VENV)/bin/python -m pip install --quiet "uv==$(UV_VERSION)"; }
	printf '%s+cpu\n' "$(TORCH_PIN)" > $(LOCK_VENV)/torch-cpu.txt
	$(UV_COMPILE) pyproject.toml --output-file $(RUN_LOCK)
	$(UV_COMPILE) pyproject.toml requirements/test.in --extra dev --extra cluster \
		--constraint $(RUN_LOCK) --output-file $(TEST_LOCK)

clean:
	rm -rf results .snakemake

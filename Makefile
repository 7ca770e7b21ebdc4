# Two commands on a fresh machine: `make run` and `make test`. Both build .venv themselves.
VENV ?= .venv
CORES ?= 2
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: setup run controls test lint clean chaos slurm-up slurm-down

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

EXP = $(shell $(VENV)/bin/python -c "import yaml;print(yaml.safe_load(open('config/config.yaml'))['experiment'])" 2>/dev/null)

run: setup
	snakemake --cores $(CORES)
	snakemake --report results/$(EXP)/report.html
	@evotickets table results/$(EXP)
	@echo "results dataset: results/$(EXP)/summary.nc   (xarray.open_dataset)"
	@echo "figures:         results/$(EXP)/figures/fig1.png … fig11.png"
	@echo "HTML report:     results/$(EXP)/report.html"

controls: setup
	snakemake --cores $(CORES) --configfile config/controls.yaml
	@evotickets table results/digits-controls

test: setup
	pytest -q

# SIGKILL the tiny workflow 20 times at seeded random moments; print how many reruns ended with
# bitwise identical artifacts and how many finished jobs were recomputed.
chaos: setup
	python tests/chaos.py --kills 20

# A single-node SLURM cluster on this machine (root, Debian/Ubuntu), for trying profiles/slurm.
slurm-up:
	ci/slurm-up.sh

slurm-down:
	ci/slurm-down.sh

lint: setup
	ruff check src tests
	ruff format --check src tests
	snakemake --lint

clean:
	rm -rf results .snakemake

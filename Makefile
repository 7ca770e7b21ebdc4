# Two commands on a fresh machine: `make run` and `make test`. Both build .venv themselves.
VENV ?= .venv
CORES ?= 2
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: setup run controls test lint clean

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

run: setup
	snakemake --cores $(CORES)
	@evotickets table results/$$(python -c "import yaml;print(yaml.safe_load(open('config/config.yaml'))['experiment'])")

controls: setup
	snakemake --cores $(CORES) --configfile config/controls.yaml
	@evotickets table results/digits-controls

test: setup
	pytest -q

lint: setup
	ruff check src tests
	ruff format --check src tests
	snakemake --lint

clean:
	rm -rf results .snakemake

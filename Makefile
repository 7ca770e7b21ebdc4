# Two commands on a fresh machine: `make run` and `make test`. Both build .venv themselves.
VENV ?= .venv
CORES ?= 2
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: setup run test lint clean bench

# `make bench` runs the benchmark suite (bench/README.md); `make bench BENCH_QUICK=1` is the
# smoke mode (small sizes, minutes). Tables print; JSON lands in results/bench/.
BENCHES ?= cnn_fitness es_loop rollouts seeds dag round
BENCH_QUICK ?=

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

$(VENV)/.bench-installed: $(VENV)/.installed pyproject.toml
	$(VENV)/bin/pip install -q -e '.[dev,bench]'
	touch $@

bench: $(VENV)/.bench-installed
	@set -e; for b in $(BENCHES); do \
		echo "== bench/bench_$$b.py"; \
		BENCH_QUICK=$(BENCH_QUICK) python bench/bench_$$b.py; \
	done

run: setup
	snakemake --cores $(CORES)
	@evotickets table results/$$(python -c "import yaml;print(yaml.safe_load(open('config/config.yaml'))['experiment'])")

test: setup
	pytest -q

lint: setup
	ruff check src tests bench
	ruff format --check src tests bench
	snakemake --lint

clean:
	rm -rf results .snakemake

# Two commands on a fresh machine: `make run` and `make test`. Both build .venv themselves.
VENV ?= .venv
CORES ?= 2
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

# `make fidelity`: the paper's claims on digits at CPU scale (config/fidelity.yaml, ≈ 45 min on
# 2 cores); ends with the claims table (results/digits-fidelity/claims.md).
.PHONY: setup run fidelity pendulum pendulum-controls pendulum-claim5 pendulum-claim3 pendulum-claim3-deep pendulum-claim3-2000 extensions tour controls heuristics test lint clean chaos slurm-up slurm-down bench

# `make bench` runs the benchmark suite (bench/README.md); `make bench BENCH_QUICK=1` is the
# smoke mode (small sizes, minutes). Tables print; JSON lands in results/bench/.
BENCHES ?= cnn_fitness es_loop rollouts seeds dag round
BENCH_QUICK ?=

$(VENV)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -c constraints.txt -e '.[dev]'
	touch $@

setup: $(VENV)/.installed

EXP = $(shell $(VENV)/bin/python -c "import yaml;print(yaml.safe_load(open('config/config.yaml'))['experiment'])" 2>/dev/null)

$(VENV)/.bench-installed: $(VENV)/.installed pyproject.toml constraints.txt
	$(VENV)/bin/pip install -q -c constraints.txt -e '.[dev,bench]'
	touch $@

bench: $(VENV)/.bench-installed
	@set -e; for b in $(BENCHES); do \
		echo "== bench/bench_$$b.py"; \
		BENCH_QUICK=$(BENCH_QUICK) python bench/bench_$$b.py; \
	done

# Snakemake writes its report in place, so to a temporary name, then moved into place durably
run: setup
	snakemake --cores $(CORES)
	snakemake --report results/$(EXP)/report.tmp.html
	python -c "from evotickets.durable import durable_replace as r; r('results/$(EXP)/report.tmp.html', 'results/$(EXP)/report.html')"
	@cat results/$(EXP)/accuracy_table.txt
	@sed -n '/^## Summary/,/^## Every level/p' results/$(EXP)/claims.md | sed '$$d'
	@echo "claims:          results/$(EXP)/claims.md (every level; claims.nc for xarray)"
	@echo "results dataset: results/$(EXP)/summary.nc   (xarray.open_dataset)"
	@echo "figures:         results/$(EXP)/figures/fig1.png … fig11.png, pruning_families.png, tickets_shared.png"
	@echo "HTML report:     results/$(EXP)/report.html"

fidelity: setup
	snakemake --cores $(CORES) --configfile config/fidelity.yaml
	@cat results/digits-fidelity/accuracy_table.txt
	@sed -n '/^## Summary/,/^## Every level/p' results/digits-fidelity/claims.md | sed '$$d'
	@echo "claims: results/digits-fidelity/claims.md"

# Beyond the study on digits (config/extensions.yaml): SNIP, GraSP, dynamic sparse ES, late
# rewinding and two more evosax strategies beside IMP; ends with its claims summary.
extensions: setup
	snakemake --cores $(CORES) --configfile config/extensions.yaml
	@cat results/digits-extensions/accuracy_table.txt
	@sed -n '/^## Summary/,/^## Every level/p' results/digits-extensions/claims.md | sed '$$d'
	@echo "claims: results/digits-extensions/claims.md; figure: results/digits-extensions/figures/pruning_families.png"

# Every path of the tool (two strategies, Pendulum, all analyses) on tiny budgets, minutes.
tour: setup
	snakemake --cores $(CORES) --configfile config/tour.yaml
	@cat results/digits-tour/accuracy_table.txt

# `make pendulum`: the paper's claims 1, 2 and 8 on Pendulum at CPU scale (config/pendulum.yaml,
# ≈ 2 h on 2 cores); ends with its claims summary.
pendulum: setup
	snakemake --cores $(CORES) --configfile config/pendulum.yaml
	@cat results/pendulum-fidelity/accuracy_table.txt
	@sed -n '/^## Summary/,/^## Every level/p' results/pendulum-fidelity/claims.md | sed '$$d'
	@echo "claims: results/pendulum-fidelity/claims.md"

# `make pendulum-controls`: the paper's claims 3 and 5 on Pendulum at CPU scale
# (config/pendulum_controls.yaml, ≈ 70 min on 2 cores); ends with its claims summary.
pendulum-controls: setup
	snakemake --cores $(CORES) --configfile config/pendulum_controls.yaml
	@cat results/pendulum-controls/accuracy_table.txt
	@sed -n '/^## Summary/,/^## Every level/p' results/pendulum-controls/claims.md | sed '$$d'
	@echo "claims: results/pendulum-controls/claims.md"

# `make pendulum-claim3`: claim 3 on Pendulum's own 200-step episodes, where masked PPO
# trains (config/pendulum_claim3.yaml, 8 seeds × 8 rounds, ≈ 25 min on 2 cores).
pendulum-claim3: setup
	snakemake --cores $(CORES) --configfile config/pendulum_claim3.yaml
	@cat results/pendulum-claim3/accuracy_table.txt
	@sed -n '/^## Summary/,/^## Every level/p' results/pendulum-claim3/claims.md | sed '$$d'
	@echo "claims: results/pendulum-claim3/claims.md"

# `make pendulum-claim3-deep`: the same chains to 14 rounds (5.5 % remaining).
pendulum-claim3-deep: setup
	snakemake --cores $(CORES) --configfile config/pendulum_claim3_deep.yaml
	@cat results/pendulum-claim3-deep/accuracy_table.txt
	@sed -n '/^## Summary/,/^## Every level/p' results/pendulum-claim3-deep/claims.md | sed '$$d'
	@echo "claims: results/pendulum-claim3-deep/claims.md"

# `make pendulum-claim3-2000`: the same 14 rounds with Sep-CMA-ES at the paper's 2,000
# generations a round (the PPO chains have pendulum-claim3-deep's settings and digests).
pendulum-claim3-2000: setup
	snakemake --cores $(CORES) --configfile config/pendulum_claim3_2000.yaml
	@cat results/pendulum-claim3-2000/accuracy_table.txt
	@sed -n '/^## Summary/,/^## Every level/p' results/pendulum-claim3-2000/claims.md | sed '$$d'
	@echo "claims: results/pendulum-claim3-2000/claims.md"

# `make pendulum-claim5`: claim 5 on Pendulum at 8 seeds (config/pendulum_claim5.yaml,
# ≈ 80 min on 2 cores); ends with its claims summary.
pendulum-claim5: setup
	snakemake --cores $(CORES) --configfile config/pendulum_claim5.yaml
	@cat results/pendulum-claim5/accuracy_table.txt
	@sed -n '/^## Summary/,/^## Every level/p' results/pendulum-claim5/claims.md | sed '$$d'
	@echo "claims: results/pendulum-claim5/claims.md"

controls: setup
	snakemake --cores $(CORES) --configfile config/controls.yaml
	@cat results/digits-controls/accuracy_table.txt

# Fig. 9 on digits: pruning heuristics and init schemes (one task entry per scheme).
heuristics: setup
	snakemake --cores $(CORES) --configfile config/heuristics.yaml
	@cat results/digits-heuristics/accuracy_table.txt
	@echo "figure: results/digits-heuristics/figures/fig9.png"

# Two pytest workers, one test file each at a time (--dist loadfile keeps a file's module
# fixtures, such as a finished tiny run, on one worker), longest files first (tests/conftest.py);
# the 15 slowest tests are listed at the end: the suite must stay under 15 minutes on 2 cores.
test: setup
	pytest -q -n 2 --dist loadfile --no-loadscope-reorder --durations=15

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
	ruff check src tests bench ci
	ruff format --check src tests bench ci
	python ci/lint_workflow.py

clean:
	rm -rf results .snakemake

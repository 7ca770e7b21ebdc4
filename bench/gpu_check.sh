#!/usr/bin/env bash
# The GPU path, measured on one GPU in one script (≤ 8 minutes), as JSON.
#
#   bench/gpu_check.sh                 # writes $OUT/ (default results/bench/gpu/)
#   PYTHON=/path/python OUT=/tmp/o EVOTICKETS_DATA_DIR=/data bench/gpu_check.sh
#
# Needs a Python with a CUDA build of JAX (PYTHON: default .venv/bin/python where it exists,
# else python3) and this project's libraries: on a lent device machine, whose image lacks
# evosax, gymnax and brax and reaches no package index, run bench/gpu_prepare.sh here first
# and carry .gpu (its wheels are installed into a scratch folder, src/ goes on PYTHONPATH, and
# its MNIST copy is the data). Each step has its own time limit, so one slow step cannot eat
# the others' time; a step that fails or runs out is recorded as such and the script goes on.
#   1. bench 1: the paper CNN's population fitness (128 × 1,024) in generations/s and as a
#      fraction of this GPU's fp32 jnp.dot peak measured in the same process
#   2. bench 8: 1, 5 and 15 chains of the paper's MNIST SNES setting in the library's vmapped
#      group program (what `round-group --program vmapped`, meant for GPUs, runs; `sequential`
#      stays the default until this is measured), chain-generations/s (target: 15 chains ≥ 8×
#      one chain), and whether a chain's numbers depend on its group (SNES; then Sep-CMA-ES,
#      1 and 5 chains; both are bitwise alone and grouped on a CPU since d5b5f15 and 6a3bedc)
#   3. bench 3: Pendulum and brax ant env steps/s
#   4. run-to-run determinism: the paper's MNIST SNES chain's first generations in two fresh
#      processes, bitwise or not, without and with --xla_gpu_deterministic_ops=true
#   5. the paper's MNIST SNES chain, as many 4,000-generation rounds as fit in 100 s (one
#      round took 89 s on an H200 on 2026-12-04, before the vmapped fitness form), with
#      test accuracy (needs MNIST: EVOTICKETS_DATA_DIR, or shared/data, or ../shared/data)
# Then gpu_check.json gathers every step's JSON, its exit status and seconds, and nvidia-smi.
# BENCH_QUICK=1 runs every step at small sizes (a CPU smoke run of this script).
set -u
OUT=${OUT:-results/bench/gpu}
source "$(dirname "$0")/gpu_env.sh"

# Sep-CMA-ES's bitwise check in a group of 5 over 5 generations; a CPU smoke run
# (BENCH_QUICK, as the benches read it: bench/common.py) uses 2 chains and quick mode's
# generations, as 5 vmapped CNN chains take ≈ 13 s a call on 2 cores and the step would run
# out of time (a BENCH_GENERATIONS given here would win over quick mode's).
read -r SEP_CHAINS SEP_GENERATIONS < <(PYTHONPATH="bench${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" \
  -c "from common import QUICK; print('1,2 2' if QUICK else '1,5 5')")

step cnn_fitness 70 "$PYTHON" bench/bench_cnn_fitness.py
step chains 90 "$PYTHON" bench/bench_chains.py
BENCH_STRATEGY=sep_cma_es BENCH_CHAINS=$SEP_CHAINS BENCH_GENERATIONS=$SEP_GENERATIONS \
  step chains_sep_cma_es 60 "$PYTHON" bench/bench_chains.py
step rollouts 80 "$PYTHON" bench/bench_rollouts.py
step determinism 60 "$PYTHON" bench/gpu_determinism.py
BENCH_BUDGET_S=${BENCH_BUDGET_S:-100} step mnist_rounds 120 "$PYTHON" bench/gpu_rounds.py

gather gpu_check

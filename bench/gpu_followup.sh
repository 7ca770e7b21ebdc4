#!/usr/bin/env bash
# What the first lent GPU (an H200, 2026-12-04) left unmeasured, on one GPU in ≤ 8 minutes, as
# JSON: run it before bench/gpu_check.sh when a session's device time cannot hold both.
#
#   bench/gpu_followup.sh                  # writes $OUT/ (default results/bench/gpu-followup/)
#   PYTHON=/path/python OUT=/tmp/o bench/gpu_followup.sh
#
# Same set-up as gpu_check.sh (bench/gpu_env.sh: the carried wheels of bench/gpu_prepare.sh,
# src/ on PYTHONPATH, MNIST from .gpu/data). Steps, each with its own time limit:
#   1. determinism: the paper's MNIST SNES chain in the library's GPU form (the vmapped flax
#      module since af82517, never timed as a whole chain) in two fresh processes, bitwise or
#      not, without and with --xla_gpu_deterministic_ops, and its milliseconds a generation
#      (the batched form: 16.2 ms, bitwise both ways)
#   2. round_times (bench 11): round 0 at config/paper.yaml's settings, a fraction run and the
#      paper's round projected, for the ES on MNIST (the whole chain in the vmapped form, at
#      the config's chunks of 32), on brax ant (generalized, 256 × 8 × 500) and on Pendulum,
#      Adam on MNIST and PPO on Pendulum: what `runtime` advice for paper.yaml needs (each
#      case ≤ 90 s; the JSON is rewritten after each, so a case cut short keeps the others)
#   3. fitness_forms: the paper CNN's fitness forms side by side (bench/gpu_fitness_forms.py,
#      which goes through the task since c9c8572; its H200 table ran the same functions
#      written in the bench)
# Then gpu_followup.json gathers them. BENCH_QUICK=1: every step at small sizes (CPU smoke).
set -u
OUT=${OUT:-results/bench/gpu-followup}
source "$(dirname "$0")/gpu_env.sh"

step determinism 60 "$PYTHON" bench/gpu_determinism.py
BENCH_CASE_LIMIT_S=${BENCH_CASE_LIMIT_S:-90} step round_times 360 "$PYTHON" bench/bench_round_times.py
step fitness_forms 45 "$PYTHON" bench/gpu_fitness_forms.py

gather gpu_followup

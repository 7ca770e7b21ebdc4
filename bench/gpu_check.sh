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
cd "$(dirname "$0")/.."
if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
OUT=${OUT:-results/bench/gpu}
mkdir -p "$OUT"
export BENCH_OUT="$OUT" PYTHONUNBUFFERED=1 BENCH_CPU_DEVICES=1
# bench/gpu_prepare.sh's wheels, where this Python lacks what they carry (the device image);
# a Python that has them (this project's .venv, for a CPU smoke run) keeps its own
if compgen -G ".gpu/wheels/*.whl" > /dev/null \
  && ! "$PYTHON" -c "import evosax, gymnax, brax, jsonschema" > /dev/null 2>&1; then
  site=${GPU_SITE:-/tmp/evotickets-site}
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$site" .gpu/wheels/*.whl || { echo "installing .gpu/wheels failed" >&2; exit 1; }
  export PYTHONPATH="$site:$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
fi
if [ -z "${EVOTICKETS_DATA_DIR:-}" ]; then
  for d in .gpu/data shared/data ../shared/data; do
    [ -d "$d/mnist" ] && export EVOTICKETS_DATA_DIR="$PWD/$d" && break
  done
fi
export BENCH_DATA_DIR=${EVOTICKETS_DATA_DIR:-}

step() {  # step NAME SECONDS COMMAND...: run with a time limit, log and record status
  local name=$1 limit=$2; shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  echo "{\"step\": \"$name\", \"rc\": $rc, \"seconds\": $((SECONDS - t0)), \"limit_s\": $limit}" \
    >> "$OUT/steps.jsonl"
  echo "== $name: rc $rc in $((SECONDS - t0)) s (limit $limit s)"
}

# Sep-CMA-ES's bitwise check in a group of 5; a CPU smoke run (BENCH_QUICK, as the benches
# read it: bench/common.py) uses 2, as 5 vmapped CNN chains take ≈ 13 s a call on 2 cores
# and the step would run out of time.
SEP_CHAINS=$(PYTHONPATH="bench${PYTHONPATH:+:$PYTHONPATH}" "$PYTHON" -c \
  "from common import QUICK; print('1,2' if QUICK else '1,5')")

rm -f "$OUT/steps.jsonl"
step cnn_fitness 70 "$PYTHON" bench/bench_cnn_fitness.py
step chains 90 "$PYTHON" bench/bench_chains.py
BENCH_STRATEGY=sep_cma_es BENCH_CHAINS=$SEP_CHAINS BENCH_GENERATIONS=5 \
  step chains_sep_cma_es 60 "$PYTHON" bench/bench_chains.py
step rollouts 80 "$PYTHON" bench/bench_rollouts.py
step determinism 60 "$PYTHON" bench/gpu_determinism.py
BENCH_BUDGET_S=${BENCH_BUDGET_S:-100} step mnist_rounds 120 "$PYTHON" bench/gpu_rounds.py

"$PYTHON" - "$OUT" <<'EOF'
import json, subprocess, sys
from pathlib import Path
out = Path(sys.argv[1])
steps = [json.loads(line) for line in (out / "steps.jsonl").read_text().splitlines()]
results = {}
for p in sorted(out.glob("*.json")):
    if p.name != "gpu_check.json":
        results[p.stem] = json.loads(p.read_text())
try:
    smi = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version",
                          "--format=csv,noheader"], capture_output=True, text=True).stdout
except OSError:
    smi = "no nvidia-smi"
(out / "gpu_check.json").write_text(json.dumps(
    {"nvidia_smi": smi.strip(), "steps": steps, "results": results}, indent=1, default=str))
print(f"wrote {out / 'gpu_check.json'}")
EOF

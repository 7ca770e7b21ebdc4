# Sourced by bench/gpu_check.sh and bench/gpu_followup.sh (bash): what both need before their
# steps, and the two functions they share.
#   PYTHON     default .venv/bin/python where it exists, else python3
#   OUT        where the steps write (the caller sets its default first)
#   the carried wheels (bench/gpu_prepare.sh's .gpu/wheels), installed into a scratch folder
#     where this Python lacks what they carry (the device image); a Python that has them
#     (this project's .venv, for a CPU smoke run) keeps its own
#   EVOTICKETS_DATA_DIR / BENCH_DATA_DIR: .gpu/data, shared/data or ../shared/data, where one
#     holds mnist/ and neither is set
#   step NAME SECONDS COMMAND...   run with a time limit, log to $OUT/NAME.log, record the
#                                  exit status and seconds in $OUT/steps.jsonl
#   gather NAME                    $OUT/NAME.json: every step's JSON, steps.jsonl, nvidia-smi
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
mkdir -p "$OUT"
export BENCH_OUT="$OUT" PYTHONUNBUFFERED=1 BENCH_CPU_DEVICES=1
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
rm -f "$OUT/steps.jsonl"

step() {
  local name=$1 limit=$2; shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" > "$OUT/$name.log" 2>&1
  local rc=$?
  echo "{\"step\": \"$name\", \"rc\": $rc, \"seconds\": $((SECONDS - t0)), \"limit_s\": $limit}" \
    >> "$OUT/steps.jsonl"
  echo "== $name: rc $rc in $((SECONDS - t0)) s (limit $limit s)"
}

gather() {
  "$PYTHON" - "$OUT" "$1" <<'PY'
import json, subprocess, sys
from pathlib import Path
out, name = Path(sys.argv[1]), sys.argv[2]
steps = [json.loads(line) for line in (out / "steps.jsonl").read_text().splitlines()]
results = {}
for p in sorted(out.glob("*.json")):
    if p.name not in ("gpu_check.json", "gpu_followup.json"):
        results[p.stem] = json.loads(p.read_text())
try:
    smi = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version",
                          "--format=csv,noheader"], capture_output=True, text=True).stdout
except OSError:
    smi = "no nvidia-smi"
(out / f"{name}.json").write_text(json.dumps(
    {"nvidia_smi": smi.strip(), "steps": steps, "results": results}, indent=1, default=str))
print(f"wrote {out / f'{name}.json'}")
PY
}

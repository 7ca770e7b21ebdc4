#!/usr/bin/env bash
# Prepare, on this machine, what bench/gpu_check.sh needs on a lent device machine: its image
# has Python 3.12 and a CUDA build of JAX (with flax, optax, h5py, scipy, xarray, matplotlib)
# but not evosax, gymnax or brax, no package index is reachable from it, and ../shared does
# not travel. So this puts, in .gpu/ (git-ignored through .git/info/exclude, ≈ 48 MB of the
# 64 MiB a device call may carry):
#   .gpu/wheels/  the wheels the image lacks, for Python 3.12 on x86-64 (pip download)
#   .gpu/data/    MNIST, copied from ../shared/data (for the paper-MNIST rounds)
# and gpu_check.sh installs the wheels there with pip --no-index into a scratch folder.
#
#   bench/gpu_prepare.sh
#   then, with the device tool: run(command="bench/gpu_check.sh", carry=[".gpu"], timeout_s=540)
#
# --no-deps on purpose: the image's own JAX must stay, so only what it lacks travels, at the
# versions this project's .venv runs.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
rm -rf .gpu && mkdir -p .gpu/wheels .gpu/data
# What the image lacks, pinned to this project's .venv (pyproject.toml's pins and what pip
# resolved for them): bench/gpu_wheels.py, which refuses (exit 2) where a carried package
# needs something that neither travels nor is in the image.
PYTHON=${PYTHON:-.venv/bin/python}
PKGS_TEXT=$("$PYTHON" bench/gpu_wheels.py)
mapfile -t PKGS <<< "$PKGS_TEXT"
PLATFORMS=(--platform manylinux2014_x86_64)
for n in 17 24 27 28 31 34 35; do PLATFORMS+=(--platform "manylinux_2_${n}_x86_64"); done
"$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
  --implementation cp "${PLATFORMS[@]}" -d .gpu/wheels "${PKGS[@]}"
for d in shared/data ../shared/data; do
  if [ -d "$d/mnist" ]; then cp -r "$d/mnist" .gpu/data/ && break; fi
done
[ -d .gpu/data/mnist ] || echo "no MNIST found in shared/data or ../shared/data: the MNIST rounds step will be skipped" >&2
du -sh .gpu/wheels .gpu/data

"""Bench 1: CNN population fitness against the machine's matmul peak and the vmapped flax form.

The paper CNN, population 128 × batch 1024 (BENCH_QUICK: 32 × 64). Per configuration of host
devices (1, and the core count), in one process each: the float32 ``jnp.dot`` 2048² peak, the
library's ``VisionTask.population_fitness`` (the path the ES runs); in the process with all
cores as devices also the form a user would write, ``lax.map`` over chunks of 8 of
``jax.vmap(model.apply)`` (XLA's grouped convolution takes ≈ 230 MB per member at batch 1024
on CPU: chunks of 32 ran out of memory) (it runs on one device whatever the count), on the same members and
minibatch, timed once after its warm-up. On an accelerator, where the library runs the
vmapped flax module (``networks.population_form``), it also times the CPU's batched form with
the accelerator's batch tiles, side by side in the same process.
"""

from __future__ import annotations

import os
import sys

from common import QUICK, ROOT, report, run_python


def conv_flops(shape=(28, 28, 1), features=(8, 16), k=5, classes=10) -> int:
    """Multiply-adds × 2 of one image's forward pass (SAME convs, 2×2 pools, one dense)."""
    h, w, c = shape
    total = 0
    for o in features:
        total += 2 * h * w * k * k * c * o
        h, w, c = h // 2, w // 2, o
    return total + 2 * h * w * c * classes


MEASURE = """
import json, os, sys, time
from unittest import mock
from common import setup_devices
setup_devices(int(sys.argv[1]))
import jax, jax.numpy as jnp, numpy as np
from common import matmul_peak, time_interleaved, QUICK
from evotickets.networks import (from_vector, from_vector_batched, init_params, layer_table,
    make_network, to_vector, unflatten_params)
from evotickets.tasks import make_task
from evotickets.tasks.data import Dataset

P, B, CHUNK, VMAP_CHUNK = int(sys.argv[2]), int(sys.argv[3]), 32, 8
theta = init_params("cnn", (28, 28, 1), jax.random.key(0))
table = layer_table(theta)
data_dir = os.environ.get("BENCH_DATA_DIR")
cfg = {"network": "cnn", "batch_size": B, "population_chunk": CHUNK}
if data_dir:
    task = make_task("mnist", cfg, table, data_dir)
else:  # no MNIST at hand: random images of the same shape (the timing does not care)
    from evotickets.tasks.vision import VisionTask
    rng = np.random.default_rng(0)
    ds = Dataset("random", rng.normal(size=(4096, 28, 28, 1)).astype(np.float32),
                 rng.integers(0, 10, 4096).astype(np.int32),
                 rng.normal(size=(256, 28, 28, 1)).astype(np.float32),
                 rng.integers(0, 10, 256).astype(np.int32))
    task = VisionTask("mnist", ds, "cnn", table, batch_size=B, population_chunk=CHUNK)
base = jnp.asarray(to_vector(theta, table))
pop = base + 0.025 * jax.random.normal(jax.random.key(1), (P, base.size))
key = jax.random.key(2)
fast = jax.jit(lambda p, k, d: task.population_fitness(p, k, d, task.init_state())[0])

model = make_network("cnn")
def vmap_fitness(population, key, data):
    x, y = data
    idx = jax.random.randint(key, (B,), 0, x.shape[0])
    xb, yb = x[idx], y[idx]
    def member(v):
        logp = model.apply({"params": unflatten_params(from_vector(v, table))}, xb)
        return -jnp.mean(jnp.take_along_axis(logp, yb[:, None], axis=1))
    chunks = population.reshape(P // VMAP_CHUNK, VMAP_CHUNK, -1)
    return jax.lax.map(jax.vmap(member), chunks).reshape(P)
slow = jax.jit(vmap_fitness)

import evotickets.networks as nw
backend = jax.default_backend()
chunk_params = from_vector_batched(pop[:CHUNK], table)  # what one population chunk is
tile_in = lambda budget: nw.population_batch_tile(chunk_params, (B, 28, 28, 1), 5, budget)
fns = {"fast": lambda: fast(pop, key, task.train_data)}
if backend != "cpu":  # side by side: the CPU's batched form, with this device's batch tiles
    import evotickets.tasks.vision as vision
    batched = jax.jit(lambda p, k, d: task.population_fitness(p, k, d, task.init_state())[0])
    with mock.patch.object(vision, "population_form", lambda backend: "batched"):
        jax.block_until_ready(batched(pop, key, task.train_data))  # traced and compiled here
    fns["batched"] = lambda: batched(pop, key, task.train_data)
with_vmap = len(sys.argv) > 4
peak = matmul_peak()
reps = 2 if QUICK else 3
t = time_interleaved(fns, repeats=reps)
out = {"devices": len(jax.devices()), "fast_s": t["fast"], "form": nw.population_form(backend),
       "batch_tile": tile_in(nw.tile_budget(backend))}
if "batched" in t:
    out.update(batched_s=t["batched"])
if with_vmap:  # the user's form runs on one device whatever the device count: time it once
    a = np.asarray(fast(pop, key, task.train_data))
    b = np.asarray(slow(pop, key, task.train_data))  # compiles; its output checks the fast one
    t0 = time.perf_counter(); jax.block_until_ready(slow(pop, key, task.train_data))
    out.update(vmap_s=time.perf_counter() - t0, max_abs_diff=float(np.max(np.abs(a - b))))
peak2 = matmul_peak()
out.update(peak_gflops=max(peak, peak2), peak_before=peak, peak_after=peak2)
print(json.dumps(out))
"""


def main() -> None:
    p, b = (32, 64) if QUICK else (128, 1024)
    per_image = conv_flops()
    flops = per_image * p * b
    data_dir = ROOT.parent / "shared" / "data"
    env = {"BENCH_DATA_DIR": str(data_dir)} if (data_dir / "mnist").is_dir() else {}
    counts = sorted({1, int(os.environ.get("BENCH_CPU_DEVICES") or os.cpu_count() or 1)})
    rows = []
    for n in counts:
        vmap_too = n == counts[-1]
        args = [str(n), str(p), str(b)] + (["vmap"] if vmap_too else [])
        r = run_python(MEASURE, env=env, args=args)
        peak = r["peak_gflops"]
        fast = flops / r["fast_s"] / 1e9
        vmap = flops / r["vmap_s"] / 1e9 if vmap_too else float("nan")
        rows.append(
            {
                "devices": r["devices"],
                "population": p,
                "batch": b,
                "GFLOP/gen": flops / 1e9,
                "peak GFLOP/s": peak,
                "fast s/gen": r["fast_s"],
                "fast GFLOP/s": fast,
                "fast/peak": fast / peak,
                "vmap s/gen": r.get("vmap_s", float("nan")),
                "vmap GFLOP/s": vmap,
                "fast/vmap": r.get("vmap_s", float("nan")) / r["fast_s"],
                "max |Δfitness|": r.get("max_abs_diff", ""),
                "peak before/after": f"{r['peak_before']:.0f}/{r['peak_after']:.0f}",
                "form": r["form"],
                "batch tile": r["batch_tile"],
                # on an accelerator: the same fitness in the CPU's batched form, side by side
                "batched s/gen": r.get("batched_s", float("nan")),
            }
        )
    report(
        "cnn_fitness",
        "Bench 1: paper-CNN population fitness (targets: fast/peak >= 0.5, fast/vmap >= 5)",
        rows,
        [
            "devices",
            "population",
            "batch",
            "GFLOP/gen",
            "peak GFLOP/s",
            "fast GFLOP/s",
            "fast/peak",
            "vmap GFLOP/s",
            "fast/vmap",
            "max |Δfitness|",
            "peak before/after",
            "form",
            "batch tile",
            "batched s/gen",
        ],
        flops_per_image=per_image,
        flops_per_generation=flops,
        targets={"fast_over_peak": 0.5, "fast_over_vmap": 5.0},
    )


if __name__ == "__main__":
    sys.exit(main())

"""The paper CNN's population fitness in several forms on one device, side by side.

Why: on the H200 (2026-12-04, bench 1) the library's batched forward pass
(:func:`evotickets.networks.population_log_probs`, population chunks of 32, batch tiles of
256 on an accelerator) ran at 0.6× the speed of the form a user would write, chunks of 8 of
``jax.vmap(model.apply)``, whose vmapped convolution lowers to a grouped convolution that the
GPU's convolution kernels run well (on CPU it is 23× slower). Before choosing a GPU default,
this times, in one process and interleaved, population 128 × batch 1,024 (BENCH_QUICK:
32 × 128):

- ``library c<C> t<T>``: the library's pass in population chunks of C and batch tiles of T
  (C = 32, T = 256 is what a chain on a GPU runs now; T = the batch is one tile);
- ``vmap c<C>``: ``lax.map`` over chunks of C of ``vmap(model.apply)``;

each as generations/s, as a fraction of the fp32 ``jnp.dot`` peak measured in the same
process, and its largest fitness difference from the first form. MNIST from BENCH_DATA_DIR
where set, else random images (the timing does not care). Its H200 numbers chose
``networks.population_form``'s GPU default (bench/README.md, "Results on a GPU").
"""

from __future__ import annotations

import os

from bench_cnn_fitness import conv_flops
from common import QUICK, matmul_peak, report, setup_devices, time_interleaved


def main() -> None:
    setup_devices(1)
    import jax
    import jax.numpy as jnp
    import numpy as np

    from evotickets.batch_invariant import fixed_order_mean
    from evotickets.networks import (
        from_vector,
        from_vector_batched,
        init_params,
        layer_table,
        make_network,
        population_log_probs,
        to_vector,
        unflatten_params,
    )

    p_size, batch = (32, 128) if QUICK else (128, 1024)
    theta = init_params("cnn", (28, 28, 1), jax.random.key(0))
    table = layer_table(theta)
    base = jnp.asarray(to_vector(theta, table))
    pop = base + 0.025 * jax.random.normal(jax.random.key(1), (p_size, base.size))
    data_dir = os.environ.get("BENCH_DATA_DIR")
    if data_dir:
        from evotickets.tasks.data import load_dataset

        ds = load_dataset("mnist", data_dir, download=False)
        xb, yb = jnp.asarray(ds.x_train[:batch]), jnp.asarray(ds.y_train[:batch])
    else:
        rng = np.random.default_rng(0)
        xb = jnp.asarray(rng.normal(size=(batch, 28, 28, 1)).astype(np.float32))
        yb = jnp.asarray(rng.integers(0, 10, batch).astype(np.int32))
    model = make_network("cnn")

    def nll_mean(logp):  # (c, B, classes) → (c,), as VisionTask.population_loss sums
        return fixed_order_mean(-jnp.take_along_axis(logp, yb[None, :, None], axis=2)[..., 0], 1)

    def library(chunk: int, tile: int):
        def loss(members):
            params = from_vector_batched(members, table)
            return nll_mean(population_log_probs(params, xb, 5, batch_tile=tile))

        return jax.jit(lambda pp: jax.lax.map(loss, pp.reshape(-1, chunk, pp.shape[1])).ravel())

    def vmapped(chunk: int):
        def member(v):
            return model.apply({"params": unflatten_params(from_vector(v, table))}, xb)

        def loss(members):
            return nll_mean(jax.vmap(member)(members))

        return jax.jit(lambda pp: jax.lax.map(loss, pp.reshape(-1, chunk, pp.shape[1])).ravel())

    forms = {
        f"library c32 t{min(256, batch)}": library(32, min(256, batch)),
        f"library c32 t{batch}": library(32, batch),
        f"library c{p_size} t{batch}": library(p_size, batch),
        "vmap c8": vmapped(8),
        "vmap c32": vmapped(32),
        f"vmap c{p_size}": vmapped(p_size),
    }
    flops = conv_flops() * batch * p_size
    peak = matmul_peak()
    first = np.asarray(next(iter(forms.values()))(pop))
    diffs = {name: float(np.max(np.abs(np.asarray(f(pop)) - first))) for name, f in forms.items()}
    best = time_interleaved({n: (lambda f=f: f(pop)) for n, f in forms.items()}, repeats=3)
    peak = max(peak, matmul_peak())
    rows = [
        {
            "form": name,
            "population": p_size,
            "batch": batch,
            "s/gen": s,
            "gen/s": 1 / s,
            "of peak": flops / s / 1e9 / peak,
            "max |Δfitness|": diffs[name],
        }
        for name, s in best.items()
    ]
    report(
        "gpu_fitness_forms",
        f"Paper CNN fitness forms on {jax.devices()[0].device_kind} (peak {peak:.0f} GFLOP/s)",
        rows,
        ["form", "population", "batch", "s/gen", "gen/s", "of peak", "max |Δfitness|"],
        peak_gflops=peak,
    )


if __name__ == "__main__":
    main()

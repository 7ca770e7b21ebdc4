"""The paper CNN's population fitness in several forms on one device, side by side.

Why: on the H200 (2026-12-04, bench 1) the library's batched forward pass
(:func:`evotickets.networks.population_log_probs`, population chunks of 32, batch tiles of
256 on an accelerator) ran at 0.6× the speed of the form a user would write, chunks of 8 of
``jax.vmap(model.apply)``, whose vmapped convolution lowers to a grouped convolution that the
GPU's convolution kernels run well (on CPU it is 23× slower). Before choosing a GPU default,
this times, in one process and interleaved, population 128 × batch 1,024 (BENCH_QUICK:
32 × 128, with chunks of 16 and tiles of 64 where the full sizes have 32 and 256):

- ``library c<C> t<T>``: the batched form (:func:`evotickets.networks.population_log_probs`,
  what a CPU runs) in population chunks of C and batch tiles of T (C = 32, T = 256 is what a
  GPU chain ran until af82517; T = the batch is one tile);
- ``vmap c<C>``: ``lax.map`` over chunks of C of the task's vmapped form
  (``VisionTask.population_loss(..., form="vmapped")``: the flax module under ``jax.vmap``,
  what a GPU chain runs since af82517, in the paper config's chunks of 32);

each as generations/s, as a fraction of the fp32 ``jnp.dot`` peak measured in the same
process, and its largest fitness difference from the first form. Every form's loss is the
task's (:func:`evotickets.tasks.vision.members_mean_nll`). MNIST from BENCH_DATA_DIR or
EVOTICKETS_DATA_DIR where set, else random images (the timing does not care). Its H200
numbers (run at af82517, before the forms went through the task: the same functions)
chose ``networks.population_form``'s GPU default (bench/README.md, "Results on a GPU").
"""

from __future__ import annotations

from bench_cnn_fitness import conv_flops
from common import QUICK, matmul_peak, report, setup_devices, time_interleaved


def main() -> None:
    setup_devices(1)
    import jax
    import jax.numpy as jnp
    import numpy as np
    from tasks import _mnist_task

    from evotickets.networks import NETWORKS, from_vector_batched, population_log_probs, to_vector
    from evotickets.tasks.vision import members_mean_nll

    p_size, batch = (32, 128) if QUICK else (128, 1024)
    task, theta, table = _mnist_task()  # MNIST from BENCH_DATA_DIR where set, else random
    base = jnp.asarray(to_vector(theta, table))
    pop = base + 0.025 * jax.random.normal(jax.random.key(1), (p_size, base.size))
    x, y = task.train_data
    xb, yb = x[:batch], y[:batch]
    kernel_size = NETWORKS[task.network]["kernel_size"]

    def in_chunks(loss, chunk: int):
        return jax.jit(lambda pp: jax.lax.map(loss, pp.reshape(-1, chunk, pp.shape[1])).ravel())

    def library(chunk: int, tile: int):  # the batched form with a batch tile of our choosing
        def loss(members):
            params = from_vector_batched(members, table)
            return members_mean_nll(population_log_probs(params, xb, kernel_size, tile), yb)

        return in_chunks(loss, chunk)

    def vmapped(chunk: int):  # the task's vmapped form: the flax module under jax.vmap
        return in_chunks(lambda members: task.population_loss(members, xb, yb, "vmapped"), chunk)

    # the paper config's chunks of 32 and tiles of 256 (its CPU tile), a whole-batch tile and
    # a whole-population chunk; quick sizes halve the first two so that six forms stay six
    chunk, tile = min(32, p_size // 2), min(256, batch // 2)
    forms = {
        f"library c{chunk} t{tile}": library(chunk, tile),
        f"library c{chunk} t{batch}": library(chunk, batch),
        f"library c{p_size} t{batch}": library(p_size, batch),
        "vmap c8": vmapped(8),
        f"vmap c{chunk}": vmapped(chunk),
        f"vmap c{p_size}": vmapped(p_size),
    }
    assert len(forms) == 6, f"sizes {p_size} × {batch} give forms of the same name"
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

"""Split a population across the local devices: GPUs, or CPU cores exposed as host devices.

XLA runs the many small ops of a fitness evaluation (a batch-tiled CNN, an environment step)
on one core per device, so a CPU process uses its cores by exposing them as host devices
(``jax_num_cpu_devices``, set by the CLI from EVOTICKETS_CPU_DEVICES) and giving each device
its share of the members. Every task's ``population_fitness`` goes through here.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec


def map_population(fn: Callable, population: jax.Array, *shared) -> jax.Array:
    """``fn(population, *shared)`` with the population's leading axis split across devices.

    ``fn`` maps (p, ...) members to (p, ...) results and must treat members independently;
    ``shared`` (minibatch, keys) is replicated. On one device this is just ``fn(...)``.

    The population is made whole first (:func:`whole`: each device holds every member and
    computes its own share). Why: otherwise XLA's partitioner splits the population where it
    is made (the ES ``ask``) and where it is used again (the ES ``tell`` sums over it, device
    by device, then adds the parts), which changed a chain's numbers with the device count.
    Whole, and with XLA's SPMD cleanup skipped (:func:`evotickets.platform.use_host_devices`),
    a digits round of every strategy of the registry and Pendulum rounds (Sep-CMA-ES, SNES)
    on two host devices are bitwise the one-device round (tests/unit/test_host_devices.py,
    bench 10); brax tasks are not (bench/README.md, "Host devices").

    The results stay split, so that a reduction inside the calling program (observation
    statistics) need not gather them. What leaves the program, the fitness, goes through
    :func:`whole` too.
    """
    devices = jax.local_devices()
    if len(devices) == 1:
        return fn(population, *shared)
    if population.shape[0] % len(devices):
        # Every program of a job must run on the same devices (the data is placed on all of
        # them, and :func:`whole` gathers onto all of them), so a split over fewer is no way out.
        raise ValueError(
            f"the population of {population.shape[0]} members cannot be split evenly across "
            f"{len(devices)} devices; set EVOTICKETS_CPU_DEVICES (host devices) or the GPUs a "
            f"job sees (CUDA_VISIBLE_DEVICES) to a number that divides {population.shape[0]}"
        )
    mesh = _mesh(devices)
    split = PartitionSpec("population")
    sharded = jax.shard_map(
        fn,
        mesh=mesh,
        in_specs=(split, *[PartitionSpec()] * len(shared)),
        out_specs=split,
        # No collectives inside: each device only maps its members. Without the check, a
        # scan carry built from replicated values (an environment reset) needs no pcast.
        check_vma=False,
    )
    return sharded(whole(population), *shared)


def whole(tree):
    """``tree`` gathered onto every local device, inside the calling program (on one device,
    ``tree`` itself). Call it on a split result that leaves the program.

    Why: a result that leaves its program split makes each later program that reads it (an
    evosax ``tell`` in a plain Python loop, then ``ask``, whose state comes back replicated) a
    multi-device program with collectives of its own, and on CPU host devices such loops
    deadlocked in XLA's collectives (bench 2's loop and tests/unit/test_host_devices.py,
    bench/README.md "Host devices"). Inside the training scan the whole fitness and population
    keep the split out of the ES update: one all-gather, where there were 5 all-gathers, 6
    all-reduces and 9-14 collective-permutes.
    """
    everywhere = _on_every_device()
    return tree if everywhere is None else jax.lax.with_sharding_constraint(tree, everywhere)


def replicate(tree):
    """Place arrays (a task's data) on every local device once, so that a population split
    across devices does not copy them from the first device at every call."""
    everywhere = _on_every_device()
    return tree if everywhere is None else jax.device_put(tree, everywhere)


def _on_every_device() -> NamedSharding | None:
    """A whole copy on every local device; ``None`` where there is only one."""
    devices = jax.local_devices()
    if len(devices) == 1:
        return None
    return NamedSharding(_mesh(devices), PartitionSpec())


def _mesh(devices: list) -> Mesh:
    """The one mesh of the split: the local devices along the population axis."""
    return Mesh(np.asarray(devices), ("population",))

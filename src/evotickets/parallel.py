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


def population_devices(population_size: int) -> list:
    """All local devices of the default backend, or as many as divide the population."""
    devices = jax.local_devices()
    n = len(devices)
    while population_size % n:
        n -= 1
    return devices[:n]


def map_population(fn: Callable, population: jax.Array, *shared) -> jax.Array:
    """``fn(population, *shared)`` with the population's leading axis split across devices.

    ``fn`` maps (p, ...) members to (p, ...) results and must treat members independently;
    ``shared`` (minibatch, keys) is replicated. On one device this is just ``fn(...)``.

    The results are gathered onto every device inside the calling program. Why: a result that
    leaves its program split makes each later program that reads it (an evosax ``tell`` in a
    plain Python loop, then ``ask``, whose state comes back replicated) a multi-device program
    with collectives of its own, and on CPU host devices such loops deadlocked in XLA's
    collectives (bench 2's loop and tests/unit/test_host_devices.py, bench/README.md "Host
    devices"). Inside one program, such as the training scan, the gather also keeps the split's
    sharding out of the ES update (5 all-gathers, 6 all-reduces and 9–14 collective-permutes
    without it, 2 and 1 with, the outputs bitwise the same).
    """
    devices = population_devices(population.shape[0])
    if len(devices) == 1:
        return fn(population, *shared)
    mesh = Mesh(np.asarray(devices), ("population",))
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
    return jax.lax.with_sharding_constraint(
        sharded(population, *shared), NamedSharding(mesh, PartitionSpec())
    )


def replicate(tree):
    """Place arrays (a task's data) on every local device once, so that a population split
    across devices does not copy them from the first device at every call."""
    devices = jax.local_devices()
    if len(devices) == 1:
        return tree
    sharding = NamedSharding(Mesh(np.asarray(devices), ("population",)), PartitionSpec())
    return jax.device_put(tree, sharding)

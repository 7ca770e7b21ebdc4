"""The CPU as two host devices (``EVOTICKETS_CPU_DEVICES=2``): programs that split a
population across them and gather it with a collective, called back to back.

With JAX's asynchronous CPU dispatch such a loop deadlocked in the collective on this 2-core
machine (XLA then aborts the process after its termination timeout): 4 of 4 runs of this
test at its 1,000 calls and 3 of 3 at 2,000, 0 of 3 with :func:`use_host_devices`'s
synchronous dispatch. The failure is a matter of thread timing, so this test can pass by
luck without the fix, but seldom."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np

LOOP = """
import json, sys
from evotickets.platform import use_host_devices
use_host_devices(2)
import jax, jax.numpy as jnp
from evotickets.parallel import map_population
w = jax.random.normal(jax.random.key(1), (64, 256))
f = jax.jit(lambda p: map_population(lambda m: jnp.tanh(m @ w).sum(-1), p).sum())
p = jax.random.normal(jax.random.key(0), (512, 64))
out = [f(p + i) for i in range(int(sys.argv[1]))]  # no wait between the calls
print(json.dumps([len(jax.devices()), jax.config.values["jax_cpu_enable_async_dispatch"],
                  [float(o) for o in out[:3]], float(jnp.sum(jnp.stack(out)))]))
"""


def test_back_to_back_population_collectives_on_two_host_devices_finish():
    calls = 1000
    env = dict(os.environ)
    # a deadlock fails in 15 s instead of XLA's default 40 (the loop itself takes seconds)
    env["XLA_FLAGS"] = (
        env.get("XLA_FLAGS", "") + " --xla_cpu_collective_call_terminate_timeout_seconds=15"
    )
    out = subprocess.run(
        [sys.executable, "-c", LOOP, str(calls)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    devices, async_dispatch, first, total = json.loads(out.stdout.strip().splitlines()[-1])
    assert devices == 2 and async_dispatch is False

    # the same numbers as on this process's single device
    w = jax.random.normal(jax.random.key(1), (64, 256))
    p = jax.random.normal(jax.random.key(0), (512, 64))
    f = jax.jit(lambda p: jnp.tanh(p @ w).sum(-1).sum())
    np.testing.assert_allclose(first, [float(f(p + i)) for i in range(3)], rtol=1e-5)
    assert np.isfinite(total)

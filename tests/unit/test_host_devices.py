"""The CPU as two host devices (``EVOTICKETS_CPU_DEVICES=2``): programs that split a population
across them, called back to back, finish, with the numbers of one device.

Two deadlocks in XLA's collectives were seen on this 2-core machine (XLA then aborts the
process after its termination timeout):

- one split program called back to back with JAX's asynchronous CPU dispatch: 4 of 4 runs of
  the first test at its 1,000 calls, 0 of many with :func:`use_host_devices`'s synchronous
  dispatch;
- a plain evosax-style loop (ask, evaluate, tell: each its own program) while the fitness left
  its program split, which made ``tell`` and then ``ask`` multi-device programs with collectives
  of their own: 3 of 3 runs of the second test stopped, 0 of 5 since ``map_population`` gathers
  its results inside the program.

Both are matters of thread timing, so a test can pass by luck without its fix, but seldom."""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from host_devices import on_two_host_devices

BACK_TO_BACK = """
import json, sys
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
    devices, async_dispatch, first, total = on_two_host_devices(BACK_TO_BACK, "1000")
    assert devices == 2 and async_dispatch is False

    # the same numbers as on this process's single device
    w = jax.random.normal(jax.random.key(1), (64, 256))
    p = jax.random.normal(jax.random.key(0), (512, 64))
    f = jax.jit(lambda p: jnp.tanh(p @ w).sum(-1).sum())
    np.testing.assert_allclose(first, [float(f(p + i)) for i in range(3)], rtol=1e-5)
    assert np.isfinite(total)


def plain_es_loop(fitness_of, generations: int) -> jax.Array:
    """An ES loop as an evosax user writes it: three jitted programs per generation (ask,
    evaluate, tell), the fitness passed from one to the next in Python. 64 members of 2,048
    dimensions; ``fitness_of(fn, population)`` maps the population, split or not."""
    w = jax.random.normal(jax.random.key(1), (2048, 64)) / 45.0
    ask = jax.jit(lambda k, m: m + 0.1 * jax.random.normal(k, (64, 2048)))
    evaluate = jax.jit(lambda pop: fitness_of(lambda x: jnp.tanh(x @ w).sum(-1), pop))
    tell = jax.jit(lambda pop, f, m: m + 0.1 * (jax.nn.softmax(-f)[:, None] * (pop - m)).sum(0))
    m = jnp.zeros(2048)
    for g in range(generations):
        pop = ask(jax.random.fold_in(jax.random.key(0), g), m)
        m = tell(pop, evaluate(pop), m)
    return m


PLAIN_LOOP = """
import json, os, sys
sys.path[:0] = [sys.argv[1], os.path.dirname(sys.argv[1])]  # this test file and its helpers
import jax
from evotickets.parallel import map_population
from test_host_devices import plain_es_loop
m = plain_es_loop(map_population, int(sys.argv[2]))
print(json.dumps([len(jax.devices()), str(m.sharding.spec), m.tolist()]))
"""
GENERATIONS = 1000


def test_plain_ask_evaluate_tell_loop_on_two_host_devices_finishes():
    devices, spec, mean = on_two_host_devices(
        PLAIN_LOOP, str(Path(__file__).parent), str(GENERATIONS)
    )
    # the split's result was gathered in the fitness program: the state stays whole
    assert devices == 2 and spec == "P()"
    one = plain_es_loop(lambda fn, pop: fn(pop), GENERATIONS)  # on this process's one device
    np.testing.assert_allclose(mean, np.asarray(one), rtol=1e-5, atol=1e-6)

"""The task's population fitness (the one fitness path the ES runs) equals the per-member flax
loss, on one device and with the population split across two host devices."""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from host_devices import on_two_host_devices

from evotickets.networks import init_params, layer_table, to_vector
from evotickets.tasks import make_task


def _fitness(population_chunk: int = 4):
    """Fitness of 8 masked random members on one minibatch, as the ES loop calls it."""
    theta = init_params("cnn_small", (8, 8, 1), jax.random.key(0))
    table = layer_table(theta)
    task = make_task("digits", {"batch_size": 32, "population_chunk": population_chunk}, table)
    base = jnp.asarray(to_vector(theta, table))
    pop = base + 0.2 * jax.random.normal(jax.random.key(1), (8, base.size))
    pop = jnp.where(jax.random.bernoulli(jax.random.key(2), 0.6, pop.shape), pop, 0.0)
    key = jax.random.key(3)
    return (
        task,
        pop,
        key,
        jax.jit(lambda p, k, d: task.population_fitness(p, k, d, task.init_state())[0])(
            pop, key, task.train_data
        ),
    )


def test_population_fitness_equals_flax_loss():
    task, pop, key, fit = _fitness()
    x, y = task.train_data
    idx = jax.random.randint(key, (task.batch_size,), 0, x.shape[0])
    ref = jnp.stack([task.loss(v, x[idx], y[idx]) for v in pop])
    np.testing.assert_allclose(np.asarray(fit), np.asarray(ref), rtol=1e-5, atol=1e-5)


SUBPROCESS = """
import json, os, sys
import jax
jax.config.update("jax_compilation_cache_dir", os.environ["EVOTICKETS_JAX_CACHE"])
sys.path[:0] = [sys.argv[1], os.path.dirname(sys.argv[1])]  # test_fitness and its helpers
import test_fitness
print(json.dumps([len(jax.devices()), getattr(test_fitness, sys.argv[2])().tolist()]))
"""


def _on_two_host_devices(fitness_fn: str) -> list:
    """``test_fitness.<fitness_fn>()`` computed in a process whose CPU is two host devices."""
    devices, fitness = on_two_host_devices(SUBPROCESS, str(Path(__file__).parent), fitness_fn)
    assert devices == 2
    return fitness


def _cnn_fitness():
    return _fitness()[-1]


def test_population_split_across_two_host_devices_gives_the_same_fitness():
    fit2 = _on_two_host_devices("_cnn_fitness")
    np.testing.assert_allclose(fit2, np.asarray(_cnn_fitness()), rtol=1e-6, atol=1e-6)


def _pendulum_fitness():
    """Pendulum returns of 8 perturbed policies (population split across the local devices)."""
    from evotickets.networks import layer_table, to_vector
    from evotickets.tasks import init_theta, make_task

    th = init_theta({"task": "pendulum", "network": "mlp", "hidden": [16, 16]}, jax.random.key(0))
    table = layer_table(th)
    task = make_task("pendulum", {"hidden": [16, 16], "n_repeats": 2, "max_steps": 40}, table)
    theta = jnp.asarray(to_vector(th, table))
    pop = theta + 0.3 * jax.random.normal(jax.random.key(1), (8, theta.size))
    state = task.init_state()
    return jax.jit(lambda p, k: task.population_fitness(p, k, None, state)[0])(
        pop, jax.random.key(2)
    )


def test_control_population_split_across_two_host_devices_gives_the_same_returns():
    fit2 = _on_two_host_devices("_pendulum_fitness")
    np.testing.assert_allclose(fit2, np.asarray(_pendulum_fitness()), rtol=1e-4, atol=1e-3)

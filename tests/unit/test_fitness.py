"""The task's population fitness (the one fitness path the ES runs) equals the per-member flax
loss. With the population split across two host devices it is bitwise the same, which
tests/unit/test_host_devices.py checks over whole rounds."""

import jax
import jax.numpy as jnp
import numpy as np

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

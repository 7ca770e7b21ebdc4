"""Loss and error of many parameter vectors at once, for any task: the adapter between the
analyses (which see vectors) and the tasks (which see data or environments).

Vision: loss = mean cross-entropy on the first ``eval_examples`` test images, error = 1 − test
accuracy on the whole test set. Control: loss = −mean return over a fixed set of training
episodes, error = −mean return on the held-out test episodes (so a barrier is in units of
return). Many vectors are evaluated ``chunk`` at a time with the same fast forward pass the ES
uses.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ..keys import tag


def _chunked(fn, chunk: int, data) -> Callable[[np.ndarray, dict], np.ndarray]:
    """``fn(chunk_points, state, data)`` maps (chunk, D) → (chunk,); run it over any number of
    points. State and data are arguments of one jitted program, not baked-in constants, so
    every pair, round and task state of an analysis reuses a single compilation."""
    jitted = jax.jit(lambda pts, state, d: jax.lax.map(lambda c: fn(c, state, d), pts))

    def run(points: np.ndarray, state: dict) -> np.ndarray:
        n = points.shape[0]
        pad = (-n) % chunk
        padded = np.concatenate([points, np.zeros((pad, points.shape[1]), points.dtype)])
        out = jitted(jnp.asarray(padded).reshape(-1, chunk, points.shape[1]), state, data)
        return np.asarray(out).reshape(-1)[:n]

    return run


def loss_and_error(task, eval_examples: int = 1000, chunk: int = 16):
    """(loss_fn, error_fn), each mapping (points (P, D), task state) → (P,). Build them once
    per task and call them for every round or pair."""
    if hasattr(task, "dataset"):
        x, y = task.test_data
        subset = (x[:eval_examples], y[:eval_examples])

        def loss(points, state, d):
            return task.population_loss(points, *d[0])

        def error(points, state, d):
            return jax.vmap(lambda v: 1.0 - task.evaluate(v, d[1], state))(points)

        data = (subset, task.test_data)
        return _chunked(loss, chunk, data), _chunked(error, chunk, data)

    key = jax.random.key(tag("analysis-episodes"))

    def closs(points, state, d):
        return task.population_fitness(points, key, d[0], state)[0]

    def cerror(points, state, d):
        return jax.vmap(lambda v: -task.evaluate(v, d[1], state))(points)

    data = (task.train_data, task.test_data)
    return _chunked(closs, chunk, data), _chunked(cerror, chunk, data)

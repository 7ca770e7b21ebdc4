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

Fn = Callable[[np.ndarray], np.ndarray]


def _chunked(fn, chunk: int) -> Fn:
    """``fn`` maps a chunk (chunk, D) → (chunk,); run it over any number of points."""
    jitted = jax.jit(lambda pts: jax.lax.map(fn, pts))

    def run(points: np.ndarray) -> np.ndarray:
        n = points.shape[0]
        pad = (-n) % chunk
        padded = np.concatenate([points, np.zeros((pad, points.shape[1]), points.dtype)])
        out = jitted(jnp.asarray(padded).reshape(-1, chunk, points.shape[1]))
        return np.asarray(out).reshape(-1)[:n]

    return run


def loss_and_error(task, eval_examples: int = 1000, chunk: int = 16, state=None):
    """(loss_fn, error_fn), each mapping points (P, D) → (P,)."""
    if state is None:
        state = task.init_state()
    if hasattr(task, "dataset"):
        x, y = task.test_data
        xs, ys = x[:eval_examples], y[:eval_examples]

        def loss(points):
            return task.population_loss(points, xs, ys)

        def error(points):
            return jax.vmap(lambda v: 1.0 - task.evaluate(v, task.test_data, state))(points)

        return _chunked(loss, chunk), _chunked(error, chunk)

    key = jax.random.key(tag("analysis-episodes"))

    def closs(points):
        return task.population_fitness(points, key, task.train_data, state)[0]

    def cerror(points):
        return jax.vmap(lambda v: -task.evaluate(v, task.test_data, state))(points)

    return _chunked(closs, chunk), _chunked(cerror, chunk)

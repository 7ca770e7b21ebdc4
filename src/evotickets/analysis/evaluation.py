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


def _chunked(fn, chunk: int, data, per_point: bool = False) -> Callable[..., np.ndarray]:
    """``fn(chunk_points, state, data)`` maps (chunk, D) → (chunk,); run it over any number of
    points. State and data are arguments of one jitted program, not baked-in constants, so
    every pair, round and task state of an analysis reuses a single compilation.

    ``per_point``: ``fn`` takes one state per point (every leaf with a leading chunk axis), and
    the returned function ``run(points, state, batched=False)`` broadcasts a single state to
    every point unless ``batched`` says the state already has one row per point (as on an LMC
    path between two networks with different observation statistics)."""
    if per_point:  # lax.map walks the chunks of points and states together
        jitted = jax.jit(lambda p, s, d: jax.lax.map(lambda c: fn(c[0], c[1], d), (p, s)))
    else:
        jitted = jax.jit(lambda p, s, d: jax.lax.map(lambda c: fn(c, s, d), p))

    def run(points: np.ndarray, state: dict, batched: bool = False) -> np.ndarray:
        n = points.shape[0]
        pad = (-n) % chunk
        padded = np.concatenate([points, np.zeros((pad, points.shape[1]), points.dtype)])
        pts = jnp.asarray(padded).reshape(-1, chunk, points.shape[1])
        if not per_point:
            if batched:
                raise ValueError("this function takes one task state for all points")
            return np.asarray(jitted(pts, state, data)).reshape(-1)[:n]
        rows = {}
        for k, v in state.items():
            v = np.asarray(v)
            v = v if batched else np.broadcast_to(v, (n, *v.shape))
            if v.shape[0] != n:
                raise ValueError(f"task state {k!r} has {v.shape[0]} rows for {n} points")
            v = np.concatenate([v, np.repeat(v[-1:], pad, axis=0)])  # padding: any valid state
            rows[k] = jnp.asarray(v).reshape(-1, chunk, *v.shape[1:])
        return np.asarray(jitted(pts, rows, data)).reshape(-1)[:n]

    return run


def loss_and_error(task, eval_examples: int = 1000, chunk: int = 16):
    """(loss_fn, error_fn). ``loss_fn(points (P, D), state)`` → (P,) under one task state;
    ``error_fn(points, state, batched=False)`` → (P,) under one state, or under one state per
    point when ``batched`` (every leaf (P, ...)). Build them once per task and call them for
    every round or pair."""
    if hasattr(task, "dataset"):
        x, y = task.test_data
        subset = (x[:eval_examples], y[:eval_examples])

        def loss(points, state, d):
            return task.population_loss(points, *d[0])

        def error(points, states, d):
            return jax.vmap(lambda v, s: 1.0 - task.evaluate(v, d[1], s))(points, states)

        data = (subset, task.test_data)
        return _chunked(loss, chunk, data), _chunked(error, chunk, data, per_point=True)

    key = jax.random.key(tag("analysis-episodes"))

    def closs(points, state, d):
        return task.population_fitness(points, key, d[0], state)[0]

    def cerror(points, states, d):
        return jax.vmap(lambda v, s: -task.evaluate(v, d[1], s))(points, states)

    data = (task.train_data, task.test_data)
    return _chunked(closs, chunk, data), _chunked(cerror, chunk, data, per_point=True)

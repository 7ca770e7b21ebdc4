"""Pruning at initialisation: the gradient g of the training loss at θ0 and its
Hessian-gradient product Hg, the inputs of the ``snip`` and ``grasp`` scores
(:data:`evotickets.pruning.REGISTRY`).

Both are exact for the given examples: g by backpropagation of the mean cross-entropy over
them, Hg by forward-over-reverse differentiation (``jax.jvp`` of ``jax.grad``), so no Hessian
is ever formed (the study's code formed per-tensor Hessian blocks, which drops the cross-layer
terms and does not fit the paper's CNN). The examples are drawn from the training set with a
key of (seed, task), so every strategy and round of a seed scores θ0 on the same examples.
Control tasks have no differentiable training loss here (the return is not differentiated
through the environment), so the config refuses snip and grasp for them.

The loss is the plain cross-entropy of the logits, as in the study's code
(es-lottery ``src/prune/grasp.py``, 1,000 examples). The GraSP authors' own code divides
the logits by a temperature T = 200 before g and Hg, which changes which weights GraSP
keeps (measured on `config/extensions.yaml`'s digits setting, seeds 0–1: 15–16 % of the kept
set differs at 80 % remaining, about 55 % at 21 %); T = 1 here, like the study's.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

Loss = Callable[[jax.Array, jax.Array, jax.Array], jax.Array]


def loss_gradients(
    loss: Loss,
    theta: jax.Array,
    x: jax.Array,
    y: jax.Array,
    with_hessian: bool,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """(g, Hg) of ``loss(θ, x, y)`` (a scalar: the mean over the examples) at ``theta``;
    Hg is None unless ``with_hessian``. GraSP treats g as a constant direction (the
    product is H·g, not the gradient of gᵀg/2 through both factors, which is the same).

    ``weights`` (boolean over θ, default all) are the parameters whose gradient flow GraSP
    preserves: Hg is H·g_w with g_w = g on them and 0 elsewhere. For the kernels
    (:func:`~evotickets.networks.kernel_vector`) its kernel rows are Wang et al.'s H_ww·g_w,
    the biases' gradient left out of the direction (their code differentiates the layers'
    weights only); its bias rows, H_bw·g_w, score no weight (biases are never pruned)."""

    def grad(t):
        return jax.grad(loss)(t, x, y)

    g = jax.jit(grad)(theta)
    if not with_hessian:
        return np.asarray(g), None
    direction = g if weights is None else jnp.where(jnp.asarray(weights), g, 0.0)
    hvp = jax.jit(lambda t, v: jax.jvp(grad, (t,), (v,))[1])
    hg = hvp(theta, jax.lax.stop_gradient(direction))
    return np.asarray(g), np.asarray(hg)


def draw_examples(key: jax.Array, x: jax.Array, y: jax.Array, count: int):
    """``count`` distinct training examples (all of them if the set is smaller)."""
    n = x.shape[0]
    idx = jax.random.permutation(key, n)[: min(count, n)]
    return jnp.asarray(x)[idx], jnp.asarray(y)[idx]


def init_scores(
    method: str, task, theta0: np.ndarray, key: jax.Array, examples: int, kernels: np.ndarray
):
    """The score of ``method`` (snip, grasp) for every weight of θ0 (flat), on ``examples``
    training examples of the vision ``task`` drawn with ``key``; ``kernels`` (boolean over
    θ0) marks the weights, as opposed to biases, whose gradient flow GraSP scores."""
    from .pruning import REGISTRY

    spec = REGISTRY[method]
    if spec.init_score is None:
        raise ValueError(f"method {method!r} does not score θ0 from the loss gradient")
    x, y = task.train_data
    xs, ys = draw_examples(key, x, y, examples)
    g, hg = loss_gradients(task.loss, jnp.asarray(theta0), xs, ys, spec.needs_hessian, kernels)
    hg = None if hg is None else hg.astype(np.float64)
    score = spec.init_score(np.asarray(theta0, np.float64), g.astype(np.float64), hg)
    return np.asarray(score, np.float64)

"""The gradient-descent baseline: masked Adam on the same network, θ0, masks and chain.

A GD round is a "strategy" of the chain (``gd_adam``): it starts from m ⊙ θ_start like an ES
round and is pruned by the same rules (random, magnitude, the permutation controls). SNR is
undefined for it, since there is no search distribution; the workflow skips (gd_*, snr).

Masking, twice over (:func:`masked`): the gradient of a pruned weight is zeroed *before* it
reaches Adam, so Adam's first and second moments stay exactly 0 there, and the update is zeroed
*after* Adam, so a pruned weight, which starts at 0, stays exactly 0 whatever the optimiser
does (with ``jnp.where``, not a product, so a NaN cannot leak through ``0·NaN``). The parameters
are the dense flat vector of the layer table, as in the ES, with the mask as an argument so one
compiled program serves every round and seed.

One epoch is one jitted ``lax.scan`` over ⌊N / batch_size⌋ minibatches of a fresh permutation
of the training set, drawn from :func:`evotickets.keys.gd_epoch_key` (the last incomplete batch
is dropped, a different one each epoch). The Python loop runs over epochs only, for the log
(loss, test metric, ETA) and the per-epoch curve.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..keys import gd_epoch_key


def masked(tx: optax.GradientTransformation, mask) -> optax.GradientTransformation:
    """``tx`` restricted to the entries where ``mask`` (a pytree of booleans shaped like the
    parameters) is True: zero gradient in, zero update out, so the optimiser's state and the
    masked parameters never change there."""

    def keep(tree):
        return jax.tree.map(lambda v, m: jnp.where(m, v, jnp.zeros_like(v)), tree, mask)

    def update(updates, state, params=None):
        updates, state = tx.update(keep(updates), state, params)
        return keep(updates), state

    return optax.GradientTransformation(tx.init, update)


@dataclass
class GDResult:
    theta: np.ndarray  # dense θ after the round (pruned entries exactly 0)
    step_loss: np.ndarray  # training cross-entropy of every minibatch step
    epoch_loss: np.ndarray  # mean training cross-entropy per epoch
    eval_epoch: np.ndarray  # epochs after which the test metric was measured (1..E)
    eval_metric: np.ndarray  # test metric after each epoch
    final_metric: float
    steps_per_epoch: int
    seconds: float
    seconds_per_epoch: float  # steady state, after the first (compiling) epoch
    opt_state: Any  # Adam's final state, for checks
    rewind_theta: np.ndarray | None = None  # θ after ``rewind_at`` steps (late rewinding)


ADAM_CURVES = ("step_loss", "epoch_loss", "eval_metric")


def minibatch_loss(task) -> Callable:
    """The task's mean cross-entropy of one network (a dense flat vector) on a minibatch.

    For the CNN tasks on CPU it is the task's batched forward pass
    (:meth:`evotickets.tasks.vision.VisionTask.chunk_log_probs`, the im2col pass of
    :func:`evotickets.networks.population_log_probs`) with a population of one, not the flax
    module: inside ``lax.scan``, XLA:CPU runs flax's convolutions and their gradients about 8×
    slower than these matmuls (MNIST, batch 128, loaded 2-core CPU: 280 vs 33 ms per step).
    It equals ``task.loss`` to float tolerance (tests/unit/test_gd.py). Where the backend runs
    the ES's population pass as the flax module (:func:`evotickets.networks.population_form`:
    a GPU, whose convolution kernels beat the batched form there), GD uses the module too,
    ``task.loss`` (by analogy: GD on a GPU is not measured), as do the other tasks.
    """
    from ..networks import NETWORKS, population_form

    network = getattr(task, "network", None)
    if network not in NETWORKS or population_form(jax.default_backend()) != "batched":
        return task.loss

    def loss(theta, x, y):
        logp = task.chunk_log_probs(theta[None], x, "batched")[0]  # a population of one
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    return loss


def make_epoch_runner(
    task, lr: float, batch_size: int, steps: int, snapshot_after: int | None = None
) -> Callable:
    """A jitted function running one epoch of masked Adam from (θ, Adam state). With
    ``snapshot_after`` = s it also returns θ after the epoch's first s steps (late rewinding
    inside an epoch); without, it returns None there."""
    loss_fn = minibatch_loss(task)

    def run(theta, opt_state, mask, key, data):
        x, y = data
        tx = masked(optax.adam(lr), mask)
        order = jax.random.permutation(key, x.shape[0])[: steps * batch_size]
        order = order.reshape(steps, batch_size)

        def step(carry, idx):
            theta, state = carry
            loss, grad = jax.value_and_grad(loss_fn)(theta, x[idx], y[idx])
            updates, state = tx.update(grad, state, theta)
            return (optax.apply_updates(theta, updates), state), loss

        if snapshot_after is None:
            (theta, opt_state), losses = jax.lax.scan(step, (theta, opt_state), order)
            return theta, opt_state, losses, None
        (theta, opt_state), first = jax.lax.scan(step, (theta, opt_state), order[:snapshot_after])
        snapshot = theta
        (theta, opt_state), rest = jax.lax.scan(step, (theta, opt_state), order[snapshot_after:])
        return theta, opt_state, jnp.concatenate([first, rest]), snapshot

    return jax.jit(run)


def _steps_per_epoch(task, batch_size: int, label: str) -> int:
    """⌊N / batch_size⌋, after checking that the task is supervised and the batch fits."""
    if not (hasattr(task, "loss") and hasattr(task, "train_data")):
        raise ValueError(
            f"{label}: gd_adam needs a supervised task with a loss and training data; "
            f"task {getattr(task, 'name', task)!r} has none"
        )
    n = int(task.train_data[0].shape[0])
    steps = n // int(batch_size)
    if steps < 1:
        raise ValueError(
            f"{label}: gd batch_size {batch_size} exceeds the {n} training examples; lower it"
        )
    return steps


def _check_finite(losses: np.ndarray, epoch: int, label: str) -> None:
    if not np.all(np.isfinite(losses)):
        raise ValueError(
            f"{label}: the training loss became NaN/inf in epoch {epoch + 1}; lower gd lr "
            "or check θ0 and the data"
        )


def _rewind_split(rewind_at: int | None, steps: int, epochs: int, label: str) -> tuple[int, int]:
    """(the epoch in which step ``rewind_at`` ends, how many of its steps come before it);
    (−1, 0) without rewinding. A point on an epoch's end belongs to that epoch."""
    if rewind_at is None:
        return -1, 0
    if not 0 < rewind_at < epochs * steps:
        raise ValueError(
            f"{label}: rewind point {rewind_at} steps must lie inside the round's "
            f"{epochs * steps} steps ({epochs} epochs of {steps})"
        )
    epoch, step = divmod(rewind_at, steps)
    return (epoch - 1, steps) if step == 0 else (epoch, step)


def run_adam_round(
    task,
    theta_start: np.ndarray,
    mask: np.ndarray,
    round_k: jax.Array,
    *,
    lr: float,
    batch_size: int,
    epochs: int,
    log: Callable[[str], None] = print,
    label: str = "",
    checkpoint=None,
    rewind_at: int | None = None,
) -> GDResult:
    """Train the active weights of m ⊙ θ_start with masked Adam for ``epochs`` epochs.

    With ``checkpoint`` (an :class:`evotickets.checkpoint.Checkpointer`), (θ, Adam state) and
    the curves are saved after whole epochs now and then, and a valid checkpoint of this round
    is resumed from; each epoch's key depends only on its index, so the result is bitwise the
    same as an uninterrupted round. With ``rewind_at`` (minibatch steps), θ after that many
    steps is kept as ``rewind_theta`` and travels in the checkpoint."""
    steps = _steps_per_epoch(task, batch_size, label)
    rewind_epoch, rewind_step = _rewind_split(rewind_at, steps, epochs, label)
    t_start = time.perf_counter()
    mask_j = jnp.asarray(mask, bool)
    theta = jnp.where(mask_j, jnp.asarray(theta_start, jnp.float32), 0.0)
    opt_state = masked(optax.adam(lr), mask_j).init(theta)
    run_epoch = make_epoch_runner(task, float(lr), int(batch_size), steps)
    evaluate = jax.jit(lambda th, data: task.evaluate(th, data, task.init_state()))

    step_loss, epoch_loss, eval_val = [], [], []
    steady_start = steady_epoch = None
    first = 0

    def check_curves(c, done, _chunk):
        shapes = {"step_loss": (done * steps,), "epoch_loss": (done,), "eval_metric": (done,)}
        if any(c[name].shape != shape for name, shape in shapes.items()):
            raise ValueError(f"its curves do not match {done} epochs of {steps} steps")

    rewind = jnp.zeros_like(theta) if rewind_at is not None else None

    def saved(theta, opt_state):  # what a checkpoint holds
        return (theta, opt_state) if rewind is None else (theta, opt_state, rewind)

    if checkpoint is not None and (
        resumed := checkpoint.load(saved(theta, opt_state), epochs, 1, ADAM_CURVES, check_curves)
    ):
        (theta, opt_state, *kept), first, c = resumed.state, resumed.generation, resumed.curves
        rewind = kept[0] if kept else None
        step_loss = list(c["step_loss"].reshape(first, steps))
        epoch_loss, eval_val = list(c["epoch_loss"]), list(c["eval_metric"])
    for e in range(first, epochs):
        runner = run_epoch
        if e == rewind_epoch:  # compiled for this one epoch only
            runner = make_epoch_runner(task, float(lr), int(batch_size), steps, rewind_step)
        theta, opt_state, losses, snapshot = runner(
            theta, opt_state, mask_j, gd_epoch_key(round_k, e), task.train_data
        )
        losses = np.asarray(losses)
        _check_finite(losses, e, label)
        if snapshot is not None:
            rewind = snapshot
        metric = float(evaluate(theta, task.test_data))
        step_loss.append(losses), epoch_loss.append(losses.mean()), eval_val.append(metric)
        if checkpoint is not None and checkpoint.due(e + 1, epochs):
            curves = {
                "step_loss": np.concatenate(step_loss),
                "epoch_loss": np.asarray(epoch_loss),
                "eval_metric": np.asarray(eval_val),
            }
            checkpoint.save(saved(theta, opt_state), e + 1, curves)
        now = time.perf_counter()
        if steady_start is None:
            steady_start, steady_epoch, eta = now, e + 1, float("nan")
        else:
            eta = (now - steady_start) / (e + 1 - steady_epoch) * (epochs - e - 1)
        log(
            f"{label} epoch {e + 1}/{epochs} ({steps} steps of {batch_size}) loss "
            f"{losses.mean():.4f} {task.metric_name} {metric:.4f} "
            + ("eta ? (compiling)" if np.isnan(eta) else f"eta {eta:.0f}s")
        )
    seconds = time.perf_counter() - t_start
    per_epoch = (
        (time.perf_counter() - steady_start) / (epochs - steady_epoch)
        if epochs > steady_epoch
        else seconds
    )
    return GDResult(
        theta=np.asarray(theta),
        step_loss=np.concatenate(step_loss).astype(np.float32),
        epoch_loss=np.asarray(epoch_loss, np.float32),
        eval_epoch=np.arange(1, epochs + 1, dtype=np.int32),
        eval_metric=np.asarray(eval_val, np.float32),
        final_metric=float(eval_val[-1]),
        steps_per_epoch=steps,
        seconds=seconds,
        seconds_per_epoch=float(per_epoch),
        opt_state=opt_state,
        rewind_theta=None if rewind is None else np.asarray(rewind),
    )

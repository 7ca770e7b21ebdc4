"""Image classification with the paper's CNN: population fitness and the test metric.

Data are passed to the jitted functions as arguments rather than closed over: a closed-over
60,000×28×28 array would be baked into the compiled program as a constant, bloating compile
time and defeating the persistent compilation cache that jobs share.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import jax
import jax.numpy as jnp
import numpy as np

from ..batch_invariant import fixed_order_mean
from ..names import (
    ACCURACY_METRIC,
    DEFAULT_FITNESS_BATCH,
    DEFAULT_POPULATION_CHUNK,
    VISION_INPUT_SHAPE,
)
from ..networks import (
    NETWORKS,
    LayerEntry,
    from_vector,
    from_vector_batched,
    make_network,
    population_form,
    population_log_probs,
    unflatten_params,
)
from ..parallel import map_population, replicate, whole
from .data import Dataset


@dataclass
class VisionTask:
    """What the ES optimises on a vision task.

    Fitness is the mean cross-entropy (to minimise, as evosax does) on one fresh minibatch per
    generation, shared by all members so their ranking is not confounded by batch noise.
    """

    name: str
    dataset: Dataset
    network: str
    table: list[LayerEntry]
    batch_size: int = DEFAULT_FITNESS_BATCH
    population_chunk: int = DEFAULT_POPULATION_CHUNK
    eval_batch: int = 1000
    metric_name: str = ACCURACY_METRIC
    model: object = field(init=False)

    def __post_init__(self):
        self.model = make_network(self.network)
        ds = self.dataset
        # θ0 and the layer table are built for names.VISION_INPUT_SHAPE (no data read): data
        # of another shape would fail inside the network's first layer, far from the cause
        expected = VISION_INPUT_SHAPE[self.name]
        for split, x in (("train", ds.x_train), ("test", ds.x_test)):
            if tuple(np.shape(x)[1:]) != expected:
                raise ValueError(
                    f"task {self.name}: the {split} images of {ds.name} have shape "
                    f"{tuple(np.shape(x)[1:])}, but its network and θ0 are built for "
                    f"{expected} (names.VISION_INPUT_SHAPE): "
                    + (
                        "scikit-learn's digits are 8×8: check the installed scikit-learn"
                        if ds.name == "digits"
                        else "the data folder holds other data under this name; point "
                        "data_dir at the task's own files"
                    )
                )
        self.train_data = replicate((jnp.asarray(ds.x_train), jnp.asarray(ds.y_train)))
        self.test_data = replicate((jnp.asarray(ds.x_test), jnp.asarray(ds.y_test)))

    def log_probs(self, vector: jax.Array, x: jax.Array) -> jax.Array:
        """Forward pass of one network given as a flat dense vector."""
        params = unflatten_params(from_vector(vector, self.table))
        return self.model.apply({"params": params}, x)

    def loss(self, vector: jax.Array, x: jax.Array, y: jax.Array) -> jax.Array:
        logp = self.log_probs(vector, x)
        return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    def init_state(self) -> dict:
        """Vision tasks carry no state between generations."""
        return {}

    def population_fitness(
        self, population: jax.Array, key: jax.Array, data, state: dict
    ) -> tuple[jax.Array, dict]:
        """Mean cross-entropy of each member (rows of ``population``) on one minibatch.

        Members are evaluated ``population_chunk`` at a time (a plain vmap of 128 members ×
        1024 images does not fit a 24 GB GPU); each chunk is one forward pass of all its
        members in the backend's form (:meth:`chunk_log_probs`). Where the process
        has several devices (GPUs, or CPU cores exposed as host devices, see
        :mod:`evotickets.parallel`), the population is split across them
        with ``shard_map``: each device evaluates its members on the same minibatch.
        """
        x, y = data
        idx = jax.random.randint(key, (self.batch_size,), 0, x.shape[0])
        xb, yb = x[idx], y[idx]
        chunk = self.population_chunk

        def local_losses(members, xb, yb):
            p = members.shape[0]
            c = min(chunk, p)
            if p % c:
                whose = (
                    "the population size"
                    if p == population.shape[0]
                    else f"each device's share of the {population.shape[0]} members,"
                )
                raise ValueError(
                    f"population_chunk {c} must divide {whose} {p}; set the task's "
                    f"population_chunk to a divisor of {p}"
                )
            losses = jax.lax.map(
                lambda m: self.population_loss(m, xb, yb), members.reshape(p // c, c, -1)
            )
            return losses.reshape(p)

        return whole(map_population(local_losses, population, xb, yb)), state

    def chunk_log_probs(
        self, population: jax.Array, x: jax.Array, form: str | None = None
    ) -> jax.Array:
        """Log-probabilities (P, B, classes) of P members (rows) on one shared batch, in one
        forward pass of the given form, by default the backend's (:func:`population_form`):
        ``"batched"`` (:func:`population_log_probs`) or ``"vmapped"`` (the flax module)."""
        form = form or population_form(jax.default_backend())
        if form == "vmapped":
            return jax.vmap(lambda v: self.log_probs(v, x))(population)
        if form != "batched":
            raise ValueError(f"unknown population form {form!r}; choose batched or vmapped")
        kernel_size = NETWORKS[self.network]["kernel_size"]
        return population_log_probs(from_vector_batched(population, self.table), x, kernel_size)

    def population_loss(
        self, population: jax.Array, x: jax.Array, y: jax.Array, form: str | None = None
    ) -> jax.Array:
        """Mean cross-entropy of each of P members (rows) on one shared batch, in one forward
        pass of all of them (:meth:`chunk_log_probs`, in ``form``: by default the
        backend's)."""
        return members_mean_nll(self.chunk_log_probs(population, x, form), y)

    def evaluate(self, vector: jax.Array, data, state: dict) -> jax.Array:
        """Accuracy of one network on the whole test set, in batches."""
        x, y = data
        n = x.shape[0]
        nb = -(-n // self.eval_batch)
        pad = nb * self.eval_batch - n
        xp = jnp.concatenate([x, jnp.zeros((pad, *x.shape[1:]), x.dtype)])
        yp = jnp.concatenate([y, -jnp.ones((pad,), y.dtype)])
        xb = xp.reshape(nb, self.eval_batch, *x.shape[1:])
        yb = yp.reshape(nb, self.eval_batch)

        def correct(args):
            xi, yi = args
            pred = jnp.argmax(self.log_probs(vector, xi), axis=-1)
            return jnp.sum(pred == yi)

        return jnp.sum(jax.lax.map(correct, (xb, yb))) / n

    def provenance(self) -> dict[str, str]:
        return {f"data_{k}": str(v) for k, v in self.dataset.attrs.items()}


def members_mean_nll(log_probs: jax.Array, y: jax.Array) -> jax.Array:
    """Each member's mean cross-entropy, from log-probabilities (P, B, classes) of P members
    on one batch with labels ``y`` (B,).

    The mean is taken in a fixed order: a chain's fitness is then the same in its one-chain
    program and in a vmapped group of any width (:mod:`evotickets.batch_invariant`)."""
    nll = -jnp.take_along_axis(log_probs, y[None, :, None], axis=2)[..., 0]
    return fixed_order_mean(nll, axis=1)

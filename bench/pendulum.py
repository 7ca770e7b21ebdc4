"""A self-contained gymnax Pendulum task with the paper's MLP policy, for the benches.

It has the interface the library's ES loop expects of a task (``population_fitness``,
``evaluate``, ``train_data``, ``test_data``, ``metric_name``, ``table``), so the benches time
the library's own ``make_chunk_runner`` / ``run_round`` on it. It stands in until the
control tasks land in ``evotickets.tasks``; then the benches should build that task instead.

Policy (paper settings for gymnax): 2 hidden layers × 64 tanh units, tanh output scaled to the
action bound. Fitness: minus the mean return over ``repeats`` rollouts of ``steps`` steps.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import gymnax
import jax
import jax.numpy as jnp
import numpy as np

from evotickets.networks import LayerEntry, from_vector_batched
from evotickets.parallel import map_population


def mlp_table(obs_dim: int, act_dim: int, hidden=(64, 64)) -> list[LayerEntry]:
    """Flat layout of the MLP, in the same ``Dense_i/{bias,kernel}`` naming as the CNN's."""
    sizes = [obs_dim, *hidden, act_dim]
    table, offset = [], 0
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        for leaf, shape in (("bias", (b,)), ("kernel", (a, b))):
            table.append(LayerEntry(f"Dense_{i}/{leaf}", shape, offset, leaf == "kernel"))
            offset += int(np.prod(shape))
    return table


def mlp_init(table: list[LayerEntry], key: jax.Array) -> np.ndarray:
    """LeCun-normal kernels, zero biases (flax's defaults), as one flat vector."""
    parts = []
    for e in table:
        key, sub = jax.random.split(key)
        if e.name.endswith("kernel"):
            parts.append(jax.random.normal(sub, e.shape) / np.sqrt(e.shape[0]))
        else:
            parts.append(jnp.zeros(e.shape))
    return np.concatenate([np.asarray(p).reshape(-1) for p in parts]).astype(np.float32)


@dataclass
class PendulumTask:
    """Pendulum-v1 from gymnax; the population's members act in ``repeats`` episodes each."""

    repeats: int = 8
    steps: int = 200
    action_bound: float = 2.0
    hidden: tuple[int, ...] = (64, 64)
    metric_name: str = "test_return"
    env: object = field(init=False)

    def __post_init__(self):
        self.env, self.env_params = gymnax.make("Pendulum-v1")
        obs_dim = self.env.observation_space(self.env_params).shape[0]
        self.table = mlp_table(obs_dim, 1, self.hidden)
        self.num_params = sum(e.size for e in self.table)
        # Nothing to pass as data: an environment has no dataset. Kept for the interface.
        self.train_data = jnp.zeros(())
        self.test_data = jnp.zeros(())

    def _act(self, params: dict, state) -> jax.Array:
        """Batched MLP on the observation (cos θ, sin θ, θ̇) of states with leading (P, R)
        axes; params leaves have a leading member axis P. The observation's three features are
        kept as separate arrays and the first layer is their three rank-1 terms: gymnax's
        ``get_obs`` concatenates them on a minor axis of 3, which XLA's CPU backend evaluates
        element by element (a third of the step time before this)."""
        w = params["Dense_0/kernel"]  # (P, 3, H)
        feats = (jnp.cos(state.theta), jnp.sin(state.theta), state.theta_dot)
        x = sum(f[..., None] * w[:, None, i, :] for i, f in enumerate(feats))
        x = jnp.tanh(x + params["Dense_0/bias"][:, None, :])
        for i in range(1, len(self.hidden) + 1):
            x = jnp.einsum("prd,pdh->prh", x, params[f"Dense_{i}/kernel"])
            x = jnp.tanh(x + params[f"Dense_{i}/bias"][:, None, :])
        return self.action_bound * x

    def returns(self, population: jax.Array, key: jax.Array) -> jax.Array:
        """Mean return of each member over ``repeats`` episodes: (P,)."""
        p = population.shape[0]
        params = from_vector_batched(population, self.table)
        keys = jax.random.split(key, self.repeats)  # the same starts for every member
        reset = jax.vmap(self.env.reset, in_axes=(0, None))
        _, state = reset(keys, self.env_params)
        state = jax.tree.map(lambda a: jnp.broadcast_to(a, (p, *a.shape)), state)
        # step_env: no auto-reset (an episode here never outlives its ``steps``), and
        # Pendulum's dynamics draw no randomness, so one key serves every call.
        step = jax.vmap(
            jax.vmap(self.env.step_env, in_axes=(None, 0, 0, None)), in_axes=(None, 0, 0, None)
        )

        def body(carry, _):
            state, total, alive = carry
            action = self._act(params, state)
            _, state, reward, done, _ = step(key, state, action, self.env_params)
            total = total + reward * alive
            alive = alive * (1.0 - done.astype(jnp.float32))
            return (state, total, alive), None

        init = (state, jnp.zeros((p, self.repeats)), jnp.ones((p, self.repeats)))
        (_, total, _), _ = jax.lax.scan(body, init, None, length=self.steps)
        return jnp.mean(total, axis=1)

    def population_fitness(self, population: jax.Array, key: jax.Array, data) -> jax.Array:
        """Minus the mean return (evosax minimises), population split across devices."""
        return map_population(lambda pop, k: -self.returns(pop, k), population, key)

    def evaluate(self, vector: jax.Array, data) -> jax.Array:
        return self.returns(vector[None], jax.random.key(12345))[0]

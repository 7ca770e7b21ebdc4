"""Control tasks: an MLP policy's return in a gymnax or brax environment.

Fitness is the negative mean return over ``n_repeats`` rollouts of up to ``max_steps`` steps
(evosax minimises). The test metric is the mean return of the search mean over ``n_test``
episodes whose reset keys are held out: they come from a fixed key no training generation
uses. Returns are summed until an episode's first ``done``; gymnax auto-resets after it, brax
keeps stepping a terminated state, and either way the rest is masked out.

Brax tasks keep a running observation normalisation (mean, variance, count; clipped ±5) in the
task state that the ES loop threads through generations and that the artifact stores; within a
generation every member sees the same statistics, and they are updated from all valid, finite
observations of the generation afterwards (a member whose physics blew up contributes its
finite steps; it no longer voids the generation's update for every other member).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp

from ..batch_invariant import fixed_order_mean, fixed_order_sum
from ..names import (
    ANT_HEAVY_BACKEND,
    ANT_HEAVY_BACKEND_ERROR,
    BRAX_TASKS,
    CONTROL_IO_SIZES,
    GYMNAX_TASKS,
    POLICY_OUTPUTS,
    RETURN_METRIC,
)
from ..networks import (
    LayerEntry,
    from_vector,
    from_vector_batched,
    mlp_forward,
    mlp_forward_features,
)
from ..parallel import map_population, whole

#: The seed of the test episodes' keys. Training keys fold tags (SHA-256 integers) into a
#: chain's seed, so they do not meet these even for a config whose seed is this number.
HELD_OUT_TEST_SEED = 2**30 + 17


def _pendulum_features(env_state) -> tuple[jax.Array, ...]:
    """Pendulum-v1's observation (cos θ, sin θ, θ̇), feature by feature, as gymnax's
    ``get_obs`` builds it. Why: ``get_obs`` stacks three scalars per environment on a minor axis
    of 3, which XLA's CPU backend evaluates element by element; with the features kept apart
    the policy's first layer is three rank-1 updates, and a generation takes about a third
    less time (bench/README.md). ``tests/unit/test_control.py`` checks it equals ``get_obs``."""
    return jnp.cos(env_state.theta), jnp.sin(env_state.theta), env_state.theta_dot


# gymnax tasks whose observation the policy may read straight from the environment state
OBS_FEATURES = {"pendulum": _pendulum_features}
OBS_CLIP = 5.0


def _heavier_torso(sys, factor: float):
    """Scale the torso's mass (and its inertia, so its shape is unchanged) by ``factor``."""
    link = sys.link
    inertia = link.inertia.replace(
        mass=link.inertia.mass.at[0].multiply(factor),
        i=link.inertia.i.at[0].multiply(factor),
    )
    sys = sys.replace(link=link.replace(inertia=inertia))
    if hasattr(sys, "body_mass"):
        sys = sys.replace(body_mass=sys.body_mass.at[1].multiply(factor))
    return sys


def brax_observation_size(env) -> int:
    """The length of a brax environment's observation vector.

    Not brax's ``observation_size`` property: it runs ``reset`` op by op, ≈ 200 small
    programs compiled (or traced and loaded from the cache) one at a time, 2-7 s of every
    brax job (bench 5). The shape needs only a trace: ``jax.eval_shape`` compiles nothing."""
    return int(jax.eval_shape(env.reset, jax.random.PRNGKey(0)).obs.shape[-1])


@dataclass
class ControlTask:
    """A control task's rollouts. Its settings have no defaults here: the one owner of the
    defaults of a config entry is :func:`evotickets.tasks.make_task`, which builds it (they
    differ between gymnax and brax, which one default here could not say)."""

    name: str
    table: list[LayerEntry]
    hidden: tuple[int, ...]
    n_repeats: int
    max_steps: int
    n_test: int
    backend: str
    torso_mass_factor: float
    obs_normalization: bool | None = None
    #: continuous actions: ``names.POLICY_OUTPUTS``. The config fills in the study's for the
    #: library (``names.DEFAULT_POLICY_OUTPUT``); None (settings written before the key) is
    #: tanh, as they were made. Discrete actions are the argmax either way.
    policy_output: str | None = None
    metric_name: str = RETURN_METRIC
    env: Any = field(init=False)

    def __post_init__(self):
        if self.name in GYMNAX_TASKS:
            from .gymnax_import import import_gymnax

            self.kind = "gymnax"
            self.env, self.env_params = import_gymnax().make(GYMNAX_TASKS[self.name])
            space = self.env.action_space(self.env_params)
            self.discrete = hasattr(space, "n")
            self.num_outputs = int(space.n) if self.discrete else int(space.shape[0])
            self.action_low = None if self.discrete else jnp.asarray(space.low)
            self.action_high = None if self.discrete else jnp.asarray(space.high)
            self.obs_dim = int(self.env.observation_space(self.env_params).shape[0])
            if self.max_steps > int(self.env_params.max_steps_in_episode):
                # as the study's gymnax → evojax wrapper (gymnax 0.0.6 GymnaxToEvoJaxTask):
                # max_steps replaces the environment's episode limit, so its Pendulum
                # episodes (max_steps 500) ran 500 steps, not Pendulum's own 200
                self.env_params = self.env_params.replace(max_steps_in_episode=self.max_steps)
            norm_default = False
        elif self.name in BRAX_TASKS:
            from brax import envs

            self.kind = "brax"
            self.env = envs.get_environment(BRAX_TASKS[self.name], backend=self.backend)
            if self.name == "ant_heavy":
                if self.backend != ANT_HEAVY_BACKEND:
                    raise ValueError(ANT_HEAVY_BACKEND_ERROR.format(backend=self.backend))
                self.env.sys = _heavier_torso(self.env.sys, self.torso_mass_factor)
            self.discrete = False
            self.num_outputs = int(self.env.action_size)
            self.action_low = -jnp.ones(self.num_outputs)
            self.action_high = jnp.ones(self.num_outputs)
            self.obs_dim = brax_observation_size(self.env)
            norm_default = True
        else:
            raise ValueError(
                f"unknown control task {self.name!r}; choose one of "
                f"{sorted(GYMNAX_TASKS) + sorted(BRAX_TASKS)}"
            )
        if (self.obs_dim, self.num_outputs) != CONTROL_IO_SIZES[self.name]:
            # θ0 and the config's checks took the sizes from the table: a policy built for
            # them would not fit this environment (another gymnax or brax version)
            raise ValueError(
                f"{self.name}'s environment has {self.obs_dim} observations and "
                f"{self.num_outputs} action outputs, but names.CONTROL_IO_SIZES says "
                f"{CONTROL_IO_SIZES[self.name]} (another {self.kind} version?): correct the "
                "table (tests/unit/test_names.py checks it against every environment)"
            )
        if self.obs_normalization is None:
            self.obs_normalization = norm_default
        if self.policy_output is None:
            self.policy_output = "tanh"
        if self.policy_output not in POLICY_OUTPUTS:
            raise ValueError(
                f"policy_output {self.policy_output!r} is not one of {', '.join(POLICY_OUTPUTS)}"
            )
        self.train_data = jnp.zeros(())
        self.test_data = jax.random.split(jax.random.key(HELD_OUT_TEST_SEED), self.n_test)

    # --- task state: running observation statistics ---------------------------------------
    def init_state(self) -> dict:
        return {
            "obs_mean": jnp.zeros(self.obs_dim),
            "obs_var": jnp.ones(self.obs_dim),
            "obs_count": jnp.zeros(()),
        }

    def _normalize(self, obs, state):
        if not self.obs_normalization:
            return obs
        z = (obs - state["obs_mean"]) / jnp.sqrt(state["obs_var"] + 1e-8)
        return jnp.clip(z, -OBS_CLIP, OBS_CLIP)

    def _update_stats(self, state, obs, valid):
        """Merge the batch's valid observations into the running mean/variance (Chan et al.).

        The sums over the batch's axes are fixed-order and the divisions are products with the
        reciprocal, so that a chain's statistics are the same alone and in a vmapped group
        (batch_invariant; ``jnp.sum`` over several axes added in a shape-dependent order)."""
        if not self.obs_normalization:
            return state
        # a step counts where its episode is running and every feature is finite: one member
        # whose state blew up (inf or NaN in a valid step) would otherwise void the update
        keep = (valid & jnp.all(jnp.isfinite(obs), axis=-1))[..., None]
        w = keep.astype(jnp.float32)
        batch_axes = tuple(range(obs.ndim - 1))
        n_b = fixed_order_sum(w, batch_axes)[0]
        inv_b = 1.0 / jnp.maximum(n_b, 1.0)
        # selected, not multiplied by the weight: a NaN in a step after the episode ended
        # (brax steps a terminated state on) times 0 is NaN, and it would void the update
        mean_b = fixed_order_sum(jnp.where(keep, obs, 0.0), batch_axes) * inv_b
        var_b = fixed_order_sum(jnp.where(keep, (obs - mean_b) ** 2, 0.0), batch_axes) * inv_b
        n_a, mean_a, var_a = state["obs_count"], state["obs_mean"], state["obs_var"]
        n = n_a + n_b
        inv_n = 1.0 / jnp.maximum(n, 1.0)
        delta = mean_b - mean_a
        mean = mean_a + delta * (n_b * inv_n)
        m2 = var_a * n_a + var_b * n_b + delta**2 * (n_a * n_b * inv_n)
        var = jnp.where(n > 0, m2 * inv_n, 1.0)
        finite = jnp.all(jnp.isfinite(mean)) & jnp.all(jnp.isfinite(var))
        new = {"obs_mean": mean, "obs_var": jnp.maximum(var, 1e-6), "obs_count": n}
        return jax.tree.map(lambda a, b: jnp.where(finite, a, b), new, state)

    # --- policy ----------------------------------------------------------------------------
    def action(self, params: dict, obs: jax.Array, state) -> jax.Array:
        return self._scale(mlp_forward(params, self._normalize(obs, state)))

    def _scale(self, out: jax.Array) -> jax.Array:
        if self.discrete:
            return jnp.argmax(out, axis=-1)
        if self.policy_output == "clip":
            return jnp.clip(out, self.action_low, self.action_high)
        scaled = jnp.tanh(out)
        return self.action_low + (scaled + 1.0) * 0.5 * (self.action_high - self.action_low)

    # --- rollouts ----------------------------------------------------------------------------
    def _reset(self, key):
        if self.kind == "gymnax":
            obs, env_state = self.env.reset(key, self.env_params)
            return obs, env_state
        s = self.env.reset(key)
        return s.obs, s

    def _step(self, key, env_state, action, autoreset: bool = True):
        """One environment step. gymnax's ``step`` also computes a reset at every step (to
        restart a finished episode); an evaluation episode masks everything after ``done``,
        so it steps with ``autoreset=False``: the same transition and key, no reset."""
        if self.kind == "gymnax":
            if autoreset:
                obs, env_state, reward, terminated, truncated, _ = self.env.step(
                    key, env_state, action, self.env_params
                )
            else:
                k_step, _ = jax.random.split(key)  # the key gymnax's step hands to step_env
                obs, env_state, reward, terminated, _ = self.env.step_env(
                    k_step, env_state, action, self.env_params
                )
                truncated = self.env.is_truncated(env_state, self.env_params)
            return obs, env_state, reward, jnp.logical_or(terminated, truncated)
        s = self.env.step(env_state, action)
        return s.obs, s, s.reward, s.done > 0

    def _step_autoreset(self, key, env_state, action, steps_taken):
        """One step of a training env that restarts itself after done or ``max_steps`` steps
        (PPO's vectorised envs). gymnax already resets itself; brax does not. Returns
        (obs, state, reward, done, truncated): ``truncated`` marks the dones that are the time
        limit rather than the episode's own end (a gymnax env's own limit counts as one)."""
        k_step, k_reset = jax.random.split(key)
        obs, env_state, reward, ended = self._step(k_step, env_state, action)
        if self.kind == "brax":  # brax's done is the episode's own end, never a time limit
            truncated = (steps_taken >= self.max_steps) & ~ended
        else:  # gymnax folds its own time limit (never below max_steps: __post_init__
            # raises it to max_steps) into ``ended``; a step that ends the episode as the
            # limit falls counts as cut
            truncated = steps_taken >= self.max_steps
        done = ended | (steps_taken >= self.max_steps)
        if self.kind == "brax":
            r_obs, r_state = self._reset(k_reset)
            env_state = jax.tree.map(lambda a, b: jnp.where(done, a, b), r_state, env_state)
            obs = jnp.where(done, r_obs, obs)
        elif self.max_steps < int(self.env_params.max_steps_in_episode):
            r_obs, r_state = self._reset(k_reset)
            cut = steps_taken >= self.max_steps
            env_state = jax.tree.map(lambda a, b: jnp.where(cut, a, b), r_state, env_state)
            obs = jnp.where(cut, r_obs, obs)
        return obs, env_state, reward, done, truncated

    def episode_returns(self, params: dict, keys: jax.Array, state):
        """Returns of one policy over len(keys) episodes, all observations (None when
        observation normalisation is off: nothing reads them, and a gymnax task with feature
        access then never builds the observation vector) and which steps were still alive."""
        return self._rollouts(params, keys, state, members=False)

    def _rollouts(self, params: dict, keys: jax.Array, state, members: bool):
        """Episodes of one policy, or with ``members`` of a population (params with a leading
        member axis), over len(keys) episode keys shared by every member: returns
        ``([P,] R)``, observations ``([P,] R, T, obs)`` and alive flags ``([P,] R, T)``.

        Time-major: one scan over the steps of a step vmapped over members and episodes. Why
        not a vmap of an episode's scan: JAX batches a scan's body again for every vmap around
        it, twice each (once to learn which carries vary), and for a brax step that was most
        of the job's trace: tracing ant's population fitness took ≈ 1 s less this way. The
        programs compute the same (bitwise on every control task, bench/README.md)."""
        features = OBS_FEATURES.get(self.name) if self.kind == "gymnax" else None
        fast = features is not None and not self.obs_normalization
        record = bool(self.obs_normalization)

        def start(key):
            k_reset, k_steps = jax.random.split(key)
            obs, env_state = self._reset(k_reset)
            return obs, env_state, jax.random.split(k_steps, self.max_steps)

        obs, env_state, keys_t = jax.vmap(start)(keys)  # the resets are shared by the members

        def step_one(params, obs, env_state, total, alive, k):
            if fast:
                a = self._scale(mlp_forward_features(params, features(env_state)))
            else:
                a = self.action(params, obs, state)
            nobs, env_state, reward, done = self._step(k, env_state, a, autoreset=False)
            total = total + jnp.where(alive, reward, 0.0)
            carry = (None if fast else nobs, env_state, total, alive & ~done)
            return carry, ((obs if record else None), alive)

        step = jax.vmap(step_one, in_axes=(None, 0, 0, 0, 0, 0))  # over the episodes
        batch = keys.shape[:1]
        if members:
            step = jax.vmap(step, in_axes=(0, 0, 0, 0, 0, None))  # over the members
            batch = jax.tree.leaves(params)[0].shape[:1] + batch
            obs, env_state = jax.tree.map(
                lambda x: jnp.broadcast_to(x, batch[:1] + x.shape), (obs, env_state)
            )
        carry = (None if fast else obs, env_state, jnp.zeros(batch), jnp.ones(batch, bool))
        (_, _, total, _), (observations, valid) = jax.lax.scan(
            lambda carry, k: step(params, *carry, k), carry, jnp.swapaxes(keys_t, 0, 1)
        )

        def steps_after_batch(ys):  # (T, [P,] R, ...) → ([P,] R, T, ...)
            return None if ys is None else jnp.moveaxis(ys, 0, len(batch))

        return total, steps_after_batch(observations), steps_after_batch(valid)

    def population_fitness(self, population, key, data, state):
        """Negative mean return of each member over ``n_repeats`` shared episode keys."""
        keys = jax.random.split(key, self.n_repeats)

        def members(pop, keys, state):
            return self._rollouts(from_vector_batched(pop, self.table), keys, state, members=True)

        # split across devices (GPUs, or host devices when EVOTICKETS_CPU_DEVICES is set)
        returns, obs, valid = map_population(members, population, keys, state)
        # the observations stay split into the statistics' sums (gathering them does not
        # make brax's 2-device numbers one device's); the returns leave the program whole
        state = self._update_stats(state, obs, valid)
        # the mean in a fixed order, the same alone and in a vmapped group (batch_invariant)
        return -fixed_order_mean(whole(returns), axis=1), state

    def evaluate(self, vector, data, state):
        returns, _, _ = self.episode_returns(from_vector(vector, self.table), data, state)
        return jnp.mean(returns)

    def provenance(self) -> dict[str, str]:
        return {
            "env": BRAX_TASKS.get(self.name, GYMNAX_TASKS.get(self.name, self.name)),
            "env_backend": self.backend if self.kind == "brax" else "gymnax",
            "obs_normalization": str(bool(self.obs_normalization)),
            "max_steps": str(self.max_steps),
            "policy_output": "argmax" if self.discrete else str(self.policy_output),
            "n_repeats": str(self.n_repeats),
            "n_test": str(self.n_test),
        }

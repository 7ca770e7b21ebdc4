"""Masked PPO on a control task: the GD baseline for the policy tickets.

Same policy network, θ0 and mask as the ES chain. The actor's mean action is exactly the ES
policy's (``policy_output`` tanh: the tanh output scaled to the action range; clip: the linear
output, whose sample the environment gets clipped, as the study's gymnax PPO; logits for
discrete actions); exploration is a Gaussian with a learned, state-independent log-std around
it (continuous) or the softmax (discrete). The critic is a separate MLP and is never pruned.
Pruned actor weights get zero gradient, zero Adam update and stay exactly 0 (their gradient is
masked before the optimizer, and the update after it, so not even Adam's bias correction can
move them).

Why hand-written rather than a library PPO (e.g. rejax): rejax builds its optimizer inside
its own initialisation (element-wise ``optax.clip`` rather than the study's global-norm clip,
a constant learning rate), creates its own actor parameters and tree, and has no hook for a
weight mask or a given θ0; adapting it meant overriding private methods. A PureJaxRL-style
PPO over our flat-vector policy is ~150 lines and shares the task's rollout code.

Defaults are the study's Pendulum sizes: 32 envs × 16 steps per update, γ 0.97, GAE λ 0.95,
4 epochs × 8 minibatches, clip 0.25, entropy 0.005, critic 0.5, grad-norm clip 1.0, lr 3e-4 →
1e-4 (a 5 % warm-up, then a cosine). Its optimiser and loss differ from the study's gymnax PPO
(es-lottery ``src/gym_ppo``) in three ways that optional keys set to the study's values
(``config/paper.yaml`` does): ``lr_schedule: linear`` (3e-4 → 1e-4 linearly over
total_steps × warmup optimiser steps, then constant), ``adam_eps: 1e-5`` and ``value_clip``
(the critic's change per update clipped to ±clip, the larger loss taken). ``time_limit:
truncation`` treats an episode cut at max_steps as brax's PPO does (the step left out of GAE)
instead of as an end (the study's gymnax PPO). Two more optional keys carry brax's PPO settings:
``unroll_length`` cuts each env's ``num_steps`` into windows that GAE treats as brax treats its
unrolls (bootstrapped from the critic at the window's end), and ``reward_scaling`` multiplies the
rewards PPO learns from (not the returns it reports). They are optional rather than defaults, so
that the settings digest of every chain that does not set them is unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from ..keys import generation_key, tag
from ..networks import from_vector, init_policy_params, mlp_forward
from .es import RoundResult, strongly_typed
from .ppo_settings import PPO_DEFAULTS, ppo_check, ppo_option


def gae_advantages(
    rewards: jax.Array,
    values: jax.Array,
    dones: jax.Array,
    last_value: jax.Array,
    gamma: float,
    lam: float,
    unroll_length: int,
    truncated: jax.Array | None = None,
) -> jax.Array:
    """GAE(γ, λ) advantages of a (steps, envs) rollout cut into windows of ``unroll_length``.

    Each window is bootstrapped from the critic's value of the observation that follows it
    (the next window's first value, or ``last_value`` for the last window) and never looks
    past it, which is how brax's PPO treats each of its unrolls; ``unroll_length`` equal to
    the number of steps is one window, PureJaxRL's GAE.

    With ``truncated`` (steps where a time limit cut the episode; ``dones`` then marks only
    the episodes' own ends), a truncated step's δ is 0 and the sum stops there, as brax's
    ``compute_gae`` does: the value after it is the reset episode's, so neither it nor a
    terminal 0 is the right target, and the step is left out."""
    n_step, n_env = rewards.shape
    n_win = n_step // unroll_length
    boot = jnp.concatenate([values[unroll_length::unroll_length], last_value[None]], axis=0)

    def windows(x):  # (steps, envs) -> (unroll, windows × envs)
        x = x.reshape(n_win, unroll_length, n_env).transpose(1, 0, 2)
        return x.reshape(unroll_length, n_win * n_env)

    def step(c, x):
        adv_next, val_next = c
        rew, val, done, trunc = x
        nonterminal = 1.0 - done.astype(jnp.float32)
        delta = rew + gamma * val_next * nonterminal - val
        if truncated is None:
            adv = delta + gamma * lam * nonterminal * adv_next
        else:
            keep = 1.0 - trunc.astype(jnp.float32)
            adv = delta * keep + gamma * lam * nonterminal * keep * adv_next
        return (adv, val), adv

    init = (jnp.zeros(n_win * n_env), boot.reshape(n_win * n_env))
    trunc = jnp.zeros_like(dones) if truncated is None else truncated
    _, adv = jax.lax.scan(
        step,
        init,
        (windows(rewards), windows(values), windows(dones), windows(trunc)),
        reverse=True,
    )
    return adv.reshape(unroll_length, n_win, n_env).transpose(1, 0, 2).reshape(n_step, n_env)


def _log_prob(task, mean_out, log_std, action):
    if task.discrete:
        return jax.nn.log_softmax(mean_out)[..., action.astype(jnp.int32)]
    var = jnp.exp(2 * log_std)
    return jnp.sum(-0.5 * ((action - mean_out) ** 2 / var + 2 * log_std + jnp.log(2 * jnp.pi)))


def _entropy(task, mean_out, log_std):
    if task.discrete:
        p = jax.nn.softmax(mean_out)
        return -jnp.sum(p * jnp.log(p + 1e-12))
    return jnp.sum(log_std + 0.5 * jnp.log(2 * jnp.pi * jnp.e))


def _nanmean(x: np.ndarray) -> float:
    return float(np.nanmean(x)) if np.any(np.isfinite(x)) else float("nan")


PPO_CURVES = ("train_return", "episodes", "nonfinite_rewards", "eval_update", "eval_metric")


@dataclass(frozen=True)
class _Sizes:
    """The sizes of one PPO run, from its settings (merged over the defaults, checked)."""

    cfg: dict[str, Any]
    n_env: int
    n_step: int
    unroll: int
    reward_scale: float
    per_update: int
    n_updates: int
    mb_size: int

    @classmethod
    def of(cls, settings: dict[str, Any]) -> _Sizes:
        cfg = {**PPO_DEFAULTS, **settings}
        if problem := ppo_check(cfg):
            raise ValueError(f"PPO settings: {problem}")
        n_env, n_step = int(cfg["num_envs"]), int(cfg["num_steps"])
        per_update = n_env * n_step
        return cls(
            cfg=cfg,
            n_env=n_env,
            n_step=n_step,
            unroll=int(ppo_option(cfg, "unroll_length")),
            reward_scale=float(ppo_option(cfg, "reward_scaling")),
            per_update=per_update,
            n_updates=max(1, int(cfg["total_steps"]) // per_update),
            mb_size=per_update // int(cfg["minibatches"]),
        )


def _policy(task):
    """(mean_out, env_action, policy_mean): the actor's output for a batch of observations,
    the action sent to the environment, and the distribution's mean (or logits)."""
    table = task.table

    def mean_out(actor_vec, obs, norm):
        return mlp_forward(from_vector(actor_vec, table), task._normalize(obs, norm))

    def env_action(out):
        """The action sent to the environment from the network's output (continuous: the
        policy's mean plus Gaussian noise, clipped; discrete: a categorical sample)."""
        if task.discrete:
            return out
        return jnp.clip(out, task.action_low, task.action_high)

    def policy_mean(out):
        if task.discrete or task.policy_output == "clip":
            # logits; or the linear output, as the study's gymnax PPO's Gaussian mean (its
            # actor's mu), whose sample the environment gets clipped
            return out
        return task._scale(out)  # the ES policy's action: tanh-scaled to the range

    return mean_out, env_action, policy_mean


def learning_rate_schedule(cfg: dict[str, Any], n_updates: int) -> optax.Schedule:
    """The learning rate per optimiser step. ``warmup_cosine`` (unset): 0 → lr over the
    first ``warmup`` of the run's optimiser steps, then a cosine to lr_end at its end.
    ``linear``: the study's gymnax PPO (es-lottery ``src/gym_ppo/gym_ppo.py``), lr → lr_end
    linearly over total_steps × warmup optimiser steps, then lr_end (its "warm-up" is this
    decay horizon, counted in env steps: 87,500 of the Pendulum run's ≈ 109,000)."""
    steps = n_updates * int(cfg["epochs"]) * int(cfg["minibatches"])
    if ppo_option(cfg, "lr_schedule") == "linear":
        return optax.linear_schedule(
            init_value=float(cfg["lr"]),
            end_value=float(cfg["lr_end"]),
            transition_steps=max(1, int(int(cfg["total_steps"]) * float(cfg["warmup"]))),
        )
    return optax.warmup_cosine_decay_schedule(
        init_value=0.0,
        peak_value=float(cfg["lr"]),
        # the product in this order, as before the linear option (digests and bits kept)
        warmup_steps=max(1, int(cfg["warmup"] * n_updates * cfg["epochs"] * cfg["minibatches"])),
        decay_steps=max(2, steps),
        end_value=float(cfg["lr_end"]),
    )


def _init(task, sz: _Sizes, theta0, mask, round_k, bias_init: str | None = None):
    """The actor (m ⊙ θ0), log-std and critic (its biases by ``bias_init``, as θ0's), the
    optimiser (global-norm clip, Adam on :func:`learning_rate_schedule`) and its state."""
    cfg, n_updates = sz.cfg, sz.n_updates
    k_critic = jax.random.fold_in(round_k, tag("ppo-critic"))
    critic0 = init_policy_params(
        cfg["critic_hidden"], task.obs_dim, 1, k_critic, bias_init=bias_init
    )
    params = {
        "actor": jnp.asarray(theta0 * mask, jnp.float32),
        "log_std": jnp.full((task.num_outputs,), -0.5),
        "critic": {k: jnp.asarray(v) for k, v in critic0.items()},
    }
    schedule = learning_rate_schedule(cfg, n_updates)
    adam = optax.adam(schedule, eps=float(ppo_option(cfg, "adam_eps")))
    tx = optax.chain(optax.clip_by_global_norm(float(cfg["max_grad_norm"])), adam)
    return params, tx, tx.init(params)


def _loss(task, sz: _Sizes):
    """PPO's clipped actor loss + critic loss − entropy bonus of one minibatch."""
    cfg = sz.cfg
    mean_out, _, policy_mean = _policy(task)

    value_clip = bool(ppo_option(cfg, "value_clip"))

    def loss_fn(p, batch, norm):
        obs, act, old_logp, adv, ret, *old_value = batch  # the rollout's value: value_clip
        out = jax.vmap(lambda o: mean_out(p["actor"], o, norm))(obs)
        mean = jax.vmap(policy_mean)(out)
        logp = jax.vmap(lambda m, a: _log_prob(task, m, p["log_std"], a))(mean, act)
        ratio = jnp.exp(logp - old_logp)
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        clip = float(cfg["clip"])
        actor_loss = -jnp.mean(jnp.minimum(ratio * adv, jnp.clip(ratio, 1 - clip, 1 + clip) * adv))
        value = jax.vmap(lambda o: mlp_forward(p["critic"], task._normalize(o, norm))[0])(obs)
        if value_clip:  # the study's gymnax PPO: the critic moves at most ±clip per update
            clipped = old_value[0] + jnp.clip(value - old_value[0], -clip, clip)
            critic_loss = 0.5 * jnp.mean(jnp.maximum((value - ret) ** 2, (clipped - ret) ** 2))
        else:
            critic_loss = 0.5 * jnp.mean((value - ret) ** 2)
        entropy = jnp.mean(jax.vmap(lambda m: _entropy(task, m, p["log_std"]))(mean))
        return actor_loss + cfg["critic"] * critic_loss - cfg["entropy"] * entropy

    return loss_fn


def _rollout(task, sz: _Sizes, p, norm):
    """One environment step of every env under the current policy (a ``lax.scan`` body)."""
    mean_out, env_action, policy_mean = _policy(task)

    def env_step(c, ks):
        env_state, obs, ep_ret, ep_len = c
        k_act, k_env = jax.random.split(ks)
        out = jax.vmap(lambda o: mean_out(p["actor"], o, norm))(obs)
        mean = jax.vmap(policy_mean)(out)
        if task.discrete:
            act = jax.random.categorical(k_act, mean)
        else:
            act = mean + jnp.exp(p["log_std"]) * jax.random.normal(k_act, mean.shape)
        logp = jax.vmap(lambda m, a: _log_prob(task, m, p["log_std"], a))(mean, act)
        value = jax.vmap(lambda o: mlp_forward(p["critic"], task._normalize(o, norm))[0])(obs)
        keys = jax.random.split(k_env, sz.n_env)
        nobs, env_state, reward, done, truncated = jax.vmap(task._step_autoreset)(
            keys, env_state, jax.vmap(env_action)(act), ep_len + 1
        )
        # a step whose physics blew up gives no reward, and is counted (nonfinite_rewards)
        nonfinite = ~jnp.isfinite(reward)
        reward = jnp.where(nonfinite, 0.0, reward)
        ep_ret = ep_ret + reward
        finished = jnp.where(done, ep_ret, jnp.nan)
        ep_ret = jnp.where(done, 0.0, ep_ret)
        ep_len = jnp.where(done, 0, ep_len + 1)
        traj = (obs, act, logp, value, reward, done, truncated, finished, nonfinite)
        return (env_state, nobs, ep_ret, ep_len), traj

    return env_step


def _make_update(task, sz: _Sizes, tx, mask_j, round_k):
    """One PPO update (a ``lax.scan`` body over update indices u): a rollout of n_step steps
    in every env, GAE, then epochs × minibatches of masked Adam steps. Update u's keys are a
    pure function of (round key, u)."""
    cfg, per_update, mb_size = sz.cfg, sz.per_update, sz.mb_size
    loss_fn = _loss(task, sz)

    def masked(tree):
        return {**tree, "actor": tree["actor"] * mask_j}

    def update(carry, u):
        p, opt, env_state, obs, ep_ret, ep_len, norm = carry
        k = generation_key(round_k, u)
        (env_state, obs_last, ep_ret, ep_len), traj = jax.lax.scan(
            _rollout(task, sz, p, norm),
            (env_state, obs, ep_ret, ep_len),
            jax.random.split(k, sz.n_step),
        )
        t_obs, t_act, t_logp, t_val, t_rew, t_done, t_trunc, t_fin, t_bad = traj
        by_time_limit = ppo_option(cfg, "time_limit") == "truncation"
        last_val = jax.vmap(lambda o: mlp_forward(p["critic"], task._normalize(o, norm))[0])(
            obs_last
        )

        adv = gae_advantages(
            sz.reward_scale * t_rew,
            t_val,
            t_done & ~t_trunc if by_time_limit else t_done,
            last_val,
            float(cfg["gamma"]),
            float(cfg["gae_lambda"]),
            sz.unroll,
            truncated=t_trunc if by_time_limit else None,
        )
        ret = adv + t_val
        batch = (t_obs, t_act, t_logp, adv, ret)
        if ppo_option(cfg, "value_clip"):
            batch = (*batch, t_val)
        flat = jax.tree.map(lambda x: x.reshape(per_update, *x.shape[2:]), batch)
        # before the epochs, as brax's PPO updates its running statistics (its training_step):
        # the epochs normalise with the new statistics, the stored log-probs and values were
        # made with the old, so the first minibatch's ratio is not exactly 1 (brax's too)
        norm = task._update_stats(norm, t_obs, jnp.ones(t_obs.shape[:2], bool))

        def epoch(c, ke):
            p, opt = c
            perm = jax.random.permutation(ke, per_update)

            def minibatch(c, idx):
                p, opt = c
                batch = jax.tree.map(lambda x: x[idx], flat)
                grads = jax.grad(loss_fn)(p, batch, norm)
                updates, opt = tx.update(masked(grads), opt, p)
                p = optax.apply_updates(p, masked(updates))
                return (p, opt), None

            (p, opt), _ = jax.lax.scan(
                minibatch, (p, opt), perm[: mb_size * int(cfg["minibatches"])].reshape(-1, mb_size)
            )
            return (p, opt), None

        k_epochs = jax.random.split(jax.random.fold_in(k, tag("ppo-epochs")), int(cfg["epochs"]))
        (p, opt), _ = jax.lax.scan(epoch, (p, opt), k_epochs)
        n_fin = jnp.sum(t_done)
        mean_fin = jnp.where(n_fin > 0, jnp.nansum(t_fin) / jnp.maximum(n_fin, 1), jnp.nan)
        n_bad = jnp.sum(t_bad)
        return (p, opt, env_state, obs_last, ep_ret, ep_len, norm), (mean_fin, n_fin, n_bad)

    return update


def _check_finite_actor(params: dict, first: int, last: int, label: str) -> None:
    """PPO's networks after updates ``first`` … ``last``, or a clear error where they went
    non-finite: a NaN gradient anywhere makes every clipped update NaN, pruned weights
    included (the mask multiplies it), which would otherwise surface as "PPO moved a pruned
    weight" at the end, hours later, naming a masking bug instead of a diverged round."""
    broken = {
        k: sum(int(np.sum(~np.isfinite(np.asarray(leaf)))) for leaf in jax.tree.leaves(v))
        for k, v in params.items()
    }
    broken = {k: n for k, n in broken.items() if n}
    if broken:
        what = ", ".join(f"{n} of its {k} values" for k, n in broken.items())
        raise ValueError(
            f"{label} PPO diverged during updates {first + 1}-{last}: {what} are NaN or "
            "infinite, so nothing was written. Causes: the environment returned non-finite "
            "observations or rewards (physics that blew up: the log's `nonfinite rewards` "
            "counts the rewards), or the steps were too large. Fix: for the first, the task's "
            "settings (a shorter episode, another backend); for the second, a smaller lr or "
            "max_grad_norm in the gd_ppo settings"
        )


def train_ppo(
    task,
    theta0: np.ndarray,
    mask: np.ndarray,
    round_k: jax.Array,
    settings: dict[str, Any],
    log: Callable[[str], None] = print,
    label: str = "",
    checkpoint=None,
    bias_init: str | None = None,
) -> RoundResult:
    """Train the masked policy with PPO from m⊙θ0; returns θ_G like an ES round. The critic
    starts with ``bias_init`` biases (θ0's policy bias initialiser).

    With ``checkpoint`` (an :class:`evotickets.checkpoint.Checkpointer`), the whole carry
    (actor, critic, log-std, Adam state, environment states, observations, episode counters,
    observation statistics) and the curves are saved after whole chunks of updates, and a
    valid checkpoint of this round is resumed from; update u's key is a pure function of
    (round key, u), so the result is bitwise the same as an uninterrupted round."""
    sz = _Sizes.of(settings)
    t_start = time.perf_counter()
    n_env, n_updates, per_update = sz.n_env, sz.n_updates, sz.per_update
    params, tx, opt_state = _init(task, sz, theta0, mask, round_k, bias_init)
    update = _make_update(task, sz, tx, jnp.asarray(mask, jnp.float32), round_k)

    @partial(jax.jit, static_argnames=("n",))
    def run_chunk(carry, start, n):
        return jax.lax.scan(update, carry, start + jnp.arange(n))

    evaluate = jax.jit(lambda actor, d, norm: task.evaluate(actor, d, norm))
    reset_keys = jax.random.split(jax.random.fold_in(round_k, tag("ppo-reset")), n_env)
    obs, env_state = jax.vmap(task._reset)(reset_keys)
    norm = task.init_state()
    carry = (params, opt_state, env_state, obs, jnp.zeros(n_env), jnp.zeros(n_env, jnp.int32), norm)
    carry = strongly_typed(carry)  # one compiled chunk program, not one for the first chunk
    chunk = max(1, min(int(sz.cfg["log_every"]), n_updates))
    returns, counts, bad, eval_gen, eval_val = [], [], [], [], []
    u = 0

    def check_curves(c, done, chunk):
        per_update = ("train_return", "episodes", "nonfinite_rewards")
        per_eval = ("eval_update", "eval_metric")
        if any(c[n].shape != (done,) for n in per_update) or any(
            c[n].shape != (done // chunk,) for n in per_eval
        ):
            raise ValueError(f"its curves do not match {done} updates in chunks of {chunk}")

    if checkpoint is not None and (
        resumed := checkpoint.load(carry, n_updates, chunk, PPO_CURVES, check_curves)
    ):
        carry, u, c = resumed.state, resumed.generation, resumed.curves
        returns, counts, bad = [c["train_return"]], [c["episodes"]], [c["nonfinite_rewards"]]
        eval_gen, eval_val = c["eval_update"].tolist(), c["eval_metric"].tolist()
    u_start = u
    while u < n_updates:
        n_now = min(chunk, n_updates - u)
        carry, (r, n, b) = run_chunk(carry, u, n_now)
        u += n_now
        returns.append(np.asarray(r)), counts.append(np.asarray(n)), bad.append(np.asarray(b))
        _check_finite_actor(carry[0], u - n_now, u, label)
        metric = float(evaluate(carry[0]["actor"], task.test_data, carry[6]))
        eval_gen.append(u), eval_val.append(metric)
        if checkpoint is not None and checkpoint.due(u, n_updates):
            checkpoint.save(
                carry,
                u,
                {
                    "train_return": np.concatenate(returns),
                    "episodes": np.concatenate(counts),
                    "nonfinite_rewards": np.concatenate(bad),
                    "eval_update": np.asarray(eval_gen, np.int64),
                    "eval_metric": np.asarray(eval_val, np.float64),
                },
            )
        elapsed = time.perf_counter() - t_start
        log(
            f"{label} update {u}/{n_updates} ({u * per_update} steps) "
            f"train return {_nanmean(np.asarray(r)):.2f} {task.metric_name} {metric:.2f} "
            f"nonfinite rewards {int(np.sum(b))} eta {elapsed / (u - u_start) * (n_updates - u):.0f}s"
        )
    p = carry[0]
    theta = np.asarray(p["actor"])
    if not np.all(theta[~mask] == 0.0):  # the masking invariant, checked on every run
        raise AssertionError("PPO moved a pruned weight")
    # NaN where no episode ended during the update (on Pendulum most updates: every env
    # starts together and times out at its episode limit together), with the count beside
    # it; a filler would read as training returns that were never measured
    ret = np.concatenate(returns)
    return RoundResult(
        theta=theta,
        sigma=np.zeros_like(theta),
        best_fitness=-ret,
        mean_fitness=-ret,
        # env steps with a NaN or infinite reward (given none, counted), not members
        nonfinite_count=np.concatenate(bad).astype(np.int32),
        episodes=np.concatenate(counts).astype(np.int32),
        eval_generation=np.asarray(eval_gen, np.int32),
        eval_metric=np.asarray(eval_val, np.float32),
        final_metric=float(eval_val[-1]),
        seconds=time.perf_counter() - t_start,
        task_state={k: np.asarray(v) for k, v in carry[6].items()},
    )

"""PPO's settings and their check, apart from the trainer (:mod:`evotickets.train.ppo`), so
that config validation and the workflow read them without importing JAX."""

from __future__ import annotations

from typing import Any

PPO_DEFAULTS: dict[str, Any] = {
    "total_steps": 1_750_000,
    "num_envs": 32,
    "num_steps": 16,
    "gamma": 0.97,
    "gae_lambda": 0.95,
    "epochs": 4,
    "minibatches": 8,
    "clip": 0.25,
    "entropy": 0.005,
    "critic": 0.5,
    "max_grad_norm": 1.0,
    "lr": 3e-4,
    "lr_end": 1e-4,
    "warmup": 0.05,
    "critic_hidden": [32, 32],
    "log_every": 50,
}


# Optional keys (absent from PPO_DEFAULTS so that existing settings digests stay valid):
# unroll_length: GAE window (default num_steps, one window); reward_scaling (default 1);
# lr_schedule, adam_eps, value_clip: the study's gymnax PPO (default warmup_cosine, optax's
# 1e-8, no value clipping); time_limit: how GAE treats an episode cut at max_steps (default
# terminal, as the study's gymnax PPO; truncation, as brax's PPO).
LR_SCHEDULES = ("warmup_cosine", "linear")
TIME_LIMITS = ("terminal", "truncation")
#: Each optional key's value where a block leaves it out, the one owner of these defaults for
#: the trainer and the check alike (never filled into a block: digests stay as they were).
#: unroll_length's, None, is num_steps: one GAE window per rollout.
PPO_OPTIONAL_DEFAULTS: dict[str, Any] = {
    "unroll_length": None,
    "reward_scaling": 1.0,
    "lr_schedule": LR_SCHEDULES[0],
    "adam_eps": 1e-8,  # optax's
    "value_clip": False,
    "time_limit": TIME_LIMITS[0],
}
PPO_OPTIONAL_KEYS = tuple(PPO_OPTIONAL_DEFAULTS)


def ppo_option(cfg: dict[str, Any], key: str) -> Any:
    """An optional PPO key of a settings block (merged over PPO_DEFAULTS), or its default."""
    value = cfg.get(key, PPO_OPTIONAL_DEFAULTS[key])
    if key == "unroll_length" and value is None:
        return cfg["num_steps"]
    return value


def ppo_check(settings: dict[str, Any]) -> str | None:
    """What is wrong with a PPO settings block (merged over the defaults), or None. The rollout
    must split into whole GAE windows and whole minibatches, or data would silently be dropped."""
    cfg = {**PPO_DEFAULTS, **settings}
    n_step, n_env, n_mb = int(cfg["num_steps"]), int(cfg["num_envs"]), int(cfg["minibatches"])
    unroll = int(ppo_option(cfg, "unroll_length"))
    if unroll < 1 or n_step % unroll:
        return (
            f"num_steps {n_step} is not a multiple of unroll_length {unroll}; set num_steps to "
            f"(unrolls per env) × unroll_length, e.g. {max(1, n_step // max(unroll, 1)) * unroll}"
        )
    if (n_env * n_step) % n_mb:
        return (
            f"num_envs × num_steps = {n_env * n_step} transitions do not split into "
            f"{n_mb} minibatches; make it a multiple of minibatches"
        )
    if int(cfg["total_steps"]) < n_env * n_step:
        # it was raised to one update silently: a run of other length than the config says
        return (
            f"total_steps {cfg['total_steps']} is less than one update, num_envs × num_steps "
            f"= {n_env * n_step} transitions; set total_steps to at least {n_env * n_step}"
        )
    if float(ppo_option(cfg, "reward_scaling")) <= 0:
        return "reward_scaling must be > 0"
    if ppo_option(cfg, "lr_schedule") not in LR_SCHEDULES:
        return f"lr_schedule {cfg['lr_schedule']!r} is not one of {', '.join(LR_SCHEDULES)}"
    if ppo_option(cfg, "lr_schedule") == "warmup_cosine" and float(cfg["warmup"]) >= 1:
        # optax's cosine then has no steps left to decay over, and every job would fail
        return (
            f"warmup {cfg['warmup']} leaves the warmup_cosine schedule no steps to decay over; "
            "give a fraction below 1 (or lr_schedule: linear, whose warmup is its decay horizon)"
        )
    if ppo_option(cfg, "time_limit") not in TIME_LIMITS:
        return f"time_limit {cfg['time_limit']!r} is not one of {', '.join(TIME_LIMITS)}"
    if float(ppo_option(cfg, "adam_eps")) <= 0:
        return "adam_eps must be > 0"
    return None

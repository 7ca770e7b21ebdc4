"""Explicit JAX key derivation for every random choice in a pruning chain.

Why a module of its own: reproducibility and resumability both hinge on each random draw having
one fixed key that depends only on *what* it is for (seed, chain, round, generation), never on
how often a process ran. The study's code reseeded with ``seed + round``, which makes seed 0
round 1 collide with seed 1 round 0; folding names and counters into the key avoids that.
"""

from __future__ import annotations

import hashlib

import jax


def tag(name: str) -> int:
    """A stable 31-bit integer for a string, independent of Python's hash randomisation."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little") & 0x7FFFFFFF


def seed_key(seed: int) -> jax.Array:
    """The root key of one seed."""
    return jax.random.key(int(seed))


def init_key(seed: int) -> jax.Array:
    """Key for θ0. Shared by every strategy and method of a seed so that tickets are comparable."""
    return jax.random.fold_in(seed_key(seed), tag("init"))


def chain_key(seed: int, task: str, strategy: str) -> jax.Array:
    """Key of one pruning chain.

    The pruning method is deliberately left out: all methods of a (task, strategy, seed) see the
    same search noise and minibatches in each round (common random numbers), so round 0 is
    identical across methods and later differences come from the masks alone.
    """
    return jax.random.fold_in(seed_key(seed), tag(f"chain/{task}/{strategy}"))


def round_key(chain: jax.Array, round_index: int) -> jax.Array:
    """Key of round t of a chain."""
    return jax.random.fold_in(chain, int(round_index))


def generation_key(round_k: jax.Array, generation: int | jax.Array) -> jax.Array:
    """Key of generation g of a round: a pure function of (round key, g), so a resumed round
    draws exactly the numbers an uninterrupted one would."""
    return jax.random.fold_in(round_k, generation)


def init_score_key(seed: int, task: str) -> jax.Array:
    """Key for the training examples that score weights at θ0 (SNIP, GraSP). It depends on
    (seed, task) only: every strategy and round of a seed scores θ0 on the same examples, so
    their pruning-at-initialisation masks are the same."""
    return jax.random.fold_in(seed_key(seed), tag(f"init-score/{task}"))


def mask_key(round_k: jax.Array) -> jax.Array:
    """Key for the random-baseline mask drawn before round t."""
    return jax.random.fold_in(round_k, tag("random-mask"))


def permutation_key(round_k: jax.Array, method: str, tensor: str) -> jax.Array:
    """Key for the within-layer shuffle of a permutation control (``weight_permuted``,
    ``mask_permuted``) of one tensor in round t: a pure function of what is shuffled."""
    return jax.random.fold_in(jax.random.fold_in(round_k, tag(f"permute/{method}")), tag(tensor))


def gd_epoch_key(round_k: jax.Array, epoch: int | jax.Array) -> jax.Array:
    """Key for the minibatch order of epoch e of a gradient-descent round."""
    return jax.random.fold_in(jax.random.fold_in(round_k, tag("gd-shuffle")), epoch)

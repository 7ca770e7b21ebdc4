"""Explicit JAX key derivation for every random choice in a pruning chain.

Why a module of its own: reproducibility and resumability both hinge on each random draw having
one fixed key that depends only on *what* it is for (seed, chain, round, generation), never on
how often a process ran. The study's code reseeded with ``seed + round``, which makes seed 0
round 1 collide with seed 1 round 0; folding names and counters into the key avoids that.
"""

from __future__ import annotations

import functools
import hashlib

import jax
import jax.numpy as jnp
import numpy as np


def tag(name: str) -> int:
    """A stable 31-bit integer for a string, independent of Python's hash randomisation."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little") & 0x7FFFFFFF


#: Seeds a key tells apart: ``jax.random.key`` keeps a seed's low 32 bits, so 2**32 would
#: draw seed 0's numbers under another name.
MAX_SEED = 2**32 - 1


def seed_key(seed: int) -> jax.Array:
    """The root key of one seed (0 … :data:`MAX_SEED`; others are refused)."""
    if not 0 <= int(seed) <= MAX_SEED:
        raise ValueError(
            f"seed {seed} is outside 0 … {MAX_SEED}: a JAX key keeps 32 bits of it, so it "
            "would draw another seed's numbers; use a seed in that range"
        )
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


def landscape_key(seed: int, task: str, purpose: str, index: int = 0) -> jax.Array:
    """Key for the random directions of a loss landscape: ``purpose`` "2d" with ``index`` 0 or
    1 for the two axes every round's surface shares, "1d" with ``index`` the round for that
    round's projections. It depends on (seed, task), not on the strategy or method, so every
    chain of a seed probes along the same Gaussians before masking and normalisation (a
    paired comparison, e.g. GD against ES in claim 7); and a round's directions do not depend
    on which other rounds the same job evaluates."""
    base = jax.random.fold_in(seed_key(seed), tag(f"landscape-{purpose}/{task}"))
    return jax.random.fold_in(base, int(index))


def gaussians(key: jax.Array, shape: tuple[int, ...]) -> np.ndarray:
    """Standard normal float32 draws of ``shape`` from ``key``, as a NumPy array."""
    return np.asarray(jax.random.normal(key, shape, jnp.float32))


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


def permutation(key: jax.Array, n: int) -> np.ndarray:
    """``jax.random.permutation(key, n)``, bitwise, as a NumPy int32 array, with one compiled
    program per power-of-two size instead of one per ``n``.

    Why: a shape is a program to JAX, and compiling one costs 0.6-1 CPU-seconds on this
    machine. The permutation controls shuffle each tensor's kept entries, whose count differs
    from chain to chain, so a group job of 20 chains compiled dozens of them (4.4 of the 7.7
    CPU-seconds its masks took). How: JAX shuffles ``arange(n)`` by a few stable sorts, each
    keyed by fresh 32-bit random bits of shape (n,) (``jax._src.random``'s ``_shuffle``).
    With the partitionable Threefry (JAX's default since 0.5) the bits of shape (n,) are the
    first n of any longer shape, so the bits are drawn for the power of two at or above n and
    the sorts run in NumPy (``kind="stable"``, as ``lax.sort_key_val`` is). Where the flag is
    off this falls back to ``jax.random.permutation``; tests/unit/test_keys.py pins the two
    equal."""
    n = int(n)
    if not jax.config.jax_threefry_partitionable:
        return np.asarray(jax.random.permutation(key, n))
    # JAX's own count of sorts: enough that all n keys are distinct with high probability
    rounds = int(np.ceil(3 * np.log(max(1, n)) / np.log(np.iinfo(np.uint32).max)))
    x = np.arange(n, dtype=np.int32)
    if rounds == 0:
        return x
    bits = np.asarray(_sort_bits(key, rounds, max(256, 1 << (n - 1).bit_length())))
    for r in range(rounds):
        x = x[np.argsort(bits[r, :n], kind="stable")]
    return x


@functools.partial(jax.jit, static_argnums=(1, 2))
def _sort_bits(key: jax.Array, rounds: int, size: int) -> jax.Array:
    """The sort keys of ``rounds`` shuffle rounds of ``size`` entries, drawn as JAX's
    permutation draws them (a split per round, 32 bits per entry)."""
    out = []
    for _ in range(rounds):
        key, sub = jax.random.split(key)
        out.append(jax.random.bits(sub, (size,), jnp.uint32))
    return jnp.stack(out)

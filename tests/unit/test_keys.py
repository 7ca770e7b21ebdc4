"""Key derivation: keys.permutation is jax.random.permutation, bitwise, for every size it is
asked for; the landscape draws have a key each."""

import jax
import numpy as np
import pytest

from evotickets import keys
from evotickets.keys import permutation


@pytest.mark.parametrize("n", [0, 1, 2, 255, 256, 257, 1625, 1626, 5000, 70_001])
def test_permutation_equals_jax(n):
    # 1625/1626 straddle JAX's switch from one shuffle round to two
    for i in range(3):
        key = jax.random.fold_in(jax.random.key(11), i)
        want = np.asarray(jax.random.permutation(key, n))
        got = permutation(key, n)
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)


def test_permutation_is_a_permutation_and_depends_on_the_key():
    a = permutation(jax.random.key(0), 3000)
    b = permutation(jax.random.key(1), 3000)
    assert sorted(a.tolist()) == list(range(3000))
    assert not np.array_equal(a, b)


def test_sizes_in_one_bucket_share_one_program():
    from evotickets.keys import _sort_bits

    permutation(jax.random.key(0), 3000)
    before = _sort_bits._cache_size()
    for n in range(3001, 3020):
        permutation(jax.random.key(0), n)
    assert _sort_bits._cache_size() == before


def test_landscape_draws_differ_by_purpose_round_seed_and_task():
    """Each draw has its own key; the same (seed, task, purpose, index) draws the same numbers."""
    from evotickets.keys import gaussians, landscape_key

    def draw(*args):
        return gaussians(landscape_key(*args), (64,))

    base = draw(0, "digits", "1d", 3)
    assert base.dtype == np.float32
    np.testing.assert_array_equal(base, draw(0, "digits", "1d", 3))
    for other in ((0, "digits", "1d", 4), (1, "digits", "1d", 3), (0, "mnist", "1d", 3),
                  (0, "digits", "2d", 3)):  # fmt: skip
        assert not np.array_equal(base, draw(*other)), other


def test_a_seed_beyond_32_bits_is_refused_not_folded_onto_another():
    """jax.random.key keeps a seed's low 32 bits: 2**32 drew seed 0's θ0 under its name."""
    from evotickets import keys

    keys.seed_key(keys.MAX_SEED)
    with pytest.raises(ValueError, match="outside 0"):
        keys.seed_key(2**32)
    # the config's schema bounds seeds by the same number
    from evotickets.schema import load_schema

    assert load_schema()["properties"]["seeds"]["items"]["maximum"] == keys.MAX_SEED


def test_chain_keys_differ_by_seed_task_and_strategy_never_by_method():
    """A chain's noise and minibatches come from its (seed, task, strategy): each of them
    changes the key (a key ignoring the strategy gave SNES and Sep-CMA-ES one noise stream
    and passed); the method is left out by design (common random numbers)."""
    import inspect

    import jax

    from evotickets.keys import chain_key

    def data(*args):
        return np.asarray(jax.random.key_data(chain_key(*args)))

    base = data(0, "digits", "snes")
    np.testing.assert_array_equal(base, data(0, "digits", "snes"))
    for other in ((1, "digits", "snes"), (0, "mnist", "snes"), (0, "digits", "sep_cma_es")):
        assert not np.array_equal(base, data(*other)), other
    assert list(inspect.signature(chain_key).parameters) == ["seed", "task", "strategy"]


def test_every_derived_key_is_the_one_recorded():
    """Each key of the study, derived the way the code derives it, has the bits recorded here
    (JAX's threefry, the pinned jax): a change to how any key is derived (a generation key
    that ignores g, the mask key taken as the round key itself) changes every chain's
    numbers, and runs that compare a chain with itself (resume, chunking) cannot see it. A
    deliberate change updates these bits and says so: earlier results no longer reproduce."""
    ck = keys.chain_key(0, "digits", "snes")
    rk = keys.round_key(ck, 1)
    derived = {
        "init": keys.init_key(0),
        "chain": ck,
        "round 1": rk,
        "generation 3": keys.generation_key(rk, 3),
        "random mask": keys.mask_key(rk),
        "permutation": keys.permutation_key(rk, "weight_permuted", "Dense_0/kernel"),
        "gd epoch 2": keys.gd_epoch_key(rk, 2),
        "init score": keys.init_score_key(0, "digits"),
        "landscape 1d, round 1": keys.landscape_key(0, "digits", "1d", 1),
    }
    recorded = {
        "init": [388991235, 3600006645],
        "chain": [1499296288, 173449505],
        "round 1": [3354775861, 1962895472],
        "generation 3": [822182801, 674135870],
        "random mask": [795441168, 4026843395],
        "permutation": [649168092, 2555685419],
        "gd epoch 2": [3770751605, 732448539],
        "init score": [2925845260, 3360231704],
        "landscape 1d, round 1": [1413102519, 2114775431],
    }
    got = {k: np.asarray(jax.random.key_data(v)).tolist() for k, v in derived.items()}
    assert got == recorded
    # each generation its own noise
    data = {g: np.asarray(jax.random.key_data(keys.generation_key(rk, g))) for g in range(3)}
    assert len({tuple(v.tolist()) for v in data.values()}) == 3

"""The paper's CNN: size, initialisation, layer table, and the fast population forward pass."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from evotickets.networks import (
    ACCELERATOR_TILE_FLOATS,
    CPU_TILE_FLOATS,
    PaperCNN,
    default_batch_tile,
    flatten_params,
    from_vector,
    from_vector_batched,
    init_params,
    layer_table,
    make_network,
    population_log_probs,
    prunable_vector,
    tile_budget,
    to_vector,
    unflatten_params,
)


def test_paper_cnn_has_11274_parameters_and_paper_init():
    theta = init_params("cnn", (28, 28, 1), jax.random.key(0))
    assert sum(v.size for v in theta.values()) == 11274
    assert theta["Conv_0/kernel"].shape == (5, 5, 1, 8)
    assert theta["Conv_1/kernel"].shape == (5, 5, 8, 16)
    assert theta["Dense_0/kernel"].shape == (784, 10)
    for conv in ("Conv_0", "Conv_1"):
        b = theta[f"{conv}/bias"]
        assert b.min() >= 0.0 and b.max() < 0.05 and b.std() > 0
    np.testing.assert_array_equal(theta["Dense_0/bias"], 0.0)


def test_small_variant_for_digits():
    theta = init_params("cnn_small", (8, 8, 1), jax.random.key(0))
    assert theta["Dense_0/kernel"].shape == (64, 10)
    assert sum(v.size for v in theta.values()) == 80 + 1168 + 650


@pytest.mark.parametrize("prune_output", [True, False])
def test_layer_table_prunes_kernels_never_biases(prune_output):
    theta = init_params("cnn", (28, 28, 1), jax.random.key(0))
    table = layer_table(theta, prune_output_layer=prune_output)
    flags = {e.name: e.prunable for e in table}
    assert flags["Conv_0/kernel"] and flags["Conv_1/kernel"]
    assert flags["Dense_0/kernel"] is prune_output
    assert not any(flags[n] for n in flags if n.endswith("bias"))
    expected = 200 + 3200 + (7840 if prune_output else 0)
    assert prunable_vector(table).sum() == expected


def test_vector_round_trip():
    theta = init_params("cnn_small", (8, 8, 1), jax.random.key(3))
    table = layer_table(theta)
    back = from_vector(to_vector(theta, table), table)
    for k in theta:
        np.testing.assert_array_equal(back[k], theta[k])


@pytest.mark.parametrize("network,shape,k", [("cnn_small", (8, 8, 1), 3), ("cnn", (28, 28, 1), 5)])
def test_population_forward_equals_flax_apply(network, shape, k):
    """The fast path equals the reference flax apply, with masked and zero-valued weights."""
    theta = init_params(network, shape, jax.random.key(0))
    table = layer_table(theta)
    base = jnp.asarray(to_vector(theta, table))
    pop = base[None] + 0.1 * jax.random.normal(jax.random.key(1), (6, base.size))
    mask = jax.random.bernoulli(jax.random.key(2), 0.6, (6, base.size))
    pop = jnp.where(mask, pop, 0.0).at[:, :5].set(0.0)  # pruned and exactly-zero weights
    x = jax.random.normal(jax.random.key(4), (7, *shape))
    fast = population_log_probs(from_vector_batched(pop, table), x, k)
    model = make_network(network)
    ref = jnp.stack(
        [
            model.apply({"params": unflatten_params(from_vector(v, table))}, x)
            for v in np.asarray(pop)
        ]
    )
    np.testing.assert_allclose(np.asarray(fast), np.asarray(ref), rtol=1e-4, atol=1e-4)


def _random_population(theta, table, p, key):
    """Members with random (not init-like) values, random masks, exact zeros, one member whose
    whole first kernel is pruned, and one dense member."""
    base = jnp.asarray(to_vector(theta, table))
    k1, k2, k3 = jax.random.split(key, 3)
    pop = base[None] + 0.3 * jax.random.normal(k1, (p, base.size))
    mask = jax.random.bernoulli(k2, 0.5, (p, base.size)).at[-1].set(True)
    pop = jnp.where(mask, pop, 0.0)
    pop = pop.at[:, jax.random.randint(k3, (7,), 0, base.size)].set(0.0)  # exact zeros
    first = table[0]
    return pop.at[0, first.offset : first.offset + first.size].set(0.0)


def _reference(model, pop, table, x):
    return jnp.stack(
        [model.apply({"params": unflatten_params(from_vector(v, table))}, x) for v in pop]
    )


@pytest.mark.parametrize("batch_tile", [None, 1, 4])
@pytest.mark.parametrize(
    "features,k,shape",
    [
        ((8, 16), 3, (8, 8, 1)),  # cnn_small on digits
        ((8, 16), 5, (28, 28, 1)),  # the paper CNN
        ((4, 6, 5), 4, (10, 10, 2)),  # even kernel, odd maps dropped by VALID pools, 3 convs
    ],
)
def test_population_forward_random_members_and_tiles(features, k, shape, batch_tile):
    """The fast path equals flax on random members, masks and zeros, for any batch tile."""
    model = PaperCNN(features=features, kernel_size=k)
    variables = model.init(jax.random.key(0), jnp.zeros((1, *shape)))
    theta = {n: np.asarray(v) for n, v in flatten_params(variables["params"]).items()}
    table = layer_table(theta)
    pop = _random_population(theta, table, 5, jax.random.key(1))
    x = jax.random.normal(jax.random.key(2), (8, *shape))
    fast = population_log_probs(from_vector_batched(pop, table), x, k, batch_tile)
    ref = _reference(model, np.asarray(pop), table, x)
    np.testing.assert_allclose(np.asarray(fast), np.asarray(ref), rtol=1e-4, atol=1e-4)


def test_default_batch_tile_divides_batch_and_fits_budget():
    assert default_batch_tile(32, 1024, [(28, 28, 1, 8), (14, 14, 8, 16)], 5) == 1
    tile = default_batch_tile(32, 256, [(8, 8, 1, 8), (4, 4, 8, 16)], 3)
    assert 256 % tile == 0 and 1 < tile < 256
    assert default_batch_tile(32, 7, [(8, 8, 1, 8), (4, 4, 8, 16)], 3) in (1, 7)


def test_an_accelerator_gets_few_large_batch_tiles():
    # the paper CNN's 32-member chunk at batch 1,024: 1,024 tiles of one image on CPU (cache
    # sized), 4 tiles of 256 on a GPU (each tile is a device-loop iteration with launches)
    paper = [(28, 28, 1, 8), (14, 14, 8, 16)]
    assert tile_budget("cpu") == CPU_TILE_FLOATS
    assert tile_budget("gpu") == tile_budget("tpu") == ACCELERATOR_TILE_FLOATS
    assert default_batch_tile(32, 1024, paper, 5, tile_budget("cpu")) == 1
    assert default_batch_tile(32, 1024, paper, 5, tile_budget("gpu")) == 256


def _tile_loop_length(fn) -> int:
    """How many tiles ``fn``'s forward pass loops over (traced afresh: a new function)."""
    jaxpr = jax.make_jaxpr(lambda: fn())()
    (scan,) = [e for e in jaxpr.eqns if e.primitive.name == "scan"]
    return scan.params["length"]


def test_population_forward_takes_its_tile_budget_from_the_backend(monkeypatch):
    theta = init_params("cnn", (28, 28, 1), jax.random.key(0))
    table = layer_table(theta)
    params = from_vector_batched(_random_population(theta, table, 2, jax.random.key(1)), table)
    x = jax.random.normal(jax.random.key(2), (64, 28, 28, 1))
    forward = lambda: population_log_probs(params, x, 5)
    on_cpu = forward()
    assert _tile_loop_length(forward) == 4  # tiles of 16 images: 2 members' cache budget
    monkeypatch.setattr(jax, "default_backend", lambda: "gpu")  # traced as for a GPU
    assert _tile_loop_length(forward) == 1  # the whole batch in one tile
    np.testing.assert_allclose(np.asarray(forward()), np.asarray(on_cpu), rtol=1e-4, atol=1e-4)


def test_modules_are_ordered_by_their_flax_index_not_as_strings():
    """With 11 or more layers a string sort would put Dense_10 before Dense_2 and take the
    wrong layer for the output layer."""
    from evotickets.networks import layer_table, modules

    flat = {f"Dense_{i}/{leaf}": np.zeros(2) for i in (0, 2, 10) for leaf in ("bias", "kernel")}
    assert modules(flat, "Dense_") == ["Dense_0", "Dense_2", "Dense_10"]
    table = layer_table(flat, prune_output_layer=False)
    frozen = [e.name for e in table if e.name.endswith("kernel") and not e.prunable]
    assert frozen == ["Dense_10/kernel"]

"""SNIP and GraSP scores against values computed by hand, on a network small enough to
differentiate on paper, and on a quadratic loss whose gradient and Hessian are closed-form."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from evotickets import pruning
from evotickets.pruning_at_init import draw_examples, loss_gradients


def _tiny_net_loss(theta, x, y):
    """ŷ = w2·tanh(w1·x), L = mean ½(ŷ − y)²: two weights, one hidden unit."""
    w1, w2 = theta[0], theta[1]
    return jnp.mean(0.5 * (w2 * jnp.tanh(w1 * x) - y) ** 2)


def test_tiny_network_gradient_and_hessian_gradient_match_the_hand_derivation():
    w1, w2, x, y = 0.5, -1.5, 2.0, 0.25
    a = np.tanh(w1 * x)  # tanh(1)
    r = w2 * a - y
    da = (1 - a**2) * x  # ∂a/∂w1
    g = np.array([r * w2 * da, r * a])
    h = np.array(
        [
            [(w2 * da) ** 2 + r * w2 * (-2 * a * (1 - a**2) * x**2), da * (w2 * a + r)],
            [da * (w2 * a + r), a**2],
        ]
    )
    got_g, got_hg = loss_gradients(
        _tiny_net_loss, jnp.array([w1, w2]), jnp.array([x]), jnp.array([y]), with_hessian=True
    )
    np.testing.assert_allclose(got_g, g, rtol=1e-5)
    np.testing.assert_allclose(got_hg, h @ g, rtol=1e-5)
    theta = np.array([w1, w2])
    snip = pruning.REGISTRY["snip"].init_score(theta, got_g, None)
    grasp = pruning.REGISTRY["grasp"].init_score(theta, got_g, got_hg)
    np.testing.assert_allclose(snip, np.abs(theta * g), rtol=1e-5)
    np.testing.assert_allclose(grasp, theta * (h @ g), rtol=1e-5)


def test_snip_scores_the_magnitude_of_theta0_times_g():
    """|θ0 ⊙ g| (Lee et al.): a weight whose removal changes the loss most in either direction
    is kept. The hand-derived products above are both positive, so θ0 ⊙ g alone (which prunes
    the largest negative sensitivities first) passed."""
    theta0, g = np.array([1.0, -2.0, 0.5]), np.array([-3.0, -1.0, 4.0])
    score = pruning.REGISTRY["snip"].init_score(theta0, g, None)
    np.testing.assert_array_equal(score, [3.0, 2.0, 2.0])
    ones = np.ones(3, bool)
    assert pruning.prune_to_count(score, ones, ones, 1).mask.tolist() == [True, False, False]


def test_quadratic_loss_gradients_are_the_closed_form_ones():
    rng = np.random.default_rng(0)
    X, y, theta = rng.normal(size=(7, 4)), rng.normal(size=7), rng.normal(size=4)

    def loss(t, xb, yb):
        return jnp.mean(0.5 * (xb @ t - yb) ** 2)

    g, hg = loss_gradients(loss, jnp.asarray(theta), jnp.asarray(X), jnp.asarray(y), True)
    g_true = X.T @ (X @ theta - y) / 7
    np.testing.assert_allclose(g, g_true, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(hg, (X.T @ X / 7) @ g_true, rtol=1e-4, atol=1e-6)
    g_only, none = loss_gradients(loss, jnp.asarray(theta), jnp.asarray(X), jnp.asarray(y), False)
    assert none is None
    np.testing.assert_array_equal(g_only, g)


def test_grasp_direction_is_the_kernels_gradient_alone():
    """ŷ = w·x + b, L = mean ½(ŷ − y)²: H = mean [[x², x], [x, 1]], g = mean [r·x, r]. Over
    the weight alone (Wang et al.: the layers' weights) Hg = H·(g_w, 0), whose weight row is
    mean(x²)·g_w; with the bias's gradient in the direction it would add mean(x)·g_b."""
    x, y = np.array([1.0, 2.0, -0.5]), np.array([0.3, -1.0, 2.0])
    w, b = 0.7, 0.2

    def loss(t, xb, yb):
        return jnp.mean(0.5 * (t[0] * xb + t[1] - yb) ** 2)

    r = w * x + b - y
    g = np.array([np.mean(r * x), np.mean(r)])
    h = np.array([[np.mean(x**2), np.mean(x)], [np.mean(x), 1.0]])
    args = (loss, jnp.array([w, b]), jnp.asarray(x), jnp.asarray(y), True)
    got_g, hg_w = loss_gradients(*args, np.array([True, False]))
    _, hg_all = loss_gradients(*args)
    np.testing.assert_allclose(got_g, g, rtol=1e-5)
    np.testing.assert_allclose(hg_w, h @ np.array([g[0], 0.0]), rtol=1e-5)
    np.testing.assert_allclose(hg_all, h @ g, rtol=1e-5)
    assert abs(hg_w[0] - hg_all[0]) > 0.1  # the bias's term is not negligible here


def test_grasp_scores_theta0_on_the_kernels_gradient_flow():
    """init_scores passes the kernels to loss_gradients: grasp's score is θ0 ⊙ H·(g on the
    kernels), not θ0 ⊙ H·g (snip reads g alone)."""
    from types import SimpleNamespace

    from evotickets.pruning_at_init import init_scores

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 2)), rng.normal(size=40)

    def loss(t, xb, yb):  # ŷ = tanh(x·w + b): the bias couples with the weights in H
        return jnp.mean(0.5 * (jnp.tanh(xb @ t[:2] + t[2]) - yb) ** 2)

    task = SimpleNamespace(train_data=(jnp.asarray(x), jnp.asarray(y)), loss=loss)
    theta0, kernels = np.array([0.8, -0.6, 0.9]), np.array([True, True, False])
    key = jax.random.key(3)
    score = init_scores("grasp", task, theta0, key, 40, kernels)
    xs, ys = draw_examples(key, *task.train_data, 40)
    _, hg_w = loss_gradients(loss, jnp.asarray(theta0), xs, ys, True, kernels)
    _, hg_all = loss_gradients(loss, jnp.asarray(theta0), xs, ys, True)
    np.testing.assert_allclose(score, theta0 * hg_w, rtol=1e-6)
    assert not np.allclose(score[:2], (theta0 * hg_all)[:2], rtol=1e-3)


def test_kernel_vector_marks_every_kernel_and_no_bias():
    from evotickets.networks import init_params, kernel_vector, layer_table, prunable_vector

    flat = init_params("cnn_small", (8, 8, 1), jax.random.key(0))
    table = layer_table(flat, prune_output_layer=False)
    kernels, prunable = kernel_vector(table), prunable_vector(table)
    for e in table:
        part = kernels[e.offset : e.offset + e.size]
        assert part.all() == e.name.endswith("/kernel") and part.any() == part.all()
    # the output layer's kernel is a weight of the gradient flow though not prunable here
    assert not np.any(prunable & ~kernels) and kernels.sum() > prunable.sum()


def test_grasp_keeps_the_weights_whose_removal_reduces_gradient_flow_least():
    """Wang et al. remove the largest −θ⊙Hg: with scores θ⊙Hg = (3, −2, 0.5, −4) and two kept,
    weights 0 and 2 stay (−θ⊙Hg = −3, −0.5 are the smallest)."""
    theta0 = np.array([1.0, 2.0, 0.5, -1.0])
    hg = np.array([3.0, -1.0, 1.0, 4.0])
    score = pruning.REGISTRY["grasp"].init_score(theta0, np.zeros(4), hg)
    np.testing.assert_array_equal(score, [3.0, -2.0, 0.5, -4.0])
    ones = np.ones(4, bool)
    kept = pruning.prune_to_count(score, ones, ones, 2).mask
    np.testing.assert_array_equal(kept, [True, False, True, False])


def test_examples_are_distinct_and_capped_at_the_set():
    x, y = jnp.arange(10.0)[:, None], jnp.arange(10)
    xs, ys = draw_examples(jax.random.key(0), x, y, 4)
    assert xs.shape == (4, 1) and len(set(np.asarray(ys).tolist())) == 4
    np.testing.assert_array_equal(np.asarray(xs)[:, 0], np.asarray(ys))
    assert draw_examples(jax.random.key(0), x, y, 50)[0].shape == (10, 1)
    # drawn at random from the key: another key, other examples (the first n passed)
    picked = [set(np.asarray(draw_examples(jax.random.key(k), x, y, 4)[1]).tolist())
              for k in range(4)]  # fmt: skip
    assert len({frozenset(p) for p in picked}) > 1 and picked[0] != {0, 1, 2, 3}


def test_init_scores_read_the_configured_count_of_examples():
    """The loss that scores θ0 sees exactly `examples` training examples, those the key
    draws (a cap below the configured count passed: the verb test recomputes the score
    with init_scores itself)."""
    from types import SimpleNamespace

    from evotickets.pruning_at_init import init_scores

    x, y = jnp.arange(300.0)[:, None], jnp.arange(300)
    seen = []

    def loss(t, xb, yb):
        seen.append(tuple(yb.shape))  # traced under jit: its shape is what counts
        return jnp.mean((xb[:, 0] * t[0] - 1.0) ** 2)

    task = SimpleNamespace(train_data=(x, y), loss=loss)
    key = jax.random.key(5)
    init_scores("snip", task, np.array([0.3]), key, 200, np.array([True]))
    assert seen and set(seen) == {(200,)}, seen
    drawn = np.asarray(draw_examples(key, x, y, 200)[1])
    assert len(set(drawn.tolist())) == 200


@pytest.mark.parametrize("method", ["snip", "grasp"])
def test_registry_entries_prune_at_initialisation(method):
    spec = pruning.REGISTRY[method]
    assert spec.source == "init_gradient" and method in pruning.INIT_GRADIENT_METHODS
    assert spec.needs_hessian == (method == "grasp") and not spec.needs_sigma

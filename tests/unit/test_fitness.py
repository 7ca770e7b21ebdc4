"""The task's population fitness (the one fitness path the ES runs) equals the per-member flax
loss. With the population split across two host devices it is bitwise the same, which
tests/unit/test_host_devices.py checks over whole rounds."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from evotickets.networks import init_params, layer_table, population_form, to_vector
from evotickets.tasks import make_task, vision


def _fitness(population_chunk: int = 4, network: str = "cnn_small", batch_size: int = 32):
    """Fitness of 8 masked random members on one minibatch, as the ES loop calls it."""
    theta = init_params(network, (8, 8, 1), jax.random.key(0))
    table = layer_table(theta)
    cfg = {"batch_size": batch_size, "population_chunk": population_chunk, "network": network}
    task = make_task("digits", cfg, table)
    base = jnp.asarray(to_vector(theta, table))
    pop = base + 0.2 * jax.random.normal(jax.random.key(1), (8, base.size))
    pop = jnp.where(jax.random.bernoulli(jax.random.key(2), 0.6, pop.shape), pop, 0.0)
    key = jax.random.key(3)
    return (
        task,
        pop,
        key,
        jax.jit(lambda p, k, d: task.population_fitness(p, k, d, task.init_state())[0])(
            pop, key, task.train_data
        ),
    )


@pytest.mark.parametrize(("network", "batch_size"), [("cnn_small", 32), ("cnn", 16)])
def test_population_fitness_equals_flax_loss(network, batch_size):
    """Also the paper CNN (5×5 kernels, MNIST's) through the path cnn_small (3×3) takes, on
    the configured fitness batch: the task's defaults (cnn_small, 1,024) passed every test
    before."""
    task, pop, key, fit = _fitness(network=network, batch_size=batch_size)
    assert task.network == network
    x, y = task.train_data
    idx = jax.random.randint(key, (batch_size,), 0, x.shape[0])
    ref = jnp.stack([task.loss(v, x[idx], y[idx]) for v in pop])
    np.testing.assert_allclose(np.asarray(fit), np.asarray(ref), rtol=1e-5, atol=1e-5)


def test_the_task_trains_on_the_training_split_and_scores_on_the_test_split():
    """What evaluate reads as ``test_data`` is the dataset's test split (the training split
    there would report training accuracy as test accuracy; every test read both through the
    task)."""
    task, _, _, _ = _fitness()
    ds = task.dataset
    for (x, y), (want_x, want_y) in (
        (task.train_data, (ds.x_train, ds.y_train)),
        (task.test_data, (ds.x_test, ds.y_test)),
    ):
        np.testing.assert_array_equal(np.asarray(x), want_x)
        np.testing.assert_array_equal(np.asarray(y), want_y)
    assert len(ds.y_train) == 1437 and len(ds.y_test) == 360


def test_both_population_forms_give_the_same_losses(monkeypatch):
    """A GPU runs the vmapped flax module, a CPU the batched form (networks.population_form):
    the fitness a chain sees must not depend on which, beyond float tolerance."""
    assert population_form("cpu") == "batched"
    assert population_form("gpu") == population_form("cuda") == "vmapped"
    task, pop, key, fit = _fitness()
    x, _ = task.train_data
    xb = x[:16]
    batched = task.chunk_log_probs(pop, xb, "batched")
    vmapped = task.chunk_log_probs(pop, xb, "vmapped")
    assert batched.shape == vmapped.shape == (8, 16, 10)
    np.testing.assert_allclose(np.asarray(batched), np.asarray(vmapped), rtol=1e-5, atol=1e-5)
    # the whole fitness path with the GPU's choice, traced on this CPU
    monkeypatch.setattr(vision, "population_form", lambda backend: "vmapped")
    gpu_like = jax.jit(lambda p, k, d: task.population_fitness(p, k, d, task.init_state())[0])
    np.testing.assert_allclose(
        np.asarray(gpu_like(pop, key, task.train_data)), np.asarray(fit), rtol=1e-5, atol=1e-5
    )
    with pytest.raises(ValueError, match="unknown population form 'grouped'"):
        task.chunk_log_probs(pop, xb, "grouped")


def test_the_test_accuracy_is_the_share_of_test_images_classified_right():
    """evaluate pads the test set to whole batches: the padding must count as neither right
    nor wrong. Against numpy's argmax of the network's log-probabilities on the digits test
    set (360 images in one batch of 1,000: 640 padded), for a network that predicts class 0
    often (a padding labelled 0 inflated its accuracy, possibly above 1, and passed)."""
    task, pop, _, _ = _fitness()
    x, y = task.test_data
    assert x.shape[0] % task.eval_batch != 0  # padded
    for member in pop[:3]:
        pred = np.argmax(np.asarray(task.log_probs(member, x)), axis=-1)
        expected = np.mean(pred == np.asarray(y))
        assert float(task.evaluate(member, task.test_data, task.init_state())) == pytest.approx(
            expected, abs=1e-6
        )
    blank = jnp.zeros_like(pop[0]).at[-10].set(5.0)  # an output bias that always says 0
    pred = np.argmax(np.asarray(task.log_probs(blank, x)), axis=-1)
    assert np.all(pred == 0)
    assert float(task.evaluate(blank, task.test_data, task.init_state())) == pytest.approx(
        np.mean(np.asarray(y) == 0), abs=1e-6
    )

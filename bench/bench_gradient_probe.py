"""Bench 12: how well `dynamic_gradient`'s regrowth probe ranks the weights it may regrow.

`dynamic_gradient` (RigL-like dynamic sparse ES) regrows the inactive weights whose
search-gradient estimate |ĝ| is largest, from one extra antithetic population of
``population_size / 2`` pairs (``dynamic_sparse.search_gradient_magnitude``, the library's
function). RigL ranks by the exact gradient. This bench measures, in config/extensions.yaml's
digits setting (the small CNN, minibatch 128, probe σ 0.05, 32 pairs at population 64), how
the probe's ranking of the inactive prunable weights agrees with the exact |∂L/∂θ| of the mean
cross-entropy over the whole training set at the same network:

- Spearman ρ between |ĝ| and |∂L/∂θ| over the inactive prunable weights;
- top-k overlap: the share of the probe's k highest that are among the exact k highest, with
  k the weights one regrowth regrows (``fraction`` 0.2 of the active prunable weights), against
  chance, k / inactive (what a random regrowth scores).

At two networks a regrowth sees: the round's start (m ⊙ θ0) and the search mean after
``BENCH_GENERATIONS`` (default 150) generations of Sep-CMA-ES on the mask, with the probe at
its 32 pairs and at more (``BENCH_PAIRS``), each over ``BENCH_KEYS`` probe keys (mean, min,
max). A property of the estimator at this budget, not a timing.
"""

from __future__ import annotations

import os

from common import QUICK, report

#: config/extensions.yaml's digits setting
POPULATION, STD_PROBE, FRACTION, BATCH = 64, 0.05, 0.2, 128
#: round 4 of prune_fraction 0.2: the random mask keeps 0.8⁴ ≈ 41 % of the prunable weights
REMAINING = 0.8**4


def measure() -> list[dict]:
    import jax
    import jax.numpy as jnp
    import numpy as np
    from scipy.stats import spearmanr

    from evotickets import pruning
    from evotickets.dynamic_sparse import search_gradient_magnitude
    from evotickets.networks import init_params, layer_table, prunable_vector, to_vector
    from evotickets.strategies import make_strategy
    from evotickets.tasks import make_task
    from evotickets.train.es import make_chunk_runner, start_state

    theta = init_params("cnn_small", (8, 8, 1), jax.random.key(0))
    table = layer_table(theta)
    task = make_task("digits", {"batch_size": BATCH, "population_chunk": 64}, table)
    theta0 = to_vector(theta, table)
    prunable = prunable_vector(table)
    keep = round(REMAINING * prunable.sum())
    perm = np.asarray(jax.random.permutation(jax.random.key(7), int(prunable.sum())))
    mask = pruning.random_mask(prunable, keep, perm).mask
    inactive = ~mask & prunable
    k = round(FRACTION * int((mask & prunable).sum()))
    x_all, y_all = task.train_data
    exact_grad = jax.jit(jax.grad(task.loss))

    generations = int(os.environ.get("BENCH_GENERATIONS", "20" if QUICK else "150"))
    strategy = make_strategy(
        "sep_cma_es",
        int(mask.sum()),
        {"population_size": POPULATION, "std_init": 0.05, "elite_ratio": 0.5, "mean_decay": 1e-4},
    )
    idx = jnp.asarray(np.flatnonzero(mask), jnp.int32)
    round_k = jax.random.key(11)
    state = start_state(task, strategy, round_k, jnp.asarray(theta0[mask]))
    runner = make_chunk_runner(task, strategy, mask.size)
    (trained, _), _ = runner(state, round_k, idx, task.train_data, 0, n=generations)
    after = np.zeros(mask.size, np.float32)
    after[mask] = np.asarray(trained.mean)
    networks = {"start (m ⊙ θ0)": theta0 * mask, f"after {generations} generations": after}

    pairs_list = [POPULATION // 2] + [
        int(p) for p in os.environ.get("BENCH_PAIRS", "256,2048").split(",") if p
    ]
    n_keys = int(os.environ.get("BENCH_KEYS", "2" if QUICK else "5"))
    rows = []
    for where, net in networks.items():
        exact = np.abs(np.asarray(exact_grad(jnp.asarray(net), x_all, y_all)))[inactive]
        top_exact = set(np.argsort(-exact, kind="stable")[:k])
        for pairs in pairs_list:
            rho, overlap = [], []
            for s in range(n_keys):
                score, _ = search_gradient_magnitude(
                    task,
                    jnp.asarray(net),
                    jnp.asarray(inactive, jnp.float32),
                    jax.random.key(100 + s),
                    {},
                    pairs,
                    STD_PROBE,
                )
                probe = np.asarray(score)[inactive]
                rho.append(float(spearmanr(probe, exact).statistic))
                top = set(np.argsort(-probe, kind="stable")[:k])
                overlap.append(len(top & top_exact) / k)
            rows.append(
                {
                    "network": where,
                    "pairs": pairs,
                    "spearman": f"{np.mean(rho):+.3f} [{min(rho):+.3f}, {max(rho):+.3f}]",
                    "top-k overlap": f"{np.mean(overlap):.3f} "
                    f"[{min(overlap):.3f}, {max(overlap):.3f}]",
                    "chance": round(k / int(inactive.sum()), 3),
                    "k / inactive": f"{k} / {int(inactive.sum())}",
                    "keys": n_keys,
                }
            )
    return rows


if __name__ == "__main__":
    report(
        "gradient_probe",
        "dynamic_gradient's probe |ĝ| against the exact |∂L/∂θ| on the inactive weights "
        "(config/extensions.yaml's digits setting)",
        measure(),
        ["network", "pairs", "spearman", "top-k overlap", "chance", "k / inactive", "keys"],
    )

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
  chance, k / inactive (what a random regrowth scores);
- gradient mass: the exact |∂L/∂θ| summed over the probe's k highest, divided by what k
  weights drawn at random carry on average (k · the mean over the inactive weights): 1 is a
  random regrowth's. This is what a regrowth
  gains from its ranking, and where a ranking near chance as a whole (ρ ≈ 0) may still find
  the few weights with the largest gradient, whose per-weight signal grows as √pairs · |g_j|.

A probe's excess over chance (overlap k / inactive, mass 1) is given as a 95 % t interval over
the keys; the "random" rows score a random regrowth's uniform draw with the same keys, as a
check that the measures sit at chance for a ranking that has no information.

At two masks (random masks keeping 41 %, round 4's count, and 21 %,
round 7's, where dynamic_gradient's edge over dynamic_random was measured) and two networks
each: the round's start (m ⊙ θ0) and the search mean after ``BENCH_GENERATIONS`` (default
150) generations of Sep-CMA-ES on the mask, with the probe at its 32 pairs and at more
(``BENCH_PAIRS``), each over ``BENCH_KEYS`` (default 20) probe keys. A dynamic chain's mask at
21 % is the random mask regrown, not a fresh random one; the bench measures the estimator on
masks of that count. A property of the estimator at this budget, not a timing.
"""

from __future__ import annotations

import os

import numpy as np
from common import QUICK, report
from scipy import stats

#: config/extensions.yaml's digits setting
POPULATION, STD_PROBE, FRACTION, BATCH = 64, 0.05, 0.2, 128
#: rounds 4 and 7 of prune_fraction 0.2: random masks keeping 0.8⁴ ≈ 41 % and 0.8⁷ ≈ 21 %
REMAINING = {"41 %": 0.8**4, "21 %": 0.8**7}


def excess(values: list[float], chance: float) -> str:
    """Mean of ``values`` − ``chance`` with its 95 % t interval over the keys (the claims
    stage's :func:`evotickets.analysis.claims.paired_effect`)."""
    from evotickets.analysis.claims import paired_effect

    effect = paired_effect(np.asarray(values) - chance)
    if effect.n < 2:
        return f"{effect.mean:+.3f}"
    return f"{effect.mean:+.3f} [{effect.lo:+.3f}, {effect.hi:+.3f}]"


def ranking_quality(score: np.ndarray, exact: np.ndarray, k: int) -> tuple[float, float, float]:
    """(Spearman ρ, top-k overlap, gradient mass of the top k over a random k's) of ``score``
    against the exact |gradient| ``exact``, both over the same weights."""
    top = np.argsort(-score, kind="stable")[:k]
    top_exact = np.argsort(-exact, kind="stable")[:k]
    overlap = np.intersect1d(top, top_exact).size / k
    mass = float(exact[top].sum() / (k * exact.mean()))
    return float(stats.spearmanr(score, exact).statistic), overlap, mass


def measure() -> list[dict]:
    import jax
    import jax.numpy as jnp

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
    x_all, y_all = task.train_data
    exact_grad = jax.jit(jax.grad(task.loss))
    perm = np.asarray(jax.random.permutation(jax.random.key(7), int(prunable.sum())))
    generations = int(os.environ.get("BENCH_GENERATIONS", "20" if QUICK else "150"))
    pairs_list = [POPULATION // 2] + [
        int(p) for p in os.environ.get("BENCH_PAIRS", "256,2048").split(",") if p
    ]
    n_keys = int(os.environ.get("BENCH_KEYS", "2" if QUICK else "20"))
    rows = []
    for level, remaining in REMAINING.items():
        mask = pruning.random_mask(prunable, round(remaining * prunable.sum()), perm).mask
        inactive = ~mask & prunable
        k = round(FRACTION * int((mask & prunable).sum()))
        strategy = make_strategy(
            "sep_cma_es",
            int(mask.sum()),
            {
                "population_size": POPULATION,
                "std_init": 0.05,
                "elite_ratio": 0.5,
                "mean_decay": 1e-4,
            },
        )
        idx = jnp.asarray(np.flatnonzero(mask), jnp.int32)
        round_k = jax.random.key(11)
        state = start_state(task, strategy, round_k, jnp.asarray(theta0[mask]))
        runner = make_chunk_runner(task, strategy, mask.size)
        (trained, _), _ = runner(state, round_k, idx, task.train_data, 0, n=generations)
        after = np.zeros(mask.size, np.float32)
        after[mask] = np.asarray(trained.mean)
        networks = {"start (m ⊙ θ0)": theta0 * mask, f"after {generations} generations": after}
        for where, net in networks.items():
            exact = np.abs(np.asarray(exact_grad(jnp.asarray(net), x_all, y_all)))[inactive]
            keys = [jax.random.key(100 + s) for s in range(n_keys)]
            chance = [
                ranking_quality(np.asarray(jax.random.uniform(key, exact.shape)), exact, k)
                for key in keys
            ]
            common = {
                "remaining": level,
                "network": where,
                "k / inactive": f"{k} / {int(inactive.sum())}",
            }
            expected = (k / int(inactive.sum()), 1.0)
            rows.append(common | summarise("random", chance, expected, n_keys))
            for pairs in pairs_list:
                probes = []
                for key in keys:
                    score, _ = search_gradient_magnitude(
                        task,
                        jnp.asarray(net),
                        jnp.asarray(inactive, jnp.float32),
                        key,
                        {},
                        pairs,
                        STD_PROBE,
                    )
                    probes.append(ranking_quality(np.asarray(score)[inactive], exact, k))
                rows.append(common | summarise(pairs, probes, expected, n_keys))
    return rows


def summarise(pairs, probes: list[tuple], expected: tuple[float, float], n_keys: int) -> dict:
    """One table row: each measure's mean over the keys and its excess over what a random
    regrowth scores in expectation (``expected``: overlap, mass)."""
    rho, overlap, mass = (list(col) for col in zip(*probes, strict=True))
    return {
        "pairs": pairs,
        "spearman": f"{np.mean(rho):+.3f}",
        "top-k overlap": f"{np.mean(overlap):.3f}",
        "overlap − chance": excess(overlap, expected[0]),
        "gradient mass": f"{np.mean(mass):.2f}",
        "mass − chance": excess(mass, expected[1]),
        "keys": n_keys,
    }


if __name__ == "__main__":
    report(
        "gradient_probe",
        "dynamic_gradient's probe |ĝ| against the exact |∂L/∂θ| on the inactive weights "
        "(config/extensions.yaml's digits setting)",
        measure(),
        [
            "remaining",
            "network",
            "pairs",
            "spearman",
            "top-k overlap",
            "overlap − chance",
            "gradient mass",
            "mass − chance",
            "k / inactive",
            "keys",
        ],
    )

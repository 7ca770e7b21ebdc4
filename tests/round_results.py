"""One comparison of two ES round results, for the tests that hold a round bitwise equal to
another way of running it (a resumed round, a chain in a lockstep group)."""

from __future__ import annotations

import numpy as np

#: Every per-round array a RoundResult carries into trained.h5.
ROUND_FIELDS = ("theta", "sigma", "best_fitness", "mean_fitness", "nonfinite_count",
                "eval_generation", "eval_metric")  # fmt: skip


def assert_same_round(a, b) -> None:
    """``a`` and ``b`` equal bitwise: each array of :data:`ROUND_FIELDS` in dtype, shape and
    value, and the final metric."""
    for field in ROUND_FIELDS:
        x, y = getattr(a, field), getattr(b, field)
        assert x.dtype == y.dtype and x.shape == y.shape, field
        np.testing.assert_array_equal(x, y, err_msg=field)
    assert a.final_metric == b.final_metric

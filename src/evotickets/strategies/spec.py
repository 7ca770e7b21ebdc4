"""What one evolution strategy is to this tool: its config keys, whether it samples antithetic
pairs, how to build it from the config, and how to read its per-weight search std σ (the SNR
score's denominator). Each strategy module defines one :class:`StrategySpec` named ``SPEC``.

The spec modules import JAX and evosax inside their functions only, so the registry (and
:mod:`evotickets.names`, which lists its names) loads without them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple


class Built(NamedTuple):
    """An evosax algorithm with its params, and the σ decay applied after each tell."""

    algorithm: Any
    params: Any
    std_decay: float = 1.0
    std_limit: float = 0.0


@dataclass(frozen=True)
class StrategySpec:
    name: str
    #: config keys the strategy takes besides population_size, std_init and mean_decay
    keys: frozenset[str]
    #: samples antithetic pairs (its population must be even)
    antithetic: bool
    #: (population_size, num_dims, hparams) → Built
    build: Callable[[int, int, dict[str, Any]], Built]
    #: (evosax state, num_dims) → the per-weight std of the search distribution; None for a
    #: strategy without one (SNR and the other σ methods are then undefined and skipped)
    sigma: Callable[[Any, int], Any] | None
    #: (population_size, num_dims) → bytes that its state and one generation need, for a
    #: strategy whose memory grows with D² (a D×D covariance, attention across the weights);
    #: ``make_strategy`` refuses a build above ``MEMORY_LIMIT``. None: O(P·D), never refused.
    memory: Callable[[int, int], float] | None = None
    #: the most searched weights it is built for, where time (CMA-ES's O(D³)
    #: eigendecomposition every generation) rather than memory is the limit; None: any
    max_dims: int | None = None
    #: whether its ask and tell give a chain the same bits alone and vmapped beside other
    #: chains (bench 9). A vmapped group trains a strategy without it one chain at a time in
    #: the one-chain program, so that its chains keep their one-chain numbers, and masks.
    batch_invariant: bool = True
    #: keys every chain's settings (``settings.ChainSettings``) fill in where the config gives
    #: none, so that its digest names the choice: a setting that once had another value here
    #: (results made with it are then not resumed under the new one), e.g. SNES's
    #: ``temperature_weights``
    digest_defaults: tuple[tuple[str, Any], ...] = ()
    #: (hparams) → what is wrong with a combination of its keys that each pass on their own
    #: (ARS's ``adam_beta1`` without ``optimizer: adam``), or None: read by the config's
    #: validation and by ``make_strategy``, so a bad config fails before any job runs
    check: Callable[[dict[str, Any]], str | None] | None = None

    def memory_need(self, pop: int, num_dims: int) -> float:
        """Bytes one chain's state and generation need where they grow with D²; 0 otherwise
        (what ``MEMORY_LIMIT`` is held against, by ``make_strategy`` for one chain and by a
        vmapped group for its width of chains)."""
        return self.memory(pop, num_dims) if self.memory else 0.0

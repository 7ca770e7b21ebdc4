"""Pruning scores, the global threshold and the exact-count rule (pure numpy).

Rounding and ties, defined once:
- After round t (i.e. for the mask of round t+1) exactly ``round_half_up(N·(1−p)^(t+1))``
  prunable weights remain, N being the number of prunable weights. Counting from the
  *original* N (not compounding rounded counts) keeps every round's sparsity exact.
- The kept weights are the ``k`` highest-scoring among the currently active prunable weights.
  Equal scores are broken by flat position: the earlier weight is kept. The reported global
  ``threshold`` is the score of the last weight kept, so every kept weight scores ≥ threshold
  and every pruned one ≤ threshold.
- Scores are computed only over active weights, so masks nest; ``random`` instead draws a fresh
  uniform mask of the same count among all prunable weights (the sparsity-matched baseline).
- ``weight_permuted`` and ``mask_permuted`` are the permutation controls, built from the same
  round's magnitude mask in :mod:`evotickets.permutations`.
- ``snip`` and ``grasp`` prune at initialisation: one score of θ0 from the training loss's
  gradient (and Hessian-gradient product), computed in :mod:`evotickets.pruning_at_init`;
  each round keeps its count of the best-scoring prunable weights of that one score, so
  their masks nest too, without any training in between.
- A kept weight whose value is exactly 0 is still kept: masks are booleans, never θ ≠ 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

#: How a dynamic sparse method chooses the weights it regrows (``PruningMethod.regrow``).
REGROWTHS = ("random", "gradient")


#: What a method's mask of round t is made from (:attr:`PruningMethod.source`).
SOURCES = ("previous", "key", "magnitude_mask", "init_gradient")


@dataclass(frozen=True)
class PruningMethod:
    """One pruning method: what its mask of round t is made from, and its score.

    ``source``:
    - ``previous``: the chain's own round t−1 (``trained.h5``); the kept weights are the best
      ``score`` among the active ones, so masks nest;
    - ``key``: a fresh uniform draw from the round's key (``random``, the sparsity-matched
      baseline; masks do not nest);
    - ``magnitude_mask``: the same round's magnitude mask, permuted (the controls of
      :mod:`evotickets.permutations`);
    - ``init_gradient``: θ0 scored from the training loss at θ0 (``init_score``), the same
      score for every round (pruning at initialisation).
    """

    name: str
    source: str
    #: (θ, σ, θ0) → score per weight (larger keeps), for ``source == "previous"``
    score: Callable[[np.ndarray, np.ndarray | None, np.ndarray | None], np.ndarray] | None = None
    #: reads σ, the search distribution's per-weight std (undefined for gradient descent)
    needs_sigma: bool = False
    #: reads θ0 (the Fig. 9 heuristics)
    needs_theta0: bool = False
    #: runs only for these strategies (an SNR definition that equals ``snr`` elsewhere)
    only_strategies: tuple[str, ...] | None = None
    #: (θ0, g, Hg) → score per weight, for ``source == "init_gradient"``: g the gradient of the
    #: training loss at θ0, Hg its Hessian-gradient product (None unless ``needs_hessian``)
    init_score: Callable[[np.ndarray, np.ndarray, np.ndarray | None], np.ndarray] | None = None
    needs_hessian: bool = False
    #: the config block holding the method's own settings (its ``method_config``)
    config_block: str | None = None
    #: keys of that block the method does not read, left out of its ``method_config`` so
    #: that setting them does not change its chains' digests (dynamic_random never probes)
    unread_settings: tuple[str, ...] = ()
    #: fixed (name, value) facts of how the method is computed, set where its definition
    #: changed after results existed: they join its chains' ``method_config``, so results of
    #: the earlier definition have another digest, rerun in the workflow and are refused by
    #: the reports, instead of mixing with the new ones
    definition: tuple[tuple[str, str], ...] = ()
    #: how a dynamic sparse ES chain (:mod:`evotickets.dynamic_sparse`) chooses the inactive
    #: weights it regrows: ``random`` (SET) or ``gradient`` (RigL, with the ES's search
    #: gradient); None for every method whose mask stays fixed through a round
    regrow: str | None = None

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"{self.name}: source {self.source!r} is not one of {SOURCES}")
        if self.regrow not in (None, *REGROWTHS):
            raise ValueError(f"{self.name}: regrow {self.regrow!r} is not one of {REGROWTHS}")

    @property
    def reads_previous_round(self) -> bool:
        """Whether round t's mask ranks the chain's own round t−1 (its trained.h5)."""
        return self.source == "previous"

    @property
    def permutes_magnitude_mask(self) -> bool:
        """Whether round t's mask is the same round's magnitude mask, permuted (its
        mask.h5): the permutation controls."""
        return self.source == "magnitude_mask"

    @property
    def permutes_theta0(self) -> bool:
        """Whether its tickets start from permuted weights, not θ0, so that even its dense
        round 0 is its own: both permutation controls (since mask_permuted's θ0 moves with
        its mask, :mod:`evotickets.permutations`)."""
        return self.permutes_magnitude_mask

    @property
    def has_settings(self) -> bool:
        """Whether its chains carry settings of their own (a ``method_config``: its config
        block, its ``definition``), which enter their digests."""
        return self.config_block is not None or bool(self.definition)


def _snr(power: float):
    def score(theta, sigma, theta0):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            denominator = sigma**power
            snr = np.abs(theta) / denominator
            # a finite SNR beyond float32's range (σ below ≈ 1e-19 for snr_study): ranked
            # in float64, not scored inf (refused as a diverged round); likewise where σ^power
            # underflows to 0 (σ below ≈ 4e-23 for snr_study), whose θ = 0 gave 0/0 = NaN
            tiny = (sigma > 0) & (denominator == 0)
            wide = (np.isinf(snr) | tiny) & np.isfinite(theta) & np.isfinite(sigma) & (sigma > 0)
            if wide.any():
                big = np.abs(np.asarray(theta, np.float64)) / np.asarray(sigma, np.float64) ** power
                snr = np.where(wide, big, snr)
        # σ is 0 where a weight is pruned (it is not searched): score 0 there. An active
        # weight whose σ collapsed to 0 (underflow) while θ ≠ 0 has an infinite SNR: it
        # ranks above every finite score (the dtype's largest number, as prune_to_count
        # refuses inf), not at 0, where it was pruned first. A NaN, infinite or negative σ
        # (a corrupt artifact) scores NaN, which prune_to_count refuses, instead of a number
        # that would silently rank that weight.
        ok = (sigma > 0) & np.isfinite(sigma)
        snr = np.where(ok, snr, np.nan)
        certain = (sigma == 0) & (theta != 0) & np.isfinite(theta)
        snr = np.where(certain, np.finfo(snr.dtype).max, snr)
        # ... and a non-finite θ stays NaN whatever σ is (a diverged artifact, refused)
        return np.where((sigma == 0) & ~certain & np.isfinite(theta), 0.0, snr)

    return score


#: Every pruning method by name (the config's ``methods``). Adding one is one entry here.
#: Scores: ``magnitude`` |θ|; ``snr`` |θ|/σ; ``snr_study`` |θ|/σ², the study's Sep-CMA-ES
#: score |θ|/C (σ = std·√C with one scalar std, so |θ|/C = std²·|θ|/σ² ranks exactly like
#: |θ|/σ², weighing the per-weight spread twice as strongly as ``snr``); the Fig. 9
#: heuristics ``movement`` |θ − θ0| (how far the search moved it), ``magnitude_increase``
#: |θ| − |θ0| and ``init_magnitude`` |θ0| (prune the smallest initial weights). At θ0 with
#: the loss's gradient g: ``snip`` |θ0 ⊙ g| (Lee et al. 2019, connection sensitivity);
#: ``grasp`` θ0 ⊙ Hg (Wang et al. 2020 remove the weights with the largest −θ0 ⊙ Hg, those
#: whose removal least reduces the gradient flow gᵀg, so the largest θ0 ⊙ Hg are kept).
REGISTRY: dict[str, PruningMethod] = {
    m.name: m
    for m in (
        PruningMethod("random", "key"),
        PruningMethod("magnitude", "previous", lambda theta, sigma, theta0: np.abs(theta)),
        PruningMethod("snr", "previous", _snr(1.0), needs_sigma=True),
        PruningMethod(
            "snr_study", "previous", _snr(2.0), needs_sigma=True, only_strategies=("sep_cma_es",)
        ),
        PruningMethod("weight_permuted", "magnitude_mask"),
        # θ0 moves with the shuffled mask since 2026-12-05 (evotickets.permutations: why);
        # the definition gives its chains a new digest, so tickets made with θ0 in place
        # are rerun, not mixed in
        PruningMethod(
            "mask_permuted", "magnitude_mask", definition=(("theta0", "moves_with_the_mask"),)
        ),
        PruningMethod(
            "movement",
            "previous",
            lambda theta, sigma, theta0: np.abs(theta - theta0),
            needs_theta0=True,
        ),
        PruningMethod(
            "magnitude_increase",
            "previous",
            lambda theta, sigma, theta0: np.abs(theta) - np.abs(theta0),
            needs_theta0=True,
        ),
        PruningMethod(
            "init_magnitude",
            "previous",
            lambda theta, sigma, theta0: np.abs(theta0),
            needs_theta0=True,
        ),
        PruningMethod(
            "snip",
            "init_gradient",
            init_score=lambda theta0, g, hg: np.abs(theta0 * g),
            config_block="pruning_at_init",
        ),
        PruningMethod(
            "grasp",
            "init_gradient",
            init_score=lambda theta0, g, hg: theta0 * hg,
            needs_hessian=True,
            config_block="pruning_at_init",
            # Hg = H·g over the kernels only (pruning_at_init.loss_gradients); before, the
            # biases' gradient entered both factors
            definition=(("hessian_vector", "kernel_gradient"),),
        ),
        # Dynamic sparse ES (evotickets.dynamic_sparse): a round starts from the random
        # baseline's mask of its count and drops the lowest-SNR weights while it evolves.
        PruningMethod(
            "dynamic_random",
            "key",
            needs_sigma=True,
            config_block="dynamic_sparse",
            unread_settings=("probe_pairs",),
            regrow="random",
        ),
        PruningMethod(
            "dynamic_gradient",
            "key",
            needs_sigma=True,
            config_block="dynamic_sparse",
            regrow="gradient",
        ),
    )
}
METHODS = tuple(REGISTRY)
# Other pruning heuristics (paper Fig. 9), scored from the trained weights and θ0.
HEURISTIC_METHODS = tuple(n for n, m in REGISTRY.items() if m.needs_theta0)
# Methods whose score needs σ: undefined for gradient descent.
SIGMA_METHODS = tuple(n for n, m in REGISTRY.items() if m.needs_sigma)


def snr_score_of(method: str) -> str:
    """The SNR score a chain of ``method`` is analysed with (the ``snr_magnitude``
    analysis): its own where it ranks by one (``snr``, ``snr_study``: as the study scored
    them), else ``snr`` (dynamic sparse ES, which needs σ but has no score of its own, drops
    the lowest ``snr``)."""
    spec = REGISTRY.get(method)
    return method if spec and spec.needs_sigma and spec.score is not None else "snr"


# SNR definitions that differ from ``snr`` only for some strategies; the others skip them.
SNR_VARIANT_STRATEGIES = {n: m.only_strategies for n, m in REGISTRY.items() if m.only_strategies}
# Pruning at initialisation: a score of θ0 from the training loss's gradient (vision tasks).
INIT_GRADIENT_METHODS = tuple(n for n, m in REGISTRY.items() if m.source == "init_gradient")
# Dynamic sparse training: the mask changes during the round.
DYNAMIC_METHODS = tuple(n for n, m in REGISTRY.items() if m.regrow is not None)
# Permutation controls: derived from the magnitude mask of the same round.
PERMUTATION_METHODS = tuple(n for n, m in REGISTRY.items() if m.permutes_magnitude_mask)
# The method whose mask of each round the permutation controls shuffle: their chains read
# its chain's mask.h5, so a config running a control must run it too.
PERMUTED_METHOD = "magnitude"


def round_half_up(x: float | Fraction) -> int:
    """Round to nearest, halves up (Python's round() rounds halves to even)."""
    return math.floor(x + Fraction(1, 2))


def exact_fraction(x: float) -> Fraction:
    """The decimal a config wrote (0.3), exactly: in binary floating point 1 − 0.3 is
    0.69999…, so 45·(1 − 0.3) = 31.4999… and a true half (31.5) would round down."""
    return Fraction(repr(float(x)))


def nominal_remaining(prune_fraction: float, round_index):
    """(1 − p)^t: the fraction of prunable weights round t keeps before rounding to whole
    weights (:func:`remaining_count`), as summary.nc's coordinates and check-config say it;
    ``round_index`` an int or an array of them."""
    return (1 - prune_fraction) ** round_index


def remaining_count(num_prunable: int, prune_fraction: float, round_index: int) -> int:
    """Prunable weights left *in* round ``round_index`` (round 0 is dense), computed
    exactly (:func:`exact_fraction`)."""
    if not 0.0 < prune_fraction < 1.0:
        raise ValueError(f"prune_fraction must lie in (0, 1), got {prune_fraction}")
    return round_half_up(num_prunable * (1 - exact_fraction(prune_fraction)) ** round_index)


def emptied_layer_probability(layer_sizes: Sequence[int], keep: int) -> float:
    """The probability that a uniform random choice of ``keep`` of the weights of layers
    ``layer_sizes`` (a global random mask: the ``random`` baseline, and the mask dynamic
    sparse ES starts from) leaves at least one layer with none.

    Why: these networks are feed-forward, so a network with an emptied layer gives the same
    output for every input; a random baseline that loses a layer measures that collapse,
    not the lack of a ticket. Inclusion–exclusion over the layers, each term the
    hypergeometric probability that ``keep`` draws miss a set of layers
    (``scipy.stats.hypergeom``): exact, and the networks here have 2–4 prunable layers."""
    from itertools import combinations

    from scipy.stats import hypergeom

    sizes = [int(s) for s in layer_sizes if int(s) > 0]
    total, keep = sum(sizes), int(keep)
    p = 0.0
    for r in range(1, len(sizes) + 1):
        for subset in combinations(sizes, r):
            if total - sum(subset) >= keep:  # else no mask of keep weights misses them all
                p += (-1) ** (r + 1) * float(hypergeom.pmf(0, total, sum(subset), keep))
    return min(1.0, max(0.0, p))


def rounds_keeping_weights(num_prunable: int, prune_fraction: float, rounds: int) -> int:
    """How many of rounds 0 … ``rounds`` − 1 keep at least one prunable weight. The counts
    never grow from a round to the next, so the rounds that keep some come first; a binary
    search asks :func:`remaining_count` a few times (its exact powers grow long at late
    rounds)."""
    if num_prunable < 1:
        return 0
    lo, hi = 1, rounds  # round 0 is dense; rounds < lo keep a weight, rounds ≥ hi are unknown
    while lo < hi:
        mid = (lo + hi) // 2
        if remaining_count(num_prunable, prune_fraction, mid) >= 1:
            lo = mid + 1
        else:
            hi = mid
    return min(lo, rounds)


def round_one_prunes(num_prunable: int, prune_fraction: float) -> bool:
    """Whether round 1 prunes a weight of ``num_prunable`` (none to prune: trivially yes).
    A fraction of under half a weight rounds to none, and every method's round 1 is then
    round 0's dense mask."""
    return num_prunable < 1 or remaining_count(num_prunable, prune_fraction, 1) < num_prunable


def check_keeps_weights(num_prunable: int, prune_fraction: float, rounds: int, what: str) -> None:
    """Refuse ``rounds`` rounds of a network with ``num_prunable`` prunable weights (``what``
    names it) when a late round would keep none of them, or round 1 would prune none. Why:
    a round that keeps none trains the biases alone and every method's mask is the same
    there; so is the dense mask of a round 1 that prunes none. The methods' comparison at
    that level would read 0 by construction, not as a finding."""
    if rounds > 1 and not round_one_prunes(num_prunable, prune_fraction):
        raise ValueError(
            f"{what}: round 1 would keep all {num_prunable} prunable weights ({prune_fraction} "
            f"of them is {num_prunable * prune_fraction:.3g} weights, at most half a weight, "
            "and a round keeps its count rounded to whole weights: none is pruned), so every "
            "method's round 1 would train round 0's dense mask and their comparison there "
            f"reads 0 by construction; set prune_fraction above 1/(2·{num_prunable}) = "
            f"{1 / (2 * num_prunable):.6g}"
        )
    keeping = rounds_keeping_weights(num_prunable, prune_fraction, rounds)
    if num_prunable and keeping < rounds:
        raise ValueError(
            f"{what}: round {keeping} would keep 0 of its {num_prunable} prunable weights "
            f"(each round keeps {1 - exact_fraction(prune_fraction)} of the last, rounded to "
            f"whole weights), so it would train the biases alone; set rounds to at most "
            f"{keeping} (or lower prune_fraction)"
        )


def kept_attrs(kept: int, num_prunable: int) -> dict[str, int | float]:
    """What a round's mask.h5 and trained.h5 record of its sparsity, in one place: the
    prunable weights it keeps, of how many, and their fraction (the whole weights kept, not
    the nominal (1 − p)^t)."""
    return {
        "kept_prunable": int(kept),
        "num_prunable": int(num_prunable),
        "remaining_fraction": int(kept) / int(num_prunable),
    }


def scores(
    method: str,
    theta: np.ndarray,
    sigma: np.ndarray | None = None,
    theta0: np.ndarray | None = None,
) -> np.ndarray:
    """Score each weight with ``method``'s score (see :data:`REGISTRY`): larger means keep."""
    spec = REGISTRY.get(method)
    if spec is None or spec.score is None:
        scored = [n for n, m in REGISTRY.items() if m.score is not None]
        raise ValueError(f"no score for method {method!r}; scored methods are {', '.join(scored)}")
    if spec.needs_theta0 and theta0 is None:
        raise ValueError(f"the {method} score needs θ0")
    if spec.needs_sigma and sigma is None:
        raise ValueError(f"the {method} score needs σ, the per-weight search std")
    return spec.score(theta, sigma, theta0)


@dataclass(frozen=True)
class PruneResult:
    mask: np.ndarray  # bool over the flat layout
    threshold: float  # score of the last kept weight (NaN for random)
    kept: int


class NonFiniteScores(ValueError):
    """Some active weights' pruning scores are NaN or infinite (θ or σ not finite): the
    round they come from diverged or its file is damaged. ``count`` says how many."""

    def __init__(self, count: int):
        self.count = count
        super().__init__(
            f"{count} active weights have a NaN or infinite pruning score (θ or σ not finite)"
        )


def prune_to_count(
    score: np.ndarray, active: np.ndarray, prunable: np.ndarray, keep: int
) -> PruneResult:
    """Keep the ``keep`` best-scoring active prunable weights; non-prunable weights stay."""
    candidates = np.flatnonzero(active & prunable)
    if keep > candidates.size:
        raise ValueError(f"cannot keep {keep} weights: only {candidates.size} are active")
    bad = int(np.sum(~np.isfinite(score[candidates])))
    if bad:
        raise NonFiniteScores(bad)
    # Stable sort on −score: equal scores keep their flat order, so earlier positions win.
    order = candidates[np.argsort(-score[candidates], kind="stable")]
    kept = order[:keep]
    mask = (active & ~prunable).copy()
    mask[kept] = True
    threshold = float(score[kept[-1]]) if keep else float("inf")
    return PruneResult(mask=mask, threshold=threshold, kept=keep)


def random_mask(prunable: np.ndarray, keep: int, permutation: np.ndarray) -> PruneResult:
    """A uniform random mask with ``keep`` prunable weights, from a given permutation of the
    prunable positions (drawn by the caller from an explicit JAX key)."""
    positions = np.flatnonzero(prunable)
    mask = ~prunable.copy()
    mask[positions[permutation[:keep]]] = True
    return PruneResult(mask=mask, threshold=float("nan"), kept=keep)


def layer_counts(mask: np.ndarray, table) -> dict[str, int]:
    """Kept entries per tensor."""
    return {e.name: int(mask[e.offset : e.offset + e.size].sum()) for e in table}


def empty_tensors(kept: dict[str, int]) -> list[str]:
    """The tensors that keep no entry, from each tensor's kept count (:func:`layer_counts`,
    or a stored mask's sums): prunable layers a global rule emptied. Weights never pruned
    (biases, an unpruned output layer) always keep theirs, so only a prunable kernel can
    be listed; such a network's output does not depend on its input."""
    return [name for name, count in kept.items() if int(count) == 0]


def round0_donor(methods: Sequence[str]) -> str | None:
    """The method whose chain trains round 0 for all methods of a (task, strategy, seed).

    Round 0 is dense and starts from θ0 with the chain's keys, so it is the same computation
    for every method except the permutation controls (their θ0 is shuffled within each
    tensor from round 0 on: ``permutes_theta0``); one chain trains it and the others copy it
    (:func:`evotickets.rounds.adopt_round0`). The donor is the first method of ``methods``
    whose round 0 depends on nothing else (not a permutation control, whose mask waits for
    the magnitude chain) and whose digest needs no settings of its own; None if none is."""
    for name in methods:
        m = REGISTRY[name]
        if not m.permutes_magnitude_mask and not m.has_settings:
            return name
    return None


def adopts_round0(method: str, donor: str | None) -> bool:
    """Whether ``method``'s chain copies round 0 from ``donor``'s (see :func:`round0_donor`)."""
    return donor is not None and method != donor and not REGISTRY[method].permutes_theta0

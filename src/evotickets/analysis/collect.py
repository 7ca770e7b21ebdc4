"""Gather every artifact of an experiment into one xarray Dataset (saved as netCDF).

Dims: task, strategy, method, seed, iteration, plus alpha / xi / direction / grid_x / grid_y /
tensor for the analyses that have them. Every (task, strategy, method, seed, iteration) the
config asks for has a slot; a run that is missing stays NaN rather than being dropped, so a
mean over seeds is honest about what exists.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import xarray as xr

from .. import paths
from ..artifacts import (
    LAYERWISE_ARRAYS,
    MASK_GROUP,
    SNR_MAGNITUDE_ARRAYS,
    TRAINED_ON_ATTR,
    VERSION_ATTRS,
    ArtifactError,
    group,
    read_artifact,
    require_results_folder,
    rerun_hint,
)
from ..config import (
    analysis_chains,
    analysis_options,
    chain_spec,
    chains,
    library_task,
    lmc_seed_pair,
    reported_config,
    task_rewind,
    task_rewind_budget,
)
from ..host import machine_counts
from ..names import CHAIN_DIMS, DEFAULT_INIT_SCHEME, analysis_file
from ..pruning import empty_tensors as pruning_empty_tensors
from ..pruning import nominal_remaining
from ..results import FinishedRounds
from ..settings import ANALYSIS_OPTIONS, analysis_digest

METRIC_LONG_NAME = "test accuracy (vision) or mean test return (control) of the final solution"


#: A transferred ticket's variables' dims in summary.nc (a chain's: names.CHAIN_DIMS).
TRANSFER_DIMS = ("transfer", "seed", "iteration")


def _nan(shape) -> np.ndarray:
    return np.full(shape, np.nan)


def collect(cfg: dict, results: str | Path) -> xr.Dataset:
    """Build the dataset from ``results/<experiment>`` for the chains ``cfg`` asks for."""
    results = require_results_folder(results, cfg.get("experiment"))
    all_chains = chains(cfg)
    tasks = list(dict.fromkeys(c[0] for c in all_chains))
    strategies = list(dict.fromkeys(c[1] for c in all_chains))
    methods = list(dict.fromkeys(c[2] for c in all_chains))
    seeds = sorted({c[3] for c in all_chains})
    rounds = int(cfg["rounds"])
    p = float(cfg["prune_fraction"])
    dims = ("task", "strategy", "method", "seed", "iteration")
    shape = (len(tasks), len(strategies), len(methods), len(seeds), rounds)
    index = {
        "task": {t: i for i, t in enumerate(tasks)},
        "strategy": {s: i for i, s in enumerate(strategies)},
        "method": {m: i for i, m in enumerate(methods)},
        "seed": {k: i for i, k in enumerate(seeds)},
    }

    def at(t, s, m, k):
        return index["task"][t], index["strategy"][s], index["method"][m], index["seed"][k]

    metric, kept, nonfinite = _nan(shape), _nan(shape), _nan(shape)
    metric_name, machines, done = {}, [], []
    machines_by_seed: dict[int, list[str]] = {}
    software: dict[str, list[str]] = {k: [] for k in VERSION_ATTRS}
    finished = FinishedRounds(cfg, results)  # one reading: each input's write time read once
    for (t, s, m, k), r, attrs in finished.chain_rounds():
        done.append(((t, s, m, k), r, attrs.get("kept_prunable")))
        i = (*at(t, s, m, k), r)
        metric[i] = attrs["final_metric"]
        kept[i] = attrs["remaining_fraction"]
        # a count of population members, which only the ES has: NaN for gradient descent
        # (PPO rounds written before 2026-12-06 say nonfinite_total 0, which counted nothing)
        es = str(attrs.get("trainer", "es")) == "es"
        nonfinite[i] = attrs.get("nonfinite_total", np.nan) if es else np.nan
        metric_name[t] = attrs["metric_name"]
        machines.append(str(attrs.get(TRAINED_ON_ATTR, "")))
        machines_by_seed.setdefault(int(k), []).append(machines[-1])
        for k in VERSION_ATTRS:
            software[k].append(str(attrs.get(k, "")))

    ds = xr.Dataset(
        {
            "test_metric": (dims, metric, {"long_name": METRIC_LONG_NAME, "units": "1 or return"}),
            "kept_fraction": (
                dims,
                kept,
                {"long_name": "fraction of prunable weights kept", "units": "1"},
            ),
            "nonfinite_fitness": (
                dims,
                nonfinite,
                {"long_name": "members with NaN/inf fitness, summed over the round", "units": "1"},
            ),
        },
        coords={
            "task": tasks,
            "strategy": strategies,
            "method": methods,
            "seed": seeds,
            "iteration": np.arange(rounds),
            "remaining_fraction": (
                "iteration",
                nominal_remaining(p, np.arange(rounds)),
                {"long_name": "nominal fraction of prunable weights remaining", "units": "1"},
            ),
            "sparsity": (
                "iteration",
                1 - nominal_remaining(p, np.arange(rounds)),
                {"long_name": "nominal fraction of prunable weights pruned", "units": "1"},
            ),
            "metric_name": (
                "task",
                [metric_name.get(t, "") for t in tasks],
                {"long_name": "what test_metric is on the task: test_accuracy or test_return"},
            ),
            # a task entry may run a library task under another name (one per init scheme)
            "library_task": (
                "task",
                [library_task(cfg, t) for t in tasks],
                {"long_name": "the library task the task entry runs"},
            ),
            # late rewinding: the rewind point k of each task entry (0: rounds start at θ0)
            "rewind": (
                "task",
                [task_rewind(cfg, t) for t in tasks],
                {
                    "long_name": "late rewinding's point k: rounds ≥ 1 start from round 0's "
                    "search mean after k generations (GD: steps); 0: from θ0"
                },
            ),
            # what its rewound rounds searched: full G, or the remaining G − k
            "rewind_budget": (
                "task",
                [task_rewind_budget(cfg, t) if task_rewind(cfg, t) else "" for t in tasks],
                {
                    "long_name": "what a rewound round searched: full (G generations) or "
                    "remaining (G − k); empty where rewind is 0"
                },
            ),
            "init_scheme": (
                "task",
                [(cfg["tasks"][t] or {}).get("init", DEFAULT_INIT_SCHEME) for t in tasks],
                {"long_name": "kernel initialiser of θ0"},
            ),
        },
        attrs={
            "experiment": cfg["experiment"],
            "prune_fraction": p,
            # what the chains computed, not how the jobs ran (config.RUN_ONLY_KEYS)
            "config": json.dumps(reported_config(cfg), sort_keys=True, default=str),
            "source": str(results),
            # the chains' rounds per machine that trained them (transfers not counted): their
            # last bits depend on it (evotickets.host)
            "trained_on": json.dumps(machine_counts(machines)),
            # the same per seed, so that a subset of seeds (claims --seeds) counts its own
            TRAINED_ON_BY_SEED: json.dumps(
                {str(k): machine_counts(v) for k, v in sorted(machines_by_seed.items())}
            ),
            # the chains' rounds per version of the software that trained them
            "software": json.dumps(
                {k: dict(sorted(Counter(x for x in v if x).items())) for k, v in software.items()}
            ),
        },
    )
    before = set(ds.data_vars)
    _add_mask_measures(ds, cfg, results, done, at, shape)
    _add_analyses(ds, finished, at, shape)
    _only_finished_rounds(ds, set(ds.data_vars) - before)
    _add_transfers(ds, finished, seeds, rounds)
    _add_transfer_masks(ds, finished)
    finished.check_analyses()
    return ds


#: summary.nc's attribute of the chains' rounds per machine, per seed (JSON).
TRAINED_ON_BY_SEED = "trained_on_by_seed"


#: The method whose masks every chain's mask is compared with: the paper's ticket.
SHARED_REFERENCE = "magnitude"


def shared_kept(mask: dict[str, np.ndarray], kept: int, reference: dict[str, np.ndarray]) -> float:
    """The share of the ``kept`` prunable weights of ``mask`` that ``reference`` keeps too.

    Both are one network's masks as stored (tensor name → bool array), in which weights that
    are never pruned (biases) are True in both: the weights ``mask`` keeps and ``reference``
    prunes are therefore all prunable, so no layer table (and no JAX) is needed."""
    if set(mask) != set(reference):
        raise ValueError(f"masks of different networks: {sorted(mask)} and {sorted(reference)}")
    only_here = sum(int((mask[n] & ~reference[n]).sum()) for n in mask)
    return (kept - only_here) / kept if kept else float("nan")


def empty_tensors(mask: dict[str, np.ndarray]) -> list[str]:
    """The tensors of a stored mask (tensor name → bool array) that keep no entry
    (:func:`evotickets.pruning.empty_tensors`): layers emptied by a global rule (a global
    random mask at a deep level; the smallest |θ0| of the paper CNN empties its dense layer
    from round 11)."""
    return pruning_empty_tensors({n: int(v.sum()) for n, v in mask.items() if v.size})


def _stored_mask(path, digests) -> dict[str, np.ndarray]:
    """A trained round's mask as stored (tensor name → bool array), checked against the
    settings ``digests`` it must carry."""
    arrays, _ = read_artifact(path, "trained", digests, only="mask")
    return {n: v.astype(bool) for n, v in group(arrays, MASK_GROUP).items()}


def _add_mask_measures(ds, cfg, results, done, at, shape) -> None:
    """From each finished round's mask (its ``trained.h5``), read once:

    ``layers_emptied``: how many of its tensors keep no weight. Why: in these feed-forward
    networks every kernel lies on the one path from input to output, so a network with an
    emptied layer computes a function of its biases alone, the same output for every
    input; its metric at that level measures that collapse, not how good a ticket is.
    claims.md lists such rounds (:func:`emptied_layer_rounds`).

    ``kept_shared_with_magnitude``: per chain and finished round, the share of its kept
    prunable weights that the magnitude chain of its (task, strategy, seed) keeps at the same
    round, from the masks the rounds' ``trained.h5`` hold (for dynamic sparse ES the active
    set the round ended with; its ``mask.h5`` holds the random mask it started from). Why:
    SNR and magnitude can rank almost alike in every round (``overlap_kept``, from one θ and
    σ) and still end in different tickets, since each round's few different weights change
    where the next search ends; this measures the tickets themselves. A random mask's share
    is about the remaining fraction (chance)."""
    finished = {(chain, r) for chain, r, _ in done}
    references: dict[tuple, dict[str, np.ndarray]] = {}

    def ticket(chain, r) -> dict[str, np.ndarray]:
        path = paths.round_file("trained.h5", None, *chain, r, root=results)
        return _stored_mask(path, chain_spec(cfg, *chain).accepted_digests())

    def reference_ticket(reference, r) -> dict[str, np.ndarray]:
        """Read once: every method of the seed compares with it."""
        if (reference, r) not in references:
            references[(reference, r)] = ticket(reference, r)
        return references[(reference, r)]

    shared, emptied = _nan(shape), _nan(shape)
    for (t, s, m, k), r, kept in done:
        reference = (t, s, SHARED_REFERENCE, k)
        mine = (t, s, m, k)
        here = reference_ticket(reference, r) if m == SHARED_REFERENCE else ticket(mine, r)
        emptied[(*at(*mine), r)] = len(empty_tensors(here))
        if kept is not None and (reference, r) in finished:
            shared[(*at(*mine), r)] = shared_kept(here, int(kept), reference_ticket(reference, r))
    ds["layers_emptied"] = (
        CHAIN_DIMS,
        emptied,
        {
            "long_name": "tensors of the round's mask that keep no weight (an emptied layer: "
            "the network's output no longer depends on its input)",
            "units": "1",
        },
    )
    if np.isfinite(shared).any():
        ds["kept_shared_with_magnitude"] = (
            CHAIN_DIMS,
            shared,
            {
                "long_name": "share of the chain's kept prunable weights that the magnitude "
                "chain of its task, strategy and seed keeps at the same round",
                "units": "1",
            },
        )


def _add_transfers(ds, finished: FinishedRounds, seeds, rounds) -> None:
    """Transferred tickets and, beside them, the target's own ticket (snr where the target
    runs it, else magnitude, as the accuracy table picks it: ``transfer_own_method``) and
    random baseline, with dims (transfer, seed, iteration)."""
    from ..config import transfer_kind, transfer_own_method

    cfg = finished.cfg
    entries = cfg.get("transfer") or []
    if not entries:
        return
    shape = (len(entries), len(seeds), rounds)
    own, rnd, moved, moved_kept = _nan(shape), _nan(shape), _nan(shape), _nan(shape)
    own_methods = []
    for i, e in enumerate(entries):
        tgt = e["target"]
        own_method = transfer_own_method(cfg, e)
        own_methods.append(own_method)
        target = (tgt["task"], tgt["strategy"])
        for j, k in enumerate(seeds):
            found = (
                (moved, finished.of_transfer(e["name"], k)),
                (own, finished.of_chain((*target, own_method, k))),
                (rnd, finished.of_chain((*target, "random", k))),
            )
            for arr, by_round in found:
                for r, attrs in by_round.items():
                    arr[i, j, r] = attrs["final_metric"]
                    if arr is moved:  # finished, whatever its metric (a NaN: it blew up)
                        moved_kept[i, j, r] = attrs["remaining_fraction"]
    dims = TRANSFER_DIMS
    ds.coords["transfer"] = [e["name"] for e in entries]
    ds.coords["transfer_kind"] = ("transfer", [transfer_kind(e) for e in entries])
    ds.coords["transfer_own_method"] = ("transfer", own_methods)
    ds.coords["transfer_target_task"] = ("transfer", [e["target"]["task"] for e in entries])
    ds.coords["transfer_target_strategy"] = (
        "transfer",
        [e["target"]["strategy"] for e in entries],
    )
    ds["transfer_metric"] = (
        dims,
        moved,
        {"long_name": "test metric of the transferred ticket", "units": "1 or return"},
    )
    ds["transfer_kept_fraction"] = (
        dims,
        moved_kept,
        {"long_name": "fraction of prunable weights the transferred ticket keeps", "units": "1"},
    )
    ds["transfer_target_snr"] = (
        dims,
        own,
        {
            "long_name": "target's own ticket (snr where the target runs it, else magnitude: "
            "transfer_own_method)",
            "units": "1 or return",
        },
    )
    ds["transfer_target_random"] = (
        dims,
        rnd,
        {"long_name": "target's random baseline", "units": "1 or return"},
    )
    _add_es_gd(ds, finished, seeds, rounds)


def _add_transfer_masks(ds, finished: FinishedRounds) -> None:
    """``transfer_layers_emptied``: per finished transferred round, how many tensors of its
    mask (its source's round's) keep no weight (:func:`_add_mask_measures` says why)."""
    from ..config import transfer_spec

    if "transfer_kept_fraction" not in ds:
        return
    done = ds.transfer_kept_fraction.transpose(*TRANSFER_DIMS).values
    emptied = _nan(done.shape)
    for i, k, r in np.argwhere(np.isfinite(done)):
        name, seed = str(ds.transfer.values[i]), int(ds.seed.values[k])
        path = paths.transfer_round_file("trained.h5", None, name, seed, int(r), finished.results)
        digests = transfer_spec(finished.cfg, name, seed).accepted_digests()
        emptied[i, k, r] = len(empty_tensors(_stored_mask(path, digests)))
    ds["transfer_layers_emptied"] = (
        TRANSFER_DIMS,
        emptied,
        {
            "long_name": "tensors of the transferred ticket's mask that keep no weight (its "
            "source's round: the network's output no longer depends on its input)",
            "units": "1",
        },
    )


TRANSFER_SOURCE_FIELDS = ("task", "strategy", "method")


def _add_es_gd(ds, finished: FinishedRounds, seeds, rounds) -> None:
    """LMC between the ES network of round t and the GD network trained from the same ticket
    (``lmc_es_gd.h5`` of each transfer chain, :func:`evotickets.paths.transfer_analysis`), on the transfer dims. Only the
    ES → GD transfers have it; the other transfers stay NaN."""
    from ..config import es_gd_transfers, transfer_entry

    cfg, results = finished.cfg, finished.results
    names = es_gd_transfers(cfg)
    if not names:
        return
    transfers = list(ds.transfer.values)
    barrier = _nan((len(transfers), len(seeds), rounds))
    errors, lmc = None, _lmc(cfg)
    for name in names:
        for j, k in enumerate(seeds):
            path = Path(
                paths.transfer_analysis(analysis_file("lmc", "es_gd"), None, name, k, root=results)
            )
            if not path.exists():
                continue
            src = transfer_entry(cfg, name)["source"]
            source = chain_spec(cfg, src["task"], src["strategy"], src["method"], k)
            if (read := finished.analysis(path, analysis_digest(source, lmc), "lmc")) is None:
                continue
            arrays = read[0]
            _same_axis(ds, "alpha", arrays["alpha"], path, "lmc_es_gd", "analyses.lmc.alphas")
            if errors is None:
                errors = _nan((*barrier.shape, arrays["alpha"].size))
            i = transfers.index(name)
            for p, r in _config_rounds(arrays, rounds, "round_left", "round_right"):
                barrier[i, j, r] = arrays["barrier"][p]
                errors[i, j, r] = arrays["errors"][p]
    sources = {
        n: tuple(transfer_entry(cfg, n)["source"][f] for f in TRANSFER_SOURCE_FIELDS) for n in names
    }
    read = _es_gd_rounds_read(ds, sources, seeds)
    barrier = np.where(read, barrier, np.nan)
    if errors is not None:
        errors = np.where(read[..., None], errors, np.nan)
    dims = TRANSFER_DIMS
    units = ERROR_UNITS
    ds["lmc_barrier_es_gd"] = (
        dims,
        barrier,
        {
            "long_name": "error barrier between the ES network of round t and the GD network "
            "trained from the same ticket (same θ0 and mask)",
            "units": units,
        },
    )
    if errors is not None:
        ds["lmc_errors_es_gd"] = (
            (*dims, "alpha"),
            errors,
            {"long_name": "error along α·θ_ES + (1−α)·θ_GD", "units": units},
        )


def _only_finished_rounds(ds: xr.Dataset, names: set[str]) -> None:
    """Analysis values of a round stand only where collect read the trained.h5 they were
    made from (its kept fraction): an analysis made before its round was deleted for a rerun
    still holds the round's row, and a collect run before the workflow remakes both reported
    it beside the round's NaN metric. This is the rule of a value of one chain's round (every
    variable of ``names`` on the chain dims); a value of two rounds keeps its own stricter
    rule where it is made (:func:`_keep_consecutive_rounds`, :func:`_keep_seed_pair_rounds`,
    :func:`_es_gd_rounds_read`)."""
    read = _rounds_read(ds)
    for name in sorted(names):
        if set(CHAIN_DIMS) <= set(ds[name].dims):
            _keep_where(ds, name, read)


def _rounds_read(ds: xr.Dataset) -> xr.DataArray:
    """Where collect read a chain's round (its trained.h5's kept fraction), on the chain dims."""
    return ds.kept_fraction.notnull()


def _keep_where(ds: xr.Dataset, name: str, read: xr.DataArray) -> None:
    ds[name] = ds[name].where(read.reset_coords(drop=True))


def _keep_consecutive_rounds(ds: xr.Dataset) -> None:
    """A consecutive LMC value at round t joins rounds t and t + 1: it needs both read."""
    read = _rounds_read(ds)
    both = read & read.shift(iteration=-1, fill_value=False)
    for name in ("lmc_barrier_consecutive", "lmc_errors_consecutive"):
        if name in ds:
            _keep_where(ds, name, both)


def _keep_seed_pair_rounds(ds: xr.Dataset, pair: tuple[int, int]) -> None:
    """The seeds' LMC value at round t joins the round of both seeds of ``pair``."""
    read = _rounds_read(ds)
    _keep_where(ds, "lmc_barrier_seeds", read.sel(seed=pair[0]) & read.sel(seed=pair[1]))


def _es_gd_rounds_read(
    ds: xr.Dataset, sources: dict[str, tuple[str, str, str]], seeds
) -> np.ndarray:
    """(transfer, seed, iteration): where the ES ↔ GD LMC of a round joins two rounds that
    collect read, the transferred round (its GD side, ``transfer_kept_fraction``) and the
    source chain's round (its ES side; ``sources``: transfer → (task, strategy, method)).
    False for a transfer not in ``sources`` (it has no ES ↔ GD value), and everywhere where
    ``ds`` has no chain round read (no ``kept_fraction``)."""
    dims = TRANSFER_DIMS
    read = ds.transfer_kept_fraction.notnull().transpose(*dims).values.copy()
    chains = _rounds_read(ds) if "kept_fraction" in ds else None  # None: no chain round read
    for i, name in enumerate(ds.transfer.values):
        if name not in sources or chains is None:
            read[i] = False
            continue
        task, strategy, method = sources[name]
        source = {"task": task, "strategy": strategy, "method": method, "seed": list(seeds)}
        read[i] &= chains.sel(source).transpose("seed", "iteration").values
    return read


def _add_analyses(ds, finished: FinishedRounds, at, shape) -> None:
    """Every analysis the config enabled, as variables on the chain dims (NaN where an
    artifact is missing)."""
    _add_lmc(ds, finished, at, shape)
    _add_landscape(ds, finished, at, shape)
    _add_snr_magnitude(ds, finished, at, shape)
    _add_layerwise(ds, finished, at, shape)


#: What an LMC error is on each kind of task (the lmc artifacts' ``error`` attribute).
ERROR_UNITS = "1 (vision: 1 − accuracy) or return (control: −return)"


def _same_axis(ds, name: str, values: np.ndarray, path, rule: str, option: str) -> None:
    """Set coordinate ``name`` from the first artifact; a later one with other values was made
    with other analysis options, and its numbers would sit on the wrong axis."""
    if name not in ds.coords:
        ds.coords[name] = values
    elif not np.array_equal(ds.coords[name].values, values):
        raise ValueError(
            f"{path} has a {name} axis of {np.size(values)} points, other {rule} artifacts one "
            f"of {ds.coords[name].size}: they were made with different `{option}`; rerun rule "
            f"{rule} for it (delete the file) with the current config"
        )


def _lmc(cfg: dict):
    """The LMC options the config gives its analyses, as the lmc verb digests them."""
    return ANALYSIS_OPTIONS["lmc"].from_dict(analysis_options(cfg, "lmc"))


def _chain_artifacts(chains, finished: FinishedRounds, analysis: str, file: str | None = None):
    """(chain, arrays, attrs, path) of each existing ``file`` of ``chains`` (by default the
    analysis's own, :func:`names.analysis_file`), each checked to hold the ``analysis``, to come from the settings the config gives its chain and, for an
    analysis with options (lmc, landscape), from the options it gives that analysis, as the
    verbs digest them, and from its rounds as they are now (:meth:`FinishedRounds.analysis`)."""
    cfg, results = finished.cfg, finished.results
    file = file or analysis_file(analysis)
    options = None
    if analysis in ANALYSIS_OPTIONS:
        options = ANALYSIS_OPTIONS[analysis].from_dict(analysis_options(cfg, analysis))
    for chain in chains:
        path = Path(paths.chain_analysis(file, None, *chain, root=results))
        if path.exists():
            digest = analysis_digest(chain_spec(cfg, *chain), options)
            if (read := finished.analysis(path, digest, analysis)) is not None:
                yield chain, *read, path


def _config_rounds(arrays, rounds: int, *fields: str) -> list[tuple[int, int]]:
    """(row, round) of an analysis's rows whose rounds (``fields``, by default ``round``) are
    all among the config's ``rounds``. An analysis made while the config asked for more
    rounds holds rows of those too: its rows of the config's rounds read the same files and
    stand, and the others are left out, as collect leaves out the chains' later rounds (they
    made it fail on an index past the end); an LMC pair is left out where either end is."""
    first, *others = fields or ("round",)
    present = [first, *(f for f in others if f in arrays)]  # round_right: since 21fccb1
    columns = [np.asarray(arrays[f]).astype(int) for f in present]
    return [
        (j, int(columns[0][j]))
        for j in range(columns[0].size)
        if all(c[j] < rounds for c in columns)
    ]


def _add_lmc(ds, finished: FinishedRounds, at, shape) -> None:
    cfg, results = finished.cfg, finished.results
    lmc = analysis_chains(cfg, "lmc")
    if not lmc:
        return
    barrier, errors = _nan(shape), None
    for chain, arrays, _, path in _chain_artifacts(
        lmc, finished, "lmc", analysis_file("lmc", "consecutive")
    ):
        _same_axis(ds, "alpha", arrays["alpha"], path, "lmc", "analyses.lmc.alphas")
        if errors is None:
            errors = _nan((*shape, arrays["alpha"].size))
        for j, r in _config_rounds(arrays, shape[-1], "round_left", "round_right"):
            barrier[(*at(*chain), r)] = arrays["barrier"][j]
            errors[(*at(*chain), r)] = arrays["errors"][j]
    ds["lmc_barrier_consecutive"] = (
        CHAIN_DIMS,
        barrier,
        {"long_name": "error barrier between round t and t+1 of one run", "units": ERROR_UNITS},
    )
    if errors is not None:
        ds["lmc_errors_consecutive"] = (
            (*CHAIN_DIMS, "alpha"),
            errors,
            {"long_name": "error along α·θ_t + (1−α)·θ_t+1", "units": ERROR_UNITS},
        )
    _keep_consecutive_rounds(ds)
    seeds_barrier, options = _nan(shape[:3] + (shape[-1],)), _lmc(cfg)
    # one seed: no pair, and an lmc_seeds.h5 left from a run of more is not this config's
    pair_seeds = lmc_seed_pair(cfg)
    for t, s, m in sorted({c[:3] for c in lmc}) if pair_seeds else ():
        path = Path(paths.seeds_analysis(analysis_file("lmc", "seeds"), None, t, s, m, results))
        if not path.exists():
            continue
        # made from the first seed's settings (the rule's), the second seed's rounds beside
        first = chain_spec(cfg, t, s, m, pair_seeds[0])
        if (read := finished.analysis(path, analysis_digest(first, options), "lmc")) is None:
            continue
        arrays = read[0]
        _check_seed_pair(path, read[1], pair_seeds)
        _same_axis(ds, "alpha", arrays["alpha"], path, "lmc_seeds", "analyses.lmc.alphas")
        i = at(t, s, m, ds.seed.values[0])[:3]
        for j, r in _config_rounds(arrays, shape[-1], "round_left", "round_right"):
            seeds_barrier[(*i, r)] = arrays["barrier"][j]
    pair = {"seed_pair": list(pair_seeds)} if pair_seeds else {}
    ds["lmc_barrier_seeds"] = (
        ("task", "strategy", "method", "iteration"),
        seeds_barrier,
        {
            "long_name": "error barrier between two seeds at the same round",
            "units": ERROR_UNITS,
            # the rule pairs the config's first two seeds, as listed (the seed axis is sorted)
            **pair,
        },
    )
    if pair_seeds:
        _keep_seed_pair_rounds(ds, pair_seeds)


def _check_seed_pair(path: Path, attrs: dict, pair_seeds) -> None:
    """Refuse a seeds-LMC file whose other side is not the config's second seed: its digest
    is the first seed's alone, so a file made for seeds 0 ↔ 1 passed for a config pairing
    0 ↔ 2 and was labelled with that pair."""
    try:
        right = {str(paths.round_fields(p)["seed"]) for p in json.loads(attrs.get("right"))}
    except (ValueError, TypeError) as err:
        raise ArtifactError(
            f"artifact {path} has no readable 'right' attribute ({err}), the rounds of the "
            f"second seed: it was edited or damaged; {rerun_hint(path, 'analysis')}"
        ) from err
    if right != {str(pair_seeds[1])}:
        raise ArtifactError(
            f"artifact {path} pairs seed {pair_seeds[0]} with seed(s) {', '.join(sorted(right))}, "
            f"not with seed {pair_seeds[1]}, the config's second seed: it was made for another "
            f"seed list; {rerun_hint(path, 'analysis')}"
        )


def _tensor_names(path: Path, attrs: dict, arrays: dict) -> list[str]:
    """A layerwise file's tensor names (its ``tensors`` attribute, JSON), one per column."""
    try:
        names = json.loads(attrs["tensors"])
    except (ValueError, TypeError) as err:
        names, err_text = None, str(err)
    else:
        err_text = "not one name per column of its arrays"
    columns = {np.shape(arrays[q])[-1] for q in LAYERWISE_ARRAYS}
    if not isinstance(names, list) or columns != {len(names)}:
        raise ArtifactError(
            f"artifact {path} has a 'tensors' attribute that does not name its columns "
            f"({err_text}): it was edited or damaged; {rerun_hint(path, 'analysis')}"
        )
    return [str(n) for n in names]


def _add_landscape(ds, finished: FinishedRounds, at, shape) -> None:
    land = analysis_chains(finished.cfg, "landscape")
    if not land:
        return
    curvature, nonfinite, surface, norms = _nan(shape), _nan(shape), None, set()
    for chain, arrays, attrs, path in _chain_artifacts(land, finished, "landscape"):
        option = "analyses.landscape grid_points / grid_extent"
        _same_axis(ds, "grid_x", arrays["grid"], path, "landscape", option)
        _same_axis(ds, "grid_y", arrays["grid"], path, "landscape", option)
        norms.add(str(attrs.get("direction_norm_1d", "filter")))
        if surface is None:
            g = arrays["grid"].size
            surface = _nan((*shape, g, g))
        for j, r in _config_rounds(arrays, shape[-1]):
            curvature[(*at(*chain), r)] = np.mean(arrays["curvature"][j])
            nonfinite[(*at(*chain), r)] = np.sum(~np.isfinite(arrays["curvature"][j]))
            surface[(*at(*chain), r)] = arrays["surface_2d"][j]
    ds["curvature_1d"] = (
        CHAIN_DIMS,
        curvature,
        {
            "long_name": "mean curvature of 1D random projections (2a of a quadratic fit)",
            "units": "loss per unit ξ² (loss: vision cross-entropy, control −return)",
            # filter-normalised or raw directions: curvatures of the two are not comparable
            "direction_norm_1d": ", ".join(sorted(norms)) or "none collected",
        },
    )
    # NaN in curvature_1d is either a round not analysed or one too sharp to measure: this
    # tells them apart, so that claims.md can list the second (claim 7 leaves them out)
    ds["curvature_1d_nonfinite_directions"] = (
        CHAIN_DIMS,
        nonfinite,
        {
            "long_name": "1D directions whose loss left the finite range within |ξ| ≤ 1 "
            "(curvature_1d is NaN where above 0; NaN: round not analysed)",
            "units": "1",
        },
    )
    if surface is not None:
        ds["loss_surface_2d"] = (
            (*CHAIN_DIMS, "grid_x", "grid_y"),
            surface,
            {
                "long_name": "loss on a filter-normalised 2D plane",
                "units": "vision: cross-entropy; control: −return",
            },
        )


SNR_MAGNITUDE_VARIABLES = (*SNR_MAGNITUDE_ARRAYS, "sigma_cv", "rho_sigma_abs_theta")
#: What each weight statistic of a round's trained network is, for summary.nc's long_name
#: (``analysis.correlation``; at iteration t, over round t's active prunable weights; a
#: threshold or overlap describes the cut that makes round t+1's mask).
STATISTIC_NAMES = {
    "rho_snr_magnitude": "Spearman rho of the chain's SNR score with |theta|, over round t's "
    "active prunable weights",
    "rho_snr_vs_round0": "Spearman rho of round t's SNR score with round 0's, over round t's "
    "active prunable weights",
    "rho_magnitude_vs_round0": "Spearman rho of round t's |theta| with round 0's, over round "
    "t's active prunable weights",
    "threshold_snr": "SNR score of the last weight the SNR ranking keeps for round t+1",
    "threshold_magnitude": "|theta| of the last weight the magnitude ranking keeps for round t+1",
    "overlap_kept": "share of the weights SNR keeps for round t+1 that magnitude keeps too",
    "sigma_cv": "coefficient of variation (std / mean) of the search std sigma over round t's "
    "active prunable weights",
    "rho_sigma_abs_theta": "Spearman rho of sigma with |theta| over round t's active prunable "
    "weights",
    "kept_ratio": "share of the tensor's weights kept in round t",
    "mean_abs_theta": "mean |theta| over the tensor's kept weights",
    "mean_sigma": "mean search std sigma over the tensor's kept weights (NaN: gradient descent)",
}


def _add_snr_magnitude(ds, finished: FinishedRounds, at, shape) -> None:
    snr = analysis_chains(finished.cfg, "snr_magnitude")
    if not snr:
        return
    values = {n: _nan(shape) for n in SNR_MAGNITUDE_VARIABLES}
    for chain, arrays, _, _ in _chain_artifacts(snr, finished, "snr_magnitude"):
        for j, r in _config_rounds(arrays, shape[-1]):
            for n in SNR_MAGNITUDE_VARIABLES:
                if n in arrays:  # sigma_cv and rho_sigma_abs_theta are newer
                    values[n][(*at(*chain), r)] = arrays[n][j]
    for n in SNR_MAGNITUDE_VARIABLES:
        ds[n] = (CHAIN_DIMS, values[n], {"long_name": STATISTIC_NAMES[n], "units": "1"})


def _add_layerwise(ds, finished: FinishedRounds, at, shape) -> None:
    per_chain, tensors = {}, []
    chains = analysis_chains(finished.cfg, "layerwise")
    for chain, arrays, attrs, path in _chain_artifacts(chains, finished, "layerwise"):
        names = _tensor_names(path, attrs, arrays)
        tensors += [n for n in names if n not in tensors]
        per_chain[chain] = (names, arrays)
    if not tensors:
        return
    ds.coords["tensor"] = tensors
    for q in LAYERWISE_ARRAYS:
        v = _nan((*shape, len(tensors)))
        for chain, (names, arrays) in per_chain.items():
            for j, r in _config_rounds(arrays, shape[-1]):
                for n_i, n in enumerate(names):
                    v[(*at(*chain), r, tensors.index(n))] = arrays[q][j, n_i]
        ds[f"layer_{q}"] = (
            (*CHAIN_DIMS, "tensor"),
            v,
            {"long_name": f"per tensor: {STATISTIC_NAMES[q]}", "units": "1"},
        )


def nonfinite_metric_rounds(ds: xr.Dataset) -> list[dict]:
    """The chain and transfer rounds that finished (their kept fraction is recorded) with a
    test metric that is NaN or infinite (a control task's episode whose physics blew up
    under finite weights). summary.nc holds NaN there as for a round not yet run, so every
    comparison leaves that seed out of that level: a side whose tickets fail this way loses
    its worst seeds from the mean. claims.md lists them, so that a lower n is read with its
    cause, and the figures count them. A transfer's row names its target task, the
    transfer as its strategy and ``transferred ticket`` as its method."""
    return _nonfinite_chain_rounds(ds) + _nonfinite_transfer_rounds(ds)


def nonfinite_curvature_rounds(ds: xr.Dataset) -> list[dict]:
    """The analysed chain rounds whose 1D curvature is NaN because the loss left the finite
    range along some direction (``curvature_1d_nonfinite_directions`` > 0): too sharp to
    measure, not missing. Claim 7 fits each seed's slope over the rounds both chains have,
    so such a round drops out of the fit (its seed stays, fitted over its other rounds): the
    sharpest curvatures, which are the claim's own evidence, would leave silently.
    claims.md lists them."""
    return _counted_rounds(ds, "curvature_1d_nonfinite_directions", "directions")


def emptied_layer_rounds(ds: xr.Dataset) -> list[dict]:
    """The finished chain rounds whose mask keeps no weight of some layer
    (``layers_emptied`` > 0, :func:`_add_mask_measures`): their networks' output does not
    depend on the input, so a comparison at that level partly measures which side lost a
    whole layer. claims.md lists them."""
    rows = _counted_rounds(ds, "layers_emptied", "layers")
    if "transfer_layers_emptied" not in ds:
        return rows
    counts = np.nan_to_num(ds.transfer_layers_emptied.transpose(*TRANSFER_DIMS).values, nan=0.0)
    moved = _transfer_round_rows(ds, counts > 0, counts, "layers")
    return rows + [{**r, "layers": int(r["layers"])} for r in moved]


def _transfer_round_rows(ds: xr.Dataset, where: np.ndarray, values: np.ndarray, name: str):
    """One row per transferred round where ``where`` (:data:`TRANSFER_DIMS` order) holds, as
    :func:`_chain_round_rows` gives a chain's: its target task, the transfer as its strategy,
    ``transferred ticket`` as its method, seed and level, and its entry of ``values``."""
    frac = ds.remaining_fraction.values
    return [
        {
            "task": str(ds.transfer_target_task.values[i]),
            "strategy": str(ds.transfer.values[i]),
            "method": "transferred ticket",
            "seed": int(ds.seed.values[k]),
            "remaining": float(frac[r]),
            name: float(values[i, k, r]),
        }
        for i, k, r in np.argwhere(where)
    ]


def _counted_rounds(ds: xr.Dataset, var: str, name: str) -> list[dict]:
    """The chain rounds where the count ``var`` (CHAIN_DIMS; NaN: round not read) is above
    0, each with its count, an int, under ``name``."""
    if var not in ds:
        return []
    counts = ds[var].transpose(*CHAIN_DIMS).values
    rows = _chain_round_rows(ds, np.nan_to_num(counts, nan=0.0) > 0, counts, name)
    return [{**r, name: int(r[name])} for r in rows]


def _chain_round_rows(ds: xr.Dataset, where: np.ndarray, values: np.ndarray, name: str):
    """One row per chain round where ``where`` (CHAIN_DIMS order) holds: its task, strategy,
    method, seed and level, and its entry of ``values`` under ``name``."""
    frac = ds.remaining_fraction.values
    return [
        {
            "task": str(ds.task.values[t]),
            "strategy": str(ds.strategy.values[s]),
            "method": str(ds.method.values[m]),
            "seed": int(ds.seed.values[k]),
            "remaining": float(frac[r]),
            name: float(values[t, s, m, k, r]),
        }
        for t, s, m, k, r in np.argwhere(where)
    ]


def _nonfinite_transfer_rounds(ds: xr.Dataset) -> list[dict]:
    if "transfer_kept_fraction" not in ds or "transfer_metric" not in ds:
        return []
    bad = np.isfinite(ds.transfer_kept_fraction) & ~np.isfinite(ds.transfer_metric)
    metric = ds.transfer_metric.transpose(*TRANSFER_DIMS).values
    return _transfer_round_rows(ds, bad.transpose(*TRANSFER_DIMS).values, metric, "metric")


def _nonfinite_chain_rounds(ds: xr.Dataset) -> list[dict]:
    if "kept_fraction" not in ds or "test_metric" not in ds:
        return []
    bad = np.isfinite(ds.kept_fraction) & ~np.isfinite(ds.test_metric)
    if not bool(bad.any()):
        return []
    metric = ds.test_metric.transpose(*CHAIN_DIMS).values
    return _chain_round_rows(ds, bad.transpose(*CHAIN_DIMS).values, metric, "metric")


def has_data(ds: xr.Dataset, var: str, **sel) -> bool:
    """Whether ``summary.nc`` holds any finite value of ``var`` at ``sel`` (missing runs are
    NaN, never dropped, so presence of the variable alone says nothing). Figures and claims
    both ask this before drawing or testing what an experiment may lack."""
    if var not in ds:
        return False
    try:
        da = ds[var].sel({**sel})
    except KeyError:
        return False
    return bool(np.isfinite(da.values).any())


def save(ds: xr.Dataset, path: str | Path, kind: str = "summary") -> Path:
    """Write netCDF (h5netcdf) atomically and durably (:func:`evotickets.durable.atomic_path`),
    every numeric variable with HDF5's Fletcher-32 checksum, as the artifacts have: a damaged
    block then fails the read (``open_summary`` names the file) instead of drawing other
    numbers into figures and claims. It records ``schema`` ``evotickets.<kind>/1`` as the
    artifacts do, so that a verb's ``--out`` naming it (the table's text, say) is refused
    rather than replacing it (:func:`evotickets.artifacts.check_output`)."""
    from ..durable import atomic_path

    path = Path(path)
    with atomic_path(path) as tmp:
        write_netcdf(ds, tmp, kind)
    return path


def write_netcdf(ds: xr.Dataset, path: str | Path, kind: str) -> None:
    """What :func:`save` writes, to ``path`` itself (a temporary file a caller renames)."""
    from ..artifacts import SCHEMA_VERSION

    ds = ds.assign_attrs(schema=f"evotickets.{kind}/{SCHEMA_VERSION}")
    encoding = {v: {"fletcher32": True} for v in ds.variables if ds[v].dtype.kind in "biufc"}
    ds.to_netcdf(path, engine="h5netcdf", encoding=encoding)

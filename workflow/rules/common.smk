import atexit
import functools
import gc
import json
import os
import shlex
import sys
import types

from snakemake.utils import validate

from evotickets import paths
from evotickets.names import (
    ANALYSES,
    DATA_DIR_ENV,
    DEFAULT_GROUP_PROGRAM,
    FIGURE_NAMES,
    PERMUTED_METHOD,
    PRUNING_METHODS,
    SKIPPED_METHODS,
    TRANSFER_TARGET_METHOD,
    WEIGHT_STATISTICS,
    analysis_file,
)
from evotickets.platform import PLATFORM_ENV
from evotickets.pruning import adopts_round0, round0_donor
from evotickets.settings import LandscapeOptions, LmcOptions
from evotickets.config import (
    SCHEMA_PATH,
    ConfigError,
    analysis_artifacts,
    analysis_options,
    chain_settings,
    chains,
    init_settings,
    lmc_seed_pair,
    task_methods,
    task_rewind,
    task_strategies,
    transfer_entry,
    transfer_kind,
    transfer_settings,
    read_config_file,
    reported_config,
    without_data_dir,
    validate_config,
)

# Garbage collection. The paper grid's ~24k jobs are millions of small objects that live until
# Snakemake exits. With CPython's default thresholds (700, 10, 10) the collector walks them in
# ~20 full collections while the DAG grows, and again at exit. So: freeze what is loaded by now
# (Snakemake and evotickets.names; no JAX since 2026-12-01), run young collections less often
# (full ones still run), and at exit leave the heap to the OS. Still needed without JAX: the
# paper dry run takes 19 s with these four lines and 31 s without them (bench 5, side by side).
gc.collect()
gc.freeze()
gc.set_threshold(50_000, 20, 10)
atexit.register(gc.freeze)


# The embedded default, only when no --configfile was given: Snakemake merges nested dicts,
# so loading it under config/paper.yaml would add the digits task to the paper grid.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


# Snakemake's YAML loader keeps the last of a key given twice; refuse that, naming the lines.
# Names with a did-you-mean first, then Snakemake's own schema validation (defaults filled).
# A refusal is its message alone (Snakemake would print our stack frames under it).
try:
    for _config_path in workflow.configfiles:
        read_config_file(_config_path)
    config.update(validate_config(config))
except ConfigError as _err:
    sys.exit(f"ConfigError: {_err}")
validate(config, SCHEMA_PATH)

# The CLI that all rules call, this interpreter's (the one running Snakemake, which has just
# imported evotickets above), not `evotickets` from PATH, so `.venv/bin/snakemake` works without
# activating the venv. SLURM jobs rerun Snakemake with the same interpreter path (a shared
# filesystem), so they resolve the same CLI. Rules write `{EVOTICKETS}`: Snakemake fills it in
# from this module's globals when it runs the job, so the recorded rule code stays this
# template and does not change with the venv's path.
# The config's data folder reaches every verb as DATA_DIR_ENV on its command line (a global,
# as JAX_CACHE below), not in the settings JSON: that JSON is every job's param, and a moved
# folder changes no number, so it must not rerun every job. The config's wins over a variable
# of the caller's own; without a data_dir the caller's stands.
_DATA_DIR_PREFIX = (
    ["env", f"{DATA_DIR_ENV}={config['data_dir']}"] if config.get("data_dir") else []
)
EVOTICKETS = shlex.join([*_DATA_DIR_PREFIX, sys.executable, "-m", "evotickets"])

EXP = config["experiment"]
ROUNDS = int(config["rounds"])
# Where the persistent JAX compilation cache lives: the shell commands name it as a global,
# not as a param, since Snakemake reruns a job whose params change and the cache's folder
# changes no number (a node-local jax_cache_dir on a cluster would retrain every round).
# Unquoted, as the param was: the job's shell expands a `$TMPDIR/jax` or `~/jax` there.
JAX_CACHE = config.get("jax_cache_dir") or paths.JAX_CACHE
# the two seeds rule lmc_seeds joins (None with one seed, where no job asks for it)
LMC_SEEDS = lmc_seed_pair(config)


def lmc_seed(i):
    """Seed ``i`` (0 or 1) of :data:`LMC_SEEDS`; a clear error where an lmc_seeds.h5 is
    asked for by name in a config of one seed."""
    if LMC_SEEDS is None:
        raise ValueError(
            "lmc_seeds.h5 joins the networks of two seeds, and this config runs one: add a "
            "second seed to `seeds`, or leave that file out of the targets"
        )
    return LMC_SEEDS[i]
RES = config["resources"]
# The config the reporting rules (table, collect) pass their verb, and which summary.nc
# records: without how the jobs run (resources, the JAX cache's folder), which none of them
# reads, so that changing a runtime or the grouping does not make Snakemake rerun the table,
# collect, the claims and every figure for a changed param.
REPORT_CONFIG = json.dumps(reported_config(config), default=str)
# The LMC rules' options, as the analysis verb reads them (the config is fixed once loaded)
LMC_OPTIONS = LmcOptions.from_dict(analysis_options(config, "lmc")).to_json()
# the group verbs' `--program`, only where the config changes it from the verbs' default
GROUP_PROGRAM = (
    "" if RES["group_program"] == DEFAULT_GROUP_PROGRAM else f" --program {RES['group_program']}"
)
# the rules of each resources.group_chains: none, train; seeds, train_seeds;
# seeds_and_methods, train_pairs_<task>_<strategy>
GROUP_CHAINS = RES["group_chains"]


def group_job_runtime(chains: int, alone: int = 0) -> int:
    """Minutes a group job asks for one round of ``chains`` chains: resources.group_runtime
    where the config sets it (a vmapped group on a GPU runs its chains at once), else
    ``runtime`` per chain (a sequential group runs them one after the other). Under
    `vmapped`, the ``alone`` of them that train one after the other even there
    (:func:`trains_alone`) add ``runtime`` each: a group_runtime measured on ES chains
    running at once would cut a gradient-descent group off at SLURM's time limit."""
    if not RES["group_runtime"]:
        return RES["runtime"] * chains
    if RES["group_program"] != "vmapped":
        return RES["group_runtime"]
    return (RES["group_runtime"] if alone < chains else 0) + RES["runtime"] * alone


def trains_alone(strategy: str, method: str, round_index: int) -> bool:
    """Whether a chain's round trains outside a vmapped group program (gradient descent,
    dynamic sparse ES after round 0, a strategy that is not batch-invariant)."""
    from evotickets.train.trainers import named_lockstep

    return not named_lockstep(strategy, method, round_index)


def group_runtime_resource(fixed: dict, methods, chains: int):
    """rule train_seeds' or a train_pairs rule's runtime, as a function of a job's
    wildcards (its strategy, method and round: :func:`group_job_runtime`)."""
    seeds = len(config["seeds"])

    def runtime(wildcards):
        strategy = fixed.get("strategy") or wildcards.strategy
        names = methods if "method" not in wildcards.keys() else [wildcards.method]
        alone = seeds * sum(trains_alone(strategy, m, int(wildcards.it)) for m in names)
        return group_job_runtime(chains, alone)

    return runtime


def transfer_group_runtime(wildcards) -> int:
    """The runtime of rule transfer_seeds; its seeds train alone where the target is gradient
    descent (:func:`group_job_runtime`)."""
    seeds = len(config["seeds"])
    target = transfer_entry(config, wildcards.name)["target"]["strategy"]
    alone = trains_alone(target, TRANSFER_TARGET_METHOD, 0)
    return group_job_runtime(seeds, seeds if alone else 0)

# A config that asks for GPUs makes `evotickets train` refuse to run without one (see
# evotickets.platform); jobs inherit this, locally and through sbatch's --export=ALL.
if RES["gpu"] > 0:
    os.environ.setdefault(PLATFORM_ENV, "gpu")


# The experiment folder in a rule's shell command (an f-string's value: its wildcard left for
# Snakemake to fill), as paths spells it.
EXPERIMENT_DIR = paths.experiment("{wildcards.exp}")


wildcard_constraints:
    exp=paths.EXPERIMENT_NAME,
    task=paths.ENTRY_NAME,
    strategy=r"[a-z_]+",
    method=r"[a-z_]+",
    seed=r"\d+",
    it=r"\d\d",
    name=paths.ENTRY_NAME,


# The config is fixed once loaded, so the names a path may use and the settings JSON of each
# (task, strategy, method, seed) are computed once, not once per job (the paper grid asks for
# ~24k jobs but has ~1,100 chains): Snakemake calls these input and params functions per job.
_TASK_STRATEGIES = {task: task_strategies(config, task) for task in config["tasks"]}
_TASK_METHODS = {
    (task, strategy): task_methods(config, task, strategy)
    for task, strategies in _TASK_STRATEGIES.items()
    for strategy in strategies
}
# The chain that trains round 0 for every method of a (task, strategy, seed): see mask_inputs.
_ROUND0_DONOR = {key: round0_donor(methods) for key, methods in _TASK_METHODS.items()}
_KNOWN_OK = set()  # wildcard values that passed _known


def _known(wildcards):
    """Fail with a clear message when a requested path names something not in the config."""
    key = tuple(
        getattr(wildcards, k, None) for k in ("exp", "task", "strategy", "method", "name", "it")
    )
    if key not in _KNOWN_OK:
        _check_known(wildcards)
        _KNOWN_OK.add(key)


def this_experiment(wildcards):
    """No input: a report rule's (collect, the table) first, so that a requested report of
    another experiment's folder fails with :func:`_check_known`'s message. Their inputs are
    this config's rounds, so without it Snakemake planned this experiment's training and
    then gathered its rounds into the other folder."""
    _known(wildcards)
    return []


def _check_known(wildcards):
    strategy = getattr(wildcards, "strategy", None)
    task = getattr(wildcards, "task", None)
    methods = config["methods"]
    if task in config["tasks"] and strategy in _TASK_STRATEGIES[task]:
        methods = _TASK_METHODS[task, strategy]
    if wildcards.exp != EXP:
        raise ValueError(
            f"the requested path is in results/{wildcards.exp}, but this config's experiment "
            f"is {EXP!r}: pass that run's config (`snakemake --configfile <its config> -- "
            "<path>`), or fix the path"
        )
    for kind, value, allowed in (
        ("task", task, list(config["tasks"])),
        ("strategy", strategy, _TASK_STRATEGIES[task] if task in config["tasks"] else []),
        ("method", getattr(wildcards, "method", None), methods),
        ("transfer", getattr(wildcards, "name", None), [e["name"] for e in config["transfer"]]),
    ):
        if value is not None and value not in allowed:
            why = (
                f" ({SKIPPED_METHODS})"
                if kind == "method"
                else ""
            )
            raise ValueError(
                f"{kind} {value!r} in the requested path is not in the config{why} "
                f"(allowed: {allowed}); add it to the config or fix the path"
            )
    if hasattr(wildcards, "it") and int(wildcards.it) >= ROUNDS:
        raise ValueError(f"iteration {wildcards.it} ≥ rounds ({ROUNDS}); raise `rounds`")


@functools.cache
def _settings_json(kind, *key):
    """The settings JSON of a chain, θ0 or transfer, once per distinct key. Without the data
    folder (null, as a config without one writes it): the JSON is every job's param, and a
    moved folder changes no number, so it must not rerun every job (as jax_cache_dir); the
    jobs find the folder in DATA_DIR_ENV (:data:`EVOTICKETS`)."""
    if kind == "chain":
        settings = chain_settings(config, *key)
    elif kind == "init":
        settings = init_settings(config, *key)
    else:
        settings = transfer_settings(config, *key)
    return json.dumps(without_data_dir(settings), sort_keys=True)


def chain_json(wildcards, seed=None):
    _known(wildcards)
    seed = int(wildcards.seed) if seed is None else int(seed)
    return _settings_json("chain", wildcards.task, wildcards.strategy, wildcards.method, seed)


def init_json(wildcards):
    _known(wildcards)
    return _settings_json("init", wildcards.task, int(wildcards.seed))


def transfer_json(wildcards):
    _known(wildcards)
    return _settings_json("transfer", wildcards.name, int(wildcards.seed))


def all_round_targets():
    """trained.h5 of every round of every chain the config asks for (GD chains skip snr)."""
    return [
        paths.round_file("trained.h5", EXP, task, strategy, method, seed, t)
        for task, strategy, method, seed in chains(config)
        for t in range(ROUNDS)
    ]


def transfer_targets():
    return [
        paths.transfer_round_file("trained.h5", EXP, e["name"], seed, t)
        for e in config["transfer"]
        for seed in config["seeds"]
        for t in range(ROUNDS)
    ]


def transfer_inputs(wildcards):
    """The source's θ0 and round-t mask (the ticket; an output of the source chain's `train`
    job of round t) and the target's θ0 (its network)."""
    _known(wildcards)
    entry = transfer_entry(config, wildcards.name)
    src, tgt = entry["source"], entry["target"]
    exp, seed = wildcards.exp, wildcards.seed
    return {
        "source_init": paths.init(exp=exp, task=src["task"], seed=seed),
        "source_mask": paths.round_file(
            "mask.h5", exp, src["task"], src["strategy"], src["method"], seed, wildcards.it
        ),
        "target_init": paths.init(exp=exp, task=tgt["task"], seed=seed),
    }


def _transfer_seeds(wildcards):
    """The transfer chains of one `transfer_seeds` job, as the wildcards of each seed's
    rule-`transfer` job."""
    return [
        types.SimpleNamespace(exp=wildcards.exp, name=wildcards.name, seed=str(seed),
                              it=wildcards.it)  # fmt: skip
        for seed in config["seeds"]
    ]


def transfer_group_files(file):
    """A round file of every seed of a transfer (a `transfer_seeds` job's outputs and logs)."""
    return [paths.transfer_round_file(file, "{exp}", "{name}", s, "{it}") for s in config["seeds"]]


def transfer_group_inputs(wildcards):
    """transfer_inputs of every seed, named ``<input>_<seed>``."""
    return {
        f"{name}_{w.seed}": path
        for w in _transfer_seeds(wildcards)
        for name, path in transfer_inputs(w).items()
    }


def transfer_group_members(wildcards):
    """`evotickets transfer-group --members`: per seed, the `transfer` verb's arguments of
    rule `transfer` (its settings, inputs, output and log), as JSON."""
    return json.dumps([
        {
            "settings": transfer_json(w),
            "round": int(w.it),
            **transfer_inputs(w),
            "out": paths.transfer_round_file("trained.h5", w.exp, w.name, w.seed, w.it),
            "log": paths.transfer_round_file("transfer.log", w.exp, w.name, w.seed, w.it),
        }
        for w in _transfer_seeds(wildcards)
    ])  # fmt: skip


#: A round's inputs (mask_inputs) → the `round` verb's argument each is passed as: the
#: one table of both the one-chain rule's flags and the group job's member JSON.
ROUND_INPUT_ARGS = {"init": "init", "prev": "prev_trained", "source": "source_mask",
                    "rewind": "rewind_from", "round0": "round0_from"}  # fmt: skip


def _round_input_arg(name):
    if name not in ROUND_INPUT_ARGS:
        raise ValueError(f"mask_inputs gives an input {name!r} that ROUND_INPUT_ARGS lacks")
    return ROUND_INPUT_ARGS[name]


def mask_inputs(wildcards):
    """Inputs of a round's `train` job: θ0, and what its mask is made from."""
    w = wildcards
    inputs = {"init": paths.init(exp=w.exp, task=w.task, seed=w.seed)}
    t, method = int(w.it), PRUNING_METHODS[w.method]
    if method.permutes_magnitude_mask:
        # the permutation controls shuffle the magnitude ticket of the same round: an output
        # of the magnitude chain's `train` job of that round
        inputs["source"] = paths.round_file(
            "mask.h5", w.exp, w.task, w.strategy, PERMUTED_METHOD, w.seed, w.it
        )
    elif t > 0 and method.reads_previous_round:
        inputs["prev"] = paths.round_file(
            "trained.h5", w.exp, w.task, w.strategy, w.method, w.seed, t - 1
        )
    donor = _ROUND0_DONOR[w.task, w.strategy]
    if t == 0 and adopts_round0(w.method, donor) and _copies_round0(w):
        # round 0 is trained once per (task, strategy, seed), by the donor's chain
        inputs["round0"] = paths.round_file(
            "trained.h5", w.exp, w.task, w.strategy, donor, w.seed, 0
        )
    if t > 0 and task_rewind(config, w.task):  # late rewinding: round 0 holds the start
        inputs["rewind"] = paths.round_file(
            "trained.h5", w.exp, w.task, w.strategy, w.method, w.seed, 0
        )
    return inputs


def _copies_round0(w):
    """Whether this chain's round 0 is a copy of its donor chain's (``--round0-from``).

    A round 0 that exists keeps the inputs it was made with (trained by the chain itself
    before round 0 was shared, or a copy), so that Snakemake does not rerun it, and every
    round after it, for an input set that changed. A new one is a copy, except where the
    copy would make this chain's whole job wait for the donor's whole chain: under a
    profile that makes every round of a chain one job (profiles/slurm-chain), a job starts
    only once every input it does not make itself is there, so the donor's round 0 would be
    there only when the donor's job had trained all its rounds. The chain then trains its
    round 0 itself, the same numbers bitwise, one round more of compute, instead of one
    chain length more of waiting. (`seeds_and_methods` puts donor and copies in one job.)"""
    kind = _round0_kind(
        paths.round_file("trained.h5", w.exp, w.task, w.strategy, w.method, w.seed, 0)
    )
    if kind is not None:
        return kind == "copy"
    chain_jobs = "train" in workflow.group_settings.overwrite_groups
    return not chain_jobs or GROUP_CHAINS == "seeds_and_methods"


@functools.cache
def _round0_kind(path):
    """"own" (trained by its chain), "copy" (``round0_from``) or None (not there) for a
    round 0 at ``path``, read once per Snakemake run (the input and params functions of a
    group job ask for every member, and a file made during the run reads as not there)."""
    if not os.path.exists(path):
        return None
    import h5py

    from evotickets.artifacts import ROUND0_FROM_ATTR

    try:
        with h5py.File(path, "r") as f:
            return "copy" if ROUND0_FROM_ATTR in f.attrs else "own"
    except OSError:  # unreadable: its job reruns, as a copy of the donor's
        return "copy"


def mask_sources(wildcards, input):
    """`evotickets mask`'s arguments for what the mask is made from (see mask_inputs): one
    params function, not one per flag, since Snakemake evaluates each once per job. θ0
    (``init``) has its own flag in the rule."""
    given = [name for name in input.keys() if name != "init"]
    return " ".join(
        f"--{_round_input_arg(name).replace('_', '-')} {getattr(input, name)}"
        for name in sorted(given, key=list(ROUND_INPUT_ARGS).index)
    )


def group_chains(wildcards, fixed=None):
    """The chains of one group job, as the wildcards of each chain's rule-`train` job: every
    seed of the (task, strategy, method) (rule `train_seeds`), or every method and seed of
    the (task, strategy) (rules `train_pairs_<task>_<strategy>`, whose paths fix the
    experiment, task and strategy: ``fixed``)."""
    w = {**(fixed or {}), **dict(wildcards.items())}
    task, strategy = w["task"], w["strategy"]
    methods = [w["method"]] if "method" in w else _TASK_METHODS[task, strategy]
    return [
        types.SimpleNamespace(exp=w["exp"], task=task, strategy=strategy, method=method,
                              seed=str(seed), it=w["it"])  # fmt: skip
        for method in methods
        for seed in config["seeds"]
    ]


def group_files(file, methods=("{method}",), fixed=None):
    """A round file of every chain of a group job (its outputs and logs), as patterns, with
    the names ``fixed`` (exp, task, strategy) written in instead of wildcards."""
    f = {"exp": "{exp}", "task": "{task}", "strategy": "{strategy}", **(fixed or {})}
    return [
        paths.round_file(file, f["exp"], f["task"], f["strategy"], method, seed, "{it}")
        for method in methods
        for seed in config["seeds"]
    ]


def group_rules():
    """The group rules of resources.group_chains (prune.smk), as (rule name, the names its
    paths fix, methods of its outputs, its group.log, chains per job).

    `seeds_and_methods` has one rule per (task, strategy), its paths naming the experiment,
    task and strategy instead of wildcards. Why: Snakemake finds the rule that makes a file
    by the constant start of each output pattern, then tries each candidate's patterns as
    regular expressions. With the experiment a wildcard right after `results/`, every group
    rule's ~100 patterns were candidates for every file: 40 million regex matches, and 102 s
    for the paper grid's dry run against 60 s now (2026-12-02, README), where a constant
    start leaves one rule's patterns of one chain."""
    seeds = len(config["seeds"])
    if GROUP_CHAINS == "seeds":
        return [("train_seeds", {}, ("{method}",), paths.seeds_round_file("group.log"), seeds)]
    return [
        (f"train_pairs_{task}_{strategy}", {"exp": EXP, "task": task, "strategy": strategy},
         methods, paths.strategy_round_file("group.log", EXP, task, strategy),
         seeds * len(methods))  # fmt: skip
        for (task, strategy), methods in sorted(_TASK_METHODS.items())
    ]


def train_overrides_reach_group_rules():
    """`--set-resources train:…` (and `transfer:…`), the per-round overrides README names,
    applied to the group rules that train those rounds under resources.group_chains
    (`train_seeds` or each `train_pairs_<task>_<strategy>`; `transfer_seeds`), which
    Snakemake would otherwise leave without a word: their jobs then asked for the config's
    runtime and no GPU model. A runtime is per round of one chain, so a group job asks for
    it times its chains, as it does for resources.runtime (unless resources.group_runtime
    sets the group's own). An override naming the group rule itself wins. Why here (the
    overrides are Snakemake's, read when this file is): a profile names rules, as
    chain_job_group's `train` grouping does."""
    from snakemake.resources import Resource, Resources

    overrides = workflow.resource_settings.overwrite_resources
    if GROUP_CHAINS == "none":
        return
    targets = [("train", name, chains) for name, _, _, _, chains in group_rules()]
    targets.append(("transfer", "transfer_seeds", len(config["seeds"])))
    group_rule = "train_seeds" if GROUP_CHAINS == "seeds" else "train_pairs_<task>_<strategy>"
    for source, name, chains in targets:
        given = dict(overrides[source].items()) if source in overrides else {}
        own = dict(overrides[name].items()) if name in overrides else {}
        if not given:
            continue
        runtime = given.pop("runtime", None)
        if runtime is not None and "runtime" not in own and not RES["group_runtime"]:
            if runtime.is_evaluable():  # e.g. attempt*60: no number to scale here
                named = group_rule if source == "train" else name
                print(
                    f"evotickets: --set-resources {source}:runtime is an expression, which "
                    f"cannot be scaled to this config's group jobs ({chains} chains each "
                    f"under resources.group_chains: {GROUP_CHAINS}), so they keep the "
                    f"config's runtime × chains; give it in minutes, or set {named}:runtime "
                    "for the whole group job",
                    file=sys.stderr,
                )
            else:
                given["runtime"] = Resource("runtime", int(runtime.value) * chains)
        # resources.group_runtime is the group job's own: a per-round runtime does not
        # replace it (nor one the group rule is given by name)
        overrides[name] = Resources({**given, **own})


train_overrides_reach_group_rules()


def chain_job_group(fixed):
    """The job group of each group_rules entry, as a function of a job's wildcards. When the
    profile groups rule `train` into one job per chain (profiles/slurm-chain), every round
    of one set of chains is one job too, for `seeds` one per (experiment, task, strategy,
    method), for `seeds_and_methods` one per (experiment, task, strategy); else no group.

    Why a function: a profile names rules, and the `seeds_and_methods` rules are one per
    (task, strategy), so the profile's grouping of `train` stands for them; Snakemake knows
    the profile's groups only once it builds the DAG, after this file is read. Each name is
    registered under its pattern, as Snakemake does for a group given as a pattern, so that
    the profile's `group-components` can name the pattern (the `random` chains' rounds are
    independent components). Snakemake applies groups only where jobs leave this machine
    (and in dry runs), so a local run is unchanged."""
    pattern = "chains_{exp}_{task}_{strategy}" + ("_{method}" if GROUP_CHAINS == "seeds" else "")

    def group(wildcards):
        if "train" not in workflow.group_settings.overwrite_groups:
            return None
        name = pattern.format(**{**fixed, **wildcards})
        workflow.parent_groupids[name] = pattern
        return name

    return group


def _member_file(file, w):
    return paths.round_file(file, w.exp, w.task, w.strategy, w.method, w.seed, w.it)


def group_inputs(wildcards, fixed=None):
    """mask_inputs of every chain of the group, named ``<input>_<method>_<seed>``, but for
    those the group job makes itself (a permutation control's magnitude mask, a round-0
    donor's round): the verb trains those members first."""
    members = group_chains(wildcards, fixed)
    _known(members[0])
    made = {_member_file(f, w) for w in members for f in ("mask.h5", "trained.h5")}
    return {
        f"{name}_{w.method}_{w.seed}": path
        for w in members
        for name, path in mask_inputs(w).items()
        if path not in made
    }


def group_members(wildcards, fixed=None):
    """`evotickets round-group --members`: per chain, the `round` verb's arguments of rule
    `train` (its settings, inputs, outputs and logs), as JSON."""
    members = []
    for w in group_chains(wildcards, fixed):
        member = {
            "settings": chain_json(w),
            "round": int(w.it),
            "mask_out": _member_file("mask.h5", w),
            "mask_log": _member_file("mask.log", w),
            "out": _member_file("trained.h5", w),
            "log": _member_file("train.log", w),
        }
        for name, path in mask_inputs(w).items():
            member[_round_input_arg(name)] = path
        members.append(member)
    return json.dumps(members)


def seed_rounds(wildcards, seed):
    """trained.h5 of every round of one chain, in round order."""
    w = wildcards
    return [
        paths.round_file("trained.h5", w.exp, w.task, w.strategy, w.method, seed, t)
        for t in range(ROUNDS)
    ]


def chain_rounds(wildcards):
    return seed_rounds(wildcards, wildcards.seed)


def analysis_targets():
    """Every analysis artifact the config's `analyses` block asks for."""
    return [
        target
        for name in ANALYSES
        for target in analysis_artifacts(config, name)
    ]


def transfer_source(wildcards, what):
    """The source chain of a transfer: its θ0, its trained rounds, or its settings."""
    src, exp, seed = transfer_entry(config, wildcards.name)["source"], wildcards.exp, wildcards.seed
    if what == "init":
        return paths.init(exp=exp, task=src["task"], seed=seed)
    if what == "rounds":
        return [
            paths.round_file("trained.h5", exp, src["task"], src["strategy"], src["method"], seed, t)
            for t in range(ROUNDS)
        ]
    return _settings_json("chain", src["task"], src["strategy"], src["method"], int(wildcards.seed))

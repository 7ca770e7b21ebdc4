import json

from snakemake.utils import validate

from evotickets.config import (
    SCHEMA_PATH,
    chain_methods,
    chain_settings,
    chain_strategies,
    init_settings,
    transfer_settings,
    validate_config,
)


# The embedded default, only when no --configfile was given: Snakemake merges nested dicts,
# so loading it under config/paper.yaml would add the digits task to the paper grid.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


# Names with a did-you-mean first, then Snakemake's own schema validation (defaults filled).
config.update(validate_config(config))
validate(config, SCHEMA_PATH)

EXP = config["experiment"]
ROUNDS = int(config["rounds"])
JAX_CACHE = config.get("jax_cache_dir") or "results/.jax-cache"
RES = config["resources"]


wildcard_constraints:
    exp=r"[A-Za-z0-9_.-]+",
    task=r"[a-z_]+",
    strategy=r"[a-z_]+",
    method=r"[a-z_]+",
    seed=r"\d+",
    it=r"\d\d",
    name=r"[a-z0-9_]+",


def _known(wildcards):
    """Fail with a clear message when a requested path names something not in the config."""
    strategy = getattr(wildcards, "strategy", None)
    methods = config["methods"]
    if strategy in chain_strategies(config):
        methods = chain_methods(config, strategy)
    for kind, value, allowed in (
        ("experiment", wildcards.exp, [EXP]),
        ("task", getattr(wildcards, "task", None), list(config["tasks"])),
        ("strategy", strategy, chain_strategies(config)),
        ("method", getattr(wildcards, "method", None), methods),
        ("transfer", getattr(wildcards, "name", None), [e["name"] for e in config["transfer"]]),
    ):
        if value is not None and value not in allowed:
            why = " (snr is undefined for gradient descent)" if kind == "method" else ""
            raise ValueError(
                f"{kind} {value!r} in the requested path is not in the config{why} "
                f"(allowed: {allowed}); add it to the config or fix the path"
            )
    if hasattr(wildcards, "it") and int(wildcards.it) >= ROUNDS:
        raise ValueError(f"iteration {wildcards.it} ≥ rounds ({ROUNDS}); raise `rounds`")


def chain_json(wildcards):
    _known(wildcards)
    settings = chain_settings(
        config, wildcards.task, wildcards.strategy, wildcards.method, int(wildcards.seed)
    )
    return json.dumps(settings, sort_keys=True)


def init_json(wildcards):
    _known(wildcards)
    return json.dumps(init_settings(config, wildcards.task, int(wildcards.seed)), sort_keys=True)



def transfer_json(wildcards):
    _known(wildcards)
    return json.dumps(transfer_settings(config, wildcards.name, int(wildcards.seed)), sort_keys=True)


def all_round_targets():
    """Every round of every chain: ES strategies × methods, GD strategies × methods but snr."""
    return [
        path
        for strategy in chain_strategies(config)
        for path in expand(
            "results/{exp}/{task}/{strategy}/{method}/seed{seed}/iter{it}/trained.h5",
            exp=EXP,
            task=list(config["tasks"]),
            strategy=[strategy],
            method=chain_methods(config, strategy),
            seed=config["seeds"],
            it=[f"{t:02d}" for t in range(ROUNDS)],
        )
    ]


def transfer_targets():
    return expand(
        "results/{exp}/transfer/{name}/seed{seed}/iter{it}/trained.h5",
        exp=EXP,
        name=[e["name"] for e in config["transfer"]],
        seed=config["seeds"],
        it=[f"{t:02d}" for t in range(ROUNDS)],
    )


def transfer_inputs(wildcards):
    """The source's θ0 and round-t mask (the ticket) and the target's θ0 (its network)."""
    _known(wildcards)
    entry = next(e for e in config["transfer"] if e["name"] == wildcards.name)
    src, tgt = entry["source"], entry["target"]
    return {
        "source_init": f"results/{wildcards.exp}/{src['task']}/seed{wildcards.seed}/init.h5",
        "source_mask": (
            f"results/{wildcards.exp}/{src['task']}/{src['strategy']}/{src['method']}/"
            f"seed{wildcards.seed}/iter{wildcards.it}/mask.h5"
        ),
        "target_init": f"results/{wildcards.exp}/{tgt['task']}/seed{wildcards.seed}/init.h5",
    }


def mask_inputs(wildcards):
    inputs = {"init": "results/{exp}/{task}/seed{seed}/init.h5".format(**wildcards)}
    t = int(wildcards.it)
    if wildcards.method in ("weight_permuted", "mask_permuted"):
        # the permutation controls shuffle the magnitude ticket of the same round
        inputs["source"] = (
            "results/{exp}/{task}/{strategy}/magnitude/seed{seed}/iter{it}/mask.h5".format(
                **wildcards
            )
        )
    elif t > 0 and wildcards.method != "random":
        inputs["prev"] = "results/{exp}/{task}/{strategy}/{method}/seed{seed}/iter{prev:02d}/trained.h5".format(
            prev=t - 1, **wildcards
        )
    return inputs

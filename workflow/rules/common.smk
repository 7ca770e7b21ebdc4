import json
import os

from snakemake.utils import validate

from evotickets.config import SCHEMA_PATH, chain_settings, init_settings, validate_config


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

# A config that asks for GPUs makes `evotickets train` refuse to run without one (see
# evotickets.platform); jobs inherit this, locally and through sbatch's --export=ALL.
if RES["gpu"] > 0:
    os.environ.setdefault("EVOTICKETS_PLATFORM", "gpu")


wildcard_constraints:
    exp=r"[A-Za-z0-9_.-]+",
    task=r"[a-z_]+",
    strategy=r"[a-z_]+",
    method=r"[a-z_]+",
    seed=r"\d+",
    it=r"\d\d",


def _known(wildcards):
    """Fail with a clear message when a requested path names something not in the config."""
    for kind, value, allowed in (
        ("experiment", wildcards.exp, [EXP]),
        ("task", wildcards.task, list(config["tasks"])),
        ("strategy", getattr(wildcards, "strategy", None), list(config["strategies"])),
        ("method", getattr(wildcards, "method", None), config["methods"]),
    ):
        if value is not None and value not in allowed:
            raise ValueError(
                f"{kind} {value!r} in the requested path is not in the config "
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



def all_round_targets():
    return expand(
        "results/{exp}/{task}/{strategy}/{method}/seed{seed}/iter{it}/trained.h5",
        exp=EXP,
        task=list(config["tasks"]),
        strategy=list(config["strategies"]),
        method=config["methods"],
        seed=config["seeds"],
        it=[f"{t:02d}" for t in range(ROUNDS)],
    )


def mask_inputs(wildcards):
    inputs = {"init": "results/{exp}/{task}/seed{seed}/init.h5".format(**wildcards)}
    t = int(wildcards.it)
    if t > 0 and wildcards.method != "random":
        inputs["prev"] = "results/{exp}/{task}/{strategy}/{method}/seed{seed}/iter{prev:02d}/trained.h5".format(
            prev=t - 1, **wildcards
        )
    return inputs

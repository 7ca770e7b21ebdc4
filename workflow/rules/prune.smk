# The iterative pruning chain, one job per round (rule `train`: `evotickets round`, which makes
# the mask as `evotickets mask` does, then trains it as `evotickets train` does, in one process
# so a round pays one Python/JAX start, not two; both files are its outputs):
#   init.h5 ─▶ [iter00/mask.h5 ─▶ iter00/trained.h5] ─▶ [iter01/mask.h5 ─▶ ...] ─▶ ...
# Making the mask is ~1 s, so it shares the round's job (and its resources) instead of being a
# job, and on SLURM an sbatch job, of its own. The random baseline's mask needs only θ0 and the
# round number, so its rounds do not wait for each other. The permutation controls
# (weight_permuted, mask_permuted) shuffle the magnitude chain's mask of the same round, so they
# wait for that round's job of the magnitude chain. The gd_* strategies train with gradient
# descent instead of an ES (same rules, same CLI verb). Round 0 is trained by one method's
# chain per (task, strategy, seed) and copied by the others (common.smk: mask_inputs).
# With resources.group_chains, one job trains round t of several chains instead (below).


rule init:
    output:
        paths.init(),
    log:
        paths.init("init.log"),
    params:
        settings=init_json,
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    shell:
        "{EVOTICKETS} init --settings {params.settings:q} --out {output} > {log} 2>&1"


if GROUP_CHAINS == "none":

    rule train:
        input:
            unpack(mask_inputs),
        output:
            # update(): Snakemake must not delete a round whose job was killed after its last
            # write but before Snakemake recorded it; the verb keeps a round whose files are
            # complete and newer than its inputs
            mask=update(paths.round_file("mask.h5")),
            trained=update(paths.round_file("trained.h5")),
        log:
            mask=paths.round_file("mask.log"),
            train=paths.round_file("train.log"),
        params:
            settings=chain_json,
            sources=mask_sources,
        threads: RES["threads"]
        resources:
            mem_mb=RES["mem_mb"],
            runtime=RES["runtime"],
            gpu=RES["gpu"],
        shell:
            "{EVOTICKETS} round --settings {params.settings:q} --round {wildcards.it} "
            "--init {input.init} {params.sources} --jax-cache {JAX_CACHE} "
            "--mask-out {output.mask} --mask-log {log.mask} "
            "--out {output.trained} > {log.train} 2>&1"

else:

    # Round t of several chains in one job and one process (`evotickets round-group`): each
    # chain is the `round` verb of rule `train`, with the same files, logs and checkpoints,
    # bitwise; the group's own output goes to group.log. `seeds`: every seed of one (task,
    # strategy, method), rule `train_seeds`. `seeds_and_methods`: every method and seed of one
    # (task, strategy), one rule `train_pairs_<task>_<strategy>` each (common.smk:
    # group_rules), since a rule's outputs are the same for all its jobs. Members that read
    # another member's output (a permutation control, a round-0 copy) run after it.
    for _name, _fixed, _methods, _group_log, _chains in group_rules():

        rule:
            name:
                _name
            input:
                unpack(lambda wildcards, fixed=_fixed: group_inputs(wildcards, fixed)),
            output:
                # update(): Snakemake must not delete the chains a killed job had finished;
                # the verb keeps a chain whose files are complete and newer than its inputs
                mask=update(group_files("mask.h5", _methods, _fixed)),
                trained=update(group_files("trained.h5", _methods, _fixed)),
            log:
                mask=group_files("mask.log", _methods, _fixed),
                train=group_files("train.log", _methods, _fixed),
                group=_group_log,
            params:
                members=lambda wildcards, fixed=_fixed: group_members(wildcards, fixed),
                program=GROUP_PROGRAM,
            group:
                chain_job_group(_fixed)
            threads: RES["threads"]
            resources:
                mem_mb=RES["mem_mb"],
                runtime=group_runtime_resource(_fixed, _methods, _chains),
                gpu=RES["gpu"],
            shell:
                "{EVOTICKETS} round-group --members {params.members:q} "
                "--jax-cache {JAX_CACHE}{params.program} > {log.group} 2>&1"


rule accuracy_table:
    input:
        this_experiment,
        all_round_targets(),
        transfer_targets(),
    output:
        report(
            paths.experiment_file("accuracy_table.txt"),
            caption="../report/accuracy_table.rst",
            category="Tables",
        ),
    log:
        paths.experiment_file("accuracy_table.log"),
    params:
        config=REPORT_CONFIG,
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    shell:
        f"{{EVOTICKETS}} table {EXPERIMENT_DIR} --config-json {{params.config:q}} "
        "--out {output} > {log} 2>&1"

# Ticket transfer: the mask of round t of a source chain (with the source's θ0) retrained in a
# target setting, for every round and seed of each `transfer:` entry of the config:
#   results/<exp>/transfer/<name>/seed<k>/iter<tt>/trained.h5
# Its comparisons, the target's own tickets (snr, random, ...), are chains of the main grid.

# With resources.group_chains (seeds or seeds_and_methods), one job trains round t of every seed
# of a transfer instead (below), as the chains' rounds are grouped.


if GROUP_CHAINS == "none":

    rule transfer:
        input:
            unpack(transfer_inputs),
        output:
            # update(), as rule train's: a forced or rerun job that fails must not have cost
            # the finished round (Snakemake deleted it first); the verb keeps a current one
            update(paths.transfer_round_file("trained.h5")),
        log:
            paths.transfer_round_file("transfer.log"),
        params:
            settings=transfer_json,
        threads: RES["threads"]
        resources:
            mem_mb=RES["mem_mb"],
            runtime=RES["runtime"],
            gpu=RES["gpu"],
        shell:
            "{EVOTICKETS} transfer --settings {params.settings:q} --round {wildcards.it} "
            "--source-init {input.source_init} --source-mask {input.source_mask} "
            "--target-init {input.target_init} --jax-cache {JAX_CACHE} --out {output} "
            "> {log} 2>&1"

else:

    # Round t of every seed of a transfer in one job and one process (`evotickets
    # transfer-group`): each seed is the `transfer` verb of rule `transfer`, with the same
    # files and logs, bitwise; the group's own output goes to group.log.
    rule transfer_seeds:
        input:
            unpack(transfer_group_inputs),
        output:
            # update(): Snakemake must not delete the seeds a killed job had finished
            update(transfer_group_files("trained.h5")),
        log:
            transfer=transfer_group_files("transfer.log"),
            group=paths.transfer_seeds_round_file("group.log"),
        params:
            members=transfer_group_members,
            program=GROUP_PROGRAM,
        threads: RES["threads"]
        resources:
            mem_mb=RES["mem_mb"],
            runtime=transfer_group_runtime,
            gpu=RES["gpu"],
        shell:
            "{EVOTICKETS} transfer-group --members {params.members:q} "
            "--jax-cache {JAX_CACHE}{params.program} > {log.group} 2>&1"

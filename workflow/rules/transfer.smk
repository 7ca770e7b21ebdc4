# Ticket transfer: the mask of round t of a source chain (with the source's θ0) retrained in a
# target setting, for every round and seed of each `transfer:` entry of the config:
#   results/<exp>/transfer/<name>/seed<k>/iter<tt>/trained.h5
# Its comparisons, the target's own tickets (snr, random, ...), are chains of the main grid.


rule transfer:
    input:
        unpack(transfer_inputs),
    output:
        paths.transfer_round_file("trained.h5"),
    log:
        paths.transfer_round_file("transfer.log"),
    params:
        settings=transfer_json,
        cache=JAX_CACHE,
    threads: RES["threads"]
    resources:
        mem_mb=RES["mem_mb"],
        runtime=RES["runtime"],
        gpu=RES["gpu"],
    shell:
        "{EVOTICKETS} transfer --settings {params.settings:q} --round {wildcards.it} "
        "--source-init {input.source_init} --source-mask {input.source_mask} "
        "--target-init {input.target_init} --jax-cache {params.cache} --out {output} "
        "> {log} 2>&1"

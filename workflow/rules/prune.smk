# The iterative pruning chain:
#   init.h5 ─▶ iter00/mask.h5 ─▶ iter00/trained.h5 ─▶ iter01/mask.h5 ─▶ ...
# The random baseline's mask needs only θ0 and the round number, so its rounds do not wait
# for each other. The permutation controls (weight_permuted, mask_permuted) shuffle the magnitude
# chain's mask of the same round, so they wait for that mask only. The gd_* strategies train
# with gradient descent instead of an ES (same rules, same CLI verb).


rule init:
    output:
        "results/{exp}/{task}/seed{seed}/init.h5",
    log:
        "results/{exp}/{task}/seed{seed}/init.log",
    params:
        settings=init_json,
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    shell:
        "evotickets init --settings {params.settings:q} --out {output} > {log} 2>&1"


rule mask:
    input:
        unpack(mask_inputs),
    output:
        "results/{exp}/{task}/{strategy}/{method}/seed{seed}/iter{it}/mask.h5",
    log:
        "results/{exp}/{task}/{strategy}/{method}/seed{seed}/iter{it}/mask.log",
    params:
        settings=chain_json,
        prev=lambda wc, input: f"--prev-trained {input.prev}" if "prev" in input.keys() else "",
        source=lambda wc, input: (
            f"--source-mask {input.source}" if "source" in input.keys() else ""
        ),
        cache=JAX_CACHE,
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    shell:
        "evotickets mask --settings {params.settings:q} --round {wildcards.it} "
        "--init {input.init} {params.prev} {params.source} --jax-cache {params.cache} "
        "--out {output} "
        "> {log} 2>&1"


rule train:
    input:
        init="results/{exp}/{task}/seed{seed}/init.h5",
        mask="results/{exp}/{task}/{strategy}/{method}/seed{seed}/iter{it}/mask.h5",
    output:
        "results/{exp}/{task}/{strategy}/{method}/seed{seed}/iter{it}/trained.h5",
    log:
        "results/{exp}/{task}/{strategy}/{method}/seed{seed}/iter{it}/train.log",
    params:
        settings=chain_json,
        cache=JAX_CACHE,
    threads: RES["threads"]
    resources:
        mem_mb=RES["mem_mb"],
        runtime=RES["runtime"],
        gpu=RES["gpu"],
    shell:
        "evotickets train --settings {params.settings:q} --round {wildcards.it} "
        "--init {input.init} --mask {input.mask} --jax-cache {params.cache} "
        "--out {output} > {log} 2>&1"


rule accuracy_table:
    input:
        all_round_targets(),
        transfer_targets(),
    output:
        "results/{exp}/accuracy_table.txt",
    log:
        "results/{exp}/accuracy_table.log",
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    shell:
        "evotickets table results/{wildcards.exp} --out {output} > {log} 2>&1"

# Analyses: each reads finished trained.h5 artifacts and writes one HDF5 artifact; nothing is
# retrained. Which chains they cover is set by the config's `analyses` block.


rule lmc_consecutive:
    input:
        init="results/{exp}/{task}/seed{seed}/init.h5",
        trained=chain_rounds,
    output:
        "results/{exp}/{task}/{strategy}/{method}/seed{seed}/analysis/lmc_consecutive.h5",
    log:
        "results/{exp}/{task}/{strategy}/{method}/seed{seed}/analysis/lmc_consecutive.log",
    params:
        settings=chain_json,
        opts=lambda wc: json.dumps(analysis_options(config, "lmc")),
        left=lambda wc, input: " ".join(input.trained[:-1]),
        right=lambda wc, input: " ".join(input.trained[1:]),
        cache=JAX_CACHE,
    threads: RES["threads"]
    resources:
        mem_mb=RES["mem_mb"],
        runtime=RES["runtime"],
        gpu=RES["gpu"],
    shell:
        "{EVOTICKETS} lmc --kind consecutive --settings {params.settings:q} "
        "--analysis {params.opts:q} --init {input.init} --left {params.left} "
        "--right {params.right} --jax-cache {params.cache} --out {output} > {log} 2>&1"


rule lmc_seeds:
    input:
        init=lambda wc: f"results/{wc.exp}/{wc.task}/seed{config['seeds'][0]}/init.h5",
        left=lambda wc: seed_rounds(wc, config["seeds"][0]),
        right=lambda wc: seed_rounds(wc, config["seeds"][1]),
    output:
        "results/{exp}/{task}/{strategy}/{method}/analysis/lmc_seeds.h5",
    log:
        "results/{exp}/{task}/{strategy}/{method}/analysis/lmc_seeds.log",
    params:
        settings=lambda wc: chain_json(wc, seed=config["seeds"][0]),
        opts=lambda wc: json.dumps(analysis_options(config, "lmc")),
        cache=JAX_CACHE,
    threads: RES["threads"]
    resources:
        mem_mb=RES["mem_mb"],
        runtime=RES["runtime"],
        gpu=RES["gpu"],
    shell:
        "{EVOTICKETS} lmc --kind seeds --settings {params.settings:q} "
        "--analysis {params.opts:q} --init {input.init} --left {input.left} "
        "--right {input.right} --jax-cache {params.cache} --out {output} > {log} 2>&1"


rule landscape:
    input:
        init="results/{exp}/{task}/seed{seed}/init.h5",
        trained=chain_rounds,
    output:
        "results/{exp}/{task}/{strategy}/{method}/seed{seed}/analysis/landscape.h5",
    log:
        "results/{exp}/{task}/{strategy}/{method}/seed{seed}/analysis/landscape.log",
    params:
        settings=chain_json,
        opts=lambda wc: json.dumps(analysis_options(config, "landscape")),
        cache=JAX_CACHE,
    threads: RES["threads"]
    resources:
        mem_mb=RES["mem_mb"],
        runtime=RES["runtime"],
        gpu=RES["gpu"],
    shell:
        "{EVOTICKETS} landscape --settings {params.settings:q} --analysis {params.opts:q} "
        "--init {input.init} --trained {input.trained} --jax-cache {params.cache} "
        "--out {output} > {log} 2>&1"


rule weight_statistics:
    input:
        init="results/{exp}/{task}/seed{seed}/init.h5",
        trained=chain_rounds,
    output:
        "results/{exp}/{task}/{strategy}/{method}/seed{seed}/analysis/{stat}.h5",
    log:
        "results/{exp}/{task}/{strategy}/{method}/seed{seed}/analysis/{stat}.log",
    wildcard_constraints:
        stat="snr_magnitude|layerwise",
    params:
        settings=chain_json,
        verb=lambda wc: wc.stat.replace("_", "-"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        "{EVOTICKETS} {params.verb} --settings {params.settings:q} --init {input.init} "
        "--trained {input.trained} --out {output} > {log} 2>&1"


rule lmc_es_gd:
    input:
        init=lambda wc: transfer_source(wc, "init"),
        left=lambda wc: transfer_source(wc, "rounds"),
        right=lambda wc: [
            f"results/{wc.exp}/transfer/{wc.name}/seed{wc.seed}/iter{t:02d}/trained.h5"
            for t in range(ROUNDS)
        ],
    output:
        "results/{exp}/transfer/{name}/seed{seed}/analysis/lmc_es_gd.h5",
    log:
        "results/{exp}/transfer/{name}/seed{seed}/analysis/lmc_es_gd.log",
    params:
        settings=lambda wc: transfer_source(wc, "settings"),
        opts=lambda wc: json.dumps(analysis_options(config, "lmc")),
        cache=JAX_CACHE,
    threads: RES["threads"]
    resources:
        mem_mb=RES["mem_mb"],
        runtime=RES["runtime"],
        gpu=RES["gpu"],
    shell:
        "{EVOTICKETS} lmc --kind es_gd --settings {params.settings:q} "
        "--analysis {params.opts:q} --init {input.init} --left {input.left} "
        "--right {input.right} --jax-cache {params.cache} --out {output} > {log} 2>&1"

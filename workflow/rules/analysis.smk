# Analyses: each reads finished trained.h5 artifacts and writes one HDF5 artifact; nothing is
# retrained. Which chains they cover is set by the config's `analyses` block.


rule lmc_consecutive:
    input:
        init=paths.init(),
        trained=chain_rounds,
    output:
        paths.chain_analysis(analysis_file("lmc", "consecutive")),
    log:
        paths.chain_analysis(analysis_file("lmc", "consecutive", ".log")),
    params:
        settings=chain_json,
        opts=LMC_OPTIONS,
        left=lambda wc, input: " ".join(input.trained[:-1]),
        right=lambda wc, input: " ".join(input.trained[1:]),
    threads: RES["threads"]
    resources:
        mem_mb=RES["mem_mb"],
        runtime=RES["runtime"],
        gpu=RES["gpu"],
    shell:
        "{EVOTICKETS} lmc --kind consecutive --settings {params.settings:q} "
        "--analysis {params.opts:q} --init {input.init} --left {params.left} "
        "--right {params.right} --jax-cache {JAX_CACHE} --out {output} > {log} 2>&1"


rule lmc_seeds:
    input:
        init=lambda wc: paths.init(exp=wc.exp, task=wc.task, seed=lmc_seed(0)),
        left=lambda wc: seed_rounds(wc, lmc_seed(0)),
        right=lambda wc: seed_rounds(wc, lmc_seed(1)),
    output:
        paths.seeds_analysis(analysis_file("lmc", "seeds")),
    log:
        paths.seeds_analysis(analysis_file("lmc", "seeds", ".log")),
    params:
        settings=lambda wc: chain_json(wc, seed=lmc_seed(0)),
        right_settings=lambda wc: chain_json(wc, seed=lmc_seed(1)),
        opts=LMC_OPTIONS,
    threads: RES["threads"]
    resources:
        mem_mb=RES["mem_mb"],
        runtime=RES["runtime"],
        gpu=RES["gpu"],
    shell:
        "{EVOTICKETS} lmc --kind seeds --settings {params.settings:q} "
        "--analysis {params.opts:q} --init {input.init} --left {input.left} "
        "--right {input.right} --right-settings {params.right_settings:q} "
        "--jax-cache {JAX_CACHE} --out {output} > {log} 2>&1"


rule landscape:
    input:
        init=paths.init(),
        trained=chain_rounds,
    output:
        paths.chain_analysis(analysis_file("landscape")),
    log:
        paths.chain_analysis(analysis_file("landscape", suffix=".log")),
    params:
        settings=chain_json,
        # the typed options: with how the directions are drawn (settings.LANDSCAPE_DRAWS)
        opts=lambda wc: LandscapeOptions.from_dict(analysis_options(config, "landscape")).to_json(),
    threads: RES["threads"]
    resources:
        mem_mb=RES["mem_mb"],
        runtime=RES["runtime"],
        gpu=RES["gpu"],
    shell:
        "{EVOTICKETS} landscape --settings {params.settings:q} --analysis {params.opts:q} "
        "--init {input.init} --trained {input.trained} --jax-cache {JAX_CACHE} "
        "--out {output} > {log} 2>&1"


rule weight_statistics:
    input:
        init=paths.init(),
        trained=chain_rounds,
    output:
        paths.chain_analysis(analysis_file("{stat}")),
    log:
        paths.chain_analysis(analysis_file("{stat}", suffix=".log")),
    wildcard_constraints:
        stat="|".join(WEIGHT_STATISTICS),
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
            paths.transfer_round_file("trained.h5", wc.exp, wc.name, wc.seed, t)
            for t in range(ROUNDS)
        ],
    output:
        paths.transfer_analysis(analysis_file("lmc", "es_gd")),
    log:
        paths.transfer_analysis(analysis_file("lmc", "es_gd", ".log")),
    params:
        settings=lambda wc: transfer_source(wc, "settings"),
        right_settings=transfer_json,
        opts=LMC_OPTIONS,
    threads: RES["threads"]
    resources:
        mem_mb=RES["mem_mb"],
        runtime=RES["runtime"],
        gpu=RES["gpu"],
    shell:
        "{EVOTICKETS} lmc --kind es_gd --settings {params.settings:q} "
        "--analysis {params.opts:q} --init {input.init} --left {input.left} "
        "--right {input.right} --right-settings {params.right_settings:q} "
        "--jax-cache {JAX_CACHE} --out {output} > {log} 2>&1"

# The results dataset and one rule per figure. Figures read only summary.nc, so
# `snakemake --cores 1 -f --configfile <cfg> -- results/<exp>/figures/fig3.png` redraws just
# that figure, in seconds.


rule collect:
    input:
        this_experiment,
        all_round_targets(),
        transfer_targets(),
        analysis_targets(),
    output:
        paths.experiment_file("summary.nc"),
    log:
        paths.experiment_file("summary.log"),
    params:
        config=REPORT_CONFIG,
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    shell:
        f"{{EVOTICKETS}} collect {EXPERIMENT_DIR} --config-json {{params.config:q}} "
        "--out {output} > {log} 2>&1"


for _fig in FIGURE_NAMES:

    rule:
        name:
            f"figure_{_fig}"
        input:
            paths.experiment_file("summary.nc"),
        output:
            report(
                paths.figure(_fig),
                caption=f"../report/{_fig}.rst",
                category="Figures",
            ),
        log:
            paths.figure(_fig, "log"),
        params:
            name=_fig,
        threads: 1
        resources:
            mem_mb=2000,
            runtime=10,
        shell:
            "{EVOTICKETS} figure {params.name} --summary {input} --out {output} > {log} 2>&1"


# The paper's claims as paired effects with 95 % intervals, from summary.nc only.
rule claims:
    input:
        paths.experiment_file("summary.nc"),
    output:
        md=paths.experiment_file(paths.CLAIMS_MD),
        nc=paths.experiment_file(paths.CLAIMS_NC),
        html=report(
            paths.experiment_file(paths.CLAIMS_HTML),
            caption="../report/claims.rst",
            category="Claims",
        ),
    log:
        paths.experiment_file("claims.log"),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    shell:
        f"{{EVOTICKETS}} claims {EXPERIMENT_DIR} --summary {{input}} --brief > {{log}} 2>&1"

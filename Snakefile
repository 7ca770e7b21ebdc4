# evotickets: iterative pruning with evolution strategies as a resumable DAG.
# Every rule is one `evotickets` CLI call writing one HDF5 artifact; no maths lives here.
# Run:  snakemake --cores 2                 (embedded default config, CPU, minutes)
#       snakemake -n --configfile config/paper.yaml   (the paper's grid)

include: "workflow/rules/common.smk"
include: "workflow/rules/prune.smk"
include: "workflow/rules/transfer.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/report.smk"


# Every round is a requested target, not only the last: Snakemake does not recreate a missing
# intermediate whose consumers are up to date, and a researcher who deletes one round's
# trained.h5 expects that round and the ones after it to be recomputed.
rule all:
    input:
        all_round_targets(),
        transfer_targets(),
        analysis_targets(),
        paths.experiment_file("accuracy_table.txt", EXP),
        paths.experiment_file("summary.nc", EXP),
        paths.experiment_file("claims.md", EXP),
        [paths.figure(fig, exp=EXP) for fig in FIGURE_NAMES],
    default_target: True

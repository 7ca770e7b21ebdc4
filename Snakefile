# evotickets: iterative pruning with evolution strategies as a resumable DAG.
# Every rule is one `evotickets` CLI call writing one HDF5 artifact; no maths lives here.
# Run:  snakemake --cores 2                 (embedded default config, CPU, minutes)
#       snakemake -n --configfile config/paper.yaml   (the paper's grid)

include: "workflow/rules/common.smk"
include: "workflow/rules/prune.smk"


rule all:
    input:
        final_round_targets(),
        f"results/{EXP}/accuracy_table.txt",
    default_target: True

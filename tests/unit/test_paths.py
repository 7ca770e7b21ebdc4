"""evotickets.paths is the one owner of the results layout: the rules, collect and the table
read it from there, and the layout it spells is the one existing results folders have."""

from __future__ import annotations

import re
from pathlib import Path

from evotickets import paths

ROOT = Path(__file__).resolve().parents[2]


def test_templates_are_the_snakemake_wildcard_layout():
    assert paths.init() == "results/{exp}/{task}/seed{seed}/init.h5"
    assert paths.round_file("mask.h5") == (
        "results/{exp}/{task}/{strategy}/{method}/seed{seed}/iter{it}/mask.h5"
    )
    assert paths.chain_analysis("{stat}.h5") == (
        "results/{exp}/{task}/{strategy}/{method}/seed{seed}/analysis/{stat}.h5"
    )
    assert paths.seeds_analysis("lmc_seeds.h5") == (
        "results/{exp}/{task}/{strategy}/{method}/analysis/lmc_seeds.h5"
    )
    assert paths.transfer_round_file("trained.h5") == (
        "results/{exp}/transfer/{name}/seed{seed}/iter{it}/trained.h5"
    )
    # a group's log: of a chain's seeds (group_chains: seeds), of a (task, strategy)'s chains
    # (seeds_and_methods): two strategies of one task must not share one
    assert paths.seeds_round_file("group.log") == (
        "results/{exp}/{task}/{strategy}/{method}/iter{it}/group.log"
    )
    assert paths.strategy_round_file("group.log") == (
        "results/{exp}/{task}/{strategy}/iter{it}/group.log"
    )
    assert paths.transfer_seeds_round_file("group.log") == (
        "results/{exp}/transfer/{name}/iter{it}/group.log"
    )
    assert paths.transfer_analysis("lmc_es_gd.h5") == (
        "results/{exp}/transfer/{name}/seed{seed}/analysis/lmc_es_gd.h5"
    )
    assert paths.experiment_file("summary.nc") == "results/{exp}/summary.nc"
    assert paths.figure("fig3") == "results/{exp}/figures/fig3.png"


def test_concrete_paths_fill_rounds_with_two_digits_and_keep_strings():
    got = paths.round_file("trained.h5", "e", "digits", "snes", "snr", 2, 3)
    assert got == "results/e/digits/snes/snr/seed2/iter03/trained.h5"
    assert paths.iteration("07") == "07" and paths.iteration(11) == "11"
    # a round from NumPy (np.argwhere's) names the same folder: it gave iter3, no rule's path
    import numpy as np

    assert paths.iteration(np.int64(3)) == "03"
    assert (
        paths.round_file("trained.h5", "e", "digits", "snes", "snr", np.int64(2), np.int64(3))
        == got
    )
    # a root replaces results/{exp}, which is how collect reads an experiment folder
    assert paths.init(task="digits", seed=0, root=Path("/x/results/e")) == (
        "/x/results/e/digits/seed0/init.h5"
    )
    # "*" fields make a glob pattern
    assert paths.transfer_round_file("trained.h5", "e", "*", "*", "*") == (
        "results/e/transfer/*/seed*/iter*/trained.h5"
    )


def test_the_rules_and_readers_spell_no_layout_of_their_own():
    """Only evotickets.paths spells the folders; the shell commands keep their
    `results/{wildcards.exp}` argument, since editing a rule's command would make Snakemake
    rerun every job made before (its code rerun trigger)."""
    files = [
        ROOT / "Snakefile",
        *sorted((ROOT / "workflow" / "rules").glob("*.smk")),
        ROOT / "src" / "evotickets" / "analysis" / "collect.py",
        ROOT / "src" / "evotickets" / "report.py",
    ]
    spelled = re.compile(r"seed\{|iter\{|/analysis/|results/\{(?!wildcards)")
    offenders = [
        f"{f.name}:{i}: {line.strip()}"
        for f in files
        for i, line in enumerate(f.read_text().splitlines(), 1)
        if spelled.search(line) and not line.lstrip().startswith("#")
    ]
    assert offenders == []


def test_the_names_that_become_folders_have_one_pattern_for_schema_wildcards_and_checks():
    """The experiment's wildcard allowed a leading '_' the schema refused, and the schema's
    pattern text had to match NAME_PATTERNS' keys character for character to be named in
    words: each now comes from paths.EXPERIMENT_NAME / ENTRY_NAME."""
    from evotickets.config import NAME_PATTERNS, TASK_ENTRY_NAME
    from evotickets.schema import load_schema

    props = load_schema()["properties"]
    assert props["experiment"]["pattern"] == f"^{paths.EXPERIMENT_NAME}$"
    transfer_name = props["transfer"]["items"]["properties"]["name"]["pattern"]
    assert transfer_name == TASK_ENTRY_NAME.pattern == f"^{paths.ENTRY_NAME}$"
    assert set(NAME_PATTERNS) == {props["experiment"]["pattern"], transfer_name}
    smk = (Path(__file__).resolve().parents[2] / "workflow/rules/common.smk").read_text()
    constraints = smk[smk.index("wildcard_constraints:") :].split("\n\n")[0]
    for wildcard, pattern in (("exp", "EXPERIMENT_NAME"), ("task", "ENTRY_NAME"),
                              ("name", "ENTRY_NAME")):  # fmt: skip
        assert f"{wildcard}=paths.{pattern}," in constraints
    assert re.fullmatch(paths.EXPERIMENT_NAME, "digits-fidelity_2.0")
    assert not re.fullmatch(paths.EXPERIMENT_NAME, "_x") and not re.fullmatch(
        paths.ENTRY_NAME, "Digits"
    )


def test_a_transfer_round_is_known_by_its_place_not_by_a_folder_named_transfer():
    """rerun_hint told a transfer round by a path position of its own; paths owns the layout."""
    file = paths.transfer_round_file("trained.h5", "exp", "to_he", 0, 2)
    assert paths.is_transfer_round(file)
    assert paths.transfer_round_fields(file) == {"transfer_name": "to_he", "seed": "0", "round": 2}
    chain = paths.round_file("trained.h5", "transfer", "digits", "snes", "snr", 0, 2)
    assert not paths.is_transfer_round(chain)  # an experiment named transfer


def test_the_experiment_folder_of_an_artifact_is_the_one_after_the_first_results():
    """An experiment (or task) may be named results: the folder after the first `results`
    part named results/results for results/results/digits/…/trained.h5."""
    from evotickets.paths import experiment_of

    run = "results/results/digits/snes/random/seed0/iter00/trained.h5"
    assert experiment_of(run) == "results/results"
    assert experiment_of("/x/results/exp/digits/t.h5") == "/x/results/exp"
    assert experiment_of("results/exp/summary.nc") == "results/exp"
    assert experiment_of("elsewhere/exp/t.h5") is None
    assert experiment_of("results/summary.nc") is None  # no experiment folder before the file
    # a checkout under a folder named results: the first results part after the checkout
    summary = "/home/u/results/evo/results/exp/summary.nc"
    assert experiment_of(summary, cwd="/home/u/results/evo") == "/home/u/results/evo/results/exp"
    assert experiment_of(summary, cwd="/elsewhere") == "/home/u/results/evo"  # no better clue

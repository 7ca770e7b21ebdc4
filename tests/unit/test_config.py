"""Tests for evotickets.config: did-you-mean for unknown names, range checks, the shipped configs,
digests and chain settings, the safe YAML loader, and the Snakemake DAG the configs produce."""

from __future__ import annotations

import copy
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from workflow_helpers import local_env, without_training_stack

from evotickets.config import (
    ConfigError,
    analysis_chains,
    analysis_options,
    chain_settings,
    chains,
    digest,
    init_settings,
    load_config,
    read_config_file,
    validate_config,
)
from evotickets.settings import ChainSettings

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"


def _set(cfg: dict, dotted: str, value) -> None:
    *parents, leaf = dotted.split(".")
    node = cfg
    for p in parents:
        node = node[p]
    node[leaf] = value


def _rename(cfg: dict, dotted: str, new_leaf: str) -> None:
    *parents, leaf = dotted.split(".")
    node = cfg
    for p in parents:
        node = node[p]
    node[new_leaf] = node.pop(leaf)


# --- unknown names: the message names the bad name and suggests the right one -----------------


@pytest.mark.parametrize(
    ("mutate", "bad", "suggestion"),
    [
        pytest.param(lambda c: c["tasks"].update({"mnsit": {}}), "mnsit", "mnist", id="task"),
        pytest.param(
            lambda c: c["strategies"].update(
                {"sep_cmaes": {"population_size": 8, "std_init": 0.1}}
            ),
            "sep_cmaes",
            "sep_cma_es",
            id="strategy",
        ),
        pytest.param(lambda c: c["methods"].append("snrr"), "snrr", "snr", id="method"),
        pytest.param(lambda c: _rename(c, "rounds", "round"), "round", "rounds", id="top-level"),
        pytest.param(
            lambda c: _rename(c, "strategies.snes.std_init", "std_int"),
            "std_int",
            "std_init",
            id="strategy-key",
        ),
        pytest.param(
            lambda c: _rename(c, "es.num_generations", "num_generation"),
            "num_generation",
            "num_generations",
            id="es-key",
        ),
        pytest.param(
            lambda c: c["tasks"]["digits"].update({"batchsize": 32}),
            "batchsize",
            "batch_size",
            id="task-key",
        ),
        pytest.param(
            lambda c: c["tasks"]["digits"].update(
                {"strategy_overrides": {"snes": {"temprature": 3.0}}}
            ),
            "temprature",
            "temperature",
            id="override-key",
        ),
    ],
)
def test_unknown_name_suggests_the_right_one(tiny_config, mutate, bad, suggestion):
    mutate(tiny_config)
    with pytest.raises(ConfigError) as info:
        validate_config(tiny_config)
    msg = str(info.value)
    assert "unknown" in msg
    assert repr(bad) in msg
    assert f"did you mean {suggestion!r}" in msg


def test_strategy_key_valid_for_another_strategy_is_rejected(tiny_config):
    # elite_ratio is a Sep-CMA-ES key, not an SNES one
    tiny_config["strategies"]["snes"]["elite_ratio"] = 0.5
    with pytest.raises(ConfigError, match="elite_ratio") as info:
        validate_config(tiny_config)
    assert "snes" in str(info.value)
    assert "temperature" in str(info.value)  # lists what it does take


# --- ranges and cross-field checks -------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "why"),
    [
        ("prune_fraction", 0, "to a number > 0 and < 1"),
        ("prune_fraction", 1, "greater than or equal to the maximum of 1"),
        ("prune_fraction", -0.1, "less than or equal to the minimum of 0"),
        ("prune_fraction", 1.5, "to a number > 0 and < 1"),
        ("rounds", 0, "less than the minimum of 1"),
        # iter100 would match no rule's two-digit round
        ("rounds", 101, "greater than the maximum of 100"),
        ("strategies.snes.std_init", 0, "to a number > 0"),
        ("strategies.snes.std_init", -0.05, "less than or equal to the minimum of 0"),
        ("strategies.snes.population_size", 1, "less than the minimum of 2"),
        ("es.num_generations", 0, "to an integer ≥ 1"),
        ("seeds", [], "should be non-empty"),
        ("seeds", [-1], "less than the minimum of 0"),
        ("methods", [], "should be non-empty"),
        # "3" is read as 3, as `snakemake --config` passes it nested
        ("rounds", "3 rounds", "is not of type 'integer'"),
        ("seeds", [0, 1, 1], "would count its chains twice"),  # seed 1 counted twice in n
        ("methods", ["snr", "magnitude", "snr"], "has non-unique elements"),
        ("seeds", [0, 2**32], "≤ 4294967295"),  # a JAX key keeps 32 bits: seed 0's numbers
        ("strategies.snes.std_init", float("inf"), "is infinite"),
    ],
)
def test_out_of_range_values_are_rejected_naming_the_key(tiny_config, key, value, why):
    """Each refusal names the key and why (a ConfigError naming only the key passed before,
    whatever it was for)."""
    _set(tiny_config, key, value)
    with pytest.raises(ConfigError) as info:
        validate_config(tiny_config)
    assert key.split(".")[0] in str(info.value)
    assert key.split(".")[-1] in str(info.value)
    assert why in str(info.value)


def test_missing_required_key_is_named(tiny_config):
    del tiny_config["methods"]
    with pytest.raises(ConfigError, match="'methods' is a required property"):
        validate_config(tiny_config)


def test_es_strategies_without_the_es_block_are_refused_naming_both_fixes(tiny_config):
    del tiny_config["es"]
    with pytest.raises(ConfigError) as info:
        validate_config(tiny_config)
    msg = str(info.value)
    assert "strategies lists snes" in msg and "es: {num_generations:" in msg, msg
    assert "remove the strategies block" in msg, msg


def _gradient_descent_only(cfg: dict) -> dict:
    """``cfg`` with its ES strategies and es block replaced by one gd_adam trainer."""
    del cfg["strategies"], cfg["es"]
    cfg["methods"] = ["random", "magnitude"]
    cfg["analyses"] = {}
    cfg["gd"] = {"gd_adam": {"lr": 0.001, "batch_size": 64, "epochs": 2}}
    return cfg


@pytest.mark.parametrize("strategies", ["absent", "empty"])
def test_a_config_of_gradient_descent_chains_alone_is_valid(tiny_config, strategies):
    """No `strategies` (or an empty block) and no `es`: GD chains alone. Before, `strategies`
    and `es` were required, and a placeholder ES strategy was refused as training nothing."""
    cfg = _gradient_descent_only(tiny_config)
    if strategies == "empty":
        cfg["strategies"] = {}
    valid = validate_config(cfg)
    assert valid["strategies"] == {} and "es" not in valid
    assert sorted(chains(valid)) == sorted(
        ("digits", "gd_adam", m, k) for m in ("random", "magnitude") for k in (0, 1)
    )
    spec = chain_settings(valid, "digits", "gd_adam", "magnitude", 0)
    assert spec["strategy"] == "gd_adam", spec


def test_gradient_descent_only_config_plans_its_rounds_and_reports(tiny_config, tmp_path):
    """The workflow plans a GD-only config: a train job per round of each GD chain, the
    summary, claims, table and figures, and no ES job."""
    path = tmp_path / "gd.yaml"
    path.write_text(yaml.safe_dump(_gradient_descent_only(tiny_config)))
    proc = _snakemake("-n", "--configfile", str(path), "--directory", str(tmp_path))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    counts = _job_counts(proc.stdout)
    assert counts.get("train") == 2 * 2 * 3, counts  # 2 methods × 2 seeds × 3 rounds
    assert {"collect", "claims", "accuracy_table", "figure_fig1"} <= set(counts), counts
    assert "snes" not in out and "/gd_adam/" in out


def test_odd_population_for_antithetic_strategy(tiny_config):
    tiny_config["strategies"]["pgpe"] = {"population_size": 15, "std_init": 0.05}
    with pytest.raises(ConfigError) as info:
        validate_config(tiny_config)
    msg = str(info.value)
    assert "pgpe" in msg and "population_size" in msg
    assert "even" in msg
    assert "16" in msg


def test_odd_population_from_a_task_override_is_caught(tiny_config):
    tiny_config["strategies"]["pgpe"] = {"population_size": 16, "std_init": 0.05}
    tiny_config["tasks"]["digits"]["strategy_overrides"] = {"pgpe": {"population_size": 9}}
    with pytest.raises(ConfigError, match="even") as info:
        validate_config(tiny_config)
    assert "10" in str(info.value)


def test_a_population_that_its_gpus_cannot_share_evenly_is_refused(tiny_config):
    """resources.gpu 2 with population 96 and chunk 32: each GPU's 48 is no multiple of 32,
    and every train job failed; an odd share across the GPUs failed the same way."""
    tiny_config["resources"]["gpu"] = 2
    tiny_config["strategies"]["snes"]["population_size"] = 96
    tiny_config["tasks"]["digits"]["population_chunk"] = 32
    with pytest.raises(ConfigError, match=r"does not divide each GPU's share \(48\) of"):
        validate_config(copy.deepcopy(tiny_config))
    tiny_config["tasks"]["digits"]["population_chunk"] = 16
    validate_config(copy.deepcopy(tiny_config))
    tiny_config["resources"]["gpu"] = 5
    with pytest.raises(ConfigError, match=r"resources.gpu is 5.*population of 96"):
        validate_config(copy.deepcopy(tiny_config))
    tiny_config["resources"]["gpu"] = 1  # one GPU: the whole population on it
    tiny_config["tasks"]["digits"]["population_chunk"] = 32
    validate_config(tiny_config)


def test_a_population_chunk_that_does_not_divide_the_population_is_refused(tiny_config):
    """Every train job of the setting would fail on it: check-config says so first."""
    tiny_config["strategies"]["snes"]["population_size"] = 24
    tiny_config["tasks"]["digits"]["population_chunk"] = 16
    with pytest.raises(ConfigError, match="population_chunk is 16, which does not divide"):
        validate_config(tiny_config)
    tiny_config["tasks"]["digits"]["population_chunk"] = 8
    assert validate_config(tiny_config)
    del tiny_config["tasks"]["digits"]["population_chunk"]  # the task's default, 32
    tiny_config["strategies"]["snes"]["population_size"] = 48
    with pytest.raises(ConfigError, match=r"population_chunk is 32 \(default\)"):
        validate_config(tiny_config)


@pytest.mark.parametrize(
    ("key", "value", "fix"),
    [
        ("resources", {"group_runtime": 60.5}, "set resources.group_runtime to an integer or null"),
        ("data_dir", 5, "set data_dir to a string or null"),
        ("seeds", 3, "set seeds to a list"),
    ],
)
def test_a_wrong_type_is_fixed_in_words(tiny_config, key, value, fix):
    """A key of several types printed its fix as a Python list: "to ['integer', 'null']"."""
    tiny_config[key] = value
    with pytest.raises(ConfigError, match=f"fix: {re.escape(fix)}$"):
        validate_config(tiny_config)


@pytest.mark.parametrize(
    ("key", "home"),
    [
        ("num_generations", "es (es.num_generations)"),
        ("gpu", "resources (resources.gpu)"),
        ("population_size", "the strategy's block (strategies.<name>.population_size)"),
        ("batch_size", "a task's entry (tasks.<task>.batch_size)"),
    ],
)
def test_a_block_key_written_at_the_top_level_is_sent_to_its_block(tiny_config, key, home):
    """difflib's nearest top-level key was offered instead: num_generations → prune_fraction."""
    tiny_config[key] = 1
    with pytest.raises(
        ConfigError, match=re.escape(f"{key!r} at the top level: it belongs in {home}")
    ):
        validate_config(tiny_config)


def test_odd_population_is_fine_for_non_antithetic_strategy(tiny_config):
    tiny_config["strategies"]["snes"]["population_size"] = 15
    assert validate_config(tiny_config)["strategies"]["snes"]["population_size"] == 15


def test_missing_data_dir_with_mnist_task(tiny_config, tmp_path):
    missing = tmp_path / "nowhere"
    tiny_config["tasks"] = {"mnist": {"network": "cnn"}}
    tiny_config["data_dir"] = str(missing)
    with pytest.raises(ConfigError) as info:
        validate_config(tiny_config)
    msg = str(info.value)
    assert "data_dir" in msg
    assert str(missing) in msg
    assert "does not exist" in msg


def test_data_dir_reads_home_as_the_loader_does_and_a_file_is_named_so(
    tiny_config, tmp_path, monkeypatch
):
    """``~/data`` was refused as missing, though the loader expands it; a file was said not
    to exist."""
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "data").mkdir()
    tiny_config["tasks"] = {"mnist": {"network": "cnn"}}
    tiny_config["data_dir"] = "~/data"
    assert validate_config(copy.deepcopy(tiny_config))["data_dir"] == "~/data"
    (tmp_path / "file").write_text("")
    tiny_config["data_dir"] = str(tmp_path / "file")
    with pytest.raises(ConfigError, match="is a file, not a directory"):
        validate_config(tiny_config)


def test_missing_data_dir_is_fine_for_digits_only(tiny_config, tmp_path):
    """…and noted by check-config: digits ships with the package, so nothing reads it."""
    from evotickets.config import ignored_settings

    tiny_config["data_dir"] = str(tmp_path / "nowhere")
    expected = (
        "data_dir is set, but no task reads a dataset folder (digits ships with the package; "
        "control tasks have none): it is not read"
    )
    assert ignored_settings(validate_config(tiny_config)) == [expected]


def test_a_missing_data_folder_named_in_the_environment_is_refused_before_any_job(
    tiny_config, tmp_path, monkeypatch
):
    """A config without data_dir reads $EVOTICKETS_DATA_DIR: a folder there that does not
    exist passed the validation, and every MNIST job failed on it."""
    tiny_config["tasks"] = {"mnist": {"network": "cnn"}}
    monkeypatch.setenv("EVOTICKETS_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError, match="from the EVOTICKETS_DATA_DIR environment variable"):
        validate_config(copy.deepcopy(tiny_config))
    monkeypatch.setenv("EVOTICKETS_DATA_DIR", str(tmp_path))
    validate_config(copy.deepcopy(tiny_config))
    tiny_config["tasks"] = {"pendulum": {"strategies": ["snes"]}}  # no dataset: not read
    monkeypatch.setenv("EVOTICKETS_DATA_DIR", str(tmp_path / "nowhere"))
    validate_config(tiny_config)


def test_a_rewind_budget_without_a_rewound_round_is_noted(tiny_config):
    """rewind_budget says what a rewound round searches: with k = 0 it does nothing."""
    from evotickets.config import ignored_settings

    tiny_config["rewind_budget"] = "remaining"
    (note,) = ignored_settings(validate_config(copy.deepcopy(tiny_config)))
    assert note.startswith("rewind_budget is remaining, but no task it applies to rewinds")
    tiny_config["tasks"]["digits"]["rewind"] = 10
    assert ignored_settings(validate_config(copy.deepcopy(tiny_config))) == []
    tiny_config["tasks"]["digits"].update(rewind=0, rewind_budget="remaining")
    del tiny_config["rewind_budget"]
    (note,) = ignored_settings(validate_config(tiny_config))
    assert note.startswith("tasks.digits.rewind_budget is set, but task digits rewinds to k = 0")


def test_existing_data_dir_with_mnist_task(tiny_config, tmp_path):
    tiny_config["tasks"] = {"mnist": {"network": "cnn"}}
    tiny_config["data_dir"] = str(tmp_path)
    assert validate_config(tiny_config)["data_dir"] == str(tmp_path)


def test_validate_fills_defaults_and_does_not_mutate_input(tiny_config):
    del tiny_config["resources"]
    del tiny_config["es"]["log_every"]
    del tiny_config["data_dir"]
    before = yaml.safe_dump(tiny_config)
    cfg = validate_config(tiny_config)
    assert yaml.safe_dump(tiny_config) == before
    assert cfg["es"]["log_every"] == 100
    assert cfg["resources"] == {
        "gpu": 0,
        "mem_mb": 2000,
        "runtime": 60,
        "threads": 1,
        "group_chains": "none",
        "group_program": "sequential",
        "group_runtime": None,
    }
    assert cfg["data_dir"] is None
    assert cfg["jax_cache_dir"] is None


# --- the shipped configs -----------------------------------------------------------------------


def test_default_config_validates():
    # make run: a trained network and enough rounds that random falls behind, 3 seeds
    cfg = load_config(ROOT / "config" / "config.yaml")
    assert set(cfg["tasks"]) == {"digits"}
    assert cfg["rounds"] >= 8 and (1 - cfg["prune_fraction"]) ** (cfg["rounds"] - 1) <= 0.21
    assert len(cfg["seeds"]) == 3
    assert {"random", "magnitude", "snr"} <= set(cfg["methods"])


def test_tour_config_validates():
    cfg = load_config(ROOT / "config" / "tour.yaml")
    assert set(cfg["tasks"]) == {"digits", "pendulum"}
    assert set(cfg["analyses"]["enabled"]) == {"lmc", "landscape", "snr_magnitude", "layerwise"}


def test_fidelity_config_tests_claims_1_to_5():
    from evotickets.config import chains

    cfg = load_config(ROOT / "config" / "fidelity.yaml")
    assert len(cfg["seeds"]) >= 4 and cfg["rounds"] >= 12
    grid = {(s, m) for _, s, m, _ in chains(cfg)}
    assert {"snes", "sep_cma_es"} <= {s for s, _ in grid}
    for s in ("snes", "sep_cma_es"):
        assert {(s, "random"), (s, "magnitude"), (s, "snr")} <= grid  # claims 1, 2
    assert ("sep_cma_es", "snr_study") in grid and ("snes", "snr_study") not in grid
    assert {("snes", "weight_permuted"), ("snes", "mask_permuted")} <= grid  # claim 5
    assert {("gd_adam", "magnitude"), ("gd_adam", "random")} == {
        g for g in grid if g[0] == "gd_adam"
    }  # claim 3
    assert [e["name"] for e in cfg["transfer"]] == ["snes_to_adam"]  # claim 4


def test_pendulum_config_is_the_papers_pendulum_row_with_fewer_generations():
    """`make pendulum` claims to run config/paper.yaml's Pendulum settings at 600 generations:
    its chains' task and strategy settings (as their digests see them) must be the paper's,
    so that a change to either config that drifts them apart fails here."""
    ours = load_config(ROOT / "config" / "pendulum.yaml")
    paper = load_config(ROOT / "config" / "paper.yaml")
    grid = {(s, m) for _, s, m, _ in chains(ours)}
    for s in ("sep_cma_es",):
        assert {(s, "random"), (s, "magnitude"), (s, "snr")} <= grid  # claims 1, 2
        assert _chain_strategy(ours, "pendulum", s) == _chain_strategy(paper, "pendulum", s)
        mine = chain_settings(ours, "pendulum", s, "snr", 0)
        theirs = chain_settings(paper, "pendulum", s, "snr", 0)
        assert mine["task_config"] == theirs["task_config"]
        assert mine["es"]["num_generations"] == 600 and theirs["es"]["num_generations"] == 2000
    assert len(ours["seeds"]) >= 4


def test_pendulum_controls_config_is_the_papers_pendulum_row():
    """`make pendulum-controls` claims config/paper.yaml's Pendulum settings (600 generations)
    for its Sep-CMA-ES chains and the paper's gd_ppo for its PPO chains: both as the digests
    see them, so that a drift between the configs fails here."""
    ours = load_config(ROOT / "config" / "pendulum_controls.yaml")
    paper = load_config(ROOT / "config" / "paper.yaml")
    grid = {(s, m) for _, s, m, _ in chains(ours)}
    es = {("sep_cma_es", m) for m in ("magnitude", "snr", "weight_permuted", "mask_permuted")}
    assert grid == es | {("gd_ppo", "magnitude")}  # claims 5 and 3
    for s, m in grid:
        mine = chain_settings(ours, "pendulum", s, m, 0)
        theirs = chain_settings(paper, "pendulum", s, m, 0)
        assert mine["task_config"] == theirs["task_config"]
        assert mine["strategy_config"] == theirs["strategy_config"]
    es_settings = chain_settings(ours, "pendulum", "sep_cma_es", "snr", 0)["es"]
    assert es_settings["num_generations"] == 600
    assert len(ours["seeds"]) >= 4


def test_pendulum_claim5_config_repeats_the_controls_chains_on_8_seeds():
    """`make pendulum-claim5` claims to be config/pendulum_controls.yaml's claim-5 chains on
    8 seeds and nothing else: its seeds 0-3 must be the same chains (the same digests), so
    that a drift between the two configs fails here rather than in a README comparison."""
    ours = load_config(ROOT / "config" / "pendulum_claim5.yaml")
    controls = load_config(ROOT / "config" / "pendulum_controls.yaml")
    grid = {(s, m) for _, s, m, _ in chains(ours)}
    assert grid == {("sep_cma_es", m) for m in ("magnitude", "weight_permuted", "mask_permuted")}
    assert ours["seeds"] == list(range(8)) and ours["rounds"] == controls["rounds"]
    for _, s, m, seed in chains(ours):
        if seed < 4:
            mine = chain_settings(ours, "pendulum", s, m, seed)
            assert digest(mine) == digest(chain_settings(controls, "pendulum", s, m, seed))


def test_pendulum_claim3_config_is_the_controls_claim3_chains_on_200_step_episodes():
    """`make pendulum-claim3` claims pendulum-controls' claim-3 chains (Sep-CMA-ES SNR, masked
    PPO magnitude) with Pendulum's own 200-step episodes and nothing else changed: the task
    settings differ in `max_steps` alone, and nothing else in a chain's settings differs."""
    ours = load_config(ROOT / "config" / "pendulum_claim3.yaml")
    controls = load_config(ROOT / "config" / "pendulum_controls.yaml")
    grid = {(s, m) for _, s, m, _ in chains(ours)}
    assert grid == {("sep_cma_es", "snr"), ("gd_ppo", "magnitude")}
    assert ours["seeds"] == list(range(8)) and ours["rounds"] == controls["rounds"]
    for s, m in grid:
        mine = chain_settings(ours, "pendulum", s, m, 0)
        theirs = chain_settings(controls, "pendulum", s, m, 0)
        assert mine["task_config"]["max_steps"] == 200
        assert theirs["task_config"]["max_steps"] == 500
        assert {**mine["task_config"], "max_steps": 500} == theirs["task_config"]
        rest = {k: v for k, v in mine.items() if k != "task_config"}
        assert rest == {k: v for k, v in theirs.items() if k != "task_config"}


def test_pendulum_claim3_deep_config_continues_the_claim3_chains():
    """`make pendulum-claim3-deep` claims to take pendulum-claim3's chains to more rounds:
    every chain the same digest, only `rounds` (not in a digest) and the folder differ."""
    ours = load_config(ROOT / "config" / "pendulum_claim3_deep.yaml")
    claim3 = load_config(ROOT / "config" / "pendulum_claim3.yaml")
    assert chains(ours) == chains(claim3)
    assert ours["rounds"] == 14 and claim3["rounds"] == 8
    for t, s, m, seed in chains(ours):
        mine = chain_settings(ours, t, s, m, seed)
        assert digest(mine) == digest(chain_settings(claim3, t, s, m, seed))
    rest = {k: v for k, v in ours.items() if k not in ("rounds", "experiment")}
    assert rest == {k: v for k, v in claim3.items() if k not in ("rounds", "experiment")}


def test_pendulum_claim3_2000_config_gives_es_the_papers_generations_and_nothing_else():
    """`make pendulum-claim3-2000` claims to be pendulum-claim3-deep's run with Sep-CMA-ES at
    the paper's 2,000 generations: the PPO chains keep their digests, and an ES chain's
    settings differ from the deep run's in `es.num_generations` alone."""
    ours = load_config(ROOT / "config" / "pendulum_claim3_2000.yaml")
    deep = load_config(ROOT / "config" / "pendulum_claim3_deep.yaml")
    assert chains(ours) == chains(deep) and ours["rounds"] == deep["rounds"] == 14
    for t, s, m, seed in chains(ours):
        mine = chain_settings(ours, t, s, m, seed)
        theirs = chain_settings(deep, t, s, m, seed)
        if s == "gd_ppo":
            assert digest(mine) == digest(theirs)
            continue
        assert mine["es"]["num_generations"] == 2000
        assert theirs["es"]["num_generations"] == 600
        assert {**mine, "es": {**mine["es"], "num_generations": 600}} == theirs
        assert digest(mine) != digest(theirs)
    rest = {k: v for k, v in ours.items() if k not in ("es", "experiment", "resources")}
    assert rest == {k: v for k, v in deep.items() if k not in ("es", "experiment", "resources")}


def test_fidelity_claim5_config_is_the_fidelity_configs_claim5_chains():
    """config/fidelity_claim5.yaml remakes `make fidelity`'s claim 5 alone: its chains must be
    that config's SNES magnitude / weight_permuted / mask_permuted chains (the same digests),
    so its magnitude and weight_permuted numbers are the README's and a drift fails here."""
    ours = load_config(ROOT / "config" / "fidelity_claim5.yaml")
    fidelity = load_config(ROOT / "config" / "fidelity.yaml")
    grid = {(s, m) for _, s, m, _ in chains(ours)}
    assert grid == {("snes", m) for m in ("magnitude", "weight_permuted", "mask_permuted")}
    assert ours["seeds"] == fidelity["seeds"] and ours["rounds"] == fidelity["rounds"]
    for t, s, m, seed in chains(ours):
        mine = chain_settings(ours, t, s, m, seed)
        assert digest(mine) == digest(chain_settings(fidelity, t, s, m, seed)), (m, seed)


def test_controls_config_validates():
    cfg = load_config(ROOT / "config" / "controls.yaml")
    assert set(cfg["tasks"]) == {"digits"} and set(cfg["gd"]) == {"gd_adam"}
    assert {"weight_permuted", "mask_permuted", "magnitude"} <= set(cfg["methods"])
    assert [e["name"] for e in cfg["transfer"]] == ["snes_to_adam", "adam_to_snes"]


def _chain_strategy(cfg: dict, task: str, strategy: str) -> dict:
    """A chain's strategy settings as its digest sees them (the spec's digest defaults in)."""
    return chain_settings(cfg, task, strategy, "magnitude", 0)["strategy_config"]


def test_paper_config_matches_the_paper():
    cfg = load_config(ROOT / "config" / "paper.yaml")
    vision = {"mnist", "fashion_mnist", "kmnist"}
    brax = {"ant", "ant_heavy", "halfcheetah", "hopper", "humanoid", "reacher", "walker2d"}
    stand_ins = {"pusher", "humanoidstandup", "inverted_double_pendulum"}
    assert set(cfg["tasks"]) == vision | brax | stand_ins | {"pendulum", "mnist_ars"}
    assert cfg["tasks"]["kmnist"]["kmnist_split"] == "full"  # the paper's official split
    assert all("kmnist_split" not in cfg["tasks"][t] for t in ("mnist", "fashion_mnist"))
    assert cfg["tasks"]["kmnist"]["batch_size"] == cfg["tasks"]["mnist"]["batch_size"] == 1024
    assert set(cfg["strategies"]) == {"sep_cma_es", "snes", "pgpe", "des", "ars"}
    # ARS (Figs. 6 and 10: LMC and landscapes on MNIST) runs on the mnist_ars entry only
    ars_tasks = {c[0] for c in chains(cfg) if c[1] == "ars"}
    assert ars_tasks == {"mnist_ars"} and cfg["tasks"]["mnist_ars"]["task"] == "mnist"
    assert {c[0] for c in analysis_chains(cfg, "landscape")} == {"mnist_ars"}
    # claims 6 and 7 compare ES with GD within one task entry: both sides analysed there
    for analysis in ("lmc", "landscape"):
        sides = {c[1] for c in analysis_chains(cfg, analysis)}
        assert sides == {"ars", "gd_adam"}, (analysis, sides)
    assert analysis_options(cfg, "landscape")["grid_points"] == 51
    assert set(cfg["methods"]) == {
        "random",
        "magnitude",
        "snr",
        "weight_permuted",
        "mask_permuted",
    }
    assert cfg["gd"]["gd_adam"] == {"lr": 3e-4, "batch_size": 128, "epochs": 2}
    # evosax 0.1.4's (the study's): SNES's temperature weights, PGPE's Adam β1 and σ rate,
    # DES's ε; the "anything else" PGPE row is 0.1.4's defaults, without decays
    assert _chain_strategy(cfg, "mnist", "snes")["temperature_weights"] == "snes"
    vision_pgpe = _chain_strategy(cfg, "mnist", "pgpe")
    assert (vision_pgpe["adam_beta1"], vision_pgpe["std_lr"]) == (0.99, 0.1)
    assert (vision_pgpe["lr_decay"], vision_pgpe["std_decay"]) == (0.999, 0.999)
    assert _chain_strategy(cfg, "mnist", "des")["variance_eps"] == 1e-6
    for task in ("pendulum", "pusher", "humanoidstandup", "inverted_double_pendulum"):
        other = _chain_strategy(cfg, task, "pgpe")
        assert (other["std_init"], other["lr"]) == (0.1, 0.15), task
        assert (other["lr_decay"], other["std_decay"], other["std_limit"]) == (1.0, 1.0, 0.01)
    assert cfg["tasks"]["pendulum"]["policy_bias_init"] == "uniform"
    ppo = cfg["gd"]["gd_ppo"]  # the study's Pendulum PPO settings
    assert (ppo["total_steps"], ppo["num_envs"], ppo["num_steps"]) == (1_750_000, 32, 16)
    assert (ppo["gamma"], ppo["gae_lambda"], ppo["clip"]) == (0.97, 0.95, 0.25)
    # es-lottery's gym_ppo.py: a linear decay 3e-4 → 1e-4, Adam ε 1e-5, value clipping
    assert (ppo["lr_schedule"], ppo["adam_eps"], ppo["value_clip"]) == ("linear", 1e-5, True)
    assert "time_limit" not in ppo  # its timeouts end the return (terminal)
    pairs = {
        (e["source"]["task"], e["source"]["strategy"], e["target"]["task"], e["target"]["strategy"])
        for e in cfg["transfer"]
    }
    assert pairs == {  # Table 1; source method snr
        ("fashion_mnist", "snes", "mnist", "snes"),
        ("fashion_mnist", "snes", "fashion_mnist", "pgpe"),
        ("fashion_mnist", "snes", "fashion_mnist", "gd_adam"),
        ("ant", "sep_cma_es", "ant_heavy", "sep_cma_es"),
        ("ant", "sep_cma_es", "ant", "des"),
        ("ant", "sep_cma_es", "ant", "gd_ppo"),
    }
    assert {e["source"]["method"] for e in cfg["transfer"]} == {"snr"}
    # the study's heavy Ant (ant_modified) is not in its tuned table: the "anything else" row
    heavy = _chain_strategy(cfg, "ant_heavy", "sep_cma_es")
    assert (heavy["std_init"], heavy["elite_ratio"]) == (0.1, 0.5)
    ant = _chain_strategy(cfg, "ant", "sep_cma_es")
    assert (ant["std_init"], ant["elite_ratio"]) == (0.05, 0.4)
    assert len(cfg["seeds"]) == 5 and len(set(cfg["seeds"])) == 5
    assert cfg["rounds"] == 20
    assert cfg["prune_fraction"] == pytest.approx(0.2)
    assert cfg["es"]["num_generations"] == 4000
    for task in vision:
        tcfg = cfg["tasks"][task]
        assert tcfg["batch_size"] == 1024, task
        assert tcfg["network"] == "cnn", task
    std_init = {"sep_cma_es": 0.025, "snes": 0.025, "pgpe": 0.05, "des": 0.1, "ars": 0.03}
    for s, scfg in cfg["strategies"].items():
        assert scfg["population_size"] == 128, s
        assert scfg["std_init"] == pytest.approx(std_init[s]), s


# The study's Brax PPO rows (es-lottery src/brax_ppo/brax_configs.py: brax v0.0.16's training
# colab with num_timesteps doubled), and brax's rows for the stand-ins, doubled the same way:
# num_timesteps, num_envs, batch_size, num_minibatches, unroll_length, num_updates_per_batch,
# discounting, learning_rate, entropy_cost, reward_scaling.
BRAX_PPO = {
    "ant": (50_000_000, 2048, 1024, 32, 5, 4, 0.97, 3e-4, 1e-2, 10),
    "halfcheetah": (200_000_000, 2048, 512, 32, 20, 8, 0.95, 3e-4, 1e-3, 1),
    "hopper": (200_000_000, 2048, 256, 32, 20, 8, 0.999, 6e-4, 1e-2, 5),
    "humanoid": (100_000_000, 2048, 1024, 32, 10, 8, 0.97, 3e-4, 1e-3, 0.1),
    "reacher": (200_000_000, 2048, 256, 32, 50, 8, 0.95, 3e-4, 1e-3, 5),
    "walker2d": (200_000_000, 2048, 256, 32, 50, 8, 0.98, 3e-4, 1e-2, 10),
    "pusher": (100_000_000, 2048, 512, 16, 30, 8, 0.95, 3e-4, 1e-2, 5),
    "humanoidstandup": (200_000_000, 2048, 1024, 32, 15, 8, 0.97, 6e-4, 1e-2, 0.1),
    "inverted_double_pendulum": (40_000_000, 2048, 1024, 32, 5, 4, 0.97, 3e-4, 1e-2, 10),
}


def test_paper_brax_ppo_uses_brax_per_environment_settings():
    """Each Brax task's gd_ppo runs brax's PPO row for that environment (not Pendulum's 1.75 M
    steps at γ 0.97): same env-step budget, same transitions per update and per minibatch."""
    cfg = load_config(ROOT / "config" / "paper.yaml")
    for task, row in BRAX_PPO.items():
        steps, envs, batch, n_mb, unroll, epochs, gamma, lr, entropy, scale = row
        assert "gd_ppo" in cfg["tasks"][task]["strategies"], task
        ppo = chain_settings(cfg, task, "gd_ppo", "random", 0)["strategy_config"]
        assert ppo["total_steps"] == steps, task
        assert ppo["num_envs"] == envs, task
        assert ppo["num_envs"] * ppo["num_steps"] == batch * n_mb * unroll, task
        assert ppo["unroll_length"] == unroll and ppo["minibatches"] == n_mb, task
        assert ppo["epochs"] == epochs and ppo["gamma"] == gamma, task
        assert ppo["lr"] == ppo["lr_end"] == lr and ppo["entropy"] == entropy, task
        assert ppo["reward_scaling"] == scale, task
        assert (ppo["clip"], ppo["gae_lambda"]) == (0.3, 0.95), task
        assert ppo["critic_hidden"] == [256] * 5, task
        # brax's constant Adam (linear with lr = lr_end), optax's ε, no value clipping, and
        # its compute_gae's truncation at the episode length
        assert (ppo["lr_schedule"], ppo["adam_eps"], ppo["value_clip"]) == ("linear", 1e-8, False)
        assert ppo["time_limit"] == "truncation", task
        n_updates = ppo["total_steps"] // (ppo["num_envs"] * ppo["num_steps"])
        assert n_updates * ppo["num_envs"] * ppo["num_steps"] > 0.99 * steps, task
    pendulum = chain_settings(cfg, "pendulum", "gd_ppo", "random", 0)["strategy_config"]
    assert pendulum["total_steps"] == 1_750_000 and "unroll_length" not in pendulum


def test_ppo_unroll_length_must_divide_num_steps(tiny_config):
    tiny_config["tasks"]["pendulum"] = {"strategies": ["gd_ppo"]}
    tiny_config["gd"] = {"gd_ppo": {"num_steps": 16, "unroll_length": 5}}
    with pytest.raises(ConfigError, match="task pendulum.*num_steps 16 is not a multiple of "):
        validate_config(tiny_config)
    tiny_config["gd"] = {"gd_ppo": {"num_steps": 16, "unroll_length": 4, "reward_scaling": 2}}
    cfg = validate_config(tiny_config)
    assert cfg["gd"]["gd_ppo"]["unroll_length"] == 4
    tiny_config["gd"] = {"gd_ppo": {"unroll_lenght": 4}}
    with pytest.raises(ConfigError, match="did you mean 'unroll_length'"):
        validate_config(tiny_config)


# --- the GD block ------------------------------------------------------------------------------


def test_gd_block_fills_defaults_and_names_typos(tiny_config):
    tiny_config["gd"] = {"gd_adam": None}
    assert validate_config(tiny_config)["gd"]["gd_adam"] == {
        "lr": 3e-4,
        "batch_size": 128,
        "epochs": 2,
    }
    tiny_config["gd"] = {"gd_adm": {}}
    with pytest.raises(ConfigError, match="did you mean 'gd_adam'"):
        validate_config(tiny_config)
    tiny_config["gd"] = {"gd_adam": {"epoch": 3}}
    with pytest.raises(ConfigError, match="'epoch'.*did you mean 'epochs'"):
        validate_config(tiny_config)
    tiny_config["gd"] = {"gd_adam": {"lr": 0}}
    with pytest.raises(ConfigError, match="gd.gd_adam.lr"):
        validate_config(tiny_config)


def test_gd_chain_settings_ignore_the_es_block_and_take_overrides(tiny_config):
    tiny_config["gd"] = {"gd_adam": {"epochs": 3}}
    tiny_config["tasks"]["digits"]["strategy_overrides"] = {"gd_adam": {"lr": 1e-3}}
    cfg = validate_config(tiny_config)
    s = chain_settings(cfg, "digits", "gd_adam", "magnitude", 0)
    assert "es" not in s
    assert s["strategy_config"] == {"lr": 1e-3, "batch_size": 128, "epochs": 3}
    more_gens = copy.deepcopy(cfg)
    more_gens["es"]["num_generations"] += 1
    assert digest(chain_settings(more_gens, "digits", "gd_adam", "magnitude", 0)) == digest(s)
    tiny_config["tasks"]["digits"]["strategy_overrides"] = {"gd_adam": {"population_size": 8}}
    with pytest.raises(ConfigError, match="key for gd_adam"):
        validate_config(tiny_config)


# --- digest and chain settings -----------------------------------------------------------------


def test_digest_is_stable_for_equal_settings(tiny_config):
    cfg = validate_config(tiny_config)
    a = chain_settings(cfg, "digits", "snes", "magnitude", 0)
    b = chain_settings(validate_config(tiny_config), "digits", "snes", "magnitude", 0)
    assert a is not b
    assert digest(a) == digest(b)
    reordered = dict(reversed(list(a.items())))
    assert digest(reordered) == digest(a)
    assert re.fullmatch(r"[0-9a-f]{16}", digest(a))


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda s: s["strategy_config"].update(std_init=0.06), id="std_init"),
        pytest.param(lambda s: s.update(prune_fraction=0.3), id="prune_fraction"),
        pytest.param(lambda s: s["es"].update(num_generations=21), id="num_generations"),
        pytest.param(lambda s: s.update(seed=1), id="seed"),
        pytest.param(lambda s: s.update(method="snr"), id="method"),
        pytest.param(lambda s: s["task_config"].update(batch_size=65), id="batch_size"),
    ],
)
def test_digest_changes_when_a_setting_changes(tiny_config, change):
    cfg = validate_config(tiny_config)
    base = chain_settings(cfg, "digits", "snes", "magnitude", 0)
    changed = copy.deepcopy(base)
    change(changed)
    assert digest(changed) != digest(base)


def test_digest_ignores_data_dir(tiny_config, tmp_path):
    cfg = validate_config(tiny_config)
    s = chain_settings(cfg, "digits", "snes", "random", 0)
    moved = dict(s, data_dir=str(tmp_path))
    assert moved["data_dir"] != s["data_dir"]
    assert digest(moved) == digest(s)
    without = {k: v for k, v in s.items() if k != "data_dir"}
    assert digest(without) == digest(s)


def test_chain_settings_apply_task_strategy_overrides(tiny_config):
    tiny_config["strategies"]["sep_cma_es"] = {
        "population_size": 16,
        "std_init": 0.05,
        "elite_ratio": 0.5,
    }
    tiny_config["tasks"]["digits"]["strategy_overrides"] = {
        "snes": {"std_init": 0.2, "population_size": 32}
    }
    cfg = validate_config(tiny_config)
    s = chain_settings(cfg, "digits", "snes", "snr", 3)
    assert s["strategy_config"] == {
        "population_size": 32,
        "std_init": 0.2,
        "temperature": 12.0,
        "temperature_weights": "snes",  # the default form, explicit: it is in the digest
    }
    assert "strategy_overrides" not in s["task_config"]
    assert s["task_config"]["batch_size"] == 64
    assert (s["task"], s["strategy"], s["method"], s["seed"]) == ("digits", "snes", "snr", 3)
    # the global block is untouched, and other strategies get no override
    assert cfg["strategies"]["snes"]["std_init"] == 0.05
    other = chain_settings(cfg, "digits", "sep_cma_es", "snr", 3)
    assert other["strategy_config"] == cfg["strategies"]["sep_cma_es"]


def test_init_settings_are_shared_by_strategies_and_methods(tiny_config):
    cfg = validate_config(tiny_config)
    init = init_settings(cfg, "digits", 1)
    assert init == {
        "task": "digits",
        "network": "cnn_small",
        "prune_output_layer": True,
        "seed": 1,
    }
    assert digest(init) != digest(init_settings(cfg, "digits", 0))


def test_kmnist_split_is_explicit_and_in_the_digest(tiny_config):
    tiny_config["tasks"]["kmnist"] = {"network": "cnn", "batch_size": 64}
    cfg = validate_config(tiny_config)
    assert cfg["tasks"]["kmnist"]["kmnist_split"] == "full"  # the default, written out
    assert "kmnist_split" not in cfg["tasks"]["digits"]
    full = chain_settings(cfg, "kmnist", "snes", "snr", 0)
    assert full["task_config"]["kmnist_split"] == "full"
    tiny_config["tasks"]["kmnist"]["kmnist_split"] = "test_split"
    split = chain_settings(validate_config(tiny_config), "kmnist", "snes", "snr", 0)
    assert split["task_config"]["kmnist_split"] == "test_split"
    assert digest(split) != digest(full)
    # θ0 does not depend on the data: both splits share the init artifact
    assert init_settings(cfg, "kmnist", 0) == init_settings(
        validate_config(tiny_config), "kmnist", 0
    )


def test_kmnist_split_on_an_alias_of_kmnist(tiny_config):
    tiny_config["tasks"]["kmnist_he"] = {"task": "kmnist", "kmnist_split": "test_split"}
    cfg = validate_config(tiny_config)
    assert cfg["tasks"]["kmnist_he"]["kmnist_split"] == "test_split"


@pytest.mark.parametrize(
    ("task", "value", "message"),
    [
        ("digits", "full", "K-MNIST tasks only"),
        ("kmnist", "half", "kmnist_split"),
    ],
)
def test_bad_kmnist_split_is_refused(tiny_config, task, value, message):
    tiny_config["tasks"].setdefault(task, {})["kmnist_split"] = value
    with pytest.raises(ConfigError, match=message) as info:
        validate_config(tiny_config)
    assert f"{task}" in str(info.value)


@pytest.mark.parametrize(
    ("task", "key", "value", "kind"),
    [
        ("digits", "hidden", [16], "control"),
        ("digits", "n_repeats", 4, "control"),
        ("digits", "backend", "spring", "brax"),
        ("pendulum", "batch_size", 64, "vision"),
        ("pendulum", "backend", "positional", "brax"),
        ("ant", "torso_mass_factor", 2.0, "ant_heavy"),
    ],
)
def test_a_task_key_of_another_kind_of_task_is_refused(tiny_config, task, key, value, kind):
    """A key that the task's kind ignores (``hidden`` on digits) would do nothing."""
    tiny_config["tasks"] = {task: {key: value}}
    with pytest.raises(ConfigError, match=f"tasks.{task}.{key} applies to {kind} tasks only"):
        validate_config(tiny_config)


def test_a_task_key_of_its_own_kind_is_accepted(tiny_config):
    tiny_config["tasks"] = {
        "pendulum": {"hidden": [16], "n_repeats": 2, "max_steps": 10, "network": "mlp"},
        "ant_heavy": {"backend": "generalized", "torso_mass_factor": 2.0},
    }
    cfg = validate_config(tiny_config)
    assert cfg["tasks"]["pendulum"]["hidden"] == [16]
    assert cfg["tasks"]["ant_heavy"]["torso_mass_factor"] == 2.0


def test_a_transfer_between_brax_backends_is_refused(tiny_config):
    """ant (spring) → ant_heavy (generalized) validated: the transfer then changed the physics
    pipeline along with the torso's mass."""
    tiny_config["methods"] = ["random", "snr"]
    tiny_config["strategies"] = {"sep_cma_es": {"population_size": 16, "std_init": 0.05}}
    tiny_config["tasks"] = {"ant": {}, "ant_heavy": {"backend": "generalized"}}
    tiny_config["analyses"] = {"enabled": []}
    tiny_config["transfer"] = [
        {
            "name": "heavier",
            "source": {"task": "ant", "strategy": "sep_cma_es"},
            "target": {"task": "ant_heavy", "strategy": "sep_cma_es"},
        }
    ]
    with pytest.raises(ConfigError, match="run brax's spring and generalized backends"):
        validate_config(copy.deepcopy(tiny_config))
    tiny_config["tasks"]["ant"] = {"backend": "generalized"}
    validate_config(tiny_config)


def test_a_control_task_network_other_than_its_mlp_is_refused(tiny_config):
    tiny_config["tasks"] = {"pendulum": {"network": "cnn"}}
    with pytest.raises(ConfigError, match="policy MLP"):
        validate_config(tiny_config)


def test_a_gd_strategy_that_runs_on_no_task_is_refused(tiny_config):
    """gd_ppo trains control tasks only: with only digits it would train nothing, silently;
    gd_adam could train digits, but digits lists its own strategies without it."""
    tiny_config["gd"] = {"gd_ppo": {}}
    with pytest.raises(ConfigError, match="gd.gd_ppo runs on no task .*control tasks"):
        validate_config(tiny_config)
    tiny_config["gd"] = {"gd_adam": {}}
    tiny_config["tasks"]["digits"]["strategies"] = ["snes"]
    with pytest.raises(ConfigError, match=r"could train \(digits\) lists its own .*add it to "
                       r"tasks.digits.strategies"):  # fmt: skip
        validate_config(tiny_config)


def test_a_transfer_to_a_gd_strategy_of_another_kind_of_task_names_the_kind(tiny_config):
    tiny_config["tasks"]["pendulum"] = {"strategies": ["snes", "gd_ppo"]}
    tiny_config["gd"] = {"gd_ppo": {}}
    tiny_config["transfer"] = [
        {
            "name": "to_ppo",
            "source": {"task": "digits", "strategy": "snes"},
            "target": {"task": "digits", "strategy": "gd_ppo"},
        }
    ]
    with pytest.raises(ConfigError, match="gd_ppo trains control tasks only, and task digits"):
        validate_config(tiny_config)


# --- YAML loading ------------------------------------------------------------------------------


def test_yaml_loading_is_safe(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.yaml"
    path.write_text(f'experiment: !!python/object/apply:os.system ["touch {marker}"]\n')
    with pytest.raises(ConfigError, match="not valid YAML") as info:
        load_config(path)
    assert str(path) in str(info.value)
    assert not marker.exists()


def test_a_nested_key_given_twice_is_refused_and_merge_keys_may_override(tmp_path):
    """YAML keeps the last of two equal keys; a config must not lose the first silently. A
    merge key (``<<: *anchor``) brings keys that the mapping may override, as YAML intends."""
    twice = tmp_path / "twice.yaml"
    twice.write_text("tasks:\n  digits: {}\n  digits: {network: mlp}\n")
    with pytest.raises(ConfigError, match=r"the key 'digits' is given twice .*lines 2 and 3"):
        load_config(twice)
    merged = tmp_path / "merged.yaml"
    merged.write_text("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  y: 3\n")
    assert read_config_file(merged)["other"] == {"x": 1, "y": 3}
    # chained merges: PyYAML merges into the anchored mapping itself, which a check while
    # constructing took for a key given twice
    chained = tmp_path / "chained.yaml"
    text = "d: {i: {b: &b {lr: 1, e: 2}, m: &m {<<: *b, lr: 3}}}\nt: {a: {<<: *m}}\n"
    chained.write_text(text)
    assert read_config_file(chained) == yaml.safe_load(text)
    # a JSON config file (Snakemake reads .json as JSON; tabs are fine there, not in YAML)
    js = tmp_path / "c.json"
    js.write_text('{\n\t"seeds": [0],\n\t"rounds": 2\n}')
    assert read_config_file(js) == {"seeds": [0], "rounds": 2}
    js.write_text('{"seeds": [0], "seeds": [1]}')
    with pytest.raises(ConfigError, match="the key 'seeds' is given twice in one object"):
        read_config_file(js)


def test_load_config_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")


def test_load_config_not_a_mapping(tmp_path):
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(path)


def test_load_config_round_trips_tiny_config(tiny_config, tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_config))
    assert load_config(path) == validate_config(tiny_config)


def test_yaml12_floats_validate_as_floats(tiny_config, tmp_path):
    """``1e30`` and ``3e-4`` are strings to YAML 1.1 (PyYAML, Snakemake): number-typed keys,
    including those inside a task's strategy_overrides and es block, take them as floats."""
    tiny_config["tasks"]["digits"]["strategy_overrides"] = {"snes": {"std_init": 0.1}}
    path = tmp_path / "floats.yaml"
    text = yaml.safe_dump(tiny_config)
    text = text.replace("std_init: 0.05", "std_init: 3e-4").replace(
        "std_init: 0.1", "std_init: 5e-2"
    )
    text = text.replace("temperature: 12.0", "temperature: 1e30")
    path.write_text(text)
    assert yaml.safe_load(text)["strategies"]["snes"]["std_init"] == "3e-4"  # YAML 1.1
    cfg = load_config(path)
    snes = cfg["strategies"]["snes"]
    assert snes["std_init"] == 3e-4 and isinstance(snes["std_init"], float)
    assert snes["temperature"] == 1e30 and isinstance(snes["temperature"], float)
    override = cfg["tasks"]["digits"]["strategy_overrides"]["snes"]["std_init"]
    assert override == 0.05 and isinstance(override, float)
    assert chain_settings(cfg, "digits", "snes", "snr", 0)["strategy_config"]["std_init"] == 0.05


def test_yaml12_float_strings_stay_strings_in_string_keys(tiny_config):
    tiny_config["experiment"] = "1e3"
    tiny_config["strategies"]["snes"]["std_init"] = "1e-2x"
    with pytest.raises(ConfigError, match=r"std_init.*1\.0e\+30"):
        validate_config(tiny_config)
    tiny_config["strategies"]["snes"]["std_init"] = "1e-2"
    cfg = validate_config(tiny_config)
    assert cfg["experiment"] == "1e3" and cfg["strategies"]["snes"]["std_init"] == 0.01


def test_snakemake_config_strings_are_read_as_the_numbers_and_booleans_they_spell(tiny_config):
    """`snakemake --config seeds=[0,1]` reads nested values with YAML's base loader, every
    scalar a string: they were refused ("'0' is not of type 'integer'"). Where the schema
    types an integer or a boolean, its spelling is read: the same config as typed values."""
    # as snakemake.cli.parse_config reads a nested value: YAML's base loader (importing
    # snakemake.cli here waits 9 s on the SLURM plugin's `scontrol` where none answers)
    given = {
        "seeds": yaml.load("[0,1]", Loader=yaml.BaseLoader),
        "resources": yaml.load("{threads: 2, gpu: 0, group_runtime: 30}", Loader=yaml.BaseLoader),
    }
    assert given["seeds"] == ["0", "1"]  # what Snakemake hands the workflow
    as_text = {**copy.deepcopy(tiny_config), **given}
    as_text["tasks"]["digits"]["prune_output_layer"] = "false"
    resources = {"threads": 2, "gpu": 0, "group_runtime": 30}  # an integer or null
    typed = {**copy.deepcopy(tiny_config), "seeds": [0, 1], "resources": resources}
    typed["tasks"]["digits"]["prune_output_layer"] = False
    cfg = validate_config(as_text)
    assert cfg == validate_config(typed)
    assert cfg["seeds"] == [0, 1] and cfg["tasks"]["digits"]["prune_output_layer"] is False
    as_text["seeds"] = ["0.5"]  # no integer's spelling: still refused
    with pytest.raises(ConfigError, match="seeds.0: '0.5' is not of type 'integer'"):
        validate_config(as_text)


def test_snakemake_config_nulls_are_null_where_the_schema_allows_it(tiny_config):
    """`snakemake --config jax_cache_dir=null` gave every job a cache folder named "null"
    (the schema's null is results/.jax-cache), and `gd={gd_adam: null}` was refused as
    "'null' is not of type 'object', 'null'"."""
    text = {
        **copy.deepcopy(tiny_config),
        "jax_cache_dir": "null",
        "data_dir": "NULL",
        "gd": yaml.load("{gd_adam: null}", Loader=yaml.BaseLoader),
    }
    assert text["gd"] == {"gd_adam": "null"}  # what Snakemake hands the workflow
    cfg = validate_config(text)
    assert cfg["jax_cache_dir"] is None and cfg["data_dir"] is None
    assert "gd_adam" in cfg["gd"]
    assert cfg == validate_config({**copy.deepcopy(tiny_config), "gd": {"gd_adam": None}})
    named = validate_config({**copy.deepcopy(tiny_config), "experiment": "null"})
    assert named["experiment"] == "null"  # a key that is never null keeps the string
    home = validate_config({**copy.deepcopy(tiny_config), "data_dir": "~"})
    assert home["data_dir"] == "~"  # a quoted ~ is the home folder, not null


# --- Snakemake integration ---------------------------------------------------------------------


def _snakemake(*args: str, pythonpath: str | None = None) -> subprocess.CompletedProcess:
    env = local_env(path=os.pathsep.join([str(VENV_BIN), os.environ.get("PATH", "")]))
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    return subprocess.run(
        [str(VENV_BIN / "snakemake"), *args],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _job_counts(output: str) -> dict[str, int]:
    block = output.split("Job stats:", 1)[1]
    return {m[0]: int(m[1]) for m in re.findall(r"^(\w+)\s+(\d+)\s*$", block, re.MULTILINE)}


def test_paper_grid_chains():
    """The paper grid's chains: what rule `train` runs once per round in mode `none`."""
    cfg = load_config(ROOT / "config" / "paper.yaml")
    # vision: 3 tasks × (4 ES × 5 methods + gd_adam × 4, no snr); pendulum: 4 ES × 5 + gd_ppo × 4;
    # brax: 9 tasks × (4 ES × 3 methods + gd_ppo × 2); ant_heavy: sep_cma_es × 3;
    # mnist_ars (Figs. 6, 10): (ars, gd_adam) × (random, magnitude)
    per_seed = 3 * (4 * 5 + 4) + (4 * 5 + 4) + 9 * (4 * 3 + 2) + 3 + 2 * 2
    assert len(chains(cfg)) == per_seed * 5
    assert len(chains(cfg)) * cfg["rounds"] == 22900  # the `train` jobs of mode none


@pytest.mark.slow
def test_snakemake_dry_run_of_paper_grid(tmp_path):
    """The paper grid's DAG with its rounds and transfers grouped (resources.group_chains:
    seeds_and_methods), planned with JAX & co. unimportable: Snakemake reads only
    evotickets.names, paths and settings (a shim on PYTHONPATH whose jax raises ImportError).
    Grouped, the grid is ≤ 2,500 jobs (the issue's SLURM target)."""
    shim = without_training_stack(tmp_path / "shim")
    text = (ROOT / "config" / "paper.yaml").read_text()
    assert text.count("\nresources:\n") == 1
    grouped = tmp_path / "paper_grouped.yaml"
    grouped.write_text(
        text.replace("\nresources:\n", "\nresources:\n  group_chains: seeds_and_methods\n")
    )
    proc = _snakemake("-n", "--configfile", str(grouped), "--quiet", "rules", pythonpath=shim)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    counts = _job_counts(out)
    rounds = 20
    # one train job per (task, strategy) pair and round: 3 vision × 5 + pendulum 5 + 9 brax × 5
    # + ant_heavy 1 + mnist_ars 2
    pairs = 3 * 5 + 5 + 9 * 5 + 1 + 2
    train = {k: v for k, v in counts.items() if k.startswith("train_pairs_")}
    assert sum(train.values()) == pairs * rounds, counts
    assert not {"train", "train_seeds", "transfer", "mask"} & set(counts), counts
    assert counts["transfer_seeds"] == 6 * rounds, counts  # every seed of a transfer round
    assert counts["init"] == 15 * 5, counts
    # LMC and landscapes on the ARS and GD magnitude chains of each seed (claims 6, 7); LMC
    # between seeds once per chain; ES ↔ GD LMC for the two ES → GD transfers; SNR–magnitude
    # and layerwise statistics on every ES chain's SNR ticket:
    # (3 vision × 4 + pendulum 4 + 9 brax × 4 + ant_heavy 1) × 5
    assert counts["lmc_consecutive"] == counts["landscape"] == 2 * 5, counts
    assert counts["lmc_seeds"] == 2 and counts["lmc_es_gd"] == 2 * 5, counts
    assert counts["weight_statistics"] == 2 * (3 * 4 + 4 + 9 * 4 + 1) * 5, counts
    assert counts["accuracy_table"] == 1, counts
    assert counts["total"] <= 2500, counts


def test_group_program_reaches_the_group_jobs_only_where_chosen(tiny_config, tmp_path):
    """resources.group_program: the group jobs' commands name it unless it is `sequential` (the
    verbs' default), so configs without it keep their commands; a bad value is refused."""
    tiny_config["resources"]["group_chains"] = "seeds"
    commands = {}
    for program in ("sequential", "vmapped"):
        tiny_config["resources"]["group_program"] = program
        path = tmp_path / f"{program}.yaml"
        path.write_text(yaml.safe_dump(tiny_config))
        proc = _snakemake("-n", "-p", "--configfile", str(path), "--directory", str(tmp_path))
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
        commands[program] = [ln for ln in proc.stdout.splitlines() if "round-group" in ln]
    assert len(commands["sequential"]) == len(commands["vmapped"]) > 0
    assert not any("--program" in c for c in commands["sequential"])
    assert all(" --program vmapped " in c for c in commands["vmapped"])
    tiny_config["resources"]["group_program"] = "vmap"
    with pytest.raises(ConfigError, match="group_program"):
        validate_config(tiny_config)


def test_snakemake_rejects_unknown_strategy(tiny_config, tmp_path):
    tiny_config["strategies"] = {"sep_cmaes": {"population_size": 16, "std_init": 0.05}}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(tiny_config))
    proc = _snakemake("-n", "--configfile", str(path), "--quiet", "rules")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    assert "unknown strategy 'sep_cmaes'" in out
    assert "sep_cma_es" in out


@pytest.mark.parametrize("target", ["summary.nc", "accuracy_table.txt", "figures/fig3.png"])
def test_a_report_of_another_experiments_folder_names_the_config_to_pass(
    tiny_config, tmp_path, target
):
    """The report rules' inputs are the config's own rounds: a report requested in another
    experiment's folder planned this config's training and gathered it there."""
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tiny_config))
    args = ("-n", "--quiet", "rules", "--directory", str(tmp_path), "--configfile", str(path), "--")
    proc = _snakemake(*args, f"results/another/{target}")
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    assert "the requested path is in results/another, but this config's experiment" in out
    assert "--configfile <its config>" in out
    own = _snakemake(*args, f"results/{tiny_config['experiment']}/{target}")
    assert own.returncode == 0, (own.stdout + own.stderr)[-3000:]


def test_an_analysis_block_can_narrow_its_own_chains(tiny_config):
    tiny_config["strategies"]["pgpe"] = {"population_size": 16, "std_init": 0.05}
    tiny_config["analyses"] = {
        "methods": ["snr"],
        "lmc": {"alphas": 5, "strategies": ["pgpe"], "methods": ["magnitude"]},
    }
    cfg = validate_config(tiny_config)
    assert {c[1:3] for c in analysis_chains(cfg, "lmc")} == {("pgpe", "magnitude")}
    assert {c[1:3] for c in analysis_chains(cfg, "layerwise")} == {("snes", "snr"), ("pgpe", "snr")}
    assert analysis_options(cfg, "lmc") == {"alphas": 5}  # filters are not options


def test_check_config_validates_every_shipped_config_and_refuses_a_bad_one(tmp_path, capsys):
    """`evotickets check-config` on the repository's configs: each valid, with its counts;
    a bad file exits 2 naming the key."""
    from evotickets.cli import main

    root = Path(__file__).resolve().parents[2] / "config"
    for path in sorted(root.glob("*.yaml")):
        assert main(["check-config", str(path)]) == 0, path
        cfg = yaml.safe_load(path.read_text())
        out = capsys.readouterr().out
        assert f"{path}: valid ({len(cfg['tasks'])} tasks," in out, out
        gd = len(cfg.get("gd") or {})
        assert f"{len(cfg['strategies'])} ES strategies, {gd} gradient-descent" in out, out
        assert f"rounds: {len(chains(load_config(path)))} chains)" in out, out
        last = cfg["rounds"] - 1
        assert f"round {last}, the last, keeps {(1 - cfg['prune_fraction']) ** last:.2%}" in out
        if path.name == "config.yaml":  # the masks keep whole weights: each task's count
            assert "(in whole weights: digits 391 of 1,864)" in out, out
        notes = [line for line in out.splitlines() if line.startswith("note:")]
        if path.name == "paper.yaml":  # 20 rounds: its random masks may empty a layer
            (note,) = notes
            assert (
                "empties some layer" in note
                and "pendulum 0.43 (63 of 4,352 kept; from round 12)" in note
                and "mnist 0.05 (162 of 11,240 kept; from round 17)" in note
            )
        else:
            assert notes == [], out  # no shipped config runs an analysis on nothing
    bad = tmp_path / "bad.yaml"
    cfg = yaml.safe_load((root / "config.yaml").read_text())
    # an analyses block without `enabled` runs every analysis: one filtered to nothing is
    # allowed (a shared block may narrow to chains one config lacks), and noted
    narrowed = tmp_path / "narrowed.yaml"
    narrowed.write_text(yaml.safe_dump({**cfg, "analyses": {"lmc": {"strategies": ["snes"]}}}))
    assert main(["check-config", str(narrowed)]) == 0
    out = capsys.readouterr().out
    assert "note: analysis lmc computes nothing here: its filters leave it no chain" in out
    assert "note: analysis landscape" not in out
    bad.write_text(yaml.safe_dump({**cfg, "prune_fraction": 1.5}))
    assert main(["check-config", str(bad)]) == 2
    assert "config key prune_fraction" in capsys.readouterr().err
    # a last round that keeps none of a task's prunable weights (the digits CNN has 1,864:
    # 1864 · 0.8^37 < 0.5), refused before any round trains; a control policy too, whose
    # hidden layers alone (4,096 + 64 weights) keep none by round 13 at prune_fraction 0.5
    bad.write_text(yaml.safe_dump({**cfg, "rounds": 38}))
    assert main(["check-config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "task digits (rounds 38, prune_fraction 0.2): round 37 would keep 0 of its 1864" in err
    assert "set rounds to at most 37" in err
    bad.write_text(yaml.safe_dump({**cfg, "rounds": 37}))
    assert main(["check-config", str(bad)]) == 0
    capsys.readouterr()
    pendulum = yaml.safe_load((root / "pendulum.yaml").read_text())
    bad.write_text(yaml.safe_dump({**pendulum, "rounds": 15, "prune_fraction": 0.5}))
    assert main(["check-config", str(bad)]) == 2
    assert "task pendulum (rounds 15, prune_fraction 0.5): round 14 would keep 0 of its 4352" in (
        capsys.readouterr().err
    )
    # a round 1 that prunes none (1,864 · 0.0002 = 0.37 weights): every method's round 1
    # would be the dense mask; at 0.0003 (0.56 weights) it prunes one
    bad.write_text(yaml.safe_dump({**cfg, "prune_fraction": 0.0002}))
    assert main(["check-config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "round 1 would keep all 1864 prunable weights" in err
    assert "set prune_fraction above 1/(2·1864) = 0.00026824" in err
    bad.write_text(yaml.safe_dump({**cfg, "prune_fraction": 0.0003}))
    assert main(["check-config", str(bad)]) == 0
    capsys.readouterr()


def test_check_config_refuses_a_strategy_too_large_for_round_0(tmp_path, capsys):
    """CMA-ES on MNIST's CNN (11,274 weights in round 0, above its 8,192) passed every check
    and failed in its first train job; on the digits CNN and Pendulum's MLP it fits."""
    from evotickets.cli import main

    root = Path(__file__).resolve().parents[2] / "config"
    cfg = yaml.safe_load((root / "config.yaml").read_text())
    cfg["strategies"] = {"cma_es": {"population_size": 64, "std_init": 0.05}}
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["check-config", str(path)]) == 0
    capsys.readouterr()
    cfg["tasks"]["mnist"] = {}
    cfg["data_dir"] = None
    path.write_text(yaml.safe_dump(cfg))
    assert main(["check-config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "task mnist, whose round 0 searches all 11,274 weights" in err
    assert "strategy 'cma_es' cannot search D = 11,274 weights" in err
    assert "task digits" not in err


def test_snes_weight_form_without_a_temperature_is_refused(tiny_config):
    """At temperature 0 SNES keeps its log-rank weights: the form changed only the digest."""
    tiny_config["strategies"]["snes"]["temperature_weights"] = "des"
    tiny_config["strategies"]["snes"]["temperature"] = 0.0
    with pytest.raises(ConfigError, match="SNES uses only with temperature > 0"):
        validate_config(copy.deepcopy(tiny_config))
    tiny_config["strategies"]["snes"]["temperature_weights"] = "snes"  # the default: harmless
    validate_config(tiny_config)


def test_snes_temperature_weight_form_is_in_the_chain_digest(tiny_config):
    """SNES results made with DES's weight form (this package's before 2026-12-05) must not
    be resumed as the study's form: the form is filled into the config, so into the digest."""
    default = ChainSettings.from_dict(
        chain_settings(validate_config(copy.deepcopy(tiny_config)), "digits", "snes", "snr", 0)
    )
    tiny_config["strategies"]["snes"]["temperature_weights"] = "des"
    des = ChainSettings.from_dict(
        chain_settings(validate_config(tiny_config), "digits", "snes", "snr", 0)
    )
    assert default.strategy_config["temperature_weights"] == "snes"
    assert des.digest() != default.digest()
    tiny_config["strategies"]["snes"]["temperature_weights"] = "softmax"
    with pytest.raises(ConfigError, match="temperature_weights"):
        validate_config(tiny_config)


def test_pgpe_adam_beta1_is_filled_into_the_chain_digest(tiny_config):
    """PGPE results made with optax's β1 0.9 (before 2026-12-05) must not be resumed under
    the study's 0.99: the value is filled into the config, so into the digest."""
    tiny_config["strategies"] = {"pgpe": {"population_size": 8, "std_init": 0.05}}
    cfg = validate_config(copy.deepcopy(tiny_config))
    assert chain_settings(cfg, "digits", "pgpe", "snr", 0)["strategy_config"]["adam_beta1"] == 0.99
    tiny_config["strategies"]["pgpe"]["adam_beta1"] = 0.9
    other = chain_settings(validate_config(tiny_config), "digits", "pgpe", "snr", 0)
    assert (
        ChainSettings.from_dict(other).digest()
        != ChainSettings.from_dict(chain_settings(cfg, "digits", "pgpe", "snr", 0)).digest()
    )


def test_control_policy_biases_start_as_the_studys_and_name_it_in_the_digest():
    """The study's control policies start every bias U[0, 0.05) (es-lottery's
    default_mlp_init); θ0 had flax's zeros. The config fills the initialiser into each control
    task, so θ0 and its digest say which; settings of before the key keep their zeros."""
    import jax
    import numpy as np

    from evotickets.settings import InitSettings
    from evotickets.tasks import init_theta

    cfg = load_config(ROOT / "config" / "tour.yaml")
    init = init_settings(cfg, "pendulum", 0)
    assert init["policy_bias_init"] == "uniform"
    assert "policy_bias_init" not in init_settings(cfg, "digits", 0)  # vision: unchanged
    key = jax.random.key(0)
    biases = [v for k, v in init_theta(init, key).items() if k.endswith("/bias")]
    assert len(biases) == 3
    for b in biases:
        assert np.all((b > 0) & (b < 0.05)), b
    old = {k: v for k, v in init.items() if k != "policy_bias_init"}
    assert all(np.all(v == 0) for k, v in init_theta(old, key).items() if k.endswith("/bias"))
    assert InitSettings.from_dict(old).digest() != InitSettings.from_dict(init).digest()
    zeros = copy.deepcopy(cfg)
    zeros["tasks"]["pendulum"]["policy_bias_init"] = "zeros"
    assert init_settings(validate_config(zeros), "pendulum", 0)["policy_bias_init"] == "zeros"


def test_control_policy_output_is_the_studys_per_library_and_in_the_chain_digest():
    """The config fills the study's output into each continuous control task (gymnax: the
    linear output clipped; brax: tanh), none into a discrete one (where it would do nothing
    and is refused), and a chain's digest names it."""
    cfg = load_config(ROOT / "config" / "paper.yaml")
    assert cfg["tasks"]["pendulum"]["policy_output"] == "clip"
    assert cfg["tasks"]["pendulum"]["max_steps"] == 500  # the study's gym.yaml, its wrapper
    assert cfg["tasks"]["ant"]["policy_output"] == "tanh"
    tour = load_config(ROOT / "config" / "tour.yaml")
    clip = chain_settings(tour, "pendulum", "snes", "snr", 0)
    assert clip["task_config"]["policy_output"] == "clip"
    tanh = copy.deepcopy(read_config_file(ROOT / "config" / "tour.yaml"))
    tanh["tasks"]["pendulum"]["policy_output"] = "tanh"
    other = chain_settings(validate_config(tanh), "pendulum", "snes", "snr", 0)
    assert ChainSettings.from_dict(other).digest() != ChainSettings.from_dict(clip).digest()
    cart = copy.deepcopy(read_config_file(ROOT / "config" / "tour.yaml"))
    cart["tasks"]["cartpole"] = {"strategies": ["snes"]}
    assert "policy_output" not in validate_config(copy.deepcopy(cart))["tasks"]["cartpole"]
    cart["tasks"]["cartpole"]["policy_output"] = "clip"
    with pytest.raises(ConfigError, match="policy_output applies to continuous tasks only"):
        validate_config(cart)


def test_des_variance_eps_is_filled_into_the_chain_digest(tiny_config):
    """DES results made without evosax 0.1.4's ε (before 2026-12-05) are not resumed."""
    tiny_config["strategies"] = {"des": {"population_size": 8, "std_init": 0.1}}
    cfg = validate_config(copy.deepcopy(tiny_config))
    settings = chain_settings(cfg, "digits", "des", "snr", 0)
    assert settings["strategy_config"]["variance_eps"] == 1e-6
    tiny_config["strategies"]["des"]["variance_eps"] = 0.0
    other = chain_settings(validate_config(tiny_config), "digits", "des", "snr", 0)
    assert ChainSettings.from_dict(other).digest() != ChainSettings.from_dict(settings).digest()


def test_a_settings_json_without_a_digest_default_hashes_as_the_filled_one(tiny_config):
    """A chain JSON written before SNES's weight form had a key builds today's form, so it
    must hash with the key filled in, not like the results made with the old form."""
    d = chain_settings(validate_config(tiny_config), "digits", "snes", "snr", 0)
    assert d["strategy_config"]["temperature_weights"] == "snes"
    old = {**d, "strategy_config": {**d["strategy_config"]}}
    del old["strategy_config"]["temperature_weights"]
    new_digest = ChainSettings.from_dict(d).digest()
    assert ChainSettings.from_dict(old).digest() == new_digest
    assert digest({k: v for k, v in old.items()}) != new_digest  # what such results carry


def test_whole_floats_where_integers_belong_are_integers(tiny_config):
    """`seeds: [0.0, 1.0]` validated (JSON Schema takes 0.0 for an integer) and then named
    files no rule makes; `population_size: 16.0` gave other settings digests than 16."""
    as_ints = validate_config(copy.deepcopy(tiny_config))
    tiny_config["seeds"] = [float(k) for k in tiny_config["seeds"]]
    tiny_config["strategies"]["snes"]["population_size"] = 16.0
    as_floats = validate_config(tiny_config)
    assert as_floats["seeds"] == as_ints["seeds"]
    assert all(type(k) is int for k in as_floats["seeds"])
    for chain in chains(as_ints):
        assert digest(chain_settings(as_floats, *chain)) == digest(chain_settings(as_ints, *chain))
    tiny_config["seeds"] = [0.5]
    with pytest.raises(ConfigError, match="seeds.0: 0.5 is not of type 'integer'"):
        validate_config(tiny_config)


@pytest.mark.parametrize(
    ("config", "dotted", "value", "words"),
    [
        ("config.yaml", "experiment", "a/b", "letters, digits, '_', '.' and '-' only"),
        ("controls.yaml", "transfer.0.name", "to adam", "lower-case letters, digits and '_'"),
    ],
)
def test_a_name_that_becomes_a_folder_says_which_characters_it_may_use(
    config, dotted, value, words
):
    """It said only that the value does not match a regular expression."""
    cfg = load_config(ROOT / "config" / config)
    node = cfg
    *parents, leaf = dotted.split(".")
    for key in parents:
        node = node[int(key)] if key.isdigit() else node[key]
    node[leaf] = value
    with pytest.raises(ConfigError, match=f"fix: name {re.escape(dotted)} with {re.escape(words)}"):
        validate_config(cfg)


def test_an_entry_named_after_one_library_task_cannot_run_another(tiny_config):
    """`mnist: {task: digits}` validated, and digits' numbers were labelled mnist."""
    tiny_config["tasks"]["mnist"] = {**tiny_config["tasks"].pop("digits"), "task": "digits"}
    with pytest.raises(ConfigError, match="entry 'mnist' is the name of a library task"):
        validate_config(tiny_config)
    tiny_config["tasks"]["mnist"]["task"] = "mnist"  # naming itself stays allowed
    tiny_config["tasks"]["mnist"].pop("network", None)
    validate_config(tiny_config)


def test_a_method_no_chain_runs_is_refused(tiny_config):
    """`methods: [random, snr_study]` beside SNES alone validated, and snr_study (Sep-CMA-ES
    only) trained nowhere without a word."""
    tiny_config["methods"] = ["random", "snr_study"]
    with pytest.raises(ConfigError, match="methods lists 'snr_study', which no chain"):
        validate_config(tiny_config)
    tiny_config["methods"] = ["random"]
    validate_config(tiny_config)


def test_a_method_asked_for_by_name_where_it_does_not_run_is_refused(tiny_config):
    """snr_study runs for Sep-CMA-ES only: listed for SNES in strategy_methods, or in the
    own methods of a task whose strategies are SNES alone, it was dropped without a word
    (beside a Sep-CMA-ES chain that ran it, so `methods` itself was no idle name)."""
    tiny_config["strategies"]["sep_cma_es"] = {"population_size": 16, "std_init": 0.1}
    tiny_config["methods"] = ["random", "magnitude", "snr", "snr_study"]
    validate_config(tiny_config)  # listed in methods: skipped for SNES, as documented
    tiny_config["strategy_methods"] = {"snes": ["random", "snr_study"]}
    with pytest.raises(ConfigError, match="strategy_methods.snes lists 'snr_study', which runs"):
        validate_config(tiny_config)
    tiny_config.pop("strategy_methods")
    tiny_config["tasks"]["digits"]["methods"] = ["random", "snr_study"]
    tiny_config["tasks"]["digits"]["strategies"] = ["snes"]
    tiny_config["tasks"]["digits_sep"] = {**tiny_config["tasks"]["digits"], "task": "digits"}
    tiny_config["tasks"]["digits_sep"]["strategies"] = ["sep_cma_es"]
    with pytest.raises(ConfigError, match=r"tasks.digits.methods lists 'snr_study', which runs"):
        validate_config(tiny_config)
    tiny_config["tasks"]["digits"]["methods"] = ["random", "magnitude", "snr"]
    validate_config(tiny_config)


def test_a_narrowing_list_naming_a_method_outside_methods_is_refused(tiny_config):
    """strategy_methods and tasks.<t>.methods narrow `methods`: a method they named outside it
    was dropped without a word (SNES's random, asked for by name, never ran)."""
    tiny_config["methods"] = ["magnitude", "snr"]
    tiny_config["strategy_methods"] = {"snes": ["magnitude", "random"]}
    with pytest.raises(ConfigError, match=r"strategy_methods.snes lists \['random'\], which"):
        validate_config(tiny_config)
    tiny_config["strategy_methods"] = {"snes": ["magnitude"]}
    tiny_config["tasks"]["digits"]["methods"] = ["snr", "random"]  # the same for a task's list
    with pytest.raises(ConfigError, match=r"tasks.digits.methods \(not in the methods list\)"):
        validate_config(tiny_config)
    tiny_config["strategy_methods"] = {"snes": ["magnitud"]}  # a misspelling: did you mean
    tiny_config["tasks"]["digits"].pop("methods")
    with pytest.raises(ConfigError, match="did you mean 'magnitude'"):
        validate_config(tiny_config)
    tiny_config["strategy_methods"] = {"snes": ["magnitude", "random"]}
    tiny_config["methods"] = ["magnitude", "random"]
    assert {c[2] for c in chains(validate_config(tiny_config))} == {"magnitude", "random"}


@pytest.mark.parametrize(
    ("block", "value", "fix"),
    [
        (
            "analyses",
            {"lmc": {"alpha": 21}},
            "analyses.lmc takes alphas, methods, strategies, tasks (did you mean 'alphas'?)",
        ),
        (
            "dynamic_sparse",
            {"evry": 50},
            "dynamic_sparse takes every, fraction, probe_pairs (did you mean 'every'?)",
        ),
        (
            "pruning_at_init",
            {"example": 50},
            "pruning_at_init takes examples (did you mean 'examples'?)",
        ),
        (
            "transfer",
            [{"name": "a", "sourc": {}, "target": {}}],
            "transfer.0 takes name, source, target (did you mean 'source'?)",
        ),
    ],
)
def test_an_unknown_key_inside_a_block_names_the_blocks_keys(tiny_config, block, value, fix):
    """Inside the analyses, dynamic_sparse, pruning_at_init and transfer blocks an unknown key
    only pointed at the schema file; now the fix lists the block's keys and the nearest."""
    tiny_config[block] = value
    with pytest.raises(ConfigError, match=re.escape(f"fix: {fix}")):
        validate_config(tiny_config)


def test_an_enabled_analysis_that_selects_no_chain_is_refused(tiny_config):
    """analyses.enabled: [lmc] with methods: [magnitude] on a config that runs no magnitude
    chain validated and computed nothing; an analysis left to the default list is not
    refused for that (the default enables every analysis)."""
    tiny_config["analyses"] = {"enabled": ["lmc"], "methods": ["magnitude"]}
    tiny_config["methods"] = ["random", "snr"]
    with pytest.raises(ConfigError, match="analyses.enabled lists lmc, but its filters"):
        validate_config(tiny_config)
    tiny_config["analyses"]["methods"] = ["snr"]
    validate_config(tiny_config)
    tiny_config["analyses"] = {"methods": ["magnitude"]}  # every analysis, by default
    validate_config(tiny_config)
    tiny_config["analyses"] = {"enabled": ["snr_magnitude"], "strategies": ["gd_adam"]}
    tiny_config["gd"] = {"gd_adam": {"lr": 0.001, "batch_size": 64, "epochs": 1}}
    with pytest.raises(ConfigError, match="no chain with a per-weight σ"):
        validate_config(tiny_config)
    # LMC's ES → GD barrier runs without a chain passing the filters (the target runs
    # magnitude and random, which the moved ticket is compared with)
    tiny_config["methods"] = ["random", "magnitude", "snr"]
    tiny_config["analyses"] = {"enabled": ["lmc"], "strategies": ["sep_cma_es"]}
    tiny_config["transfer"] = [
        {
            "name": "snes_to_adam",
            "source": {"task": "digits", "strategy": "snes", "method": "snr"},
            "target": {"task": "digits", "strategy": "gd_adam"},
        }
    ]
    validate_config(tiny_config)
    # one round of one seed: nothing to interpolate between
    tiny_config.pop("transfer")
    tiny_config["analyses"] = {"enabled": ["lmc"]}
    tiny_config["rounds"], tiny_config["seeds"] = 1, [0]
    with pytest.raises(ConfigError, match="LMC compares 2 rounds or 2 seeds"):
        validate_config(tiny_config)


def test_a_transfer_whose_ticket_cannot_fit_the_target_is_refused_before_any_job(tiny_config):
    """digits' small CNN (8×8) to MNIST's CNN (28×28) validated, and failed only in the
    transfer job, after every source round had trained."""
    tiny_config["tasks"]["mnist"] = {"batch_size": 64, "population_chunk": 16}
    tiny_config["transfer"] = [
        {
            "name": "digits_to_mnist",
            "source": {"task": "digits", "strategy": "snes"},
            "target": {"task": "mnist", "strategy": "snes"},
        }
    ]
    with pytest.raises(ConfigError, match="digits_to_mnist.*cannot fit the target network"):
        validate_config(copy.deepcopy(tiny_config))
    # the same network and input size fits: digits under another init scheme
    tiny_config["tasks"]["digits_he"] = {**tiny_config["tasks"].pop("mnist"), "task": "digits"}
    tiny_config["tasks"]["digits_he"]["init"] = "he_normal"
    tiny_config["transfer"][0]["target"]["task"] = "digits_he"
    validate_config(tiny_config)
    # control policies: their environments' sizes are known without building one
    # (names.CONTROL_IO_SIZES), so a ticket of halfcheetah (17 observations, 6 actions) for
    # hopper (11, 3) is refused here too, where only its transfer job refused it, after
    # every source round had trained; walker2d has halfcheetah's sizes, so its tensors fit
    control = copy.deepcopy(tiny_config)
    control["tasks"] = {"halfcheetah": {}, "walker2d": {}, "hopper": {}}
    control["analyses"] = {"enabled": []}
    transfer = {"source": {"task": "halfcheetah", "strategy": "snes"},
                "target": {"task": "walker2d", "strategy": "snes"}}  # fmt: skip
    control["transfer"] = [{"name": "cheetah_to_walker", **transfer}]
    validate_config(copy.deepcopy(control))
    control["transfer"][0]["target"]["task"] = "hopper"
    with pytest.raises(ConfigError, match=r"halfcheetah has a policy of 17 observations, hidden "
                       r"\[32, 32\], 6 outputs, the target hopper a policy of 11"):  # fmt: skip
        validate_config(control)


@pytest.mark.parametrize(
    ("name", "why"),
    [("Digits2", "lower-case letters"), ("transfer", "folder of an experiment's transfers")],
)
def test_a_task_entry_name_that_cannot_be_its_folder_is_refused(tiny_config, name, why):
    """An entry's name is a folder under results/<experiment>/: `transfer` is the transfers'
    folder, and a chain filed there would sit among the transferred tickets' rounds."""
    tiny_config["tasks"][name] = {"task": "digits", "network": "cnn_small"}
    with pytest.raises(ConfigError, match=why):
        validate_config(tiny_config)


def test_train_resource_overrides_reach_the_group_rules(tiny_config, tmp_path):
    """`--set-resources train:runtime=MIN train:gpu_model=…`, as README and the SLURM profile
    say, reach the rules that train the rounds under resources.group_chains (Snakemake
    ignored them there without a word: no rule is named `train`). A runtime is per round of
    one chain, so a group job of the 2 seeds asks for twice it; naming the group rule wins."""

    def train_resources(group_chains, *overrides):
        tiny_config["resources"]["group_chains"] = group_chains
        path = tmp_path / f"{group_chains}.yaml"
        path.write_text(yaml.safe_dump(tiny_config))
        proc = _snakemake(
            "-n", "--configfile", str(path), "--directory", str(tmp_path),
            "--set-resources", *overrides,
        )  # fmt: skip
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
        rule = "train_seeds" if group_chains == "seeds" else "train"
        jobs = proc.stdout.split(f"rule {rule}:")[1:]
        return {re.search(r"resources: (.*)", job).group(1) for job in jobs}

    per_round = ("train:runtime=7", "train:gpu_model=a100")
    (seeds,) = train_resources("seeds", *per_round)
    assert "runtime=14," in seeds and "gpu_model=a100" in seeds, seeds
    (own,) = train_resources("seeds", *per_round, "train_seeds:runtime=5")
    assert "runtime=5," in own and "gpu_model=a100" in own, own
    (alone,) = train_resources("none", *per_round)
    assert "runtime=7," in alone and "gpu_model=a100" in alone, alone
    # an expression (attempt*60, beside the profile's retries) has no number to scale: the
    # group jobs keep the config's runtime × chains, and the other overrides still reach them
    (expression,) = train_resources("seeds", "train:runtime=attempt*60", "train:gpu_model=a100")
    assert "runtime=20," in expression and "gpu_model=a100" in expression, expression
    # resources.group_runtime is the group job's own: a per-round runtime does not replace it
    tiny_config["resources"]["group_runtime"] = 100
    (group,) = train_resources("seeds", *per_round)
    assert "runtime=100," in group and "gpu_model=a100" in group, group


def test_a_filter_naming_a_library_task_run_under_an_entry_name_is_refused(tiny_config):
    """Filters name task entries: the library task's name where the config's entry is named
    otherwise selected nothing, and with `enabled` not given no analysis said so."""
    tiny_config["tasks"] = {"digits_he": {"task": "digits", "network": "cnn_small"}}
    tiny_config["analyses"] = {"tasks": ["digits"]}
    with pytest.raises(ConfigError, match=r"analyses.tasks lists 'digits'.*list digits_he"):
        validate_config(tiny_config)
    tiny_config["analyses"] = {"landscape": {"tasks": ["digits"]}}
    with pytest.raises(ConfigError, match=r"analyses.landscape.tasks lists 'digits'"):
        validate_config(tiny_config)
    tiny_config["analyses"] = {"tasks": ["digits_he"]}
    assert analysis_chains(validate_config(tiny_config), "landscape")
    # a library task that no entry runs stays allowed (an overlay may narrow the tasks)
    tiny_config["analyses"] = {"tasks": ["digits_he", "mnist"]}
    validate_config(tiny_config)


def test_a_vmapped_group_runtime_counts_the_chains_that_train_alone(tiny_config, tmp_path):
    """resources.group_runtime is one round of a vmapped group whose chains run at once;
    gradient-descent chains train one after the other even there, so their group job asks
    for runtime × chains (it asked for group_runtime and would hit SLURM's time limit)."""
    tiny_config["gd"] = {"gd_adam": {"lr": 0.001, "batch_size": 64, "epochs": 1}}
    tiny_config["methods"] = ["random", "magnitude"]
    tiny_config["resources"].update(
        group_chains="seeds_and_methods", group_program="vmapped", group_runtime=7
    )
    path = tmp_path / "vmapped.yaml"
    path.write_text(yaml.safe_dump(tiny_config))
    proc = _snakemake("-n", "--configfile", str(path), "--directory", str(tmp_path))
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]

    def runtimes(rule):
        jobs = proc.stdout.split(f"rule {rule}:")[1:]
        return {int(re.search(r"runtime=(\d+)", job).group(1)) for job in jobs}

    assert runtimes("train_pairs_digits_snes") == {7}
    assert runtimes("train_pairs_digits_gd_adam") == {10 * 2 * 2}  # runtime × 4 chains


def _dynamic_gradient(cfg: dict, population: int, chunk: int) -> dict:
    cfg["methods"] = ["random", "dynamic_gradient"]
    cfg["strategies"] = {"sep_cma_es": {"population_size": population, "std_init": 0.05}}
    cfg["tasks"]["digits"]["population_chunk"] = chunk
    cfg["dynamic_sparse"] = {"every": 10}
    return cfg


def test_a_regrowth_interval_off_the_chunks_names_its_default(tiny_config):
    """The default interval was named as though the config had set it."""
    cfg = _dynamic_gradient(copy.deepcopy(tiny_config), 64, 16)
    cfg["es"] = {"num_generations": 300, "log_every": 150}
    cfg["dynamic_sparse"] = {}
    with pytest.raises(ConfigError, match=r"dynamic_sparse.every is 50 \(default 50\): it must"):
        validate_config(copy.deepcopy(cfg))
    cfg["dynamic_sparse"] = {"every": 100}
    with pytest.raises(ConfigError, match=r"dynamic_sparse.every is 100 \(default 50\): it must"):
        validate_config(cfg)


def test_a_dynamic_gradient_probe_the_chunks_cannot_split_is_refused(tiny_config):
    """dynamic_gradient's regrowth probe evaluates 2·⌊P/2⌋ members in population_chunk
    chunks: P = 63 with chunks of 21 validated, then failed at round 1's first regrowth."""
    with pytest.raises(ConfigError, match=r"probes sep_cma_es .* 62 members .* even"):
        validate_config(_dynamic_gradient(copy.deepcopy(tiny_config), 63, 21))
    validate_config(_dynamic_gradient(copy.deepcopy(tiny_config), 64, 16))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        pytest.param(
            lambda c: c["tasks"]["digits"].update(network="mlp"),
            "network is mlp, the control tasks' policy",
            id="mlp-on-a-vision-task",
        ),
        pytest.param(
            lambda c: c.update(gd={"gd_adam": {"batch_size": 2000}}),
            "batch_size 2000 on task digits exceeds the 1437 training examples",
            id="gd-batch-larger-than-the-data",
        ),
        pytest.param(
            lambda c: c.update(
                gd={"gd_adam": {"batch_size": 128, "epochs": 2}}, rewind=30, methods=["random"]
            ),
            "rewind is 30, but gd_adam's round on task digits has 22 minibatch steps",
            id="gd-rewind-past-the-round",
        ),
    ],
)
def test_settings_that_every_job_would_fail_on_are_refused(tiny_config, mutate, message):
    """Each validated before, then failed in every job of its kind (init, or round 0)."""
    tiny_config["strategies"] = {}
    tiny_config["gd"] = {"gd_adam": {}}
    del tiny_config["es"]
    tiny_config["methods"] = ["random", "magnitude"]
    tiny_config["analyses"] = {"enabled": []}
    mutate(tiny_config)
    with pytest.raises(ConfigError, match=re.escape(message)):
        validate_config(tiny_config)


def test_a_warmup_cosine_schedule_without_steps_to_decay_is_refused():
    from evotickets.train.ppo_settings import PPO_DEFAULTS, ppo_check

    assert "no steps to decay over" in ppo_check({**PPO_DEFAULTS, "warmup": 1.0})
    assert ppo_check({**PPO_DEFAULTS, "warmup": 1.0, "lr_schedule": "linear"}) is None
    assert ppo_check({**PPO_DEFAULTS, "warmup": 0.5}) is None


def test_ppo_total_steps_below_one_update_are_refused():
    """They were raised to one update (num_envs × num_steps) without a word."""
    from evotickets.train.ppo_settings import PPO_DEFAULTS, ppo_check

    small = {**PPO_DEFAULTS, "num_envs": 8, "num_steps": 16}
    assert "total_steps 100 is less than one update" in ppo_check({**small, "total_steps": 100})
    assert "at least 128" in ppo_check({**small, "total_steps": 127})
    assert ppo_check({**small, "total_steps": 128}) is None


def test_dynamic_gradient_probe_pairs_enter_its_settings_only_when_given(tiny_config):
    """dynamic_sparse.probe_pairs sizes dynamic_gradient's regrowth probe. Unset it is
    absent (half the population, the digests as before); set, it enters dynamic_gradient's
    chains' settings, not dynamic_random's (which never probes), and its probe population
    must split into the task's chunks."""
    from evotickets.config import chain_settings, probe_pairs
    from evotickets.settings import ChainSettings

    def digest(cfg, method):
        return ChainSettings.from_dict(chain_settings(cfg, "digits", "sep_cma_es", method, 0))

    plain = validate_config(_dynamic_gradient(copy.deepcopy(tiny_config), 64, 16))
    assert "probe_pairs" not in plain["dynamic_sparse"]
    assert probe_pairs(plain["dynamic_sparse"], 64) == 32 and probe_pairs({}, 1) == 1
    given = _dynamic_gradient(copy.deepcopy(tiny_config), 64, 16)
    given["dynamic_sparse"]["probe_pairs"] = 2048
    given = validate_config(given)
    assert digest(given, "dynamic_gradient").method_config["probe_pairs"] == 2048
    assert digest(given, "dynamic_gradient").digest() != digest(plain, "dynamic_gradient").digest()
    assert digest(given, "dynamic_random").digest() == digest(plain, "dynamic_random").digest()
    odd = _dynamic_gradient(copy.deepcopy(tiny_config), 64, 16)
    odd["dynamic_sparse"]["probe_pairs"] = 9
    with pytest.raises(ConfigError, match=r"18 members \(antithetic pairs: 9, twice; "
                       r"dynamic_sparse.probe_pairs\).*double 16 divides"):  # fmt: skip
        validate_config(odd)


def test_a_control_tasks_probe_may_not_exceed_its_population():
    """A control task evaluates a population in one program, without chunks: a probe of
    more members than the strategy's population (2,048 pairs of rollouts) is refused before
    the run, not at round 1's regrowth out of memory."""
    cfg = yaml.safe_load((ROOT / "config" / "pendulum.yaml").read_text())
    cfg.update(methods=["random", "dynamic_gradient"], analyses={"enabled": []})
    pop = cfg["strategies"]["sep_cma_es"]["population_size"]
    cfg["dynamic_sparse"] = {"every": cfg["es"]["log_every"], "probe_pairs": pop // 2 + 1}
    with pytest.raises(ConfigError, match=rf"control task pendulum .*\(at most {pop // 2} pairs\)"):
        validate_config(copy.deepcopy(cfg))
    cfg["dynamic_sparse"]["probe_pairs"] = pop // 2
    validate_config(cfg)


def test_a_config_and_its_overlays_are_checked_merged_as_snakemake_merges_them(tmp_path, capsys):
    """README's overlays (`--configfile config/paper.yaml seed0.yaml`) could not be checked,
    tabled or collected: each verb took one file, and the overlay alone lacks required keys."""
    from snakemake.utils import update_config

    from evotickets.cli import main

    base = Path(__file__).resolve().parents[2] / "config" / "config.yaml"
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("seeds: [0]\ntasks: {digits: {batch_size: 64}}\n")
    cfg = load_config([base, overlay])
    assert cfg["seeds"] == [0] and cfg["tasks"]["digits"]["batch_size"] == 64
    assert cfg["tasks"]["digits"]["network"] == "cnn_small"  # a nested key kept, as Snakemake
    expected = yaml.safe_load(base.read_text())
    update_config(expected, yaml.safe_load(overlay.read_text()))
    assert cfg == validate_config(expected)
    assert main(["check-config", str(base), str(overlay)]) == 0
    assert f"{base} + {overlay}: valid" in capsys.readouterr().out
    overlay.write_text("rounds: 38\n")  # the merged config's last round keeps no weight
    assert main(["check-config", str(base), str(overlay)]) == 2
    assert f"{base} + {overlay}: task digits (rounds 38" in capsys.readouterr().err
    assert main(["check-config", str(overlay)]) == 2  # alone: no experiment, no tasks
    assert "'experiment' is a required property" in capsys.readouterr().err


def test_a_task_strategy_left_without_a_method_is_refused(tiny_config):
    """gd_adam on a task whose methods are [snr], which gradient descent skips, trained
    nothing and said nothing (the other task kept the config valid)."""
    tiny_config.update(gd={"gd_adam": {}})
    tiny_config["tasks"]["digits"]["methods"] = ["snr"]
    tiny_config["tasks"]["digits_b"] = {"task": "digits", "network": "cnn_small",
                                        "batch_size": 64, "population_chunk": 16}  # fmt: skip
    with pytest.raises(ConfigError, match=r"task digits runs gd_adam but no method for it"):
        validate_config(copy.deepcopy(tiny_config))
    tiny_config["tasks"]["digits"]["strategies"] = ["snes"]  # the fix the message names
    validate_config(tiny_config)


def test_dynamic_regrowth_every_round_length_or_more_is_refused(tiny_config):
    """every ≥ G never regrows (regrowth at g % every == 0 and g < G): each dynamic chain a
    static random mask, silently; the schema's default 50 against 20 generations did so."""
    tiny_config["methods"] = ["random", "dynamic_random"]
    tiny_config["analyses"] = {"enabled": []}
    with pytest.raises(ConfigError, match=r"every is 50, not below the 20 generations"):
        validate_config(copy.deepcopy(tiny_config))
    tiny_config["dynamic_sparse"] = {"every": 20}
    with pytest.raises(ConfigError, match=r"would never regrow a weight"):
        validate_config(copy.deepcopy(tiny_config))
    tiny_config["dynamic_sparse"] = {"every": 10}
    validate_config(tiny_config)


def test_es_fitness_keys_on_a_task_that_runs_gradient_descent_alone_are_noted(tiny_config):
    """tasks.<t>.batch_size reads as the GD batch, but only ES chains read it (gd_adam's is
    gd.gd_adam.batch_size): accepted and ignored before, now noted by check-config (not
    refused: an overlay that narrows a task to GD cannot remove the base config's keys)."""
    from evotickets.config import ignored_settings

    tiny_config.update(gd={"gd_adam": {}}, methods=["random", "magnitude"])
    tiny_config["analyses"] = {"enabled": []}
    tiny_config["tasks"]["digits"]["strategies"] = ["gd_adam"]
    tiny_config["tasks"]["digits"]["es"] = {"num_generations": 10}
    tiny_config["tasks"]["digits_es"] = {"task": "digits", "strategies": ["snes"],
                                         "batch_size": 32}  # fmt: skip
    (note,) = ignored_settings(validate_config(copy.deepcopy(tiny_config)))
    assert note.startswith("tasks.digits sets batch_size, population_chunk, es, which only ES")
    assert "gd.gd_adam.batch_size" in note
    for key in ("batch_size", "population_chunk", "es"):
        del tiny_config["tasks"]["digits"][key]
    assert ignored_settings(validate_config(tiny_config)) == []


def test_check_config_says_which_analyses_run_and_notes_ignored_settings(tiny_config):
    """No analyses block runs none and a block without `enabled` runs all four (an overlay
    with one option switched every analysis on); options of an analysis `enabled` leaves
    out, a method block without its methods and group keys without groups do nothing."""
    from evotickets.config import ignored_settings, running_analyses

    cfg = validate_config(copy.deepcopy(tiny_config))
    assert running_analyses(cfg).startswith("lmc, landscape, snr_magnitude, layerwise (no")
    assert ignored_settings(cfg) == []
    del tiny_config["analyses"]
    assert running_analyses(validate_config(copy.deepcopy(tiny_config))).startswith("none (no")
    tiny_config["analyses"] = {"enabled": ["layerwise"], "landscape": {"grid_points": 5}}
    tiny_config["pruning_at_init"] = {"examples": 10}
    tiny_config["dynamic_sparse"] = {"every": 10}
    tiny_config["resources"]["group_program"] = "vmapped"
    cfg = validate_config(tiny_config)
    assert running_analyses(cfg) == "layerwise (analyses.enabled; 6 artifacts)"  # 3 methods × 2
    notes = ignored_settings(cfg)
    assert len(notes) == 4, notes
    assert "analyses.landscape sets options, but analyses.enabled ['layerwise']" in notes[0]
    assert notes[1].startswith("pruning_at_init is set, but no chain runs snip or grasp")
    assert notes[2].startswith("dynamic_sparse is set, but no chain runs dynamic_random or")
    assert notes[3].startswith("resources.group_program is set, but no job trains a group")


def test_check_config_notes_counts_a_run_reads_in_part_or_not_at_all(tiny_config):
    """dynamic_gradient's probe_pairs without it, more SNIP examples or landscape test
    examples than digits has (all are used), and landscape test examples on a control task
    (its loss is over training episodes) were accepted without a word."""
    from evotickets.config import ignored_settings

    tiny_config["methods"] = ["random", "magnitude", "snr", "dynamic_random", "snip"]
    tiny_config["dynamic_sparse"] = {"every": 10, "probe_pairs": 4}
    tiny_config["pruning_at_init"] = {"examples": 5000}
    tiny_config["analyses"]["landscape"]["eval_examples"] = 1000
    tiny_config["analyses"]["tasks"] = ["digits", "pendulum"]
    tiny_config["tasks"]["pendulum"] = {"hidden": [8], "n_repeats": 2, "max_steps": 20,
                                        "methods": ["random", "magnitude", "snr"]}  # fmt: skip
    notes = ignored_settings(validate_config(copy.deepcopy(tiny_config)))
    assert len(notes) == 4, notes
    assert notes[0].startswith("dynamic_sparse.probe_pairs is set, but no chain runs dynamic_g")
    assert "examples is 5000, but digits has 1437 training examples" in notes[1]
    assert "eval_examples is 1000, but digits has 360 test examples" in notes[2]
    assert "(1000) is unread on the control task pendulum" in notes[3]
    tiny_config["methods"] = ["random", "magnitude", "snr", "dynamic_gradient", "snip"]
    tiny_config["pruning_at_init"]["examples"] = 1437
    tiny_config["analyses"]["landscape"]["eval_examples"] = 360
    tiny_config["analyses"]["tasks"] = ["digits"]
    assert ignored_settings(validate_config(tiny_config)) == []


def test_a_transfer_whose_target_runs_nothing_to_compare_with_is_refused(tiny_config):
    """A target running only random (or only snr, with no random) was accepted, and the
    reports' target columns were NaN: the moved ticket is set against the target's own
    ticket (snr where it runs snr, else magnitude) and its random baseline."""
    tiny_config["tasks"]["digits_he"] = {**tiny_config["tasks"]["digits"], "task": "digits",
                                         "init": "he_normal", "methods": ["random"]}  # fmt: skip
    tiny_config["transfer"] = [
        {
            "name": "to_he",
            "source": {"task": "digits", "strategy": "snes"},
            "target": {"task": "digits_he", "strategy": "snes"},
        }
    ]
    with pytest.raises(ConfigError, match=r"to_he.*runs \['random'\], not magnitude, which"):
        validate_config(copy.deepcopy(tiny_config))
    tiny_config["tasks"]["digits_he"]["methods"] = ["snr"]
    with pytest.raises(ConfigError, match=r"not random, which .* add random to tasks.digits_he"):
        validate_config(copy.deepcopy(tiny_config))
    tiny_config["tasks"]["digits_he"]["methods"] = ["random", "snr"]
    validate_config(tiny_config)


def test_review_of_the_notes_and_refusals(tiny_config):
    """The review of the change: n_repeats feeds a control task's landscape loss (not an
    ES-only key there), an eval_examples the config never wrote is not noted, transfers do
    not make group settings do anything, a chunk of the whole round says to lower log_every,
    and dynamic_gradient's probe is split across a job's GPUs like the population."""
    from evotickets.config import ignored_settings

    cfg = copy.deepcopy(tiny_config)
    cfg.update(gd={"gd_ppo": {}}, methods=["random", "magnitude"])
    cfg["tasks"] = {"pendulum": {"hidden": [8], "n_repeats": 2, "max_steps": 20,
                                 "strategies": ["gd_ppo"]}}  # fmt: skip
    cfg["analyses"] = {"enabled": ["landscape"]}
    cfg.pop("strategies"), cfg.pop("es")
    assert ignored_settings(validate_config(copy.deepcopy(cfg))) == []
    cfg["analyses"] = {"enabled": []}  # no analysis reads it now
    (note,) = ignored_settings(validate_config(copy.deepcopy(cfg)))
    assert note.startswith("tasks.pendulum sets n_repeats, which only ES chains read")
    grouped = copy.deepcopy(tiny_config)
    grouped["resources"]["group_program"] = "vmapped"
    grouped["tasks"]["digits_he"] = {**grouped["tasks"]["digits"], "task": "digits",
                                     "init": "he_normal"}  # fmt: skip
    grouped["transfer"] = [{"name": "to_he", "source": {"task": "digits", "strategy": "snes"},
                            "target": {"task": "digits_he", "strategy": "snes"}}]  # fmt: skip
    assert any(n.startswith("resources.group_program is set") for n in
               ignored_settings(validate_config(grouped)))  # fmt: skip
    whole = copy.deepcopy(tiny_config)
    whole.update(methods=["random", "dynamic_random"], analyses={"enabled": []})
    whole["es"] = {"num_generations": 20, "log_every": 20}
    whole["dynamic_sparse"] = {"every": 20}
    with pytest.raises(ConfigError, match=r"lower es.log_every \(regrowth falls on its chunks"):
        validate_config(whole)
    gpus = copy.deepcopy(tiny_config)
    gpus.update(methods=["random", "dynamic_gradient"], analyses={"enabled": []})
    gpus["resources"]["gpu"] = 4
    gpus["tasks"]["digits"]["population_chunk"] = 4
    gpus["dynamic_sparse"] = {"every": 10, "probe_pairs": 5}
    with pytest.raises(ConfigError, match=r"10 members .* resources.gpu 4 GPUs, and 4 does"):
        validate_config(copy.deepcopy(gpus))
    gpus["tasks"]["digits"]["population_chunk"] = 2
    gpus["dynamic_sparse"]["probe_pairs"] = 6  # 12 members, 3 a GPU: chunk 2 does not divide
    with pytest.raises(ConfigError, match=r"3 on each of its 4 GPUs, which tasks.digits.pop"):
        validate_config(copy.deepcopy(gpus))
    gpus["dynamic_sparse"]["probe_pairs"] = 4  # 8 members, 2 a GPU
    validate_config(gpus)


def test_the_workflow_refuses_too_many_rounds_or_a_too_big_strategy(tiny_config):
    """Once only check-config caught them (it built the network with JAX, which the workflow's
    validation avoids): snakemake trained every earlier round, then a mask job failed. The
    networks' counts are known without JAX, a control policy's from its environment's input
    and output sizes (names.CONTROL_IO_SIZES)."""
    rounds = copy.deepcopy(tiny_config)
    rounds["rounds"] = 38  # 1864 · 0.8^37 < ½: round 37 keeps no weight
    with pytest.raises(ConfigError, match=r"task digits \(rounds 38, prune_fraction 0.2\): rou"):
        validate_config(rounds)
    rounds["rounds"] = 37
    validate_config(rounds)
    big = copy.deepcopy(tiny_config)
    big["tasks"] = {"mnist": {"network": "cnn", "batch_size": 64, "population_chunk": 16}}
    big["strategies"] = {"cma_es": {"population_size": 16, "std_init": 0.05}}
    big["analyses"] = {"enabled": []}
    with pytest.raises(ConfigError, match=r"task mnist, whose round 0 searches all 11,274 weig"):
        validate_config(big)
    root = Path(__file__).resolve().parents[2] / "config"
    pendulum = yaml.safe_load((root / "pendulum.yaml").read_text())
    pendulum.update(rounds=15, prune_fraction=0.5)  # 4,352 · 0.5^14 < ½
    with pytest.raises(ConfigError, match=r"round 14 would keep 0 of its 4352 prunable"):
        validate_config(copy.deepcopy(pendulum))
    pendulum["rounds"] = 14
    validate_config(copy.deepcopy(pendulum))
    # humanoid's 244 inputs: 244·32 + 32·32 + 32·17 kernels and 81 biases, above CMA-ES's 8,192
    humanoid = {**copy.deepcopy(pendulum), "rounds": 3}
    humanoid["tasks"] = {"humanoid": {"strategies": ["cma_es"]}}
    humanoid["strategies"] = {"cma_es": {"population_size": 16, "std_init": 0.05}}
    humanoid["analyses"] = {"enabled": []}
    with pytest.raises(ConfigError, match=r"task humanoid, whose round 0 searches all 9,457 w"):
        validate_config(humanoid)
    humanoid["tasks"] = {"hopper": {"strategies": ["cma_es"]}}  # 11·32 + 32·32 + 32·3 + 67
    validate_config(humanoid)


def test_an_unknown_name_lists_each_allowed_name_once(tiny_config):
    """analyses.<a>.tasks allows the config's task entries and the library tasks: digits,
    both, was listed twice."""
    tiny_config["analyses"] = {"lmc": {"tasks": ["digts"]}}
    with pytest.raises(ConfigError, match="did you mean 'digits'") as info:
        validate_config(tiny_config)
    allowed = str(info.value).split("allowed: ")[1].split(", ")
    assert "digits" in allowed and len(allowed) == len(set(allowed))


def test_a_strategy_state_above_the_memory_asked_of_slurm_is_noted(tiny_config):
    """xNES at population 64 on the digits CNN needs ≈ 4 GiB (within MEMORY_LIMIT) while
    each job asked SLURM for 2,000 MB: valid, and a SLURM run would be killed for it."""
    from evotickets.config import memory_notes
    from evotickets.strategies import memory_need

    tiny_config["tasks"]["digits"]["network"] = "cnn"
    tiny_config["strategies"]["xnes"] = {"population_size": 64, "std_init": 0.05}
    tiny_config["resources"]["mem_mb"] = 2000
    cfg = validate_config(copy.deepcopy(tiny_config))
    (note,) = memory_notes(cfg)
    from evotickets.config import init_settings
    from evotickets.tasks import weight_counts

    need = memory_need("xnes", 64, weight_counts(init_settings(cfg, "digits", 0))[1])
    assert need > 2000 * 2**20 and f"{need / 2**30:.1f} GiB" in note
    assert note.startswith("xnes on task digits needs about") and "resources.mem_mb" in note
    tiny_config["resources"]["mem_mb"] = int(need / 2**20 * 1.5) + 1
    assert memory_notes(validate_config(copy.deepcopy(tiny_config))) == []
    # a vmapped group job of the seeds holds each seed's state at once
    tiny_config["resources"].update(group_chains="seeds", group_program="vmapped")
    (note,) = memory_notes(validate_config(copy.deepcopy(tiny_config)))
    seeds = len(tiny_config["seeds"])
    assert f"{seeds * need / 2**30:.1f} GiB" in note and f"× {seeds} chains of a vmapped" in note
    tiny_config["resources"]["group_program"] = "sequential"  # one chain at a time
    assert memory_notes(validate_config(tiny_config)) == []


def test_a_batch_size_on_a_task_that_runs_gradient_descent_alone_is_noted_not_refused(
    tiny_config,
):
    """tasks.<t>.batch_size is the ES minibatch: on a task that runs gd_adam alone it is
    unread (noted), so its size is not refused as an ES batch above the training set."""
    from evotickets.config import ignored_settings

    tiny_config.update(gd={"gd_adam": {}}, methods=["random", "magnitude"])
    tiny_config["analyses"] = {"enabled": []}
    tiny_config["tasks"]["digits"].update(strategies=["gd_adam"], batch_size=5000)
    tiny_config["tasks"]["digits"].pop("es", None)
    tiny_config["tasks"]["digits_es"] = {"task": "digits", "strategies": ["snes"]}
    notes = ignored_settings(validate_config(copy.deepcopy(tiny_config)))
    assert any(n.startswith("tasks.digits sets batch_size") for n in notes), notes
    tiny_config["tasks"]["digits"]["strategies"] = ["gd_adam", "snes"]  # an ES reads it
    with pytest.raises(ConfigError, match="batch_size is 5000, more than the 1437 training"):
        validate_config(tiny_config)

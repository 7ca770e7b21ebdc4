"""Config refusals, derived values and settings that no other test held: each test here
fails a mutation of evotickets.config or evotickets.settings that every other test passed."""

from __future__ import annotations

import copy
import json
from dataclasses import replace

import pytest

from evotickets.config import (
    ConfigError,
    analysis_artifacts,
    es_gd_transfers,
    memory_notes,
    reported_config,
    transfer_kind,
    transfer_spec,
    validate_config,
)
from evotickets.settings import InitSettings

DIGITS = {"network": "cnn_small", "batch_size": 64, "population_chunk": 16}
PENDULUM = {"hidden": [8], "n_repeats": 1, "max_steps": 10}


def _with(config: dict, **change) -> dict:
    """The tiny_config fixture's copy with some top-level keys replaced."""
    return {**config, **change}


# --- refusals that no test held ------------------------------------------------------------


def test_a_chunk_that_does_not_divide_each_gpus_share_names_the_share_to_divide(tiny_config):
    """With resources.gpu 2, population 96 and chunk 32, the fix must name a divisor of
    each GPU's 48, not of 96 (which 32 already divides: the advice would change nothing)."""
    cfg = tiny_config
    cfg["resources"]["gpu"] = 2
    cfg["strategies"]["snes"]["population_size"] = 96
    cfg["tasks"]["digits"]["population_chunk"] = 32
    with pytest.raises(ConfigError, match="set tasks.digits.population_chunk to a divisor of 48$"):
        validate_config(cfg)


def test_a_gd_trainer_listed_on_a_task_of_another_kind_is_refused(tiny_config):
    """gd_ppo listed in a vision task's own strategies (or gd_adam in a control
    task's) passed validation without the check; every such chain would fail in its job."""
    cfg = _with(tiny_config, gd={"gd_ppo": {}})
    cfg["tasks"]["digits"]["strategies"] = ["snes", "gd_ppo"]
    with pytest.raises(ConfigError, match="lists gd_ppo, which does not train this kind of task"):
        validate_config(cfg)


def test_snip_or_grasp_on_a_control_task_is_refused(tiny_config):
    """A control task's return is not differentiated here: snip/grasp cannot score θ0."""
    cfg = _with(
        tiny_config,
        tasks={"pendulum": PENDULUM},
        methods=["random", "magnitude", "snip"],
        analyses={},
    )
    with pytest.raises(ConfigError, match=r"control task, but \['snip'\] score θ0"):
        validate_config(cfg)


def test_strategy_methods_naming_snr_for_a_strategy_without_a_per_weight_sigma_is_refused(
    tiny_config,
):
    """Without the check the next one looked snr up in SNR_VARIANT_STRATEGIES: a
    KeyError instead of the message that says why and what to remove."""
    cfg = tiny_config
    cfg["strategies"]["gradientless_descent"] = {"population_size": 16, "std_init": 0.05}
    cfg["strategy_methods"] = {"gradientless_descent": ["magnitude", "snr"]}
    with pytest.raises(ConfigError, match="per-weight std σ; gradientless_descent has none"):
        validate_config(cfg)


def test_dynamic_sparse_methods_with_a_strategy_that_cannot_regrow_are_refused(tiny_config):
    """CMA-ES's full covariance cannot reset a regrown weight: every dynamic chain of
    it failed in its round (dynamic_sparse.regrow_state) after passing check-config."""
    cfg = _with(
        tiny_config,
        strategies={"cma_es": {"population_size": 16, "std_init": 0.05}},
        methods=["random", "dynamic_random"],
        dynamic_sparse={"every": 10},
        analyses={},
    )
    with pytest.raises(ConfigError, match="which cma_es's state does not support"):
        validate_config(cfg)


def test_a_gd_rewind_point_at_the_rounds_last_step_is_refused(tiny_config):
    """gd_adam on digits, 1,437 examples in batches of 479:
    3 steps a round; k = 3 is no step of it, k = 2 is."""
    cfg = _with(tiny_config, methods=["random", "magnitude"], analyses={}, rewind=3)
    del cfg["strategies"], cfg["es"]
    cfg["gd"] = {"gd_adam": {"lr": 0.001, "batch_size": 479, "epochs": 1}}
    with pytest.raises(ConfigError, match="has 3 minibatch steps"):
        validate_config(copy.deepcopy(cfg))
    cfg["rewind"] = 2
    validate_config(cfg)


def test_a_transfer_from_or_to_a_rewinding_task_is_refused(tiny_config):
    """A transfer trains its ticket from θ0, so a rewinding side was refused; without
    the check it passed."""
    cfg = _with(tiny_config, analyses={})
    cfg["tasks"]["digits_rw"] = {**DIGITS, "task": "digits", "rewind": 10}
    entry = {
        "name": "rw_to_plain",
        "source": {"task": "digits_rw", "strategy": "snes", "method": "magnitude"},
        "target": {"task": "digits", "strategy": "snes"},
    }
    cfg["transfer"] = [entry]
    with pytest.raises(ConfigError, match="its source task digits_rw rewinds"):
        validate_config(copy.deepcopy(cfg))
    cfg["transfer"] = [{**entry, "source": {**entry["source"], "task": "digits"},
                        "target": {"task": "digits_rw", "strategy": "snes"}}]  # fmt: skip
    with pytest.raises(ConfigError, match="its target task digits_rw rewinds"):
        validate_config(cfg)


def test_a_transfer_source_method_its_task_leaves_out_is_refused(tiny_config):
    """snes runs snr, but not on task digits (tasks.digits.methods): no source chain
    exists; without the check the transfer passed validation."""
    cfg = _with(tiny_config, analyses={})
    cfg["tasks"]["digits"]["methods"] = ["random", "magnitude"]
    cfg["tasks"]["digits_b"] = {**DIGITS, "task": "digits"}
    cfg["transfer"] = [{
        "name": "digits_to_b",
        "source": {"task": "digits", "strategy": "snes", "method": "snr"},
        "target": {"task": "digits_b", "strategy": "snes"},
    }]  # fmt: skip
    with pytest.raises(
        ConfigError, match="source method 'snr' does not run for snes on task digits"
    ):
        validate_config(cfg)


def test_an_es_batch_of_the_whole_training_set_is_allowed(tiny_config):
    """The digits training set has 1,437 examples; a minibatch of all of
    them is valid, one more is refused."""
    cfg = tiny_config
    cfg["tasks"]["digits"]["batch_size"] = 1437
    validate_config(copy.deepcopy(cfg))
    cfg["tasks"]["digits"]["batch_size"] = 1438
    with pytest.raises(ConfigError, match="batch_size is 1438, more than the 1437"):
        validate_config(cfg)


# --- derived values -------------------------------------------------------------------------


def test_a_vmapped_group_of_seeds_and_methods_holds_every_chains_state(tiny_config):
    """A seeds_and_methods group job holds seeds × methods states at once; the note
    counted the seeds alone (a third of the memory of the tiny config's 3 methods)."""
    from evotickets.config import init_settings
    from evotickets.strategies import memory_need
    from evotickets.tasks import weight_counts

    cfg = tiny_config
    cfg["tasks"]["digits"]["network"] = "cnn"
    cfg["strategies"]["xnes"] = {"population_size": 64, "std_init": 0.05}
    cfg["resources"].update(mem_mb=2000, group_chains="seeds_and_methods", group_program="vmapped")
    valid = validate_config(cfg)
    need = memory_need("xnes", 64, weight_counts(init_settings(valid, "digits", 0))[1])
    width = len(cfg["seeds"]) * len(cfg["methods"])  # 2 seeds × random, magnitude, snr
    (note,) = memory_notes(valid)
    assert f"× {width} chains of a vmapped" in note and f"{width * need / 2**30:.1f} GiB" in note


def test_the_emptied_layer_note_counts_dynamic_sparse_chains(tiny_config):
    """Dynamic sparse ES starts each round from a global random mask too (and keeps
    each layer's count of it): a config whose only random-mask chains are dynamic ones got
    no note."""
    from evotickets.config import emptied_layer_notes

    cfg = _with(tiny_config, methods=["magnitude", "dynamic_random"], analyses={}, rounds=9,
                prune_fraction=0.5, dynamic_sparse={"every": 10})  # fmt: skip
    (note,) = emptied_layer_notes(validate_config(cfg))
    assert "a global random mask (dynamic_random)" in note and "digits" in note


def _transfer(source: dict, target: dict) -> dict:
    return {"name": "t", "source": source, "target": target}


def test_a_transfer_between_tasks_is_a_task_transfer_even_to_gradient_descent():
    """The task is checked first; an ES ticket moved to GD on another task is no
    ES → GD pair (their networks share no θ0), so LMC must not join them."""
    entry = _transfer(
        {"task": "digits", "strategy": "snes"}, {"task": "digits_he", "strategy": "gd_adam"}
    )
    assert transfer_kind(entry) == "task"
    cfg = {"analyses": {}, "transfer": [entry]}
    assert es_gd_transfers(cfg) == []


def test_es_gd_lmc_pairs_es_sources_only_and_only_where_lmc_runs(tiny_config):
    """An ES → GD transfer's barrier is an LMC artifact: none for a GD → ES
    transfer (its kind is also gd), and none where analyses.enabled leaves lmc out."""
    es_to_gd = _transfer(
        {"task": "digits", "strategy": "snes"}, {"task": "digits", "strategy": "gd_adam"}
    )
    gd_to_es = {
        **_transfer(
            {"task": "digits", "strategy": "gd_adam"}, {"task": "digits", "strategy": "snes"}
        ),
        "name": "u",
    }
    cfg = {"analyses": {}, "transfer": [es_to_gd, gd_to_es]}
    assert es_gd_transfers(cfg) == ["t"]
    assert es_gd_transfers({**cfg, "analyses": {"enabled": ["landscape"]}}) == []
    # and so the lmc artifacts of a validated config with lmc disabled are none at all
    valid = validate_config(_with(tiny_config, 
        gd={"gd_adam": {"epochs": 1}}, analyses={"enabled": ["layerwise"]},
        transfer=[{"name": "t", "source": {"task": "digits", "strategy": "snes"},
                   "target": {"task": "digits", "strategy": "gd_adam"}}],
    ))  # fmt: skip
    assert analysis_artifacts(valid, "lmc") == []


def test_the_reported_config_leaves_out_how_jobs_run_and_where_the_data_live(tiny_config):
    """The reports' config (REPORT_CONFIG, summary.nc's attrs) holds what the
    chains computed: no resources, no jax_cache_dir, data_dir null; a moved data folder or
    another cache reran every report."""
    cfg = validate_config(_with(tiny_config, jax_cache_dir="/tmp/some-cache"))
    moved = validate_config(_with(copy.deepcopy(tiny_config), jax_cache_dir="/tmp/another-cache"))
    shown = reported_config(cfg)
    assert "resources" not in shown and "jax_cache_dir" not in shown
    assert shown == reported_config(moved)
    with_data = {**cfg, "data_dir": "/data/here"}
    assert reported_config(with_data)["data_dir"] is None


# --- settings ------------------------------------------------------------------------------


def test_init_settings_with_a_zero_width_hidden_layer_are_refused():
    """A hand-written settings JSON with a hidden layer of 0 units."""
    good = InitSettings.for_task(PENDULUM, "pendulum", 0).to_dict()
    InitSettings.from_dict(good)
    with pytest.raises(ValueError, match="each of at least 1 unit"):
        InitSettings.from_json(json.dumps({**good, "hidden": [8, 0]}))


def test_a_transfer_from_gradient_descent_keeps_its_digest_under_another_es_batch(tiny_config):
    """A transfer's digest hashes its source's and target's digest forms; with the
    JSON form, a GD source's task_config batch_size (read by ES chains only) changed it."""
    cfg = validate_config(_with(tiny_config, 
        gd={"gd_adam": {"epochs": 1}}, analyses={},
        transfer=[{"name": "adam_to_snes",
                   "source": {"task": "digits", "strategy": "gd_adam", "method": "magnitude"},
                   "target": {"task": "digits", "strategy": "snes"}}],
    ))  # fmt: skip
    spec = transfer_spec(cfg, "adam_to_snes", 0)
    other_batch = {**spec.source.task_config, "batch_size": 32}
    moved = replace(spec, source=replace(spec.source, task_config=other_batch))
    assert moved.source.to_dict() != spec.source.to_dict()  # the JSON form differs…
    assert moved.digest() == spec.digest()  # …the digest does not

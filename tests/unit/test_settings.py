"""Typed settings: the verbs read back exactly what the rules send, and the JSON form (so the
config digest of every existing artifact) is what earlier versions wrote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evotickets.config import (
    chain_settings,
    chain_spec,
    chains,
    init_settings,
    load_config,
    transfer_settings,
)
from evotickets.settings import ChainSettings, InitSettings, TransferSettings, digest

ROOT = Path(__file__).resolve().parents[2]

# The config digests that the artifacts of `make run` (config/config.yaml) carry, as written
# before the settings were typed (commit 8889eca): if one changes, every finished result of
# that chain would be recomputed.
DEFAULT_RUN_DIGESTS = {
    ("random", 0): "e4695b23d6fa97be",
    ("random", 1): "12d700dd6de81349",
    ("random", 2): "2793e377b1d0998c",
    ("magnitude", 0): "d408b9f9b59e7752",
    ("magnitude", 1): "1f1092270f9a0efe",
    ("magnitude", 2): "f20293d16e040104",
    ("snr", 0): "a81cbf8a90878c0e",
    ("snr", 1): "2dc27dd19402ba07",
    ("snr", 2): "61ae22233633baa4",
}
DEFAULT_INIT_DIGESTS = {0: "fce9abf97cc4c5a9", 1: "b2b6edc7a04fda38", 2: "3904257477586667"}


def test_default_run_digests_are_unchanged():
    cfg = load_config(ROOT / "config" / "config.yaml")
    got = {(m, k): chain_spec(cfg, t, s, m, k).digest() for t, s, m, k in chains(cfg)}
    assert got == DEFAULT_RUN_DIGESTS
    assert {k: digest(init_settings(cfg, "digits", k)) for k in cfg["seeds"]} == (
        DEFAULT_INIT_DIGESTS
    )


@pytest.mark.parametrize("name", ["config", "tour", "controls", "heuristics", "fidelity"])
def test_every_chain_round_trips_through_json(name):
    cfg = load_config(ROOT / "config" / f"{name}.yaml")
    for t, s, m, k in chains(cfg):
        wire = chain_settings(cfg, t, s, m, k)
        back = ChainSettings.from_json(json.dumps(wire, sort_keys=True))
        assert back.to_dict() == wire and back.digest() == digest(back.digest_form())
        # the whole JSON form's digest, what artifacts written before it was left out carry
        assert back.accepted_digests()[-1] == digest(wire)
        assert ("es" in wire) != back.is_gd  # GD chains carry no ES-loop settings
        init = InitSettings.from_json(json.dumps(init_settings(cfg, t, k)))
        assert init == back.init_settings()
    for e in cfg.get("transfer") or []:
        wire = transfer_settings(cfg, e["name"], 0)
        back = TransferSettings.from_json(json.dumps(wire))
        assert back.to_dict() == wire
        assert "data_dir" not in wire["source"] and back.source.method == e["source"]["method"]


# The config digest of config/fidelity.yaml's gd_adam magnitude chain of seed 0 as its artifacts
# carry it, written while a GD chain's digest named the ES fitness's keys (up to 6044c60).
FIDELITY_GD_DIGEST_BEFORE = "ffe9ba2cc7d4215a"


def test_a_gd_chains_digest_leaves_out_what_only_the_es_fitness_reads():
    """Another ES batch or population chunk leaves a GD chain's digest, so its finished
    rounds, as they are; the digest it had before, naming them, stays accepted; the JSON the
    rules send is unchanged (no job of an existing run is rerun for it)."""
    from dataclasses import replace

    from evotickets.names import ES_FITNESS_TASK_KEYS
    from evotickets.settings import analysis_digest

    cfg = load_config(ROOT / "config" / "fidelity.yaml")
    gd = chain_spec(cfg, "digits", "gd_adam", "magnitude", 0)
    es = chain_spec(cfg, "digits", "snes", "magnitude", 0)
    assert {"batch_size", "population_chunk"} <= set(gd.task_config)  # the ES's, in the block
    other = {**gd.task_config, "batch_size": 256, "population_chunk": 8, "n_repeats": 3}
    assert set(other) - set(ES_FITNESS_TASK_KEYS) == set(gd.task_config) - {
        "batch_size",
        "population_chunk",
    }
    gd2, es2 = replace(gd, task_config=other), replace(es, task_config=other)
    assert gd2.digest() == gd.digest() and gd2.to_dict() != gd.to_dict()
    assert es2.digest() != es.digest()  # the ES chain's numbers depend on them
    assert gd.accepted_digests() == (gd.digest(), FIDELITY_GD_DIGEST_BEFORE)
    assert gd2.accepted_digests()[1] != FIDELITY_GD_DIGEST_BEFORE  # another batch before
    assert es.accepted_digests() == (es.digest(),) == (digest(es.to_dict()),)
    assert chain_settings(cfg, "digits", "gd_adam", "magnitude", 0) == gd.to_dict()
    # a transfer with a GD target, and a GD chain's analyses, follow
    name = cfg["transfer"][0]["name"]
    transfer = TransferSettings.from_dict(transfer_settings(cfg, name, 0))
    assert transfer.target.is_gd
    moved = replace(transfer, target=replace(transfer.target, task_config=other))
    assert moved.digest() == transfer.digest()
    assert transfer.accepted_digests()[1] == digest(transfer.to_dict())
    lmc = {"alphas": 5}

    class Options:
        def to_dict(self):
            return lmc

    # an analysis names the whole form (a control task's landscape evaluates the ES fitness),
    # as before: its digests did not change
    assert analysis_digest(gd2, Options()) != analysis_digest(gd, Options())
    assert analysis_digest(gd, Options()) == digest({**gd.to_dict(), "analysis": lmc})
    assert analysis_digest(gd) == FIDELITY_GD_DIGEST_BEFORE


def test_a_transfer_keeps_one_seed():
    """The target trains with its own chain's keys: a target of another seed would give the
    transfer that seed's noise without a word, so such settings are refused."""
    cfg = load_config(ROOT / "config" / "controls.yaml")
    wire = transfer_settings(cfg, cfg["transfer"][0]["name"], 1)
    wire["target"]["seed"] = 2
    with pytest.raises(ValueError, match="of seed 1 has a source of seed 1 and a target of seed 2"):
        TransferSettings.from_json(json.dumps(wire))


def test_init_settings_carry_optional_keys_only_where_they_apply():
    cfg = load_config(ROOT / "config" / "heuristics.yaml")
    plain = init_settings(cfg, "digits", 0)
    alias = init_settings(cfg, "digits_he", 0)
    assert set(plain) == {"task", "network", "prune_output_layer", "seed"}
    assert alias["library_task"] == "digits" and alias["init"] == "he_normal"
    tour = load_config(ROOT / "config" / "tour.yaml")
    assert init_settings(tour, "pendulum", 0)["hidden"] == [32, 32]


def test_with_method_changes_the_digest_and_nothing_else():
    cfg = load_config(ROOT / "config" / "config.yaml")
    snr = chain_spec(cfg, "digits", "sep_cma_es", "snr", 0)
    mag = snr.with_method("magnitude")
    assert mag.digest() == DEFAULT_RUN_DIGESTS[("magnitude", 0)]
    assert mag.to_dict() == {**snr.to_dict(), "method": "magnitude"}


@pytest.mark.parametrize(
    ("cls", "given", "named"),
    [("LandscapeOptions", {"directions": 0}, "landscape option directions: 0 is less than"),
     ("LandscapeOptions", {"grid_points": 1}, "landscape option grid_points"),
     ("LandscapeOptions", {"grid_extent": -1}, "landscape option grid_extent"),
     ("LandscapeOptions", {"direction_norm": "x"}, "landscape option direction_norm"),
     ("LmcOptions", {"alphas": 1}, "lmc option alphas: 1 is less than")],
)  # fmt: skip
def test_analysis_options_keep_the_schemas_ranges(cls, given, named):
    """--analysis JSON by hand: the config's ranges hold (directions: 0 failed on NumPy's
    "need at least one array to stack"; grid_points: 1 and grid_extent: -1 ran)."""
    from evotickets import settings

    with pytest.raises(ValueError, match=named):
        getattr(settings, cls).from_json(json.dumps(given), "--analysis")


def test_analysis_options_are_typed_with_the_schemas_defaults():
    """The schema alone states the defaults: the typed options and the rules read them there."""
    from evotickets.config import analysis_options
    from evotickets.settings import LANDSCAPE_DRAWS, LandscapeOptions, LmcOptions

    bare = load_config(ROOT / "config" / "config.yaml")
    bare["analyses"] = {"enabled": ["lmc", "landscape"]}
    assert LmcOptions.from_dict({}).to_dict() == analysis_options(bare, "lmc")
    # + how the directions are drawn, not a config key
    landscape = {**analysis_options(bare, "landscape"), "draws": LANDSCAPE_DRAWS}
    assert LandscapeOptions.from_dict({}).to_dict() == landscape
    tour = load_config(ROOT / "config" / "tour.yaml")  # what the rules send, key for key
    sent = analysis_options(tour, "lmc")
    assert LmcOptions.from_json(json.dumps(sent)).to_dict() == sent
    sent = {**analysis_options(tour, "landscape"), "draws": LANDSCAPE_DRAWS}
    assert LandscapeOptions.from_json(json.dumps(sent)).to_dict() == sent
    with pytest.raises(ValueError, match="no option"):
        LandscapeOptions.from_dict({"xi_point": 3})
    with pytest.raises(ValueError, match="rerun rule landscape"):  # drawn another way
        LandscapeOptions.from_dict({"draws": "numpy"})


def test_a_settings_json_with_an_unknown_name_is_refused_under_its_own_flag():
    """A typo in a hand-written JSON failed later with a bare KeyError (or, for the rewind
    budget, trained with the full budget and put the typo into the digest)."""
    base = chain_settings(load_config(ROOT / "config" / "config.yaml"), "digits",
                          "sep_cma_es", "magnitude", 0)  # fmt: skip
    for key, bad in (("method", "snrr"), ("strategy", "snes2"), ("rewind_budget", "remainig")):
        text = json.dumps({**base, key: bad})
        with pytest.raises(ValueError, match=f"--right-settings names an unknown {key} '{bad}'"):
            ChainSettings.from_json(text, "--right-settings")

"""Ticket transfer: the config entries are checked, the CLI verb retrains the source's ticket in
the target setting (ES → GD here) and names the source in the attrs, and a network mismatch is
an error naming both settings."""

import copy
import json
from pathlib import Path

import jax
import numpy as np
import pytest

from evotickets import cli
from evotickets.artifacts import group, read_artifact
from evotickets.commands.transfer import check_compatible
from evotickets.config import (
    ConfigError,
    chain_settings,
    digest,
    init_settings,
    task_methods,
    transfer_settings,
    validate_config,
)
from evotickets.keys import chain_key, round_key
from evotickets.networks import init_params, layer_table, to_vector
from evotickets.settings import TransferSettings
from evotickets.tasks import make_task
from evotickets.train.gd import run_adam_round

ENTRY = {
    "name": "snes_to_adam",
    "source": {"task": "digits", "strategy": "snes"},
    "target": {"task": "digits", "strategy": "gd_adam"},
}


@pytest.fixture
def cfg(tiny_config):
    tiny_config["gd"] = {"gd_adam": {"epochs": 2, "lr": 1e-3}}
    tiny_config["transfer"] = [copy.deepcopy(ENTRY)]
    tiny_config["es"]["num_generations"] = 4
    return tiny_config


def test_transfer_entry_defaults_to_snr_and_its_kind(cfg):
    c = validate_config(cfg)
    assert c["transfer"][0]["source"]["method"] == "snr"
    s = transfer_settings(c, "snes_to_adam", 1)
    assert s["kind"] == "gd" and s["seed"] == 1
    assert s["source"] == {
        k: v for k, v in chain_settings(c, "digits", "snes", "snr", 1).items() if k != "data_dir"
    }
    assert s["target"]["strategy"] == "gd_adam" and s["target"]["method"] == "transfer"


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda e: e["source"].update(task="mnist"), "source task 'mnist' is not in `tasks`"),
        (lambda e: e["target"].update(strategy="pgpe"), "target strategy 'pgpe' is not in"),
        (
            lambda e: e.update(
                source={"task": "digits", "strategy": "gd_adam", "method": "snr"},
                target={"task": "digits", "strategy": "snes"},
            ),
            "snr is undefined for gradient descent",
        ),
        (lambda e: e["target"].update(strategy="snes"), "source and target are the same"),
        (lambda e: e["source"].update(method="dynamic_random"), "moves its mask"),
    ],
)
def test_bad_transfer_entries_are_named(cfg, mutate, message):
    mutate(cfg["transfer"][0])
    with pytest.raises(ConfigError, match="transfer\\[0\\] \\(snes_to_adam\\)") as info:
        validate_config(cfg)
    assert message in str(info.value)


def test_a_transfer_source_method_its_strategy_does_not_run_says_so(cfg):
    """snr_study, listed in `methods` (Sep-CMA-ES runs it), taken from SNES: the refusal
    said "it is not in `methods`", beside the list that holds it."""
    cfg["strategies"]["sep_cma_es"] = {"population_size": 16, "std_init": 0.1}
    cfg["methods"] = [*cfg["methods"], "snr_study"]
    cfg["transfer"][0]["source"]["method"] = "snr_study"
    message = "snes does not run it"
    with pytest.raises(ConfigError, match="transfer\\[0\\] \\(snes_to_adam\\)") as info:
        validate_config(cfg)
    assert message in str(info.value)


def test_duplicate_transfer_names_and_bad_name_are_rejected(cfg):
    cfg["transfer"].append(copy.deepcopy(ENTRY))
    with pytest.raises(ConfigError, match="used twice"):
        validate_config(cfg)
    cfg["transfer"] = [dict(copy.deepcopy(ENTRY), name="Bad Name")]
    with pytest.raises(ConfigError, match="transfer.0.name"):
        validate_config(cfg)


def _run(argv):
    assert cli.main(argv) == 0, argv


def test_transfer_retrains_the_source_ticket_in_the_target(tmp_path, cfg):
    c = validate_config(cfg)
    src = chain_settings(c, "digits", "snes", "snr", 0)
    tr = transfer_settings(c, "snes_to_adam", 0)
    init = {"task": "digits", "network": "cnn_small", "prune_output_layer": True, "seed": 0}
    p = {k: str(tmp_path / f"{k}.h5") for k in ("init", "m0", "t0", "m1", "out")}
    s = json.dumps(src)
    _run(["init", "--settings", json.dumps(init), "--out", p["init"]])
    _run(["mask", "--settings", s, "--round", "0", "--init", p["init"], "--out", p["m0"]])
    _run(
        ["train", "--settings", s, "--round", "0", "--init", p["init"]]
        + ["--mask", p["m0"], "--out", p["t0"]]
    )
    _run(
        ["mask", "--settings", s, "--round", "1", "--init", p["init"]]
        + ["--prev-trained", p["t0"], "--out", p["m1"]]
    )
    transfer = [
        "transfer",
        "--settings",
        json.dumps(tr),
        "--round",
        "1",
        "--source-init",
        p["init"],
    ] + ["--source-mask", p["m1"], "--target-init", p["init"], "--out", p["out"]]
    _run(transfer)
    # written with the transfer's digest (its gd_adam target's leaves out the ES batch)
    written = TransferSettings.from_dict(tr).digest()
    assert written != digest(tr)
    arrays, attrs = read_artifact(p["out"], "trained", expected_digest=written)
    # a rerun keeps the finished round, as `round` does (it trained again; and a rerun that
    # failed had cost the round: the rule's output was not update())
    _run(transfer)
    assert read_artifact(p["out"], "trained")[1]["created"] == attrs["created"]
    # provenance: the source artifact and its config digest
    assert attrs["source_mask"] == p["m1"] and attrs["source_init"] == p["init"]
    assert attrs["source_config_digest"] == digest(src)
    assert attrs["source_config_digest"] == read_artifact(p["m1"], "mask")[1]["config_digest"]
    assert (attrs["source_task"], attrs["source_strategy"], attrs["source_method"]) == (
        "digits",
        "snes",
        "snr",
    )
    assert (attrs["strategy"], attrs["trainer"], attrs["transfer_kind"]) == ("gd_adam", "gd", "gd")
    assert attrs["transfer_name"] == "snes_to_adam" and bool(attrs["theta0_equals_target_init"])
    assert attrs["kept_prunable"] == 1491 and attrs["round"] == 1  # 1864 · 0.8 = 1491.2

    # the numbers: the target's trainer on m1 ⊙ θ0 with the target chain's round key
    init_arrays, _ = read_artifact(p["init"], "init")
    table = layer_table(group(init_arrays, "params"))
    theta0 = to_vector(group(init_arrays, "params"), table)
    m1 = to_vector(group(read_artifact(p["m1"], "mask")[0], "mask"), table).astype(bool)
    np.testing.assert_array_equal(to_vector(group(arrays, "mask"), table).astype(bool), m1)
    task = make_task("digits", tr["target"]["task_config"], table)
    rk = round_key(chain_key(0, "digits", "gd_adam"), 1)
    res = run_adam_round(task, theta0, m1, rk, lr=1e-3, batch_size=128, epochs=2, log=print)
    np.testing.assert_array_equal(to_vector(group(arrays, "params"), table), res.theta)

    # the source mask of another round is refused
    rc = cli.main(
        ["transfer", "--settings", json.dumps(tr), "--round", "0", "--source-init", p["init"]]
        + ["--source-mask", p["m1"], "--target-init", p["init"], "--out", p["out"]]
    )
    assert rc == 2

    # `transfer-group` (rule transfer_seeds): each member is the verb above, bitwise, with its
    # own log; a rerun keeps the members that are finished
    members = [
        {
            "settings": tr,
            "round": r,
            "source_init": p["init"],
            "source_mask": p[f"m{r}"],
            "target_init": p["init"],
            "out": str(tmp_path / f"g{r}.h5"),
            "log": str(tmp_path / f"g{r}.log"),
        }
        for r in (1, 0)
    ]
    _run(["transfer-group", "--members", json.dumps(members)])
    grouped, gattrs = read_artifact(members[0]["out"], "trained", expected_digest=written)
    for k in arrays:
        np.testing.assert_array_equal(grouped[k], arrays[k])
    assert gattrs["round"] == 1 and "wrote" in (tmp_path / "g1.log").read_text()
    assert read_artifact(members[1]["out"], "trained")[1]["round"] == 0
    stamps = [read_artifact(m["out"], "trained")[1]["created"] for m in members]
    _run(["transfer-group", "--members", json.dumps(members)])
    assert [read_artifact(m["out"], "trained")[1]["created"] for m in members] == stamps
    assert "finished by an earlier run" in (tmp_path / "g0.log").read_text()
    # a member whose mask is of another round fails with the verb's error in its own log
    bad = [{**members[1], "out": str(tmp_path / "bad.h5"), "source_mask": p["m1"]}]
    for program in ("sequential", "vmapped"):
        argv = ["transfer-group", "--members", json.dumps(bad), "--program", program]
        assert cli.main(argv) == 2
        assert "evotickets transfer: error:" in (tmp_path / "g0.log").read_text()
        assert not (tmp_path / "bad.h5").exists()
    # `--program vmapped`: the members prepared first, then trained together; GD members
    # train alone, so bitwise the sequential group's
    vm = [{**m, "out": str(tmp_path / f"v{m['round']}.h5")} for m in members]
    _run(["transfer-group", "--members", json.dumps(vm), "--program", "vmapped"])
    for m, v in zip(members, vm, strict=True):
        a, (b, ba) = read_artifact(m["out"], "trained")[0], read_artifact(v["out"], "trained")
        for k in a:
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
        assert "group_program" not in ba and "wrote" in Path(v["log"]).read_text()


def test_network_mismatch_names_both_settings(tmp_path, cfg, capsys):
    cfg["tasks"]["digits"]["network"] = "cnn_small"
    c = validate_config(cfg)
    tr = transfer_settings(c, "snes_to_adam", 0)
    tr["target"]["task_config"]["network"] = "cnn"  # a 5×5 CNN: other kernel shapes
    src_init = {"task": "digits", "network": "cnn_small", "prune_output_layer": True, "seed": 0}
    tgt_init = dict(src_init, network="cnn")
    p = {k: str(tmp_path / f"{k}.h5") for k in ("si", "ti", "m0")}
    _run(["init", "--settings", json.dumps(src_init), "--out", p["si"]])
    _run(["init", "--settings", json.dumps(tgt_init), "--out", p["ti"]])
    src = json.dumps(chain_settings(c, "digits", "snes", "snr", 0))
    _run(["mask", "--settings", src, "--round", "0", "--init", p["si"], "--out", p["m0"]])
    rc = cli.main(
        ["transfer", "--settings", json.dumps(tr), "--round", "0", "--source-init", p["si"]]
        + ["--source-mask", p["m0"], "--target-init", p["ti"], "--out", str(tmp_path / "o.h5")]
    )
    err = capsys.readouterr().err
    assert rc == 2
    assert "source digits/snes/snr" in err and "target digits/gd_adam" in err
    assert "Conv_0/kernel has shape (3, 3, 1, 8) in the source and (5, 5, 1, 8)" in err


def test_check_compatible_accepts_equal_networks_and_names_missing_tensors():
    a = layer_table(init_params("cnn_small", (8, 8, 1), jax.random.key(0)))
    b = layer_table(init_params("cnn_small", (8, 8, 1), jax.random.key(1)))
    check_compatible(a, b, "x")
    with pytest.raises(ValueError, match="Dense_0/bias has shape \\(10,\\) in the source and None"):
        check_compatible(a, [e for e in b if e.name != "Dense_0/bias"], "x")


def test_a_ticket_of_other_prunable_weights_is_refused(tmp_path, cfg, capsys):
    """A source that keeps its output layer dense and a target that prunes it: the ticket's
    round t would keep another share of the target's prunable weights than the target's own
    round t it is compared with (68 % against 51 % at round 3 of digits). The config refuses
    the entry, and the verb such a ticket."""
    keep_out = dict(cfg["tasks"]["digits"], task="digits", prune_output_layer=False)
    bad = dict(cfg, tasks={**cfg["tasks"], "digits_keepout": keep_out})
    bad["transfer"] = [dict(copy.deepcopy(ENTRY), source={"task": "digits_keepout",
                                                          "strategy": "snes"})]  # fmt: skip
    with pytest.raises(ConfigError, match="differ in prune_output_layer"):
        validate_config(bad)
    c = validate_config(cfg)
    tr = transfer_settings(c, "snes_to_adam", 0)
    tr["source"]["task_config"]["prune_output_layer"] = False
    src_init = {"task": "digits", "network": "cnn_small", "prune_output_layer": False, "seed": 0}
    tgt_init = dict(src_init, prune_output_layer=True)
    p = {k: str(tmp_path / f"{k}.h5") for k in ("si", "ti", "m0")}
    _run(["init", "--settings", json.dumps(src_init), "--out", p["si"]])
    _run(["init", "--settings", json.dumps(tgt_init), "--out", p["ti"]])
    src = json.dumps(dict(tr["source"], data_dir=None))
    _run(["mask", "--settings", src, "--round", "0", "--init", p["si"], "--out", p["m0"]])
    rc = cli.main(
        ["transfer", "--settings", json.dumps(tr), "--round", "0", "--source-init", p["si"]]
        + ["--source-mask", p["m0"], "--target-init", p["ti"], "--out", str(tmp_path / "o.h5")]
    )
    assert rc == 2
    assert "same prune_output_layer" in capsys.readouterr().err


def test_the_verb_refuses_a_dynamic_sparse_source(tmp_path, cfg, capsys):
    """Settings written by hand pass no config check: the verb refuses the source itself."""
    c = validate_config(cfg)
    tr = transfer_settings(c, "snes_to_adam", 0)
    tr["source"]["method"] = "dynamic_random"
    rc = cli.main(
        ["transfer", "--settings", json.dumps(tr), "--round", "1", "--source-init", "i.h5"]
        + ["--source-mask", "m.h5", "--target-init", "i.h5", "--out", str(tmp_path / "o.h5")]
    )
    assert rc == 2
    assert "'dynamic_random' moves its mask while it evolves" in capsys.readouterr().err


def test_collect_sets_a_transfer_against_the_targets_own_ticket_that_ran(cfg):
    """A target ES without a per-weight σ (gradientless_descent) runs no snr chain: the
    transferred ticket is set against its magnitude ticket, as the accuracy table does, and
    summary.nc says which (it read the absent snr chain and stored NaN)."""
    import xarray as xr

    from evotickets.analysis import collect

    cfg["strategies"]["gradientless_descent"] = {"population_size": 16, "std_init": 0.05}
    cfg["transfer"] = [
        {"name": "to_gld", "source": {"task": "digits", "strategy": "snes"},
         "target": {"task": "digits", "strategy": "gradientless_descent"}},
        copy.deepcopy(ENTRY),
    ]  # fmt: skip
    c = validate_config(cfg)
    asked = []

    # every chain that runs has finished round 0, each method with a metric of its own, so
    # that each column shows which chain it read
    metric = {"magnitude": 0.4, "random": 0.2, "snr": 0.3}

    class Finished:
        cfg, results = c, "unused"

        def of_transfer(self, name, seed):
            return {0: {"final_metric": 0.5, "remaining_fraction": 1.0}}

        def of_chain(self, chain):
            asked.append(chain)
            ran = chain[2] in task_methods(c, chain[0], chain[1])
            return {0: {"final_metric": metric[chain[2]]}} if ran else {}

    ds = xr.Dataset()
    collect._add_transfers(ds, Finished(), [0], 2)
    assert ds.transfer_own_method.values.tolist() == ["magnitude", "magnitude"]  # GLD, Adam
    first = {"seed": 0, "iteration": 0}
    np.testing.assert_allclose(ds.transfer_target_snr.sel(first), 0.4)  # the own: magnitude
    np.testing.assert_allclose(ds.transfer_target_random.sel(first), 0.2)  # claim 4's baseline
    np.testing.assert_allclose(ds.transfer_metric.sel(first), 0.5)
    assert ("digits", "gradientless_descent", "snr", 0) not in asked


def test_the_verb_stops_when_a_gpu_was_asked_for_and_jax_has_none(
    tmp_path, cfg, capsys, monkeypatch
):
    """A transfer trains a whole round, as `train` does: with a GPU asked for (resources.gpu,
    EVOTICKETS_PLATFORM=gpu) and none visible it stops at once instead of training on the
    CPU for hours (it did not check before)."""
    tr = transfer_settings(validate_config(cfg), "snes_to_adam", 0)
    monkeypatch.setenv("EVOTICKETS_PLATFORM", "gpu")
    rc = cli.main(
        ["transfer", "--settings", json.dumps(tr), "--round", "0", "--source-init", "i.h5"]
        + ["--source-mask", "m.h5", "--target-init", "i.h5", "--out", str(tmp_path / "o.h5")]
    )
    assert rc == 2
    assert "a GPU was asked for" in capsys.readouterr().err


def _init(config: dict, path, seed: int) -> None:
    """θ0 of ``config``'s digits task for ``seed``, written by the `init` verb."""
    settings = json.dumps(init_settings(config, "digits", seed))
    _run(["init", "--settings", settings, "--out", str(path)])


def _transfer_files(tmp_path, cfg, method="snr"):
    """θ0 (seed 0; the target's init too, as for a transfer within one task) and the source
    chain's (``method``) mask of round 0."""
    c = validate_config(cfg)
    p = {k: tmp_path / f"{k}.h5" for k in ("si", "ti", "m0")}
    _init(c, p["si"], 0)
    p["ti"] = p["si"]
    src = json.dumps(chain_settings(c, "digits", "snes", method, 0))
    _run(["mask", "--settings", src, "--round", "0", "--init", str(p["si"]), "--out", str(p["m0"])])
    return c, p


def _args(c, p, tmp_path):
    """The `transfer` verb's arguments for round 0 of snes_to_adam, as its parser makes them."""
    return cli.build_parser().parse_args([
        "transfer", "--settings", json.dumps(transfer_settings(c, "snes_to_adam", 0)),
        "--round", "0", "--source-init", str(p["si"]), "--source-mask", str(p["m0"]),
        "--target-init", str(p["ti"]), "--out", str(tmp_path / "out.h5"),
    ])  # fmt: skip


def test_a_transfer_starts_from_the_sources_theta0_not_the_targets(tmp_path, cfg, monkeypatch):
    """The ticket is (mask_t, θ0 of the SOURCE); where the target's θ0 differs (another task
    of the same network), the round starts from the source's θ0, and the artifact says the
    two θ0 differ. (The test above has one init for both, so starting from the target's θ0
    passed.) The target's θ0 is made to differ by wrapping load_init."""
    from evotickets.commands import transfer

    c, p = _transfer_files(tmp_path, cfg)
    real, calls = transfer.load_init, []

    def load_init(path, settings):
        theta0, *rest = real(path, settings)
        calls.append((path, theta0))
        return (theta0 + 1.0 if len(calls) == 2 else theta0, *rest)  # the second: the target's

    monkeypatch.setattr(transfer, "load_init", load_init)
    prepared = transfer._prepared_transfer(_args(c, p, tmp_path), log=lambda s: None)
    assert [path for path, _ in calls] == [str(p["si"]), str(p["ti"])]
    np.testing.assert_array_equal(prepared.theta_start, calls[0][1])  # the source's, as read
    assert prepared.extra_attrs["theta0_equals_target_init"] is False


def test_a_transfer_starts_from_the_masks_own_theta_start(tmp_path, cfg, monkeypatch):
    """A source ticket with its own theta_start (weight_permuted: a permuted
    θ0) is trained from that theta_start, not from the source's θ0."""
    from evotickets.commands import transfer

    c, p = _transfer_files(tmp_path, cfg)
    real = transfer.load_ticket

    def with_start(*a, **k):
        mask, theta_start, attrs = real(*a, **k)
        return mask, np.full_like(theta_start, 0.25), attrs

    monkeypatch.setattr(transfer, "load_ticket", with_start)
    prepared = transfer._prepared_transfer(_args(c, p, tmp_path), log=lambda s: None)
    assert np.all(prepared.theta_start == 0.25)


def test_a_transfer_records_its_source_mask_as_an_input(tmp_path, cfg):
    """The trained.h5 records the source mask among its inputs, so a
    source mask written again later makes the transferred round stale (collect, reports)."""
    from evotickets.commands.transfer import _prepared_transfer

    c, p = _transfer_files(tmp_path, cfg)
    prepared = _prepared_transfer(_args(c, p, tmp_path), log=lambda s: None)
    assert {str(x) for x in prepared.inputs} >= {str(p["si"]), str(p["m0"]), str(p["ti"])}


def test_a_vmapped_transfer_group_trains_es_targets_in_one_program(tmp_path, tiny_config):
    """`transfer-group --program vmapped` of an ES target (here a
    GD source → SNES target, so that judging the source instead of the target counts them
    wrongly) trains the seeds as one program of width 2, bitwise the sequential group's.
    The other group test has only a GD target, where vmapped and sequential are one path."""
    tiny_config["gd"] = {"gd_adam": {"epochs": 2, "lr": 1e-3}}
    tiny_config["es"] = {"num_generations": 4, "log_every": 2}
    tiny_config["transfer"] = [{
        "name": "adam_to_snes",
        "source": {"task": "digits", "strategy": "gd_adam", "method": "magnitude"},
        "target": {"task": "digits", "strategy": "snes"},
    }]  # fmt: skip
    c = validate_config(tiny_config)
    members = {}
    for seed in (0, 1):
        init, m0 = tmp_path / f"init{seed}.h5", tmp_path / f"m{seed}.h5"
        _init(c, init, seed)
        src = json.dumps(chain_settings(c, "digits", "gd_adam", "magnitude", seed))
        _run(["mask", "--settings", src, "--round", "0", "--init", str(init), "--out", str(m0)])
        members[seed] = {
            "settings": transfer_settings(c, "adam_to_snes", seed), "round": 0,
            "source_init": str(init), "source_mask": str(m0), "target_init": str(init),
        }  # fmt: skip
    out = {}
    for program in ("sequential", "vmapped"):
        ms = [dict(m, out=str(tmp_path / f"{program}{s}.h5"), log=str(tmp_path / f"{program}{s}.log"))
              for s, m in members.items()]  # fmt: skip
        _run(["transfer-group", "--members", json.dumps(ms), "--program", program])
        out[program] = [read_artifact(m["out"], "trained") for m in ms]
    for (a, aa), (b, ba) in zip(out["sequential"], out["vmapped"], strict=True):
        for k in a:
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
        assert ba["group_program"] == "vmapped" and ba["group_width"] == 2
        assert "group_program" not in aa


def test_a_transfers_data_dir_option_wins_over_its_settings(tmp_path, cfg, monkeypatch):
    """--data-dir (a group member's data_dir) is where the target's data are read from; the
    settings' data_dir is the fallback (digits reads no folder, so only the argument shows)."""
    from evotickets.commands import transfer

    c, p = _transfer_files(tmp_path, cfg)
    seen = {}
    monkeypatch.setattr(transfer, "prepare_round", lambda *a, **k: seen.update(k))
    args = _args(c, p, tmp_path)
    args.data_dir = str(tmp_path)
    transfer._prepared_transfer(args, log=lambda s: None)
    assert seen["data_dir"] == str(tmp_path)

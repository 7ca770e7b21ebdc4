"""The controls through Snakemake, on config/controls.yaml shrunk to seconds: a transfer job reads
the source chain's artifacts and writes a target artifact naming them; a GD permutation control
waits for the magnitude chain's job of its round (which makes the mask it reads); gd × snr is not in the DAG and is refused by name."""

import re
import subprocess
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from conftest import _CACHE, ROOT
from workflow_helpers import (
    BIN,
    artifacts,
    assert_same,
    local_env,
    snakemake,
    snakemake_cmd,
    write_config,
)

from evotickets import paths
from evotickets.config import validate_config
from evotickets.report import accuracy_table

EXP = "ctl"


def _round(method: str, file: str, it: int, strategy: str = "snes") -> str:
    return paths.round_file(file, EXP, "digits", strategy, method, 0, it)


TRANSFER = paths.transfer_round_file("trained.h5", EXP, "snes_to_adam", 0, 1)
ES_GD = paths.transfer_analysis("lmc_es_gd.h5", EXP, "snes_to_adam", 0)
INIT = paths.init(exp=EXP, task="digits", seed=0)


def _controls(rounds=2):
    cfg = yaml.safe_load((ROOT / "config" / "controls.yaml").read_text())
    cfg.update(experiment=EXP, rounds=rounds)
    cfg["tasks"]["digits"].update(batch_size=64, population_chunk=16)
    cfg["strategies"]["snes"]["population_size"] = 16
    cfg["es"] = {"num_generations": 6, "log_every": 6}
    cfg["gd"]["gd_adam"]["epochs"] = 2
    return cfg


@pytest.fixture(scope="module")
def controls_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("controls")
    write_config(work, _controls(), _CACHE)
    snakemake(
        work,
        TRANSFER,
        ES_GD,
        _round("weight_permuted", "trained.h5", 1, "gd_adam"),
    )
    return work


def test_es_gd_lmc_rule_checks_both_ends(controls_run):
    """Rule lmc_es_gd runs the verb with the transfer chain's settings for its --right rounds
    (the verb refuses the pair without them): a barrier per round, both ends named."""
    import json

    from evotickets.artifacts import read_artifact

    arrays, attrs = read_artifact(controls_run / ES_GD, "analysis")
    assert arrays["round_left"].tolist() == arrays["round_right"].tolist() == [0, 1]
    assert np.isfinite(arrays["barrier"]).all()
    assert all("/transfer/snes_to_adam/seed0/" in p for p in json.loads(attrs["right"]))


def test_transfer_rule_reads_the_source_and_names_it(controls_run):
    work = controls_run
    made = set(artifacts(work))
    src_mask = _round("snr", "mask.h5", 1)
    assert src_mask in made and _round("snr", "trained.h5", 0) in made
    out = work / TRANSFER
    with h5py.File(out) as f, h5py.File(work / src_mask) as s:
        assert f.attrs["source_mask"] == src_mask
        assert f.attrs["source_config_digest"] == s.attrs["config_digest"]
        assert f.attrs["source_init"] == INIT
        assert (f.attrs["strategy"], f.attrs["trainer"]) == ("gd_adam", "gd")
        for name in s["mask"]:  # the ticket's mask is the source's, tensor by tensor
            for leaf in s["mask"][name]:
                np.testing.assert_array_equal(f["mask"][name][leaf][()], s["mask"][name][leaf][()])
        assert f.attrs["kept_prunable"] == s.attrs["kept_prunable"] == 1491
        assert "sigma" not in f and f["curves/eval_metric"].shape == (2,)
    table = accuracy_table(work / paths.experiment(EXP))
    assert (
        "transfer snes_to_adam (gd): ticket of digits/snes/snr trained as digits/gd_adam" in table
    )


def test_gd_permutation_control_waits_for_the_magnitude_round(controls_run):
    work = controls_run
    mag_mask = work / _round("magnitude", "mask.h5", 1, "gd_adam")
    assert mag_mask.exists()
    # the mask is an output of the magnitude chain's round-1 `train` job, which also trains
    assert (work / _round("magnitude", "trained.h5", 1, "gd_adam")).exists()
    with (
        h5py.File(work / _round("weight_permuted", "mask.h5", 1, "gd_adam")) as wp,
        h5py.File(mag_mask) as mag,
        h5py.File(work / _round("weight_permuted", "trained.h5", 1, "gd_adam")) as tr,
        h5py.File(work / INIT) as init,
    ):
        k = "Conv_1/kernel"
        m = mag["mask/" + k][()]
        np.testing.assert_array_equal(wp["mask/" + k][()], m)
        start, theta0 = wp["theta_start/" + k][()], init["params/" + k][()]
        np.testing.assert_array_equal(np.sort(start[m]), np.sort(theta0[m]))
        assert not np.array_equal(start[m], theta0[m])
        assert np.all(tr["params/" + k][()][~m] == 0.0)  # pruned stays exactly 0 under Adam
        assert wp.attrs["source_mask"] == _round("magnitude", "mask.h5", 1, "gd_adam")


def test_a_grouped_transfer_gives_the_same_artifacts(controls_run, tmp_path):
    """`resources.group_chains: seeds_and_methods`: rule `transfer_seeds` trains the transfer
    (`evotickets transfer-group`) from a source chain trained by a group job; the transfer
    and the source's rounds are bitwise those of one job per chain and per transfer (the
    module's run)."""
    cfg = _controls()
    cfg["resources"] = {**cfg.get("resources", {}), "group_chains": "seeds_and_methods"}
    write_config(tmp_path, cfg, _CACHE)
    out = snakemake(tmp_path, TRANSFER)
    stats = out.stdout + out.stderr
    assert re.search(r"^transfer_seeds\s+1$", stats, re.MULTILINE), stats[-2000:]
    assert not re.search(r"^(train|transfer)\s+\d+$", stats, re.MULTILINE), stats[-2000:]
    # a group job trains every chain of its (task, strategy) round: all snes chains here
    made, single = artifacts(tmp_path), artifacts(controls_run)
    assert not any("/gd_adam/" in rel for rel in made)
    both = made.keys() & single.keys()
    assert {TRANSFER, INIT, _round("snr", "mask.h5", 1), _round("snr", "trained.h5", 0)} <= both
    for rel in both:
        assert_same(controls_run / rel, tmp_path / rel)
    group_log = tmp_path / paths.transfer_seeds_round_file("group.log", EXP, "snes_to_adam", 1)
    assert "member 1/1: round 1" in group_log.read_text()


def _dry_run(work: Path, *targets: str) -> subprocess.CompletedProcess:
    cmd = snakemake_cmd(work, *targets, "-n", "--quiet", "rules", cores=None)
    cmd[0] = f"{BIN}/snakemake"
    return subprocess.run(
        cmd, capture_output=True, text=True, env=local_env(), timeout=300, check=False
    )


def test_dag_skips_gd_snr_and_refuses_it_by_name(tmp_path):
    write_config(tmp_path, _controls(rounds=4), _CACHE)
    proc = _dry_run(tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    counts = {
        line.split()[0]: int(line.split()[1])
        for line in out.split("Job stats:")[1].splitlines()[3:]
        if len(line.split()) == 2 and line.split()[1].isdigit()
    }
    # snes: 5 methods × 4 rounds; gd_adam: 4 methods (no snr) × 4 rounds; 2 transfers × 4
    assert counts["train"] == 20 + 16 and counts["transfer"] == 8, counts
    proc = _dry_run(tmp_path, _round("snr", "trained.h5", 0, "gd_adam"))
    assert proc.returncode != 0
    assert "method 'snr' in the requested path is not in the config" in proc.stdout + proc.stderr
    assert "gradient descent and ES without a per-weight σ" in proc.stdout + proc.stderr


def test_collect_and_claims_read_gd_and_transfer_rounds(controls_run):
    """gd_adam artifacts have no population, hence no NaN-fitness count: collect gives NaN
    there (it raised KeyError), and the claims see GD and the transfer."""
    import xarray as xr

    from evotickets import cli
    from evotickets.analysis.collect import collect, save

    cfg = validate_config(_controls())  # the config as the workflow filled it (its digests)
    res = controls_run / paths.experiment(EXP)
    ds = collect(cfg, res)
    gd = ds.sel({"task": "digits", "strategy": "gd_adam", "method": "magnitude", "seed": 0})
    assert np.isfinite(gd.test_metric.sel(iteration=1)) and np.isnan(gd.nonfinite_fitness).all()
    out = controls_run / "claims"
    out.mkdir()
    save(ds, out / "summary.nc")
    assert cli.main(["claims", str(out)]) == 0
    rows = xr.open_dataset(out / "claims.nc", engine="h5netcdf").load()
    # ES snr against GD magnitude at round 1, one seed: a row, but no interval (n = 1)
    es_gd = rows.where(rows.claim == 3, drop=True)
    assert es_gd.iteration.values.tolist() == [1]
    assert es_gd.n.values.tolist() == [1] and es_gd.verdict.values.tolist() == ["inconclusive"]
    # random chains were not run here: the claims that need them are absent, not errors
    assert not {1, 4} & set(rows.claim.values.tolist())


def test_lmc_and_landscape_run_on_gd_chains(controls_run, tmp_path):
    """GD rounds have no sigma/ group; LMC and landscapes need only θ (they raised KeyError)."""
    import json

    from evotickets import cli
    from evotickets.config import chain_settings, validate_config

    cfg = validate_config(_controls())
    work = controls_run
    settings = json.dumps(chain_settings(cfg, "digits", "gd_adam", "magnitude", 0))
    rounds = [str(work / _round("magnitude", "trained.h5", t, "gd_adam")) for t in (0, 1)]
    common = ["--settings", settings, "--init", str(work / INIT)]
    out = tmp_path / "lmc.h5"
    assert cli.main(["lmc", "--kind", "consecutive", *common, "--analysis", '{"alphas": 3}',
                     "--left", rounds[0], "--right", rounds[1], "--out", str(out)]) == 0  # fmt: skip
    with h5py.File(out) as f:
        assert f["barrier"].shape == (1,) and np.isfinite(f["barrier"][()]).all()
    opts = {"directions": 1, "xi_points": 3, "grid_points": 2, "eval_examples": 32}
    out = tmp_path / "landscape.h5"
    assert cli.main(["landscape", *common, "--analysis", json.dumps(opts), "--trained", *rounds,
                     "--out", str(out)]) == 0  # fmt: skip
    with h5py.File(out) as f:
        assert np.isfinite(f["curvature"][()]).all()
        whole = {k: f[k][()] for k in ("curvature", "loss_1d", "surface_2d")}
    # a round's directions come from its own keys: evaluated alone, round 1 gives the numbers
    # it gave after round 0 (its 1D draws followed round 0's, its 2D axes came from round 0)
    alone = tmp_path / "landscape_round1.h5"
    assert cli.main(["landscape", *common, "--analysis", json.dumps(opts), "--trained",
                     rounds[1], "--out", str(alone)]) == 0  # fmt: skip
    with h5py.File(alone) as f:
        for k, v in whole.items():
            np.testing.assert_array_equal(f[k][()][0], v[1], err_msg=k)
